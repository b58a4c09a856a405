"""Pseudonyms for the prompt: the LLM needs to tell authors apart, never to know who they are.

Within one prompt each user id becomes `user1`, `user2`, … and each channel `channel1`, …; the
same names replace mentions in the texts: `@handle` always (a handle the prompt knows as a user
id gets that user's pseudonym, any other one a fresh one), and a known user id written out as a
word when it is long enough not to be an ordinary word. So no user id or handle leaves the
service in a prompt.
"""

from __future__ import annotations

import re

_MENTION = re.compile(r"@([\w.\-]{2,})")
#: Shorter ids are replaced only as @mentions: "bob" or "ok" are also ordinary words.
_BARE_FROM = 4


class Pseudonyms:
    """One prompt's pseudonyms (make a new one per prompt)."""

    def __init__(self) -> None:
        self._users: dict[str, str] = {}
        self._channels: dict[str, str] = {}
        self._bare: re.Pattern[str] | None = None

    def user(self, user_id: str) -> str:
        key = user_id.casefold()
        name = self._users.get(key)
        if name is None:
            name = self._users[key] = f"user{len(self._users) + 1}"
            self._bare = None
        return name

    def channel(self, channel_id: str) -> str:
        return self._channels.setdefault(channel_id, f"channel{len(self._channels) + 1}")

    def text(self, text: str) -> str:
        """`text` with mentions and known user ids replaced by pseudonyms."""
        text = _MENTION.sub(lambda m: "@" + self.user(m.group(1)), text)
        bare = self._bare_pattern()
        if bare is not None:
            text = bare.sub(lambda m: self._users[m.group(0).casefold()], text)
        return text

    def _bare_pattern(self) -> re.Pattern[str] | None:
        if self._bare is None:
            ids = sorted((i for i in self._users if len(i) >= _BARE_FROM), key=len, reverse=True)
            if not ids:
                return None
            alternatives = "|".join(re.escape(i) for i in ids)
            self._bare = re.compile(rf"(?<![\w@])(?:{alternatives})(?!\w)", re.IGNORECASE)
        return self._bare
