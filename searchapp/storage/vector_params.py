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

# Why each constant is what it is: benchmarks/RESULTS.md, "Vector index" (benchmarks/scale.py).
# auto switches flat -> ivf at this many chunks (and back below half of it: no flapping), where
# exact search starts to cost more than half of embedding the query.
AUTO_THRESHOLD = 50_000
IVF_CELLS_PER_SQRT_N = 4  # nlist = 4 sqrt(n), FAISS's usual lower end: cheaper to train
IVF_TRAIN_PER_CELL = 40  # k-means sample size per cell (FAISS asks for at least 39)
# Fewer k-means iterations than FAISS's 25 train as well, in a third of the time.
IVF_KMEANS_ITERATIONS = 10
# Cells read per query: at least 32, and 1/64 of them: recall@10 above 0.95 with a margin for
# data less clustered than ours.
IVF_MIN_NPROBE, IVF_PROBED_SHARE = 32, 64
# hnsw: the smallest efConstruction that reaches recall@10 above 0.95 at 1M vectors.
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
