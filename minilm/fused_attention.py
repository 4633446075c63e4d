"""Attention of packed bf16 sequences in one C pass per (sequence, head): ``minilm/_attention.c``.

PyTorch's path for a packed batch (``SelfAttention._packed``) makes three calls per sequence and
layer and rounds the scores to bf16 between them; the C kernel keeps them in fp32 and runs about
twice as fast (benchmarks/RESULTS.md, "Encoder"). It runs on the threads of torch's own OpenMP
team: a thread of our own, or a team of another OpenMP runtime in the process (faiss-cpu's),
competes for the cores with torch's threads, which spin-wait for a few milliseconds after each of
torch's parallel regions (on Zen 4 that cost all the kernel gained, and slowed the dense layers).

It needs the optional extension built at install (a C compiler), an x86-64 CPU with
AVX512-BF16, a head size of 32 (every MiniLM here) and, for more than one thread, torch built on
OpenMP (as its Linux wheels are); ``available`` says whether it runs here. On CPUs with AMX its
dot products run on the tiles (``amx_available``): there PyTorch's batched kernel, on the tiles
too, beat the AVX512-BF16 dot products.
"""

from __future__ import annotations

import ctypes
import functools
import re
from collections.abc import Callable

import torch

from minilm.devices import cpu_flags

HEAD_DIM = 32
CPU_FLAGS = {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16"}
# torch's own library: symbols looked up through it resolve in its dependencies, its OpenMP
# runtime among them. Another runtime may be loaded too (faiss-cpu bundles its own libgomp),
# and a team of that one would compete with torch's threads for the cores.
TORCH_CPU_LIBRARY = re.compile(r"/libtorch_cpu\.(so|dylib)[^/]*$")
OPENMP_SYMBOLS = ("GOMP_parallel", "omp_get_thread_num", "omp_get_num_threads")


def torch_cpu_library(maps: str = "/proc/self/maps") -> str | None:
    """The path of the libtorch_cpu loaded in this process, or None."""
    try:
        with open(maps, encoding="utf-8", errors="replace") as fh:
            paths = {line.split()[-1] for line in fh if "libtorch_cpu" in line}
    except OSError:
        return None
    return next((path for path in sorted(paths) if TORCH_CPU_LIBRARY.search(path)), None)


def openmp_addresses() -> tuple[int, ...] | None:
    """Addresses of ``OPENMP_SYMBOLS`` in the OpenMP runtime torch runs on (GNU, LLVM and Intel
    OpenMP all export them), or None when torch's parallel backend is not OpenMP."""
    library = torch_cpu_library()
    if library is None or "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None
    try:
        handle = ctypes.CDLL(library)  # already loaded: the same instance torch uses
        return tuple(ctypes.cast(getattr(handle, n), ctypes.c_void_p).value for n in OPENMP_SYMBOLS)
    except (OSError, AttributeError):
        return None


@functools.cache
def _kernel() -> tuple[Callable[..., None], bool] | None:
    """The extension's ``attention`` function and whether it runs on torch's OpenMP team (else
    on one thread), or None where it cannot run."""
    try:
        from minilm import _attention
    except ImportError:
        return None
    if not _attention.HAVE_KERNEL or not CPU_FLAGS <= cpu_flags():
        return None
    addresses = openmp_addresses()
    if addresses is None:
        return _attention.attention, False
    _attention.use_openmp(*addresses)
    return _attention.attention, True


@functools.cache
def amx_available() -> bool:
    """Whether the kernel runs on AMX tiles here: built with its tile path (GCC 11 or clang 12,
    Linux), a CPU with AMX-BF16, and Linux gave this process the tile state (oneDNN asks for
    it too)."""
    if _kernel() is None or "amx_bf16" not in cpu_flags():
        return False
    from minilm import _attention  # _kernel() imported it

    return bool(_attention.HAVE_AMX) and _attention.enable_amx()


def available(head_dim: int) -> bool:
    """Whether ``packed_attention`` runs here for heads of ``head_dim``: on one thread of our
    own it would not beat PyTorch's path beside torch's idle team, so with more threads it
    needs the team."""
    kernel = _kernel()
    return (
        head_dim == HEAD_DIM and kernel is not None and (kernel[1] or torch.get_num_threads() == 1)
    )


def packed_attention(
    qkv: torch.Tensor, lengths: list[int], *, amx: bool | None = None
) -> torch.Tensor:
    """Softmax attention of each sequence over its own tokens, scaled by 1/sqrt(head size).

    ``qkv`` is (N, 3, heads, 32) bf16 on the CPU: the query, key and value of N tokens, the
    sequences of ``lengths`` back to back (a length of 0: a row of padding only, no tokens).
    Returns (N, heads * 32) bf16, computed on torch's threads (``torch.get_num_threads()``), on
    AMX tiles where they run (``amx=False``: the AVX512-BF16 dot products anyway)."""
    tokens, three, heads, head_dim = qkv.shape
    if not available(head_dim):
        raise RuntimeError(f"the fused attention kernel does not run here (head size {head_dim})")
    if qkv.dtype != torch.bfloat16 or qkv.device.type != "cpu" or three != 3:
        raise ValueError(
            f"qkv must be (N, 3, heads, 32) bf16 on the CPU, got {qkv.dtype} {tuple(qkv.shape)}"
        )
    if amx and not amx_available():
        raise RuntimeError("the fused attention kernel cannot use AMX tiles here")
    if sum(lengths) != tokens or min(lengths, default=0) < 0:
        raise ValueError(f"lengths (sum {sum(lengths)}) must be 0 or more and sum to {tokens}")
    qkv = qkv.contiguous()
    out = qkv.new_empty(tokens, heads, head_dim)
    offsets = torch.tensor([0, *lengths], dtype=torch.int64).cumsum_(0)
    attention, _ = _kernel()
    attention(
        qkv.data_ptr(),
        out.data_ptr(),
        offsets.data_ptr(),
        len(lengths),
        heads,
        head_dim**-0.5,
        torch.get_num_threads(),
        amx_available() if amx is None else amx,
    )
    return out.view(tokens, heads * head_dim)
