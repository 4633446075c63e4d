"""What machine a benchmark ran on: every figure printed names the CPU and its bf16/AMX flags.

The project's machines differ from session to session (an Intel Xeon with AMX one day, an AMD
EPYC with AVX512-BF16 the next); a ratio means something only next to the CPU it was measured on.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "amx_int8")


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_flags() -> list[str]:
    """Which of the instruction sets that matter here the CPU reports (Linux only)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    present = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            present.update(line.split(":", 1)[1].split())
            break
    return [flag for flag in FLAGS if flag in present]


def describe() -> str:
    """One line: the CPU, its cores and its bf16/AMX/VNNI flags."""
    flags = " ".join(cpu_flags()) or "no flags read"
    return f"CPU: {cpu_model()}, {os.cpu_count()} cores visible; {flags}"


def reference_round_seconds(module: str, *args: object) -> float:
    """Run ``benchmarks.<module>.reference_round(*args)`` in a fresh Python process (the baseline
    as its users run it, without this process's settings) and return the seconds it prints."""
    repo = str(Path(__file__).resolve().parents[1])
    code = (
        f"import sys; sys.path.insert(0, {repo!r}); "
        f"from benchmarks.{module} import reference_round; reference_round(*{args!r})"
    )
    done = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    if done.returncode:  # its traceback went to stderr, shown above
        raise SystemExit(f"the baseline's round failed (exit {done.returncode})")
    return float(done.stdout.split()[-1])
