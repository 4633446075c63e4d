"""The MiniLM network in NumPy float32, in reading order: the normal CDF and the activations,
LayerNorm, dense layers, attention, feed-forward, layer, ``NumpyMiniLM`` that ties them together,
and pooling.

The same network as ``minilm.model`` (transformers' ``BertModel``: post-LN, exact GELU,
``layer_norm_eps``, additive attention mask; then sentence-transformers' pooling and L2
normalisation), for embedding queries without importing torch. Weights come from a safetensors
file through ``minilm.checkpoint``, with the names and shape checks the PyTorch loader uses.
Hidden states stay (B * T, H) between layers, so every dense layer is one matrix product.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from minilm.checkpoint import map_checkpoint, parameter_shapes, read_safetensors
from minilm.config import MiniLMConfig


def _normal_cdf_taylor_table(step: float, limit: float, degree: int) -> np.ndarray:
    """Taylor coefficients of the normal CDF at the nodes -limit, -limit + step, ... limit:
    (degree + 1, nodes).

    Row 0 is Phi(c) = erfc(-c / sqrt 2) / 2 (``math.erfc``: accurate in the left tail too);
    row k is the k-th derivative over k!, from Phi^(n+1)(c) = (-1)^n He_n(c) phi(c), with the
    normal density phi and the Hermite polynomials He_0 = 1, He_1 = c,
    He_(n+1) = c He_n - n He_(n-1). Exact formulas, no fitted constants.
    """
    nodes = np.arange(-limit, limit + step / 2, step)  # multiples of the step: exact
    table = np.empty((degree + 1, nodes.size))
    table[0] = [0.5 * math.erfc(-c / math.sqrt(2)) for c in nodes.tolist()]
    density = np.exp(-0.5 * nodes * nodes) / math.sqrt(2 * math.pi)
    previous, hermite = np.zeros_like(nodes), np.ones_like(nodes)
    for n in range(degree):
        table[n + 1] = (-1) ** n * hermite * density / math.factorial(n + 1)
        previous, hermite = hermite, nodes * hermite - n * previous
    return table


# Phi(x) from the nearest node, at most 1/512 away, by a cubic Taylor step: the first dropped
# term, Phi''''(c) d^4 / 4!, is below 4e-13 (|Phi''''| <= 0.6) and, in the left tail, below
# (|c| d)^4 / 24 <= 6e-9 of Phi itself. Past +-10, Phi is 1 or below 8e-24: the end nodes'.
_CDF_STEP = 1 / 256  # a power of two: nodes, and x minus its node, are exact in float32
_CDF_LIMIT = 10.0
_CDF_TABLE = _normal_cdf_taylor_table(_CDF_STEP, _CDF_LIMIT, degree=3)
_CDF_ZERO = round(_CDF_LIMIT / _CDF_STEP)  # the index of node 0


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2 element by element, in float64: absolute error below
    1e-12 and relative error below 1e-8 (NumPy has no erf; ``math.erf`` one element at a time
    is slow).

    float32 input stays float32 up to the Taylor step, which is faster: the nearest node c is a
    multiple of a power of two and at most half a step away, so x - c is exact in float32.
    """
    x = np.asarray(x)
    kind = np.float32 if x.dtype == np.float32 else np.float64
    v = np.clip(x, kind(-_CDF_LIMIT), kind(_CDF_LIMIT))
    scaled = np.rint(v * kind(1 / _CDF_STEP))  # the nearest node, in steps from 0
    with np.errstate(invalid="ignore"):  # NaN: any node will do, d is NaN and so is Phi
        node = scaled.astype(np.intp)
    node += _CDF_ZERO
    d = (v - scaled * kind(_CDF_STEP)).astype(np.float64)  # x - c, exact
    c0, c1, c2, c3 = (row.take(node, mode="clip") for row in _CDF_TABLE)
    y = c3
    y *= d
    y += c2
    y *= d
    y += c1
    y *= d
    y += c0
    return y


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, x * Phi(x), as BERT's "gelu" (torch's default); float32 in and out, computed
    in float64 and rounded once."""
    y = normal_cdf(x)
    y *= x
    return y.astype(np.float32)


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """The tanh approximation of GELU (transformers' "gelu_new")."""
    inner = np.float32(math.sqrt(2 / math.pi)) * (x + np.float32(0.044715) * x * x * x)
    return np.float32(0.5) * x * (np.float32(1) + np.tanh(inner))


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, np.float32(0))


ACTIVATIONS = {"gelu": gelu, "gelu_new": gelu_tanh, "relu": relu}


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """Normalise each row (last axis) to zero mean and unit variance, then scale and shift."""
    centred = x - x.mean(axis=-1, keepdims=True)
    variance = np.mean(centred * centred, axis=-1, keepdims=True)  # biased, as torch
    centred *= 1 / np.sqrt(variance + np.float32(eps))
    centred *= weight
    centred += bias
    return centred


# Up to this many rows (tokens in a batch), a dense layer is computed as (weight @ x.T).T: BLAS
# then streams the weight in its stored (out, in) order, faster than x @ weight.T for a query;
# for more rows x @ weight.T is as fast and its row-major result suits attention's reshape
# (the comparison: benchmarks/RESULTS.md, "NumPy encoder").
FEW_ROWS = 64


def dense(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``nn.Linear``: x (N, in) -> x @ weight.T + bias, (N, out); weight (out, in) as stored."""
    if x.shape[0] <= FEW_ROWS:
        y = weight @ x.T  # (out, N)
        y += bias[:, None]
        return y.T  # a transposed view; the next layer's x.T is then contiguous
    y = x @ weight.T
    y += bias
    return y


def softmax(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in place; a row's largest score is subtracted first."""
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return scores


class NumpyMiniLM:
    """MiniLM weights as float32 arrays, and the forward pass: token ids -> (B, H) vectors.

    ``params`` are named as the PyTorch model's state dict (``encoder.layers.0.attention.qkv
    .weight`` ...); ``from_safetensors`` reads and maps a checkpoint into them.
    """

    def __init__(self, config: MiniLMConfig, params: Mapping[str, np.ndarray]) -> None:
        shapes = parameter_shapes(config)
        if set(params) != set(shapes):
            missing, extra = sorted(set(shapes) - set(params)), sorted(set(params) - set(shapes))
            raise ValueError(f"params do not fit the config: missing {missing}, extra {extra}")
        self.config = config
        # float32 views of the (memory-mapped) arrays; wider or narrower ones are converted once.
        self.params = {name: np.asarray(a, dtype=np.float32) for name, a in params.items()}
        # Each layer's arrays by their name inside the layer ("attention.qkv.weight" ...).
        self._layers = [
            {
                name[len(prefix) :]: array
                for name, array in self.params.items()
                if name.startswith(prefix)
            }
            for prefix in (f"encoder.layers.{i}." for i in range(config.num_hidden_layers))
        ]
        self._act = ACTIVATIONS[config.hidden_act]

    @classmethod
    def from_safetensors(cls, path: Path, config: MiniLMConfig) -> NumpyMiniLM:
        """Read a safetensors checkpoint (memory-mapped) into a model of ``config``'s shape;
        ``WeightsMismatchError`` lists every tensor that does not fit."""
        params = map_checkpoint(
            read_safetensors(path),
            config,
            shapes=parameter_shapes(config),
            join=np.concatenate,  # query, key, value -> one (3H, H) qkv
            source=path,
        )
        return cls(config, params)

    # -- the network, in reading order ---------------------------------------------------------

    def embed(self, input_ids: np.ndarray, token_type_ids: np.ndarray | None) -> np.ndarray:
        """Word + position + token-type embeddings, then LayerNorm: (B, T) -> (B * T, H)."""
        p = self.params
        batch, seq_len = input_ids.shape
        x = p["encoder.embeddings.word_embeddings.weight"][input_ids]  # (B, T, H), rows copied
        x += p["encoder.embeddings.position_embeddings.weight"][:seq_len]
        token_types = p["encoder.embeddings.token_type_embeddings.weight"]
        x += token_types[0] if token_type_ids is None else token_types[token_type_ids]
        x = x.reshape(batch * seq_len, self.config.hidden_size)
        eps = self.config.layer_norm_eps
        return layer_norm(
            x, p["encoder.embeddings.norm.weight"], p["encoder.embeddings.norm.bias"], eps
        )

    def attention(
        self, x: np.ndarray, layer: dict[str, np.ndarray], batch: int, mask: np.ndarray | None
    ) -> np.ndarray:
        """Multi-head self-attention with the fused qkv projection: (B * T, H) -> (B * T, H)."""
        heads, head_dim = self.config.num_attention_heads, self.config.head_dim
        seq_len = x.shape[0] // batch
        qkv = dense(x, layer["attention.qkv.weight"], layer["attention.qkv.bias"])  # (B*T, 3H)
        # Row-major first, so that each head's (T, hd) block is a few cache lines per token.
        qkv = np.ascontiguousarray(qkv).reshape(batch, seq_len, 3, heads, head_dim)
        qkv = qkv.transpose(2, 0, 3, 1, 4)
        q, k, v = qkv  # 3 x (B, nh, T, hd)
        scores = q @ k.transpose(0, 1, 3, 2)  # (B, nh, T, T)
        scores *= np.float32(1 / math.sqrt(head_dim))
        if mask is not None:
            scores += mask  # (B, 1, 1, T): 0 where a key may be attended, -inf on padding
        y = softmax(scores) @ v  # (B, nh, T, hd)
        y = y.transpose(0, 2, 1, 3).reshape(batch * seq_len, heads * head_dim)  # (B*T, H)
        return dense(y, layer["attention.out.weight"], layer["attention.out.bias"])

    def feed_forward(self, x: np.ndarray, layer: dict[str, np.ndarray]) -> np.ndarray:
        """Expand, activate, project back: (B * T, H) -> (B * T, H)."""
        h = dense(
            x, layer["feed_forward.intermediate.weight"], layer["feed_forward.intermediate.bias"]
        )  # (B*T, I)
        return dense(
            self._act(h), layer["feed_forward.output.weight"], layer["feed_forward.output.bias"]
        )

    def transformer_layer(
        self, x: np.ndarray, layer: dict[str, np.ndarray], batch: int, mask: np.ndarray | None
    ) -> np.ndarray:
        """Post-LN block: x = LN(x + attn(x)); x = LN(x + ffn(x))."""
        eps = self.config.layer_norm_eps
        x = layer_norm(
            x + self.attention(x, layer, batch, mask),
            layer["attention_norm.weight"],
            layer["attention_norm.bias"],
            eps,
        )
        return layer_norm(
            x + self.feed_forward(x, layer),
            layer["output_norm.weight"],
            layer["output_norm.bias"],
            eps,
        )

    def token_states(
        self,
        input_ids: np.ndarray,
        attention_mask: np.ndarray,
        token_type_ids: np.ndarray | None = None,
    ) -> np.ndarray:
        """The last layer's token states, (B, T, H) float32 (``BertModel.last_hidden_state``)."""
        batch, seq_len = input_ids.shape
        x = self.embed(input_ids, token_type_ids)
        # Additive mask, 0 where a key may be attended and -inf on padding: (B, 1, 1, T)
        # broadcasts over heads and queries. Without padding (one query) it would add 0.0
        # everywhere: skipped, as the PyTorch model does.
        mask = None
        if not attention_mask.all():
            mask = np.where(attention_mask.astype(bool), np.float32(0), np.float32(-np.inf))
            mask = mask[:, None, None, :]
        for layer in self._layers:
            x = self.transformer_layer(x, layer, batch, mask)
        return x.reshape(batch, seq_len, self.config.hidden_size)

    def __call__(
        self,
        input_ids: np.ndarray,
        attention_mask: np.ndarray,
        token_type_ids: np.ndarray | None = None,
    ) -> np.ndarray:
        """Sentence vectors (B, H) float32: token states, pooling, L2 normalisation."""
        input_ids, attention_mask = np.asarray(input_ids), np.asarray(attention_mask)
        if input_ids.ndim != 2 or input_ids.shape != attention_mask.shape:
            raise ValueError(
                f"input_ids {input_ids.shape} and attention_mask {attention_mask.shape} "
                "must both be (batch, seq_len)"
            )
        if input_ids.shape[1] > self.config.max_position_embeddings:
            raise ValueError(
                f"sequence length ({input_ids.shape[1]}) must be at most "
                f"{self.config.max_position_embeddings} (max_position_embeddings); "
                "truncate with the tokenizer's max_length"
            )
        states = self.token_states(input_ids, attention_mask, token_type_ids)
        pooled = pool(states, attention_mask, self.config.pooling_mode)
        if self.config.normalize:
            pooled = normalize(pooled)
        return pooled


def pool(token_states: np.ndarray, attention_mask: np.ndarray, mode: str) -> np.ndarray:
    """Pool token states (B, T, H) into one vector per sentence (B, H), padding left out."""
    if mode == "cls":
        return token_states[:, 0].copy()
    mask = attention_mask.astype(np.float32)[:, :, None]  # (B, T, 1)
    if mode == "max":
        return np.where(mask > 0, token_states, np.float32(-np.inf)).max(axis=1)
    summed = (token_states * mask).sum(axis=1)  # (B, H)
    counts = np.maximum(mask.sum(axis=1), np.float32(1e-9))  # (B, 1); guards all-padding rows
    return summed / counts


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (``F.normalize``: a zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))
