"""Which vector index to build, and with which parameters: the measured policy.

``VectorParams`` describes one index (its kind and that kind's knobs); ``plan_params`` picks them
for an index type (flat, ivf, hnsw or auto) and a number of vectors. ``vectors.py`` builds them.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

KINDS = ("flat", "ivf", "hnsw")
INDEX_TYPES = ("auto", *KINDS)

# auto switches flat -> ivf at this many chunks, and back below half of it (no flapping). From
# `python benchmarks/scale.py --sweep` (2-core Xeon, AVX-512; Cranfield-like vectors, the 225
# Cranfield queries one at a time, k=10; embedding one query: 5.0 ms p50). Single-query p50:
#     n      5k    10k    20k    30k    50k   100k   300k
#     flat  0.33   0.59   1.11   1.70   3.21  11.51  35.27 ms (exact)
#     ivf   0.13   0.13   0.16   0.20   0.26   0.41   0.73 ms, recall@10 0.97-0.99,
#           built (trained and filled) in 0.05 / 0.12 / 0.39 / 0.77 / 1.59 / 4.27 / 8.59 s
# ivf pays once flat search costs over half of embedding the query (2.5 ms): from 50k. Below,
# exact search adds under 2 ms to a ~6 ms query; above, flat falls out of the CPU cache (100k
# vectors are 154 MB) and alone would use up the 10 ms budget of a warm query.
# Why ivf and not hnsw for auto (1M vectors, benchmarks/scale.py): ivf builds in 32 s against
# 136 s, searches in 1.50 GB against 1.79 GB, reaches recall@10 0.996 at p50 2.2 ms (hnsw 0.976
# at 1.0 ms), and removes a changed file's chunks in place, where hnsw leaves tombstones.
AUTO_THRESHOLD = 50_000
IVF_CELLS_PER_SQRT_N = 4  # nlist = 4 sqrt(n), FAISS's usual lower end: cheaper to train
IVF_TRAIN_PER_CELL = 40  # k-means sample size per cell (FAISS asks for at least 39)
# 100k vectors, 1,265 cells, nprobe 32: 10 iterations train in 3.5 s to recall@10 0.991, FAISS's
# default 25 in 9.2 s to the same 0.991. Spherical (unit-norm) centroids: 0.969 against 0.958
# at nprobe 16.
IVF_KMEANS_ITERATIONS = 10
# Cells read per query: at least 32, and 1/64 of them. At 1M vectors (4,000 cells), benchmarks/
# scale.py: nprobe 16 / 32 / 62 / 128 give recall@10 0.965 / 0.986 / 0.996 / 0.998 at p50
# 0.82 / 1.30 / 2.24 / 4.37 ms; 62 keeps a margin over 0.95 for data less clustered than ours.
IVF_MIN_NPROBE, IVF_PROBED_SHARE = 32, 64
# hnsw at 1M (M 32): efConstruction 40 reached only recall@10 0.854 / 0.929 at efSearch 128 /
# 256; efConstruction 80 builds in 136 s and reaches 0.936 / 0.976 / 0.992 at efSearch 128 /
# 256 / 512 (p50 0.64 / 0.99 / 1.71 ms).
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 256


@dataclass(frozen=True)
class VectorParams:
    """How a vector index is built and searched; only the fields of its kind are set."""

    kind: str = "flat"
    nlist: int = 0  # ivf: k-means cells
    nprobe: int = 0  # ivf: cells read per query
    m: int = 0  # hnsw: graph links per node (FAISS's M)
    ef_construction: int = 0  # hnsw: candidates kept while inserting
    ef_search: int = 0  # hnsw: candidates kept while searching

    def __post_init__(self) -> None:
        fields = {
            "flat": (),
            "ivf": ("nlist", "nprobe"),
            "hnsw": ("m", "ef_construction", "ef_search"),
        }
        if self.kind not in fields:
            raise ValueError(f"unknown vector index kind {self.kind!r}; choose one of {KINDS}")
        for name, value in asdict(self).items():
            if name == "kind":
                continue
            if name in fields[self.kind] and value < 1:
                raise ValueError(f"{name} ({value}) must be at least 1 for a {self.kind} index")
            if name not in fields[self.kind] and value:
                raise ValueError(f"{name} ({value}) does not apply to a {self.kind} index")
        if self.nprobe > self.nlist:
            raise ValueError(f"nprobe ({self.nprobe}) must not exceed nlist ({self.nlist})")

    def to_json(self) -> str:
        return json.dumps({key: value for key, value in asdict(self).items() if value})

    @classmethod
    def from_json(cls, text: str | None) -> VectorParams | None:
        """The parameters recorded in meta; ``None`` when absent or unreadable."""
        try:
            return cls(**json.loads(text)) if text else None
        except (ValueError, TypeError):
            return None


def ivf_params(n: int) -> VectorParams:
    """The ivf layout for ``n`` vectors: 4 sqrt(n) cells, each trained on 40 vectors."""
    nlist = max(1, min(round(IVF_CELLS_PER_SQRT_N * math.sqrt(n)), n // IVF_TRAIN_PER_CELL))
    nprobe = min(nlist, max(IVF_MIN_NPROBE, nlist // IVF_PROBED_SHARE))
    return VectorParams("ivf", nlist=nlist, nprobe=nprobe)


def hnsw_params() -> VectorParams:
    return VectorParams(
        "hnsw", m=HNSW_M, ef_construction=HNSW_EF_CONSTRUCTION, ef_search=HNSW_EF_SEARCH
    )


def plan_params(index_type: str, n: int, current: VectorParams | None = None) -> VectorParams:
    """The parameters ``index_type`` calls for at ``n`` vectors.

    ``current`` (the index as it is) is kept while it still fits, so small changes in size do
    not rebuild: auto stays ivf down to half the threshold, an ivf layout is kept while its
    nlist is within 4x of the one ``n`` calls for.
    """
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index type {index_type!r} must be one of {', '.join(INDEX_TYPES)}")
    kind = current.kind if current else None
    if index_type == "auto":
        stay_ivf = kind == "ivf" and n >= AUTO_THRESHOLD // 2
        index_type = "ivf" if n >= AUTO_THRESHOLD or stay_ivf else "flat"
    if index_type == "hnsw":
        return current if current and kind == "hnsw" else hnsw_params()
    if index_type == "flat" or n == 0:  # an empty ivf index has nothing to train on
        return VectorParams()
    planned = ivf_params(n)
    if current and kind == "ivf" and planned.nlist / 4 <= current.nlist <= planned.nlist * 4:
        return current
    return planned
