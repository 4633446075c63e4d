"""FAISS side: search, save/load round trips, damage, and rebuilding from the store."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from searchapp.errors import CorruptIndexError, ModelMismatchError
from searchapp.store import ChunkRecord, Store
from searchapp.vectors import (
    VECTORS_GENERATION_KEY,
    VECTORS_NAME,
    VectorIndex,
    build_from_store,
    open_vectors,
    save_vectors,
)

DIM = 16


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def filled_index(n: int = 200, seed: int = 0) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    ids = np.random.default_rng(seed).choice(10**9, size=n, replace=False).astype(np.int64)
    vectors = unit_vectors(n, seed)
    index = VectorIndex(DIM)
    index.add(ids, vectors)
    return index, ids, vectors


def add_document(store: Store, name: str, n: int, seed: int) -> list[int]:
    chunks = [ChunkRecord(f"{name} {i}", 0, 1, 1, 1, i) for i in range(n)]
    with store.transaction():
        document_id = store.upsert_document(doc_id=name, path=f"{name}.txt")
        return store.add_chunks(document_id, chunks, unit_vectors(n, seed))


@pytest.fixture
def store(tmp_path: Path):
    opened = Store.open(tmp_path, create=True)
    for seed in range(5):
        add_document(opened, f"doc{seed}", 30, seed)
    yield opened
    opened.close()


def assert_same_results(a: VectorIndex, b: VectorIndex, queries: np.ndarray, k: int = 10) -> None:
    scores_a, ids_a = a.search(queries, k)
    scores_b, ids_b = b.search(queries, k)
    np.testing.assert_array_equal(ids_a, ids_b)
    np.testing.assert_array_equal(scores_a, scores_b)


def test_search_finds_each_vector_first() -> None:
    index, ids, vectors = filled_index()
    scores, found = index.search(vectors[:20], 3)
    assert found.dtype == np.int64 and scores.shape == (20, 3)
    np.testing.assert_array_equal(found[:, 0], ids[:20])
    np.testing.assert_allclose(scores[:, 0], 1.0, rtol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 0)  # best first


def test_search_save_load_search_again(tmp_path: Path) -> None:
    index, ids, _ = filled_index()
    queries = unit_vectors(7, seed=99)
    path = tmp_path / VECTORS_NAME
    index.save(path)
    loaded = VectorIndex.load(path, DIM)
    assert loaded is not None and loaded.kind == "flat" and loaded.ntotal == len(ids)
    np.testing.assert_array_equal(loaded.ids(), ids)
    assert_same_results(index, loaded, queries)
    assert [p.name for p in tmp_path.iterdir()] == [VECTORS_NAME]  # no temporary file left


def test_remove_drops_ids_from_results() -> None:
    index, ids, vectors = filled_index()
    assert index.remove(np.concatenate([ids[:5], [-7]])) == 5
    assert index.ntotal == len(ids) - 5
    np.testing.assert_array_equal(np.sort(index.ids()), np.sort(ids[5:]))
    _, found = index.search(vectors[:5], 10)
    assert not np.isin(found, ids[:5]).any()
    assert index.remove(np.array([], dtype=np.int64)) == 0


def test_k_larger_than_index_and_empty_index() -> None:
    index, ids, vectors = filled_index(n=3)
    scores, found = index.search(vectors[:2], 10)
    assert found.shape == (2, 3) and set(found[0]) == set(ids)
    scores, found = VectorIndex(DIM).search(vectors[:2], 5)
    assert scores.shape == found.shape == (2, 0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda ix: ix.add(np.arange(2), np.ones((3, DIM))), "2 ids for 3 vectors"),
        (lambda ix: ix.add(np.arange(2), np.ones((2, 4))), r"shape \(2, 4\); expected"),
        (lambda ix: ix.add(np.zeros(2), np.ones((2, DIM))), "ids repeat"),
        (lambda ix: ix.search(np.ones(DIM), 1), r"queries have shape \(16,\)"),
        (lambda ix: ix.search(np.ones((1, DIM)), 0), r"k \(0\) must be at least 1"),
    ],
)
def test_bad_arguments_say_what_was_wrong(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(VectorIndex(DIM))


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:10], id="header-only"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: b"\x13\x37garbage" * 64, id="garbage"),
    ],
)
def test_damaged_file_raises_corrupt_naming_it(tmp_path: Path, damage) -> None:
    index, _, _ = filled_index()
    path = tmp_path / VECTORS_NAME
    index.save(path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CorruptIndexError) as caught:
        VectorIndex.load(path, DIM)
    assert str(path) in str(caught.value) and "search index --rebuild" in str(caught.value)


def test_load_missing_is_none_and_wrong_dim_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / VECTORS_NAME
    assert VectorIndex.load(path, DIM) is None
    filled_index()[0].save(path)
    with pytest.raises(CorruptIndexError, match="dimension 16, but the index expects 8"):
        VectorIndex.load(path, 8)


def test_build_from_store_streams_every_chunk(store: Store) -> None:
    built = build_from_store(store, DIM, batch_size=7)
    np.testing.assert_array_equal(np.sort(built.ids()), store.chunk_ids())
    ids, vectors = next(store.iter_embeddings(batch_size=5))
    _, found = built.search(vectors, 1)
    np.testing.assert_array_equal(found[:, 0], ids)
    with pytest.raises(ModelMismatchError, match="dimension 16"):
        build_from_store(store, 8)


def rebuilt_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_open_vectors_rebuilds_when_missing_then_loads(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queries = unit_vectors(5, seed=42)
    with caplog.at_level(logging.WARNING):
        first = open_vectors(store, tmp_path, DIM)
    assert any("missing" in m for m in rebuilt_warnings(caplog))
    assert (tmp_path / VECTORS_NAME).exists()
    assert store.get_meta()[VECTORS_GENERATION_KEY] == str(store.generation())
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = open_vectors(store, tmp_path, DIM)
    assert rebuilt_warnings(caplog) == []
    assert_same_results(first, again, queries)
    assert_same_results(again, build_from_store(store, DIM), queries)


def test_open_vectors_rebuilds_a_corrupt_file(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    open_vectors(store, tmp_path, DIM)
    path = tmp_path / VECTORS_NAME
    path.write_bytes(path.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        vectors = open_vectors(store, tmp_path, DIM)
    assert any(str(path) in m and "damaged" in m for m in rebuilt_warnings(caplog))
    np.testing.assert_array_equal(np.sort(vectors.ids()), store.chunk_ids())
    assert VectorIndex.load(path, DIM) is not None  # the repaired file was saved


def test_open_vectors_rebuilds_when_the_store_moved_on(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queries = unit_vectors(5, seed=7)
    open_vectors(store, tmp_path, DIM)
    store.delete_documents_by_path(["doc1.txt"])
    add_document(store, "late", 12, seed=77)
    with caplog.at_level(logging.WARNING):
        vectors = open_vectors(store, tmp_path, DIM)
    assert any("generation" in m for m in rebuilt_warnings(caplog))
    np.testing.assert_array_equal(np.sort(vectors.ids()), store.chunk_ids())
    assert_same_results(vectors, build_from_store(store, DIM), queries)


def test_open_vectors_rebuilds_on_count_mismatch(store: Store, tmp_path: Path) -> None:
    stale = build_from_store(store, DIM)
    stale.remove(store.chunk_ids()[:3])
    save_vectors(stale, store, tmp_path)  # right generation, wrong contents
    vectors = open_vectors(store, tmp_path, DIM)
    np.testing.assert_array_equal(np.sort(vectors.ids()), store.chunk_ids())


def test_incremental_updates_match_a_fresh_build(store: Store, tmp_path: Path) -> None:
    vectors = open_vectors(store, tmp_path, DIM)
    removed = store.delete_documents_by_path(["doc3.txt"])
    vectors.remove(np.array(removed))
    added = add_document(store, "new", 9, seed=123)
    vectors.add(np.array(added), unit_vectors(9, seed=123))
    save_vectors(vectors, store, tmp_path)
    np.testing.assert_array_equal(np.sort(vectors.ids()), store.chunk_ids())
    reopened = open_vectors(store, tmp_path, DIM)
    assert_same_results(reopened, build_from_store(store, DIM), unit_vectors(6, seed=5))


def test_empty_store_gives_an_empty_index(tmp_path: Path) -> None:
    store = Store.open(tmp_path, create=True)
    vectors = open_vectors(store, tmp_path, DIM)
    assert vectors.ntotal == 0 and len(vectors.ids()) == 0
    assert vectors.search(unit_vectors(1), 3)[1].shape == (1, 0)
    store.close()
