"""SQLite store: schema, transactions, FTS consistency, hostile input."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchapp.errors import (
    CorruptIndexError,
    IndexLockedError,
    IndexNotFoundError,
    IndexNotWritableError,
    ModelMismatchError,
)
from searchapp.ranking.lexical import Lexicon, fts_query
from searchapp.ranking.postings import Postings
from searchapp.storage.schema import MIGRATIONS, Chunk
from searchapp.storage.store import DB_NAME, GENERATION_KEY, Store, remove_store_files

DIM = 8


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def chunks_of(*texts: str) -> list[Chunk]:
    return [Chunk(text=t, start_char=0, end_char=len(t), start_line=1, end_line=1) for t in texts]


def lexical_search(store: Store, query: str, k: int) -> list[tuple[int, float]]:
    return Lexicon(store).search(query, k)


def add_document(store: Store, doc_id: str, path: str, *texts: str, seed: int = 0) -> list[int]:
    with store.transaction():
        document_id = store.upsert_document(doc_id=doc_id, path=path, title=doc_id, size=1)
        return store.add_chunks(document_id, chunks_of(*texts), unit_vectors(len(texts), seed))


def fts_rows(store: Store) -> int:
    """Rows in the FTS index itself (docsize has one per indexed chunk), not the content table."""
    return store.db.execute("SELECT count(*) FROM chunks_fts_docsize").fetchone()[0]


def assert_fts_consistent(store: Store) -> None:
    store.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    assert fts_rows(store) == store.count_chunks()


@pytest.fixture
def store(tmp_path: Path):
    opened = Store.open(tmp_path / "index", create=True)
    yield opened
    opened.close()


def test_missing_index_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match=r"no index at .*run `search index PATH` first"):
        Store.open(tmp_path / "nowhere", create=False)
    assert not (tmp_path / "nowhere").exists()


def test_create_reopen_and_migrations(tmp_path: Path) -> None:
    store = Store.open(tmp_path, create=True)
    store.set_meta({"model": "all-MiniLM-L6-v2", "dim": DIM})
    store.close()
    store = Store.open(tmp_path, create=False)
    meta = store.get_meta()
    assert meta["model"] == "all-MiniLM-L6-v2" and meta["dim"] == str(DIM)
    assert store.schema_version() == len(MIGRATIONS) == int(meta["schema_version"])
    names = [r[0] for r in store.db.execute("SELECT name FROM _migrations ORDER BY version")]
    assert names == [m.__name__ for m in MIGRATIONS] and names[0] == "m001_initial"
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: commits on disk
    store.close()


def test_an_index_of_bare_record_ids_gets_path_qualified_ones(tmp_path: Path, monkeypatch) -> None:
    # Indexes made before m004 stored a JSONL record under its bare id; a file under its path.
    from searchapp.storage import schema

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:3])
    store = Store.open(tmp_path, create=True)
    store.db.execute("ALTER TABLE chunks ADD COLUMN places TEXT")  # what today's code writes
    store.db.execute("CREATE VIRTUAL TABLE documents_names USING fts5(name, folder)")
    add_document(store, "/d/notes.txt", "/d/notes.txt", "a note")
    add_document(store, "7", "/d/corpus.jsonl", "record seven")
    add_document(store, "b#8", "/d/corpus.jsonl", "record with a hash in its id")
    add_document(store, "/e/corpus.jsonl#7", "/e/corpus.jsonl", "qualified already")
    store.db.execute("ALTER TABLE chunks DROP COLUMN places")  # as version 3 had it
    store.db.execute("DROP TABLE documents_names")
    store.close()
    monkeypatch.undo()
    store = Store.open(tmp_path, create=False)
    assert store.schema_version() == len(MIGRATIONS)
    rows = store.db.execute("SELECT doc_id, path FROM documents ORDER BY id").fetchall()
    assert rows == [
        ("/d/notes.txt", "/d/notes.txt"),
        ("/d/corpus.jsonl#7", "/d/corpus.jsonl"),
        ("/d/corpus.jsonl#b#8", "/d/corpus.jsonl"),
        ("/e/corpus.jsonl#7", "/e/corpus.jsonl"),
    ]
    assert [c.text for c in store.get_chunks(store.chunk_ids().tolist())][1] == "record seven"
    # m006 named the files that were there: a file by its name, no JSONL record by its file's.
    names = store.db.execute("SELECT rowid, name, folder FROM documents_names").fetchall()
    assert names == [(1, "notes", "d")]
    store.close()


def test_migrations_a_read_only_index_may_lack_only_add_columns(
    tmp_path: Path, monkeypatch
) -> None:
    # A store that cannot write reads an index from READABLE_FROM on without migrating it, so
    # what came since must leave every table, column and index as it was, adding columns only.
    from searchapp.storage import schema

    def shape(path: Path) -> dict[str, list[str]]:
        conn = sqlite3.connect(path)
        names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master ORDER BY name")]
        tables = {n: [r[1] for r in conn.execute(f"PRAGMA table_info('{n}')")] for n in names}
        conn.close()
        return tables

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[: schema.READABLE_FROM])
    Store.open(tmp_path, create=True).close()
    before = shape(tmp_path / DB_NAME)
    monkeypatch.undo()
    Store.open(tmp_path, create=False).close()
    after = shape(tmp_path / DB_NAME)
    # No table or index added or dropped but the file names' table, which a reader reads only
    # from NAMES_FROM on (ranking/names.py), and the index of chunks' first characters and the
    # removed chunks' vectors, which only a writer uses, when they are there
    # (Store.vectors_of_texts).
    added = set(after) - set(before)
    assert set(before) <= set(after) and added
    writers = {"chunks_text_start", "chunks_removed_vector"}
    assert all(
        name.startswith(("documents_names", "sqlite_autoindex_removed_vectors", "removed_vectors"))
        or name in writers
        for name in added
    ), added
    for name, columns in before.items():
        assert after[name][: len(columns)] == columns, name


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: b"this is not sqlite at all" * 100, id="garbage"),
        pytest.param(lambda data: data[: len(data) // 2], id="truncated-half"),
        pytest.param(lambda data: data[:50], id="truncated-header"),
        pytest.param(lambda data: b"", id="empty"),
    ],
)
def test_damaged_db_names_the_file_and_the_fix(tmp_path: Path, damage) -> None:
    store = Store.open(tmp_path, create=True)
    for i in range(40):
        add_document(store, f"d{i}", f"p{i}.txt", "some words " * 50, "more text " * 50, seed=i)
    store.close()
    db_path = tmp_path / DB_NAME
    db_path.write_bytes(damage(db_path.read_bytes()))
    (tmp_path / "vectors.faiss").write_bytes(b"")  # an index that was: not one being made
    with pytest.raises(CorruptIndexError) as caught:
        Store.open(tmp_path, create=False)
    assert str(db_path) in str(caught.value)
    assert "search index PATH... --rebuild" in str(caught.value)  # it cannot list its folders


def test_garbage_db_is_not_overwritten_by_create(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(CorruptIndexError, match="index.db"):
        Store.open(tmp_path, create=True)
    remove_store_files(tmp_path)
    Store.open(tmp_path, create=True).close()


def test_upsert_replaces_chunks_and_fts_rows(store: Store) -> None:
    first = add_document(store, "a", "a.txt", "alpha apple", "alpha banana")
    other = add_document(store, "b", "b.txt", "cherry")
    assert store.count_chunks() == 3
    assert_fts_consistent(store)
    second = add_document(store, "a", "a.txt", "zebra", seed=1)
    assert not set(first) & set(second)
    assert store.count_chunks() == 2
    assert_fts_consistent(store)
    assert lexical_search(store, "alpha", 10) == []
    assert [hit[0] for hit in lexical_search(store, "zebra", 10)] == second
    np.testing.assert_array_equal(store.chunk_ids(), sorted(other + second))
    assert len(store.documents_by_path()["a.txt"]) == 1


def test_delete_by_path_removes_exactly_those_chunks(store: Store) -> None:
    jsonl = add_document(store, "log#1", "log.jsonl", "one", "two")
    jsonl += add_document(store, "log#2", "log.jsonl", "three")
    kept = add_document(store, "k", "keep.txt", "one two three")
    assert sorted(store.delete_documents_by_path(["log.jsonl", "absent.txt"])) == sorted(jsonl)
    np.testing.assert_array_equal(store.chunk_ids(), kept)
    assert store.all_paths() == ["keep.txt"]
    assert [hit[0] for hit in lexical_search(store, "one two three", 10)] == kept
    assert_fts_consistent(store)
    assert store.delete_document("k") == kept
    assert store.count_chunks() == 0 and fts_rows(store) == 0


def test_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    add_document(store, "a", "a.txt", "kept text")
    before = (store.chunk_ids(), store.get_meta(), store.all_paths())
    with pytest.raises(RuntimeError, match="boom"), store.transaction():
        document_id = store.upsert_document(doc_id="b", path="b.txt")
        store.add_chunks(document_id, chunks_of("lost text"), unit_vectors(1))
        store.delete_documents_by_path(["a.txt"])
        raise RuntimeError("boom")
    np.testing.assert_array_equal(store.chunk_ids(), before[0])
    assert store.get_meta() == before[1] and store.all_paths() == before[2]
    assert lexical_search(store, "lost", 5) == [] and len(lexical_search(store, "kept", 5)) == 1
    assert_fts_consistent(store)


def test_generation_bumps_once_per_committed_chunk_change(store: Store) -> None:
    start = store.generation()
    add_document(store, "a", "a.txt", "x", "y")
    assert store.generation() == start + 1
    store.set_meta({"last_indexed_at": "now"})  # meta alone does not invalidate vectors
    store.delete_documents_by_path(["nothing-here"])
    assert store.generation() == start + 1
    store.delete_document("a")
    assert store.generation() == start + 2
    assert store.get_meta()[GENERATION_KEY] == str(start + 2)


def test_second_writer_gets_index_locked(tmp_path: Path) -> None:
    writer = Store.open(tmp_path, create=True)
    waiting = Store.open(tmp_path, create=False, timeout=0.05)
    with writer.transaction():
        writer.upsert_document(doc_id="a", path="a.txt")
        with pytest.raises(IndexLockedError, match="locked by another process"):
            waiting.upsert_document(doc_id="b", path="b.txt")
        assert waiting.count_chunks() == 0  # readers still work under WAL
    writer.close()
    waiting.close()


def test_embeddings_round_trip_in_batches(store: Store) -> None:
    expected = {}
    for i in range(7):
        ids = add_document(store, f"d{i}", f"{i}.txt", *[f"t{i}{j}" for j in range(3)], seed=i)
        expected.update(zip(ids, unit_vectors(3, seed=i)))
    batches = list(store.iter_embeddings(batch_size=4))
    assert [len(ids) for ids, _ in batches] == [4, 4, 4, 4, 4, 1]
    ids = np.concatenate([ids for ids, _ in batches])
    vectors = np.concatenate([v for _, v in batches])
    np.testing.assert_array_equal(ids, store.chunk_ids())
    assert vectors.dtype == np.float32 and vectors.flags.writeable
    np.testing.assert_array_equal(vectors, np.stack([expected[int(i)] for i in ids]))


def test_dimension_mismatch_is_refused(store: Store) -> None:
    add_document(store, "a", "a.txt", "x")
    mismatch = pytest.raises(ModelMismatchError, match="dimension 4 .* dimension 8")
    with mismatch, store.transaction():
        document_id = store.upsert_document(doc_id="b", path="b.txt")
        store.add_chunks(document_id, chunks_of("y"), np.ones((1, 4), np.float32))
    assert store.all_paths() == ["a.txt"]
    with pytest.raises(ValueError, match=r"shape \(1, 8\) but there are 2 chunks"):
        store.add_chunks(1, chunks_of("y", "z"), unit_vectors(1))


def test_get_chunks_keeps_order_and_skips_unknown_ids(store: Store) -> None:
    ids = add_document(store, "a", "a.txt", "first", "second", "third")
    got = store.get_chunks([ids[2], -1, 999_999, ids[0]])
    assert [(c.id, c.text, c.doc_id, c.path, c.ordinal) for c in got] == [
        (ids[2], "third", "a", "a.txt", 2),
        (ids[0], "first", "a", "a.txt", 0),
    ]
    assert store.get_chunks(np.array(ids[1:2], dtype=np.int64))[0].text == "second"


def test_embeddings_by_id(store: Store) -> None:
    ids = add_document(store, "a", "a.txt", "first", "second", seed=3)
    found = store.embeddings(np.array([ids[1], 424242], dtype=np.int64))
    assert list(found) == [ids[1]]
    np.testing.assert_array_equal(found[ids[1]], unit_vectors(2, seed=3)[1])


HOSTILE = [
    '"unbalanced',
    "a AND (b OR",
    "NEAR(x y)",
    "col:val",
    "-foo*",
    "'; DROP TABLE chunks; --",
    "",
    "   ",
    "***",
    "___",
    '""""',
    "AND OR NOT",
    "^start",
    "text:alpha",
    "{text}: alpha",
    "x" * 5000,
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_raise(store: Store, query: str) -> None:
    text = "alpha NEAR drop table chunks foo val"
    add_document(store, "a", "a.txt", text, "b or x y")
    hits = lexical_search(store, query, 5)
    assert all(isinstance(i, int) and isinstance(s, float) for i, s in hits)
    shared = set(re.findall(r"\w+", query.lower())) & set(f"{text} b or x y".lower().split())
    assert bool(hits) == bool(shared)  # words still match: only the syntax was neutralised
    assert store.count_chunks() == 2


def test_lexical_search_ranks_and_folds_diacritics(store: Store) -> None:
    ids = add_document(store, "a", "a.txt", "café crème", "café café café", "unrelated")
    hits = lexical_search(store, "CAFE", 10)
    assert [i for i, _ in hits] == [ids[1], ids[0]]
    assert hits[0][1] > hits[1][1]  # higher score is better
    assert lexical_search(store, "cafe", 1) == hits[:1]


def test_fts_query_quotes_every_word() -> None:
    assert fts_query('a AND "b" NEAR(c)') == '"a" OR "AND" OR "b" OR "NEAR" OR "c"'
    assert fts_query("--- *** ()") == ""
    assert fts_query("ünïcödé 東京") == '"ünïcödé" OR "東京"'


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=st.text())
def test_any_text_is_a_safe_query(store: Store, query: str) -> None:
    if store.count_chunks() == 0:
        add_document(store, "a", "a.txt", "alpha beta gamma", "delta")
    lexical_search(store, query, 3)


def test_quotes_and_sql_in_documents_round_trip(store: Store) -> None:
    nasty = '\'; DROP TABLE documents; --"quoted" `tick` NEAR(a b) *'
    path = f"dir with 'quotes'/\"{nasty}\".txt"
    with store.transaction():
        document_id = store.upsert_document(doc_id=nasty, path=path, title=nasty, sha256="ab")
        (chunk_id,) = store.add_chunks(document_id, chunks_of(nasty), unit_vectors(1))
    (chunk,) = store.get_chunks([chunk_id])
    assert (chunk.doc_id, chunk.path, chunk.title, chunk.text) == (nasty, path, nasty, nasty)
    assert store.documents_by_path()[path][0].doc_id == nasty
    assert store.all_paths() == [path]
    assert [i for i, _ in lexical_search(store, nasty, 5)] == [chunk_id]
    assert store.delete_documents_by_path([path]) == [chunk_id]
    assert store.count_documents() == 0


def test_stats(store: Store) -> None:
    add_document(store, "a", "a.txt", "one", "two")
    stats = store.stats()
    assert stats["documents"] == 1 and stats["chunks"] == 2 and stats["db_bytes"] > 0
    assert stats["db_free_bytes"] == 0
    # Removals leave pages free, which the file keeps (`search info` says how much).
    add_document(store, "b", "b.txt", *[f"passage {n} " + "word " * 400 for n in range(200)])
    store.delete_documents_by_path(["b.txt"])
    freed = store.stats()["db_free_bytes"]
    assert freed > 0.9 * 200 * 2000 and freed % 4096 == 0


def test_sqlite_errors_that_are_bugs_are_not_hidden(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        store.add_chunks(12345, chunks_of("orphan"), unit_vectors(1))  # no such document


def test_version_6_names_become_names_less_their_type_with_their_folder(
    tmp_path: Path, monkeypatch
) -> None:
    from searchapp.storage import schema

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:6])
    Store.open(tmp_path, create=True).close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    path = "/d/apt/sources.list"
    conn.execute("INSERT INTO documents (doc_id, path) VALUES (?, ?)", (path, path))
    conn.execute("INSERT INTO documents_names (rowid, name) VALUES (1, 'sources.list')")
    conn.commit()
    conn.close()
    monkeypatch.undo()
    store = Store.open(tmp_path, create=False)
    assert store.schema_version() == len(MIGRATIONS)
    assert store.rows("SELECT rowid, name, folder FROM documents_names") == [(1, "sources", "apt")]
    store.delete_documents_by_path([path])
    assert store.rows("SELECT count(*) FROM documents_names") == [(0,)]  # m006's trigger
    store.close()


# -- Chinese and Japanese ---------------------------------------------------------------------

CJK_TEXTS = ("北京是中国的首都，人口很多。", "明日は研究室に行きます。", "The weather in Paris")


def vocabulary(store: Store) -> set[str]:
    return {term for (term,) in store.rows("SELECT term FROM chunks_vocab")}


def test_a_word_inside_a_chinese_or_japanese_run_is_found(store: Store) -> None:
    # unicode61 made one term of a whole run: "首都" and "研究" were found by nothing.
    ids = add_document(store, "d", "/d.txt", *CJK_TEXTS)
    assert [i for i, _ in lexical_search(store, "首都", 5)] == [ids[0]]
    assert [i for i, _ in lexical_search(store, "研究", 5)] == [ids[1]]
    assert [i for i, _ in lexical_search(store, "weather", 5)] == [ids[2]]
    assert {"首", "都", "研", "究", "weather"} <= vocabulary(store)
    store.delete_documents_by_path(["/d.txt"])
    assert vocabulary(store) == set() and fts_rows(store) == 0  # deleted as they were added


def test_a_version_7_index_is_indexed_again_with_chinese_and_japanese_words(
    tmp_path: Path, monkeypatch
) -> None:
    from searchapp.storage import schema

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:7])
    old = Store.open(tmp_path, create=True)
    ids = add_document(old, "/d/東京タワー.txt", "/d/東京タワー.txt", *CJK_TEXTS)
    old.execute("UPDATE documents_names SET name = '東京タワー'")  # as version 7 wrote it
    assert lexical_search(old, "首都", 5) == []  # the run is one word there
    old.close()
    monkeypatch.undo()
    store = Store.open(tmp_path, create=False)
    assert store.schema_version() == len(MIGRATIONS)
    assert [i for i, _ in lexical_search(store, "首都", 5)] == [ids[0]]
    assert [i for i, _ in lexical_search(store, "weather", 5)] == [ids[2]]
    assert store.rows("SELECT name FROM documents_names") == [("東 京 タ ワ ー",)]
    assert store.rows("SELECT rowid FROM documents_names WHERE documents_names MATCH 'タ'")
    store.delete_documents_by_path(["/d/東京タワー.txt"])
    assert vocabulary(store) == set() and fts_rows(store) == 0
    store.close()


# -- camelCase -----------------------------------------------------------------------------

CODE_TEXTS = (
    "def parseConfig(path): return loadYaml(path)",
    "class HTTPServer: serves requests",
    "rotate_api_key every ninety days",
)


def test_a_camel_case_word_is_found_by_its_parts(store: Store) -> None:
    # unicode61 made one term of "parseConfig": "config" and parse_config found nothing.
    ids = add_document(store, "d", "/d.py", *CODE_TEXTS)
    assert [i for i, _ in lexical_search(store, "config", 5)] == [ids[0]]
    assert [i for i, _ in lexical_search(store, "parse_config", 5)] == [ids[0]]
    assert [i for i, _ in lexical_search(store, "parseConfig", 5)] == [ids[0]]
    assert [i for i, _ in lexical_search(store, "http server", 5)] == [ids[1]]
    assert [i for i, _ in lexical_search(store, "apiKey", 5)] == [ids[2]]
    assert [i for i, _ in lexical_search(store, "rotateApiKey", 5)] == [ids[2]]
    assert {"parseconfig", "parse", "config", "httpserver", "http"} <= vocabulary(store)
    assert {"rotateapikey", "loadyaml"} <= vocabulary(store)  # snake_case: its parts joined
    assert "https" not in vocabulary(store) and "ttps" not in vocabulary(store)
    store.delete_documents_by_path(["/d.py"])
    assert vocabulary(store) == set() and fts_rows(store) == 0  # deleted as they were added


def test_an_identifier_as_typed_outranks_its_parts_apart(store: Store) -> None:
    # "get_console" was "get" OR "console": a chunk with console.get_style(...) ranked over the
    # one defining get_console, and getConsole did not find it at all.
    ids = add_document(
        store,
        "d",
        "/d.py",
        "get the console style: console.get_style(console), get(console)",
        "def get_console(): return _instance",
        "width = console.width # get it",
    )
    for query in ("get_console", "getConsole", "GetConsole"):
        assert lexical_search(store, query, 5)[0][0] == ids[1], query


def test_an_identifier_the_index_holds_is_searched_whole_not_by_its_parts(store: Store) -> None:
    # "CircuitBreaker" was circuitbreaker OR circuit OR breaker: a short line of prose saying
    # "circuit breaker" outranked the class, a longer passage, in lexical and hybrid mode.
    code = "class CircuitBreaker:\n    " + " ".join(f"self.f{n} = {n}" for n in range(60))
    prose = "We added backoff and a circuit breaker."
    other = [f"filler text number {n} about other things" for n in range(10)]
    ids = add_document(store, "d", "/d.py", code, prose, "an unrelated breaker of circuits", *other)
    lexicon = Lexicon(store)
    postings = Postings.build(store)
    for query in ("CircuitBreaker", "circuit_breaker", "circuitBreaker"):
        assert [i for i, _ in lexicon.search(query, 5)] == [ids[0]], query  # was prose first
        assert lexicon.search_terms(query, lexicon.document_frequency) == ["circuitbreaker"]
        # The postings file ranks the same terms to the same scores (searcher._lexical).
        terms = lexicon.search_terms(query, postings.document_frequency)
        assert postings.search(terms, 5) == lexicon.search(query, 5)
    # Typed as words, or beside them: the words are searched, the identifier too.
    assert {i for i, _ in lexicon.search("circuit breaker", 5)} == {ids[0], ids[1], ids[2]}
    mixed = lexicon.search_terms("CircuitBreaker circuit", lexicon.document_frequency)
    assert mixed == ["circuitbreaker", "circuit"]
    # Written against Chinese or Japanese, it is still a word of its own: "東京CircuitBreaker"
    # was one "identifier" whose terms but the first (東) were dropped as its parts.
    terms = lexicon.search_terms("東京CircuitBreaker的用法", lexicon.document_frequency)
    assert terms == ["東", "京", "circuitbreaker", "的", "用", "法"]
    # An identifier no chunk holds whole is searched by its parts, as before, but not by a
    # lone letter: "zzqxvbC" found every passage holding "c" (a letter typed alone still is).
    assert lexicon.search_terms("BreakerCircuit", lexicon.document_frequency) == [
        "breakercircuit",
        "breaker",
        "circuit",
    ]
    add_document(store, "e", "/e.c", "int c = 0; /* the c file */")
    lexicon = Lexicon(store)
    for query in ("zzqxvbC", "zzqxvb_c", "C_zzqxvb"):
        assert lexicon.search(query, 5) == [], query
    assert lexicon.search_terms("zzqxvbC c", lexicon.document_frequency)[-1] == "c"
    assert lexicon.search("zzqxvbC c", 5)


@pytest.mark.parametrize("version", [7, 9])
def test_an_older_index_is_indexed_again_with_camel_case_parts(
    tmp_path: Path, monkeypatch, version: int
) -> None:
    # Version 7 read both kinds of words whole, version 9 camelCase ones; deleting the file
    # afterwards leaves no term behind.
    from searchapp.storage import schema
    from searchapp.storage import store as store_module

    then = schema.cjk_spaced if version == 9 else str  # what FTS5 was given then
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:version])
    monkeypatch.setattr(schema, "fts_text", then)
    monkeypatch.setattr(store_module, "fts_text", then)
    old = Store.open(tmp_path, create=True)
    path = "/src/loadConfig.py"
    ids = add_document(old, path, path, *CODE_TEXTS, "東京parseConfig")
    assert old.rows("SELECT name FROM documents_names") == [("loadConfig",)]
    assert lexical_search(old, "config", 5) == []
    old.close()
    monkeypatch.undo()
    store = Store.open(tmp_path, create=False)
    assert store.schema_version() == len(MIGRATIONS)
    assert sorted(i for i, _ in lexical_search(store, "config", 5)) == [ids[0], ids[3]]
    assert [i for i, _ in lexical_search(store, "rotateApiKey", 5)] == [ids[2]]
    assert [i for i, _ in lexical_search(store, "東京", 5)] == [ids[3]]
    assert store.rows("SELECT name FROM documents_names") == [("loadConfig load Config",)]
    store.delete_documents_by_path([path])
    assert vocabulary(store) == set() and fts_rows(store) == 0
    store.close()


def test_a_version_9_index_read_as_it_is_keeps_camel_case_words_whole(
    tmp_path: Path, monkeypatch
) -> None:
    # Not migrated, its FTS5 holds "parseconfig" alone: a query cut into its parts as well
    # ranked prose saying "parse" and "config" over the line that holds the name.
    from searchapp.storage import schema
    from searchapp.storage import store as store_module

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:9])
    monkeypatch.setattr(schema, "fts_text", schema.cjk_spaced)
    old = Store.open(tmp_path, create=True)
    ids = add_document(old, "d", "/d.txt", "cfg = parseConfig(path)", "parse it, config it")
    old.close()
    monkeypatch.undo()
    monkeypatch.setattr(store_module, "_writable", lambda path: False)
    store = Store.open(tmp_path, create=False)
    assert store.schema_version() == 9
    assert Lexicon(store).query_tokens("parseConfig 東京") == ["parseconfig", "東", "京"]
    assert [i for i, _ in lexical_search(store, "parseConfig", 5)] == ids[:1]
    store.close()


def test_a_version_7_index_read_as_it_is_is_searched_with_its_own_words(
    tmp_path: Path, monkeypatch
) -> None:
    # Not migrated (this user cannot write it), its FTS5 terms are whole runs: a query cut
    # into characters found nothing that it found before.
    from searchapp.storage import schema
    from searchapp.storage import store as store_module

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:7])
    old = Store.open(tmp_path, create=True)
    ids = add_document(old, "d", "/d.txt", "東京都に住んでいます")
    old.close()
    monkeypatch.undo()
    monkeypatch.setattr(store_module, "_writable", lambda path: False)
    store = Store.open(tmp_path, create=False)
    assert store.schema_version() == 7
    assert [i for i, _ in lexical_search(store, "東京都に住んでいます", 5)] == ids
    store.close()


def test_a_writer_stops_when_a_newer_searchapp_migrated_the_index_under_it(
    tmp_path: Path,
) -> None:
    # A `search watch` left running across an upgrade wrote with its own triggers: what it
    # deleted from FTS5 as the older schema read it left the newer terms behind.
    store = Store.open(tmp_path, create=True)
    add_document(store, "d", "/d.txt", "before the upgrade")
    newer = sqlite3.connect(tmp_path / DB_NAME)
    newer.execute(
        "INSERT INTO _migrations (version, name, applied_at) VALUES (?, 'm_future', 'now')",
        (len(MIGRATIONS) + 1,),
    )
    newer.commit()
    newer.close()
    with pytest.raises(IndexNotWritableError, match="upgraded to schema version .* run it again"):
        add_document(store, "e", "/e.txt", "after the upgrade")
    assert store.all_paths() == ["/d.txt"]  # nothing written
    store.close()


def test_rows_left_part_way_are_closed_quietly_after_the_store(tmp_path: Path) -> None:
    # Ctrl-C while the postings were built left an iter_rows generator part way; closed once
    # the store was, it raised ("Exception ignored in <generator object Store.iter_rows>"
    # and a traceback before `search index` said "interrupted").
    store = Store.open(tmp_path, create=True)
    rows = store.iter_rows("SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3")
    assert next(rows) == (1,)
    store.close()
    rows.close()  # nothing raised
    with pytest.raises(StopIteration):
        next(rows)


def test_an_empty_database_alone_is_an_index_not_made_yet(tmp_path: Path) -> None:
    # What a first `search index` leaves for an instant (the file, not yet its tables), or
    # leaves when killed then: no index yet, not a damaged one to --rebuild.
    (tmp_path / DB_NAME).write_bytes(b"")
    with pytest.raises(IndexNotFoundError, match="is empty: a `search index` may be making it"):
        Store.open(tmp_path, create=False)
    Store.open(tmp_path, create=True).close()
    Store.open(tmp_path, create=False).close()


@pytest.mark.parametrize("version", [9, 14])
def test_an_older_index_is_indexed_again_with_folded_letters(
    tmp_path: Path, monkeypatch, version: int
) -> None:
    # Before version 15 FTS5 kept Ł, ß and œ (no decomposition to drop accents from): "Lodz"
    # found no "Łódź" (a historian's trial). Migrated, it does, in passages and file names,
    # and deleting the file leaves no term behind.
    from searchapp.storage import schema
    from searchapp.storage import store as store_module

    then = schema.cjk_spaced if version == 9 else schema.identifier_words
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:version])
    monkeypatch.setattr(schema, "fts_text", then)
    monkeypatch.setattr(store_module, "fts_text", then)
    old = Store.open(tmp_path, create=True)
    path = "/notes/Łódź questions.md"
    texts = ("Władysław Reymont wrote of Łódź", "die Straße", "plain words", "loadConfig")
    ids = add_document(old, path, path, *texts)
    assert lexical_search(old, "Lodz", 5) == [] and lexical_search(old, "Strasse", 5) == []
    old.close()
    monkeypatch.undo()
    store = Store.open(tmp_path, create=False)
    assert store.schema_version() == len(MIGRATIONS)
    assert [i for i, _ in lexical_search(store, "Lodz Wladyslaw", 5)] == [ids[0]]
    assert [i for i, _ in lexical_search(store, "Łódź", 5)] == [ids[0]]
    assert [i for i, _ in lexical_search(store, "strasse", 5)] == [ids[1]]
    assert [i for i, _ in lexical_search(store, "config", 5)] == [ids[3]]
    assert store.rows("SELECT name FROM documents_names") == [("Lódź questions",)]
    store.delete_documents_by_path([path])
    assert vocabulary(store) == set() and fts_rows(store) == 0
    store.close()


def test_a_version_19_index_is_indexed_again_with_greek_and_cyrillic_folded(
    tmp_path: Path, monkeypatch
) -> None:
    # Before version 20 FTS5 kept Greek's accents and ё (remove_diacritics drops Latin ones
    # alone): "ελλαδα" and "ΕΛΛΑΔΑ" found no "Ελλάδα", "мед" no "мёд", and a typed "й" no
    # Mac's decomposed one (a paralegal's and a translator's trials). Migrated, they do, in
    # passages and file names, and deleting the file leaves no term behind.
    import unicodedata

    from searchapp.storage import schema
    from searchapp.storage import store as store_module

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:19])
    monkeypatch.setattr(schema, "fts_text", schema.latin_fts_text)
    monkeypatch.setattr(store_module, "fts_text", schema.latin_fts_text)
    old = Store.open(tmp_path, create=True)
    path = "/σημειώσεις/Σύμβαση μίσθωσης.txt"
    texts = (
        "Η σύμβαση διέπεται από το δίκαιο της Ελλάδας.",
        "Купил мёд и Ёлку, Łódź",
        unicodedata.normalize("NFD", "йогурт на завтрак"),
        "plain words",
    )
    ids = add_document(old, path, path, *texts)
    assert lexical_search(old, "ελλαδας", 5) == [] and lexical_search(old, "мед", 5) == []
    assert lexical_search(old, "йогурт", 5) == []
    old.close()
    monkeypatch.undo()
    store = Store.open(tmp_path, create=False)
    assert store.schema_version() == len(MIGRATIONS)
    for query in ("ελλαδας", "ΕΛΛΑΔΑΣ", "Ελλάδας", "διεπεται"):
        assert [i for i, _ in lexical_search(store, query, 5)] == [ids[0]], query
    assert [i for i, _ in lexical_search(store, "мед елку lodz", 5)] == [ids[1]]
    assert [i for i, _ in lexical_search(store, "йогурт", 5)] == [ids[2]]
    assert lexical_search(store, "иогурт", 5) == []  # й stays a letter of its own
    assert store.rows("SELECT name, folder FROM documents_names") == [
        ("Συμβαση μισθωσησ", "σημειωσεισ")
    ]
    assert_fts_consistent(store)
    store.delete_documents_by_path([path])
    assert vocabulary(store) == set() and fts_rows(store) == 0
    store.close()


def test_a_version_19_index_read_as_it_is_is_searched_with_its_own_letters(
    tmp_path: Path, monkeypatch
) -> None:
    from searchapp.storage import schema
    from searchapp.storage import store as store_module

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:19])
    monkeypatch.setattr(schema, "fts_text", schema.latin_fts_text)
    monkeypatch.setattr(store_module, "fts_text", schema.latin_fts_text)
    old = Store.open(tmp_path, create=True)
    ids = add_document(old, "d", "/d.txt", "Ελλάδα και Łódź", "Ελλαδα")
    old.close()
    monkeypatch.undo()
    monkeypatch.setattr(store_module, "_writable", lambda path: False)
    store = Store.open(tmp_path, create=False)
    assert store.schema_version() == 19
    assert [i for i, _ in lexical_search(store, "Ελλάδα lodz", 5)] == ids[:1]  # as then
    store.close()
    # A phrase, -F, its terms as that index holds them (a reviewer's: folded, "ελλαδα" was in
    # no passage of it, and -F Ελλάδα found nothing).
    from searchapp.ranking.lexical import fts_query
    from searchapp.ranking.query_words import fixed_phrase, held_phrases

    store = Store.open(tmp_path, create=False)
    lexicon = Lexicon(store)
    for phrase in (fixed_phrase("Ελλάδα"), *held_phrases('"Ελλάδα και"')):
        assert phrase is not None
        terms = [t for word in phrase.written_words for t in lexicon.query_tokens(word)[:1]]
        found = store.rows(
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", (fts_query(terms, "AND"),)
        )
        assert [row[0] for row in found] == ids[:1], phrase.text
    store.close()


def test_a_phrase_with_a_capital_dotted_i_finds_its_passage(tmp_path: Path) -> None:
    # A reviewer's: "İ" lowers to "i" and a combining dot, where the phrase's words were split
    # ("i", "stanbul"): -F İstanbul found nothing.
    from searchapp.ranking.lexical import fts_query
    from searchapp.ranking.query_words import fixed_phrase, held_phrases

    store = Store.open(tmp_path, create=True)
    ids = add_document(store, "d", "/d.txt", "Our office in İstanbul opens in May", "")
    add_document(store, "e", "/e.txt", "The stanbul office", "")
    lexicon = Lexicon(store)
    for phrase in (
        fixed_phrase("İstanbul"),
        fixed_phrase("İSTANBUL"),
        *held_phrases('"in İstanbul"'),
    ):
        assert phrase is not None
        assert [w.replace("\u0307", "") for w in phrase.written_words][-1] == "istanbul"
        terms = [t for word in phrase.written_words for t in lexicon.query_tokens(word)[:1]]
        found = store.rows(
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", (fts_query(terms, "AND"),)
        )
        assert [row[0] for row in found] == ids[:1], phrase.text
    store.close()


def test_a_version_14_index_read_as_it_is_is_searched_with_its_own_letters(
    tmp_path: Path, monkeypatch
) -> None:
    from searchapp.storage import schema
    from searchapp.storage import store as store_module

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:14])
    monkeypatch.setattr(schema, "fts_text", schema.identifier_words)
    monkeypatch.setattr(store_module, "fts_text", schema.identifier_words)
    old = Store.open(tmp_path, create=True)
    ids = add_document(old, "d", "/d.txt", "Łódź in 1905", "Lodz in 1905")
    old.close()
    monkeypatch.undo()
    monkeypatch.setattr(store_module, "_writable", lambda path: False)
    store = Store.open(tmp_path, create=False)
    assert store.schema_version() == 14
    assert [i for i, _ in lexical_search(store, "Łódź", 5)] == ids[:1]  # its terms as then
    store.close()
