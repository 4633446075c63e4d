"""Choosing the device and the numeric precision the encoder runs in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from minilm.cpuinfo import cpu_flags, cpu_vendor

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an explicit device must be available."""
    if isinstance(device, torch.device):
        device = str(device)
    name = device.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        chosen = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(
            f"device ({device!r}) is not a device name; use auto, cpu, cuda, cuda:N or mps"
        ) from exc
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device ({device!r}) is not available: no CUDA GPU; use cpu or auto")
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise ValueError(
                f"device ({device!r}) is not available: {torch.cuda.device_count()} CUDA GPU(s)"
            )
    elif chosen.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"device ({device!r}) is not available: no MPS; use cpu or auto")
    elif chosen.type != "cpu":
        raise ValueError(f"device ({device!r}) is not supported; use auto, cpu, cuda or mps")
    return chosen


def cpu_prefers_onednn_fp32() -> bool:
    """True on x86 CPUs with AVX-512 not made by Intel: there MKL, which runs torch's fp32
    matmul, takes its AVX2 code, and oneDNN's AVX-512 kernels reach twice its rate (AMD EPYC,
    Zen 5: 200 against 460 GFLOP/s at the encoder's shapes; benchmarks/RESULTS.md, "Encoder").
    On an Intel Ice Lake the two measured the same."""
    return "avx512f" in cpu_flags() and cpu_vendor() not in ("", "GenuineIntel")


def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX), per /proc/cpuinfo."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def cpu_has_amx() -> bool:
    """True when the CPU has AMX tiles for bf16 (Intel Xeon since Sapphire Rapids)."""
    return "amx_bf16" in cpu_flags()


def other_runnable_threads(proc: str = "/proc") -> int | None:
    """Threads of other processes on a CPU or waiting for one at this instant (Linux: the
    runnable count in /proc/loadavg less this process's threads in state R); None elsewhere.
    Host-wide: in a container it counts other tenants' threads too."""
    try:
        with open(os.path.join(proc, "loadavg"), "rb") as fh:
            runnable = int(fh.read().split()[3].split(b"/")[0])
        own = 0
        for task in os.scandir(os.path.join(proc, "self", "task")):
            try:
                with open(os.path.join(task.path, "stat"), "rb") as fh:
                    stat = fh.read()
            except OSError:  # the thread has ended
                continue
            end = stat.rindex(b")")  # the name, in parentheses, may hold anything
            own += stat[end + 2 : end + 3] == b"R"
        return max(0, runnable - own)
    except (OSError, ValueError, IndexError):
        return None


def cpu_contended() -> bool:
    """Whether other processes' runnable threads outnumber the cores this process's torch
    threads leave free (False when that cannot be read)."""
    others = other_runnable_threads()
    if not others:
        return False
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on every platform
        cores = os.cpu_count() or 1
    return others > max(0, cores - torch.get_num_threads())


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """Map ``fp32|bf16|fp16|auto`` to a dtype that ``device`` runs well, or raise ``ValueError``.

    ``auto`` is bf16 on CUDA and on CPUs with native bf16, fp32 elsewhere.
    """
    name = precision.strip().lower()
    if name == "auto":
        if device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16()):
            return torch.bfloat16
        return torch.float32
    if name not in PRECISIONS:
        raise ValueError(f"precision ({precision!r}) must be one of auto, fp32, bf16, fp16")
    if name == "fp16" and device.type not in ("cuda", "mps"):
        raise ValueError(f"precision fp16 needs a CUDA or MPS device, not {device.type}; use fp32")
    if name == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        raise ValueError(
            "precision bf16 needs a CPU with AVX512-BF16 or AMX (this one has neither) or a "
            "CUDA device; use fp32"
        )
    return PRECISIONS[name]


def precision_name(dtype: torch.dtype) -> str:
    return next(name for name, value in PRECISIONS.items() if value == dtype)


def query_threads() -> int:
    """Threads for embedding one short query: all cores on an idle machine, one when other work
    is running, where threads waiting on each other's cores make a query many times slower than
    one thread does (benchmarks/RESULTS.md, "Encoder")."""
    cores = torch.get_num_threads()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return 1
    # The load average counts this process too (up to 1): another busy process pushes it past.
    return cores if load < cores - 0.5 else 1


@contextmanager
def cpu_threads(count: int) -> Iterator[None]:
    """Run torch's CPU ops on ``count`` threads inside the block.

    One short query is too small to split across cores, and on a busy machine a second OpenMP
    thread that waits for a core stalls the query far longer than it saves; one thread keeps
    it steady (benchmarks/RESULTS.md, "Encoder").
    """
    previous = torch.get_num_threads()
    if previous == count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
