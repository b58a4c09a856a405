"""An IRC bot on asyncio streams: it joins channels, hands every chat line to moderation and
enforces decisions. Twitch chat speaks IRC, so the same bot moderates Twitch (`twitch=True`:
IRCv3 tags for message ids and badges, and Twitch's chat commands) or any plain IRC server
(KICK and MODE +b, which need the bot to be a channel operator).

Chat has already shown a message when the bot reads it, so a hold cannot hide it: a held
message stays until a moderator denies it in the review queue, and the denial is enforced then.
Plain IRC cannot delete one message: a delete becomes a KICK there, a timeout a ban that is
lifted after its duration, a ban a ban and a KICK.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pydantic import SecretStr

from chatguard.connectors.base import ChatConnector
from chatguard.domain import Action, Message, Role

log = logging.getLogger(__name__)

MAX_LINE = 510  # RFC 1459: 512 bytes with CR LF
#: Text per NOTICE line: the server relays it with our full prefix (nick!user@host), which
#: must fit in the recipient's 512 bytes too.
NOTICE_BYTES = 350
#: Prefixes in NAMES replies, and the role each gives on a plain IRC server.
PREFIX_ROLES = {
    "~": Role.BROADCASTER,
    "&": Role.BROADCASTER,
    "@": Role.MODERATOR,
    "%": Role.MODERATOR,
    "+": Role.VIP,
}
MODE_ROLES = {
    "q": Role.BROADCASTER,
    "a": Role.BROADCASTER,
    "o": Role.MODERATOR,
    "h": Role.MODERATOR,
    "v": Role.VIP,
}
TWITCH_BADGES = {
    "broadcaster": Role.BROADCASTER,
    "moderator": Role.MODERATOR,
    "vip": Role.VIP,
    "subscriber": Role.SUBSCRIBER,
    "founder": Role.SUBSCRIBER,
}


VALID_NICK = re.compile(r"[A-Za-z0-9\[\]\\`_^{|}\-]{1,64}")
CTCP_ACTION = "\x01ACTION "


class IrcError(ConnectionError):
    """The server refused the bot (nick in use, bad password) or went away."""


@dataclass(frozen=True, slots=True)
class IrcLine:
    """One parsed IRC line: IRCv3 tags, prefix (`nick!user@host`), command and parameters."""

    command: str
    params: tuple[str, ...] = ()
    prefix: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def nick(self) -> str:
        return self.prefix.split("!", 1)[0]

    @classmethod
    def parse(cls, raw: str) -> IrcLine:
        tags: dict[str, str] = {}
        rest = raw
        if rest.startswith("@"):
            tag_text, _, rest = rest[1:].partition(" ")
            for item in tag_text.split(";"):
                key, _, value = item.partition("=")
                tags[key] = _unescape_tag(value)
        prefix = ""
        if rest.startswith(":"):
            prefix, _, rest = rest[1:].partition(" ")
        trailing = None
        if " :" in rest:
            rest, trailing = rest.split(" :", 1)
        elif rest.startswith(":"):
            rest, trailing = "", rest[1:]
        words = rest.split()
        params = tuple(words[1:]) + ((trailing,) if trailing is not None else ())
        return cls(
            command=(words[0] if words else "").upper(), params=params, prefix=prefix, tags=tags
        )


def _unescape_tag(value: str) -> str:
    out, i = [], 0
    escapes = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append(escapes.get(value[i + 1], value[i + 1]))
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def channel_id_of(channel: str) -> str:
    """`#SomeStreamer` → `somestreamer`: the channel id policies are stored under."""
    return channel.lstrip("#&").lower()


class IrcConnector(ChatConnector):
    name = "irc"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        nick: str,
        channels: list[str],
        password: SecretStr | None = None,
        twitch: bool = False,
        tls: bool = False,
        connect_timeout_s: float = 15.0,
    ) -> None:
        if not channels:
            raise ValueError("join at least one channel")
        self.host, self.port, self.nick = host, port, nick
        self.channels = [c if c[0] in "#&" else f"#{c}" for c in channels]
        self._password = password
        self.twitch = twitch
        self.tls = tls
        self.connect_timeout_s = connect_timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=10_000)
        self._reader_task: asyncio.Task[None] | None = None
        self._timers: set[asyncio.Task[None]] = set()
        self._joined: dict[str, asyncio.Event] = {
            channel_id_of(c): asyncio.Event() for c in self.channels
        }
        self._names: dict[str, str] = {channel_id_of(c): c for c in self.channels}
        self._roles: dict[tuple[str, str], set[Role]] = {}
        self._closing = False
        self.sent: list[str] = []  # enforcement commands sent, for operators and tests

    # Connection ------------------------------------------------------------------------------

    async def connect(self) -> None:
        context = ssl.create_default_context() if self.tls else None
        async with asyncio.timeout(self.connect_timeout_s):
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, ssl=context
            )
        try:
            await self._register()
        except BaseException:
            await self.close()
            raise
        log.info("irc: joined %s on %s:%d", ",".join(self.channels), self.host, self.port)

    async def _register(self) -> None:
        if self.twitch:
            await self._send("CAP REQ :twitch.tv/tags twitch.tv/commands twitch.tv/membership")
            # Servers that negotiate capabilities hold registration until CAP END.
            await self._send("CAP END")
        if self._password is not None:
            await self._send(f"PASS {self._password.get_secret_value()}", secret=True)
        await self._send(f"NICK {self.nick}")
        await self._send(f"USER {self.nick} 0 * :chatguard moderation bot")
        async with asyncio.timeout(self.connect_timeout_s):
            await self._registered()
        self._reader_task = asyncio.create_task(self._read_loop(), name="irc-reader")
        await self._send("JOIN " + ",".join(self.channels))
        async with asyncio.timeout(self.connect_timeout_s):
            await asyncio.gather(*(e.wait() for e in self._joined.values()))

    async def close(self) -> None:
        self._closing = True
        for task in list(self._timers):
            task.cancel()
        if self._writer is not None and not self._writer.is_closing():
            with contextlib.suppress(OSError, ConnectionError):
                await self._send("QUIT :chatguard leaving")
            self._writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        self._queue.put_nowait(None)

    async def messages(self) -> AsyncIterator[Message]:
        while True:
            message = await self._queue.get()
            if message is None:
                return
            yield message

    # Reading ---------------------------------------------------------------------------------

    async def _registered(self) -> None:
        while True:
            line = await self._read_line()
            if line.command == "001":
                return
            if line.command in ("433", "432", "464", "465", "ERROR"):
                raise IrcError(f"server refused registration: {line.command} {line.params[-1:]}")
            self._handle(line)

    async def _read_line(self) -> IrcLine:
        assert self._reader is not None
        raw = await self._reader.readline()
        if not raw:
            raise IrcError("the server closed the connection")
        return IrcLine.parse(raw.decode("utf-8", "replace").rstrip("\r\n"))

    async def _read_loop(self) -> None:
        try:
            while True:
                line = await self._read_line()
                self._handle(line)
                if line.command == "PING":
                    await self._send("PONG :" + (line.params[-1] if line.params else ""))
        except (IrcError, OSError, ConnectionError) as exc:
            if not self._closing:
                log.warning("irc: connection lost: %s", type(exc).__name__)
        finally:
            self._queue.put_nowait(None)

    def _handle(self, line: IrcLine) -> None:
        command = line.command
        if command == "PRIVMSG" and len(line.params) == 2:
            self._on_privmsg(line)
        elif command == "JOIN" and line.params and line.nick.lower() == self.nick.lower():
            event = self._joined.get(channel_id_of(line.params[0]))
            if event is not None:
                event.set()
        elif command == "353" and len(line.params) >= 4:  # NAMES reply
            channel = channel_id_of(line.params[2])
            for entry in line.params[3].split():
                roles = {PREFIX_ROLES[ch] for ch in entry if ch in PREFIX_ROLES}
                self._roles[(channel, entry.lstrip("~&@%+").lower())] = roles
        elif command == "MODE" and len(line.params) >= 3 and line.params[0][0] in "#&":
            self._on_mode(channel_id_of(line.params[0]), line.params[1], line.params[2:])

    def _on_mode(self, channel: str, modes: str, targets: tuple[str, ...]) -> None:
        adding, index = True, 0
        for char in modes:
            if char in "+-":
                adding = char == "+"
                continue
            if char in MODE_ROLES and index < len(targets):
                roles = self._roles.setdefault((channel, targets[index].lower()), set())
                (roles.add if adding else roles.discard)(MODE_ROLES[char])
            if char in MODE_ROLES or char in "bekl":
                index += 1

    def _on_privmsg(self, line: IrcLine) -> None:
        target, text = line.params
        if text.startswith(CTCP_ACTION):  # "/me ..." is said all the same
            text = text[len(CTCP_ACTION) :].rstrip("\x01")
        sender = line.nick
        if target[0] not in "#&" or sender.lower() == self.nick.lower():
            return  # private messages and our own lines are not moderated
        channel = channel_id_of(target)
        self._names.setdefault(channel, target)
        message = Message(
            text=text,
            user_id=sender.lower(),
            channel_id=channel,
            id=line.tags.get("id") or uuid.uuid4().hex,
            roles=frozenset(self._roles_of(channel, sender, line.tags)),
        )
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("irc: moderation is behind; dropped message %s", message.id)

    def _roles_of(self, channel: str, nick: str, tags: dict[str, str]) -> set[Role]:
        if self.twitch:
            roles = set()
            for badge in filter(None, tags.get("badges", "").split(",")):
                role = TWITCH_BADGES.get(badge.split("/", 1)[0])
                if role is not None:
                    roles.add(role)
            return roles
        return set(self._roles.get((channel, nick.lower()), set()))

    # Enforcing -------------------------------------------------------------------------------

    def serves(self, channel_id: str) -> bool:
        return channel_id in self._joined

    @property
    def removal_punishes(self) -> bool:
        """Plain IRC removes a message only by kicking its author; Twitch deletes the line."""
        return not self.twitch

    async def apply(
        self,
        *,
        channel_id: str,
        user_id: str,
        action: Action,
        duration_s: int | None = None,
        message_id: str | None = None,
        reason: str = "chatguard",
    ) -> None:
        """Send the platform's commands for `action` against `user_id` in `channel_id`."""
        channel = self._names.get(channel_id, f"#{channel_id}")
        nick = user_id
        if not VALID_NICK.fullmatch(nick):
            # Only a nick that came from IRC can be acted on; anything else would split the
            # command line (a space) or hit a mask (`*`).
            log.warning("irc: not enforcing against an invalid nick in %s", channel_id)
            return
        if self.twitch:
            await self._apply_twitch(channel, nick, action, duration_s, message_id, reason)
        else:
            await self._apply_irc(channel, nick, action, duration_s, reason)

    async def notify(self, *, channel_id: str, user_id: str, text: str) -> None:
        """A private NOTICE to the user (RFC 2812 3.3.2: NOTICE, unlike PRIVMSG, never draws an
        automatic reply, so a bot's notice cannot start a loop with another bot). Twitch chat
        has no private message a bot may send over IRC (whispers need Twitch's API): nothing
        is sent there."""
        if self.twitch:
            log.info("irc: twitch chat cannot carry a private notice; not sent in %s", channel_id)
            return
        if not VALID_NICK.fullmatch(user_id):
            log.warning("irc: no notice to an invalid nick in %s", channel_id)
            return
        for chunk in _chunks(text, NOTICE_BYTES):
            await self._command(f"NOTICE {user_id} :{chunk}")

    async def _apply_twitch(
        self,
        channel: str,
        nick: str,
        action: Action,
        duration_s: int | None,
        message_id: str | None,
        reason: str,
    ) -> None:
        if action is Action.BAN:
            await self._command(f"PRIVMSG {channel} :.ban {nick} {reason}")
        elif action is Action.TIMEOUT:
            await self._command(f"PRIVMSG {channel} :.timeout {nick} {duration_s or 600} {reason}")
        elif action is Action.DELETE and message_id:
            await self._command(f"PRIVMSG {channel} :/delete {message_id}")

    async def _apply_irc(
        self, channel: str, nick: str, action: Action, duration_s: int | None, reason: str
    ) -> None:
        if action in (Action.BAN, Action.TIMEOUT):
            mask = f"{nick}!*@*"
            await self._command(f"MODE {channel} +b {mask}")
            if action is Action.TIMEOUT:
                self._later(duration_s or 600, f"MODE {channel} -b {mask}")
        if action in (Action.DELETE, Action.TIMEOUT, Action.BAN):
            await self._command(f"KICK {channel} {nick} :{reason}")

    def _later(self, delay_s: float, command: str) -> None:
        async def run() -> None:
            await asyncio.sleep(delay_s)
            await self._command(command)

        task = asyncio.create_task(run())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _command(self, line: str) -> None:
        self.sent.append(line)
        await self._send(line)

    async def _send(self, line: str, *, secret: bool = False) -> None:
        if self._writer is None:
            raise IrcError("not connected")
        data = line.replace("\r", " ").replace("\n", " ").encode("utf-8")[:MAX_LINE]
        self._writer.write(data + b"\r\n")
        await self._writer.drain()
        log.debug("irc> %s", "PASS ***" if secret else line.split(" :", 1)[0])


def _chunks(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` UTF-8 bytes, split between words where it can."""
    pieces: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if len(candidate.encode("utf-8")) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while len(word.encode("utf-8")) > limit:  # one word longer than a line
            cut = limit
            while len(word[:cut].encode("utf-8")) > limit:
                cut -= 1
            pieces.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        pieces.append(current)
    return pieces
