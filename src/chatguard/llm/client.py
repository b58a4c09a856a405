"""The LLM client: the official `openai` SDK against any OpenAI-compatible server (vLLM, DeepSeek,
llama.cpp, ...), with our own retries, circuit breaker, concurrency limit and token accounting.

The SDK's own retries are switched off: ours add jitter, honour `Retry-After` within limits, and
feed the breaker, so one slow or failing endpoint cannot stall moderation.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai
from openai import AsyncOpenAI

from chatguard.llm.breaker import CircuitBreaker
from chatguard.llm.errors import LLMError, LLMSchemaUnsupportedError

__all__ = ["Completion", "LLMClient", "LLMError", "LLMSchemaUnsupportedError"]

log = logging.getLogger(__name__)

#: vLLM and most local servers accept any key; the SDK insists on one.
PLACEHOLDER_API_KEY = "EMPTY"


@dataclass(slots=True)
class Completion:
    """One answer: its text, its token usage and how long it took."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    attempts: int = 1
    #: "length" when the answer hit max_tokens (R1 can think past any budget).
    finish_reason: str | None = None
    #: The first answer token's most likely alternatives (token, log probability), when the
    #: request asked for `logprobs` and the server returned them.
    first_token_logprobs: tuple[tuple[str, float], ...] = ()


@dataclass(slots=True)
class ClientStats:
    """Counters since start (read by the metrics collector and `/health`)."""

    calls: int = 0
    failures: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    in_flight: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    errors_by_kind: dict[str, int] = field(default_factory=dict)


class LLMClient:
    """Async chat-completions client with retries, a breaker and a concurrency limit."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        max_retries: int = 2,
        concurrency: int = 8,
        backoff_base_s: float = 0.25,
        backoff_max_s: float = 4.0,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.breaker = breaker or CircuitBreaker()
        self.stats = ClientStats()
        self._semaphore = asyncio.Semaphore(concurrency)
        self._sdk = AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or PLACEHOLDER_API_KEY,
            timeout=timeout_s,
            max_retries=0,
        )

    async def close(self) -> None:
        await self._sdk.close()

    async def list_models(self) -> list[str]:
        """The model ids the endpoint serves."""
        try:
            page = await self._sdk.models.list()
        except openai.OpenAIError as exc:
            raise LLMError(f"listing models failed: {_describe(exc)}") from exc
        return [model.id async for model in page]

    async def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        temperature: float = 0.6,
        max_tokens: int | None = None,
        response_format: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Completion:
        """One chat completion (`extra`: more request fields, such as `logprobs`). Retries
        429, 5xx, timeouts and dropped connections with jittered backoff; raises
        `CircuitOpenError` without calling when the breaker is open, and `LLMError` when
        every attempt failed."""
        self.breaker.before_call()
        started = time.perf_counter()
        settled = False
        try:
            async with self._semaphore:
                # Calls queued behind the limit while the endpoint failed need not go out.
                self.breaker.check_open()
                self.stats.in_flight += 1
                try:
                    completion = await self._attempts(
                        messages, temperature, max_tokens, response_format, extra
                    )
                finally:
                    self.stats.in_flight -= 1
            settled = True
            completion.latency_ms = (time.perf_counter() - started) * 1000
            return completion
        finally:
            if not settled:
                self.breaker.release_trial()

    async def _attempts(
        self,
        messages: Sequence[Mapping[str, Any]],
        temperature: float,
        max_tokens: int | None,
        response_format: Mapping[str, Any] | None,
        extra: Mapping[str, Any] | None = None,
    ) -> Completion:
        attempt = 0
        while True:
            attempt += 1
            try:
                completion = await self._create(
                    messages, temperature, max_tokens, response_format, extra
                )
            except openai.BadRequestError as exc:
                # The caller's request, not the endpoint's health: no retry, and the endpoint
                # did answer, so the breaker counts it as alive.
                self._note_error(exc)
                self.breaker.record_success()
                if response_format is not None and _mentions_response_format(exc):
                    raise LLMSchemaUnsupportedError(_describe(exc)) from exc
                raise LLMError(_describe(exc)) from exc
            except (openai.APIStatusError, openai.APIConnectionError) as exc:
                self._note_error(exc)
                if not _retryable(exc) or attempt > self.max_retries:
                    self._fail(exc)
                    raise LLMError(f"{_describe(exc)} after {attempt} attempt(s)") from exc
                self.stats.retries += 1
                await asyncio.sleep(self._backoff(attempt, exc))
                continue
            self.breaker.record_success()
            completion.attempts = attempt
            return completion

    async def _create(
        self,
        messages: Sequence[Mapping[str, Any]],
        temperature: float,
        max_tokens: int | None,
        response_format: Mapping[str, Any] | None,
        extra: Mapping[str, Any] | None = None,
    ) -> Completion:
        kwargs: dict[str, Any] = dict(extra or {})
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        if response_format is not None:
            kwargs["response_format"] = response_format
        self.stats.calls += 1
        response = await self._sdk.chat.completions.create(
            model=self.model,
            messages=list(messages),  # type: ignore[arg-type]
            temperature=temperature,
            **kwargs,
        )
        text = ""
        finish_reason = None
        first: tuple[tuple[str, float], ...] = ()
        if response.choices:
            choice = response.choices[0]
            text = choice.message.content or ""
            finish_reason = choice.finish_reason
            if choice.logprobs is not None and choice.logprobs.content:
                head = choice.logprobs.content[0]
                first = tuple((t.token, t.logprob) for t in head.top_logprobs or ()) or (
                    (head.token, head.logprob),
                )
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else 0
        completion_tokens = usage.completion_tokens if usage else 0
        self.stats.prompt_tokens += prompt_tokens
        self.stats.completion_tokens += completion_tokens
        return Completion(
            text,
            prompt_tokens,
            completion_tokens,
            finish_reason=finish_reason,
            first_token_logprobs=first,
        )

    def _backoff(self, attempt: int, exc: Exception) -> float:
        """Full jitter (a random wait up to the exponential cap), or the server's Retry-After
        when it asks for a wait we can afford."""
        retry_after = _retry_after_s(exc)
        if retry_after is not None and retry_after <= self.backoff_max_s:
            return retry_after
        cap = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return random.uniform(cap / 2, cap)

    def _note_error(self, exc: Exception) -> None:
        kind = _kind(exc)
        self.stats.errors_by_kind[kind] = self.stats.errors_by_kind.get(kind, 0) + 1
        self.stats.last_error = _describe(exc)
        self.stats.last_error_at = time.time()

    def _fail(self, exc: Exception) -> None:
        self.stats.failures += 1
        # A 429 means the endpoint is alive but busy: back off, but do not trip the breaker.
        if not isinstance(exc, openai.RateLimitError):
            self.breaker.record_failure()
        log.warning("LLM call failed: %s", _describe(exc))


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return False


def _retry_after_s(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _mentions_response_format(exc: openai.BadRequestError) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("response_format", "json_schema", "guided"))


def _kind(exc: Exception) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.APIStatusError):
        return str(exc.status_code)
    return type(exc).__name__


def _describe(exc: Exception) -> str:
    # Status and kind only: an error body may echo the prompt, which holds chat text.
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection error"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    return type(exc).__name__
