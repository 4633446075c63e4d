"""An encoder for queries that never imports torch or transformers: ``NumpyEncoder``.

The same model files, config, tokenizer and checkpoint mapping as ``SentenceEncoder``, with the
forward pass of ``minilm.numpy_model`` (float32, CPU). It reads only safetensors weights; for a
model that has none it raises ``UnsupportedWeightsError``, so a caller can fall back to the
PyTorch ``SentenceEncoder``::

    try:
        encoder = NumpyEncoder.from_pretrained(name)
    except UnsupportedWeightsError:
        encoder = SentenceEncoder.from_pretrained(name, device="cpu")

NumPy's BLAS sizes its thread pool once, when NumPy loads. One short query is too small to split
across cores, and on a machine shared with other work threads that wait for a core make it many
times slower (benchmarks/RESULTS.md, "NumPy encoder"): there, set ``OPENBLAS_NUM_THREADS=1``
before NumPy loads, as ``minilm.devices.cpu_threads`` does for torch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from minilm.batching import BatchEncoder
from minilm.checkpoint import config_for
from minilm.errors import UnsupportedWeightsError
from minilm.locate import ModelFiles, locate_model
from minilm.numpy_model import NumpyMiniLM
from minilm.tokenizer import MiniLMTokenizer
from minilm.variants import DEFAULT_MODEL

logger = logging.getLogger(__name__)


class NumpyEncoder(BatchEncoder):
    """A MiniLM model in NumPy float32 on the CPU with its tokenizer; texts in, unit-norm float32
    vectors out (``encode``, ``embed_many``: ``minilm.batching``)."""

    def __init__(self, model: NumpyMiniLM, tokenizer: MiniLMTokenizer, files: ModelFiles) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.files = files
        self._sha256 = files.sha256

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | os.PathLike[str] = DEFAULT_MODEL, *, max_length: int | None = None
    ) -> NumpyEncoder:
        """Find a model by name or path and map its safetensors weights (no copy).

        Raises ``UnsupportedWeightsError`` when the model's weights are not safetensors
        (``pytorch_model.bin``, an ONNX export): load those with ``SentenceEncoder``.
        """
        files = locate_model(name_or_path)
        if files.weights_format != "safetensors":
            raise UnsupportedWeightsError(
                f"{files.weights_path}: the NumPy encoder reads only safetensors weights, and "
                f"{files.name} has {files.weights_format}; use minilm.SentenceEncoder (PyTorch) "
                "for this model"
            )
        config = config_for(files, max_length)
        model = NumpyMiniLM.from_safetensors(files.weights_path, config)
        tokenizer = MiniLMTokenizer(files=files, max_length=config.max_length)
        logger.debug("loaded %s from %s with NumPy", files.name, files.source)
        return cls(model, tokenizer, files)

    @property
    def precision(self) -> str:
        return "fp32"

    packs_batches = False  # padded batches

    def embed_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Embed one batch of token id lists (special tokens included); (n, dim) float32."""
        if not ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        input_ids, attention_mask = self.tokenizer.pad_arrays(ids)
        return self.model(input_ids, attention_mask)
