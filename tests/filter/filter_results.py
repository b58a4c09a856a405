"""The filter's results on the shipped chat samples, in a plain JSON form: what the compiled
and the pure-Python paths must agree on (see test_speedups_equivalence.py).

Run as a script it prints them as JSON (the test runs it in a second process with the compiled
kernels switched the other way, since the switch is read once, at import).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from helpers_filter import read_jsonl

from chatguard.domain import Message, StageResult
from chatguard.filter.detection import prepare_many
from chatguard.filter.speedups import native
from chatguard.normalize import normalize
from chatguard.pipeline.stage import StageInput
from chatguard.stages.filter import FilterStage

#: The samples: chat (Twitch, Dota 2), and the PII and prompt-injection sets, which exercise
#: the detectors that chat seldom wakes.
SAMPLES = ("twitch_chat.jsonl", "dota2_chat.jsonl", "pii_synthetic.jsonl", "prompt_injection.jsonl")
BATCH = 512


def sample_messages() -> list[Message]:
    """Every sample line as a message on one channel at 200 messages a second (so the rate,
    repeat and raid windows fill), with the line's user where the sample names one."""
    messages = []
    for name in SAMPLES:
        for number, row in enumerate(read_jsonl(name)):
            at = 1_000.0 + len(messages) / 200
            user = str(row.get("user") or f"{name}:{row.get('slot', number % 10)}")
            messages.append(
                Message(text=row["text"], user_id=user, channel_id="c", id=f"m{len(messages)}",
                        timestamp=at, received_at=at)
            )  # fmt: skip
    return messages


def _plain(result: StageResult) -> list[Any]:
    return [
        [[category.value, score] for category, score in result.scores.items()],
        [[s.start, s.end, s.category.value, s.label, s.score] for s in result.spans],
        list(result.reasons),
    ]


def filter_results() -> dict[str, Any]:
    """Per message: its skeleton's views, the filter stage's result in batches of 512, and its
    result one message at a time (a second stage, so each keeps its own windows)."""
    messages = sample_messages()
    inputs = [StageInput(m, normalize(m.text)) for m in messages]
    views = []
    batched: list[list[Any]] = []
    batch_stage, single_stage = FilterStage(), FilterStage()
    for offset in range(0, len(inputs), BATCH):
        chunk = inputs[offset : offset + BATCH]
        prepared = prepare_many([i.message for i in chunk], [i.normalized for i in chunk],
                                [None] * len(chunk))  # fmt: skip
        views += [[p.skeleton.spaced, p.skeleton.collapsed, p.skeleton.plain,
                   p.skeleton.to_folded] for p in prepared]  # fmt: skip
        batched += [_plain(r) for r in batch_stage.assess_sync(chunk)]
    single = [_plain(single_stage.assess_sync([i])[0]) for i in inputs]
    return {
        "compiled": native is not None,
        "texts": [m.text for m in messages],
        "views": views,
        "batched": batched,
        "single": single,
    }


if __name__ == "__main__":
    json.dump(filter_results(), sys.stdout)
