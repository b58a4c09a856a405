"""The shipped artifact: present, described by its manifest, refused when altered."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chatguard.semantic.artifact import (
    DEFAULT_ARTIFACT,
    SemanticArtifact,
    SemanticArtifactError,
    sha256_of,
)
from chatguard.semantic.heads import SemanticHeads


def test_every_file_matches_the_sha256_in_its_manifest(artifact: SemanticArtifact) -> None:
    files = artifact.files()
    assert set(files) == {"encoder.int8.onnx", "tokenizer.json", "heads.npz"}
    for name, expected in files.items():
        assert sha256_of(artifact.path / name) == expected, name


def test_the_manifest_names_source_licence_recipe_and_metrics(artifact: SemanticArtifact) -> None:
    manifest = artifact.manifest
    assert manifest["source"]["licence"] == "Apache-2.0"
    assert manifest["source"]["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert "scripts/export_encoder.py" in manifest["recipe"]
    assert (Path(__file__).resolve().parents[2] / "scripts" / "export_encoder.py").exists()
    assert manifest["encoder"]["quantisation"].startswith("onnxruntime.quantization")
    assert manifest["metrics"]["categories"]
    assert manifest["heads"]["linear_model"]["name"]


def test_the_int8_encoder_is_small_enough_to_ship(artifact: SemanticArtifact) -> None:
    assert artifact.encoder_path.stat().st_size < 32 * 2**20


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "artifact"
    shutil.copytree(DEFAULT_ARTIFACT, target)
    return target


@pytest.mark.parametrize("name", ["tokenizer.json", "heads.npz"], ids=["tokenizer", "heads"])
def test_an_altered_file_refuses_to_load(copy: Path, name: str) -> None:
    with (copy / name).open("ab") as handle:
        handle.write(b" ")
    with pytest.raises(SemanticArtifactError, match=name):
        SemanticArtifact.load(copy)


def test_a_missing_file_refuses_to_load(copy: Path) -> None:
    (copy / "encoder.int8.onnx").unlink()
    with pytest.raises(SemanticArtifactError, match=r"encoder\.int8\.onnx"):
        SemanticArtifact.load(copy)


def test_an_artifact_without_heads_says_how_to_train_them(copy: Path) -> None:
    artifact = SemanticArtifact.load(copy)
    artifact.manifest.pop("heads")
    artifact.write_manifest()
    with pytest.raises(SemanticArtifactError, match="train-semantic"):
        SemanticHeads.load(SemanticArtifact.load(copy))


def test_an_unknown_format_is_refused(copy: Path) -> None:
    artifact = SemanticArtifact.load(copy)
    artifact.manifest["format"] = 99
    artifact.write_manifest()
    with pytest.raises(SemanticArtifactError, match="format 99"):
        SemanticArtifact.load(copy)
