"""Texts to vectors in length-sorted batches: what the PyTorch and the NumPy encoders share.

Both tokenize with ``MiniLMTokenizer``, sort texts by token count, embed batches that pad as
little as possible, and return the rows in input order; they differ only in how one batch of
token ids becomes vectors (``embed_ids``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from minilm.locate import ModelFiles, sha256_file
from minilm.tokenizer import MiniLMTokenizer

# Padded tokens per forward pass: past this, activations fall out of cache and CPU speed drops
# (the batch shapes compared: benchmarks/RESULTS.md, "Encoder").
BATCH_TOKENS = 4096
BATCH_SIZE = 32  # texts a pass at most, unless a call says otherwise (sentence-transformers' too)
# On a CUDA GPU such passes leave it waiting on kernel launches: on an H200, 512 texts and
# 32,768 tokens a pass embedded 1,400 Cranfield abstracts x1.24 (fp32) to x2.06 (bf16) faster
# than 32 and 4,096, STS-b's short sentences x3.4 to x4.7; 131,072 tokens gained 1-7% more
# (benchmarks/RESULTS.md, "CUDA"), for four times the activations' memory.
CUDA_BATCH_SIZE = 512
CUDA_BATCH_TOKENS = 32768


class BatchEncoder:
    """Texts in, unit-norm float32 rows out; a subclass sets ``model`` (with its ``config``),
    ``tokenizer``, ``files`` and ``_sha256`` and implements ``embed_ids``."""

    model: Any  # the PyTorch or NumPy network; both carry their MiniLMConfig as ``config``
    tokenizer: MiniLMTokenizer
    files: ModelFiles
    _sha256: str | None
    batch_size: int = BATCH_SIZE  # texts a pass unless a call says otherwise
    batch_tokens: int = BATCH_TOKENS  # padded tokens a pass at most

    @property
    def dim(self) -> int:
        return self.model.config.hidden_size

    @property
    def max_length(self) -> int:
        return self.model.config.max_length

    def embed_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Embed one batch of token id lists (special tokens included); (n, dim) float32."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self.files.name

    @property
    def weights_sha256(self) -> str:
        """sha256 of the weights file (known for packaged models, else computed once)."""
        if self._sha256 is None:
            self._sha256 = sha256_file(self.files.weights_path)
        return self._sha256

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        batch_tokens: int | None = None,
    ) -> np.ndarray:
        """Embed texts into unit-norm rows, (n, dim) float32, in input order.

        Texts are sorted by token count and batched (at most ``batch_size`` texts and
        ``batch_tokens`` padded tokens each, the encoder's own unless given), so each batch pads
        as little as possible.
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a list of texts; wrap a single text in a list")
        for name, value in (("batch_size", batch_size), ("batch_tokens", batch_tokens)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{name} ({value!r}) must be a positive integer")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.embed_many(
            self.tokenizer.encode_ids(texts), batch_size=batch_size, batch_tokens=batch_tokens
        )

    def embed_many(
        self,
        ids: Sequence[Sequence[int]],
        *,
        batch_size: int | None = None,
        batch_tokens: int | None = None,
    ) -> np.ndarray:
        """Embed many token id lists in length-sorted batches; rows in input order."""
        batch_size = batch_size or self.batch_size
        batch_tokens = batch_tokens or self.batch_tokens
        result = np.zeros((len(ids), self.dim), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        start = 0
        while start < len(order):
            width = max(len(ids[order[start]]), 1)  # the longest row sets the padding
            size = max(1, min(batch_size, batch_tokens // width))
            rows = order[start : start + size]
            result[rows] = self.embed_ids([ids[i] for i in rows])
            start += size
        return result
