"""The postings file: FTS5's BM25 ranking, bit for bit, and a derived file that heals itself."""

from __future__ import annotations

import dataclasses
import random
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from searchapp.errors import CorruptIndexError
from searchapp.ranking.lexical import COMMON_TERMS_FROM, Lexicon
from searchapp.ranking.postings import POSTINGS_NAME, Postings, open_postings, save_postings
from searchapp.search_index import SearchIndex
from searchapp.storage.lock import WriterLock
from searchapp.storage.store import Store, remove_store_files
from tests.searchapp.storage.test_store import add_document

EXTRA_QUERIES = [
    "Café CAFÉ cafe crème",  # one folded term, said three ways
    "flow flow FLOW of the",  # repeats, and words in most chunks
    "foo_bar x² naïve-Bayes",  # FTS5 splits what \w+ would keep together
    '"unbalanced NEAR(a b) AND OR * ^',
    "zzzz-not-a-word",
    "首都 東京の研究",  # each Chinese or Japanese character a term
    "",
]


def cranfield_store(root: Path, texts: list[str]) -> Store:
    store = Store.open(root, create=True)
    for first in range(0, len(texts), 200):
        add_document(store, f"d{first}", f"d{first}.txt", *texts[first : first + 200])
    return store


def assert_same_ranking(store: Store, postings: Postings, queries: list[str], k: int) -> int:
    """Postings and FTS5 give the same ids and the same float scores; returns how many hits."""
    hits = 0
    for query in queries:
        expected = Lexicon(store).search(query, k)
        terms = Lexicon(store).search_terms(query, postings.document_frequency)  # as Searcher
        assert postings.search(terms, k) == expected, query
        hits += len(expected)
    return hits


@pytest.fixture(scope="module")
def cranfield_postings(tmp_path_factory, cranfield) -> tuple[Store, Postings]:
    """The 1,400 abstracts (past COMMON_TERMS_FROM) plus 30 copies of one: ties to break."""
    texts = list(cranfield.corpus.values())
    texts += [texts[0]] * 30 + ["café crème", "Cafe au lait, CAFÉ noir", "foo bar x 2 naive bayes"]
    texts += ["北京是中国的首都", "東京都に住んでいます", "明日は研究室に行きます"]
    store = cranfield_store(tmp_path_factory.mktemp("postings"), texts)
    assert store.count_chunks() >= COMMON_TERMS_FROM
    return store, Postings.build(store)


@pytest.mark.parametrize("k", [1, 10, 100, 5000])
def test_scores_equal_fts5_bit_for_bit(cranfield_postings, cranfield, k: int) -> None:
    store, postings = cranfield_postings
    queries = list(cranfield.queries.values()) + EXTRA_QUERIES
    hits = assert_same_ranking(store, postings, queries, k)
    assert hits >= min(k, 100) * 200  # the queries do match: this compared real rankings


def test_scores_of_chosen_chunks_equal_fts5_and_the_ranking(cranfield_postings, cranfield):
    store, postings = cranfield_postings
    lexicon = Lexicon(store)
    ids = [int(i) for i in postings.ids]
    chosen = ids[::7] + [max(ids) + 5]  # one id no chunk has
    compared = 0
    for query in list(cranfield.queries.values())[:40] + EXTRA_QUERIES:
        terms = lexicon.search_terms(query, postings.document_frequency)
        found = postings.scores_of(terms, chosen)
        assert found == lexicon.scores_of(query, chosen), query
        ranked = dict(postings.search(terms, len(ids)))
        assert found == {i: ranked[i] for i in chosen if i in ranked}, query
        compared += len(found)
    assert compared > 1000


def test_small_index_keeps_common_words(tmp_path: Path) -> None:
    """Under COMMON_TERMS_FROM chunks every term counts, even one in every chunk."""
    store = cranfield_store(tmp_path, ["the cat", "the dog", "the cat and the hat", "a b c"])
    postings = Postings.build(store)
    assert [i for i, _ in postings.search(["the"], 10)] == [
        i for i, _ in Lexicon(store).search("the", 10)
    ]
    assert len(postings.search(["the"], 10)) == 3
    assert_same_ranking(store, postings, ["the cat", "hat the", "a", "d"], 10)


def test_empty_index(tmp_path: Path) -> None:
    store = Store.open(tmp_path, create=True)
    postings = Postings.build(store)
    assert postings.search(["anything"], 10) == [] and postings.rows == 0
    save_postings(postings, store, tmp_path)
    assert Postings.load(tmp_path / POSTINGS_NAME).search(["anything"], 5) == []


def test_query_tokens_are_fts5_terms(tmp_path: Path) -> None:
    store = Store.open(tmp_path, create=True)
    assert Lexicon(store).query_tokens("Café CAFE cafe, Crème!") == ["cafe", "creme"]
    assert Lexicon(store).query_tokens("foo_bar AND x2") == ["foo", "bar", "foobar", "and", "x2"]
    lexicon = Lexicon(store)
    assert lexicon.query_tokens("  --- ***  ") == [] and lexicon.query_tokens("") == []
    assert len(Lexicon(store).query_tokens(" ".join(f"w{i}" for i in range(500)))) == 64
    with store.snapshot():  # works inside a read transaction, as searches run
        # Letters FTS5 keeps as they are (no decomposition) are written as typed without them.
        assert Lexicon(store).query_tokens("Straße Łódź œuvre") == ["strasse", "lodz", "oeuvre"]
        # Greek's accents and final sigma, Cyrillic's ё: FTS5 keeps them (schema version 20).
        assert Lexicon(store).query_tokens("Ελλάς ΆΡΧΗ мёд") == ["ελλασ", "αρχη", "мед"]


def test_save_load_round_trip_and_damage(cranfield_postings, cranfield, tmp_path: Path) -> None:
    store, postings = cranfield_postings
    path = tmp_path / POSTINGS_NAME
    postings.save(path)
    loaded = Postings.load(path)
    assert loaded is not None and loaded.generation == postings.generation
    np.testing.assert_array_equal(loaded.ids, store.chunk_ids())
    assert_same_ranking(store, loaded, list(cranfield.queries.values())[:20], 10)
    data = path.read_bytes()
    for damaged in (data[: len(data) // 2], b"garbage" * 100, b"", data[:30]):
        path.write_bytes(damaged)
        with pytest.raises(CorruptIndexError, match=POSTINGS_NAME):
            Postings.load(path)
    assert Postings.load(tmp_path / "absent.bin") is None


def test_open_rebuilds_stale_missing_or_damaged_files(tmp_path: Path) -> None:
    store = cranfield_store(tmp_path, ["alpha beta", "beta gamma", "gamma delta"])
    path = tmp_path / POSTINGS_NAME
    first = open_postings(store, tmp_path)
    assert first is not None and path.exists() and first.search(["beta"], 5)
    written = path.stat().st_mtime_ns, path.stat().st_ino
    with WriterLock(tmp_path) as lock:
        again = open_postings(store, tmp_path, writer=lock)  # current: loaded, not rebuilt
    assert again is not None and (path.stat().st_mtime_ns, path.stat().st_ino) == written
    add_document(store, "new", "new.txt", "beta beta epsilon")  # a new generation
    fresh = open_postings(store, tmp_path)
    assert fresh is not None and fresh.generation == store.generation() > first.generation
    assert [i for i, _ in fresh.search(["beta"], 5)] == [
        i for i, _ in Lexicon(store).search("beta", 5)
    ]
    path.write_bytes(b"not postings")
    healed = open_postings(store, tmp_path)
    assert healed is not None and Postings.load(path).generation == store.generation()


def test_a_file_left_by_another_database_is_not_taken_for_its_own(tmp_path: Path) -> None:
    # index.db deleted and made again, postings.bin left: the same generation and the same
    # chunk count matched by chance, and "aardvark" found the bicycle.
    first = cranfield_store(tmp_path, ["the aardvark eats termites at night"])
    assert open_postings(first, tmp_path) is not None
    first.close()
    remove_store_files(tmp_path)
    second = cranfield_store(tmp_path, ["a bicycle has two wheels and pedals"])
    assert Postings.load(tmp_path / POSTINGS_NAME).generation == second.generation()
    postings = open_postings(second, tmp_path)
    assert postings is not None
    assert postings.search(["aardvark"], 5) == []
    assert postings.search(["bicycle"], 5) == Lexicon(second).search("bicycle", 5) != []


def test_postings_of_an_index_before_chinese_and_japanese_words_are_built_again(
    tmp_path: Path, monkeypatch
) -> None:
    from searchapp.storage import schema

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:7])
    old = cranfield_store(tmp_path, ["北京是中国的首都", "alpha beta"])
    built = open_postings(old, tmp_path)
    assert built is not None and built.search(["首"], 5) == []  # the run was one term
    old.close()
    monkeypatch.undo()
    store = Store.open(tmp_path, create=False)  # migrated: same generation, same rows
    fresh = open_postings(store, tmp_path)
    assert fresh is not None and fresh.schema == store.schema_version() > built.schema
    assert fresh.search(["首"], 5) == Lexicon(store).search("首", 5) != []
    assert Postings.load(tmp_path / POSTINGS_NAME).schema == store.schema_version()


def test_postings_of_an_index_before_camel_case_parts_are_built_again(
    tmp_path: Path, monkeypatch
) -> None:
    from searchapp.storage import schema

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:9])
    monkeypatch.setattr(schema, "fts_text", schema.cjk_spaced)
    old = cranfield_store(tmp_path, ["def parseConfig(path)", "alpha beta"])
    built = open_postings(old, tmp_path)
    assert built is not None and built.search(["config"], 5) == []  # one term then
    old.close()
    monkeypatch.undo()
    store = Store.open(tmp_path, create=False)
    fresh = open_postings(store, tmp_path)
    assert fresh is not None and fresh.schema == store.schema_version() > built.schema
    assert fresh.search(["config"], 5) == Lexicon(store).search("config", 5) != []


def test_postings_of_an_index_before_greek_folded_are_built_again(
    tmp_path: Path, monkeypatch
) -> None:
    from searchapp.storage import schema

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:19])
    monkeypatch.setattr(schema, "fts_text", schema.latin_fts_text)
    old = cranfield_store(tmp_path, ["το ακίνητο στην Ελλάδα", "alpha beta"])
    built = open_postings(old, tmp_path)
    assert built is not None and built.search(["ελλαδα"], 5) == []  # accented then
    old.close()
    monkeypatch.undo()
    store = Store.open(tmp_path, create=False)
    fresh = open_postings(store, tmp_path)
    assert fresh is not None and fresh.schema == store.schema_version() > built.schema
    assert fresh.search(["ελλαδα"], 5) == Lexicon(store).search("ΕΛΛΑΔΑ", 5) != []


def test_a_running_writer_leaves_lexical_search_to_fts5(tmp_path: Path) -> None:
    store = cranfield_store(tmp_path, ["alpha beta", "beta gamma"])
    with WriterLock(tmp_path, wait=False) as lock:
        assert open_postings(store, tmp_path) is None  # stale, and not ours to rebuild
        assert not (tmp_path / POSTINGS_NAME).exists()
        assert open_postings(store, tmp_path, writer=lock) is not None


def first_difference(got: list, want: list) -> str:
    """Which hit and which of its fields differ first (a full Hit diff is cut short)."""
    if len(got) != len(want):
        return f"{len(got)} hits, not {len(want)}"
    for n, (a, b) in enumerate(zip(got, want, strict=True)):
        for field in dataclasses.fields(a):
            mine, theirs = getattr(a, field.name), getattr(b, field.name)
            if mine != theirs:
                return f"hit {n + 1}: {field.name} {mine!r} != {theirs!r}"
    return "equal"


def test_search_index_keeps_postings_current(small_index, loaded_model, tmp_path: Path) -> None:
    """Indexing and removing save a current file; without it, FTS5 gives the same hits."""
    folder, built = small_index
    index_dir = tmp_path / "index"
    shutil.copytree(built, index_dir)
    docs = tmp_path / "docs"
    shutil.copytree(folder, docs)
    search_index = SearchIndex(index_dir)
    search_index.add([docs])  # nothing changed: still saves a file for this generation
    queries = ["boundary layer heat transfer", "supersonic wing flutter", "the of and"]

    def check() -> list[list[int]]:
        generation = search_index.store.generation()
        assert Postings.load(index_dir / POSTINGS_NAME).generation == generation
        ranked = []
        for mode in ("lexical", "hybrid"):
            for query in queries:
                with_postings = search_index.search(query, k=5, mode=mode)
                ranked.append([hit.chunk_id for hit in with_postings])
                search_index._postings = None
                (index_dir / POSTINGS_NAME).rename(index_dir / "aside.bin")
                with WriterLock(index_dir, wait=False):  # a "writer": FTS5 ranks alone
                    assert search_index.open_postings() is None
                    alone = search_index.search(query, k=5, mode=mode)
                    assert alone == with_postings, first_difference(alone, with_postings)
                (index_dir / "aside.bin").rename(index_dir / POSTINGS_NAME)
                search_index._postings = None
        return ranked

    before = check()
    assert any(before)
    (docs / sorted(p.name for p in docs.iterdir())[0]).write_text(
        "boundary layer heat transfer in supersonic flutter\n", encoding="utf-8"
    )
    search_index.add([docs])
    after = check()
    assert after != before
    assert search_index.remove([folder]) == 30  # the copy's own documents stay
    saved = Postings.load(index_dir / POSTINGS_NAME)
    assert saved.rows == search_index.store.count_chunks() > 0
    assert saved.generation == search_index.store.generation()
    assert all(hit.path.startswith(str(docs)) for hit in search_index.search("flow", k=20))
    search_index.close()


def test_a_folder_that_cannot_be_written_leaves_lexical_search_to_fts5(
    tmp_path: Path, monkeypatch
) -> None:
    store = cranfield_store(tmp_path, ["alpha beta", "beta gamma"])

    def refused(self) -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / "write.lock"))

    monkeypatch.setattr(WriterLock, "acquire", refused)
    assert open_postings(store, tmp_path) is None
    (tmp_path / POSTINGS_NAME).mkdir()  # unreadable as a file: also not an error
    assert open_postings(store, tmp_path) is None


def assert_same_postings(got: Postings, want: Postings) -> None:
    """Every array equal, value and type: the file an update writes is the one a build would."""
    for name in ("ids", "_starts", "_rows", "_weights", "_tf"):
        mine, theirs = getattr(got, name), getattr(want, name)
        np.testing.assert_array_equal(mine, theirs, err_msg=name)
        assert mine.dtype == theirs.dtype, name
    np.testing.assert_array_equal(got._terms.array, want._terms.array)
    np.testing.assert_array_equal(got._terms.starts, want._terms.starts)
    assert (got.generation, got.rows, got.schema) == (want.generation, want.rows, want.schema)


def saved(postings: Postings, store: Store, index_dir: Path) -> Postings:
    """``postings`` as a writer leaves them: saved, their generation recorded in the store."""
    save_postings(postings, store, index_dir)
    return postings


def test_updated_postings_equal_a_build_after_each_change(tmp_path: Path, cranfield) -> None:
    """Documents removed and added at random, among them terms that sort before and after all
    others, Chinese and camelCase words, a term's last chunk removed, every chunk removed:
    after each change the update equals a build of the store, array for array."""
    rng = random.Random(16)
    texts = list(cranfield.corpus.values())
    odd = ["0000 first of all", "zzzz last of all", "北京是中国的首都", "parseConfig foo_bar"]
    odd += ["Café crème brûlée", "only-once-term here"]
    store = Store.open(tmp_path, create=True)
    names = []
    for n in range(40):
        names.append(f"d{n}")
        add_document(store, names[-1], f"{names[-1]}.txt", *rng.sample(texts, 5), seed=n)
    postings = saved(Postings.build(store), store, tmp_path)
    steps = 0
    for step in range(14):
        for name in rng.sample(names, rng.randint(0, 3)):
            store.delete_document(name)
            names.remove(name)
        for n in range(rng.randint(0, 3)):
            names.append(f"s{step}-{n}")
            chunks = [*rng.sample(texts, rng.randint(1, 4)), *rng.sample(odd, rng.randint(0, 2))]
            add_document(store, names[-1], f"{names[-1]}.txt", *chunks, seed=step)
        if step == 7:  # the odd terms' chunks all go: terms leave the file
            for name in [n for n in names if n.startswith("s")]:
                store.delete_document(name)
                names.remove(name)
        with store.snapshot():
            updated = postings.updated(store)
        assert updated is not None, step
        assert_same_postings(updated, Postings.build(store))
        postings, steps = saved(updated, store, tmp_path), steps + 1
    queries = [*odd[:3], *odd[4:], *list(cranfield.queries.values())[:20]]
    assert_same_ranking(store, postings, queries, 10)  # (a camelCase query scores its parts)
    for name in names:
        store.delete_document(name)
    with store.snapshot():
        emptied = postings.updated(store)
    assert emptied is not None and emptied.rows == 0 and len(emptied._terms) == 0
    assert_same_postings(emptied, Postings.build(store))
    assert steps == 14


def test_postings_are_built_when_an_update_would_not_pay_or_cannot_be_exact(
    tmp_path: Path,
) -> None:
    """A quarter of the chunks new, or a file from before term counts were kept: a build."""
    store = cranfield_store(tmp_path, [f"alpha beta {n}" for n in range(12)])
    postings = saved(Postings.build(store), store, tmp_path)
    add_document(store, "few", "few.txt", "beta gamma")
    with store.snapshot():
        assert postings.updated(store) is not None
    add_document(store, "many", "many.txt", *[f"gamma delta {n}" for n in range(5)])
    with store.snapshot():
        assert postings.updated(store) is None  # 6 of 18 chunks are new since
    old = Postings.build(store)
    old._tf = None  # as a file written before term counts were kept
    old.save(tmp_path / POSTINGS_NAME)
    loaded = Postings.load(tmp_path / POSTINGS_NAME)
    assert loaded is not None and loaded._tf is None
    assert_same_ranking(store, loaded, ["beta", "gamma delta"], 5)  # still answers
    add_document(store, "one", "one.txt", "delta epsilon")
    with store.snapshot():
        assert loaded.updated(store) is None
    fresh = open_postings(store, tmp_path)
    assert fresh is not None and fresh._tf is not None
    assert_same_postings(Postings.load(tmp_path / POSTINGS_NAME), Postings.build(store))


def test_a_writer_updates_the_stale_file_rather_than_building(tmp_path: Path, monkeypatch) -> None:
    """After a small change the saved file is brought up to date without reading all of FTS5
    again, and is what a build would save."""
    store = cranfield_store(tmp_path, [f"alpha beta {n}" for n in range(20)])
    first = open_postings(store, tmp_path)
    assert first is not None
    add_document(store, "new", "new.txt", "beta gamma zeta")
    store.delete_document("d0")
    add_document(store, "again", "again.txt", "alpha omega")
    build = Postings.build
    monkeypatch.setattr(Postings, "build", classmethod(lambda cls, store: pytest.fail("built")))
    with WriterLock(tmp_path) as lock:
        updated = open_postings(store, tmp_path, writer=lock)
    assert updated is not None and updated.generation == store.generation() > first.generation
    assert_same_postings(Postings.load(tmp_path / POSTINGS_NAME), build(store))
    assert (
        [i for i, _ in updated.search(["zeta"], 5)]
        == [i for i, _ in Lexicon(store).search("zeta", 5)]
        != []
    )


def test_postings_of_another_database_are_built_not_updated(tmp_path: Path) -> None:
    """index.db deleted and made again beside postings.bin: its chunks are numbered from 1
    again, which the file's ids took for its own ("alpha" found in chunks without it)."""
    store = cranfield_store(tmp_path, [f"alpha beta {n}" for n in range(8)])
    assert open_postings(store, tmp_path) is not None
    store.close()
    remove_store_files(tmp_path)
    store = cranfield_store(tmp_path, [f"omega gamma {n}" for n in range(9)])
    fresh = open_postings(store, tmp_path)
    assert fresh is not None and fresh.search(["alpha"], 5) == []
    assert_same_postings(fresh, Postings.build(store))
    assert_same_ranking(store, fresh, ["omega", "alpha", "gamma 3"], 10)


def test_chunks_without_a_word_weigh_nothing_and_warn_of_nothing(tmp_path: Path) -> None:
    # Every chunk punctuation: the average length is 0, and 0 / 0 warned on stderr.
    store = cranfield_store(tmp_path, ["...", "---", "!!!"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        postings = Postings.build(store)
    assert postings.rows == 3 and len(postings._terms) == 0 and postings.search(["x"], 5) == []
