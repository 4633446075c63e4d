"""Checkpoints without torch: the model config a folder describes, which Hugging Face ``BertModel``
tensor goes to which of our parameters, and reading a safetensors file into NumPy arrays.

The PyTorch loader (``minilm.weights``) and the NumPy encoder (``minilm.numpy_encoder``) both map
names and check shapes here, so a checkpoint loads the same way on either path.
"""

from __future__ import annotations

import json
import mmap
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from minilm.config import MiniLMConfig, default_max_length
from minilm.errors import ModelFilesError, WeightsMismatchError
from minilm.locate import ModelFiles

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


class Tensor(Protocol):
    """What the mapping needs of a tensor: a torch tensor or a NumPy array."""

    @property
    def shape(self) -> tuple[int, ...]: ...


T = TypeVar("T", bound=Tensor)


def config_for(files: ModelFiles, max_length: int | None = None) -> MiniLMConfig:
    """The model config a folder describes, with ``max_length`` defaulting to its ST setting."""
    if files.weights_format == "onnx":
        from minilm.onnx_import import read_onnx_weights  # imports torch: ONNX models only

        values = read_onnx_weights(files.weights_path)[1]
    else:
        values = dict(files.config)
    if values.get("model_type", "bert") != "bert":
        raise ModelFilesError(
            f"{files.weights_path.parent}: model_type {values['model_type']!r} is not supported; "
            "only BERT-style models load"
        )
    if max_length is None:
        max_length = default_max_length(files.max_seq_length, values.get("max_position_embeddings"))
    return MiniLMConfig.from_dict(values, max_length=max_length, pooling_mode=files.pooling_mode)


def parameter_sources(num_hidden_layers: int) -> dict[str, tuple[str, ...]]:
    """Each of our parameter names -> the ``BertModel`` names whose tensors, joined along the
    first axis, make it: query, key and value make one fused ``qkv`` (rows in that order)."""
    sources: dict[str, tuple[str, ...]] = {}
    for part in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        sources[f"encoder.embeddings.{part}.weight"] = (f"embeddings.{part}.weight",)
    for kind in ("weight", "bias"):
        sources[f"encoder.embeddings.norm.{kind}"] = (f"embeddings.LayerNorm.{kind}",)
    for i in range(num_hidden_layers):
        src, dst = f"encoder.layer.{i}.", f"encoder.layers.{i}."
        for kind in ("weight", "bias"):
            sources[f"{dst}attention.qkv.{kind}"] = tuple(
                f"{src}attention.self.{p}.{kind}" for p in ("query", "key", "value")
            )
            for hf_name, our_name in _LAYER_MAP.items():
                sources[f"{dst}{our_name}.{kind}"] = (f"{src}{hf_name}.{kind}",)
    return sources


def parameter_shapes(config: MiniLMConfig) -> dict[str, tuple[int, ...]]:
    """The shape of each of our parameters (the PyTorch model's state dict has the same)."""
    hidden, inner = config.hidden_size, config.intermediate_size
    shapes: dict[str, tuple[int, ...]] = {
        "encoder.embeddings.word_embeddings.weight": (config.vocab_size, hidden),
        "encoder.embeddings.position_embeddings.weight": (config.max_position_embeddings, hidden),
        "encoder.embeddings.token_type_embeddings.weight": (config.type_vocab_size, hidden),
        "encoder.embeddings.norm.weight": (hidden,),
        "encoder.embeddings.norm.bias": (hidden,),
    }
    linears = {  # name: (out_features, in_features), as nn.Linear stores its weight
        "attention.qkv": (3 * hidden, hidden),
        "attention.out": (hidden, hidden),
        "feed_forward.intermediate": (inner, hidden),
        "feed_forward.output": (hidden, inner),
    }
    for i in range(config.num_hidden_layers):
        prefix = f"encoder.layers.{i}."
        for name, (out_features, in_features) in linears.items():
            shapes[f"{prefix}{name}.weight"] = (out_features, in_features)
            shapes[f"{prefix}{name}.bias"] = (out_features,)
        for norm in ("attention_norm", "output_norm"):
            shapes[f"{prefix}{norm}.weight"] = (hidden,)
            shapes[f"{prefix}{norm}.bias"] = (hidden,)
    return shapes


def _canonical(name: str) -> str:
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    return name.replace("LayerNorm.gamma", "LayerNorm.weight").replace(
        "LayerNorm.beta", "LayerNorm.bias"
    )


def map_checkpoint(
    tensors: Mapping[str, T],
    config: MiniLMConfig,
    *,
    shapes: Mapping[str, tuple[int, ...]],
    join: Callable[[Sequence[T]], T],
    source: Path | None = None,
) -> dict[str, T]:
    """Turn Hugging Face ``BertModel`` tensors into ours, named as in ``parameter_sources``.

    ``join`` concatenates tensors along the first axis (``torch.cat``, ``np.concatenate``);
    ``shapes`` is what each of ours must be. Raises ``WeightsMismatchError`` listing every
    missing, unexpected and misshapen tensor; ``source`` (the checkpoint file) is named in it.
    """
    state = {_canonical(k): v for k, v in tensors.items()}
    ours: dict[str, T] = {}
    used: set[str] = set()
    missing: list[str] = []
    for our_name, hf_names in parameter_sources(config.num_hidden_layers).items():
        parts = []
        for hf_name in hf_names:
            if hf_name in state:
                used.add(hf_name)
                parts.append(state[hf_name])
            else:
                missing.append(hf_name)
        if len(parts) == len(hf_names):
            ours[our_name] = parts[0] if len(parts) == 1 else join(parts)

    unexpected = sorted(k for k in state if k not in used and not _UNUSED.match(k))
    misshapen = [
        f"{name} {tuple(t.shape)} != {tuple(shapes[name])}"
        for name, t in ours.items()
        if tuple(t.shape) != tuple(shapes[name])
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


def unreadable(path: Path, exc: Exception) -> ModelFilesError:
    """The error for a weights file that the reader refused."""
    return ModelFilesError(
        f"{path}: cannot read weights ({type(exc).__name__}: {exc}); "
        "the file is damaged: replace it or reinstall the model"
    )


# safetensors dtype names -> NumPy; bfloat16 (no NumPy type) is widened to float32 on reading.
_NUMPY_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Read a safetensors file into NumPy arrays that share the file's pages: no copy.

    ``safetensors.safe_open`` validates the header first (offsets inside the file, byte sizes
    that fit shapes and dtypes); the arrays are then read-only views of one memory map, so
    loading costs about a millisecond and a query pages in only the word-embedding rows it uses.
    bfloat16 tensors are widened to float32 (a copy). The file must not be rewritten in place
    while the arrays are in use (replacing it, as pip does, is safe).
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np"):
            pass  # the header is valid: the offsets below are safe to use
        with open(path, "rb") as fh:
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        raw = np.frombuffer(mapped, dtype=np.uint8)
        header_size = int.from_bytes(raw[:8].tobytes(), "little")
        header = json.loads(raw[8 : 8 + header_size].tobytes())
    except Exception as exc:
        raise unreadable(path, exc) from exc
    data = raw[8 + header_size :]
    arrays: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        chunk, shape = data[begin:end], tuple(entry["shape"])
        if entry["dtype"] == "BF16":  # the high half of a float32
            widened = chunk.view("<u2").astype(np.uint32) << 16
            arrays[name] = widened.view(np.float32).reshape(shape)
        elif entry["dtype"] in _NUMPY_DTYPES:
            array = chunk.view(_NUMPY_DTYPES[entry["dtype"]]).reshape(shape)
            # An odd offset would make every matmul on it slow: copy it once instead.
            arrays[name] = array if array.flags.aligned else array.copy()
        else:
            raise ModelFilesError(
                f"{path}: tensor {name} has dtype {entry['dtype']}, which NumPy cannot hold; "
                "convert the checkpoint to float32"
            )
    return arrays
