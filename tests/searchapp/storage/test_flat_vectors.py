"""A saved flat index read with NumPy (``MappedFlat``) answers as FAISS reading the same file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from searchapp.storage import flat_vectors
from searchapp.storage.flat_vectors import MappedFlat
from searchapp.storage.vector_params import VectorParams
from searchapp.storage.vectors import VectorIndex

DIM = 24


def unit_vectors(n: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def saved(tmp_path: Path, ids: np.ndarray, vectors: np.ndarray, **params) -> Path:
    index = VectorIndex(DIM, params=VectorParams(**params) if params else None)
    if not index.is_trained:
        index.train(vectors)
    index.add(ids, vectors)
    path = tmp_path / "vectors.faiss"
    index.save(path)
    return path


@pytest.mark.parametrize("order", ["ascending", "shuffled"])
def test_search_and_vectors_match_faiss_reading_the_same_file(tmp_path: Path, order: str) -> None:
    rng = np.random.default_rng(3)
    ids = np.sort(rng.choice(10**9, size=500, replace=False)).astype(np.int64)
    if order == "shuffled":  # not what a build writes, but what the file may hold
        ids = rng.permutation(ids)
    vectors = unit_vectors(500, seed=4)
    path = saved(tmp_path, ids, vectors)
    # A removal compacts the file's matrix and ids: the gap must not shift what follows.
    index = VectorIndex.load(path, DIM)
    index.remove(ids[100:140])
    index.save(path)
    faiss_reader = VectorIndex.load(path, DIM, mapped=True)
    flat = MappedFlat.open(path, DIM)
    assert flat is not None and flat.ntotal == faiss_reader.ntotal == 460
    assert (flat.order is None) == (order == "ascending")
    queries = unit_vectors(7, seed=5)
    for k in (1, 10, 460, 1000):
        scores, found = flat.search(queries, k)
        expected_scores, expected = faiss_reader.search(queries, k)
        assert found.shape == expected.shape == (7, min(k, 460))
        assert found.dtype == np.int64 and scores.dtype == np.float32
        # The same ranking up to rounding: FAISS sums the products in another order, so two
        # scores within an ulp may swap; each id must then carry its own score.
        np.testing.assert_allclose(scores, expected_scores, rtol=0, atol=1e-6)
        assert (found == expected).mean() > 0.99
        by_id = dict(zip(ids.tolist(), vectors.astype(np.float64)))
        exact = np.array([[by_id[i] @ q for i in row] for row, q in zip(found.tolist(), queries)])
        np.testing.assert_allclose(scores, exact, rtol=0, atol=1e-6)
    kept = np.concatenate([ids[:100], ids[140:]])
    asked = rng.permutation(kept)[:50]
    np.testing.assert_array_equal(flat.vectors_of(asked), faiss_reader.vectors_of(asked))
    np.testing.assert_array_equal(np.sort(flat.ids()), np.sort(kept))
    assert flat.vectors_of(np.empty(0, dtype=np.int64)).shape == (0, DIM)
    with pytest.raises(ValueError, match=str(ids[120])):
        flat.vectors_of(np.array([kept[0], ids[120]]))  # removed
    with pytest.raises(ValueError, match="not in the vector index"):
        flat.vectors_of(np.array([10**9 + 7]))  # past every id


def test_equal_scores_are_ranked_by_chunk_id(tmp_path: Path) -> None:
    # Copies of a passage have one vector: which copy comes first must not depend on where
    # the partial sort happened to leave them, and the k-th place must not drop a lower id.
    vectors = unit_vectors(6, seed=1)
    copies = np.repeat(vectors[:1], 5, axis=0)
    path = saved(
        tmp_path, np.array([90, 3, 55, 7, 41, 8, 12, 30, 2, 60, 5]), np.vstack([copies, vectors])
    )
    flat = MappedFlat.open(path, DIM)
    assert flat is not None
    scores, found = flat.search(vectors[:1], 3)
    assert found.tolist() == [[3, 7, 8]]  # the copies 90, 3, 55, 7, 41 and the vector itself, 8
    assert len(set(scores[0].tolist())) == 1
    _, found = flat.search(vectors[:1], 6)
    assert found.tolist() == [[3, 7, 8, 41, 55, 90]]


def test_what_is_not_a_small_flat_index_is_left_to_faiss(tmp_path: Path, monkeypatch) -> None:
    ids = np.arange(300, dtype=np.int64)
    vectors = unit_vectors(300, seed=2)
    hnsw = {"m": 8, "ef_construction": 40, "ef_search": 16}
    for kind, params in (("ivf", {"nlist": 4, "nprobe": 2}), ("hnsw", hnsw)):
        folder = tmp_path / kind
        folder.mkdir()
        assert MappedFlat.open(saved(folder, ids, vectors, kind=kind, **params), DIM) is None
    path = saved(tmp_path, ids, vectors)
    assert MappedFlat.open(path, DIM) is not None
    assert MappedFlat.open(path, DIM + 1) is None  # another model's dimension
    assert MappedFlat.open(tmp_path / "missing.faiss", DIM) is None
    monkeypatch.setattr(flat_vectors, "MAPPED_FLAT_MAX", 299)
    assert MappedFlat.open(path, DIM) is None  # past it, FAISS's scan is the faster
    monkeypatch.undo()
    data = path.read_bytes()
    for damaged in (data[:-1], data + b"\0", data[:60], b""):
        path.write_bytes(damaged)
        assert MappedFlat.open(path, DIM) is None
    wrong_count = bytearray(data)
    at = len(data) - 8 * 300 - 8
    wrong_count[at : at + 8] = (299).to_bytes(8, "little")
    path.write_bytes(bytes(wrong_count))
    assert MappedFlat.open(path, DIM) is None


def test_bad_queries_say_what_was_wrong(tmp_path: Path) -> None:
    path = saved(tmp_path, np.arange(10, dtype=np.int64), unit_vectors(10, seed=0))
    flat = MappedFlat.open(path, DIM)
    assert flat is not None
    with pytest.raises(ValueError, match="k \\(0\\) must be at least 1"):
        flat.search(unit_vectors(1, seed=1), 0)
    with pytest.raises(ValueError, match="expected \\(n, 24\\)"):
        flat.search(np.zeros((1, DIM + 1), dtype=np.float32), 3)


def test_a_file_renamed_over_the_path_while_it_opens_is_not_mixed_with_it(
    tmp_path: Path, monkeypatch
) -> None:
    # The header was read from the path, then each map opened the path again: a writer's
    # rename in between gave the new file's data under the old header (floats read as ids).
    path = saved(tmp_path, np.arange(100, dtype=np.int64), unit_vectors(100, seed=1))
    other = tmp_path / "other"
    other.mkdir()
    newer = saved(other, np.arange(1000, 1300, dtype=np.int64), unit_vectors(300, seed=2))
    real_memmap = np.memmap

    def renamed_first(*args, **kwargs):
        if newer.exists():
            newer.replace(path)  # as VectorIndex.save replaces it
        return real_memmap(*args, **kwargs)

    monkeypatch.setattr(flat_vectors.np, "memmap", renamed_first)
    flat = MappedFlat.open(path, DIM)
    monkeypatch.undo()
    assert flat is not None and flat.ntotal == 100
    np.testing.assert_array_equal(flat.ids(), np.arange(100))
    np.testing.assert_array_equal(flat.vectors_of(np.arange(100)), unit_vectors(100, seed=1))
    assert MappedFlat.open(path, DIM).ntotal == 300  # the new file, opened afterwards


def test_a_nan_is_a_damaged_file_said_so(tmp_path: Path) -> None:
    # A damaged file whose vectors are NaN (its sizes whole): the ranking raised ValueError;
    # then, ranked last, such a passage was scored "nan" where another ranker found it. The
    # searcher's caller rebuilds the file from SQLite (test_damaged_state.py).
    from searchapp.errors import DamagedVectorsError

    vectors = unit_vectors(12, seed=3)
    vectors[[2, 5]] = np.nan
    path = saved(tmp_path, np.arange(12, dtype=np.int64), vectors)
    flat = MappedFlat.open(path, DIM)
    assert flat is not None
    for k in (5, 12, 20):
        with pytest.raises(DamagedVectorsError, match="scores nan as a cosine"):
            flat.search(unit_vectors(1, seed=4), k)
