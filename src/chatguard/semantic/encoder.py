"""Sentence embeddings with ONNX Runtime: tokenise, batch by length, run, mean-pool, normalise.

Texts are sorted by token count before batching so each batch pads to nearly its own length
(padding is wasted work: a batch of short chat lines padded to one long paragraph costs as
much as that many paragraphs). The session's threads are set explicitly and do not spin
between runs, so an idle encoder leaves the cores to the event loop and the other stages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chatguard.semantic.artifact import SemanticArtifact

DIMENSIONS = 384


class SentenceEncoder:
    """all-MiniLM-L6-v2 (int8) behind one call: `encode(texts) -> (n, 384)` unit vectors."""

    def __init__(
        self,
        *,
        model_path: Path,
        tokenizer_path: Path,
        max_tokens: int = 128,
        threads: int = 1,
        batch_size: int = 64,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_tokens)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Busy-waiting worker threads would take CPU from the event loop between batches.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )

    @classmethod
    def from_artifact(
        cls, artifact: SemanticArtifact, *, threads: int = 1, batch_size: int = 64
    ) -> SentenceEncoder:
        return cls(
            model_path=artifact.encoder_path,
            tokenizer_path=artifact.tokenizer_path,
            max_tokens=artifact.max_tokens,
            threads=threads,
            batch_size=batch_size,
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, (len(texts), 384) float32, in the order of `texts`."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=True)
        ids = [e.ids for e in encodings]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            out[chunk] = self._run([ids[i] for i in chunk])
        return out

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        width = max(len(row) for row in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, tokens in enumerate(batch):
            input_ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        (states,) = self.session.run(None, {"input_ids": input_ids, "attention_mask": mask})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
