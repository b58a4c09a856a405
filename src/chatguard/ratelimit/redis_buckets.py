"""Token buckets in Redis, shared by every process: one Lua script takes from all the buckets
of a request atomically, on Redis's own clock. When Redis cannot be reached the request is
decided by in-process buckets instead (never an error), and Redis is tried again a few seconds
later."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from chatguard.ratelimit.buckets import InProcessBuckets, Take, Verdict, retry_after

log = logging.getLogger(__name__)

#: KEYS: the buckets; ARGV: rate, burst and cost of each, in turn.
#: Returns {1} when every bucket had the tokens (and they were taken), else {0, wait, index}.
TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local levels = {}
local wait, worst = 0, 0
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[3 * i - 2])
  local burst = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens, at = tonumber(state[1]), tonumber(state[2])
  if tokens == nil or at == nil then tokens, at = burst, now end
  local level = math.min(burst, tokens + math.max(0, now - at) * rate)
  levels[i] = level
  if level < cost and (cost - level) / rate > wait then
    wait, worst = (cost - level) / rate, i
  end
end
if worst > 0 then return {0, tostring(wait), worst} end
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[3 * i - 2])
  local burst = tonumber(ARGV[3 * i - 1])
  local left = levels[i] - tonumber(ARGV[3 * i])
  redis.call('HSET', key, 'tokens', tostring(left), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil((burst - left) / rate * 1000) + 1000)
end
return {1}
"""
RETRY_REDIS_AFTER_S = 5.0


class RedisBuckets:
    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        fallback: InProcessBuckets | None = None,
        on_fallback: Callable[[], None] | None = None,
        timeout_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix
        self.fallback = fallback or InProcessBuckets()
        self.on_fallback = on_fallback
        self._clock = clock
        self._redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
        )
        self._script = self._redis.register_script(TAKE_SCRIPT)
        self._down_until = 0.0

    async def take(self, takes: Sequence[Take]) -> Verdict:
        if not takes:
            return Verdict(True)
        if self._clock() < self._down_until:
            return self._local(takes)
        args: list[float | int] = []
        for take in takes:
            args += [take.spec.rate_per_s, take.spec.burst, take.tokens]
        try:
            reply = await self._script(keys=[self.prefix + t.key for t in takes], args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("rate limits fall back to in-process buckets: %s", type(exc).__name__)
            self._down_until = self._clock() + RETRY_REDIS_AFTER_S
            return self._local(takes)
        self._down_until = 0.0
        if int(reply[0]) == 1:
            return Verdict(True)
        return Verdict(False, retry_after(float(reply[1])), takes[int(reply[2]) - 1].key)

    def _local(self, takes: Sequence[Take]) -> Verdict:
        if self.on_fallback is not None:
            self.on_fallback()
        return self.fallback.take_now(takes)

    async def close(self) -> None:
        await self._redis.aclose()
