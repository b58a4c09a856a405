"""What a channel looks like right now: its recent messages, its users' recent strikes and its
rules. The LLM reads it to judge a message in context ("that's a reply to a joke", "third
offence this hour"). `ChannelContext` is the interface; `ChannelMemory` keeps it in process.

Message texts stay in memory only; nothing here logs them.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from chatguard.domain import Action, Message

#: Context key under which the service passes the channel context to the stages.
CHANNEL_CONTEXT = "channel_context"


@dataclass(frozen=True, slots=True)
class ChannelMessage:
    message_id: str
    user_id: str
    text: str


class ChannelContext(Protocol):
    def recent(self, channel_id: str, *, limit: int) -> list[ChannelMessage]:
        """The channel's last `limit` messages, oldest first."""
        ...

    def strikes(self, channel_id: str, user_id: str) -> int:
        """How many of the user's messages were removed recently."""
        ...

    def rules(self, channel_id: str) -> str | None:
        """The channel's own rules in plain words, if it has any."""
        ...


class ChannelMemory:
    """In-process channel context, bounded: `history` messages per channel, the most recently
    active `max_channels` channels, strikes within `strike_window_s`."""

    def __init__(
        self,
        *,
        history: int = 20,
        max_channels: int = 10_000,
        strike_window_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.history = history
        self.max_channels = max_channels
        self.strike_window_s = strike_window_s
        self._clock = clock
        self._messages: OrderedDict[str, deque[ChannelMessage]] = OrderedDict()
        self._strikes: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._rules: dict[str, str] = {}

    def record(
        self, message: Message, action: Action, *, provisional: bool = False, strike: bool = True
    ) -> None:
        """Remember a decided message; a removal that is final counts as a strike, unless
        `strike` is false (a crisis hold is care, not an offence)."""
        recent = self._messages.get(message.channel_id)
        if recent is None:
            recent = self._messages[message.channel_id] = deque(maxlen=self.history)
        self._messages.move_to_end(message.channel_id)
        recent.append(ChannelMessage(message.id, message.user_id, message.text))
        while len(self._messages) > self.max_channels:
            self._messages.popitem(last=False)
        if strike and action.removes_message and not provisional:
            self.add_strike(message.channel_id, message.user_id)

    def add_strike(self, channel_id: str, user_id: str) -> None:
        key = (channel_id, user_id)
        times = self._strikes.setdefault(key, deque(maxlen=100))
        self._strikes.move_to_end(key)
        times.append(self._clock())
        while len(self._strikes) > self.max_channels:
            self._strikes.popitem(last=False)

    def set_rules(self, channel_id: str, rules: str | None) -> None:
        if rules:
            self._rules[channel_id] = rules
        else:
            self._rules.pop(channel_id, None)

    def recent(self, channel_id: str, *, limit: int) -> list[ChannelMessage]:
        recent = self._messages.get(channel_id)
        if not recent or limit <= 0:
            return []
        return list(recent)[-limit:]

    def strikes(self, channel_id: str, user_id: str) -> int:
        times = self._strikes.get((channel_id, user_id))
        if not times:
            return 0
        since = self._clock() - self.strike_window_s
        return sum(1 for t in times if t >= since)

    def rules(self, channel_id: str) -> str | None:
        return self._rules.get(channel_id)

    def forget_user(self, channel_id: str, user_id: str) -> int:
        """Drop a user's remembered messages and strikes in a channel (erasure); returns how
        many messages were dropped."""
        self._strikes.pop((channel_id, user_id), None)
        recent = self._messages.get(channel_id)
        if not recent:
            return 0
        kept = [m for m in recent if m.user_id != user_id]
        dropped = len(recent) - len(kept)
        if dropped:
            self._messages[channel_id] = deque(kept, maxlen=recent.maxlen)
        return dropped
