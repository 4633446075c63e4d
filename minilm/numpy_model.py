"""The MiniLM network in NumPy float32, in reading order: erf and the activations, LayerNorm,
embeddings, attention, feed-forward, layer, pooling, and ``NumpyMiniLM`` that ties them together.

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


def _erf_taylor_table(step: float, limit: float, degree: int) -> np.ndarray:
    """Taylor coefficients of erf at the nodes 0, step, 2 step, ... limit: (degree + 1, nodes).

    Row 0 is erf(c) (from ``math.erf``); row k is erf's k-th derivative at c over k!, from
    erf^(n+1)(c) = 2/sqrt(pi) (-1)^n H_n(c) exp(-c^2) with the Hermite polynomials
    H_0 = 1, H_1 = 2c, H_(n+1) = 2c H_n - 2n H_(n-1). Exact formulas, no fitted constants.
    """
    nodes = np.arange(0.0, limit + step / 2, step)
    table = np.empty((degree + 1, len(nodes)))
    for j, c in enumerate(nodes.tolist()):
        scale = 2 / math.sqrt(math.pi) * math.exp(-c * c)
        hermite = [1.0, 2 * c]
        while len(hermite) < degree:
            n = len(hermite) - 1
            hermite.append(2 * c * hermite[n] - 2 * n * hermite[n - 1])
        table[0, j] = math.erf(c)
        for n in range(degree):
            table[n + 1, j] = scale * (-1) ** n * hermite[n] / math.factorial(n + 1)
    return table


# erf(|x|) from the nearest node at most 1/512 away: a cubic Taylor step has an error below 3e-12
# (the first dropped term, erf's 4th derivative * d^4 / 4!, is at most 2.2 * (1/512)^4 / 24).
# Past 6, erf is 1 - 2e-17: 1.0 in float64.
_ERF_STEP = 1 / 256
_ERF_LIMIT = 6.0
_ERF_TABLE = _erf_taylor_table(_ERF_STEP, _ERF_LIMIT, degree=3)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, element by element, in float64: absolute error below 3e-12, relative
    error below 1e-10 (NumPy has no erf, and ``math.erf`` one element at a time is slow).

    float32 input stays float32 up to the Taylor step, which is twice as fast: the node c is a
    multiple of a power of two at most half a step from |x|, so |x| - c is exact in float32.
    """
    x = np.asarray(x)
    kind = np.float32 if x.dtype == np.float32 else np.float64
    a = np.abs(x, dtype=kind)
    np.fmin(a, kind(_ERF_LIMIT), out=a)  # NaN becomes 6 here and NaN again by its sign below
    node = (a * kind(1 / _ERF_STEP) + kind(0.5)).astype(np.intp)  # index of the nearest node
    d = (a - node.astype(kind) * kind(_ERF_STEP)).astype(np.float64)  # |x| - c, exact
    c0, c1, c2, c3 = _ERF_TABLE
    y = c3.take(node)
    y *= d
    y += c2.take(node)
    y *= d
    y += c1.take(node)
    y *= d
    y += c0.take(node)
    y *= np.sign(x)  # erf is odd; sign(NaN) is NaN
    return y


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, x * Phi(x) = x/2 * (1 + erf(x / sqrt 2)), as BERT's "gelu"; float32 in, out.

    1 + erf is formed in float64 and rounded to float32 once, at the end.
    """
    y = erf(x * np.float32(1 / math.sqrt(2)))  # the argument rounded to float32, as torch does
    y += 1.0
    y *= x * np.float32(0.5)
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
