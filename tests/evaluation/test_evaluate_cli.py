"""`chatguard evaluate` with the shipped pipeline on a small labeled file made here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatguard.cli import main

ROWS = [
    {"text": "You are the worst human being, you make me sick to my stomach.", "flagged": 1},
    {"text": "Hello everyone, how are you doing today?", "flagged": 0},
    {"text": "you are a pathetic worthless idiot", "categories": {"harassment": 1}},
    {"text": "gg wp, nice game everyone", "categories": {"harassment": 0}},
    {"text": "free followers at cheap-followers.example", "categories": {"spam": 1}},
    {"text": "what song is this?", "flagged": 0, "categories": {"spam": 0}},
]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "small.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def test_json_output_is_one_object_with_the_figures(
    dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--dataset", str(dataset), "--json"]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1
    figures = json.loads(out)
    assert figures["n"] == len(ROWS)
    assert set(figures["flagged"]) >= {"auprc", "f1", "precision", "recall", "threshold"}
    # flagged defaults to "any category is 1": the two harassment rows and the spam row.
    assert figures["flagged"]["n_pos"] == 3
    assert figures["flagged"]["auprc"] > 0.5
    assert set(figures["categories"]) == {"harassment", "spam"}
    assert set(figures["categories"]["harassment"]) >= {"auprc", "f1", "n_pos"}
    assert 0.0 <= figures["escalation_rate"] <= 1.0
    assert sum(figures["decided_by"].values()) == pytest.approx(1.0, abs=1e-3)
    assert set(figures["latency_ms"]) == {"p50", "p95", "p99"}
    assert figures["messages_per_second"] > 0


def test_limit_takes_the_first_records(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--dataset", str(dataset), "--json", "--limit", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 2


def test_table_output(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--dataset", str(dataset)]) == 0
    out = capsys.readouterr().out
    assert "flagged:" in out and "escalation rate:" in out and "messages/s" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "ok"}\nnot json\n', "small.jsonl:2: not JSON"),
        ('{"flagged": 1}\n', "needs a string field `text`"),
        ('{"text": "x", "flagged": 2}\n', "flagged must be 0 or 1"),
        ('{"text": "x", "categories": {"rudeness": 1}}\n', "unknown category 'rudeness'"),
        ("", "has no records"),
    ],
    ids=["bad-json", "no-text", "bad-flag", "unknown-category", "empty"],
)
def test_bad_dataset_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "small.jsonl"
    path.write_text(content, encoding="utf-8")
    assert main(["evaluate", "--dataset", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_missing_dataset_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--dataset", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot read dataset" in capsys.readouterr().err
