"""What the CPU is, from /proc/cpuinfo (Linux; nothing elsewhere), without importing torch: the
CLI reads it before NumPy loads."""

from __future__ import annotations

import functools

# The instruction sets OpenBLAS's SkylakeX kernels use.
SKYLAKEX_FLAGS = frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@functools.lru_cache(maxsize=1)
def cpu_vendor() -> str:
    """The CPU's vendor string from /proc/cpuinfo (``GenuineIntel``, ``AuthenticAMD``; empty
    where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def openblas_coretype() -> str | None:
    """The kernels to ask OpenBLAS for (``OPENBLAS_CORETYPE``, read when NumPy loads it) where
    it picks slower ones itself: on an AMD EPYC with AVX-512 (Zen 5) NumPy's OpenBLAS 0.3.31
    took its Haswell (AVX2) kernels, and its matmul at 2048 x 384 x 1536 ran at 214 GFLOP/s
    with them against 416 with SkylakeX's; the NumPy encoder's short query took 8.6-8.9 ms
    against 6.6-6.9 on one thread (benchmarks/RESULTS.md, "NumPy encoder"). None elsewhere:
    on Intel CPUs OpenBLAS finds its kernels itself."""
    if cpu_vendor() == "AuthenticAMD" and SKYLAKEX_FLAGS <= cpu_flags():
        return "SkylakeX"
    return None
