"""Fixtures for the LLM tests: one fake OpenAI-compatible server per session (reset before each
test), and helpers that build the real client and stage against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from chatguard.llm.breaker import CircuitBreaker
from chatguard.llm.cache import LRUVerdictCache
from chatguard.llm.client import LLMClient
from chatguard.llm.stage import LLMStage
from tests.support.fake_llm import FakeLLMServer


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server: FakeLLMServer) -> FakeLLMServer:
    fake_server.reset()
    return fake_server


def make_client(url: str, **overrides: Any) -> LLMClient:
    options: dict[str, Any] = {
        "base_url": url,
        "model": "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
        "timeout_s": 1.0,
        "max_retries": 2,
        "concurrency": 8,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
        "breaker": CircuitBreaker(failure_threshold=3, reset_after_s=60),
    }
    options.update(overrides)
    return LLMClient(**options)


def make_stage(url: str, *, client: dict[str, Any] | None = None, **overrides: Any) -> LLMStage:
    options: dict[str, Any] = {
        "client": make_client(url, **(client or {})),
        "cache": LRUVerdictCache(max_entries=1000),
        "batch_size": 8,
        "batch_wait_ms": 5,
        "timeout_s": 5.0,
        # Off here so requests hold exactly the messages a test sends; on in test_guard.py.
        "control": False,
    }
    options.update(overrides)
    return LLMStage(**options)


@pytest.fixture
async def client(fake: FakeLLMServer) -> AsyncIterator[LLMClient]:
    c = make_client(fake.url)
    yield c
    await c.close()


@pytest.fixture
async def stage(fake: FakeLLMServer) -> AsyncIterator[LLMStage]:
    s = make_stage(fake.url)
    yield s
    await s.close()
