"""Attention of packed bf16 or fp32 sequences in one C pass per (sequence, head):
``minilm/_kernels.c``.

PyTorch's path for a packed batch (``SelfAttention._packed``) makes three calls per sequence and
layer and rounds the scores to bf16 between them; the C kernel keeps them in fp32 and runs about
twice as fast (benchmarks/RESULTS.md, "Encoder"). It runs on the threads of torch's own OpenMP
team (``minilm/cpu_kernels.py``).

It needs the optional extension built at install (a C compiler), an x86-64 CPU with
AVX512-BF16 (fp32: AVX2 and FMA, AVX-512F for its faster pass), a head size of 32 (every MiniLM
here) and, for more than one thread, torch built on OpenMP (as its Linux wheels are);
``available`` says whether it runs here. On CPUs with AMX its dot products run on the tiles
(``amx_available``): there PyTorch's batched kernel, on the tiles too, beat the AVX512-BF16 dot
products.

fp32 batches run packed on the kernel's fp32 pass (FMAs, 2^x to fp32's precision) where fp32
dense layers take oneDNN or the CPU has no AVX-512 (``minilm.model.MiniLMModel.packs_every_batch``):
on a Zen 5 EPYC attention took 0.49 s of a 4.1 s pass over 400 abstracts, against PyTorch's
flash kernel's 1.5 s of 5.0 s; on a Zen 3 EPYC (AVX2, vectors of 8) a batch of 32 abstracts'
attention took 17.7 ms against the flash kernel's 41.7 ms. The vectors stay within 2e-7 of
sentence-transformers'.
"""

from __future__ import annotations

import functools

import torch

from minilm import cpu_kernels
from minilm.devices import cpu_flags

HEAD_DIM = 32
KERNEL_DTYPES = (torch.bfloat16, torch.float32)


@functools.cache
def amx_available() -> bool:
    """Whether the kernel runs on AMX tiles here: built with its tile path (GCC 11 or clang 12,
    Linux), a CPU with AMX-BF16, and Linux gave this process the tile state (oneDNN asks for
    it too)."""
    loaded = cpu_kernels.extension()
    if loaded is None or "amx_bf16" not in cpu_flags():
        return False
    module, _ = loaded
    return bool(module.HAVE_AMX) and module.enable_amx()


def available(head_dim: int, dtype: torch.dtype = torch.bfloat16) -> bool:
    """Whether ``packed_attention`` runs here for heads of ``head_dim`` in ``dtype`` (bf16 or
    fp32; ``cpu_kernels.runs``)."""
    return head_dim == HEAD_DIM and dtype in KERNEL_DTYPES and cpu_kernels.runs(dtype)


def fp32_avx512() -> bool:
    """Whether fp32 attention takes the kernel's AVX-512 pass here (else its AVX2 pass)."""
    return cpu_kernels.AVX512_FLAGS <= cpu_flags()


def packed_attention(
    qkv: torch.Tensor, lengths: list[int], *, amx: bool | None = None, avx2: bool | None = None
) -> torch.Tensor:
    """Softmax attention of each sequence over its own tokens, scaled by 1/sqrt(head size).

    ``qkv`` is (N, 3, heads, 32) bf16 or fp32 on the CPU: the query, key and value of N tokens,
    the sequences of ``lengths`` back to back (a length of 0: a row of padding only, no tokens).
    Returns (N, heads * 32) of its dtype, computed on torch's threads
    (``torch.get_num_threads()``); bf16 on AMX tiles where they run (``amx=False``: the
    AVX512-BF16 dot products anyway). fp32 takes FMAs, its softmax to fp32's precision: in
    vectors of 16 where the CPU has AVX-512, else of 8 (``avx2=True``: those anyway)."""
    tokens, three, heads, head_dim = qkv.shape
    if qkv.dtype not in KERNEL_DTYPES or qkv.device.type != "cpu" or three != 3:
        raise ValueError(
            f"qkv must be (N, 3, heads, 32) bf16 or fp32 on the CPU, got {qkv.dtype} "
            f"{tuple(qkv.shape)} on {qkv.device}"
        )
    fp32 = qkv.dtype == torch.float32
    if avx2 and not fp32:
        raise RuntimeError("the fused attention kernel's AVX2 pass is fp32 only")
    if not available(head_dim, qkv.dtype):
        raise RuntimeError(
            f"the fused attention kernel does not run here (head size {head_dim}, {qkv.dtype})"
        )
    if amx and (fp32 or not amx_available()):
        raise RuntimeError("the fused attention kernel cannot use AMX tiles here (bf16 only)")
    if avx2 is False and fp32 and not fp32_avx512():
        raise RuntimeError("the fused attention kernel's AVX-512 pass needs AVX-512 F/BW/VL/DQ")
    if sum(lengths) != tokens or min(lengths, default=0) < 0:
        raise ValueError(f"lengths (sum {sum(lengths)}) must be 0 or more and sum to {tokens}")
    qkv = qkv.contiguous()
    out = qkv.new_empty(tokens, heads, head_dim)
    offsets = torch.tensor([0, *lengths], dtype=torch.int64).cumsum_(0)
    module, _ = cpu_kernels.extension()
    if fp32:
        kernel = module.KERNEL_FP32_AVX2 if avx2 or not fp32_avx512() else module.KERNEL_FP32
    else:
        on_tiles = amx_available() if amx is None else amx
        kernel = module.KERNEL_AMX if on_tiles else module.KERNEL_BF16
    module.attention(
        qkv.data_ptr(),
        out.data_ptr(),
        offsets.data_ptr(),
        len(lengths),
        heads,
        head_dim**-0.5,
        torch.get_num_threads(),
        kernel,
    )
    return out.view(tokens, heads * head_dim)
