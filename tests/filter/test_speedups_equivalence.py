"""The compiled kernels change the filter's speed, never its results: on every line of the
shipped samples, the skeleton views and every detection, span, score and reason are the same
with the compiled module and without it (CHATGUARD_SPEEDUPS=0)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from filter_results import filter_results

from chatguard.filter.speedups import SWITCH, native

SCRIPT = Path(__file__).with_name("filter_results.py")


def results_the_other_way() -> dict[str, Any]:
    """The results computed in a second process with the compiled kernels switched the other
    way from this one's."""
    env = dict(os.environ)
    if native is not None:
        env[SWITCH] = "0"
    else:
        env.pop(SWITCH, None)
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, check=True,
        timeout=300,
    )  # fmt: skip
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def both_ways() -> tuple[dict[str, Any], dict[str, Any]]:
    here, there = filter_results(), results_the_other_way()
    if here["compiled"] == there["compiled"]:
        pytest.skip("chatguard.filter._speedups is not built: there is only the Python path")
    # JSON the results here too, so both sides compare in the same form (tuples as lists).
    return json.loads(json.dumps(here)), there


def differing(a: list[Any], b: list[Any]) -> list[int]:
    return [index for index, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


@pytest.mark.parametrize("part", ["views", "batched", "single"])
def test_compiled_and_python_paths_give_the_same_results(
    both_ways: tuple[dict[str, Any], dict[str, Any]], part: str
) -> None:
    here, there = both_ways
    assert here["texts"] == there["texts"]
    assert len(here[part]) == len(here["texts"]) > 8000
    wrong = differing(here[part], there[part])
    assert not wrong, f"{len(wrong)} lines differ, first at {wrong[:5]}: " + repr(
        [(here[part][i], there[part][i]) for i in wrong[:2]]
    )


def test_the_samples_wake_every_detector(both_ways: tuple[dict[str, Any], dict[str, Any]]) -> None:
    # The comparison means something only if the results hold findings of every kind.
    here, _ = both_ways
    found = {category for scores, _, _ in here["batched"] for category, _ in scores}
    assert {"profanity", "spam", "pii", "prompt_injection"} <= found
    spam_labels = {
        span[3] for _, spans, _ in here["batched"] for span in spans if span[2] == "spam"
    }
    assert {"rate", "repeat", "caps", "link"} <= spam_labels
