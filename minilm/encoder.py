"""The high-level encoder the application uses: texts in, unit-norm float32 vectors out."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import torch

from minilm.checkpoint import config_for
from minilm.devices import precision_name, resolve_device, resolve_precision
from minilm.locate import ModelFiles, locate_model, sha256_file
from minilm.model import SentenceTransformer, skip_random_init
from minilm.tokenizer import MiniLMTokenizer
from minilm.variants import DEFAULT_MODEL
from minilm.weights import map_hf_state_dict, read_checkpoint

logger = logging.getLogger(__name__)

# Padded tokens per forward pass: past this, activations fall out of cache and CPU speed drops
# (the batch shapes compared: benchmarks/RESULTS.md, "Encoder").
BATCH_TOKENS = 4096


class SentenceEncoder:
    """A loaded MiniLM model with its tokenizer, on one device and precision."""

    def __init__(
        self,
        model: SentenceTransformer,
        tokenizer: MiniLMTokenizer,
        files: ModelFiles,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.files = files
        self.device = device
        self.dtype = dtype
        self._sha256 = files.sha256

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        device: str | torch.device = "auto",
        precision: str = "fp32",
        max_length: int | None = None,
    ) -> SentenceEncoder:
        """Find a model by name or path, load its weights and tokenizer, move it to ``device``."""
        chosen = resolve_device(device)
        dtype = resolve_precision(precision, chosen)
        files = locate_model(name_or_path)
        config = config_for(files, max_length)
        with skip_random_init():  # every parameter is replaced by the checkpoint's next
            model = SentenceTransformer(config)
        state = map_hf_state_dict(read_checkpoint(files.weights_path), model, files.weights_path)
        model.load_state_dict(state, strict=True, assign=True)
        model = model.to(device=chosen, dtype=dtype).eval()
        tokenizer = MiniLMTokenizer(files=files, max_length=config.max_length)
        logger.debug("loaded %s from %s on %s (%s)", files.name, files.source, chosen, precision)
        return cls(model, tokenizer, files, chosen, dtype)

    @property
    def name(self) -> str:
        return self.files.name

    @property
    def dim(self) -> int:
        return self.model.config.hidden_size

    @property
    def max_length(self) -> int:
        return self.model.config.max_length

    @property
    def precision(self) -> str:
        return precision_name(self.dtype)

    @property
    def weights_sha256(self) -> str:
        """sha256 of the weights file (known for packaged models, else computed once)."""
        if self._sha256 is None:
            self._sha256 = sha256_file(self.files.weights_path)
        return self._sha256

    def embed_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Embed one batch of token id lists (special tokens included); (n, dim) float32."""
        if not ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = self.tokenizer.pad(ids)
        with torch.inference_mode():
            out = self.model(
                batch["input_ids"].to(self.device), batch["attention_mask"].to(self.device)
            )
        return out.float().cpu().numpy()

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, batch_tokens: int = BATCH_TOKENS
    ) -> np.ndarray:
        """Embed texts into unit-norm rows, (n, dim) float32, in input order.

        Texts are sorted by token count and batched (at most ``batch_size`` texts and
        ``batch_tokens`` padded tokens each), so each batch pads as little as possible.
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a list of texts; wrap a single text in a list")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size ({batch_size!r}) must be a positive integer")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.embed_many(
            self.tokenizer.encode_ids(texts), batch_size=batch_size, batch_tokens=batch_tokens
        )

    def embed_many(
        self,
        ids: Sequence[Sequence[int]],
        *,
        batch_size: int = 32,
        batch_tokens: int = BATCH_TOKENS,
    ) -> np.ndarray:
        """Embed many token id lists in length-sorted batches; rows in input order."""
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
