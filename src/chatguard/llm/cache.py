"""A cache of LLM verdicts, keyed by the normalized message text and the policy version (the
prompt, model and channel rules), so the same spam wave or copypasta costs one call.

`LRUVerdictCache` lives in the process; `RedisVerdictCache` is shared by every worker when
REDIS_URL is set. Both sit behind `VerdictCache`. A cache failure is a miss, never an error:
the cache may make moderation cheaper, never stop it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chatguard.taxonomy import Category, UnknownCategoryError, parse_category

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CachedVerdict:
    scores: Mapping[Category, float]
    reason: str = ""

    def to_json(self) -> str:
        return json.dumps(
            {"scores": {c.value: s for c, s in self.scores.items()}, "reason": self.reason}
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> CachedVerdict:
        data: dict[str, Any] = json.loads(raw)
        scores: dict[Category, float] = {}
        for name, score in data.get("scores", {}).items():
            try:
                scores[parse_category(name)] = float(score)
            except (UnknownCategoryError, TypeError, ValueError):
                continue
        return cls(scores, str(data.get("reason", "")))


def cache_key(folded_text: str, policy_version: str) -> str:
    """The key for one text under one policy: a digest, so no chat text sits in key names."""
    digest = hashlib.sha256(folded_text.strip().encode("utf-8", "surrogatepass")).hexdigest()
    return f"{policy_version}:{digest}"


class VerdictCache(Protocol):
    hits: int
    misses: int

    async def get(self, key: str) -> CachedVerdict | None: ...

    async def set(self, key: str, verdict: CachedVerdict) -> None: ...

    async def close(self) -> None: ...


class LRUVerdictCache:
    """In-process, least recently used entries evicted past `max_entries`."""

    def __init__(self, *, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, CachedVerdict] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CachedVerdict | None:
        verdict = self._entries.get(key)
        if verdict is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return verdict

    async def set(self, key: str, verdict: CachedVerdict) -> None:
        if self.max_entries <= 0:
            return
        self._entries[key] = verdict
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def close(self) -> None:
        self._entries.clear()


class RedisVerdictCache:
    """Shared by every worker; entries expire after `ttl_s`."""

    def __init__(
        self, *, url: str, ttl_s: int = 86_400, prefix: str = "chatguard:llm-verdict:"
    ) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.ttl_s = ttl_s
        self.prefix = prefix
        self.hits = 0
        self.misses = 0
        self.errors = 0

    async def get(self, key: str) -> CachedVerdict | None:
        try:
            raw = await self._redis.get(self.prefix + key)
        except Exception as exc:  # a cache outage is a miss
            self._failed("get", exc)
            raw = None
        verdict = None
        if raw is not None:
            try:
                verdict = CachedVerdict.from_json(raw)
            except (ValueError, TypeError, AttributeError) as exc:  # not ours, or corrupt
                self._failed("decode", exc)
        if verdict is None:
            self.misses += 1
            return None
        self.hits += 1
        return verdict

    async def set(self, key: str, verdict: CachedVerdict) -> None:
        try:
            await self._redis.set(self.prefix + key, verdict.to_json(), ex=self.ttl_s)
        except Exception as exc:
            self._failed("set", exc)

    async def close(self) -> None:
        await self._redis.aclose()

    def _failed(self, operation: str, exc: Exception) -> None:
        self.errors += 1
        log.warning("verdict cache %s failed: %s", operation, type(exc).__name__)
