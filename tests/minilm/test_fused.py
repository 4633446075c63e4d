"""The fused bf16 CPU feed-forward (oneDNN matmul with the activation applied to its fp32
accumulator) against the plain one: same model, same inputs, the switch flipped."""

from __future__ import annotations

import pytest
import torch

import minilm.model
from minilm import MiniLMConfig, SentenceTransformer
from minilm.weights import map_hf_state_dict
from tests.minilm.helpers import TINY, batch_with_padding, random_bert

pytestmark = pytest.mark.skipif(
    not minilm.model.fuse_bf16_cpu(), reason="needs oneDNN and a CPU with native bf16"
)


def calls_to_fused_kernel(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count calls of the fused kernel (the spy forwards to it)."""
    calls: list[int] = []
    kernel = torch.ops.mkldnn._linear_pointwise

    def spy(*args):
        calls.append(1)
        return kernel(*args)

    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", spy)
    return calls


@pytest.mark.parametrize("act", ["gelu", "gelu_new", "relu"])
def test_fused_feed_forward_matches_the_plain_one(monkeypatch, act: str) -> None:
    bert = random_bert(hidden_act=act, **TINY)
    config = MiniLMConfig.from_dict(
        bert.config.to_dict(), max_length=TINY["max_position_embeddings"]
    )
    whole = SentenceTransformer(config)
    whole.load_state_dict(map_hf_state_dict(bert.state_dict(), whole))
    model = whole.encoder.eval()  # token states: (B, T, H)
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"])
    with torch.no_grad():
        reference = model(input_ids, attention_mask)  # fp32: the plain path
        low = model.to(torch.bfloat16)
        calls = calls_to_fused_kernel(monkeypatch)
        fused = low(input_ids, attention_mask).float()
        assert len(calls) == config.num_hidden_layers  # one per layer's feed-forward
        monkeypatch.setattr(minilm.model, "fuse_bf16_cpu", lambda: False)
        plain = low(input_ids, attention_mask).float()
    assert len(calls) == config.num_hidden_layers  # the switch turned it off
    real = attention_mask.bool()
    fused_error = (fused - reference)[real].abs().max().item()
    plain_error = (plain - reference)[real].abs().max().item()
    # Both are bf16 computations of the same network; the fused one rounds once less.
    assert fused_error < 0.1 and plain_error < 0.1
    assert (fused - plain)[real].abs().max().item() < 0.1
    assert fused_error <= plain_error * 1.5
