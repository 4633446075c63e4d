"""The C extension's plumbing (torch's OpenMP team) and its LayerNorm (minilm/_kernels.c),
against torch's LayerNorm and a float64 reference computed in the same test."""

from __future__ import annotations

import ctypes
import re
import sys

import pytest
import torch

import minilm.model
from minilm import MiniLMConfig, SentenceTransformer, cpu_kernels
from tests.minilm.helpers import head32_model_and_batch

needs_kernels = pytest.mark.skipif(
    not cpu_kernels.runs(), reason="needs the built extension and AVX512-BF16"
)


def loaded_libraries(pattern: str) -> set[str]:
    with open("/proc/self/maps", encoding="utf-8") as fh:
        return {line.split()[-1] for line in fh if re.search(pattern, line)}


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/maps")
def test_the_openmp_runtime_is_torchs_not_faisss() -> None:
    # faiss-cpu bundles its own libgomp; a team of that runtime would compete with torch's
    # threads for the cores (its path sorts before torch's in this venv).
    import faiss  # noqa: F401

    torch_runtimes = [p for p in loaded_libraries(r"lib(g|i)?omp") if "/torch" in p]
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info() or not torch_runtimes:
        assert cpu_kernels.openmp_addresses() is None or torch_runtimes == []
        return
    addresses = cpu_kernels.openmp_addresses()
    assert addresses is not None
    torchs = ctypes.CDLL(torch_runtimes[0])
    expected = tuple(
        ctypes.cast(getattr(torchs, name), ctypes.c_void_p).value
        for name in cpu_kernels.OPENMP_SYMBOLS
    )
    assert addresses == expected
    for other in loaded_libraries(r"lib(g|i)?omp") - set(torch_runtimes):
        gomp_parallel = ctypes.cast(ctypes.CDLL(other).GOMP_parallel, ctypes.c_void_p).value
        assert gomp_parallel != addresses[0]


def test_torch_cpu_library_is_read_from_the_process_maps(tmp_path) -> None:
    maps = tmp_path / "maps"
    maps.write_text(
        "7f00-7f01 r-xp 0 08:01 1 /usr/lib/libc.so.6\n"
        "7f02-7f03 r-xp 0 08:01 2 /venv/torch/lib/libtorch_cpu.so\n"
        "7f04-7f05 r-xp 0 08:01 3 /venv/torch/lib/libtorch_cpu_extra.so\n"
    )
    assert cpu_kernels.torch_cpu_library(str(maps)) == "/venv/torch/lib/libtorch_cpu.so"
    maps.write_text("7f00-7f01 r-xp 0 08:01 1 /usr/lib/libc.so.6\n")
    assert cpu_kernels.torch_cpu_library(str(maps)) is None
    assert cpu_kernels.torch_cpu_library(str(tmp_path / "missing")) is None


def random_norm(width: int, seed: int = 0) -> torch.nn.LayerNorm:
    generator = torch.Generator().manual_seed(seed)
    norm = torch.nn.LayerNorm(width, eps=1e-12)
    with torch.no_grad():
        norm.weight.copy_(1 + 0.5 * torch.randn(width, generator=generator))
        norm.bias.copy_(0.5 * torch.randn(width, generator=generator))
    return norm.to(torch.bfloat16)


@torch.no_grad()
def float64_norm(x: torch.Tensor, norm: torch.nn.LayerNorm) -> torch.Tensor:
    x = x.double()
    mean = x.mean(dim=-1, keepdim=True)
    variance = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(variance + norm.eps) * norm.weight.double() + norm.bias.double()


def ulp(*values: torch.Tensor) -> torch.Tensor:
    """The spacing of bf16 numbers (8 significant bits) at the largest of |values|."""
    largest = torch.stack([v.abs() for v in values]).amax(dim=0)
    exponent = torch.floor(torch.log2(largest.clamp(min=2.0**-126)))
    return torch.pow(2.0, exponent - 7)


@needs_kernels
@pytest.mark.parametrize("rows, width", [(3000, 384), (257, 16), (64, 1024), (5, 48)])
def test_layer_norm_matches_torchs_within_one_bf16_step(rows, width) -> None:
    generator = torch.Generator().manual_seed(rows)
    x = (3 * torch.randn(rows, width, generator=generator) + 0.7).to(torch.bfloat16)
    x[0] = 2.5  # a constant row: variance 0, the output is the bias
    norm = random_norm(width, seed=width)
    with torch.inference_mode():
        ours = cpu_kernels.layer_norm(x, norm.weight, norm.bias, norm.eps)
        theirs = norm(x)
    assert ours.dtype == torch.bfloat16 and ours.shape == x.shape
    assert torch.equal(ours[0], norm.bias)
    exact = float64_norm(x, norm)
    ours, theirs = ours.double(), theirs.double()
    # Both round an fp32 result to bf16: apart by one step at most, and rarely.
    # (plus fp32's rounding of the terms, ~1e-6 at these sizes, where they cancel near zero)
    step = ulp(ours, theirs, exact) + 2e-6
    assert ((ours - theirs).abs() <= step).all()
    assert (ours != theirs).double().mean().item() < 1e-3
    # Never further from the exact value than torch's by more than that step.
    assert ((ours - exact).abs() <= (theirs - exact).abs() + step).all()
    assert (ours - exact).abs().max().item() <= (theirs - exact).abs().max().item() * 1.01


@needs_kernels
def test_layer_norm_is_the_same_on_one_thread_and_on_torchs_team() -> None:
    x = torch.randn(1000, 384).to(torch.bfloat16)
    norm = random_norm(384)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        alone = cpu_kernels.layer_norm(x, norm.weight, norm.bias, norm.eps)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(cpu_kernels.layer_norm(x, norm.weight, norm.bias, norm.eps), alone)


@needs_kernels
def test_layer_norm_takes_any_leading_shape_and_layout_and_keeps_nan_rows() -> None:
    norm = random_norm(64)
    x = torch.randn(4, 64, 7).to(torch.bfloat16).transpose(1, 2)  # (4, 7, 64), not contiguous
    x[1, 2, 5] = float("nan")
    with torch.inference_mode():
        ours = cpu_kernels.layer_norm(x, norm.weight, norm.bias, norm.eps)
        theirs = norm(x)
    assert ours.shape == (4, 7, 64)
    assert ours[1, 2].isnan().all() and theirs[1, 2].isnan().all()
    rows = torch.ones(4, 7, 1, dtype=torch.bool)
    rows[1, 2] = False
    ours, theirs = ours.double().masked_fill(~rows, 0), theirs.double().masked_fill(~rows, 0)
    assert ((ours - theirs).abs() <= ulp(ours, theirs) + 2e-6).all()
    empty = torch.empty(0, 64, dtype=torch.bfloat16)
    assert cpu_kernels.layer_norm(empty, norm.weight, norm.bias, norm.eps).shape == (0, 64)


@needs_kernels
def test_layer_norm_refuses_what_it_does_not_compute() -> None:
    norm = random_norm(384)
    with pytest.raises(ValueError, match="bf16"):
        cpu_kernels.layer_norm(torch.randn(2, 384), norm.weight, norm.bias, 1e-12)
    odd = random_norm(100)
    with pytest.raises(ValueError, match="multiple of 16"):
        cpu_kernels.layer_norm(torch.randn(2, 100).bfloat16(), odd.weight, odd.bias, 1e-12)
    with pytest.raises(ValueError, match="weight and bias"):
        cpu_kernels.layer_norm(torch.randn(2, 48).bfloat16(), norm.weight, norm.bias, 1e-12)


@needs_kernels
def test_a_bf16_model_takes_the_c_layer_norm_and_matches_torchs(monkeypatch) -> None:
    model, config, input_ids, attention_mask = head32_model_and_batch()
    calls: list[tuple[int, ...]] = []
    kernel = cpu_kernels.layer_norm
    monkeypatch.setattr(
        cpu_kernels, "layer_norm", lambda x, *a: calls.append(tuple(x.shape)) or kernel(x, *a)
    )
    with torch.inference_mode():
        full = model(input_ids, attention_mask)
    assert calls == []  # fp32: torch's
    model.to(torch.bfloat16)  # outside inference mode: its parameters stay usable by autograd
    with torch.inference_mode():
        low = model(input_ids, attention_mask)
        # the embeddings' (B, T, H), then two a layer
        assert len(calls) == 1 + 2 * config.num_hidden_layers
        assert calls[0] == (*input_ids.shape, 64)
    with torch.enable_grad():  # autograd on: torch's LayerNorm
        model(input_ids, attention_mask)
    assert len(calls) == 1 + 2 * config.num_hidden_layers
    monkeypatch.setattr(cpu_kernels, "NORM_WIDTHS", range(0))  # torch's LayerNorm
    with torch.inference_mode():
        plain = model(input_ids, attention_mask)
    assert len(calls) == 1 + 2 * config.num_hidden_layers
    assert ((low * plain).sum(dim=1) > 0.9999).all()
    assert (low * full).sum(dim=1).min().item() >= (plain * full).sum(dim=1).min().item() - 1e-4
    assert isinstance(model.encoder.layers[0].attention_norm, minilm.model.LayerNorm)


def test_kernels_answer_only_for_bf16_and_fp32() -> None:
    assert not cpu_kernels.runs(torch.float16) and not cpu_kernels.runs(torch.float64)
    model = SentenceTransformer(MiniLMConfig(hidden_size=64, num_attention_heads=2))
    assert not model.encoder.packs_every_batch(torch.float16)
