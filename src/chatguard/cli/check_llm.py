"""`chatguard check-llm`: is the LLM endpoint there, which models does it serve, and does a test
completion come back as a verdict we can read? Exit code 0 when it does, 1 when it does not."""

from __future__ import annotations

import argparse
import asyncio
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
    parser.set_defaults(func=run)


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
    return asyncio.run(_check(settings, args.text))


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
