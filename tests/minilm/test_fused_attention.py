"""The fused bf16 attention kernel (minilm/_kernels.c) against a float64 reference and against
PyTorch's path for packed sequences, computed in the same test."""

from __future__ import annotations

import platform
import shutil
import sys
import threading

import pytest
import torch

import minilm.model
from minilm import MiniLMConfig, cpu_kernels, fused_attention
from minilm.devices import cpu_flags
from minilm.model import SelfAttention
from tests.minilm.helpers import head32_model_and_batch

CAN_RUN = (
    sys.platform == "linux"
    and platform.machine() == "x86_64"
    and cpu_kernels.AVX2_FLAGS <= cpu_flags()
)
needs_kernel = pytest.mark.skipif(
    not fused_attention.available(32), reason="needs the built extension and AVX512-BF16"
)
needs_fp32_kernel = pytest.mark.skipif(
    not fused_attention.available(32, torch.float32), reason="needs the built extension, AVX2"
)


@pytest.fixture(params=[True, False], ids=["avx2", "avx512"])
def avx2(request) -> bool:
    """Each pass of the fp32 kernel: AVX2 (on any CPU where the kernel runs) and AVX-512 where
    the CPU has it (the kernel's own choice there)."""
    if not request.param and not fused_attention.fp32_avx512():
        pytest.skip("needs a CPU with AVX-512")
    return request.param


@pytest.fixture(params=[False, True], ids=["avx512-bf16", "amx"])
def amx(request) -> bool:
    """Each way the kernel computes its dot products: AVX512-BF16, and AMX tiles where the CPU
    has them (the kernel's own choice there)."""
    if request.param and not fused_attention.amx_available():
        pytest.skip("needs a CPU with AMX-BF16")
    return request.param


def test_the_kernel_is_built_and_joins_torchs_threads_where_it_can_run() -> None:
    # Where the install had a C compiler and the CPU has AVX2 and FMA, the kernel must be there:
    # a build that failed quietly (the extension is optional) would leave it untested.
    if not (CAN_RUN and (shutil.which("cc") or shutil.which("gcc"))):
        assert fused_attention.available(32, torch.float32) is (cpu_kernels.extension() is not None)
        return
    try:
        from minilm import _kernels
    except ImportError as exc:  # the optional build failed: no Python headers, an old install
        pytest.fail(f"minilm._kernels was not built (pip install -e . rebuilds it): {exc}")
    assert _kernels.HAVE_KERNEL == 1
    assert cpu_kernels.extension()[1] is True  # on torch's OpenMP team
    assert fused_attention.available(32, torch.float32)
    assert fused_attention.available(32) is (cpu_kernels.CPU_FLAGS <= cpu_flags())
    assert not fused_attention.available(64, torch.float32)


def reference(qkv: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    """Attention of each sequence over its own tokens in float64: (N, heads * 32)."""
    q, k, v = qkv.double().unbind(1)  # (N, heads, 32) each
    out, start = [], 0
    for n in lengths:
        qs, ks, vs = (t[start : start + n].transpose(0, 1) for t in (q, k, v))
        weights = torch.softmax(qs @ ks.transpose(1, 2) / 32**0.5, dim=-1)
        out.append((weights @ vs).transpose(0, 1).reshape(n, -1))
        start += n
    return torch.cat(out)


def torch_path(qkv: torch.Tensor, lengths: list[int], monkeypatch) -> torch.Tensor:
    """PyTorch's attention of packed sequences (``SelfAttention._packed`` without the kernel)."""
    heads = qkv.shape[2]
    config = MiniLMConfig(hidden_size=32 * heads, num_attention_heads=heads, intermediate_size=8)
    with monkeypatch.context() as patch:
        patch.setattr(fused_attention, "available", lambda *args: False)
        return SelfAttention(config)._packed(qkv, lengths)


def random_qkv(lengths: list[int], heads: int, scale: float = 1.5, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(sum(lengths), 3, heads, 32, generator=generator) * scale).bfloat16()


@needs_kernel
@pytest.mark.parametrize(
    "lengths, heads",
    [
        ([1, 2, 7, 8, 9, 15, 16, 17, 31, 33], 12),  # under, at and over 8 queries / 16 keys
        ([256, 130, 97, 300], 12),  # Cranfield's lengths, and longer than 256
        ([64, 5], 1),  # one head
        ([512], 3),  # the longest position MiniLM has
    ],
)
def test_kernel_matches_float64_and_beats_pytorchs_rounding(
    monkeypatch, lengths, heads, amx
) -> None:
    qkv = random_qkv(lengths, heads)
    exact = reference(qkv, lengths)
    with torch.inference_mode():
        fused = fused_attention.packed_attention(qkv, lengths, amx=amx)
        plain = torch_path(qkv, lengths, monkeypatch)
    assert fused.dtype == torch.bfloat16 and fused.shape == (sum(lengths), heads * 32)
    error = (fused.double() - exact).abs()
    plain_error = (plain.double() - exact).abs()
    # bf16 output: one rounding of values of magnitude ~1 is up to 2**-8.
    assert error.max().item() < 0.02, error.max()
    # fp32 scores (PyTorch rounds them to bf16 before its softmax): no worse, and on average
    # closer to the exact result.
    assert error.max() <= plain_error.max()
    assert error.mean() < plain_error.mean()


@needs_kernel
def test_kernel_is_the_same_on_one_thread_and_on_torchs_team(amx) -> None:
    lengths = [150, 3, 77, 200, 9]
    qkv = random_qkv(lengths, 12, seed=1)
    threads = torch.get_num_threads()
    results = {}
    with torch.inference_mode():
        try:
            for count in (1, 2, 3):  # 3: more threads than this machine may have cores
                torch.set_num_threads(count)
                results[count] = fused_attention.packed_attention(qkv, lengths, amx=amx)
        finally:
            torch.set_num_threads(threads)
        # From another Python thread: its own OpenMP team, as torch's ops get there.
        thread = threading.Thread(
            target=lambda: results.update(
                other=fused_attention.packed_attention(qkv, lengths, amx=amx)
            )
        )
        thread.start()
        thread.join()
    for result in results.values():  # each (sequence, head) is computed whole by one thread
        assert torch.equal(result, results[1])
    assert torch.equal(results[1], fused_attention.packed_attention(qkv.clone(), lengths, amx=amx))


@needs_kernel
def test_kernel_reads_rows_at_any_alignment_and_skips_empty_rows(amx) -> None:
    lengths = [9, 0, 20, 0]
    qkv = random_qkv(lengths, 12, seed=3)
    memory = torch.empty(qkv.numel() + 1, dtype=torch.bfloat16)
    shifted = memory[1:].view(qkv.shape)  # 2 bytes past an aligned address
    shifted.copy_(qkv)
    assert shifted.data_ptr() % 4 == 2
    with torch.inference_mode():
        aligned = fused_attention.packed_attention(qkv, lengths, amx=amx)
        assert torch.equal(fused_attention.packed_attention(shifted, lengths, amx=amx), aligned)
        assert torch.equal(aligned, fused_attention.packed_attention(qkv, [9, 20], amx=amx))
        assert fused_attention.packed_attention(qkv[:0], [0, 0], amx=amx).shape == (0, 384)


@needs_kernel
def test_a_nan_score_makes_its_rows_nan_as_pytorchs_softmax_does(monkeypatch, amx) -> None:
    lengths = [20, 30]
    qkv = random_qkv(lengths, 2, seed=4)
    qkv[25, 1, 0, 3] = float("nan")  # a key of the second sequence, first head
    with torch.inference_mode():
        fused = fused_attention.packed_attention(qkv, lengths, amx=amx).view(50, 2, 32)
        plain = torch_path(qkv, lengths, monkeypatch).view(50, 2, 32)
    assert torch.equal(fused.isnan(), plain.isnan())
    assert fused[20:, 0].isnan().all()  # every query of that head attends that key
    assert not fused[:20].isnan().any() and not fused[20:, 1].isnan().any()


@needs_kernel
def test_kernel_on_extreme_scores(amx) -> None:
    lengths = [40, 17]
    with torch.inference_mode():
        # Scores of +-1000: each query's weight falls on its best key alone (exp underflows for
        # the others, nothing overflows).
        qkv = random_qkv(lengths, 2, scale=12.0, seed=2)
        fused = fused_attention.packed_attention(qkv, lengths, amx=amx).double()
        assert torch.isfinite(fused).all()
        assert (fused - reference(qkv, lengths)).abs().max().item() < 0.02 * 12
        # Equal scores (zero queries): every query gets the mean of its sequence's values.
        qkv[:, 0] = 0
        fused = fused_attention.packed_attention(qkv, lengths, amx=amx).double()
    values = qkv[:, 2].double().reshape(sum(lengths), -1)
    means = torch.cat([values[:40].mean(0).expand(40, -1), values[40:].mean(0).expand(17, -1)])
    assert (fused - means).abs().max().item() < 0.05


@needs_kernel
def test_kernel_refuses_what_it_cannot_compute() -> None:
    lengths = [4, 4]
    qkv = random_qkv(lengths, 2)
    with pytest.raises(ValueError, match="bf16 or fp32"):
        fused_attention.packed_attention(qkv.half(), lengths)
    with pytest.raises(ValueError, match="sum to 8"):
        fused_attention.packed_attention(qkv, [4, 3])
    with pytest.raises(ValueError, match="0 or more"):
        fused_attention.packed_attention(qkv, [9, -1])
    with pytest.raises(RuntimeError, match="head size 16"):
        fused_attention.packed_attention(qkv.view(8, 3, 4, 16), lengths)


@needs_kernel
def test_amx_tiles_are_used_where_the_cpu_has_them_and_refused_elsewhere(monkeypatch) -> None:
    # A build that lost the tile path (or Linux refusing the tile state) would leave AMX CPUs
    # on the slower dot products without a word.
    from minilm import _kernels

    built = bool(_kernels.HAVE_AMX)  # GCC 11 or clang 12, on Linux
    assert fused_attention.amx_available() is ("amx_bf16" in cpu_flags() and built)
    # 12 heads of 107 tokens: the tiles' sums round apart from the dot products' somewhere
    # in the bf16 output (2 heads of 73 tokens rounded alike, every value, on a Xeon).
    lengths = [100, 7]
    qkv = random_qkv(lengths, 12)
    with torch.inference_mode():
        default = fused_attention.packed_attention(qkv, lengths)
        dot_products = fused_attention.packed_attention(qkv, lengths, amx=False)
        if fused_attention.amx_available():  # the tiles by default: their own sums' rounding
            assert torch.equal(default, fused_attention.packed_attention(qkv, lengths, amx=True))
            assert not torch.equal(default, dot_products)
        else:
            assert torch.equal(default, dot_products)
        monkeypatch.setattr(fused_attention, "amx_available", lambda: False)
        with pytest.raises(RuntimeError, match="AMX"):
            fused_attention.packed_attention(qkv, lengths, amx=True)
        assert torch.equal(fused_attention.packed_attention(qkv, lengths), dot_products)


@needs_kernel
def test_a_bf16_model_with_the_kernel_matches_pytorchs_path_and_fp32(monkeypatch) -> None:
    # Head size 32 (64 / 2 heads): the model's packed batches take the kernel.
    model, config, input_ids, attention_mask = head32_model_and_batch()
    attention_mask[-1] = 0  # a row of padding only (SentenceEncoder never makes one)
    monkeypatch.setattr(minilm.model, "cpu_has_amx", lambda: False)  # where packed runs
    monkeypatch.setattr(minilm.model, "cpu_contended", lambda: False)
    monkeypatch.setattr(minilm.model, "fuse_fp32_cpu", lambda: False)  # fp32: padded
    calls: list[int] = []
    kernel = fused_attention.packed_attention
    monkeypatch.setattr(
        fused_attention, "packed_attention", lambda *a: calls.append(1) or kernel(*a)
    )
    with torch.inference_mode():
        full = model(input_ids, attention_mask)
        low = model.to(torch.bfloat16)(input_ids, attention_mask)
        assert len(calls) == config.num_hidden_layers
        assert model.encoder.packs_every_batch()
        # Short batches, one query and a busy machine take the kernel too (PyTorch's path for
        # packed sequences does not: minilm.model.PER_SEQUENCE_MIN_LENGTH, cpu_contended).
        monkeypatch.setattr(minilm.model, "cpu_contended", lambda: True)
        model(input_ids[:, :20], attention_mask[:, :20])
        model(input_ids[:1, :12], attention_mask[:1, :12])
        assert len(calls) == 3 * config.num_hidden_layers
        # On AMX the kernel runs where its tile path does; else PyTorch's batched kernel.
        monkeypatch.setattr(minilm.model, "cpu_has_amx", lambda: True)
        if fused_attention.amx_available():
            model(input_ids, attention_mask)
            assert len(calls) == 4 * config.num_hidden_layers
        so_far = len(calls)
        monkeypatch.setattr(fused_attention, "amx_available", lambda: False)
        assert not model.encoder.packs_every_batch()
        batched = model(input_ids, attention_mask)
        assert len(calls) == so_far
        monkeypatch.setattr(minilm.model, "cpu_has_amx", lambda: False)
        monkeypatch.setattr(fused_attention, "available", lambda *args: False)
        plain = model(input_ids, attention_mask)
        assert len(calls) == so_far
    assert not low[-1].any() and not full[-1].any() and not plain[-1].any()  # pooled to zero
    low, full, plain, batched = low[:-1], full[:-1], plain[:-1], batched[:-1]
    cosine = (low * full).sum(dim=1)
    plain_cosine = (plain * full).sum(dim=1)
    assert cosine.min().item() > 0.999, cosine
    assert cosine.mean() >= plain_cosine.mean() - 1e-4
    assert ((low * plain).sum(dim=1) > 0.999).all()
    assert ((low * batched).sum(dim=1) > 0.999).all()


@needs_fp32_kernel
@pytest.mark.parametrize(
    "lengths, heads",
    [
        ([1, 2, 7, 8, 9, 15, 16, 17, 31, 33], 12),
        ([256, 130, 97, 300], 12),
        ([512], 3),
    ],
)
def test_fp32_kernel_is_as_close_to_float64_as_pytorchs(monkeypatch, lengths, heads, avx2) -> None:
    qkv = random_qkv(lengths, heads).float()
    exact = reference(qkv, lengths)
    with torch.inference_mode():
        fused = fused_attention.packed_attention(qkv, lengths, avx2=avx2)
        plain = torch_path(qkv, lengths, monkeypatch)
    assert fused.dtype == torch.float32 and fused.shape == (sum(lengths), heads * 32)
    error = (fused.double() - exact).abs()
    plain_error = (plain.double() - exact).abs()
    # fp32 throughout, 2^x to fp32's precision: PyTorch's error, give or take the order of
    # the sums (no bf16 rounding anywhere).
    assert error.max().item() < 1e-5
    assert error.mean() <= 1.5 * plain_error.mean()
    assert error.max() <= 4 * plain_error.max()


@needs_fp32_kernel
def test_fp32_kernel_threads_alignment_empty_nan_and_extreme_rows(monkeypatch, avx2) -> None:
    lengths = [150, 0, 3, 77, 9]
    qkv = random_qkv(lengths, 12, seed=1).float()
    threads = torch.get_num_threads()
    with torch.inference_mode():
        try:
            torch.set_num_threads(1)
            alone = fused_attention.packed_attention(qkv, lengths, avx2=avx2)
        finally:
            torch.set_num_threads(threads)
        assert torch.equal(fused_attention.packed_attention(qkv, lengths, avx2=avx2), alone)
        memory = torch.empty(qkv.numel() + 1)
        shifted = memory[1:].view(qkv.shape)  # 4 bytes past an aligned address
        shifted.copy_(qkv)
        assert torch.equal(fused_attention.packed_attention(shifted, lengths, avx2=avx2), alone)
        assert torch.equal(fused_attention.packed_attention(qkv, [150, 3, 77, 9], avx2=avx2), alone)
        with pytest.raises(RuntimeError, match="AMX"):
            fused_attention.packed_attention(qkv, lengths, amx=True)
        with pytest.raises(RuntimeError, match="fp32 only"):
            fused_attention.packed_attention(qkv.bfloat16(), lengths, avx2=True)
        if not fused_attention.fp32_avx512():
            with pytest.raises(RuntimeError, match="AVX-512"):
                fused_attention.packed_attention(qkv, lengths, avx2=False)
        nan = qkv.clone()
        nan[160, 1, 0, 3] = float("nan")  # a key of the third sequence's 4th... first head
        fused = fused_attention.packed_attention(nan, lengths, avx2=avx2).view(-1, 12, 32)
        plain = torch_path(nan, lengths, monkeypatch).view(-1, 12, 32)
        assert torch.equal(fused.isnan(), plain.isnan()) and fused.isnan().any()
        extreme = (qkv * 8).contiguous()  # scores of +-1000: one key takes each query's weight
        fused = fused_attention.packed_attention(extreme, lengths, avx2=avx2).double()
        assert torch.isfinite(fused).all()
        assert (fused - reference(extreme, [150, 3, 77, 9])).abs().max().item() < 1e-3


@needs_fp32_kernel
def test_an_fp32_model_runs_packed_on_the_kernel_and_matches_its_padded_path(monkeypatch) -> None:
    # Where fp32 dense layers take oneDNN (AMD's AVX-512 CPUs: minilm.model.fuse_fp32_cpu) or
    # the CPU has no AVX-512 (the kernel's AVX2 pass), every fp32 batch runs packed on the fp32
    # kernel; each forced here on any CPU where the kernel runs.
    model, config, input_ids, attention_mask = head32_model_and_batch()
    monkeypatch.setattr(minilm.model, "fuse_fp32_cpu", lambda: True)
    calls: list[torch.dtype] = []
    kernel = fused_attention.packed_attention
    faked_avx512: list[bool] = []  # set while the CPU is said to have AVX-512 (it may not)

    def recorded(qkv, *args):
        calls.append(qkv.dtype)
        # A call then would take the AVX-512 pass: an illegal instruction on an AVX2 CPU, a
        # crash of the test process rather than a failure.
        assert not faked_avx512, "the padded path called the kernel"
        return kernel(qkv, *args)

    monkeypatch.setattr(fused_attention, "packed_attention", recorded)
    layers = config.num_hidden_layers
    with torch.inference_mode():
        assert model.encoder.packs_every_batch(torch.float32)
        packed = model(input_ids, attention_mask)
        assert calls == [torch.float32] * layers
        # One text runs packed where that adds no rows (64 tokens: 64 rows), not otherwise (12
        # tokens would run as 16 rows): minilm.model.packed_rows.
        one = model(input_ids[:1, :64], attention_mask[:1, :64])
        assert len(calls) == 2 * layers
        model(input_ids[:1, :12], attention_mask[:1, :12])
        assert len(calls) == 2 * layers
        monkeypatch.setattr(minilm.model, "fuse_fp32_cpu", lambda: False)  # Intel's CPUs...
        monkeypatch.setattr(fused_attention, "fp32_avx512", lambda: True)  # ...with AVX-512
        faked_avx512.append(True)
        assert not model.encoder.packs_every_batch(torch.float32)
        padded = model(input_ids, attention_mask)
        one_padded = model(input_ids[:1, :64], attention_mask[:1, :64])
        assert len(calls) == 2 * layers
        faked_avx512.clear()
        monkeypatch.setattr(fused_attention, "fp32_avx512", lambda: False)  # AVX2 only
        assert model.encoder.packs_every_batch(torch.float32)
        packed_avx2 = model(input_ids, attention_mask)
        assert len(calls) == 3 * layers
    with torch.enable_grad():  # autograd on: never packed
        monkeypatch.setattr(minilm.model, "fuse_fp32_cpu", lambda: True)
        model(input_ids, attention_mask)
    assert len(calls) == 3 * layers
    torch.testing.assert_close(packed, padded, atol=2e-6, rtol=0)
    torch.testing.assert_close(packed_avx2, padded, atol=2e-6, rtol=0)
    torch.testing.assert_close(one, one_padded, atol=2e-6, rtol=0)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("size", [1e8, 1e10])
def test_scores_of_billions_give_each_query_its_best_keys_value(monkeypatch, dtype, size) -> None:
    # Past 2^31 the softmax's rounded shift left the best key's exponent over 127 (inf, then
    # NaN): a reviewer's find. No trained model gives such scores; PyTorch's softmax copes.
    if not fused_attention.available(32, dtype):
        pytest.skip(f"needs the kernel for {dtype}")
    lengths = [20, 20]
    qkv = random_qkv(lengths, 2, seed=5).float()
    qkv[:, 0] *= size
    qkv = qkv.to(dtype)
    passes = [None]  # the kernel's own choice; in fp32 its AVX2 pass too where AVX-512 runs
    if dtype == torch.float32 and fused_attention.fp32_avx512():
        passes.append(True)
    for avx2 in passes:
        with torch.inference_mode():
            fused = fused_attention.packed_attention(qkv, lengths, avx2=avx2)
            fused = fused.float().view(40, 2, 32)
            plain = torch_path(qkv, lengths, monkeypatch).float().view(40, 2, 32)
        assert torch.isfinite(fused).all()
        values = qkv[:, 2].float()
        for row in range(40):  # each output row is one of its own sequence's value rows
            first = 0 if row < 20 else 20
            gaps = (fused[row][:, None] - values[first : first + 20].transpose(0, 1)).abs()
            assert gaps.amax(dim=-1).amin(dim=-1).max().item() <= 1e-6 * values.abs().max().item()
        assert torch.equal(fused.isnan(), plain.isnan())
