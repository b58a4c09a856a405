"""The semantic artifact: an int8 ONNX sentence encoder, its tokenizer, the heads and a manifest.

A directory with:

- `encoder.int8.onnx`  the transformer (all-MiniLM-L6-v2, exported and quantised once by
                       `scripts/export_encoder.py`); input ids and mask in, token states out
- `tokenizer.json`     the model's WordPiece tokenizer, read by `tokenizers`
- `heads.npz`          one logistic head per category over the 384-d embedding, their Platt
                       calibration and the blend weights (written by `chatguard train-semantic`)
- `manifest.json`      source, licence, checksums of every file, export recipe, dates, metrics

Loading checks every file against the sha256 the manifest records: a file changed after export
or training refuses to load instead of scoring with a model nobody measured.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatguard.errors import ChatguardError

MANIFEST_FILE = "manifest.json"
HEADS_FILE = "heads.npz"
FORMAT_VERSION = 1
#: The artifact that ships with chatguard (package data).
DEFAULT_ARTIFACT = (
    Path(__file__).resolve().parent.parent / "models" / "semantic" / "minilm-l6-v2-int8"
)


class SemanticArtifactError(ChatguardError):
    """The semantic artifact is missing, altered or of an unknown format."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class SemanticArtifact:
    """A verified artifact directory and its manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", self.path.name))

    @property
    def encoder_path(self) -> Path:
        return self.path / str(self.manifest["encoder"]["file"])

    @property
    def tokenizer_path(self) -> Path:
        return self.path / str(self.manifest["tokenizer"]["file"])

    @property
    def heads_path(self) -> Path | None:
        """The trained heads, or None for an encoder-only artifact (before training)."""
        heads = self.manifest.get("heads")
        return None if not heads else self.path / str(heads["file"])

    @property
    def max_tokens(self) -> int:
        return int(self.manifest["encoder"].get("max_tokens", 128))

    @classmethod
    def load(cls, directory: str | Path, *, verify: bool = True) -> SemanticArtifact:
        """Read the manifest and check each file's sha256; raises `SemanticArtifactError`."""
        path = Path(directory)
        try:
            manifest = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SemanticArtifactError(
                f"cannot read the semantic manifest in {path}: {exc}"
            ) from None
        if manifest.get("format") != FORMAT_VERSION:
            raise SemanticArtifactError(
                f"semantic artifact at {path} has format {manifest.get('format')!r}; "
                f"this version reads format {FORMAT_VERSION}"
            )
        artifact = cls(path, manifest)
        if verify:
            artifact.verify()
        return artifact

    def files(self) -> dict[str, str]:
        """Each file the manifest names, with its recorded sha256."""
        out = {}
        for section in ("encoder", "tokenizer", "heads"):
            entry = self.manifest.get(section)
            if entry:
                out[str(entry["file"])] = str(entry["sha256"])
        return out

    def verify(self) -> None:
        for name, expected in self.files().items():
            file = self.path / name
            try:
                actual = sha256_of(file)
            except OSError as exc:
                raise SemanticArtifactError(f"semantic artifact file {name}: {exc}") from None
            if actual != expected:
                raise SemanticArtifactError(
                    f"semantic artifact file {name} does not match its manifest sha256"
                )

    def write_manifest(self) -> None:
        (self.path / MANIFEST_FILE).write_text(
            json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
