"""A saved flat vector index searched with NumPy through a memory map, without FAISS.

Importing FAISS took ~35 ms of a ~165 ms `search query` (AMD EPYC, Zen 5); a flat index is a
matrix and its ids, which NumPy reads in place. ``MappedFlat.open`` accepts only the file FAISS
writes for ``IndexIDMap2(IndexFlatIP)`` (``vectors.py``'s flat kind), checked field by field and
against its size; anything else (ivf, hnsw, a damaged file) returns ``None`` and the caller
reads it with FAISS, which says what is wrong. Up to ``MAPPED_FLAT_MAX`` vectors: past them
FAISS's scan (2.3 ms for 50,000 vectors, one thread) pays for its import (NumPy's matrix-vector
product: 8.8 ms).

The file, as ``faiss.write_index`` lays it out (little-endian):

    "IxM2", header, "IxFI", header, uint64 n*d, float32[n*d], uint64 n, int64[n]

where a header is ``int32 d, int64 n, int64 0x100000, int64 0x100000, uint8 is_trained,
int32 metric`` (metric 0: inner product).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from searchapp.errors import DamagedVectorsError
from searchapp.storage.vector_params import AUTO_THRESHOLD

MAPPED_FLAT_MAX = AUTO_THRESHOLD
# Most a cosine of unit vectors can be, with float32's and bf16's rounding: a stored vector
# scoring more (or NaN) is bytes of a damaged vectors.faiss (random bytes scored 2.7e37).
COSINE_MAX = 1.01
_HEADER = struct.Struct("<4siqqqBi")  # fourcc, d, n, two dummies, is_trained, metric
_SIZE = struct.Struct("<Q")
_INNER_PRODUCT = 0


@dataclass(frozen=True)
class MappedFlat:
    """A flat index's ``(n, dim)`` vectors and their chunk ids, read-only, searched exactly by
    inner product. Serves a reader as ``VectorIndex`` does (``search``, ``vectors_of``)."""

    dim: int
    matrix: np.ndarray  # (n, dim) float32, mapped
    chunk_ids: np.ndarray  # (n,) int64, mapped, in the matrix's order
    sorted_ids: np.ndarray  # chunk_ids sorted, for vectors_of
    order: np.ndarray | None  # positions sorting chunk_ids; None when they are sorted already

    mapped = True  # read-only: a writer opens the file into a VectorIndex instead

    @classmethod
    def open(cls, path: Path, dim: int) -> MappedFlat | None:
        """The flat index saved at ``path``, or ``None`` when the file is not one of at most
        ``MAPPED_FLAT_MAX`` vectors of dimension ``dim`` laid out as above."""
        # One open file for every read and both maps: a writer renames a new file over the
        # path while a reader opens it, and reads of the path itself could mix the two.
        try:
            with open(path, "rb") as file:
                return cls._read(file, dim)
        except (OSError, ValueError, struct.error):  # a file cut or grown under the checks
            return None

    @classmethod
    def _read(cls, file: BinaryIO, dim: int) -> MappedFlat | None:
        head = file.read(2 * _HEADER.size + _SIZE.size)
        size = file.seek(0, 2)
        if len(head) < 2 * _HEADER.size + _SIZE.size:
            return None
        outer = _HEADER.unpack_from(head, 0)
        inner = _HEADER.unpack_from(head, _HEADER.size)
        n = outer[2]
        if (
            outer[0] != b"IxM2"
            or inner[0] != b"IxFI"
            or outer[1] != dim
            or inner[1:3] != (dim, n)
            or not 0 < n <= MAPPED_FLAT_MAX
            or outer[6] != _INNER_PRODUCT
            or inner[6] != _INNER_PRODUCT
            or _SIZE.unpack_from(head, 2 * _HEADER.size)[0] != n * dim
        ):
            return None
        codes = 2 * _HEADER.size + _SIZE.size
        ids_size = codes + 4 * n * dim
        if size != ids_size + _SIZE.size + 8 * n:
            return None
        file.seek(ids_size)
        if _SIZE.unpack(file.read(_SIZE.size))[0] != n:
            return None
        matrix = np.memmap(file, dtype="<f4", mode="r", offset=codes, shape=(n, dim))
        chunk_ids = np.memmap(file, dtype="<i8", mode="r", offset=ids_size + _SIZE.size, shape=n)
        if bool(np.all(chunk_ids[1:] > chunk_ids[:-1])):  # as a build or a catch-up adds them
            return cls(dim, matrix, chunk_ids, chunk_ids, None)
        order = np.argsort(chunk_ids, kind="stable")
        return cls(dim, matrix, chunk_ids, chunk_ids[order], order)

    @property
    def ntotal(self) -> int:
        return len(self.chunk_ids)

    def ids(self) -> np.ndarray:
        return np.array(self.chunk_ids, dtype=np.int64)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Best ``min(k, ntotal)`` chunks per query, exactly, as ``VectorIndex.search``:
        ``(scores (m, k') float32, ids (m, k') int64)``, best first, equal scores by chunk id."""
        if k < 1:
            raise ValueError(f"k ({k}) must be at least 1")
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries have shape {queries.shape}; expected (n, {self.dim})")
        k = min(k, self.ntotal)
        # The matrix times each query: queries @ matrix.T took 55 ms for one query against
        # 50,000 vectors (OpenBLAS's general product over a transposed map), this 8 ms.
        with np.errstate(invalid="ignore", over="ignore"):  # a damaged file: the searcher says
            scores = np.ascontiguousarray((self.matrix @ queries.T).T)  # (m, n)
        # Every score is here: one no cosine of unit vectors can be (NaN, infinite, past 1)
        # is a damaged file, wherever it would rank. A NaN, ranked nowhere, left hits scored
        # "nan" in hybrid mode, where other rankers found its passage.
        worst = float(np.max(np.abs(scores))) if scores.size else 0.0
        if not worst <= COSINE_MAX:
            raise DamagedVectorsError(f"a stored vector scores {worst:.3g} as a cosine")
        if k < self.ntotal:
            best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            # Equal to the k-th score but left out: ties are then broken by chunk id below, so
            # take every position scoring at least the k-th and sort those.
            kth = np.take_along_axis(scores, best, axis=1).min(axis=1, keepdims=True)
            rows = [np.flatnonzero(row >= cut) for row, cut in zip(scores, kth)]
        else:
            rows = [np.arange(self.ntotal)] * len(queries)
        out_scores = np.empty((len(queries), k), dtype=np.float32)
        out_ids = np.empty((len(queries), k), dtype=np.int64)
        for q, positions in enumerate(rows):
            ids = np.asarray(self.chunk_ids[positions])
            ranked = np.lexsort((ids, -scores[q, positions]))[:k]
            out_scores[q] = scores[q, positions[ranked]]
            out_ids[q] = ids[ranked]
        return out_scores, out_ids

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The stored ``(len(ids), dim)`` vectors of these chunk ids; ValueError for an id the
        index does not hold."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        if not len(ids):
            return np.empty((0, self.dim), dtype=np.float32)
        held = self.sorted_ids
        at = np.minimum(np.searchsorted(held, ids), len(held) - 1)
        missing = held[at] != ids
        if missing.any():
            raise ValueError(
                f"some of these chunk ids are not in the vector index: {ids[missing][:5].tolist()}"
            )
        positions = at if self.order is None else self.order[at]
        return np.array(self.matrix[positions], dtype=np.float32)
