"""A moderator's decision made on one process reaches a connector running as another: the
server (`chatguard serve`) and the IRC bot (`chatguard irc-bot`) share the database and carry
events over Redis Streams (`EVENT_BUS=redis`), each in a process of its own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REDIS_URL, free_port
from tests.connectors.conftest import IrcClient

pytestmark = [pytest.mark.slow, pytest.mark.redis]
CHATGUARD = str(Path(sys.executable).with_name("chatguard"))


def _kicked(nick: str, channel: str) -> Any:
    return lambda line: (
        line.command == "KICK" and line.params[0] == channel and line.params[1] == nick
    )


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        child = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


async def _until_up(url: str, child: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            assert child.poll() is None, log.read_text(errors="replace")[-2000:]
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/health")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError("the server did not come up")


async def _until_in_channel(client: IrcClient, channel: str, nick: str) -> None:
    """Ask for the channel's names (from outside it) until `nick` is among them."""
    for _ in range(300):
        mark = client.mark()
        await client.send(f"NAMES {channel}")
        await client.wait_for(lambda line: line.command == "366", after=mark)
        names = [line for line in client.lines[mark:] if line.command == "353"]
        if any(nick in line.params[-1].replace("@", "").split() for line in names):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{nick} did not join {channel}")


async def test_a_denial_on_the_server_is_enforced_by_a_bot_in_another_process(
    ngircd: int, redis_prefix: str, tmp_path: Path
) -> None:
    channel = f"#x{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex[:5]
    bot_nick, swearer_nick, other_nick = f"xb{tag}", f"xs{tag}", f"xo{tag}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/shared.db",
        "EVENT_BUS": "redis",
        "REDIS_URL": REDIS_URL,
        "EVENT_STREAM_PREFIX": redis_prefix,
        "RATE_LIMIT_PREFIX": redis_prefix + "rl:",
        # The rule stage alone: fixed scores, so the swearing below is held for review.
        "PIPELINE_STAGES": "rules",
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = [CHATGUARD, "serve", "--port", str(port)]
    bot = [CHATGUARD, "irc-bot", "--server", f"127.0.0.1:{ngircd}", "--nick", bot_nick]
    bot += ["--channel", channel]
    with process(serve, env, tmp_path / "serve.log") as server:
        await _until_up(url, server, tmp_path / "serve.log")
        async with (
            IrcClient(ngircd, swearer_nick) as swearer,
            IrcClient(ngircd, other_nick) as other,
        ):
            with process(bot, env, tmp_path / "bot.log"):
                # The bot joins first: the first in a plain IRC channel is its operator, who
                # may kick (and is exempt from moderation as a moderator).
                await _until_in_channel(other, channel, bot_nick)
                await other.join(channel)
                await swearer.join(channel)
                await asyncio.sleep(1.0)  # the bot's decision feed subscribes after joining
                await swearer.say(channel, "well fuck that")
                async with httpx.AsyncClient(base_url=url) as api:
                    items: list[dict[str, Any]] = []
                    for _ in range(300):
                        found = await api.get("/review", params={"channel_id": channel[1:]})
                        items = found.json()["items"]
                        if items:
                            break
                        await asyncio.sleep(0.05)
                    [item] = items
                    assert item["user_id"] == swearer_nick
                    assert not any(line.command == "KICK" for line in other.lines)  # held
                    denied = await api.post(
                        f"/review/{item['id']}/deny", json={"reason": "not here"}
                    )
                    assert denied.status_code == 200, denied.text
                kick = await other.wait_for(_kicked(swearer_nick, channel), timeout=20)
    assert "after review" in kick.params[2]
