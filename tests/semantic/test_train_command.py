"""`chatguard train-semantic` end to end on a small labelled file, into a copy of the artifact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chatguard.cli import main
from chatguard.semantic.artifact import DEFAULT_ARTIFACT, SemanticArtifact
from chatguard.semantic.encoder import SentenceEncoder
from chatguard.semantic.heads import SemanticHeads

INSULTS = ["you are a {} idiot", "shut up you {} loser", "nobody likes you, {} clown"]
FRIENDLY = ["thanks, that was a {} game", "see you all {} tomorrow", "nice {} play, well done"]
WORDS = [f"w{i}" for i in range(40)]


def write_data(path: Path) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for word in WORDS:
            for template in INSULTS:
                row = {"text": template.format(word), "labels": {"harassment": 1}}
                handle.write(json.dumps(row) + "\n")
            for template in FRIENDLY:
                row = {"text": template.format(word), "labels": {"harassment": 0}}
                handle.write(json.dumps(row) + "\n")


@pytest.mark.slow
def test_the_command_writes_heads_and_a_manifest_that_verify(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "artifact"
    shutil.copytree(DEFAULT_ARTIFACT, target)
    data = tmp_path / "tiny_chat.jsonl"
    write_data(data)
    code = main(
        [
            "train-semantic",
            "--data",
            str(data),
            "--artifact",
            str(target),
            "--threads",
            "1",
            "--quiet",
            "--cache",
            str(tmp_path / "cache.npz"),
        ]
    )
    assert code == 0
    assert "semantic heads written" in capsys.readouterr().out
    artifact = SemanticArtifact.load(target)  # every sha256 matches again
    heads = SemanticHeads.load(artifact)
    assert heads.heads == ("harassment",)
    files = artifact.manifest["heads"]["training"]["files"]
    assert files[0]["name"] == "tiny_chat.jsonl"
    encoder = SentenceEncoder.from_artifact(artifact, threads=1)
    scores = heads.category_scores(encoder.encode(["you are a w99 idiot", "nice w99 play"]))
    assert scores["harassment"][0] > scores["harassment"][1]


@pytest.mark.slow
def test_keeping_the_heads_chooses_the_blend_again_and_records_the_long_bucket(
    tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "artifact"
    shutil.copytree(DEFAULT_ARTIFACT, target)
    heads_before = (target / "heads.npz").read_bytes()
    trained_before = SemanticArtifact.load(target).manifest["heads"]["trained"]
    data = tmp_path / "tiny_chat.jsonl"
    write_data(data)
    arguments = ["train-semantic", "--data", str(data), "--artifact", str(target)]
    code = main([*arguments, "--keep-heads", "--long-chars", "24", "--threads", "1", "--quiet"])
    assert code == 0
    capsys.readouterr()
    artifact = SemanticArtifact.load(target)  # the manifest still verifies
    entry = artifact.manifest["heads"]
    assert (target / "heads.npz").read_bytes() == heads_before
    assert entry["trained"] == trained_before and entry["blend_chosen"]
    assert entry["blend_long"]["min_chars"] == 24
    assert entry["training"]["long_min_chars"] == 24
    assert "long" in artifact.manifest["metrics"]
    assert SemanticHeads.load(artifact).long_min_chars == 24


@pytest.mark.slow
def test_a_medium_bucket_is_chosen_and_recorded_when_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "artifact"
    shutil.copytree(DEFAULT_ARTIFACT, target)
    data = tmp_path / "tiny_chat.jsonl"
    write_data(data)
    arguments = ["train-semantic", "--data", str(data), "--artifact", str(target)]
    flags = ["--keep-heads", "--long-chars", "24", "--medium-chars", "12", "--threads", "1"]
    assert main([*arguments, *flags, "--quiet"]) == 0
    capsys.readouterr()
    artifact = SemanticArtifact.load(target)
    entry = artifact.manifest["heads"]
    assert entry["training"]["medium_min_chars"] == 12
    assert "medium" in artifact.manifest["metrics"]
    medium = artifact.manifest["metrics"]["medium"]
    assert medium["min_chars"] == 12 and medium["below_chars"] == 24
    heads = SemanticHeads.load(artifact)
    assert heads.medium_blend == entry["blend_medium"]["weights"]
    assert heads.medium_min_chars == (12 if heads.medium_blend else 0)
