"""The bf16 CPU kernels (oneDNN matmuls on packed weights, the activation applied to the fp32
accumulator; long batches packed without padding, attention one sequence at a time) against
the plain path: same
model, same inputs, the switch flipped."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

import minilm.model
from minilm import MiniLMConfig, SentenceTransformer
from minilm.model import PACKED_ROWS_MULTIPLE, Dense, SelfAttention, packed_rows
from minilm.weights import map_hf_state_dict
from tests.minilm.helpers import TINY, batch_with_padding, calls_to_fused_kernel, random_bert

pytestmark = pytest.mark.skipif(
    not minilm.model.fuse_bf16_cpu(), reason="needs oneDNN and a CPU with native bf16"
)


def tiny_model(act: str = "gelu", **overrides: int) -> SentenceTransformer:
    bert = random_bert(hidden_act=act, **{**TINY, **overrides})
    config = MiniLMConfig.from_dict(bert.config.to_dict(), max_length=64)
    whole = SentenceTransformer(config)
    whole.load_state_dict(map_hf_state_dict(bert.state_dict(), whole))
    return whole


@pytest.mark.parametrize("act", ["gelu", "gelu_new", "relu"])
def test_bf16_cpu_layers_match_the_plain_ones(monkeypatch, act: str) -> None:
    whole = tiny_model(act)
    config = whole.config
    model = whole.encoder.eval()  # token states: (B, T, H)
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"])
    with torch.no_grad():
        reference = model(input_ids, attention_mask)  # fp32: the plain path
        low = model.to(torch.bfloat16)
        calls = calls_to_fused_kernel(monkeypatch)
        fused = low(input_ids, attention_mask).float()
        assert len(calls) == 4 * config.num_hidden_layers  # every dense layer of every layer
        monkeypatch.setattr(minilm.model, "fuse_bf16_cpu", lambda: False)
        plain = low(input_ids, attention_mask).float()
    assert len(calls) == 4 * config.num_hidden_layers  # the switch turned it off
    real = attention_mask.bool()
    fused_error = (fused - reference)[real].abs().max().item()
    plain_error = (plain - reference)[real].abs().max().item()
    # Both are bf16 computations of the same network; the fused one rounds once less.
    assert fused_error < 0.1 and plain_error < 0.1
    assert (fused - plain)[real].abs().max().item() < 0.1
    assert fused_error <= plain_error * 1.5


def test_with_autograd_on_the_plain_path_runs(monkeypatch) -> None:
    model = tiny_model().to(torch.bfloat16)
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"])
    calls = calls_to_fused_kernel(monkeypatch)
    model(input_ids, attention_mask)  # grad enabled: oneDNN's kernel has no backward
    assert calls == []
    with torch.inference_mode():
        model(input_ids, attention_mask)
    assert calls


def test_dense_repacks_when_its_weight_changes() -> None:
    dense = Dense(16, 24).to(torch.bfloat16)
    x = torch.randn(5, 16).to(torch.bfloat16)
    with torch.no_grad():
        first = dense(x)
        assert torch.allclose(
            first.float(),
            torch.nn.functional.linear(x, dense.weight, dense.bias).float(),
            atol=0.05,
        )
        dense.weight.mul_(2)  # in place: the packed copy is stale
        doubled = dense(x)
        expected = torch.nn.functional.linear(x, dense.weight, dense.bias)
        assert torch.allclose(doubled.float(), expected.float(), atol=0.05)
        assert not torch.allclose(doubled, first)
        dense.load_state_dict({"weight": -dense.weight.float(), "bias": dense.bias.float()})
        expected = torch.nn.functional.linear(x, dense.weight, dense.bias)
        assert torch.allclose(dense(x).float(), expected.float(), atol=0.05)


def test_a_model_that_ran_on_packed_weights_copies_and_pickles() -> None:
    model = tiny_model().to(torch.bfloat16)
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"])
    with torch.inference_mode():
        before = model(input_ids, attention_mask)
        copied = copy.deepcopy(model)
        unpickled = pickle.loads(pickle.dumps(model))
        assert torch.equal(copied(input_ids, attention_mask), before)
        assert torch.equal(unpickled(input_ids, attention_mask), before)


def packed_spy(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Record the lengths each call of the packed attention gets; the CPU is taken to have no
    AMX and no other process to want it (where the packed path is used)."""
    seen: list[list[int]] = []
    original = SelfAttention._packed

    def spy(self, qkv, lengths):
        seen.append(list(lengths))
        return original(self, qkv, lengths)

    monkeypatch.setattr(SelfAttention, "_packed", spy)
    monkeypatch.setattr(minilm.model, "cpu_has_amx", lambda: False)
    monkeypatch.setattr(minilm.model, "cpu_contended", lambda: False)  # a quiet machine
    return seen


def with_padding_rows(lengths: list[int]) -> list[int]:
    """The lengths a packed batch's attention gets: its rows padded up to ``packed_rows``, the
    padding as one more sequence."""
    pad = packed_rows(sum(lengths)) - sum(lengths)
    return [*lengths, pad] if pad else list(lengths)


def test_packed_rows_take_a_few_dozen_counts() -> None:
    counts = {packed_rows(n) for n in range(4097)}
    assert len(counts) <= 40  # each compiled once by oneDNN, not once per token count
    assert packed_rows(0) == 0 and packed_rows(1) == 1 and packed_rows(9) == 16
    for n in range(1, 4097):  # never fewer rows, and the padding stays small
        rows = packed_rows(n)
        assert n <= rows < max(2 * n, n + PACKED_ROWS_MULTIPLE)


def test_padding_rows_leave_a_packed_batch_as_it_was(monkeypatch) -> None:
    model = tiny_model(max_position_embeddings=160).to(torch.bfloat16)
    lengths = [150, 100, 7]
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"], tuple(lengths))
    seen = packed_spy(monkeypatch)
    with torch.inference_mode():
        padded = model(input_ids, attention_mask)
        monkeypatch.setattr(minilm.model, "packed_rows", lambda tokens: tokens)
        exact = model(input_ids, attention_mask)
    layers = model.config.num_hidden_layers
    assert seen == [with_padding_rows(lengths)] * layers + [lengths] * layers
    assert seen[0][-1] == 384 - 257  # the zero rows, one more sequence of their own
    assert torch.allclose(padded, exact, atol=1e-6)


def test_packed_attention_matches_the_batched_kernel() -> None:
    torch.manual_seed(0)
    config = MiniLMConfig(
        vocab_size=99, hidden_size=64, num_hidden_layers=1, num_attention_heads=4,
        intermediate_size=37, max_position_embeddings=160, max_length=160,
    )  # fmt: skip
    attention = SelfAttention(config).to(torch.bfloat16).eval()
    lengths = [130, 128, 97, 2, 120]  # 128 fills its softmax rows (SOFTMAX_COLUMNS) exactly
    x = torch.randn(len(lengths), max(lengths), config.hidden_size).to(torch.bfloat16)
    real = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    with torch.inference_mode():
        packed = attention(x[real], None, lengths).float()  # (N, H)
        batched = attention(x, real[:, None, None, :]).float()[real]  # the flash kernel
        exact = attention.double()(x.double(), real[:, None, None, :]).float()[real]
    assert packed.shape == (sum(lengths), config.hidden_size)
    assert (packed - exact).abs().max().item() < 0.05
    assert (packed - exact).abs().max() <= 1.5 * (batched - exact).abs().max()
    # Each sequence attends only to itself: changing one leaves the others' rows as they were.
    changed = x.clone()
    changed[2] = torch.randn_like(changed[2])
    with torch.inference_mode():
        again = attention.to(torch.bfloat16)(changed[real], None, lengths).float()
    first = slice(0, sum(lengths[:2]))
    rest = slice(sum(lengths[:3]), None)
    assert torch.equal(again[first], packed[first]) and torch.equal(again[rest], packed[rest])
    assert not torch.equal(again, packed)


def test_a_mask_that_is_not_right_padding_takes_the_batched_kernel(monkeypatch) -> None:
    model = tiny_model(max_position_embeddings=160).to(torch.bfloat16)
    input_ids, right = batch_with_padding(TINY["vocab_size"], (150, 100, 7))
    left = right.flip(1)  # real tokens last
    seen = packed_spy(monkeypatch)
    with torch.inference_mode():
        model(input_ids.flip(1), left)
        assert seen == []
        model(input_ids, right.float())  # a float mask of right padding: the fast path
        assert seen == [with_padding_rows([150, 100, 7])] * model.config.num_hidden_layers


def test_long_bf16_batches_run_packed(monkeypatch) -> None:
    model = tiny_model(max_position_embeddings=160)
    lengths = [150, 100, 7]
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"], tuple(lengths))
    seen = packed_spy(monkeypatch)
    layers = model.config.num_hidden_layers
    with torch.inference_mode():
        reference = model(input_ids, attention_mask)
        assert seen == []  # fp32: the batched kernel
        low = model.to(torch.bfloat16)(input_ids, attention_mask)
        assert seen == [with_padding_rows(lengths)] * layers
        model(input_ids[:, :90], attention_mask[:, :90])  # shorter than the switch: batched
        assert len(seen) == layers
        monkeypatch.setattr(minilm.model, "cpu_has_amx", lambda: True)
        model(input_ids, attention_mask)  # AMX: the batched flash kernel on its tiles
        assert len(seen) == layers
        monkeypatch.setattr(minilm.model, "cpu_has_amx", lambda: False)
        monkeypatch.setattr(minilm.model, "cpu_contended", lambda: True)
        busy = model(input_ids, attention_mask)  # another process wants a core: batched
        assert len(seen) == layers
        monkeypatch.setattr(minilm.model, "cpu_contended", lambda: False)
        model(input_ids, attention_mask)
        assert len(seen) == 2 * layers
    with torch.no_grad():
        monkeypatch.setattr(minilm.model, "cpu_has_amx", lambda: False)
        model.train()(input_ids, attention_mask)  # training: attention dropout, batched
        assert len(seen) == 2 * layers
    cosines = (low.float() * reference).sum(dim=1)
    assert cosines.min().item() > 0.999, cosines
    assert ((busy.float() * reference).sum(dim=1) > 0.999).all()


def test_autocast_runs_an_fp32_model_on_the_plain_path() -> None:
    model = tiny_model()
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"])
    with torch.inference_mode():
        reference = model(input_ids, attention_mask)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(input_ids, attention_mask)
    assert ((low.float() * reference).sum(dim=1) > 0.999).all()


def test_dense_repacks_after_a_cast_round_trip() -> None:
    dense = Dense(16, 24).to(torch.bfloat16)
    x = torch.randn(5, 16).to(torch.bfloat16)
    with torch.no_grad():
        dense(x)
        assert dense._packed is not None
        dense.float()
        assert dense._packed is None  # the packed copy is freed with the weight it came from
        dense.weight.neg_()
        dense.bfloat16()
        expected = torch.nn.functional.linear(x, dense.weight, dense.bias)
        assert torch.allclose(dense(x).float(), expected.float(), atol=0.05)


def test_dense_adds_the_residual_on_its_accumulator() -> None:
    torch.manual_seed(0)
    dense = Dense(384, 384).to(torch.bfloat16)
    x, residual = (torch.randn(64, 384).to(torch.bfloat16) for _ in range(2))
    exact = x.double() @ dense.weight.double().T + dense.bias.double() + residual.double()
    with torch.inference_mode():
        fused = dense(x, residual=residual)
        plain = torch.nn.functional.linear(x, dense.weight, dense.bias) + residual
    assert fused.dtype == torch.bfloat16
    fused_error = (fused.double() - exact).abs().max().item()
    plain_error = (plain.double() - exact).abs().max().item()
    assert fused_error < plain_error  # rounded to bf16 once instead of twice
    with pytest.raises(ValueError, match="without an activation"):
        Dense(4, 4, activation="gelu")(torch.zeros(1, 4), residual=torch.zeros(1, 4))


def test_training_keeps_dropout_on_the_residual_branch() -> None:
    model = tiny_model().to(torch.bfloat16)
    layer = model.encoder.layers[0]
    x = torch.randn(2, 9, TINY["hidden_size"]).to(torch.bfloat16)
    for block in (layer.attention.dropout, layer.feed_forward.dropout):
        block.p = 1.0  # drops every element of the branch: what is left is the residual
    with torch.no_grad():
        layer.train()
        assert torch.equal(layer.feed_forward(x), x)
        assert torch.equal(layer.attention(x, None), x)
        layer.eval()
        assert not torch.equal(layer.feed_forward(x), x)
