"""`chatguard irc-bot`, run as a user runs it, against the real IRC server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.connectors.conftest import IrcClient

CHATGUARD = str(Path(sys.executable).with_name("chatguard"))
pytestmark = pytest.mark.slow


def bot_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The bot's environment: its own SQLite file and the rule stage only (predictable)."""
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "PIPELINE_STAGES": "rules",
        **extra,
    }


async def test_the_irc_bot_command_moderates_a_channel(ngircd: int, tmp_path: Path) -> None:
    channel = f"#cli{uuid.uuid4().hex[:8]}"
    env = bot_env(tmp_path, LOG_LEVEL="INFO")
    bot = await asyncio.create_subprocess_exec(
        CHATGUARD,
        "irc-bot",
        "--server",
        f"127.0.0.1:{ngircd}",
        "--nick",
        "clibot",
        "--channel",
        channel,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert bot.stdout is not None
    output: list[str] = []
    try:
        # The bot joins first, so it creates the channel and is its operator.
        while not any("irc: joined" in line for line in output):
            line = await asyncio.wait_for(bot.stdout.readline(), 20)
            assert line, "the bot exited: " + "".join(output)
            output.append(line.decode())
        async with IrcClient(ngircd, "watcher") as watcher, IrcClient(ngircd, "rude") as rude:
            await watcher.join(channel)
            await rude.join(channel)
            await watcher.say(channel, "hi all")
            await rude.say(channel, "just kill yourself")
            kick = await watcher.wait_for(
                lambda line: line.command == "KICK" and line.params[1] == "rude", timeout=15
            )
            assert kick.params[0] == channel
            assert not any(
                line.command == "KICK" and line.params[1] == "watcher" for line in watcher.lines
            )
    finally:
        if bot.returncode is None:
            bot.send_signal(signal.SIGINT)
        try:
            rest, _ = await asyncio.wait_for(bot.communicate(), 10)
        except TimeoutError:
            bot.kill()
            rest, _ = await bot.communicate()
        output.append(rest.decode())
    text = "".join(output)
    assert "joining" in text
    assert "kill yourself" not in text and "hi all" not in text  # never echoes what was said


@pytest.mark.parametrize(
    "server", [pytest.param("nohost", id="no-port"), pytest.param("host:99999", id="bad-port")]
)
def test_a_bad_server_address_is_refused_with_the_flag_named(server: str) -> None:
    result = subprocess.run(
        [CHATGUARD, "irc-bot", "--server", server, "--nick", "n", "--channel", "#c"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--server" in result.stderr


@pytest.mark.parametrize(
    ("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"]
)
def test_the_bot_keeps_trying_while_the_server_is_away_and_stops_when_told(
    tmp_path: Path, stop: signal.Signals, code: int
) -> None:
    env = bot_env(tmp_path)
    bot = subprocess.Popen(
        [
            CHATGUARD,
            "irc-bot",
            "--server",
            f"127.0.0.1:{free_port()}",
            "--nick",
            "n",
            "--channel",
            "#c",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert bot.stderr is not None
        lines: list[str] = []
        while len(lines) < 4:
            line = bot.stderr.readline()
            assert line, "the bot exited"
            if "reach" in line or "reconnecting" in line:
                lines.append(line)
    finally:
        bot.send_signal(stop)
        try:
            bot.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            bot.kill()  # fail this test alone, not a later one with a leaked process
            bot.communicate()
            raise
    assert "cannot reach" in lines[0] and "reconnecting in 1 s" in lines[1]
    assert "cannot reach" in lines[2] and "reconnecting in 2 s" in lines[3]
    assert bot.returncode == code


def test_once_exits_when_the_server_is_away(tmp_path: Path) -> None:
    env = bot_env(tmp_path)
    result = subprocess.run(
        [
            CHATGUARD,
            "irc-bot",
            "--once",
            "--server",
            f"127.0.0.1:{free_port()}",
            "--nick",
            "n",
            "--channel",
            "#c",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "cannot reach" in result.stderr
