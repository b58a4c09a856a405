"""Sentence embeddings with ONNX Runtime: tokenise, batch by length, run, mean-pool, normalise.

Texts are sorted by token count and batched in runs of similar length, so each batch pads to
nearly its own length (padding is wasted work: a batch of short chat lines padded to one long
paragraph costs as much as that many paragraphs). The session's threads are set explicitly
and do not spin between runs, so an idle encoder leaves the cores to the event loop and the
other stages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from chatguard.semantic.artifact import SemanticArtifact

DIMENSIONS = 384
#: Texts up to this many tokens share a batch whatever their lengths (a call costs ~1 ms).
SHORT_TOKENS = 16


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
        for chunk in self._batches(order, [len(row) for row in ids]):
            out[chunk] = self._run([ids[i] for i in chunk])
        return out

    def _batches(self, order: list[int], lengths: list[int]) -> list[list[int]]:
        """Consecutive runs of the length-sorted texts, at most `batch_size` each, cut where a
        text is over 1.5 times the run's first (and over SHORT_TOKENS): a small batch of mixed
        lengths would otherwise pad every short text to the longest one, which on chat traffic
        cost more than the extra calls (14 texts of 3 to 49 tokens: 686 padded tokens in one
        call, 258 in four)."""
        batches: list[list[int]] = []
        current: list[int] = []
        limit = 0.0
        for index in order:
            length = lengths[index]
            if current and (len(current) >= self.batch_size or length > limit):
                batches.append(current)
                current = []
            if not current:
                limit = max(SHORT_TOKENS, 1.5 * length)
            current.append(index)
        if current:
            batches.append(current)
        return batches

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
