"""Encoding on a CUDA GPU: our MiniLM against sentence-transformers, and the batch shape.

Run by hand on a machine with a CUDA GPU, from the repository root (not a test):

    python benchmarks/cuda.py                  # Cranfield abstracts and STS-b, 3 rounds

Both encoders embed the same texts at max length 256, in alternating rounds on one GPU; the
median round is reported as tokens/s (non-padding tokens after truncation, [CLS] and [SEP]
included), each as a ratio to sentence-transformers in fp32 at its default batch of 32 and to
sentence-transformers in fp16 (``model.half()``, how GPU users often run it) at the same batch.
Ours runs in fp32, bf16 and fp16, at sentence-transformers' batch of 32 texts and the CPU's
budget of 4,096 padded tokens a pass, in its own passes on CUDA (``minilm.batching``), and in
passes of 512 texts and 131,072 tokens. Then one
short query, warm: the median of 50 calls each. Vectors are compared with sentence-transformers'
fp32 ones (max |difference|, or mean cosine for the half precisions).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `minilm` importable

from benchmarks.machine import describe  # noqa: E402
from minilm import SentenceEncoder, locate_model  # noqa: E402
from minilm.batching import BATCH_TOKENS  # noqa: E402

CRANFIELD = REPO_ROOT / "data" / "cranfield" / "corpus.jsonl"
STSB = REPO_ROOT / "data" / "stsb" / "stsb-en-test.csv"
MAX_LENGTH = 256
QUERY = "what is the effect of heat transfer on the boundary layer of a swept wing"


def cranfield_texts() -> list[str]:
    return [json.loads(line)["text"] for line in CRANFIELD.read_text("utf-8").splitlines()]


def stsb_texts() -> list[str]:
    import csv

    with open(STSB, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return [r[0] for r in rows] + [r[1] for r in rows]


def timed(encode: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    torch.cuda.synchronize()
    start = time.perf_counter()
    vectors = encode()  # returns host arrays: the GPU's work is done
    return time.perf_counter() - start, vectors


def query_ms(encode: Callable[[], object]) -> float:
    for _ in range(5):
        encode()
    times = []
    for _ in range(50):
        torch.cuda.synchronize()
        start = time.perf_counter()
        encode()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def compare(
    corpus: str,
    texts: list[str],
    references: dict[str, Any],
    ours: dict[str, SentenceEncoder],
    rounds: int,
) -> None:
    """Time every encoder on ``texts``; print tokens/s, ratios and closeness."""
    reference, reference_half = references["fp32"], references["fp16"]
    shapes = [(32, BATCH_TOKENS), (None, None), (512, 131072)]  # None: the encoder's own
    tokens = sum(len(ids) for ids in ours["fp32"].tokenizer.encode_ids(texts))
    print(f"\n{corpus}: {len(texts)} texts, {tokens} tokens, {rounds} rounds")
    runs: dict[str, Callable[[], np.ndarray]] = {
        "sentence-transformers fp32, batch 32": lambda: reference.encode(
            texts, batch_size=32, normalize_embeddings=True
        ),
        "sentence-transformers fp16, batch 32": lambda: reference_half.encode(
            texts, batch_size=32, normalize_embeddings=True
        ),
        "sentence-transformers fp16, batch 512": lambda: reference_half.encode(
            texts, batch_size=512, normalize_embeddings=True
        ),
    }
    for precision, encoder in ours.items():
        for size, budget in shapes:
            shape = f"batch {size or encoder.batch_size}, {budget or encoder.batch_tokens} tokens"
            runs[f"minilm {precision}, {shape}{'' if size else ' (own)'}"] = (
                lambda e=encoder, s=size, b=budget: e.encode(texts, batch_size=s, batch_tokens=b)
            )
    for run in runs.values():  # warm-up: kernels chosen, memory taken
        run()
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for name, run in runs.items():
            elapsed, vectors[name] = timed(run)
            seconds[name].append(elapsed)
    base = statistics.median(seconds["sentence-transformers fp32, batch 32"])
    half = statistics.median(seconds["sentence-transformers fp16, batch 32"])
    truth = vectors["sentence-transformers fp32, batch 32"]
    for name, values in seconds.items():
        median = statistics.median(values)
        if "fp32" in name:
            closeness = f"max |diff| {np.abs(vectors[name] - truth).max():.2e}"
        else:
            closeness = f"cosine mean {(vectors[name] * truth).sum(axis=1).mean():.6f}"
        print(
            f"  {name:44s} {tokens / median:>10,.0f} tokens/s  x{base / median:5.2f} fp32 "
            f"x{half / median:5.2f} fp16 (ST, batch 32)  {closeness}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per encoder")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("error: no CUDA device: this benchmark runs on a GPU")
    print(describe())
    print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}", flush=True)

    from sentence_transformers import SentenceTransformer

    folder = locate_model("all-MiniLM-L6-v2").weights_path.parent
    reference = SentenceTransformer(str(folder), device="cuda").float()
    reference.max_seq_length = MAX_LENGTH
    reference_half = SentenceTransformer(str(folder), device="cuda").half()
    reference_half.max_seq_length = MAX_LENGTH
    ours = {
        p: SentenceEncoder.from_pretrained(
            folder, device="cuda", precision=p, max_length=MAX_LENGTH
        )
        for p in ("fp32", "bf16", "fp16")
    }
    for corpus, texts in (("Cranfield abstracts", cranfield_texts()), ("STS-b", stsb_texts())):
        compare(corpus, texts, {"fp32": reference, "fp16": reference_half}, ours, args.rounds)

    print("\none query, warm (median of 50)")
    print(f"  sentence-transformers fp32 {query_ms(lambda: reference.encode([QUERY])):.2f} ms")
    print(f"  sentence-transformers fp16 {query_ms(lambda: reference_half.encode([QUERY])):.2f} ms")
    for precision, encoder in ours.items():
        print(f"  minilm {precision} {query_ms(lambda e=encoder: e.encode([QUERY])):.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
