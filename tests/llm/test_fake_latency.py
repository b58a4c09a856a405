"""The fake server's latency model: request time grows with the prompt and the answer as on a
vLLM server, the reasoning is counted in `usage`, and the slots queue what does not fit."""

from __future__ import annotations

import asyncio
import time

import pytest

from chatguard.llm.prompt import PromptItem, build_messages
from tests.llm.conftest import make_client
from tests.support.fake_llm import CHARS_PER_TOKEN, FakeLLMServer, LatencyModel, tokens


def prompt(n: int) -> list[dict[str, str]]:
    return build_messages([PromptItem(f"m{i + 1}", f"gg number {i}") for i in range(n)])


async def timed(fake: FakeLLMServer, *sizes: int) -> list[tuple[float, int]]:
    """Seconds and completion tokens of one request per batch size, on one warmed-up client."""
    client = make_client(fake.url, timeout_s=10.0)
    try:
        # Untimed first call: the connection and the SDK's first-call work are not measured.
        await client.complete(prompt(1))
        results = []
        for n in sizes:
            started = time.perf_counter()
            completion = await client.complete(prompt(n))
            results.append((time.perf_counter() - started, completion.completion_tokens))
        return results
    finally:
        await client.close()


def test_the_model_counts_prompt_reasoning_and_answer() -> None:
    model = LatencyModel(prefill_tps=1000, decode_tps=100, think_tokens=50)
    model.think_tokens_per_message = 10
    assert model.reasoning_tokens(4) == 90
    assert model.seconds(2000, 300) == pytest.approx(2.0 + 3.0)
    assert tokens("x" * (CHARS_PER_TOKEN * 7)) == 7
    with pytest.raises(ValueError, match="positive"):
        LatencyModel(decode_tps=0)


async def test_a_bigger_batch_takes_longer_by_its_tokens(fake: FakeLLMServer) -> None:
    fake.latency_model = LatencyModel(
        prefill_tps=1_000_000, decode_tps=2000, think_tokens=100, think_tokens_per_message=100
    )
    (one, one_tokens), (eight, eight_tokens) = await timed(fake, 1, 8)
    # 200 vs 900 reasoning tokens plus the answers, at 2000 tokens/s.
    assert one_tokens == 200 + tokens(_answer_of(fake, 1))
    assert eight_tokens == 900 + tokens(_answer_of(fake, 2))
    planned_one, planned_eight = (fake.completions[i].slot_seconds for i in (1, 2))
    # The prompt is read at a million tokens/s: it adds under a millisecond.
    decode = (eight_tokens - one_tokens) / 2000
    assert planned_eight - planned_one == pytest.approx(decode, abs=0.001)
    # Wall time only from below: a busy machine adds to it, never takes away.
    assert one >= planned_one and eight >= planned_eight > planned_one + 0.3


async def test_fixed_latency_ignores_the_size(fake: FakeLLMServer) -> None:
    fake.latency_s = 0.2
    (one, one_tokens), (eight, _) = await timed(fake, 1, 8)
    assert [fake.completions[i].slot_seconds for i in (1, 2)] == [0.2, 0.2]
    assert one >= 0.2 and eight >= 0.2  # a busy machine adds to wall time, never takes away
    assert one_tokens == tokens(_answer_of(fake, 1))  # no reasoning counted in this mode


async def test_requests_past_the_slots_queue() -> None:
    model = LatencyModel(
        prefill_tps=1_000_000, decode_tps=1000, think_tokens=200, think_tokens_per_message=0
    )
    server = FakeLLMServer(latency_model=model, slots=2).start()
    try:
        started = time.perf_counter()
        times = await asyncio.gather(*(timed(server, 1) for _ in range(4)))
        wall = time.perf_counter() - started
    finally:
        server.stop()
    single = min(t for [(t, _)] in times)
    assert wall >= 2 * single * 0.95  # two waves of two through two slots


def _answer_of(fake: FakeLLMServer, index: int) -> str:
    from tests.support.fake_llm import _answer

    request = fake.completions[index]
    return _answer(request.behaviour, [*_items(request.body)])


def _items(body: dict[str, object]) -> list[dict[str, object]]:
    from tests.support.fake_llm import items_in

    return items_in(body.get("messages", []))  # type: ignore[arg-type]
