"""Reading checkpoints and mapping Hugging Face BERT parameter names onto our modules."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import torch

from minilm.config import MiniLMConfig
from minilm.locate import ModelFiles, ModelFilesError, locate_model
from minilm.model import SentenceTransformer

logger = logging.getLogger(__name__)

# Prefixes that wrap BertModel's names in other checkpoints (BertForX, sentence-transformers, ONNX).
_PREFIXES = ("model.0.auto_model.", "0.auto_model.", "auto_model.", "bert.", "model.")
# Tensors a BERT checkpoint may hold that a sentence encoder does not use.
_UNUSED = re.compile(r"^(pooler\..*|embeddings\.position_ids|cls\..*)$")

_LAYER_MAP = {
    "attention.output.dense": "attention.out",
    "attention.output.LayerNorm": "attention_norm",
    "intermediate.dense": "feed_forward.intermediate",
    "output.dense": "feed_forward.output",
    "output.LayerNorm": "output_norm",
}


class WeightsMismatchError(ModelFilesError):
    """A checkpoint's tensors do not match the model: lists what is missing, extra or misshapen."""


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
        raise ModelFilesError(
            f"{path}: cannot read weights ({type(exc).__name__}: {exc}); "
            "the file is damaged: replace it or reinstall the model"
        ) from exc
    raise ModelFilesError(f"{path}: unknown weights format; use .safetensors, .bin or .onnx")


def _canonical(name: str) -> str:
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    return name.replace("LayerNorm.gamma", "LayerNorm.weight").replace(
        "LayerNorm.beta", "LayerNorm.bias"
    )


def map_hf_state_dict(
    hf_state: dict[str, torch.Tensor],
    model: SentenceTransformer,
    source: Path | None = None,
) -> dict[str, torch.Tensor]:
    """Turn Hugging Face ``BertModel`` tensors into ``model``'s state dict, checking names and
    shapes; ``source`` (the checkpoint file) is named in the error."""
    config = model.config
    state = {_canonical(k): v for k, v in hf_state.items()}
    ours: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    missing: list[str] = []

    def take(name: str) -> torch.Tensor | None:
        if name not in state:
            missing.append(name)
            return None
        used.add(name)
        return state[name]

    for part in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        tensor = take(f"embeddings.{part}.weight")
        if tensor is not None:
            ours[f"encoder.embeddings.{part}.weight"] = tensor
    for kind in ("weight", "bias"):
        tensor = take(f"embeddings.LayerNorm.{kind}")
        if tensor is not None:
            ours[f"encoder.embeddings.norm.{kind}"] = tensor

    for i in range(config.num_hidden_layers):
        src, dst = f"encoder.layer.{i}.", f"encoder.layers.{i}."
        for kind in ("weight", "bias"):
            parts = [take(f"{src}attention.self.{p}.{kind}") for p in ("query", "key", "value")]
            if all(p is not None for p in parts):
                ours[f"{dst}attention.qkv.{kind}"] = torch.cat(parts, dim=0)  # (3H, H) / (3H,)
            for hf_name, our_name in _LAYER_MAP.items():
                tensor = take(f"{src}{hf_name}.{kind}")
                if tensor is not None:
                    ours[f"{dst}{our_name}.{kind}"] = tensor

    unexpected = sorted(k for k in state if k not in used and not _UNUSED.match(k))
    expected_shapes = {name: tuple(p.shape) for name, p in model.state_dict().items()}
    misshapen = [
        f"{name} {tuple(t.shape)} != {expected_shapes[name]}"
        for name, t in ours.items()
        if tuple(t.shape) != expected_shapes[name]
    ]
    if missing or unexpected or misshapen:
        problems = []
        if missing:
            problems.append("missing: " + ", ".join(missing))
        if unexpected:
            problems.append("unexpected: " + ", ".join(unexpected))
        if misshapen:
            problems.append("wrong shape: " + "; ".join(misshapen))
        where = f"{source}: " if source is not None else ""
        raise WeightsMismatchError(
            f"{where}checkpoint does not match the model ({config.num_hidden_layers} layers, "
            f"hidden {config.hidden_size}): " + " | ".join(problems)
        )
    return ours


def config_for(files: ModelFiles, max_length: int | None = None) -> MiniLMConfig:
    """The model config a folder describes, with ``max_length`` defaulting to its ST setting."""
    if files.weights_format == "onnx":
        from minilm.onnx_import import read_onnx_weights

        values = read_onnx_weights(files.weights_path)[1]
    else:
        values = dict(files.config)
    if values.get("model_type", "bert") != "bert":
        raise ModelFilesError(
            f"{files.weights_path.parent}: model_type {values['model_type']!r} is not supported; "
            "only BERT-style models load"
        )
    if max_length is None:
        max_length = files.max_seq_length or values.get("max_position_embeddings", 512)
    return MiniLMConfig.from_dict(values, max_length=max_length, pooling_mode=files.pooling_mode)


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
            raise ValueError("give model_name (e.g. 'all-MiniLM-L6-v2') or path")
        files = locate_model(target)
    state = map_hf_state_dict(read_checkpoint(files.weights_path), model, files.weights_path)
    model.load_state_dict(state, strict=True)
    logger.debug("loaded %s from %s (%s)", files.name, files.weights_path, files.source)
    return model
