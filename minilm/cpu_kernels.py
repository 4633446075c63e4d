"""The encoder's C kernels (``minilm/_kernels.c``), the threads they run on, and the bf16
LayerNorm.

The extension is optional: it needs a C compiler at install and, to run, an x86-64 CPU with
AVX2 and FMA (fp32 attention), AVX-512 for its faster fp32 attention, and AVX512-BF16 for its
bf16 kernels (``runs`` says whether they run here). Its kernels
run on the threads of torch's own OpenMP team: a thread of our own, or a team of another OpenMP
runtime in the process (faiss-cpu's), competes for the cores with torch's threads, which
spin-wait for a few milliseconds after each of torch's parallel regions (on Zen 4 that cost the
attention kernel all it gained, and slowed the dense layers). Attention:
``minilm/fused_attention.py``.

``layer_norm`` is the bf16 encoder's LayerNorm on the CPU (``minilm.model.LayerNorm``): on Zen 5
torch's bf16 kernel took 0.37 ms for 4,096 rows of 384 on two threads, this one 0.16 ms
(benchmarks/RESULTS.md).
"""

from __future__ import annotations

import ctypes
import functools
import re
from types import ModuleType

import torch

from minilm.devices import cpu_flags

AVX2_FLAGS = {"avx2", "fma"}  # the fp32 attention kernel's AVX2 pass: any kernel at all
AVX512_FLAGS = {"avx512f", "avx512bw", "avx512vl", "avx512dq"}  # its AVX-512 pass
CPU_FLAGS = AVX512_FLAGS | {"avx512_bf16"}  # the bf16 kernels
# torch's own library: symbols looked up through it resolve in its dependencies, its OpenMP
# runtime among them. Another runtime may be loaded too (faiss-cpu bundles its own libgomp),
# and a team of that one would compete with torch's threads for the cores.
TORCH_CPU_LIBRARY = re.compile(r"/libtorch_cpu\.(so|dylib)[^/]*$")
OPENMP_SYMBOLS = ("GOMP_parallel", "omp_get_thread_num", "omp_get_num_threads")
NORM_WIDTHS = range(16, 1025, 16)  # what the C LayerNorm takes


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
def extension() -> tuple[ModuleType, bool] | None:
    """The extension module and whether its kernels run on torch's OpenMP team (else on one
    thread), or None where they cannot run."""
    try:
        from minilm import _kernels
    except ImportError:
        return None
    if not _kernels.HAVE_KERNEL or not AVX2_FLAGS <= cpu_flags():
        return None
    addresses = openmp_addresses()
    if addresses is None:
        return _kernels, False
    _kernels.use_openmp(*addresses)
    return _kernels, True


def runs(dtype: torch.dtype = torch.bfloat16) -> bool:
    """Whether the kernels for ``dtype`` run here (bf16 needs AVX512-BF16; fp32, attention only,
    AVX2 and FMA, AVX-512 F/BW/VL/DQ for its faster pass): on one thread of our own they would
    not beat torch's beside torch's idle team, so with more threads they need the team."""
    loaded = extension()
    if loaded is None or dtype not in (torch.bfloat16, torch.float32):
        return False
    if dtype == torch.bfloat16 and not CPU_FLAGS <= cpu_flags():
        return False
    return loaded[1] or torch.get_num_threads() == 1


def layer_norm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float
) -> torch.Tensor:
    """LayerNorm over the last dimension of a bf16 CPU tensor with bf16 ``weight`` and ``bias``,
    computed in fp32 as torch's kernel is; on torch's threads."""
    width = x.shape[-1]
    if not runs():
        raise RuntimeError("the C LayerNorm does not run here (minilm.cpu_kernels.runs())")
    tensors = (x, weight, bias)
    if any(t.dtype != torch.bfloat16 or t.device.type != "cpu" for t in tensors):
        raise ValueError("x, weight and bias must be bf16 tensors on the CPU")
    if width not in NORM_WIDTHS or weight.shape != (width,) or bias.shape != (width,):
        raise ValueError(
            f"width {width} must be a multiple of 16 up to 1024, weight and bias ({width},), "
            f"got {tuple(weight.shape)} and {tuple(bias.shape)}"
        )
    x, weight, bias = (t.contiguous() for t in tensors)
    out = torch.empty_like(x)
    module, _ = extension()
    module.layer_norm(
        x.data_ptr(),
        out.data_ptr(),
        weight.data_ptr(),
        bias.data_ptr(),
        x.numel() // width,
        width,
        eps,
        torch.get_num_threads(),
    )
    return out
