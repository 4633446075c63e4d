"""FAISS side: search, save/load round trips, damage, and rebuilding from the store."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np
import pytest

from searchapp.errors import BadInputError, CorruptIndexError, ModelMismatchError
from searchapp.storage.schema import Chunk
from searchapp.storage.store import Store
from searchapp.storage.vector_params import (
    AUTO_THRESHOLD,
    VectorParams,
    hnsw_params,
    ivf_params,
    plan_params,
)
from searchapp.storage.vectors import VectorIndex
from searchapp.storage.vectors_file import (
    INDEX_TYPE_KEY,
    VECTORS_GENERATION_KEY,
    VECTORS_NAME,
    VECTORS_PARAMS_KEY,
    build_from_store,
    fit_vectors,
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
    chunks = [Chunk(f"{name} {i}", 0, 1, 1, 1) for i in range(n)]
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
    if a.mapped == b.mapped:
        np.testing.assert_array_equal(scores_a, scores_b)
    else:  # a mapped flat index is NumPy's product (flat_vectors.py): its sums in another order
        np.testing.assert_allclose(scores_a, scores_b, rtol=0, atol=1e-6)


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
    # A reader maps the saved file; a writer, which changes it, reads it into memory.
    assert again.mapped and not first.mapped  # first: built, not read
    from searchapp.storage.lock import WriterLock

    with WriterLock(tmp_path) as lock:
        assert not open_vectors(store, tmp_path, DIM, writer=lock).mapped


@pytest.mark.parametrize("index_type", ["flat", "ivf", "hnsw"])
def test_a_reader_catches_up_with_a_running_writer_without_a_rebuild(
    store: Store, tmp_path: Path, monkeypatch, index_type: str
) -> None:
    # While `search index` ran elsewhere, each query rebuilt the whole vector index from
    # SQLite for itself, an ivf one trained anew: 39 s a query at 60,000 chunks.
    from searchapp.storage import vectors_file
    from searchapp.storage.lock import WriterLock

    params = {"flat": VectorParams(), "ivf": ivf_params(150), "hnsw": hnsw_params()}[index_type]
    save_vectors(build_from_store(store, DIM, params=params), store, tmp_path)
    with WriterLock(tmp_path):  # another process writes, and has not saved its vectors yet
        store.delete_documents_by_path(["doc1.txt"])
        added = add_document(store, "doc9", 20, seed=9)
        monkeypatch.setattr(vectors_file, "build_from_store", None)  # never rebuilt
        vectors = open_vectors(store, tmp_path, DIM)
    monkeypatch.undo()
    np.testing.assert_array_equal(np.sort(vectors.ids()), store.chunk_ids())
    assert vectors.kind == index_type and not vectors.mapped
    stored = store.embeddings(added)
    np.testing.assert_array_equal(vectors.vectors_of(np.array(added)), [stored[i] for i in added])
    queries = unit_vectors(5, seed=42)
    expected = build_from_store(store, DIM)  # exact
    np.testing.assert_array_equal(
        vectors.search(queries, 10, exact=True)[1], expected.search(queries, 10)[1]
    )


def test_a_reader_catches_up_what_it_caught_up_before_without_reading_the_file(
    store: Store, tmp_path: Path, monkeypatch
) -> None:
    # The saved file was read whole at each commit of the writer (0.4 s, ~460 MB at 300,000
    # flat vectors): the reader's own caught-up copy needs only what changed since.
    from searchapp.storage import vectors_file
    from searchapp.storage.lock import WriterLock

    save_vectors(build_from_store(store, DIM), store, tmp_path)
    with WriterLock(tmp_path):  # another process writes, and saves its vectors only at the end
        add_document(store, "doc8", 5, seed=8)
        first = open_vectors(store, tmp_path, DIM)
        assert not first.mapped
        store.delete_documents_by_path(["doc2.txt"])
        added = add_document(store, "doc9", 7, seed=9)
        monkeypatch.setattr(vectors_file, "build_from_store", None)  # never rebuilt
        load = VectorIndex.load

        def mapped_only(path, dim, *, mapped=False):  # its staleness is read, mapped: that is all
            assert mapped, "the file was read whole again"
            return load(path, dim, mapped=mapped)

        monkeypatch.setattr(VectorIndex, "load", staticmethod(mapped_only))
        again = open_vectors(store, tmp_path, DIM, previous=first)
    monkeypatch.undo()
    assert again is first  # caught up in place
    np.testing.assert_array_equal(np.sort(again.ids()), store.chunk_ids())
    stored = store.embeddings(added)
    np.testing.assert_array_equal(again.vectors_of(np.array(added)), [stored[i] for i in added])
    queries = unit_vectors(5, seed=42)
    np.testing.assert_array_equal(
        again.search(queries, 10)[1], build_from_store(store, DIM).search(queries, 10)[1]
    )


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


def test_a_file_cut_short_is_read_not_mapped_and_rebuilt(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    open_vectors(store, tmp_path, DIM)
    assert open_vectors(store, tmp_path, DIM).mapped  # as saved: mapped
    path = tmp_path / VECTORS_NAME
    path.write_bytes(path.read_bytes()[:-2])  # less than one element short
    with caplog.at_level(logging.WARNING):
        vectors = open_vectors(store, tmp_path, DIM)
    assert any(str(path) in m and "damaged" in m for m in rebuilt_warnings(caplog))
    np.testing.assert_array_equal(np.sort(vectors.ids()), store.chunk_ids())
    assert open_vectors(store, tmp_path, DIM).mapped  # the rebuilt file, saved and recorded


def test_open_vectors_rebuilds_when_the_store_moved_on(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queries = unit_vectors(5, seed=7)
    open_vectors(store, tmp_path, DIM)
    store.delete_documents_by_path(["doc1.txt"])
    add_document(store, "late", 12, seed=77)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        vectors = open_vectors(store, tmp_path, DIM)
    # Said, but not as a warning: a reader meets a stale file whenever another process writes.
    stale = [r for r in caplog.records if "generation" in r.getMessage()]
    assert [r.levelno for r in stale] == [logging.INFO] and rebuilt_warnings(caplog) == []
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


# -- approximate kinds: ivf and hnsw --------------------------------------------------------------

APPROXIMATE = {
    "ivf": VectorParams("ivf", nlist=50, nprobe=13),  # tuned away from the defaults
    "hnsw": VectorParams("hnsw", m=16, ef_construction=40, ef_search=32),
}
ALL_KINDS = {"flat": VectorParams(), **APPROXIMATE}


def built(params: VectorParams, n: int = 2000, seed: int = 0) -> tuple[VectorIndex, np.ndarray]:
    """An index of ``n`` random unit vectors under ids 1, 4, 7, ... (trained when ivf)."""
    vectors = unit_vectors(n, seed)
    index = VectorIndex(DIM, params=params)
    index.train(vectors)
    ids = np.arange(n, dtype=np.int64) * 3 + 1
    index.add(ids, vectors)
    return index, vectors


def noisy_copies(vectors: np.ndarray, scale: float = 0.1, seed: int = 1) -> np.ndarray:
    noisy = vectors + scale * np.random.default_rng(seed).standard_normal(vectors.shape) / DIM**0.5
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("kind", APPROXIMATE)
def test_approximate_search_finds_the_exact_top_hit(kind: str) -> None:
    index, vectors = built(APPROXIMATE[kind])
    queries = noisy_copies(vectors[::10])  # 200 queries, each near one stored vector
    _, approximate = index.search(queries, 10)
    _, exact = index.search(queries, 10, exact=True)
    flat, _ = built(VectorParams())
    np.testing.assert_array_equal(exact, flat.search(queries, 10)[1])
    np.testing.assert_array_equal(approximate[:, 0], exact[:, 0])
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approximate, exact)])
    assert recall >= 0.9, f"{kind} recall@10 {recall:.3f} on 2,000 vectors"


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_parameters_and_results_survive_save_and_load(tmp_path: Path, kind: str) -> None:
    index, vectors = built(ALL_KINDS[kind])
    path = tmp_path / VECTORS_NAME
    index.save(path)
    loaded = VectorIndex.load(path, DIM)
    assert loaded is not None and loaded.params == ALL_KINDS[kind] and loaded.kind == kind
    np.testing.assert_array_equal(np.sort(loaded.ids()), np.sort(index.ids()))
    assert_same_results(index, loaded, noisy_copies(vectors[:50], scale=1.0))


def test_search_parameters_are_saved(tmp_path: Path) -> None:
    for params, change in ((APPROXIMATE["ivf"], {"nprobe": 50}), (hnsw_params(), {"ef_search": 7})):
        index, vectors = built(replace(params, **change), n=500)
        index.save(tmp_path / VECTORS_NAME)
        loaded = VectorIndex.load(tmp_path / VECTORS_NAME, DIM)
        assert loaded.params == index.params and loaded.params != params
    everything, vectors = built(replace(APPROXIMATE["ivf"], nprobe=50), n=500)  # every cell
    queries = noisy_copies(vectors[:20], scale=1.0)
    np.testing.assert_array_equal(
        everything.search(queries, 10)[1], everything.search(queries, 10, exact=True)[1]
    )
    with pytest.raises(ValueError, match=r"nprobe \(51\) must not exceed nlist \(50\)"):
        replace(APPROXIMATE["ivf"], nprobe=51)
    with pytest.raises(ValueError, match="ef_search .* does not apply to a flat index"):
        VectorParams(ef_search=10)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_removal_works_for_each_kind(tmp_path: Path, kind: str) -> None:
    index, vectors = built(ALL_KINDS[kind])
    ids = index.ids()
    gone = np.sort(ids)[:40]
    assert index.remove(np.concatenate([gone, [-7, 10**12]])) == 40
    assert index.remove(gone) == 0  # already gone
    assert index.ntotal == 1960
    path = tmp_path / VECTORS_NAME
    index.save(path)
    for searched in (index, VectorIndex.load(path, DIM)):
        assert searched.ntotal == 1960
        np.testing.assert_array_equal(np.sort(searched.ids()), np.setdiff1d(ids, gone))
        for exact in (False, True):
            _, found = searched.search(vectors[:40], 10, exact=exact)
            assert not np.isin(found, gone).any() and (found >= 0).all()
        _, found = searched.search(vectors[40:60], 1)  # the neighbours are still found
        np.testing.assert_array_equal(found[:, 0], np.sort(ids)[40:60])


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_a_mapped_index_searches_as_a_loaded_one_and_refuses_changes(
    tmp_path: Path, kind: str
) -> None:
    index, vectors = built(ALL_KINDS[kind], n=600)
    index.remove(index.ids()[:60])  # hnsw: tombstones in the file
    path = tmp_path / VECTORS_NAME
    index.save(path)
    loaded, mapped = VectorIndex.load(path, DIM), VectorIndex.load(path, DIM, mapped=True)
    assert mapped.mapped and not loaded.mapped
    assert (mapped.ntotal, mapped.params) == (loaded.ntotal, loaded.params) == (540, index.params)
    np.testing.assert_array_equal(mapped.ids(), loaded.ids())
    for exact in (False, True):
        want, got = loaded.search(vectors, 10, exact=exact), mapped.search(vectors, 10, exact=exact)
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[0], want[0])
    kept = loaded.ids()[:5]  # ids 1, 4, 7, ...: row (id - 1) / 3
    np.testing.assert_array_equal(mapped.vectors_of(kept), vectors[(kept - 1) // 3])
    changes = {
        "add to": lambda: mapped.add(np.array([10**9]), vectors[:1]),
        "remove from": lambda: mapped.remove(mapped.ids()[:1]),
        "train": lambda: mapped.train(vectors),
    }
    for verb, change in changes.items():  # FAISS would abort the process: refused before
        with pytest.raises(RuntimeError, match=f"cannot {verb} a vector index read through"):
            change()
    assert mapped.ntotal == 540
    # A writer replaces the file (rename): the map goes on reading the file it opened.
    index.add(np.array([10**9]), vectors[:1])
    index.save(path)
    np.testing.assert_array_equal(mapped.search(vectors, 10, exact=True)[1], want[1])
    assert VectorIndex.load(path, DIM, mapped=True).ntotal == 541


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_vectors_of_returns_the_stored_vectors(tmp_path: Path, kind: str) -> None:
    """By id, after removals and a save and load (an ivf file saved without its id map too)."""
    index, vectors = built(ALL_KINDS[kind], n=500)
    ids = np.arange(500, dtype=np.int64) * 3 + 1
    index.remove(ids[:50])
    path = tmp_path / VECTORS_NAME
    index.save(path)
    old_ivf = None
    if kind == "ivf":  # as files written before the id map was kept
        old_ivf = faiss.read_index(str(path))
        old_ivf.set_direct_map_type(faiss.DirectMap.NoMap)
        faiss.write_index(old_ivf, str(tmp_path / "old.faiss"))
    loaded = [index, VectorIndex.load(path, DIM)]
    if old_ivf is not None:
        loaded.append(VectorIndex.load(tmp_path / "old.faiss", DIM))
    wanted = np.array([ids[400], ids[50], ids[499], ids[50]])
    for searched in loaded:
        got = searched.vectors_of(wanted)
        np.testing.assert_array_equal(got, vectors[[400, 50, 499, 50]])
        assert searched.vectors_of(np.empty(0, np.int64)).shape == (0, DIM)
        with pytest.raises(ValueError, match="not in the vector index"):
            searched.vectors_of(np.array([ids[0]]))  # removed
        with pytest.raises(ValueError, match="not in the vector index"):
            searched.vectors_of(np.array([2]))  # never added


@pytest.mark.parametrize("kind", APPROXIMATE)
def test_asking_for_more_than_the_search_reaches_answers_exactly(kind: str) -> None:
    narrow = {"ivf": VectorParams("ivf", nlist=50, nprobe=1)}.get(kind, APPROXIMATE[kind])
    index, vectors = built(narrow, n=300)
    index.remove(index.ids()[:100])  # hnsw: a third of the graph is tombstones
    scores, found = index.search(vectors[:3], 500)
    assert found.shape == (3, 200) and (found >= 0).all()
    assert all(set(row) == set(index.ids()) for row in found)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)


def test_ivf_must_be_trained_first() -> None:
    index = VectorIndex(DIM, params=APPROXIMATE["ivf"])
    with pytest.raises(ValueError, match="not trained"):
        index.add(np.arange(3), unit_vectors(3))
    with pytest.raises(ValueError, match="training 50 ivf cells takes at least 50 vectors; got 5"):
        index.train(unit_vectors(5))
    with pytest.raises(ValueError, match="must not be negative"):
        VectorIndex(DIM).add(np.array([-1]), unit_vectors(1))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "annoy"}, "unknown vector index kind 'annoy'"),
        ({"kind": "ivf", "nlist": 0, "nprobe": 1}, r"nlist \(0\) must be at least 1"),
        ({"kind": "ivf", "nlist": 8, "nprobe": 9}, r"nprobe \(9\) must not exceed nlist \(8\)"),
        ({"kind": "flat", "m": 16}, r"m \(16\) does not apply to a flat index"),
        ({"kind": "hnsw", "m": 16, "ef_construction": 40}, r"ef_search \(0\) must be at least"),
    ],
)
def test_bad_parameters_say_what_was_wrong(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VectorParams(**fields)


def test_parameters_round_trip_through_meta_text() -> None:
    for params in (VectorParams(), ivf_params(10**6), hnsw_params()):
        assert VectorParams.from_json(params.to_json()) == params
    assert VectorParams.from_json(None) is None
    assert VectorParams.from_json("{not json") is None
    assert VectorParams.from_json('{"kind": "ivf"}') is None  # fails validation


IVF_1M = ivf_params(10**6)


@pytest.mark.parametrize(
    ("index_type", "n", "current", "expected"),
    [
        ("auto", 0, None, VectorParams()),
        ("auto", AUTO_THRESHOLD - 1, None, VectorParams()),
        ("auto", AUTO_THRESHOLD, None, ivf_params(AUTO_THRESHOLD)),
        ("auto", AUTO_THRESHOLD // 2, ivf_params(AUTO_THRESHOLD), ivf_params(AUTO_THRESHOLD)),
        ("auto", AUTO_THRESHOLD // 2 - 1, ivf_params(AUTO_THRESHOLD), VectorParams()),
        ("flat", 10**6, IVF_1M, VectorParams()),
        ("ivf", 0, None, VectorParams()),  # nothing to train on yet
        ("ivf", 10, None, VectorParams("ivf", nlist=1, nprobe=1)),
        ("ivf", 900_000, IVF_1M, IVF_1M),  # close enough: kept
        ("ivf", 10**6, ivf_params(5_000), IVF_1M),  # outgrown: new cells
        ("hnsw", 0, None, hnsw_params()),
        ("hnsw", 10, VectorParams("hnsw", m=8, ef_construction=9, ef_search=10), None),
    ],
)
def test_plan_params(index_type: str, n: int, current, expected) -> None:
    assert plan_params(index_type, n, current) == (expected or current)


def test_plan_params_rejects_unknown_types() -> None:
    with pytest.raises(ValueError, match="index type 'fast' must be one of auto, flat, ivf, hnsw"):
        plan_params("fast", 10)


def test_ivf_layout_grows_with_n() -> None:
    small, large = ivf_params(AUTO_THRESHOLD), ivf_params(10**6)
    assert small.nlist * 39 <= AUTO_THRESHOLD and large.nlist == 4000
    assert 1 <= small.nprobe <= small.nlist and large.nprobe >= small.nprobe


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_open_vectors_rebuilds_each_kind_from_the_store(
    store: Store, tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    queries = unit_vectors(5, seed=3)
    params = plan_params(kind, store.count_chunks())
    store.set_meta({INDEX_TYPE_KEY: kind})
    first = open_vectors(store, tmp_path, DIM)  # no file yet: built as the meta asks
    assert first.params == params and first.ntotal == store.count_chunks()
    assert VectorParams.from_json(store.get_meta()[VECTORS_PARAMS_KEY]) == params
    np.testing.assert_array_equal(np.sort(first.ids()), store.chunk_ids())
    path = tmp_path / VECTORS_NAME
    for damage in (lambda: path.write_bytes(path.read_bytes()[:100]), path.unlink):
        damage()
        with caplog.at_level(logging.WARNING):
            again = open_vectors(store, tmp_path, DIM)
        assert rebuilt_warnings(caplog) and again.params == params
        assert_same_results(first, again, queries)
        caplog.clear()
    store.delete_documents_by_path(["doc2.txt"])  # stale: rebuilt without the removed chunks
    after = open_vectors(store, tmp_path, DIM)
    assert after.params == params
    np.testing.assert_array_equal(np.sort(after.ids()), store.chunk_ids())


def test_open_vectors_rebuilds_with_the_recorded_search_parameters(
    store: Store, tmp_path: Path
) -> None:
    tuned = VectorParams("ivf", nlist=3, nprobe=2)
    save_vectors(build_from_store(store, DIM, params=tuned), store, tmp_path)
    store.set_meta({INDEX_TYPE_KEY: "ivf"})
    (tmp_path / VECTORS_NAME).unlink()
    assert open_vectors(store, tmp_path, DIM).params == tuned


def test_hnsw_tombstones_are_counted_against_the_store(store: Store, tmp_path: Path) -> None:
    vectors = build_from_store(store, DIM, params=hnsw_params())
    removed = store.delete_documents_by_path(["doc0.txt", "doc1.txt"])
    vectors.remove(np.array(removed))
    save_vectors(vectors, store, tmp_path)
    reopened = open_vectors(store, tmp_path, DIM)  # matches: loaded, not rebuilt
    assert reopened.ntotal == store.count_chunks() == 90 and reopened.index.ntotal == 150
    np.testing.assert_array_equal(np.sort(reopened.ids()), store.chunk_ids())


def test_fit_vectors_converts_and_compacts(store: Store, tmp_path: Path) -> None:
    flat = open_vectors(store, tmp_path, DIM)
    assert fit_vectors(flat, store, tmp_path, "auto") is flat  # 150 chunks: flat is right
    ivf = fit_vectors(flat, store, tmp_path, "ivf")
    assert ivf.params == plan_params("ivf", 150)
    assert VectorIndex.load(tmp_path / VECTORS_NAME, DIM).params == ivf.params
    assert store.get_meta()[VECTORS_GENERATION_KEY] == str(store.generation())
    hnsw = fit_vectors(ivf, store, tmp_path, "hnsw")
    assert hnsw.kind == "hnsw" and fit_vectors(hnsw, store, tmp_path, "hnsw") is hnsw
    removed = store.delete_documents_by_path(["doc0.txt", "doc1.txt"])  # 40% of the nodes
    hnsw.remove(np.array(removed))
    assert hnsw.needs_compaction
    compacted = fit_vectors(hnsw, store, tmp_path, "hnsw")
    assert compacted is not hnsw and compacted.index.ntotal == compacted.ntotal == 90
    np.testing.assert_array_equal(np.sort(compacted.ids()), store.chunk_ids())


@pytest.mark.slow
def test_search_index_records_and_converts_the_index_type(tmp_path: Path, cranfield) -> None:
    from searchapp.search_index import SearchIndex

    folder = cranfield.write_files(tmp_path / "docs", 0, 8)
    index_dir = tmp_path / "index"
    search_index = SearchIndex(index_dir, precision="fp32")
    with pytest.raises(BadInputError, match="--index-type \\('fast'\\) must be one of"):
        search_index.add([folder], index_type="fast")
    search_index.add([folder], index_type="hnsw")
    assert search_index.open_vectors().kind == "hnsw"
    top = search_index.search(cranfield.corpus["1"], k=1, mode="dense")[0]
    search_index.add([folder])  # nothing asked: stays hnsw
    assert search_index.stats()["index_type"] == "hnsw"
    search_index.add([folder], index_type="ivf")  # converted in place
    stats = search_index.stats()
    assert stats["index_type"] == "ivf" and stats["vectors_params"]["kind"] == "ivf"
    reopened = SearchIndex(index_dir, encoder=search_index.load_encoder())
    assert (
        reopened.open_vectors().kind == "ivf" and reopened.open_vectors().ntotal == stats["chunks"]
    )
    assert reopened.open_vectors().mapped  # a reader maps the file; adding reads it in
    reopened.add([folder], index_type="flat")
    assert not reopened.open_vectors().mapped and reopened.open_vectors().kind == "flat"
    reader = SearchIndex(index_dir, encoder=search_index.load_encoder())
    assert reader.open_vectors().mapped
    gone = sorted(folder.iterdir())[-1]  # not doc1, searched for below
    assert reader.remove([gone]) == 1  # removing reads the mapped file into memory first
    assert reader.open_vectors().ntotal == reader.stats()["chunks"] < stats["chunks"]
    assert reopened.search(cranfield.corpus["1"], k=1, mode="dense")[0].chunk_id == top.chunk_id


def test_single_queries_leave_faiss_threads_as_they_were() -> None:
    import faiss

    index, vectors = built(APPROXIMATE["ivf"], n=500)
    before = faiss.omp_get_max_threads()
    index.search(vectors[:1], 5)  # one thread inside, restored after
    index.search(vectors[:40], 5)  # a batch: FAISS's own threading
    assert faiss.omp_get_max_threads() == before
