"""The encoder seam: what indexing and searching use of a sentence encoder, and loading one.

``minilm.SentenceEncoder`` (PyTorch) is the encoder; tests pass a deterministic fake.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Tokenizer(Protocol):
    def encode_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with the special tokens, truncated at the model's limit."""
        ...  # pragma: no cover

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, special tokens not counted, not truncated."""
        ...  # pragma: no cover


class Encoder(Protocol):
    """Everything ``SearchIndex`` and the indexing pipeline use of an encoder."""

    name: str
    dim: int
    max_length: int
    precision: str
    weights_sha256: str
    tokenizer: Tokenizer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm rows, (n, dim) float32, in input order."""
        ...  # pragma: no cover

    def embed_many(self, ids: Sequence[Sequence[int]], *, batch_size: int) -> np.ndarray:
        """Embed token id lists (special tokens included); rows in input order, unit norm."""
        ...  # pragma: no cover


def load_encoder(name_or_path: str, *, device: str, precision: str) -> Encoder:
    """The encoder for a model name or folder on ``device`` in ``precision``."""
    from minilm import SentenceEncoder

    return SentenceEncoder.from_pretrained(name_or_path, device=device, precision=precision)
