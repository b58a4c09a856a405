"""Where the spam detector keeps its sliding windows: in-process, or in Redis for a deployment
with several filter workers.

The one primitive is `observe`: add a member (a message id, a user id) to a keyed window and
return how many distinct members the window holds within its time span. Rates ("messages of this
user in 10 s"), repeats ("this user's copies of this text in 30 s") and raids ("users who sent
this text in 10 s") are all such counts. A batch of observations is answered in order, so
later ones see the earlier ones (fifty raid messages in one batch count up to fifty).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, NamedTuple, Protocol, runtime_checkable

from chatguard.filter.speedups import native


class Observation(NamedTuple):
    """Add `member` at time `at` to the window `key` spanning `window_s` seconds. With
    `record=False` the window is only read: the count is what it would be, nothing is stored.
    (A named tuple: several are made per message, and a tuple is the cheapest to make.)"""

    key: str
    member: str
    at: float
    window_s: float
    record: bool = True


_AT = itemgetter(2)  # Observation.at


@runtime_checkable
class SpamState(Protocol):
    """Sliding-window counters shared by the spam detector's rules."""

    async def observe(self, observations: Sequence[Observation]) -> list[int]:
        """For each observation, in order, the distinct members in its window counting it."""
        ...

    async def close(self) -> None: ...


class InMemorySpamState:
    """Windows in this process's memory: right for one worker, lost on restart.

    Memory is bounded: each window forgets members older than its span as it is touched, and a
    sweep every `sweep_every` observations drops windows nobody touched within their span.
    """

    def __init__(self, *, sweep_every: int = 50_000, max_keys: int = 1_000_000) -> None:
        self._windows: dict[str, dict[str, float]] = {}
        self._spans: dict[str, float] = {}
        self._sweep_every = sweep_every
        self._max_keys = max_keys
        self._since_sweep = 0
        self._latest = float("-inf")
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._windows)

    async def observe(self, observations: Sequence[Observation]) -> list[int]:
        return self.observe_now(observations)

    def observe_now(
        self, observations: Sequence[Observation] | Sequence[tuple[str, str, float, float, bool]]
    ) -> list[int]:
        """The synchronous form of `observe` (no I/O involved). Plain tuples in `Observation`
        order are taken too: the spam detector's batches skip making the named tuples."""
        with self._lock:
            counts = self._observe_all(observations)
            self._since_sweep += len(observations)
            if observations:
                self._latest = max(self._latest, max(map(_AT, observations)))
            if self._since_sweep >= self._sweep_every or len(self._windows) > self._max_keys:
                # Windows run on the messages' clock, so "now" is the latest message seen.
                self._sweep(self._latest)
        return counts

    def _observe_all(
        self, observations: Sequence[Observation] | Sequence[tuple[str, str, float, float, bool]]
    ) -> list[int]:
        if _NATIVE_OBSERVE is not None:
            return _NATIVE_OBSERVE(self._windows, self._spans, observations)  # type: ignore[no-any-return]
        return observe_windows_python(self._windows, self._spans, observations)

    def _sweep(self, now: float) -> None:
        self._since_sweep = 0
        stale = [
            key
            for key, window in self._windows.items()
            if not window or max(window.values()) <= now - self._spans.get(key, 0.0)
        ]
        for key in stale:
            del self._windows[key]
            self._spans.pop(key, None)
        if len(self._windows) > self._max_keys:  # still too many: drop the oldest-made
            for key in list(self._windows)[: len(self._windows) - self._max_keys]:
                del self._windows[key]
                self._spans.pop(key, None)

    async def close(self) -> None:
        with self._lock:
            self._windows.clear()
            self._spans.clear()


def observe_windows_python(
    windows: dict[str, dict[str, float]],
    spans: dict[str, float],
    observations: Sequence[Observation] | Sequence[tuple[str, str, float, float, bool]],
) -> list[int]:
    """Add each observation to its window (made on first use, its span noted in `spans`) and
    return the count of each, in order: the in-process state's update, and the reference form
    of the compiled `observe_windows`."""
    # One loop for the batch: it holds two to four observations per message, and a call per
    # observation cost as much as the window update itself.
    counts: list[int] = []
    append = counts.append
    for key, member, at, window_s, record in observations:
        window = windows.get(key)
        if window is None:  # most windows: a message alone in its window
            if record:
                windows[key] = {member: at}
                spans[key] = window_s
            append(1)
            continue
        horizon = at - window_s
        # Members are kept in the order they were last seen; the oldest come first.
        while window:
            oldest = next(iter(window))
            if window[oldest] > horizon:
                break
            del window[oldest]
        if not record:
            append(len(window) + (member not in window))
            continue
        window.pop(member, None)
        window[member] = at
        append(len(window))
    return counts


_NATIVE_OBSERVE = native.observe_windows if native is not None else None


# One round trip per observation batch: a sorted set per window, scored by time.
_OBSERVE_SCRIPT = """
local results = {}
for i = 1, #KEYS do
  local base = (i - 1) * 4
  local member, at, span, record = ARGV[base + 1], tonumber(ARGV[base + 2]),
    tonumber(ARGV[base + 3]), ARGV[base + 4]
  local key = KEYS[i]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', at - span)
  if record == '1' then
    redis.call('ZADD', key, at, member)
    redis.call('PEXPIRE', key, math.ceil(span * 1000))
    results[i] = redis.call('ZCARD', key)
  else
    local count = redis.call('ZCARD', key)
    if not redis.call('ZSCORE', key, member) then count = count + 1 end
    results[i] = count
  end
end
return results
"""


class RedisSpamState:
    """Windows in Redis, shared by every filter worker: one sorted set per window (member ->
    time), trimmed and counted by a Lua script in one round trip per batch. Keys expire with
    their window, so Redis holds only live windows."""

    def __init__(
        self, *, url: str, prefix: str = "chatguard:spam:", timeout_s: float = 0.2
    ) -> None:
        import redis.asyncio as redis  # the Redis client is needed only by this state
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.prefix = prefix
        # Short socket timeouts and no retries inside the client: a dead or stalled Redis must
        # cost a message a fraction of the filter's budget, not the client's default 5 s with
        # three retries (`FailoverSpamState` decides when to try again).
        self._client: Any = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._script: Any = self._client.register_script(_OBSERVE_SCRIPT)

    async def observe(self, observations: Sequence[Observation]) -> list[int]:
        if not observations:
            return []
        keys = [self.redis_key(obs.key) for obs in observations]
        args: list[str] = []
        for obs in observations:
            args += [obs.member, repr(obs.at), repr(obs.window_s), "1" if obs.record else "0"]
        counts = await self._script(keys=keys, args=args)
        return [int(c) for c in counts]

    def redis_key(self, key: str) -> str:
        """The Redis key of a window: hashed, because window keys may hold a message's
        normalized words, and those do not belong in a shared store's key space."""
        return (
            self.prefix
            + hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
        )

    async def ping(self) -> bool:
        return bool(await self._client.ping())

    async def close(self) -> None:
        await self._client.aclose()
