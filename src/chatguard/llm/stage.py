"""`LLMStage`: the adjudicator at the end of the cascade.

It sees only the messages the fast tier was unsure about. Each is answered from the verdict
cache when possible; otherwise it joins a micro-batch (one prompt for up to LLM_BATCH_SIZE
messages) sent through the client's retries, breaker and concurrency limit. Its verdict is
authoritative (it replaces the fast tier's scores), with one exception, the guard rail: a message
the fast tier scored as prompt injection cannot be cleared by an LLM verdict (the injection may
be aimed at the LLM); it stays in the uncertain band and goes to review.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chatguard.channel import CHANNEL_CONTEXT, ChannelContext, ChannelMessage
from chatguard.domain import StageResult
from chatguard.errors import StageUnavailableError
from chatguard.llm.batcher import MicroBatcher
from chatguard.llm.breaker import BreakerState, CircuitBreaker
from chatguard.llm.cache import (
    CachedVerdict,
    LRUVerdictCache,
    RedisVerdictCache,
    VerdictCache,
    cache_key,
)
from chatguard.llm.errors import LLMSchemaUnsupportedError
from chatguard.llm.metrics import LLMMetrics
from chatguard.llm.parse import LLMParseError, ParsedAnswer, Verdict, parse_answer, strip_reasoning
from chatguard.llm.prompt import (
    ChatLine,
    PromptItem,
    build_messages,
    policy_version,
    repair_messages,
    response_format,
)
from chatguard.pipeline.router import Thresholds
from chatguard.pipeline.stage import ComponentHealth, Stage, StageInput
from chatguard.taxonomy import ALL_CATEGORIES, Category

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from chatguard.config import Settings
    from chatguard.llm.client import Completion, LLMClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Job:
    """One message on its way into a batch, with its channel's context as it stood."""

    text: str
    user_id: str
    channel_id: str
    recent: tuple[ChannelMessage, ...] = ()
    strikes: int = 0


class LLMStage(Stage):
    """Adjudicates uncertain messages with an LLM behind an OpenAI-compatible endpoint."""

    name = "llm"
    can_clear = True
    escalation = True

    def __init__(
        self,
        *,
        client: LLMClient,
        cache: VerdictCache | None = None,
        batch_size: int = 32,
        batch_wait_ms: float = 20.0,
        temperature: float = 0.6,
        max_tokens: int | None = 4096,
        json_schema: bool = True,
        system_prompt: bool = False,
        context_messages: int = 10,
        injection_allow_at: float | None = None,
        timeout_s: float = 35.0,
    ) -> None:
        super().__init__(timeout_s=timeout_s)
        self.client = client
        self.cache: VerdictCache = cache if cache is not None else LRUVerdictCache(max_entries=0)
        self.batch_size = batch_size
        self.batch_wait_ms = batch_wait_ms
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.json_schema = json_schema
        self.system_prompt = system_prompt
        self.context_messages = context_messages
        self.injection_allow_at = (
            Thresholds().allow_at(Category.PROMPT_INJECTION)
            if injection_allow_at is None
            else injection_allow_at
        )
        self.metrics = LLMMetrics(self)
        self._batchers: dict[str | None, MicroBatcher[_Job, Verdict]] = {}
        self.parse_failures = 0
        self.repairs = 0
        self.truncated = 0
        self.shared = 0
        self._in_flight: dict[str, asyncio.Future[Verdict]] = {}
        self._versions: dict[str | None, str] = {}
        self.guard_rail_hits = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMStage:
        if settings.llm_base_url is None:
            raise ValueError("the llm stage needs LLM_ENDPOINT")
        # Imported here: the SDK is only loaded when an LLM is configured.
        from chatguard.llm.client import LLMClient

        client = LLMClient(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            timeout_s=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
            concurrency=settings.llm_concurrency,
            breaker=CircuitBreaker(
                failure_threshold=settings.llm_breaker_failures,
                reset_after_s=settings.llm_breaker_reset_s,
            ),
        )
        cache: VerdictCache
        if settings.redis_url and settings.llm_cache_size > 0:
            cache = RedisVerdictCache(url=settings.redis_url, ttl_s=settings.llm_cache_ttl_s)
        else:
            cache = LRUVerdictCache(max_entries=settings.llm_cache_size)
        # Budget for the whole escalation: every attempt, its backoff and the batch fill time.
        budget = settings.llm_timeout * (settings.llm_max_retries + 1) + 5.0
        return cls(
            client=client,
            cache=cache,
            batch_size=settings.llm_batch_size,
            batch_wait_ms=settings.llm_batch_wait_ms,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
            json_schema=settings.llm_json_schema,
            system_prompt=settings.llm_system_prompt,
            context_messages=settings.llm_context_messages,
            timeout_s=budget + settings.llm_batch_wait_ms / 1000,
        )

    # -- Stage interface -------------------------------------------------------------------

    async def assess(self, items: Sequence[StageInput]) -> list[StageResult]:
        return list(await asyncio.gather(*(self._assess_one(item) for item in items)))

    async def close(self) -> None:
        for batcher in self._batchers.values():
            await batcher.close()
        await self.client.close()
        await self.cache.close()

    def health(self) -> ComponentHealth:
        breaker = self.client.breaker
        stats = self.client.stats
        state = breaker.state
        if state is BreakerState.OPEN:
            detail = f"circuit open, next trial in {breaker.retry_in_s():.0f}s"
        elif state is BreakerState.HALF_OPEN:
            detail = "circuit half-open, next call is a trial"
        else:
            detail = f"ok, model {self.client.model}"
        if stats.last_error and stats.last_error_at is not None:
            age = time.time() - stats.last_error_at
            detail += f"; last error: {stats.last_error}, {age:.0f}s ago"
        return ComponentHealth(self.name, state is not BreakerState.OPEN, detail, essential=False)

    def register_metrics(self, registry: CollectorRegistry) -> None:
        registry.register(self.metrics)

    # -- one message -----------------------------------------------------------------------

    async def _assess_one(self, item: StageInput) -> StageResult:
        started = time.perf_counter()
        channel = item.message.channel_id
        context = _channel_context(item.context)
        rules = context.rules(channel) if context is not None else None
        key = cache_key(item.normalized.folded, self._policy_version(rules))
        reasons: list[str] = []
        try:
            verdict = await self._verdict(key, item, context, rules, reasons)
        except Exception as exc:  # unavailable or unusable: the result says so, moderation goes on
            return StageResult(
                self.name,
                latency_ms=(time.perf_counter() - started) * 1000,
                error=f"{type(exc).__name__}: {exc}",
            )
        scores = {c: float(verdict.scores.get(c, 0.0)) for c in ALL_CATEGORIES}
        if verdict.reason:
            reasons.insert(0, f"llm: {verdict.reason}")
        review = False
        injection = item.scores.get(Category.PROMPT_INJECTION, 0.0)
        if injection >= self.injection_allow_at:
            # Guard rail: the LLM may raise scores but lower none of the fast tier's.
            self.guard_rail_hits += 1
            review = True
            scores = {c: max(s, item.scores.get(c, 0.0)) for c, s in scores.items()}
            reasons.append(
                f"guard rail: fast tier scored prompt_injection {injection:.2f}; "
                "an LLM verdict cannot clear it"
            )
        return StageResult(
            self.name,
            scores,
            reasons=tuple(reasons),
            latency_ms=(time.perf_counter() - started) * 1000,
            authoritative=True,
            review=review,
        )

    async def _verdict(
        self,
        key: str,
        item: StageInput,
        context: ChannelContext | None,
        rules: str | None,
        reasons: list[str],
    ) -> Verdict:
        """From the cache, from a call already judging the same text, or from a new call."""
        cached = await self.cache.get(key)
        if cached is not None:
            reasons.append("llm verdict from cache")
            return Verdict("cached", cached.scores, cached.reason)
        shared = self._in_flight.get(key)
        if shared is not None:
            # A spam wave: copies arrive while the first is still being judged. One call serves
            # them all; shield it, so a copy whose caller gives up does not cancel the others.
            self.shared += 1
            reasons.append("llm verdict shared with an identical message")
            return await asyncio.shield(shared)
        future: asyncio.Future[Verdict] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)
        self._in_flight[key] = future
        try:
            verdict = await self._batcher(rules).submit(self._job(item, context))
        except asyncio.CancelledError:
            future.set_exception(StageUnavailableError("the call for this text was abandoned"))
            raise
        except Exception as exc:
            future.set_exception(exc)
            raise
        finally:
            del self._in_flight[key]
        future.set_result(verdict)
        await self.cache.set(key, CachedVerdict(verdict.scores, verdict.reason))
        return verdict

    def _job(self, item: StageInput, context: ChannelContext | None) -> _Job:
        message = item.message
        if context is None or self.context_messages <= 0:
            return _Job(message.text, message.user_id, message.channel_id)
        recent = tuple(
            m
            for m in context.recent(message.channel_id, limit=self.context_messages)
            if m.message_id != message.id
        )
        strikes = context.strikes(message.channel_id, message.user_id)
        return _Job(message.text, message.user_id, message.channel_id, recent, strikes)

    def _policy_version(self, rules: str | None) -> str:
        version = self._versions.get(rules)
        if version is None:  # a digest of the whole prompt: worth computing once per rule set
            version = policy_version(
                model=self.client.model, rules=rules, system_prompt=self.system_prompt
            )
            self._versions[rules] = version
        return version

    def _batcher(self, rules: str | None) -> MicroBatcher[_Job, Verdict]:
        # One batcher per rule set: a prompt carries one channel's rules.
        batcher = self._batchers.get(rules)
        if batcher is None:
            batcher = MicroBatcher(
                handler=lambda jobs: self._judge(jobs, rules),
                max_size=self.batch_size,
                max_wait_ms=self.batch_wait_ms,
                # Batches wait for a free request slot and fill up meanwhile.
                max_concurrent=self.client.concurrency,
                on_flush=self.metrics.batch_size.observe,
            )
            self._batchers[rules] = batcher
        return batcher

    # -- one batch -------------------------------------------------------------------------

    async def _judge(self, jobs: list[_Job], rules: str | None) -> dict[int, Verdict]:
        """Verdicts by position for one batch; positions the answer left out are missing."""
        ids = [f"m{i + 1}" for i in range(len(jobs))]
        items, context = _prompt_items(ids, jobs)
        messages = build_messages(
            items, context=context, rules=rules, system_prompt=self.system_prompt
        )
        completion = await self._complete(messages)
        try:
            parsed = parse_answer(completion.text, ids)
        except LLMParseError as exc:
            self.parse_failures += 1
            problem = str(exc)
            if completion.finish_reason == "length":
                self.truncated += 1
                problem += f" (the answer was cut off at {self.max_tokens} tokens: be brief)"
                log.warning("LLM answer cut off at LLM_MAX_TOKENS=%s", self.max_tokens)
            log.info("LLM answer unusable (%s); asking once more", exc)
            self.repairs += 1
            answer = strip_reasoning(completion.text)[:4000]
            completion = await self._complete(repair_messages(messages, answer, problem))
            try:
                parsed = parse_answer(completion.text, ids)
            except LLMParseError:
                self.parse_failures += 1
                raise
        return _by_position(parsed, ids)

    async def _complete(self, messages: list[dict[str, str]]) -> Completion:
        kwargs: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.json_schema:
            try:
                return await self.client.complete(
                    messages, response_format=response_format(), **kwargs
                )
            except LLMSchemaUnsupportedError:
                # Remember it: this server does not do structured output; parse text instead.
                log.warning("the LLM endpoint refused response_format; parsing plain answers")
                self.json_schema = False
        return await self.client.complete(messages, **kwargs)


def _prompt_items(
    ids: list[str], jobs: list[_Job]
) -> tuple[list[PromptItem], dict[str, list[ChatLine]]]:
    """Prompt items and each channel's context, with pseudonyms for users and channels (the
    model needs to tell authors apart, not to know who they are)."""
    users: dict[str, str] = {}
    channels: dict[str, str] = {}

    def user(user_id: str) -> str:
        return users.setdefault(user_id, f"user{len(users) + 1}")

    def channel(channel_id: str) -> str:
        return channels.setdefault(channel_id, f"channel{len(channels) + 1}")

    context: dict[str, list[ChatLine]] = {}
    items = []
    for id_, job in zip(ids, jobs, strict=True):
        name = channel(job.channel_id)
        if job.recent or name not in context:
            # Jobs arrive in order, so the last one of a channel holds its freshest context.
            context[name] = [ChatLine(user(m.user_id), m.text) for m in job.recent]
        items.append(PromptItem(id_, job.text, user(job.user_id), name, job.strikes))
    return items, context


def _by_position(parsed: ParsedAnswer, ids: list[str]) -> dict[int, Verdict]:
    position = {id_: i for i, id_ in enumerate(ids)}
    return {position[v.id]: v for v in parsed.verdicts.values() if v.id in position}


def _retrieved(future: asyncio.Future[Verdict]) -> None:
    # Mark a failure as seen: a call nobody else waited on must not warn at shutdown.
    if not future.cancelled():
        future.exception()


def _channel_context(context: Mapping[str, Any]) -> ChannelContext | None:
    value = context.get(CHANNEL_CONTEXT)
    return value if value is not None else None
