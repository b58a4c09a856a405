"""`chatguard train` on a small CSV made here produces a working artifact, end to end."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from chatguard.classifier.model import MANIFEST_FILE, WEIGHTS_FILE, LinearModel
from chatguard.cli import main

INSULTS = ["idiot", "loser", "moron", "clown", "trash", "pathetic"]
FRIENDLY = ["friend", "team", "stream", "game", "song", "chat"]


def _write_csv(path: Path, rows: int = 240) -> None:
    rng = random.Random(7)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "harassment", "spam"])
        for i in range(rows):
            kind = i % 3
            if kind == 0:
                text, labels = f"you are a {rng.choice(INSULTS)} number {i}", (1, 0)
            elif kind == 1:
                text, labels = f"buy cheap followers at site{i}.com now", (0, 1)
            else:
                text, labels = f"what a great {rng.choice(FRIENDLY)} today {i}", (0, 0)
            writer.writerow([text, *labels])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train")
    data = root / "mychat.csv"
    _write_csv(data)
    out = root / "model"
    code = main(
        [
            "train",
            "--data",
            str(data),
            "--out",
            str(out),
            "--min-positives",
            "5",
            "--buckets-log2",
            "14",
            "--jobs",
            "1",
            "--eval-dir",
            str(root / "eval"),
            "--no-synthetic",
            "--quiet",
        ]
    )
    assert code == 0
    return out


def test_artifact_is_plain_arrays_and_json(trained: Path) -> None:
    assert sorted(p.name for p in trained.iterdir()) == sorted([MANIFEST_FILE, WEIGHTS_FILE])
    with np.load(trained / WEIGHTS_FILE, allow_pickle=False) as arrays:
        assert set(arrays.files) == {"weights", "bias", "calibration"}


def test_manifest_records_data_counts_metrics_and_thresholds(trained: Path) -> None:
    manifest = json.loads((trained / MANIFEST_FILE).read_text(encoding="utf-8"))
    # No column says "harmful or not", so there is no general head.
    assert manifest["heads"] == ["harassment", "spam"]
    assert manifest["training"]["files"][0]["name"] == "mychat.csv"
    assert sum(manifest["training"]["files"][0]["rows"].values()) == 240
    assert manifest["created"].endswith("Z")
    assert set(manifest["metrics"]["validation"]) >= {"harassment", "spam"}
    for t in manifest["thresholds"].values():
        assert 0 <= t["allow"] <= t["act"] <= 1
    assert manifest["training"]["synthetic"] == []
    assert manifest["training"]["sources"]["mychat"]["rows"] == 240
    # Spans for the abusive heads, the whole message for spam.
    assert manifest["format"] == 2 and manifest["spans"]["heads"] == ["harassment"]


def test_trained_model_separates_the_classes(trained: Path) -> None:
    model = LinearModel.load(trained)
    p = model.predict_proba(["you are a moron number 9999", "what a great song today 9999"])
    harassment = model.heads.index("harassment")
    assert p[0, harassment] > 0.5 > p[1, harassment]


def test_held_out_rows_are_written_for_evaluate(trained: Path) -> None:
    lines = (trained.parent / "eval" / "mychat.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    assert set(record) == {"text", "flagged", "categories"}
    assert set(record["categories"]) >= {"harassment", "spam"}


def test_the_trained_artifact_runs_in_the_pipeline(
    trained: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CLASSIFIER_MODEL", str(trained))
    monkeypatch.setenv("PIPELINE_STAGES", "classifier")
    code = main(["evaluate", "--dataset", str(trained.parent / "eval" / "mychat.jsonl"), "--json"])
    assert code == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["categories"]["harassment"]["auprc"] > 0.9


def test_training_without_data_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "--data", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "m")])
    assert code == 2
    assert "no such data file" in capsys.readouterr().err
