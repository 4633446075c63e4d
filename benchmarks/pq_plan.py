"""IVF-PQ for the 10M/100M plan (README, "Embedding on a Ray cluster"): recall@10 by code size.

Run by hand from the repository root (not a test):

    python benchmarks/pq_plan.py                   # 200k vectors, m = 24, 48, 96
    python benchmarks/pq_plan.py --n 1000000

Vectors and queries as in benchmarks/scale.py (Cranfield abstracts mixed with covariance-shaped
noise; the 225 Cranfield queries). For each m (sub-quantizers of nbits = 8, so m bytes per
vector), an IVF-PQ index with the project's ivf layout for n (nlist = 4 sqrt(n), nprobe = 1/64 of
the cells, at least 32) is trained on 40 vectors per cell and searched with k = 10 alone, and
with its best 100 re-scored exactly from the float32 vectors (what the SQLite embeddings allow).
Recall@10 is against exact search over the same vectors.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/scale.py beside this file

import faiss  # noqa: E402
from scale import DIM, K, cranfield_vectors, synthetic_batches  # noqa: E402

from searchapp.storage.vector_params import IVF_TRAIN_PER_CELL, ivf_params  # noqa: E402

RERANK = 100  # candidates re-scored exactly


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, exact)]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="vectors")
    parser.add_argument("--m", default="24,48,96", help="PQ sub-quantizers to try (bytes/vector)")
    args = parser.parse_args(argv)
    base, queries = cranfield_vectors()
    vectors = np.concatenate([batch for _, batch in synthetic_batches(base, args.n)])
    exact_scores = queries @ vectors.T  # (225, n)
    exact = np.argsort(-exact_scores, axis=1)[:, :K]
    params = ivf_params(args.n)
    rng = np.random.default_rng(1)
    sample = vectors[rng.choice(args.n, min(args.n, params.nlist * IVF_TRAIN_PER_CELL), False)]
    print(
        f"{args.n:,} vectors, {len(queries)} queries; nlist {params.nlist}, nprobe "
        f"{params.nprobe}, nbits 8; recall@{K} against exact search"
    )
    for m in (int(x) for x in args.m.split(",")):
        quantizer = faiss.IndexFlatIP(DIM)
        index = faiss.IndexIVFPQ(quantizer, DIM, params.nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
        start = time.perf_counter()
        index.train(sample)
        index.add(vectors)
        built = time.perf_counter() - start
        index.nprobe = params.nprobe
        start = time.perf_counter()
        _, found = index.search(queries, RERANK)
        searched = (time.perf_counter() - start) / len(queries) * 1e3
        reranked = np.array(
            [row[np.argsort(-(vectors[row] @ q))[:K]] for row, q in zip(found, queries)]
        )
        alone = recall(found[:, :K], exact)
        print(
            f"  m {m:3} ({m + 8} B/vector with its id): recall@{K} {alone:.3f}"
            f", re-ranked from {RERANK} {recall(reranked, exact):.3f}; built in {built:.1f} s, "
            f"{searched:.2f} ms/query (k={RERANK}, batch)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
