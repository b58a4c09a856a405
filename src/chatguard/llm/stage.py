"""`LLMStage`: the adjudicator at the end of the cascade.

It sees only the messages the fast tier was unsure about. Each is answered from the verdict
cache when possible; otherwise it joins a micro-batch (one prompt for up to LLM_BATCH_SIZE
messages) sent through the client's retries, breaker and concurrency limit. Its verdict is
authoritative (it replaces the fast tier's scores) within the guard rail's bounds
(`chatguard.llm.guard`): the LLM may be wrong or compromised, so what it may lower depends on
the fast tier's evidence, and every prompt carries a control message (`chatguard.llm.canary`)
whose verdict is known; an answer that clears it is not used.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from chatguard.channel import CHANNEL_CONTEXT, ChannelContext, ChannelMessage
from chatguard.domain import StageResult
from chatguard.errors import StageUnavailableError
from chatguard.llm import canary
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
from chatguard.llm.formats import AdjudicatorFormat, GuardFormat, build_format
from chatguard.llm.formats.deepseek import DeepSeekFormat
from chatguard.llm.guard import Bounded, GuardRail
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
from chatguard.llm.pseudonyms import Pseudonyms
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


#: The author of the control message: no user id can be empty, so it meets no real author.
_CONTROL_AUTHOR = ""


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
        guard: GuardRail | None = None,
        control: bool = True,
        answer_format: AdjudicatorFormat | None = None,
        timeout_s: float = 35.0,
    ) -> None:
        super().__init__(timeout_s=timeout_s)
        #: How the model is asked and its answer read (`LLM_FORMAT`).
        self.format = answer_format or DeepSeekFormat()
        self.client = client
        self.cache: VerdictCache = cache if cache is not None else LRUVerdictCache(max_entries=0)
        self.batch_size = batch_size
        self.batch_wait_ms = batch_wait_ms
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.json_schema = json_schema
        self.system_prompt = system_prompt
        self.context_messages = context_messages
        self.guard = guard or GuardRail()
        #: Send a control message with every prompt (see `chatguard.llm.canary`).
        self.control = control
        self._rng = random.Random()
        self.metrics = LLMMetrics(self)
        self._batchers: dict[str | None, MicroBatcher[_Job, Verdict]] = {}
        self.parse_failures = 0
        self.repairs = 0
        self.truncated = 0
        self.shared = 0
        self._in_flight: dict[str, asyncio.Future[Verdict]] = {}
        self._versions: dict[str | None, str] = {}
        self.guard_rail_hits = 0
        self.control_checks = 0
        self.control_failures = 0
        self.last_control_failed_at: float | None = None
        self.last_control_ok_at: float | None = None

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
            guard=GuardRail(
                max_lowering=settings.llm_max_lowering,
                strong_span_at=settings.llm_strong_evidence,
            ),
            control=settings.llm_control,
            answer_format=build_format(settings.llm_format),
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
            detail = f"ok, model {self.client.model} ({self.format.name} format)"
        if stats.last_error and stats.last_error_at is not None:
            age = time.time() - stats.last_error_at
            detail += f"; last error: {stats.last_error}, {age:.0f}s ago"
        distrusted = self._control_failing()
        if distrusted:
            detail += "; the last answer failed its control check: verdicts go to review"
        ok = state is not BreakerState.OPEN and not distrusted
        return ComponentHealth(self.name, ok, detail, essential=False)

    def register_metrics(self, registry: CollectorRegistry) -> None:
        registry.register(self.metrics)

    def use_thresholds(self, thresholds: Thresholds) -> None:
        # The rail's bounds follow the router's thresholds (the classifier's, once trained).
        self.guard = GuardRail(
            thresholds=thresholds,
            max_lowering=self.guard.max_lowering,
            strong_span_at=self.guard.strong_span_at,
        )

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
        if verdict.reason and not verdict.distrust:
            reasons.insert(0, f"llm: {verdict.reason}")
        bounded = self._bounded(item, verdict)
        reasons.extend(bounded.reasons)
        scores, review = bounded.scores, bounded.review
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
        if not verdict.distrust:  # an unchecked verdict must not outlive its answer
            await self.cache.set(key, CachedVerdict(verdict.scores, verdict.reason))
        return verdict

    def _bounded(self, item: StageInput, verdict: Verdict) -> Bounded:
        if verdict.distrust:
            bounded = self.guard.distrusted(item.scores, verdict.distrust)
        else:
            bounded = self.guard.bound(self._covered(verdict, item), item.scores, item.results)
        if bounded.review:
            self.guard_rail_hits += 1
        return bounded

    def _covered(self, verdict: Verdict, item: StageInput) -> dict[Category, float]:
        """The verdict over every category: one the format does not judge keeps the fast
        tier's score (the model's silence on it is no evidence), or the model's if higher."""
        covers = self.format.covers
        scores = {}
        for category in ALL_CATEGORIES:
            score = float(verdict.scores.get(category, 0.0))
            if category not in covers:
                score = max(score, item.scores.get(category, 0.0))
            scores[category] = score
        return scores

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
            fmt = self.format
            version = policy_version(
                model=self.client.model,
                rules=rules,
                system_prompt=self.system_prompt,
                answer_format=fmt.instructions_digest(rules)
                if isinstance(fmt, GuardFormat)
                else "",
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
        """Verdicts by position for one batch (checked against the control message when it
        goes along); positions the answer left out are missing."""
        if not self.control:
            return await self._judge_all(jobs, rules)
        at = self._rng.randrange(len(jobs) + 1)
        # In the channel of a neighbour, so it reads like the messages around it.
        neighbour = jobs[min(at, len(jobs) - 1)]
        control = _Job(canary.pick(self._rng), _CONTROL_AUTHOR, neighbour.channel_id)
        verdicts = await self._judge_all([*jobs[:at], control, *jobs[at:]], rules)
        checked = verdicts.pop(at, None)
        by_job = {i - (i > at): v for i, v in verdicts.items()}
        self.control_checks += 1
        if checked is not None and canary.flagged(checked.scores):
            self.last_control_ok_at = time.time()
            return by_job
        self.control_failures += 1
        self.last_control_failed_at = time.time()
        why = (
            "the answer left out its control message"
            if checked is None
            else "the answer cleared its control message (a plainly abusive text)"
        )
        log.warning("LLM answer failed its control check; %d verdict(s) not used", len(by_job))
        return {i: replace(v, distrust=why) for i, v in by_job.items()}

    def _control_failing(self) -> bool:
        """Did the most recent control check fail?"""
        failed, ok = self.last_control_failed_at, self.last_control_ok_at
        return failed is not None and (ok is None or ok <= failed)

    async def _judge_all(self, jobs: list[_Job], rules: str | None) -> dict[int, Verdict]:
        if isinstance(self.format, GuardFormat):
            return await self._judge_each(self.format, jobs, rules)
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

    async def _judge_each(
        self, fmt: GuardFormat, jobs: list[_Job], rules: str | None
    ) -> dict[int, Verdict]:
        """A guard model judges one message per request: the batch's requests go out
        concurrently (within the client's limit). A message whose answer is unusable is left
        out (the batcher asks for it again alone); when every request failed, so does the
        batch."""
        outcomes = await asyncio.gather(
            *(self._judge_one(fmt, _pseudonymous(job), rules) for job in jobs),
            return_exceptions=True,
        )
        verdicts: dict[int, Verdict] = {}
        errors = []
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome
                errors.append(outcome)
            elif outcome is not None:
                verdicts[index] = replace(outcome, id=f"m{index + 1}")
        if errors and not verdicts:
            raise errors[0]
        return verdicts

    async def _judge_one(self, fmt: GuardFormat, text: str, rules: str | None) -> Verdict | None:
        requests = fmt.requests(text, rules)
        answers = await asyncio.gather(
            *(
                self.client.complete(
                    r.messages,
                    temperature=r.temperature,
                    max_tokens=r.max_tokens,
                    extra=r.extra or None,
                )
                for r in requests
            )
        )
        try:
            scores, reason = fmt.verdict(requests, answers)
        except LLMParseError as exc:
            self.parse_failures += 1
            log.info("%s answer unusable (%s)", fmt.name, exc)
            return None
        return Verdict("", scores, reason)

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
    """Prompt items and each channel's context, with pseudonyms for users and channels, in
    the authors and in the texts' mentions (the model needs to tell authors apart, not to
    know who they are)."""
    names = Pseudonyms()
    # Every author first, so a mention of one in any text gets the author's pseudonym.
    for job in jobs:
        for line in job.recent:
            names.user(line.user_id)
        if job.user_id != _CONTROL_AUTHOR:
            names.user(job.user_id)
    context: dict[str, list[ChatLine]] = {}
    items = []
    for id_, job in zip(ids, jobs, strict=True):
        name = names.channel(job.channel_id)
        if job.recent or name not in context:
            # Jobs arrive in order, so the last one of a channel holds its freshest context.
            context[name] = [
                ChatLine(names.user(m.user_id), names.text(m.text)) for m in job.recent
            ]
        author = names.user(job.user_id) if job.user_id != _CONTROL_AUTHOR else names.user("\x00")
        items.append(PromptItem(id_, names.text(job.text), author, name, job.strikes))
    return items, context


def _pseudonymous(job: _Job) -> str:
    """A guard model sees the message alone, its mentions (and its author's id) replaced."""
    names = Pseudonyms()
    names.user(job.user_id)
    return names.text(job.text)


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
