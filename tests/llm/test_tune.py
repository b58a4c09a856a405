"""`chatguard check-llm --tune` against the fake server with its latency model: different servers
get different settings, and the run keeps to its request-rate and time bounds (as the server's
own request log shows)."""

from __future__ import annotations

import asyncio
import itertools
import re
import time

import pytest

from chatguard.cli import main
from chatguard.domain import FailMode
from chatguard.llm.tune import Cell, TuneBounds, Tuner, TuneRun, preset_deadlines, recommend
from chatguard.llm.tune import tune as tune_api
from tests.llm.conftest import make_client
from tests.support.fake_llm import FakeLLMServer, LatencyModel

#: Reading the prompt is slow, writing the answer fast: batching amortises the prompt.
SLOW_PREFILL = LatencyModel(
    prefill_tps=4000, decode_tps=1_000_000, think_tokens=0, think_tokens_per_message=0
)
#: Reading is free, every message costs 1000 reasoning tokens: a batch is as slow per message
#: as one message alone, and only adds latency. (Slow enough, 0.8 s a message, that the few
#: milliseconds of HTTP per request, which favour batching, stay small beside it.)
SLOW_DECODE = LatencyModel(
    prefill_tps=10_000_000, decode_tps=1250, think_tokens=0, think_tokens_per_message=1000
)
#: The same shape at twice the speed, for the time-bound test.
DECODE_BOUND = LatencyModel(
    prefill_tps=10_000_000, decode_tps=2500, think_tokens=0, think_tokens_per_message=1000
)


def tune(fake: FakeLLMServer, *args: str) -> int:
    return main(["check-llm", "--endpoint", fake.url, "--tune", *args])


def recommended(out: str, name: str) -> int:
    found = re.search(rf"^  {name}=(\d+)", out, re.M)
    assert found, out
    return int(found.group(1))


def run_seconds(out: str) -> float:
    found = re.search(r"^run: +\d+ requests in ([\d.]+) s", out, re.M)
    assert found, out
    return float(found.group(1))


def tuning_arrivals(fake: FakeLLMServer) -> list[float]:
    """Arrival times of the tuning requests (the first completion is check-llm's own test)."""
    return [r.at for r in fake.completions[1:]]


@pytest.mark.slow
def test_a_slow_prefill_and_a_slow_decode_server_get_different_batch_sizes(
    fake: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = ["--batches", "1,4", "--concurrency", "2", "--rounds", "1", "--max-rps", "20"]
    fake.latency_model = SLOW_PREFILL
    assert tune(fake, *grid, "--max-seconds", "20") == 0
    prefill_out = capsys.readouterr().out
    assert len(fake.completions) == 1 + 2 + 2  # the test completion, then 2 requests a cell

    fake.reset()
    fake.latency_model = SLOW_DECODE
    assert tune(fake, *grid, "--max-seconds", "20") == 0
    decode_out = capsys.readouterr().out

    assert recommended(prefill_out, "LLM_BATCH_SIZE") == 4
    assert recommended(decode_out, "LLM_BATCH_SIZE") == 1
    for out in (prefill_out, decode_out):
        assert recommended(out, "LLM_CONCURRENCY") == 2
        # The bounds come first, before any tuning request.
        assert out.index("bounds:     at most 20 requests/s, at most 20 s") < out.index("| batch")
        assert run_seconds(out) <= 20
        for preset, mode in (("default", "hold"), ("gaming", "open"), ("kids", "closed")):
            assert re.search(rf"^  {preset} +fail mode {mode} +covers p\d+: \d+ ms", out, re.M)


def test_the_rate_bound_spaces_requests_as_the_server_sees_them(
    fake: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two senders on a server answering in ~50 ms would send 40 requests/s; the bound is 5.
    fake.latency_model = LatencyModel(
        prefill_tps=20_000, decode_tps=1_000_000, think_tokens=0, think_tokens_per_message=0
    )
    args = ["--batches", "1", "--concurrency", "2", "--rounds", "3", "--max-rps", "5"]
    assert tune(fake, *args) == 0
    out = capsys.readouterr().out
    arrivals = tuning_arrivals(fake)
    assert len(arrivals) == 6
    # At most 5 a second over the run, and no two much closer than 1/5 s: requests leave
    # 0.2 s apart, and arrive give or take the few milliseconds a new connection takes.
    assert arrivals[-1] - arrivals[0] >= (len(arrivals) - 1) / 5 - 0.05
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.5 / 5, gaps
    assert "held back by the rate bound" in out


def test_the_time_bound_skips_what_would_not_fit(
    fake: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.latency_model = DECODE_BOUND  # ~0.4 s a message: batches of 4 and 16 cannot fit
    args = ["--batches", "1,4,16", "--concurrency", "1", "--rounds", "1", "--max-seconds", "1.5"]
    assert tune(fake, *args) == 0
    out = capsys.readouterr().out
    arrivals = tuning_arrivals(fake)
    assert len(arrivals) == 1  # only the batch of one was sent
    assert [r.ids for r in fake.completions[1:]] == [["m1"]]
    assert out.count("skipped: about") == 2
    assert run_seconds(out) <= 1.5
    assert recommended(out, "LLM_BATCH_SIZE") == 1


def test_a_429_stops_the_run_and_nothing_is_recommended(
    fake: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.script("json", "429")  # check-llm's test completion passes; the first tuning call is 429
    args = ["--batches", "1,4", "--concurrency", "2", "--rounds", "2"]
    assert tune(fake, *args) == 1
    out = capsys.readouterr().out
    time.sleep(0.6)  # past the second sender's turn under the 2/s bound
    assert len(fake.completions) == 2  # nothing after the 429, from either sender
    assert "stopped: the endpoint answered 429" in out
    assert "recommend:  nothing" in out


def test_deadlines_follow_each_fail_mode_percentile() -> None:
    cell = Cell(4, 2, latencies_s=[i / 10 for i in range(1, 101)], verdicts=400, complete=True)
    presets = {"a": (FailMode.OPEN, 2000.0), "b": (FailMode.HOLD, 2000.0)}
    presets["c"] = (FailMode.CLOSED, 2000.0)
    advice = recommend(TuneRun(TuneBounds(), [cell]), presets=presets, batch_wait_ms=20)
    assert advice is not None
    by_name = {d.preset: d.deadline_ms for d in advice.deadlines}
    # p50 5.0 s, p95 9.5 s, p99 9.9 s, each + 20 ms batch wait, rounded up to 100 ms.
    assert by_name == {"a": 5100, "b": 9600, "c": 10000}
    assert advice.timeout_s == 20


def test_the_shipped_presets_keep_their_own_fail_modes() -> None:
    presets = preset_deadlines(fail_mode="hold", deadline_ms=1500)
    assert presets["default"] == (FailMode.HOLD, 1500.0)
    assert presets["gaming"][0] is FailMode.OPEN
    assert presets["kids"][0] is FailMode.CLOSED


async def test_after_a_stop_no_sender_sends_again(fake: FakeLLMServer) -> None:
    # The first request gets a 429 while the second sender waits its turn: the run ends and
    # the second sender with it, even while the caller's event loop and client live on.
    fake.script("429")
    client = make_client(fake.url, max_retries=0)
    try:
        run = await tune_api(
            client, batches=[1], concurrencies=[2], rounds=3, bounds=TuneBounds(max_rps=4)
        )
        await asyncio.sleep(1.0)  # four more turns of the bound
    finally:
        await client.close()
    assert run.stopped.startswith("stopped: the endpoint answered 429")
    assert len(fake.completions) == 1


def test_a_smaller_batch_is_estimated_from_its_own_or_a_larger_batch() -> None:
    tuner = Tuner(make_client("http://127.0.0.1:9/v1"), bounds=TuneBounds(max_rps=100), rounds=2)
    big = Cell(32, 8, latencies_s=[30.0, 36.0])
    one = Cell(1, 8, latencies_s=[6.0, 6.5])
    run = TuneRun(TuneBounds(), [big])
    assert tuner._estimate(Cell(1, 1), run) == 72.0  # only a larger batch known: its time
    run.cells.append(one)
    assert tuner._estimate(Cell(1, 1), run) == 13.0  # its own batch size measured
    assert tuner._estimate(Cell(4, 1), run) == 52.0  # from the batch of one, scaled by 4
