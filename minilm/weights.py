"""Loading checkpoints into the PyTorch model: reading ``.safetensors``, ``.bin`` and ``.onnx``
files into tensors, and mapping their names through ``minilm.checkpoint``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from minilm.checkpoint import config_for, map_checkpoint, unreadable
from minilm.errors import ModelFilesError
from minilm.errors import WeightsMismatchError as WeightsMismatchError  # where it was first defined
from minilm.locate import ModelFiles, locate_model
from minilm.model import SentenceTransformer
from minilm.variants import DEFAULT_MODEL

__all__ = [
    "WeightsMismatchError",
    "config_for",
    "load_pretrained_weights",
    "map_hf_state_dict",
    "read_checkpoint",
]

logger = logging.getLogger(__name__)


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors or PyTorch checkpoint into a name -> tensor dict, without pickle."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        if path.suffix == ".bin":
            return torch.load(path, map_location="cpu", weights_only=True)
        if path.suffix == ".onnx":
            from minilm.onnx_import import read_onnx_weights

            return read_onnx_weights(path)[0]
    except ModelFilesError:
        raise
    except Exception as exc:
        raise unreadable(path, exc) from exc
    raise ModelFilesError(f"{path}: unknown weights format; use .safetensors, .bin or .onnx")


def map_hf_state_dict(
    hf_state: dict[str, torch.Tensor],
    model: SentenceTransformer,
    source: Path | None = None,
) -> dict[str, torch.Tensor]:
    """Turn Hugging Face ``BertModel`` tensors into ``model``'s state dict, checking names and
    shapes; ``source`` (the checkpoint file) is named in the error."""
    return map_checkpoint(
        hf_state,
        model.config,
        shapes={name: tuple(p.shape) for name, p in model.state_dict().items()},
        join=lambda parts: torch.cat(list(parts), dim=0),  # (3H, H) / (3H,)
        source=source,
    )


def load_pretrained_weights(
    model: SentenceTransformer,
    model_name: str | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    files: ModelFiles | None = None,
) -> SentenceTransformer:
    """Load published weights into ``model`` (found by name, path or ``ModelFiles``)."""
    if files is None:
        target = path if path is not None else model_name
        if target is None:
            raise ValueError(f"give model_name (e.g. {DEFAULT_MODEL!r}) or path")
        files = locate_model(target)
    state = map_hf_state_dict(read_checkpoint(files.weights_path), model, files.weights_path)
    model.load_state_dict(state, strict=True)
    logger.debug("loaded %s from %s (%s)", files.name, files.weights_path, files.source)
    return model
