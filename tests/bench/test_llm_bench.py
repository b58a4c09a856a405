"""bench/llm.py runs, measures escalations, and fails when messages stop reaching the LLM."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
#: Fast rates: a request takes tens of milliseconds, so a row takes well under a second.
#: The chat lines are the samples shipped with the tests, never a folder outside the repository.
QUICK = [
    *("--prefill-tps", "500000", "--decode-tps", "20000", "--rounds", "2"),
    *("--data", str(REPO / "tests" / "fixtures" / "data")),
]
ROW = re.compile(r"^\| (batch \d+, \d+ in flight) +\| +(\d+) \| +(\d+) \|", re.M)

pytestmark = pytest.mark.slow


def load_script() -> ModuleType:
    """bench/llm.py as a module (in this process: the interpreter and models load once)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # as when the script runs: its helpers sit beside it
    spec = importlib.util.spec_from_file_location("bench_llm", BENCH / "llm.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


class Done:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def bench(capsys: pytest.CaptureFixture[str]) -> Callable[..., Done]:
    script = load_script()

    def run(*args: str) -> Done:
        code = asyncio.run(script.main([*QUICK, *args]))
        out = capsys.readouterr()
        return Done(code, out.out, out.err)

    return run


def test_every_row_reaches_the_llm_and_a_best_setting_is_printed(
    bench: Callable[..., Done],
) -> None:
    done = bench("--batches", "1,4", "--concurrency", "1,2")
    assert done.returncode == 0, done.stderr
    rows = ROW.findall(done.stdout)
    assert [r[0] for r in rows] == [
        "batch 1, 1 in flight",
        "batch 4, 1 in flight",
        "batch 1, 2 in flight",
        "batch 4, 2 in flight",
    ]
    for label, messages, calls in rows:
        assert int(calls) > 0, label
        assert int(messages) > 0, label
    # Batching shows: four messages a call in the batch-4 rows.
    assert dict((r[0], int(r[2])) for r in rows)["batch 4, 2 in flight"] == 4
    assert "best setting" in done.stdout
    assert re.search(r"^goal >= 100 escalations/s .*: (met|NOT met)", done.stdout, re.M)
    assert "routes to the LLM" in done.stdout


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--stages", "filter,classifier"], id="no-llm-stage"),
        pytest.param(["--texts", "{clean}"], id="texts-the-fast-tier-settles"),
    ],
)
def test_exits_1_without_a_goal_line_when_no_message_reaches_the_llm(
    bench: Callable[..., Done],
    args: list[str],
    tmp_path: Path,
) -> None:
    clean = tmp_path / "clean.txt"
    clean.write_text("good game everyone\nhello chat\nnice play\n" * 4, encoding="utf-8")
    done = bench(
        "--batches", "1", "--concurrency", "1",
        *[a.format(clean=clean) for a in args],
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "CHECK FAILED" in done.stderr
    assert re.search(r"no LLM call was made|escalates none", done.stderr)
    assert "goal >=" not in done.stdout
    assert "best setting" not in done.stdout
