"""Importing a sentence-transformers ONNX export into our modules.

The exporter keeps the names of biases, embeddings and LayerNorms but gives the MatMul weights
anonymous names (``onnx::MatMul_470``). We recover each weight by following the graph: the named
bias feeds an ``Add`` whose other input is the output of the ``MatMul`` that holds the weight.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from minilm.errors import ModelFilesError

_LINEAR_BIAS = re.compile(
    r"(.*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense"
    r"|intermediate\.dense|output\.dense))\.bias$"
)


def _require_onnx() -> Any:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as exc:
        raise ModelFilesError(
            "reading an ONNX model needs the onnx package: pip install 'searchapp[onnx]'"
        ) from exc
    return onnx, numpy_helper


@functools.lru_cache(maxsize=2)
def read_onnx_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Return (Hugging Face-named tensors, config dict) recovered from an ONNX BERT export."""
    onnx, numpy_helper = _require_onnx()
    try:
        graph = onnx.load(str(path)).graph
    except Exception as exc:
        raise ModelFilesError(
            f"{path}: not a readable ONNX model ({exc}); replace the file"
        ) from exc
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    tensors: dict[str, torch.Tensor] = {}
    for name, array in arrays.items():
        if name.startswith("onnx::"):
            continue  # anonymous: recovered below from the graph
        tensors[name] = torch.from_numpy(np.array(array, dtype=np.float32))
        match = _LINEAR_BIAS.match(name)
        if not match:
            continue
        weight = _weight_feeding(name, consumers, producers, arrays)
        if weight is None:
            raise ModelFilesError(f"{path}: cannot find the MatMul weight that feeds bias {name}")
        # ONNX MatMul holds (in, out); nn.Linear wants (out, in).
        tensors[f"{match.group(1)}.weight"] = torch.from_numpy(np.ascontiguousarray(weight.T))
    return tensors, _infer_config(path, graph, tensors, arrays)


def _weight_feeding(
    bias: str, consumers: dict[str, list[Any]], producers: dict[str, Any], arrays: dict
) -> np.ndarray | None:
    for add in consumers.get(bias, []):
        if add.op_type != "Add":
            continue
        for other in add.input:
            matmul = producers.get(other)
            if matmul is None or matmul.op_type != "MatMul":
                continue
            for operand in matmul.input:
                if operand in arrays and arrays[operand].ndim == 2:
                    return arrays[operand]
    return None


def _infer_config(
    path: Path, graph: Any, tensors: dict[str, torch.Tensor], arrays: dict
) -> dict[str, Any]:
    def find(suffix: str) -> torch.Tensor:
        for name, tensor in tensors.items():
            if name.endswith(suffix):
                return tensor
        raise ModelFilesError(f"{path}: no {suffix} tensor; is this a BERT export?")

    vocab_size, hidden_size = find("embeddings.word_embeddings.weight").shape
    layers = {int(m.group(1)) for n in tensors if (m := re.search(r"encoder\.layer\.(\d+)\.", n))}
    intermediate_size = find("encoder.layer.0.intermediate.dense.bias").shape[0]
    eps = 1e-12
    head_dim = None
    producers = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        if node.op_type == "LayerNormalization":
            eps = next((a.f for a in node.attribute if a.name == "epsilon"), eps)
        if node.op_type in ("Div", "Mul") and head_dim is None:
            # Attention scores: (Q @ K^T) / sqrt(head_dim), or * 1/sqrt(head_dim).
            scores = producers.get(node.input[0])
            if (
                scores is None
                or scores.op_type != "MatMul"
                or any(i in arrays for i in scores.input)
            ):
                continue
            scale = _constant(graph, arrays, node.input[1])
            if scale is not None and scale.size == 1 and float(scale) > 0:
                value = float(scale) if node.op_type == "Div" else 1.0 / float(scale)
                head_dim = round(value * value)
    heads = hidden_size // head_dim if head_dim and hidden_size % head_dim == 0 else None
    if heads is None:
        raise ModelFilesError(f"{path}: cannot tell the number of attention heads from the graph")
    return {
        "model_type": "bert",
        "vocab_size": int(vocab_size),
        "hidden_size": int(hidden_size),
        "num_hidden_layers": len(layers),
        "num_attention_heads": heads,
        "intermediate_size": int(intermediate_size),
        "max_position_embeddings": int(find("embeddings.position_embeddings.weight").shape[0]),
        "type_vocab_size": int(find("embeddings.token_type_embeddings.weight").shape[0]),
        "layer_norm_eps": float(eps),
        "hidden_act": "gelu",  # the export computes Erf: exact GELU
    }


def _constant(graph: Any, arrays: dict, name: str) -> np.ndarray | None:
    if name in arrays:
        return np.asarray(arrays[name])
    from onnx import numpy_helper

    for node in graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            for attr in node.attribute:
                if attr.name == "value":
                    return numpy_helper.to_array(attr.t)
    return None
