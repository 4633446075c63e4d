"""FAISS vectors derived from the SQLite store: inner-product search keyed by chunk id."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import faiss
import numpy as np

from searchapp.errors import CorruptIndexError, IndexLockedError, ModelMismatchError
from searchapp.store import REBUILD_HINT, Store

logger = logging.getLogger(__name__)

VECTORS_NAME = "vectors.faiss"
VECTORS_GENERATION_KEY = "vectors_generation"  # meta: the store generation the file matches
KINDS = ("flat",)  # approximate kinds (HNSW, IVF) can join here; each needs build/load support


class VectorIndex:
    """Chunk vectors keyed by chunk id (int64), searched by inner product.

    Vectors are expected to be L2-normalised, so scores are cosine similarities.
    """

    def __init__(self, dim: int, *, kind: str = "flat", index: faiss.Index | None = None) -> None:
        if dim < 1:
            raise ValueError(f"dim ({dim}) must be at least 1")
        if kind not in KINDS:
            raise ValueError(f"unknown vector index kind {kind!r}; choose one of {KINDS}")
        self.dim = dim
        self.kind = kind
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        """The stored chunk ids (int64), in insertion order."""
        return faiss.vector_to_array(self.index.id_map).astype(np.int64, copy=False)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add ``vectors`` (n, dim) under chunk ``ids`` (n,); an id must not be present already."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        vectors = self._matrix(vectors, "vectors")
        if len(ids) != len(vectors):
            raise ValueError(f"got {len(ids)} ids for {len(vectors)} vectors; pass one id per row")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("ids repeat within one add(); each chunk id must be added once")
        if len(ids):
            self.index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> int:
        """Remove these chunk ids (unknown ones are ignored); returns how many were removed."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        return int(self.index.remove_ids(ids)) if len(ids) else 0

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` chunks per query: ``(scores (m, k') float32, ids (m, k') int64)``.

        ``k' = min(k, ntotal)``, so no row holds FAISS's -1 padding.
        """
        if k < 1:
            raise ValueError(f"k ({k}) must be at least 1")
        queries = self._matrix(queries, "queries")
        k = min(k, self.ntotal)
        if k == 0:
            empty = (len(queries), 0)
            return np.empty(empty, dtype=np.float32), np.empty(empty, dtype=np.int64)
        scores, ids = self.index.search(queries, k)
        return scores, ids.astype(np.int64, copy=False)

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
            faiss.write_index(self.index, str(tmp))
            with open(tmp, "rb") as written:
                os.fsync(written.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_folder(path.parent)

    @classmethod
    def load(cls, path: Path, dim: int) -> VectorIndex | None:
        """Read a saved index; ``None`` when the file does not exist.

        Raises CorruptIndexError, naming the file, when it cannot be read or does not fit.
        """
        path = Path(path)
        if not path.exists():
            return None
        try:
            index = faiss.read_index(str(path))
        except (RuntimeError, MemoryError) as exc:
            raise CorruptIndexError(
                f"{path} is damaged or truncated (FAISS cannot read it); {REBUILD_HINT}"
            ) from exc
        if not isinstance(index, faiss.IndexIDMap2):
            raise CorruptIndexError(f"{path} is not a chunk vector index; {REBUILD_HINT}")
        if index.d != dim:
            raise CorruptIndexError(
                f"{path} holds vectors of dimension {index.d}, but the index expects {dim}; "
                f"{REBUILD_HINT}"
            )
        inner = faiss.downcast_index(index.index)
        if not isinstance(inner, faiss.IndexFlatIP):
            raise CorruptIndexError(
                f"{path} holds a {type(inner).__name__}, not a supported kind {KINDS}; "
                f"{REBUILD_HINT}"
            )
        return cls(dim, kind="flat", index=index)


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


def build_from_store(store: Store, dim: int, *, batch_size: int = 4096) -> VectorIndex:
    """A fresh index of every chunk embedding, streamed from one snapshot of the store."""
    vectors = VectorIndex(dim)
    with store.snapshot():
        for ids, batch in store.iter_embeddings(batch_size=batch_size):
            if batch.shape[1] != dim:
                raise ModelMismatchError(
                    f"{store.path} stores embeddings of dimension {batch.shape[1]}, but the model "
                    f"gives {dim}; {REBUILD_HINT} with this model"
                )
            vectors.add(ids, batch)
    return vectors


def save_vectors(
    vectors: VectorIndex, store: Store, index_dir: Path, *, generation: int | None = None
) -> None:
    """Save ``index_dir/vectors.faiss`` and record in meta the store generation it matches.

    ``generation`` defaults to the store's current one: pass the one read when building if
    another process may have written since.
    """
    if generation is None:
        generation = store.generation()
    vectors.save(Path(index_dir) / VECTORS_NAME)
    # Recorded only after the file is durable: a crash in between leaves it looking stale.
    store.set_meta({VECTORS_GENERATION_KEY: generation})


def open_vectors(store: Store, index_dir: Path, dim: int) -> VectorIndex:
    """The vector index matching the store, rebuilt from it (and saved) if missing or stale."""
    path = Path(index_dir) / VECTORS_NAME
    with store.snapshot():
        generation, count = store.generation(), store.count_chunks()
        recorded = store.get_meta().get(VECTORS_GENERATION_KEY)
        try:
            vectors = VectorIndex.load(path, dim)
        except CorruptIndexError as exc:
            vectors, reason = None, str(exc)
        else:
            reason = f"{path} is missing"
        if vectors is not None:
            if recorded != str(generation):
                reason = f"{path} matches generation {recorded}, the store is at {generation}"
            elif vectors.ntotal != count:
                reason = f"{path} holds {vectors.ntotal} vectors, the store {count} chunks"
            else:
                return vectors
        # A new, empty index has no file yet: nothing worth a warning.
        log = logger.warning if count else logger.debug
        log("rebuilding the vector index from %s: %s", store.path, reason)
        vectors = build_from_store(store, dim)
    try:
        save_vectors(vectors, store, index_dir, generation=generation)
    except (IndexLockedError, OSError) as exc:
        logger.warning("could not save the rebuilt vector index to %s: %s", path, exc)
    return vectors
