"""Query latency: the NumPy encoder against the PyTorch SentenceEncoder (fp32, one thread each).

Run by hand from the repository root (not a test):

    python benchmarks/numpy_query.py                 # 40 rounds, 5 cold starts each
    python benchmarks/numpy_query.py --rounds 20 --cold-runs 3

Prints the CPU model (from /proc/cpuinfo) and the load average before and after (the machine may
be shared with other work), then markdown tables for benchmarks/RESULTS.md:

- warm: ``encode([query])`` for a few queries of different lengths on all-MiniLM-L6-v2, the two
  encoders alternating query by query so neither gets a quieter machine; median and 90th
  percentile, and the largest difference between their vectors;
- cold: a fresh ``python -c`` process that imports the encoder, loads the model and embeds one
  query (one untimed run first warms the OS file cache and the checksum cache); import, load and
  first-query seconds measured inside the process, and the process's wall time;
- the dense-layer layout behind ``minilm.numpy_model.FEW_ROWS``: ``x @ W.T`` against
  ``(W @ x.T).T`` for a (1536, 384) weight, by number of rows.

Every BLAS and OpenMP pool runs one thread (``--threads 1``, the default): the variables are set
before NumPy and torch load, and ``torch.set_num_threads`` follows them. ``--threads 0`` leaves
them unset: each library's default (all cores).
"""

from __future__ import annotations

import argparse
import os

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="timed encodes per query")
    parser.add_argument("--cold-runs", type=int, default=5, help="timed fresh processes each")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per pool (0: each library's default)"
    )
    return parser.parse_args()


# Parsed before NumPy and torch load: they read the thread variables once, when they load.
ARGS = parse_args()
if ARGS.threads:
    for _name in THREAD_VARIABLES:
        os.environ[_name] = str(ARGS.threads)

import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `minilm` importable

from benchmarks.machine import cpu_model  # noqa: E402

MODEL = "all-MiniLM-L6-v2"
QUERIES = [
    "boundary layer",
    "what is the boundary layer of a swept wing",
    "how does heat transfer change in hypersonic flow over a blunt body at high mach numbers",
    "experimental and theoretical studies of the buckling of thin cylindrical shells under axial "
    "compression and external pressure, with imperfections in the shell geometry",
]

COLD_NUMPY = """
import json, sys, time
start = time.perf_counter()
from minilm import NumpyEncoder
imported = time.perf_counter()
encoder = NumpyEncoder.from_pretrained(sys.argv[1])
loaded = time.perf_counter()
encoder.encode([sys.argv[2]])
done = time.perf_counter()
print(json.dumps({"import": imported - start, "load": loaded - imported, "query": done - loaded,
                  "torch": "torch" in sys.modules}))
"""

COLD_TORCH = """
import json, sys, time
start = time.perf_counter()
from minilm import SentenceEncoder
import os, torch
if os.environ.get("OMP_NUM_THREADS"):
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
imported = time.perf_counter()
encoder = SentenceEncoder.from_pretrained(sys.argv[1], device="cpu", precision="fp32")
loaded = time.perf_counter()
encoder.encode([sys.argv[2]])
done = time.perf_counter()
print(json.dumps({"import": imported - start, "load": loaded - imported, "query": done - loaded,
                  "torch": "torch" in sys.modules}))
"""


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def warm(rounds: int) -> None:
    import torch

    from minilm import NumpyEncoder, SentenceEncoder

    if ARGS.threads:
        torch.set_num_threads(ARGS.threads)
    encoders: dict[str, Callable[[list[str]], np.ndarray]] = {
        "numpy": NumpyEncoder.from_pretrained(MODEL).encode,
        "torch": SentenceEncoder.from_pretrained(MODEL, device="cpu", precision="fp32").encode,
    }
    tokenizer = NumpyEncoder.from_pretrained(MODEL).tokenizer
    print("\n### Warm: one query, encode([query]), milliseconds\n")
    print(
        "| query tokens | NumPy p50 | NumPy p90 | torch p50 | torch p90 | NumPy / torch (p50) |"
        " max abs diff |"
    )
    print("|---|---|---|---|---|---|---|")
    for query in QUERIES:
        times: dict[str, list[float]] = {name: [] for name in encoders}
        vectors = {name: encode([query]) for name, encode in encoders.items()}  # warm-up
        for _ in range(rounds):
            for name, encode in encoders.items():
                start = time.perf_counter()
                encode([query])
                times[name].append((time.perf_counter() - start) * 1e3)
        tokens = len(tokenizer.encode_ids([query])[0])
        p50 = {name: statistics.median(values) for name, values in times.items()}
        diff = float(np.abs(vectors["numpy"] - vectors["torch"]).max())
        print(
            f"| {tokens} | {p50['numpy']:.2f} | {percentile(times['numpy'], 90):.2f} "
            f"| {p50['torch']:.2f} | {percentile(times['torch'], 90):.2f} "
            f"| {p50['numpy'] / p50['torch']:.2f} | {diff:.1e} |"
        )


def cold(runs: int) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    programs = {"numpy": COLD_NUMPY, "torch": COLD_TORCH}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in programs}
    for run in range(runs + 1):  # run 0 is untimed: OS file cache and checksum cache
        for name, program in programs.items():
            start = time.perf_counter()
            completed = subprocess.run(
                [sys.executable, "-c", program, MODEL, QUERIES[1]],
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            wall = time.perf_counter() - start
            if run:
                results[name].append({**json.loads(completed.stdout), "wall": wall})
    print("\n### Cold: a fresh process imports, loads and embeds one query, seconds (median)\n")
    print("| encoder | import | load | first query | process wall time | torch imported |")
    print("|---|---|---|---|---|---|")
    for name, rows in results.items():
        median = {key: statistics.median(r[key] for r in rows) for key in rows[0] if key != "torch"}
        print(
            f"| {name} | {median['import']:.3f} | {median['load']:.3f} | {median['query']:.3f} "
            f"| {median['wall']:.3f} | {'yes' if rows[0]['torch'] else 'no'} |"
        )


def dense_layouts(rounds: int) -> None:
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((1536, 384), dtype=np.float32)
    print("\n### Dense layer layout, (1536, 384) weight, microseconds (median)\n")
    print("| rows | x @ W.T | (W @ x.T).T |")
    print("|---|---|---|")
    for rows in (1, 10, 32, 64, 128, 512):
        x = rng.standard_normal((rows, 384), dtype=np.float32)
        times: dict[str, list[float]] = {"plain": [], "transposed": []}
        for _ in range(max(rounds, 2000 // rows)):
            start = time.perf_counter()
            _ = x @ weight.T
            middle = time.perf_counter()
            _ = (weight @ x.T).T
            end = time.perf_counter()
            times["plain"].append((middle - start) * 1e6)
            times["transposed"].append((end - middle) * 1e6)
        print(
            f"| {rows} | {statistics.median(times['plain']):.0f} "
            f"| {statistics.median(times['transposed']):.0f} |"
        )


def main() -> None:
    threads = ARGS.threads or "each library's default"
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical cores; threads per pool: {threads}")
    print(f"numpy {np.__version__}; load average before: {load_average()}")
    warm(ARGS.rounds)
    cold(ARGS.cold_runs)
    dense_layouts(ARGS.rounds)
    print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
