"""A from-scratch PyTorch MiniLM sentence encoder that loads published weights."""

from __future__ import annotations

from minilm.config import MiniLMConfig
from minilm.devices import resolve_device, resolve_precision
from minilm.encoder import SentenceEncoder
from minilm.locate import ModelFiles, ModelFilesError, ModelNotFoundError, locate_model
from minilm.model import MiniLMModel, SentenceTransformer
from minilm.tokenizer import MiniLMTokenizer
from minilm.variants import DEFAULT_MODEL, VARIANTS, Variant, find_variant
from minilm.weights import WeightsMismatchError, load_pretrained_weights

__all__ = [
    "DEFAULT_MODEL",
    "VARIANTS",
    "MiniLMConfig",
    "MiniLMModel",
    "MiniLMTokenizer",
    "ModelFiles",
    "ModelFilesError",
    "ModelNotFoundError",
    "SentenceEncoder",
    "SentenceTransformer",
    "Variant",
    "WeightsMismatchError",
    "find_variant",
    "load_pretrained_weights",
    "locate_model",
    "resolve_device",
    "resolve_precision",
]
