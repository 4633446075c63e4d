"""A from-scratch MiniLM sentence encoder that loads published weights: PyTorch for indexing and
any model (``SentenceEncoder``), NumPy for queries without torch (``NumpyEncoder``).

Importing the package imports nothing heavy: each name below is imported from its module on first
use, so ``from minilm import NumpyEncoder`` (or ``locate_model``) never loads torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from minilm.errors import (
    ModelFilesError,
    ModelNotFoundError,
    UnsupportedWeightsError,
    WeightsMismatchError,
)

if TYPE_CHECKING:
    from minilm.config import MiniLMConfig
    from minilm.devices import resolve_device, resolve_precision
    from minilm.encoder import SentenceEncoder
    from minilm.locate import ModelFiles, locate_model
    from minilm.model import MiniLMModel, SentenceTransformer
    from minilm.numpy_encoder import NumpyEncoder
    from minilm.tokenizer import MiniLMTokenizer
    from minilm.variants import DEFAULT_MODEL, VARIANTS, Variant, find_variant
    from minilm.weights import load_pretrained_weights

# Public name -> the module that defines it (torch-free unless marked).
_LAZY = {
    "MiniLMConfig": "minilm.config",
    "resolve_device": "minilm.devices",  # torch
    "resolve_precision": "minilm.devices",  # torch
    "SentenceEncoder": "minilm.encoder",  # torch
    "ModelFiles": "minilm.locate",
    "locate_model": "minilm.locate",
    "MiniLMModel": "minilm.model",  # torch
    "SentenceTransformer": "minilm.model",  # torch
    "NumpyEncoder": "minilm.numpy_encoder",
    "MiniLMTokenizer": "minilm.tokenizer",
    "DEFAULT_MODEL": "minilm.variants",
    "VARIANTS": "minilm.variants",
    "Variant": "minilm.variants",
    "find_variant": "minilm.variants",
    "load_pretrained_weights": "minilm.weights",  # torch
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'minilm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found once; later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "DEFAULT_MODEL",
    "VARIANTS",
    "MiniLMConfig",
    "MiniLMModel",
    "MiniLMTokenizer",
    "ModelFiles",
    "ModelFilesError",
    "ModelNotFoundError",
    "NumpyEncoder",
    "SentenceEncoder",
    "SentenceTransformer",
    "UnsupportedWeightsError",
    "Variant",
    "WeightsMismatchError",
    "find_variant",
    "load_pretrained_weights",
    "locate_model",
    "resolve_device",
    "resolve_precision",
]
