"""FAISS vectors derived from the SQLite store: inner-product search keyed by chunk id.

Three kinds, all searched by inner product (cosine, the vectors being unit-norm):

- ``flat``: exact; ``IndexIDMap2(IndexFlatIP)``. Every query reads every vector.
- ``ivf``: ``IndexIVFFlat``; k-means cells, a query reads the ``nprobe`` nearest cells. It stores
  the chunk ids itself: wrapped in ``IndexIDMap2`` it would return wrong ids after a removal,
  because FAISS leaves the lists' internal numbers as they were while the id map is compacted.
  A hashtable from chunk id to vector (FAISS's direct map) serves ``vectors_of``.
- ``hnsw``: ``IndexIDMap2(IndexHNSWFlat)``; a graph walk. The graph cannot drop a node, so a
  removed chunk's id becomes a negative tombstone in the id map (saved with it): the node still
  guides walks and search skips negative ids. Rebuilt once tombstones pass ``TOMBSTONE_LIMIT``.

Each kind's parameters live in the FAISS file and in meta (``vectors_file.py``), so a reopened
or rebuilt index searches as before. ``auto`` (``INDEX_TYPE_KEY``) is flat below
``AUTO_THRESHOLD`` chunks and ivf from there (``vector_params.py``, measured by
``benchmarks/scale.py``).
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from searchapp.errors import CorruptIndexError
from searchapp.storage.paths import created_as_private_as, rebuild_hint
from searchapp.storage.vector_params import (
    IVF_KMEANS_ITERATIONS,
    KINDS,
    VectorParams,
)

logger = logging.getLogger(__name__)

TOMBSTONE_LIMIT = 0.25  # rebuild an hnsw graph once this share of its nodes are removed chunks
# Fewer queries than this search on one thread. FAISS and torch each bring their own OpenMP pool;
# right after a query is embedded, torch's threads still spin, and a multi-threaded search waits
# for them (benchmarks/RESULTS.md, "Vector index").
PARALLEL_QUERIES = 16
_ALL_IDS = faiss.IDSelectorRange(0, np.iinfo(np.int64).max)  # every id that is not a tombstone


class VectorIndex:
    """Chunk vectors keyed by chunk id (int64, not negative), searched by inner product.

    Vectors are expected to be L2-normalised, so scores are cosine similarities. An ivf index
    must be trained (``train``) before vectors are added; ``build_from_store`` does both.
    """

    def __init__(
        self,
        dim: int,
        *,
        params: VectorParams | None = None,
        index: faiss.Index | None = None,
        mapped: bool = False,
    ) -> None:
        if dim < 1:
            raise ValueError(f"dim ({dim}) must be at least 1")
        self.dim = dim
        # Searched in place in a memory map of its file (``load(mapped=True)``): read-only.
        self.mapped = mapped
        self.params = params or VectorParams()
        self.index = index if index is not None else _new_faiss_index(dim, self.params)
        self._tombstones = 0
        if self.kind == "hnsw":
            self._tombstones = int((faiss.vector_to_array(self.index.id_map) < 0).sum())
        if self.kind == "ivf" and self.index.direct_map.type != faiss.DirectMap.Hashtable:
            # id -> vector for vectors_of, kept through removals (built here for older files)
            self.index.set_direct_map_type(faiss.DirectMap.Hashtable)

    @property
    def kind(self) -> str:
        return self.params.kind

    @property
    def ntotal(self) -> int:
        """How many chunks the index holds (tombstones not counted)."""
        return int(self.index.ntotal) - self._tombstones

    @property
    def is_trained(self) -> bool:
        return bool(self.index.is_trained)

    @property
    def needs_compaction(self) -> bool:
        """True when removed chunks fill more than ``TOMBSTONE_LIMIT`` of an hnsw graph."""
        return self._tombstones > TOMBSTONE_LIMIT * max(1, self.index.ntotal)

    def ids(self) -> np.ndarray:
        """The stored chunk ids (int64): in insertion order, except ivf's, grouped by cell."""
        if self.kind == "ivf":
            lists = self.index.invlists
            parts = [
                faiss.rev_swig_ptr(lists.get_ids(cell), lists.list_size(cell)).copy()
                for cell in range(self.index.nlist)
                if lists.list_size(cell)
            ]
            return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        ids = faiss.vector_to_array(self.index.id_map).astype(np.int64, copy=False)
        return ids[ids >= 0] if self._tombstones else ids

    def train(self, sample: np.ndarray) -> None:
        """Fit an ivf index's cells to ``sample`` (n, dim); n must be at least nlist."""
        self._check_writable("train")
        sample = self._matrix(sample, "sample")
        if self.kind == "ivf" and len(sample) < self.params.nlist:
            raise ValueError(
                f"training {self.params.nlist} ivf cells takes at least {self.params.nlist} "
                f"vectors; got {len(sample)}"
            )
        if not self.is_trained:
            self.index.train(sample)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add ``vectors`` (n, dim) under chunk ``ids`` (n,); an id must not be present already."""
        self._check_writable("add to")
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        vectors = self._matrix(vectors, "vectors")
        if len(ids) != len(vectors):
            raise ValueError(f"got {len(ids)} ids for {len(vectors)} vectors; pass one id per row")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("ids repeat within one add(); each chunk id must be added once")
        if len(ids) and ids.min() < 0:
            raise ValueError(f"ids must not be negative (got {ids.min()}); pass chunk ids")
        if not self.is_trained:
            raise ValueError("this ivf index is not trained; call train() with a sample first")
        if len(ids):
            self.index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> int:
        """Remove these chunk ids (unknown ones are ignored); returns how many were removed."""
        self._check_writable("remove from")
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        if not len(ids):
            return 0
        if self.kind != "hnsw":
            return int(self.index.remove_ids(ids))
        # A view onto FAISS's id map (taken fresh: adding may move it); writes go to the index.
        id_map = faiss.rev_swig_ptr(self.index.id_map.data(), self.index.id_map.size())
        positions = np.flatnonzero(np.isin(id_map, ids[ids >= 0]))
        id_map[positions] = -1 - positions  # distinct, as IndexIDMap2's reverse map needs
        self.index.construct_rev_map()
        self._tombstones += len(positions)
        return len(positions)

    def search(
        self, queries: np.ndarray, k: int, *, exact: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` chunks per query: ``(scores (m, k') float32, ids (m, k') int64)``.

        ``k' = min(k, ntotal)``, so no row holds FAISS's -1 padding: when an approximate search
        reaches fewer than k' chunks, it is answered exactly. ``exact`` reads every vector.
        """
        if k < 1:
            raise ValueError(f"k ({k}) must be at least 1")
        queries = self._matrix(queries, "queries")
        k = min(k, self.ntotal)
        if k == 0:
            empty = (len(queries), 0)
            return np.empty(empty, dtype=np.float32), np.empty(empty, dtype=np.int64)
        with _faiss_threads(1 if len(queries) < PARALLEL_QUERIES else None):
            if exact or self.kind == "flat":
                scores, ids = self._search_exact(queries, k)
            elif self.kind == "ivf":
                scores, ids = self.index.search(queries, k)
            elif self._tombstones:
                params = faiss.SearchParametersHNSW(sel=_ALL_IDS, efSearch=self.params.ef_search)
                scores, ids = self.index.search(queries, k, params=params)
            else:
                scores, ids = self.index.search(queries, k)
            if (ids < 0).any():
                scores, ids = self._search_exact(queries, k)
        return scores, ids.astype(np.int64, copy=False)

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The stored (n, dim) vectors of these chunk ids, which must all be in the index.

        A hybrid query needs ~100 of them, for lexical hits the dense search did not return:
        FAISS's memory serves them an order of magnitude faster than SQLite's rows once the
        query's embedding has pushed those out of the CPU caches. Raises ValueError for an
        unknown id.
        """
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        if not len(ids):
            return np.empty((0, self.dim), dtype=np.float32)
        try:
            return self.index.reconstruct_batch(ids)
        except RuntimeError as exc:  # FAISS's own message for an id it does not hold
            raise ValueError(f"some of these chunk ids are not in the vector index: {exc}") from exc

    def _search_exact(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "flat":
            return self.index.search(queries, k)
        if self.kind == "ivf":  # every cell: IndexIVFFlat keeps whole vectors, so this is exact
            return self.index.search(
                queries, k, params=faiss.SearchParametersIVF(nprobe=self.params.nlist)
            )
        # hnsw: scan the graph's own flat storage, skipping tombstones, then map to chunk ids.
        id_map = faiss.vector_to_array(self.index.id_map)
        storage = faiss.downcast_index(faiss.downcast_index(self.index.index).storage)
        params = None
        if self._tombstones:
            live = np.packbits(id_map >= 0, bitorder="little")
            params = faiss.SearchParameters(
                sel=faiss.IDSelectorBitmap(len(id_map), faiss.swig_ptr(live))
            )
        scores, positions = storage.search(queries, k, params=params)
        return scores, np.where(positions >= 0, id_map[positions], -1)

    def _check_writable(self, verb: str) -> None:
        # FAISS aborts the process (not an exception) when a mapped index is resized.
        if self.mapped:
            raise RuntimeError(
                f"cannot {verb} a vector index read through a memory map; load it with "
                "mapped=False to change it"
            )

    def _matrix(self, array: np.ndarray, name: str) -> np.ndarray:
        matrix = np.ascontiguousarray(array, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[1] != self.dim:
            raise ValueError(f"{name} have shape {matrix.shape}; expected (n, {self.dim})")
        return matrix

    def save(self, path: Path) -> None:
        """Write atomically: a temporary file in the same folder, fsync, then rename over."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            try:
                created_as_private_as(tmp, path.with_name("index.db"))  # store.DB_NAME
                faiss.write_index(self.index, str(tmp))
            except RuntimeError as exc:  # a folder that cannot be written, a full disk: said as
                # for any other file (an OSError), in FAISS's last words ("could not open...")
                raise _os_error(str(exc).rsplit("failed: ", 1)[-1], path) from exc
            with open(tmp, "rb") as written:
                os.fsync(written.fileno())
            os.replace(tmp, path)
        except OSError as exc:  # named as the file it was to be: the temporary one is gone
            if exc.filename != str(tmp) or exc.errno is None:
                raise
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_folder(path.parent)

    @classmethod
    def load(cls, path: Path, dim: int, *, mapped: bool = False) -> VectorIndex | None:
        """Read a saved index of any kind, with its parameters; ``None`` when there is no file.

        ``mapped``: search the file in place through a memory map rather than read it into
        memory (milliseconds instead of ~0.1 s for 100k vectors: a query reads few pages); the
        index cannot then be changed. Files are replaced by rename, never rewritten, so a map
        stays valid while a writer saves a new file.

        Raises CorruptIndexError, naming the file, when it cannot be read or does not fit.
        """
        path = Path(path)
        if not path.exists():
            return None
        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mapped else 0)
        except (RuntimeError, MemoryError) as exc:
            raise CorruptIndexError(
                f"{path} is damaged or truncated (FAISS cannot read it)", rebuild_hint(path)
            ) from exc
        params = _params_of(index)
        if params is None or index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise CorruptIndexError(
                f"{path} holds a {type(index).__name__}, not a chunk vector index of a supported "
                f"kind {KINDS}",
                rebuild_hint(path),
            )
        if index.d != dim:
            raise CorruptIndexError(
                f"{path} holds vectors of dimension {index.d}, but the index expects {dim}",
                rebuild_hint(path),
            )
        return cls(dim, params=params, index=index, mapped=mapped)


@contextmanager
def _faiss_threads(threads: int | None) -> Iterator[None]:
    """Run FAISS with ``threads`` OpenMP threads in this thread (``None``: leave as is)."""
    if threads is None:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)  # libgomp keeps this per calling thread
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _new_faiss_index(dim: int, params: VectorParams) -> faiss.Index:
    if params.kind == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if params.kind == "hnsw":
        graph = faiss.IndexHNSWFlat(dim, params.m, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = params.ef_construction
        graph.hnsw.efSearch = params.ef_search
        return faiss.IndexIDMap2(graph)
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, params.nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.nprobe = params.nprobe
    ivf.cp.niter = IVF_KMEANS_ITERATIONS
    ivf.cp.spherical = True  # unit-norm centroids: inner product then ranks cells by cosine
    ivf.cp.min_points_per_centroid = 1  # ivf_params sizes the sample; silences FAISS's warning
    return ivf


def _params_of(index: faiss.Index) -> VectorParams | None:
    """The parameters a FAISS index read from disk was built with; ``None`` if not our kind."""
    if isinstance(index, faiss.IndexIVFFlat):
        return VectorParams("ivf", nlist=int(index.nlist), nprobe=int(index.nprobe))
    if not isinstance(index, faiss.IndexIDMap2):
        return None
    inner = faiss.downcast_index(index.index)
    if isinstance(inner, faiss.IndexFlatIP):
        return VectorParams()
    if isinstance(inner, faiss.IndexHNSWFlat):
        graph = inner.hnsw
        return VectorParams(
            "hnsw",
            m=int(graph.nb_neighbors(1)),  # level 0 has 2M links, the levels above M
            ef_construction=int(graph.efConstruction),
            ef_search=int(graph.efSearch),
        )
    return None


# FAISS's write errors end with the system's words: "write error in /x/.vectors.faiss.7.tmp:
# 4014 != 737280 (No space left on device)".
_STRERRORS = {os.strerror(code): code for code in sorted(errno.errorcode, reverse=True)}


def _os_error(said: str, path: Path) -> OSError:
    """FAISS's words as the OSError they report, naming ``path`` (not its temporary file, gone
    by the time the error is read), or as they are when they name no system error."""
    reason = said.rpartition("(")[2].rstrip(") \n")
    code = _STRERRORS.get(reason)
    return OSError(said) if code is None else OSError(code, reason, str(path))


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable; folders cannot be opened this way on Windows, so skip there."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
