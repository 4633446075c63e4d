"""The high-level encoder the application uses: texts in, unit-norm float32 vectors out."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import torch

from minilm.allocator import keep_freed_memory
from minilm.batching import BATCH_TOKENS as BATCH_TOKENS  # importable from here, as before
from minilm.batching import CUDA_BATCH_SIZE, CUDA_BATCH_TOKENS, BatchEncoder
from minilm.checkpoint import config_for
from minilm.devices import precision_name, resolve_device, resolve_precision
from minilm.locate import ModelFiles, locate_model
from minilm.model import SentenceTransformer, skip_random_init
from minilm.tokenizer import MiniLMTokenizer
from minilm.variants import DEFAULT_MODEL
from minilm.weights import map_hf_state_dict, read_checkpoint

logger = logging.getLogger(__name__)


class SentenceEncoder(BatchEncoder):
    """A loaded MiniLM model with its tokenizer, on one device and precision; texts in,
    unit-norm float32 vectors out (``encode``, ``embed_many``: ``minilm.batching``)."""

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
        if device.type == "cuda":
            self.batch_size, self.batch_tokens = CUDA_BATCH_SIZE, CUDA_BATCH_TOKENS

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
    def precision(self) -> str:
        return precision_name(self.dtype)

    @property
    def packs_batches(self) -> bool:
        """Whether every batch runs without its padding (on a CPU where the fused attention
        kernel runs for the encoder's dtype): more texts per batch then add no padding, and short
        texts ran 1.28x faster in batches of 256 than of 64 (benchmarks/RESULTS.md, "Encoder")."""
        return self.device.type == "cpu" and self.model.encoder.packs_every_batch(self.dtype)

    def embed_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Embed one batch of token id lists (special tokens included); (n, dim) float32."""
        if not ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.device.type == "cpu":
            keep_freed_memory()  # batches reuse the last one's memory, not fresh pages
        batch = self.tokenizer.pad(ids)
        with torch.inference_mode():
            out = self.model(
                batch["input_ids"].to(self.device), batch["attention_mask"].to(self.device)
            )
        return out.float().cpu().numpy()
