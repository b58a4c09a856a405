"""The client against a real HTTP server speaking the chat-completions protocol."""

from __future__ import annotations

import asyncio
import time

import pytest

from chatguard.llm.breaker import BreakerState, CircuitOpenError
from chatguard.llm.client import LLMClient, LLMError, LLMSchemaUnsupportedError
from chatguard.llm.prompt import PromptItem, build_messages, response_format
from tests.llm.conftest import make_client
from tests.support.fake_llm import FakeLLMServer

PROMPT = build_messages([PromptItem("m1", "you idiot"), PromptItem("m2", "gg")])


async def test_lists_models(client: LLMClient) -> None:
    assert await client.list_models() == ["deepseek-ai/DeepSeek-R1-Distill-Llama-8B"]


async def test_a_completion_counts_its_tokens(fake: FakeLLMServer, client: LLMClient) -> None:
    completion = await client.complete(PROMPT, temperature=0.6)
    assert '"id": "m1"' in completion.text
    assert completion.prompt_tokens > 100 and completion.completion_tokens > 10
    assert client.stats.prompt_tokens == completion.prompt_tokens
    assert client.stats.completion_tokens == completion.completion_tokens
    [request] = fake.completions
    assert request.body["temperature"] == 0.6
    assert request.body["model"] == "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"


@pytest.mark.parametrize(
    ("script", "retries"),
    [
        pytest.param(("429", "json"), 1, id="429-then-success"),
        pytest.param(("500", "500", "json"), 2, id="500s-then-success"),
        pytest.param(("drop", "json"), 1, id="dropped-connection-then-success"),
    ],
)
async def test_transient_failures_are_retried(
    fake: FakeLLMServer, client: LLMClient, script: tuple[str, ...], retries: int
) -> None:
    fake.script(*script)
    completion = await client.complete(PROMPT)
    assert completion.attempts == retries + 1
    assert client.stats.retries == retries and client.stats.failures == 0
    assert client.breaker.state is BreakerState.CLOSED


async def test_gives_up_after_the_retries(fake: FakeLLMServer, client: LLMClient) -> None:
    fake.script("500", "500", "500")
    with pytest.raises(LLMError, match="HTTP 500 after 3 attempt"):
        await client.complete(PROMPT)
    assert client.stats.failures == 1 and client.stats.errors_by_kind == {"500": 3}


async def test_repeated_500s_open_the_breaker_and_calls_stop(fake: FakeLLMServer) -> None:
    client = make_client(fake.url, max_retries=0)
    try:
        fake.reset(default="500")
        for _ in range(3):
            with pytest.raises(LLMError):
                await client.complete(PROMPT)
        assert client.breaker.state is BreakerState.OPEN
        sent = len(fake.completions)
        with pytest.raises(CircuitOpenError):
            await client.complete(PROMPT)
        assert len(fake.completions) == sent  # nothing went out
    finally:
        await client.close()


async def test_429s_do_not_open_the_breaker(fake: FakeLLMServer) -> None:
    client = make_client(fake.url, max_retries=0)
    try:
        fake.reset(default="429")
        for _ in range(5):
            with pytest.raises(LLMError, match="HTTP 429"):
                await client.complete(PROMPT)
        assert client.breaker.state is BreakerState.CLOSED
    finally:
        await client.close()


async def test_a_slow_answer_times_out(fake: FakeLLMServer) -> None:
    client = make_client(fake.url, timeout_s=0.2, max_retries=0)
    try:
        fake.script("delay:3")
        started = time.perf_counter()
        with pytest.raises(LLMError, match="timeout"):
            await client.complete(PROMPT)
        assert time.perf_counter() - started < 2.0  # the 0.2 s timeout, not the 3 s answer
        assert client.stats.errors_by_kind == {"timeout": 1}
    finally:
        await client.close()


async def test_the_concurrency_limit_holds(fake: FakeLLMServer) -> None:
    client = make_client(fake.url, concurrency=2)
    try:
        fake.latency_s = 0.1
        started = time.perf_counter()
        await asyncio.gather(*(client.complete(PROMPT) for _ in range(4)))
        # Four calls, two at a time, 0.1 s each: two rounds.
        assert time.perf_counter() - started >= 0.2
    finally:
        await client.close()


async def test_a_server_without_structured_output_says_so(fake: FakeLLMServer) -> None:
    fake.reset(supports_schema=False)
    client = make_client(fake.url)
    try:
        with pytest.raises(LLMSchemaUnsupportedError):
            await client.complete(PROMPT, response_format=response_format())
        assert client.breaker.state is BreakerState.CLOSED
    finally:
        await client.close()


async def test_an_unreachable_endpoint_fails_cleanly() -> None:
    client = make_client("http://127.0.0.1:9/v1", max_retries=1)
    try:
        with pytest.raises(LLMError, match="connection error after 2 attempt"):
            await client.complete(PROMPT)
    finally:
        await client.close()
