"""The MiniLM network, in reading order: embeddings, attention, feed-forward, layer, encoder,
pooling, and the sentence-embedding model that ties them together.

It reproduces transformers' ``BertModel`` (post-LN, exact GELU, ``layer_norm_eps``) followed by
sentence-transformers' masked mean pooling and L2 normalisation. Inference only.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from minilm import cpu_kernels, fused_attention
from minilm.batching import BATCH_TOKENS
from minilm.config import MiniLMConfig
from minilm.devices import (
    cpu_contended,
    cpu_has_amx,
    cpu_has_native_bf16,
    cpu_prefers_onednn_fp32,
)


class Embeddings(nn.Module):
    """Word + position + token-type embeddings, then LayerNorm and dropout."""

    def __init__(self, config: MiniLMConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(
            config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id
        )
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.norm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None) -> torch.Tensor:
        seq_len = input_ids.shape[1]
        positions = torch.arange(seq_len, device=input_ids.device)  # (T,)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)  # (B, T, H)
        if token_type_ids is None:
            # Every sentence is segment 0: add that row once instead of a (B, T) lookup.
            x = x + self.token_type_embeddings.weight[0]
        else:
            x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.norm(x))


# bf16 on the CPU, where the CPU computes bf16 natively (as the encoder's bf16 precision requires
# anyway): every dense layer is one oneDNN matmul on a weight packed once into oneDNN's blocked
# layout, with the feed-forward's activation or the residual addition applied to its fp32
# accumulator (``mkldnn._linear_pointwise``, the kernels torch.compile's CPU backend emits with
# frozen weights); and a batch of long sequences runs packed, its padding dropped, with
# attention one sequence at a time. On an AMD EPYC (Zen 4) each made bf16 encoding faster with
# vectors as close to fp32 or closer (benchmarks/RESULTS.md, "Encoder"). fp32 dense layers take
# the same oneDNN matmul where torch's own (MKL) runs at half its rate (AMD CPUs with AVX-512):
# vectors within 2e-7 of MKL's. Inference only: with autograd on, in training or under
# autocast, the plain path runs.
FUSED_ACTIVATIONS = {"gelu": ("gelu", "none"), "gelu_new": ("gelu", "tanh"), "relu": ("relu", "")}
# Without the fused attention kernel, from this padded length on a batch runs packed
# (``MiniLMModel.forward``): PyTorch's attention one sequence at a time beats the batched
# kernel, its scores stay in cache and no padding is computed (crossover measured near 96 on
# Zen 4). Not on CPUs with AMX, where the batched flash kernel runs on AMX tiles and the choice
# is unmeasured.
PER_SEQUENCE_MIN_LENGTH = 96
# Packed, each sequence's scores are (nh, n, n); the softmax over rows of bf16 runs in vectors of
# 32 and finishes a row's remainder slowly: 0.77 ns an element at n = 190 against 0.39 at 192
# (Zen 4). Scores rows are padded to a multiple of this with -inf (weight 0, ``_packed``).
SOFTMAX_COLUMNS = 32
# A packed batch's rows are padded up to a multiple of this (a power of two up to it): oneDNN
# compiles its matmul anew for each row count it has not seen in the process, ~16 ms for each
# of the four dense layers on AMX, as long as a 4096-token layer's compute, and a packed
# batch's row count is its token count (benchmarks/RESULTS.md, "Encoder").
PACKED_ROWS_MULTIPLE = 128


@functools.cache
def onednn_dense() -> bool:
    """Whether this torch has oneDNN's matmul on a packed weight with the activation or the
    residual fused (``mkldnn._linear_pointwise``)."""
    return (
        torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_linear_pointwise")
        and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
        and "binary" in torch.ops.mkldnn._linear_pointwise.overloads()
    )


@functools.cache
def fuse_bf16_cpu() -> bool:
    """Whether this torch has the oneDNN kernels above and the CPU computes bf16 natively."""
    return onednn_dense() and cpu_has_native_bf16()


@functools.cache
def fuse_fp32_cpu() -> bool:
    """Whether fp32 dense layers run on oneDNN too: where torch's own fp32 matmul (MKL) runs
    at half oneDNN's rate (``devices.cpu_prefers_onednn_fp32``)."""
    return onednn_dense() and cpu_prefers_onednn_fp32()


def cpu_inference(x: torch.Tensor) -> bool:
    """Whether ``x`` is on the CPU with autograd and autocast off."""
    return x.device.type == "cpu" and not (
        torch.is_grad_enabled() or torch.is_autocast_enabled("cpu")
    )


def fused_cpu_path(x: torch.Tensor) -> bool:
    """Whether dense layers on ``x`` run as oneDNN matmuls on packed weights: inference on the
    CPU, in bf16 (``fuse_bf16_cpu``) or fp32 (``fuse_fp32_cpu``)."""
    if not cpu_inference(x):
        return False
    if x.dtype == torch.bfloat16:
        return fuse_bf16_cpu()
    return x.dtype == torch.float32 and fuse_fp32_cpu()


def bf16_cpu_path(x: torch.Tensor) -> bool:
    """Whether ``x`` takes the bf16 CPU kernels above (batches packed without padding too)."""
    return x.dtype == torch.bfloat16 and fused_cpu_path(x)


def packed_rows(tokens: int) -> int:
    """The row count a packed batch of ``tokens`` runs at: the next power of two up to
    ``PACKED_ROWS_MULTIPLE``, then the next multiple of it (a few dozen row counts in all)."""
    if tokens <= PACKED_ROWS_MULTIPLE:
        return 1 << (tokens - 1).bit_length() if tokens else 0
    return -(-tokens // PACKED_ROWS_MULTIPLE) * PACKED_ROWS_MULTIPLE


def prefix_lengths(attn_mask: torch.Tensor | None, batch: int, seq_len: int) -> list[int] | None:
    """Each row's token count when every row's real tokens come first (right padding, as the
    tokenizer pads); None for any other mask."""
    if attn_mask is None:
        return [seq_len] * batch
    mask = attn_mask.reshape(batch, seq_len)
    counts = mask.sum(dim=1)
    if not torch.equal(mask, torch.arange(seq_len, device=mask.device) < counts[:, None]):
        return None
    return counts.tolist()


class Dense(nn.Linear):
    """``nn.Linear`` with an optional activation (``"gelu"``, ``"gelu_new"``, ``"relu"``), or
    with a residual added to its output.

    On the CPU in inference (``fused_cpu_path``: bf16, and fp32 where MKL is slow) it is one
    oneDNN matmul on a packed copy of the weight (``packed_weight``); the state dict holds only
    the plain weight. The activation or the residual is applied to the fp32 accumulator, so a
    bf16 output is rounded once.
    """

    def __init__(self, in_features: int, out_features: int, activation: str | None = None) -> None:
        super().__init__(in_features, out_features)
        self.activation = activation
        # (the weight packed, its version then, the packed copy)
        self._packed: tuple[torch.Tensor, int, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        if residual is not None and self.activation is not None:
            raise ValueError("Dense adds a residual only without an activation")
        if x.dtype == self.weight.dtype and fused_cpu_path(x):
            if residual is not None:
                return torch.ops.mkldnn._linear_pointwise.binary(
                    x, residual, self.packed_weight(), self.bias, "add"
                )
            name, algorithm = FUSED_ACTIVATIONS.get(self.activation or "", ("none", ""))
            return torch.ops.mkldnn._linear_pointwise(
                x, self.packed_weight(), self.bias, name, [], algorithm
            )
        h = F.linear(x, self.weight, self.bias)
        if self.activation == "gelu":
            return F.gelu(h)  # exact (erf) GELU, as BERT's "gelu"
        if self.activation == "gelu_new":
            return F.gelu(h, approximate="tanh")
        if self.activation == "relu":
            return F.relu(h)
        return h if residual is None else h + residual

    def packed_weight(self) -> torch.Tensor:
        """The weight in oneDNN's blocked layout for ``BATCH_TOKENS`` rows, packed on first use
        and again after any change autograd tracks (a new or cast tensor, an in-place update;
        not one through ``.data``). The weight seen is kept, so its memory cannot be reused by
        another. An inference tensor (a model built under inference_mode) tracks no changes:
        it is used unpacked. A change that bumps no version (torch.optim.Adam(fused=True) on
        the CPU) is not seen: inference only, as the kernel is."""
        weight = self.weight
        if weight.is_inference():
            return weight
        cached = self._packed
        if cached is None or not (
            cached[0].data_ptr() == weight.data_ptr()
            and cached[0].dtype == weight.dtype
            and cached[1] == weight._version
        ):
            packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach(), BATCH_TOKENS)
            self._packed = cached = (weight.detach(), weight._version, packed)
        return cached[2]

    def _apply(self, fn: Any, recurse: bool = True) -> Dense:
        self._packed = None  # moved or cast: the weight is replaced, free its packed copy
        return super()._apply(fn, recurse)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()  # a packed oneDNN tensor cannot be copied or pickled
        return {**state, "_packed": None}


class LayerNorm(nn.LayerNorm):
    """``nn.LayerNorm``; on the bf16 CPU path (``bf16_cpu_path``) the C kernel where it runs
    (``cpu_kernels.layer_norm``: in fp32 as torch's, at twice its speed on Zen 5)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            self.weight is not None
            and self.bias is not None
            and self.weight.dtype == x.dtype
            and bf16_cpu_path(x)
            and x.shape[-1] in cpu_kernels.NORM_WIDTHS
            and cpu_kernels.runs()
        ):
            return cpu_kernels.layer_norm(x, self.weight, self.bias, self.eps)
        return super().forward(x)


class SelfAttention(nn.Module):
    """Multi-head self-attention with one fused query/key/value projection."""

    def __init__(self, config: MiniLMConfig) -> None:
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.head_dim
        # One (3H, H) matmul instead of three (H, H) ones; rows are [query; key; value].
        self.qkv = Dense(config.hidden_size, 3 * config.hidden_size)
        self.out = Dense(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attention_probs_dropout_prob
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self, x: torch.Tensor, attn_mask: torch.Tensor | None, lengths: list[int] | None = None
    ) -> torch.Tensor:
        """``x`` plus the attention output (the residual sum, before the layer's norm).

        ``x`` is (B, T, H) with ``attn_mask``, or with ``lengths`` (N, H): sequences of those
        lengths back to back, no padding (``MiniLMModel.forward``, inference only).
        """
        if lengths is not None:
            qkv = self.qkv(x).view(x.shape[0], 3, self.num_heads, self.head_dim)
            return self.out(self._packed(qkv, lengths), residual=x)
        batch, seq_len, hidden = x.shape
        qkv = self.qkv(x).view(batch, seq_len, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, nh, T, hd)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout_p if self.training else 0.0
        )  # (B, nh, T, hd)
        y = y.transpose(1, 2).reshape(batch, seq_len, hidden)  # (B, T, H)
        if self.training:
            return x + self.dropout(self.out(y))
        return self.out(y, residual=x)

    def _packed(self, qkv: torch.Tensor, lengths: list[int]) -> torch.Tensor:
        """Attention of each sequence over its own tokens; ``qkv`` is (N, 3, nh, hd), the
        sequences back to back. The fused C kernel where it runs (``minilm/fused_attention.py``);
        otherwise PyTorch's, one sequence at a time, its (nh, n, n) scores in cache, their rows
        padded to a multiple of ``SOFTMAX_COLUMNS`` keys: -inf scores, zero values."""
        tokens, _, heads, head_dim = qkv.shape
        if fused_attention.available(head_dim, qkv.dtype):
            return fused_attention.packed_attention(qkv, lengths)
        y = qkv.new_empty(tokens, heads, head_dim)
        unused = qkv.new_empty(1, 1, 1)  # baddbmm's input, ignored with beta=0
        width = -(-max(lengths) // SOFTMAX_COLUMNS) * SOFTMAX_COLUMNS
        scores_memory = qkv.new_empty(heads * max(lengths) * width)
        values_memory = qkv.new_empty(heads, width, head_dim)
        start = 0
        for n in lengths:
            q, k, v = qkv[start : start + n].permute(1, 2, 0, 3).unbind(0)  # 3 x (nh, n, hd)
            out = y[start : start + n].transpose(0, 1)
            start += n
            keys = -(-n // SOFTMAX_COLUMNS) * SOFTMAX_COLUMNS
            scores = scores_memory[: heads * n * keys].view(heads, n, keys)
            values = values_memory[:, :keys]
            if keys > n:
                scores[:, :, n:].fill_(float("-inf"))
                values[:, n:].zero_()
            torch.baddbmm(
                unused, q, k.transpose(1, 2), beta=0.0, alpha=head_dim**-0.5, out=scores[:, :, :n]
            )
            values[:, :n].copy_(v)
            torch.bmm(torch.softmax(scores, dim=-1), values, out=out)
        return y.view(tokens, heads * head_dim)


class FeedForward(nn.Module):
    """Position-wise feed-forward: expand, activate, project back; returns ``x`` plus that."""

    def __init__(self, config: MiniLMConfig) -> None:
        super().__init__()
        self.intermediate = Dense(
            config.hidden_size, config.intermediate_size, activation=config.hidden_act
        )
        self.output = Dense(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return x + self.dropout(self.output(self.intermediate(x)))
        return self.output(self.intermediate(x), residual=x)


class TransformerLayer(nn.Module):
    """Post-LN block: x = LN(x + attn(x)); x = LN(x + ffn(x))."""

    def __init__(self, config: MiniLMConfig) -> None:
        super().__init__()
        self.attention = SelfAttention(config)
        self.attention_norm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = FeedForward(config)
        self.output_norm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(
        self, x: torch.Tensor, attn_mask: torch.Tensor | None, lengths: list[int] | None = None
    ) -> torch.Tensor:
        x = self.attention_norm(self.attention(x, attn_mask, lengths))
        return self.output_norm(self.feed_forward(x))


class MiniLMModel(nn.Module):
    """Embeddings and the stack of transformer layers; returns token states (B, T, H). What
    padded positions hold depends on the path taken (0 when the batch ran packed): read them
    only through the attention mask, as ``pool`` does."""

    def __init__(self, config: MiniLMConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.layers = nn.ModuleList(
            TransformerLayer(config) for _ in range(config.num_hidden_layers)
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = self.embeddings(input_ids, token_type_ids)  # (B, T, H)
        lengths = self._packable(x, attention_mask)
        if lengths is not None:
            real = attention_mask.bool()
            packed = x[real]  # (N, H): every row's real tokens, back to back
            tokens = packed.shape[0]
            rows = packed_rows(tokens)
            if rows > tokens:  # zero rows, attending among themselves as one more sequence
                packed = torch.cat([packed, packed.new_zeros(rows - tokens, packed.shape[1])])
                lengths = [*lengths, rows - tokens]
            for layer in self.layers:
                packed = layer(packed, None, lengths)
            return x.new_zeros(x.shape).index_put_((real,), packed[:tokens])  # padding 0
        # Boolean mask, True where a key may be attended: (B, 1, 1, T) broadcasts over heads
        # and queries. A batch without padding (one query) needs none: the mask would add 0.0
        # everywhere, and the unmasked kernel is faster (benchmarks/RESULTS.md, "Encoder").
        attn_mask = None
        if not bool(attention_mask.all()):
            attn_mask = attention_mask.bool()[:, None, None, :]
        for layer in self.layers:
            x = layer(x, attn_mask)
        return x

    def _packable(self, x: torch.Tensor, attention_mask: torch.Tensor) -> list[int] | None:
        """Each row's token count when the batch runs packed, without its padding: right-padded
        bf16 batches in inference, on CPUs with AMX only where the fused kernel runs on its
        tiles, and fp32 ones where its fp32 kernel runs (``packs_every_batch``); None otherwise.

        With the fused attention kernel (``minilm/fused_attention.py``) every such batch, one
        query included: it beat the batched kernel from 1 to 256 tokens, with other processes
        on the cores too (on AMX, its tile version beat PyTorch's flash kernel on the tiles).
        Without it attention is three small parallel regions per sequence and layer: only
        batches of ``PER_SEQUENCE_MIN_LENGTH`` tokens or more, only while no other process
        wants the cores (when one took a core, each region waited for the thread it held up,
        2-5x slower than the batched kernel: benchmarks/RESULTS.md), and not on AMX."""
        if self.training:
            return None
        if x.dtype == torch.float32 and cpu_inference(x) and self.packs_every_batch(x.dtype):
            # Unless packing adds rows (``packed_rows`` rounds them up): one query of 33 tokens
            # took 5.5 ms packed (64 rows) against 3.8 ms as it is, on Zen 5.
            lengths = prefix_lengths(attention_mask.bool(), x.shape[0], x.shape[1])
            if lengths is not None and packed_rows(sum(lengths)) <= x.shape[0] * x.shape[1]:
                return lengths
            return None
        if not bf16_cpu_path(x):
            return None
        # On AMX without the kernel's tile path, PyTorch's batched kernel runs on the tiles.
        if not self.packs_every_batch() and (
            cpu_has_amx() or x.shape[1] < PER_SEQUENCE_MIN_LENGTH or cpu_contended()
        ):
            return None
        return prefix_lengths(attention_mask.bool(), x.shape[0], x.shape[1])

    def packs_every_batch(self, dtype: torch.dtype = torch.bfloat16) -> bool:
        """Whether inference batches of ``dtype`` on the CPU run packed: every bf16 one where
        the fused attention kernel runs (on its tiles where the CPU has AMX); every fp32 one
        that packing does not make longer (``_packable``) where the fp32 kernel runs and either
        the dense layers take oneDNN (``fuse_fp32_cpu``: AMD's AVX-512 CPUs) or the CPU has no
        AVX-512 (the kernel's AVX2 pass: on a Zen 3 EPYC attention ran 2.4x PyTorch's flash
        kernel, benchmarks/RESULTS.md). On Intel's AVX-512 CPUs PyTorch's attention stays,
        unmeasured against it."""
        if dtype == torch.float32:
            return fused_attention.available(self.config.head_dim, torch.float32) and (
                fuse_fp32_cpu() or not fused_attention.fp32_avx512()
            )
        return (
            dtype == torch.bfloat16
            and fuse_bf16_cpu()
            and fused_attention.available(self.config.head_dim)
            and (not cpu_has_amx() or fused_attention.amx_available())
        )


def pool(token_states: torch.Tensor, attention_mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Pool token states (B, T, H) into one vector per sentence (B, H), in float32."""
    states = token_states.float()
    if mode == "cls":
        return states[:, 0]
    mask = attention_mask.unsqueeze(-1).to(states.dtype)  # (B, T, 1)
    if mode == "max":
        return states.masked_fill(mask == 0, float("-inf")).amax(dim=1)
    summed = (states * mask).sum(dim=1)  # (B, H)
    counts = mask.sum(dim=1).clamp(min=1e-9)  # (B, 1); clamp guards all-padding rows
    return summed / counts


class SentenceTransformer(nn.Module):
    """MiniLM sentence encoder: token states -> pooling -> L2 normalisation.

    Built from a ``MiniLMConfig`` or from its fields as keyword arguments, e.g.
    ``SentenceTransformer(num_hidden_layers=6, max_length=64)``. ``forward`` returns (B, H) float32.
    """

    def __init__(self, config: MiniLMConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        if config is None:
            config = MiniLMConfig(**overrides)
        elif overrides:
            config = MiniLMConfig.from_dict(config.to_dict(), **overrides)
        self.config = config
        self.encoder = MiniLMModel(config)
        self.eval()  # inference-only: dropout off unless a caller asks for train()

    @property
    def max_length(self) -> int:
        return self.config.max_length

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if input_ids.dim() != 2 or input_ids.shape != attention_mask.shape:
            raise ValueError(
                f"input_ids {tuple(input_ids.shape)} and attention_mask "
                f"{tuple(attention_mask.shape)} must both be (batch, seq_len)"
            )
        if input_ids.shape[1] > self.config.max_position_embeddings:
            raise ValueError(
                f"sequence length ({input_ids.shape[1]}) must be at most "
                f"{self.config.max_position_embeddings} (max_position_embeddings); "
                "truncate with the tokenizer's max_length"
            )
        states = self.encoder(input_ids, attention_mask, token_type_ids)
        pooled = pool(states, attention_mask, self.config.pooling_mode)
        if self.config.normalize:
            pooled = F.normalize(pooled, p=2.0, dim=1)
        return pooled


@contextmanager
def skip_random_init() -> Iterator[None]:
    """Build modules without filling their weights randomly, for weights a checkpoint replaces.

    ``nn.Linear`` and friends initialise themselves in ``reset_parameters`` through
    ``torch.nn.init``: random numbers that the checkpoint overwrites, a visible part of a cold
    start (benchmarks/RESULTS.md, "Encoder"). The meta device would avoid them too, but its
    random fill imports ``torch._dynamo``, which costs more than it saves.
    Not thread-safe: do not build other modules in parallel while it is active.
    """
    names = ("normal_", "uniform_", "kaiming_uniform_", "ones_", "zeros_")
    saved = {name: getattr(nn.init, name) for name in names}
    for name in names:
        setattr(nn.init, name, lambda tensor, *args, **kwargs: tensor)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(nn.init, name, function)
