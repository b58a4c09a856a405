"""A real IRC server (ngircd) on a free port for the connector tests, and a plain IRC client."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chatguard.connectors.irc import IrcLine
from tests.conftest import free_port, port_answers

NGIRCD_CONF = """\
[Global]
Name = irc.chatguard.test
Info = chatguard test server
AdminInfo1 = chatguard tests
AdminInfo2 = localhost
AdminEMail = tests@localhost
Listen = 127.0.0.1
Ports = {port}
MotdPhrase = chatguard test server
PidFile = {dir}/ngircd.pid

[Limits]
MaxConnectionsIP = 0
MaxNickLength = 30
PingTimeout = 120
PongTimeout = 60

[Options]
DNS = no
Ident = no
PAM = no
"""


@pytest.fixture(scope="module")
def ngircd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """ngircd in the foreground (`-n`) with its own config; yields the port."""
    binary = shutil.which("ngircd") or next(
        (p for p in ("/usr/sbin/ngircd", "/usr/local/sbin/ngircd") if Path(p).exists()), None
    )
    if binary is None:
        pytest.skip("ngircd is not installed (scripts/ensure-tools.sh installs it)")
    workdir = tmp_path_factory.mktemp("ngircd")
    workdir.chmod(0o777)  # ngircd drops root privileges and still writes its pid file here
    port = free_port()
    config = workdir / "ngircd.conf"
    config.write_text(NGIRCD_CONF.format(port=port, dir=workdir))
    log = (workdir / "ngircd.log").open("w")
    process = subprocess.Popen(
        [binary, "-n", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 10
        while not port_answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ngircd did not start: " + (workdir / "ngircd.log").read_text())
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


class IrcClient:
    """A plain IRC user: registers, joins, talks, and keeps every line it receives."""

    def __init__(self, port: int, nick: str) -> None:
        self.port, self.nick = port, nick
        self.lines: list[IrcLine] = []
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> IrcClient:
        reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._task = asyncio.create_task(self._read(reader))
        await self.send(f"NICK {self.nick}")
        await self.send(f"USER {self.nick} 0 * :{self.nick}")
        welcome = await self.wait_for(lambda line: line.command in ("001", "432", "433"))
        if welcome.command != "001":
            await self.__aexit__()
            raise RuntimeError(f"{self.nick}: registration refused ({welcome.command})")
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._writer is not None and self._task is not None
        with contextlib.suppress(OSError, ConnectionError):
            await self.send("QUIT :bye")
        self._writer.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError, ConnectionError):
            await self._task
            await self._writer.wait_closed()

    async def send(self, line: str) -> None:
        assert self._writer is not None
        self._writer.write(line.encode() + b"\r\n")
        await self._writer.drain()

    async def join(self, channel: str) -> None:
        mark = self.mark()
        await self.send(f"JOIN {channel}")
        await self.wait_for(
            lambda line: line.command == "366" and line.params[1] == channel, after=mark
        )

    async def say(self, channel: str, text: str) -> None:
        await self.send(f"PRIVMSG {channel} :{text}")

    def mark(self) -> int:
        """A position in the received lines; `wait_for(..., after=mark)` looks only past it."""
        return len(self.lines)

    async def wait_for(
        self, predicate: Callable[[IrcLine], bool], timeout: float = 10.0, *, after: int = 0
    ) -> IrcLine:
        async def found() -> IrcLine:
            async with self._changed:
                while True:
                    for line in self.lines[after:]:
                        if predicate(line):
                            return line
                    await self._changed.wait()

        return await asyncio.wait_for(found(), timeout)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while raw := await reader.readline():
            line = IrcLine.parse(raw.decode("utf-8", "replace").rstrip("\r\n"))
            if line.command == "PING":
                await self.send("PONG :" + line.params[-1])
            async with self._changed:
                self.lines.append(line)
                self._changed.notify_all()


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[object]:
    """The local OpenAI-compatible stand-in (tests/support/fake_llm.py)."""
    from tests.support.fake_llm import FakeLLMServer

    server = FakeLLMServer().start()
    yield server
    server.stop()
