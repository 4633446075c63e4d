"""fp32 dense layers on oneDNN's matmul (where torch's MKL runs its AVX2 code: AMD CPUs with
AVX-512) against the plain path: same model, same inputs, the switch flipped. The switch is
forced both ways, so the test runs on any CPU whose torch has the kernel."""

from __future__ import annotations

import pytest
import torch

import minilm.devices
import minilm.model
from minilm import MiniLMConfig, SentenceTransformer
from minilm.weights import map_hf_state_dict
from tests.minilm.helpers import TINY, batch_with_padding, calls_to_fused_kernel, random_bert

needs_onednn = pytest.mark.skipif(
    not minilm.model.onednn_dense(), reason="needs torch's oneDNN matmul on packed weights"
)


@needs_onednn
@pytest.mark.parametrize("act", ["gelu", "gelu_new", "relu"])
def test_fp32_layers_on_onednn_match_the_plain_ones(monkeypatch, act: str) -> None:
    bert = random_bert(hidden_act=act, **TINY)
    config = MiniLMConfig.from_dict(bert.config.to_dict(), max_length=64)
    model = SentenceTransformer(config)
    model.load_state_dict(map_hf_state_dict(bert.state_dict(), model))
    encoder = model.encoder.eval()
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"])
    calls = calls_to_fused_kernel(monkeypatch)
    with torch.no_grad():
        monkeypatch.setattr(minilm.model, "fuse_fp32_cpu", lambda: False)
        plain = encoder(input_ids, attention_mask)
        assert calls == []
        monkeypatch.setattr(minilm.model, "fuse_fp32_cpu", lambda: True)
        fused = encoder(input_ids, attention_mask)
        assert len(calls) == 4 * config.num_hidden_layers  # every dense layer of every layer
        reference = encoder.double()(input_ids, attention_mask)
    assert fused.dtype == torch.float32
    real = attention_mask.bool()
    error = (fused.double() - reference)[real].abs().max().item()
    assert error < 1e-5
    assert (fused - plain)[real].abs().max().item() < 1e-5
    with torch.enable_grad():  # autograd on: oneDNN's kernel has no backward
        encoder.float()(input_ids, attention_mask)
    assert len(calls) == 4 * config.num_hidden_layers


@pytest.mark.parametrize(
    ("vendor", "flags", "prefers"),
    [
        ("AuthenticAMD", {"avx2", "avx512f", "avx512_bf16"}, True),
        ("AuthenticAMD", {"avx2"}, False),  # no AVX-512: both libraries run AVX2
        ("GenuineIntel", {"avx2", "avx512f"}, False),  # MKL's AVX-512 code runs on Intel
        ("", set(), False),  # no /proc/cpuinfo
    ],
)
def test_fp32_goes_to_onednn_where_mkl_runs_avx2(monkeypatch, vendor, flags, prefers) -> None:
    monkeypatch.setattr(minilm.devices, "cpu_vendor", lambda: vendor)
    monkeypatch.setattr(minilm.devices, "cpu_flags", lambda: frozenset(flags))
    assert minilm.devices.cpu_prefers_onednn_fp32() is prefers


def test_cpu_vendor_reads_this_machine() -> None:
    minilm.devices.cpu_vendor.cache_clear()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            line = next((line for line in fh if line.startswith("vendor_id")), "")
    except OSError:
        line = ""
    assert minilm.devices.cpu_vendor() == (line.split(":", 1)[1].strip() if line else "")
