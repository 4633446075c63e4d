"""``vectors.faiss``: the vector index built from the store's embeddings and kept in step with it.

The file records (in meta) the store generation it matches and the parameters it was built
with; ``open_vectors`` loads it or rebuilds it (``storage/derived.py``), ``fit_vectors`` rebuilds
it when the index outgrew its kind (``vector_params.plan_params``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from searchapp.errors import ModelMismatchError
from searchapp.storage.derived import DerivedFile, open_derived
from searchapp.storage.flat_vectors import MappedFlat
from searchapp.storage.lock import WriterLock
from searchapp.storage.paths import rebuild_hint
from searchapp.storage.store import Store
from searchapp.storage.vector_params import IVF_TRAIN_PER_CELL, VectorParams, plan_params

if TYPE_CHECKING:  # FAISS: imported where an index is built, changed or not flat
    from searchapp.storage.vectors import VectorIndex

logger = logging.getLogger(__name__)

VECTORS_NAME = "vectors.faiss"
VECTORS_GENERATION_KEY = "vectors_generation"  # meta: the store generation the file matches
VECTORS_PARAMS_KEY = "vectors_params"  # meta: JSON of the VectorParams the file was built with
INDEX_TYPE_KEY = "index_type"  # meta: what was asked for, one of INDEX_TYPES
VECTORS_BYTES_KEY = "vectors_bytes"  # meta: the file's size when saved (see _as_saved)


def _store_embeddings(
    store: Store, dim: int, batch_size: int, *, after_id: int = -1
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for ids, batch in store.iter_embeddings(batch_size=batch_size, after_id=after_id):
        if batch.shape[1] != dim:
            raise ModelMismatchError(
                f"{store.path} stores embeddings of dimension {batch.shape[1]}, but the model "
                f"gives {dim}; {rebuild_hint(store.path)} with this model"
            )
        yield ids, batch


def build_vectors(
    dim: int,
    batches: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]],
    count: int,
    *,
    params: VectorParams | None = None,
) -> VectorIndex:
    """A fresh index of the ``count`` vectors that ``batches()`` yields as ``(ids, vectors)``.

    An ivf index is first trained on every k-th vector (40 per cell), so the sample spreads over
    all files; ``batches`` is then called a second time to add them all.
    """
    from searchapp.storage.vectors import VectorIndex

    vectors = VectorIndex(dim, params=params)
    if not vectors.is_trained:
        step = max(1, count // (vectors.params.nlist * IVF_TRAIN_PER_CELL))
        sample, seen = [], 0
        for ids, batch in batches():
            sample.append(batch[(np.arange(seen, seen + len(ids)) % step) == 0])
            seen += len(ids)
        vectors.train(np.concatenate(sample) if sample else np.empty((0, dim), np.float32))
    for ids, batch in batches():
        vectors.add(ids, batch)
    return vectors


def build_from_store(
    store: Store, dim: int, *, params: VectorParams | None = None, batch_size: int = 4096
) -> VectorIndex:
    """A fresh index of every chunk embedding, streamed from one snapshot of the store."""
    with store.snapshot():
        return build_vectors(
            dim,
            lambda: _store_embeddings(store, dim, batch_size),
            store.count_chunks(),
            params=params,
        )


def save_vectors(
    vectors: VectorIndex, store: Store, index_dir: Path, *, generation: int | None = None
) -> None:
    """Save ``index_dir/vectors.faiss`` and record in meta the store generation it matches.

    ``generation`` defaults to the store's current one: pass the one read when building if
    another process may have written since.
    """
    if generation is None:
        generation = store.generation()
    path = Path(index_dir) / VECTORS_NAME
    vectors.save(path)
    # Recorded only after the file is durable: a crash in between leaves it looking stale.
    store.set_meta(
        {
            VECTORS_GENERATION_KEY: generation,
            VECTORS_PARAMS_KEY: vectors.params.to_json(),
            VECTORS_BYTES_KEY: path.stat().st_size,
        }
    )


def _as_saved(store: Store, path: Path) -> bool:
    """True when ``path`` has the size recorded when it was saved. Only such a file is memory-
    mapped: FAISS's mapped reader checks less, and could read past the end of a file cut short
    by less than one element; any other file is read into memory, where damage is caught."""
    recorded = store.get_meta().get(VECTORS_BYTES_KEY)
    try:
        return recorded is not None and int(recorded) == path.stat().st_size
    except (OSError, ValueError):
        return False


def vectors_file(dim: int, *, mapped: bool = False) -> DerivedFile[VectorIndex | MappedFlat]:
    """``vectors.faiss`` as a file derived from the store, for ``open_derived``; ``mapped``:
    loaded read-only through a memory map (``MappedFlat`` for a flat index, else
    ``VectorIndex.load``).

    A rebuild keeps the recorded parameters while they fit the store's size (``plan_params``).
    A reader that cannot save its rebuild (a writer runs) still searches it.
    """

    def stale(vectors: VectorIndex | MappedFlat, store: Store, generation: int) -> str | None:
        path = VECTORS_NAME
        recorded = store.get_meta().get(VECTORS_GENERATION_KEY)
        if recorded != str(generation):
            return f"{path} matches generation {recorded}, the store is at {generation}"
        if vectors.ntotal != store.count_chunks():
            return f"{path} holds {vectors.ntotal} vectors, the store {store.count_chunks()} chunks"
        return None

    def build(store: Store) -> VectorIndex:
        meta = store.get_meta()
        previous = VectorParams.from_json(meta.get(VECTORS_PARAMS_KEY))
        params = plan_params(meta.get(INDEX_TYPE_KEY, "auto"), store.count_chunks(), previous)
        return build_from_store(store, dim, params=params)

    def save(vectors: VectorIndex, store: Store, index_dir: Path, generation: int) -> None:
        save_vectors(vectors, store, index_dir, generation=generation)

    def load(path: Path) -> VectorIndex | MappedFlat | None:
        if mapped and (flat := MappedFlat.open(path, dim)) is not None:
            return flat
        from searchapp.storage.vectors import VectorIndex

        return VectorIndex.load(path, dim, mapped=mapped)

    def catch_up(
        path: Path, store: Store, previous: VectorIndex | MappedFlat | None
    ) -> VectorIndex | None:
        """The saved file, read into memory, with the chunks removed since it was saved taken
        out and those added put in. A chunk id is never reused and each new one is above every
        id before it (AUTOINCREMENT), so those added follow the file's highest id. A query
        while `search index` runs elsewhere rebuilt the whole index instead (an ivf index
        trained anew: 39 s a query at 60,000 chunks).

        ``previous``, when this reader holds it in memory (caught up or built at an earlier
        commit), is caught up in place instead: the file was read whole at every commit."""
        from searchapp.storage.vectors import VectorIndex

        if isinstance(previous, VectorIndex) and not previous.mapped and previous.dim == dim:
            vectors: VectorIndex | None = previous
        else:
            vectors = VectorIndex.load(path, dim)
        if vectors is None:
            return None
        held = vectors.ids()
        vectors.remove(np.setdiff1d(held, store.chunk_ids(), assume_unique=True))
        after = int(held.max()) if len(held) else -1
        for ids, batch in _store_embeddings(store, dim, 4096, after_id=after):
            vectors.add(ids, batch)
        return vectors

    return DerivedFile(
        name=VECTORS_NAME,
        what="the vector index",
        load=load,
        stale=stale,
        build=build,
        save=save,
        build_unsaved=True,
        rebuild_level=logging.WARNING,  # a damaged or stale file: worth telling
        catch_up=catch_up,
    )


def open_vectors(
    store: Store,
    index_dir: Path,
    dim: int,
    *,
    writer: WriterLock | None = None,
    previous: VectorIndex | MappedFlat | None = None,
    damaged: str | None = None,
) -> VectorIndex | MappedFlat:
    """The vector index matching the store, rebuilt from it (and saved) if missing or stale,
    or ``damaged`` (what a search found wrong with it).

    A reader (no ``writer``) gets the file read-only through a memory map: it opens in
    milliseconds whatever its size (``_as_saved``). A writer gets it in memory, to change and
    save. ``previous``: what this reader opened last, caught up when the file is stale and a
    writer runs (``vectors_file``'s ``catch_up``).
    """
    mapped = writer is None and _as_saved(store, Path(index_dir) / VECTORS_NAME)
    kind = vectors_file(dim, mapped=mapped)
    vectors = open_derived(
        kind, store, index_dir, writer=writer, previous=previous, damaged=damaged
    )
    assert vectors is not None  # built unsaved when it cannot be saved
    return vectors


def fit_vectors(
    vectors: VectorIndex, store: Store, index_dir: Path, index_type: str
) -> VectorIndex:
    """``vectors`` if it is what ``index_type`` calls for at its size, else a rebuild (saved).

    Called after indexing, with the writer lock held: an index that grew past the auto
    threshold, outgrew its ivf cells, or is a quarter hnsw tombstones, is built again.
    """
    planned = plan_params(index_type, vectors.ntotal, vectors.params)
    if planned == vectors.params and not vectors.needs_compaction:
        return vectors
    logger.info("rebuilding %d vectors as %s (was %s)", vectors.ntotal, planned, vectors.params)
    with store.snapshot():
        generation = store.generation()
        rebuilt = build_from_store(store, vectors.dim, params=planned)
    save_vectors(rebuilt, store, index_dir, generation=generation)
    return rebuilt
