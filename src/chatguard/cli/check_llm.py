"""`chatguard check-llm`: is the LLM endpoint there, which models does it serve, and does a test
completion come back as a verdict we can read? Exit code 0 when it does, 1 when it does not.

`--tune` then measures latency against batch size and concurrency, within a request-rate bound
and a time bound, and prints the settings to use (chatguard.llm.tune)."""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from typing import Any

#: Judged by the test completion; harmless, so its text may be printed.
SAMPLE = "gg wp, that last round was close"


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "check-llm", help="list the LLM endpoint's models and run a test completion"
    )
    parser.add_argument("--endpoint", help="override LLM_ENDPOINT")
    parser.add_argument("--model", help="override LLM_MODEL")
    parser.add_argument("--text", default=SAMPLE, help="the message to judge")
    tuning = parser.add_argument_group("tuning (--tune)")
    tuning.add_argument(
        "--tune",
        action="store_true",
        help="measure latency against batch size and concurrency; print the settings to use",
    )
    tuning.add_argument(
        "--max-rps",
        type=_positive,
        default=2.0,
        help="requests per second at most (default 2)",
    )
    tuning.add_argument(
        "--max-seconds",
        type=_positive,
        default=300.0,
        help="seconds for the whole tuning run at most (default 300)",
    )
    tuning.add_argument(
        "--batches", type=_sizes, default=None, help="batch sizes to try (default 1,4,16,32)"
    )
    tuning.add_argument(
        "--concurrency", type=_sizes, default=None, help="requests in flight to try (default 8,4,1)"
    )
    tuning.add_argument(
        "--rounds", type=int, default=2, help="requests per sender and setting (default 2)"
    )
    parser.set_defaults(func=run)


def _positive(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return number


def _sizes(value: str) -> list[int]:
    try:
        sizes = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of whole numbers") from None
    if not sizes or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError("a comma-separated list of numbers of at least 1")
    return sizes


def run(args: argparse.Namespace) -> int:
    from chatguard.config import load_settings

    # The test completion must reach the model, never a cached verdict.
    # The test message goes alone: the control message would double what is measured.
    overrides: dict[str, Any] = {"llm_cache_size": 0, "llm_control": False}
    if args.endpoint:
        overrides["llm_endpoint"] = args.endpoint
    if args.model:
        overrides["llm_model"] = args.model
    settings = load_settings(**overrides)
    if settings.llm_base_url is None:
        print("check-llm: LLM_ENDPOINT is not set (or pass --endpoint URL)", file=sys.stderr)
        return 2
    code = asyncio.run(_check(settings, args.text))
    if code != 0 or not args.tune:
        return code
    return asyncio.run(_tune(settings, args))


async def _check(settings: Any, text: str) -> int:
    from chatguard.domain import Message
    from chatguard.llm.stage import LLMStage
    from chatguard.normalize import normalize
    from chatguard.pipeline.stage import StageInput

    stage = LLMStage.from_settings(settings)
    client = stage.client
    print(f"endpoint:   {client.base_url}")
    try:
        started = time.perf_counter()
        try:
            models = await client.list_models()
        except Exception as exc:
            print(f"models:     FAILED ({exc})")
            return 1
        print(f"models:     {', '.join(models) or '(none)'} ({_ms(started)})")
        if settings.llm_model not in models:
            print(f"warning:    LLM_MODEL {settings.llm_model!r} is not among them")
        print(f"model:      {settings.llm_model}")
        message = Message(text=text, user_id="check-llm", channel_id="check-llm")
        started = time.perf_counter()
        [result] = await stage.assess([StageInput(message, normalize(text))])
        if result.error:
            print(f"completion: FAILED after {_ms(started)} ({result.error})")
            return 1
        stats = client.stats
        print(
            f"completion: ok in {_ms(started)}, {stats.prompt_tokens} prompt + "
            f"{stats.completion_tokens} completion tokens, "
            f"structured output {'accepted' if stage.json_schema else 'off (plain text parsed)'}"
        )
        flagged = {c.value: round(s, 2) for c, s in result.scores.items() if s >= 0.5}
        print(f"verdict:    {flagged or 'clean'}")
        if result.reasons:
            print(f"reason:     {result.reasons[0]}")
        return 0
    finally:
        await stage.close()


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f} ms"


async def _tune(settings: Any, args: argparse.Namespace) -> int:
    """Measure the grid within the bounds and print the settings to use; 1 if nothing usable
    was measured."""
    from chatguard.llm.breaker import CircuitBreaker
    from chatguard.llm.client import LLMClient
    from chatguard.llm.tune import (
        DEFAULT_BATCHES,
        DEFAULT_CONCURRENCY,
        TuneBounds,
        preset_deadlines,
        recommend,
        tune,
    )

    batches = args.batches or list(DEFAULT_BATCHES)
    concurrencies = args.concurrency or list(DEFAULT_CONCURRENCY)
    bounds = TuneBounds(max_rps=args.max_rps, max_seconds=args.max_seconds)
    print()
    print(
        f"tuning:     batch sizes {_list(batches)} x concurrency {_list(concurrencies)}, "
        f"{args.rounds} request(s) per sender; no retries"
    )
    print(
        f"bounds:     at most {bounds.max_rps:g} requests/s, at most {bounds.max_seconds:g} s "
        "in all (--max-rps, --max-seconds); a 429 stops the run"
    )
    print(_row("batch", "in flight", "requests", "verdicts/s", "p50 ms", "p95 ms", "max ms",
               "tokens in+out", "note"))  # fmt: skip
    print("|" + "|".join("-" * (w + 1) + ":" for w in _WIDTHS) + "|------")
    client = LLMClient(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
        # Measure, do not cut: a request may take up to the whole run's bound (a batch that
        # outlasts LLM_TIMEOUT is worth knowing about; it is flagged below).
        timeout_s=bounds.max_seconds,
        max_retries=0,  # every attempt is a request the rate bound counts
        concurrency=max(concurrencies),
        breaker=CircuitBreaker(failure_threshold=3, reset_after_s=settings.llm_breaker_reset_s),
    )
    try:
        run = await tune(
            client,
            batches=batches,
            concurrencies=concurrencies,
            bounds=bounds,
            rounds=args.rounds,
            json_schema=settings.llm_json_schema,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
            on_cell=lambda cell: _print_cell(cell, settings.llm_timeout),
        )
    finally:
        await client.close()
    for cell in run.cells:
        if not cell.requests:
            print(_row(cell.batch_size, cell.concurrency, *["-"] * 6, cell.note))
    print(
        f"run:        {run.requests} requests in {run.wall_s:.1f} s "
        f"(bound {bounds.max_seconds:g} s), started at most {bounds.max_rps:g}/s"
        + (f"; {run.stopped}" if run.stopped else "")
    )
    presets = preset_deadlines(
        fail_mode=settings.llm_fail_mode, deadline_ms=settings.llm_deadline_ms
    )
    advice = recommend(run, presets=presets, batch_wait_ms=settings.llm_batch_wait_ms)
    if advice is None:
        print("recommend:  nothing: no setting was measured in full without errors")
        return 1
    best, fastest = advice.best, advice.fastest
    print(
        f"fastest:    batch {fastest.batch_size} x {fastest.concurrency} in flight, "
        f"{fastest.per_s:.2f} verdicts/s"
    )
    print(
        f"recommend:  the lowest p95 within 10% of that: {best.per_s:.2f} verdicts/s, "
        f"p95 {best.pct(0.95) * 1000:.0f} ms per request"
    )
    print(f"  LLM_BATCH_SIZE={best.batch_size}  (now {settings.llm_batch_size})")
    print(f"  LLM_CONCURRENCY={best.concurrency}  (now {settings.llm_concurrency})")
    print(
        f"  LLM_TIMEOUT={advice.timeout_s}  (now {settings.llm_timeout:g}; twice the slowest "
        "request at that setting)"
    )
    print(
        "deadlines:  LLM_DEADLINE_MS for the default preset, llm_deadline_ms in the policy of "
        "channels on the others (request latency at that setting + LLM_BATCH_WAIT_MS):"
    )
    for item in advice.deadlines:
        print(
            f"  {item.preset:<10} fail mode {item.fail_mode.value:<6} covers p"
            f"{item.percentile * 100:g}: {item.deadline_ms} ms   (now {item.current_ms:g})"
        )
    if not run.structured_output and settings.llm_json_schema:
        print("note:       the endpoint refused response_format; answers were parsed as text")
    return 0


#: Column widths of the tuning table (the note column is last and free).
_WIDTHS = (5, 9, 8, 10, 7, 7, 7, 13)


def _row(*values: object) -> str:
    cells = [f" {v!s:>{w}} " for v, w in zip(values, _WIDTHS, strict=False)]
    return "|" + "|".join(cells) + "| " + str(values[len(_WIDTHS)])


def _print_cell(cell: Any, timeout_s: float) -> None:
    tokens = "-"
    if cell.latencies_s:
        n = len(cell.latencies_s)
        tokens = f"{cell.prompt_tokens // n} + {cell.completion_tokens // n}"
    note = cell.note
    if cell.paced_s > 0.1 * max(cell.wall_s, 1e-9):
        note = (note + "; " if note else "") + "held back by the rate bound"
    if cell.latencies_s and max(cell.latencies_s) > timeout_s:
        note = (note + "; " if note else "") + f"slower than LLM_TIMEOUT={timeout_s:g}"
    slowest = max(cell.latencies_s, default=float("nan"))
    figures = [f"{cell.per_s:.2f}", *(_in_ms(cell.pct(q)) for q in (0.5, 0.95)), _in_ms(slowest)]
    print(
        _row(cell.batch_size, cell.concurrency, cell.requests, *figures, tokens, note), flush=True
    )


def _in_ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.0f}"


def _list(values: list[int]) -> str:
    return ",".join(str(v) for v in values)
