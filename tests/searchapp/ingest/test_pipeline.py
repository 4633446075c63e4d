"""The indexing pipeline with a deterministic fake encoder: windows, parts, ordinals, updates."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from searchapp.ingest import pipeline as indexer_module
from searchapp.ingest import reading
from searchapp.search_index import SearchIndex
from tests.searchapp.conftest import FakeEncoder

DIM = 16
DATA = Path(__file__).resolve().parents[3] / "data" / "cranfield"


def make_index(index_dir: Path, encoder: FakeEncoder | None = None) -> SearchIndex:
    return SearchIndex(index_dir, encoder=encoder or FakeEncoder())


def report_after_migrating(tmp_path: Path, monkeypatch, docs: Path, first: int):
    """The report of indexing ``docs`` again once an index built by a searchapp of the first
    ``first`` migrations is opened by this one (its migrations mark files to read again)."""
    from searchapp.storage import schema

    every = schema.MIGRATIONS
    monkeypatch.setattr(schema, "MIGRATIONS", every[:first])
    index = make_index(tmp_path / "idx")
    index.add([docs])
    index.close()
    monkeypatch.setattr(schema, "MIGRATIONS", every)
    index = make_index(tmp_path / "idx")
    return index, index.add([docs])


def stored(index: SearchIndex) -> list[tuple[str, int, str, int, int]]:
    rows = index.store.db.execute(
        "SELECT d.doc_id, c.ordinal, c.text, c.start_line, c.end_line FROM chunks c "
        "JOIN documents d ON d.id = c.document_id ORDER BY d.doc_id, c.ordinal"
    ).fetchall()
    return [tuple(r) for r in rows]


def test_long_document_spans_parts_and_windows(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(reading, "PART_CHUNKS", 3)
    monkeypatch.setattr(indexer_module, "WINDOW_CHUNKS", 4)
    docs = tmp_path / "docs"
    docs.mkdir()
    # 40 paragraphs of 10 words: with 14 tokens per chunk, one chunk per paragraph.
    text = "\n\n".join(" ".join(f"w{p}_{i}" for i in range(10)) for p in range(40))
    (docs / "long.txt").write_text(text, "utf-8")
    (docs / "short.txt").write_text("a short note", "utf-8")
    index = make_index(tmp_path / "idx")
    report = index.add([docs])
    assert (report.added, report.chunks) == (2, 41)
    rows = [r for r in stored(index) if r[0].endswith("long.txt")]
    assert [r[1] for r in rows] == list(range(40))  # ordinals continue across parts
    assert [r[3] for r in rows] == [1 + 2 * p for p in range(40)]  # paragraph p starts there
    assert all(r[2] == text.split("\n\n")[p] for p, r in enumerate(rows))
    # Every document is complete (sha256 set) and FAISS holds exactly the chunk ids.
    shas = index.store.db.execute("SELECT sha256 FROM documents").fetchall()
    assert all(sha for (sha,) in shas)
    np.testing.assert_array_equal(
        np.sort(index.open_vectors().ids()), np.sort(index.store.chunk_ids())
    )


def test_jsonl_records_update_and_disappear(tmp_path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    records = [{"_id": f"r{i}", "title": f"T{i}", "text": f"record number {i}"} for i in range(5)]
    corpus.write_text("\n".join(json.dumps(r) for r in records) + "\n", "utf-8")
    index = make_index(tmp_path / "idx")
    assert index.add([corpus]).added == 1
    assert sorted(r[0] for r in stored(index)) == [f"{corpus}#r{i}" for i in range(5)]
    hits = index.search("record number 3", k=1, mode="lexical")
    assert (hits[0].doc_id, hits[0].record_id) == (f"{corpus}#r3", "r3")
    assert hits[0].path == str(corpus)

    del records[1]
    records[0]["text"] = "changed words entirely"
    corpus.write_text("\n".join(json.dumps(r) for r in records) + "\n", "utf-8")
    report = make_index(tmp_path / "idx").add([corpus])
    assert report.updated == 1
    index = make_index(tmp_path / "idx")
    assert sorted(r[0] for r in stored(index)) == [f"{corpus}#r{i}" for i in (0, 2, 3, 4)]
    assert "T0\nchanged words entirely" in [r[2] for r in stored(index)]


def write_corpus(path: Path, name: str, ids: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"_id": i, "text": f"{name} record {i} words"}) for i in ids]
    path.write_text("\n".join(lines) + "\n", "utf-8")


def documents_of(index: SearchIndex) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for doc_id, path in index.store.db.execute("SELECT doc_id, path FROM documents ORDER BY id"):
        grouped.setdefault(path, []).append(doc_id)
    return grouped


def test_records_of_two_files_with_the_same_ids_are_all_kept(tmp_path) -> None:
    # Two corpora numbered from 1 (Cranfield and CISI): neither may replace the other's records.
    first, second = tmp_path / "a" / "corpus.jsonl", tmp_path / "b" / "corpus.jsonl"
    write_corpus(first, "alpha", ["1", "2", "3"])
    write_corpus(second, "beta", ["2", "3", "4"])
    index = make_index(tmp_path / "idx")
    report = index.add([tmp_path / "a", tmp_path / "b"])
    assert (report.added, report.chunks) == (2, 6)
    held = documents_of(index)
    assert held == {
        str(first): [f"{first}#{i}" for i in "123"],
        str(second): [f"{second}#{i}" for i in "234"],
    }
    np.testing.assert_array_equal(
        np.sort(index.open_vectors().ids()), np.sort(index.store.chunk_ids())
    )
    # Nothing changed: nothing re-indexed, nothing lost.
    again = make_index(tmp_path / "idx").add([tmp_path / "a", tmp_path / "b"])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    index = make_index(tmp_path / "idx")
    assert documents_of(index) == held
    # A hit names the record by the id its file gives it, and its doc_id finds its text.
    hit = index.search("beta record 3 words", k=1, mode="lexical")[0]
    assert (hit.path, hit.doc_id, hit.record_id) == (str(second), f"{second}#3", "3")
    assert hit.to_json()["record_id"] == "3"
    assert index.get_document(hit.doc_id).text == "beta record 3 words"
    # The second file changes alone: the first keeps its records as they were.
    write_corpus(second, "beta", ["3", "5"])
    assert make_index(tmp_path / "idx").add([tmp_path / "b"]).updated == 1
    held = documents_of(make_index(tmp_path / "idx"))
    assert held == {
        str(first): [f"{first}#{i}" for i in "123"],
        str(second): [f"{second}#{i}" for i in "35"],
    }


def test_an_index_inside_the_indexed_folder_is_left_out(tmp_path) -> None:
    # Its lock file holds the writer's pid: indexed, it changed at every run, so an unchanged
    # folder was re-embedded every time.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "note.txt").write_text("a note on wings", "utf-8")
    assert make_index(docs / "idx").add([docs]).added == 1
    again = make_index(docs / "idx").add([docs])
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 1, 0)
    assert list(documents_of(make_index(docs / "idx"))) == [str(docs / "note.txt")]


def test_file_that_becomes_binary_is_dropped(tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    target = docs / "notes.txt"
    target.write_text("plain words here", "utf-8")
    index = make_index(tmp_path / "idx")
    index.add([docs])
    target.write_bytes(b"\x00\x01\x02binary\x00" * 100)
    report = make_index(tmp_path / "idx").add([docs])
    assert report.skipped and report.skipped[0][1] == "binary file"
    index = make_index(tmp_path / "idx")
    assert index.stats()["documents"] == 0 and index.open_vectors().ntotal == 0


def test_empty_file_is_recorded_and_unchanged_next_time(tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "empty.txt").write_text("", "utf-8")
    assert make_index(tmp_path / "idx").add([docs]).added == 1
    again = make_index(tmp_path / "idx").add([docs])
    assert (again.unchanged, again.chunks) == (1, 0)


def test_model_mismatch_is_refused(tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("words", "utf-8")
    make_index(tmp_path / "idx").add([docs])
    other = FakeEncoder()
    other.weights_sha256 = "1" * 64
    other.name = "other-model"
    from searchapp.errors import ModelMismatchError

    with pytest.raises(ModelMismatchError, match="rebuild it with `search index --rebuild"):
        make_index(tmp_path / "idx", other).add([docs])
    # --rebuild starts over with the new model.
    report = make_index(tmp_path / "idx", other).add([docs], rebuild=True)
    assert report.added == 1
    assert make_index(tmp_path / "idx", other).stats()["model_sha256"] == "1" * 64


def test_remove_drops_documents_below_a_path(tmp_path) -> None:
    docs = tmp_path / "docs"
    (docs / "keep").mkdir(parents=True)
    (docs / "drop").mkdir()
    (docs / "keep" / "a.txt").write_text("alpha words", "utf-8")
    (docs / "drop" / "b.txt").write_text("beta words", "utf-8")
    (docs / "drop" / "c.txt").write_text("gamma words", "utf-8")
    index = make_index(tmp_path / "idx")
    index.add([docs])
    assert index.remove([docs / "drop"]) == 2
    index = make_index(tmp_path / "idx")
    assert index.store.all_paths() == [str(docs / "keep" / "a.txt")]
    np.testing.assert_array_equal(
        np.sort(index.open_vectors().ids()), np.sort(index.store.chunk_ids())
    )


@pytest.mark.parametrize(
    ("recorded", "asked", "used"),
    [
        (None, None, "auto"),  # a new index: as `search index` does
        ("fp32", None, "fp32"),
        ("bf16", None, "auto"),  # bf16 where native, else fp32
        ("fp16", None, "auto"),  # built on a GPU, queried on whatever this is
        ("bf16", "fp32", "fp32"),  # asked for wins
    ],
)
def test_queries_embed_in_the_recorded_precision(
    tmp_path: Path, recorded: str | None, asked: str | None, used: str
) -> None:
    from searchapp.storage.store import Store

    if recorded is not None:
        store = Store.open(tmp_path, create=True)
        store.set_meta({"precision": recorded})
        store.close()
    assert SearchIndex(tmp_path, precision=asked)._precision() == used


def test_an_open_index_sees_what_another_writer_changed(tmp_path) -> None:
    """A REPL's SearchIndex stays open while `search index` runs elsewhere: its next query
    ranks the new and the removed documents in every mode, and its own writes stay right."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("alpha words here", "utf-8")
    reader = make_index(tmp_path / "idx")
    reader.add([docs])
    assert [h.path for h in reader.search("alpha", k=5, mode="dense")] == [str(docs / "a.txt")]
    (docs / "b.txt").write_text("zebra stripes", "utf-8")
    writer = make_index(tmp_path / "idx")
    writer.add([docs])
    for mode in ("dense", "lexical", "hybrid"):
        assert reader.search("zebra stripes", k=1, mode=mode)[0].path == str(docs / "b.txt")
    writer.remove([docs / "b.txt"])
    assert all(h.path != str(docs / "b.txt") for h in reader.search("zebra stripes", k=5))
    (docs / "b.txt").unlink()
    (docs / "c.txt").write_text("gamma rays", "utf-8")
    writer.add([docs])
    assert reader.remove([docs / "a.txt"]) == 1  # on the vectors as the store has them now
    fresh = make_index(tmp_path / "idx")
    np.testing.assert_array_equal(
        np.sort(fresh.open_vectors().ids()), np.sort(fresh.store.chunk_ids())
    )
    assert [h.path for h in fresh.search("gamma rays", k=5, mode="dense")] == [str(docs / "c.txt")]


class CountingEncoder(FakeEncoder):
    """Records, at each window it embeds, how many chunks the producer had tokenized by then
    and how many the encoder had been given (that window's included)."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.tokenized = 0
        self.embedded = 0
        self.seen: list[tuple[int, int]] = []
        self.fail_at = fail_at
        encode_ids = self.tokenizer.encode_ids

        def counted(texts):
            self.tokenized += len(texts)
            return encode_ids(texts)

        self.tokenizer.encode_ids = counted

    def embed_many(self, ids, *, batch_size: int = 32):
        self.embedded += len(ids)
        self.seen.append((self.tokenized, self.embedded))
        if self.fail_at is not None and len(self.seen) >= self.fail_at:
            raise OSError("the disk went away")
        return super().embed_many(ids, batch_size=batch_size)


def one_chunk_files(folder: Path, n: int) -> Path:
    folder.mkdir()
    for i in range(n):
        (folder / f"f{i:03d}.txt").write_text(f"note number {i}", "utf-8")
    return folder


def test_the_producer_runs_at_most_two_windows_of_chunks_ahead(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(reading, "PART_CHUNKS", 2)
    monkeypatch.setattr(indexer_module, "WINDOW_CHUNKS", 4)
    encoder = CountingEncoder()
    report = make_index(tmp_path / "idx", encoder).add([one_chunk_files(tmp_path / "d", 60)])
    assert report.chunks == 60 and len(encoder.seen) >= 15
    ahead = [tokenized - embedded for tokenized, embedded in encoder.seen]
    # Two windows in the queue, plus the part the producer holds while it waits for room.
    assert max(ahead) <= 2 * 4 + 2
    assert max(ahead) >= 4  # it does run ahead: the next window is read while one embeds


def test_an_encoder_error_stops_a_producer_waiting_for_room(tmp_path, monkeypatch) -> None:
    import threading
    import time

    monkeypatch.setattr(indexer_module, "WINDOW_CHUNKS", 4)
    encoder = CountingEncoder(fail_at=2)
    started = time.perf_counter()
    with pytest.raises(OSError, match="the disk went away"):
        make_index(tmp_path / "idx", encoder).add([one_chunk_files(tmp_path / "d", 200)])
    assert time.perf_counter() - started < 10
    assert not [t for t in threading.enumerate() if t.name == "indexer-read"]


def slow_chunking(monkeypatch) -> list[int]:
    """Chunking that counts tokens 5 pieces at a time, 0.2 s a count: a 400-line log takes 80
    counts, 16 s in all. Returns the list the counts are recorded in."""
    from searchapp.ingest import chunking

    monkeypatch.setattr(chunking, "COUNT_BATCH", 5)
    real_chunk_text = reading.chunk_text
    calls: list[int] = []

    def slow_chunk_text(text, *, count_tokens, **options):
        def slow(texts):
            calls.append(len(texts))
            time.sleep(0.2)
            return count_tokens(texts)

        return real_chunk_text(text, count_tokens=slow, **options)

    monkeypatch.setattr(reading, "chunk_text", slow_chunk_text)
    return calls


def big_log(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "z_big.log").write_text("".join(f"line {i} of the log\n" for i in range(400)))
    return folder


def test_a_stop_ends_a_producer_part_way_through_chunking_a_big_file(tmp_path, monkeypatch):
    # Chunking a 20 MB log counts its lines for ~30 s before its first part; Ctrl-C (here an
    # encoder's error: the same path out) waited for all of it, 10-14 s without a word.
    import threading

    monkeypatch.setattr(indexer_module, "WINDOW_CHUNKS", 4)
    calls = slow_chunking(monkeypatch)
    folder = big_log(one_chunk_files(tmp_path / "d", 4))
    started = time.perf_counter()
    with pytest.raises(OSError, match="the disk went away"):
        make_index(tmp_path / "idx", CountingEncoder(fail_at=1)).add([folder])
    assert time.perf_counter() - started < 8
    assert 0 < len(calls) < 40
    assert not [t for t in threading.enumerate() if t.name == "indexer-read"]


def test_a_stop_asked_while_a_big_file_is_chunked_ends_the_run_then(tmp_path, monkeypatch):
    # `search watch` told to stop looked at it only between windows: chunking a 5 MB log
    # before its first window held it for 10 s after SIGTERM.
    import threading

    from searchapp.errors import IndexInterrupted

    calls = slow_chunking(monkeypatch)
    folder = big_log(tmp_path / "d")
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.perf_counter()
    with pytest.raises(IndexInterrupted) as raised:
        make_index(tmp_path / "idx").add([folder], stop=stop)
    assert raised.value.asked and raised.value.report.chunks == 0
    assert time.perf_counter() - started < 8 and len(calls) < 40
    assert not [t for t in threading.enumerate() if t.name == "indexer-read"]


# -- vectors reused: an edit, an interrupted run ------------------------------------------------


def paragraphs(n: int, changed: dict[int, str] | None = None) -> str:
    """``n`` paragraphs of 10 words (one chunk each with the fake tokenizer's 14 tokens)."""
    texts = [" ".join(f"w{p}_{i}" for i in range(10)) for p in range(n)]
    for p, text in (changed or {}).items():
        texts[p] = text
    return "\n\n".join(texts)


def stored_vectors(index: SearchIndex) -> dict[tuple[str, int], bytes]:
    rows = index.store.db.execute(
        "SELECT d.doc_id, c.ordinal, c.embedding FROM chunks c JOIN documents d "
        "ON d.id = c.document_id"
    ).fetchall()
    return {(doc, ordinal): blob for doc, ordinal, blob in rows}


def fresh_index_of(folder: Path, index_dir: Path) -> SearchIndex:
    index = make_index(index_dir)
    index.add([folder])
    return index


@pytest.fixture()
def long_file_in_small_windows(tmp_path, monkeypatch) -> Path:
    """A folder with a 40-chunk file, indexed in parts of 3 chunks and windows of 4."""
    monkeypatch.setattr(reading, "PART_CHUNKS", 3)
    monkeypatch.setattr(indexer_module, "WINDOW_CHUNKS", 4)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "long.txt").write_text(paragraphs(40), "utf-8")
    return docs


def test_an_edit_re_embeds_only_the_passages_it_changed(
    tmp_path, long_file_in_small_windows
) -> None:
    docs = long_file_in_small_windows
    encoder = CountingEncoder()
    index = make_index(tmp_path / "idx", encoder)
    assert index.add([docs]).chunks == 40 and encoder.embedded == 40
    # One paragraph rewritten, one added at the end: two texts the file did not hold.
    rewritten, closing = (" ".join(f"{word}{i}" for i in range(10)) for word in ("re", "end"))
    edited = paragraphs(40, {20: rewritten}) + "\n\n" + closing
    (docs / "long.txt").write_text(edited, "utf-8")
    report = index.add([docs])
    assert (report.updated, report.chunks, report.reused) == (1, 2, 39)
    assert encoder.embedded == 42
    # What is stored is what a fresh index of the edited file stores, vectors and all.
    fresh = fresh_index_of(docs, tmp_path / "fresh")
    assert stored(index) == stored(fresh)
    assert stored_vectors(index) == stored_vectors(fresh)
    np.testing.assert_array_equal(
        np.sort(index.open_vectors().ids()), np.sort(index.store.chunk_ids())
    )


def test_the_same_command_after_an_interrupted_run_continues(
    tmp_path, long_file_in_small_windows
) -> None:
    docs = long_file_in_small_windows
    corpus = docs / "corpus.jsonl"
    records = [{"_id": f"r{i}", "text": f"record number {i} of the corpus"} for i in range(12)]
    corpus.write_text("\n".join(json.dumps(r) for r in records) + "\n", "utf-8")
    # The run stops at its third window: two windows (8 chunks) committed, no file complete.
    with pytest.raises(OSError, match="the disk went away"):
        make_index(tmp_path / "idx", CountingEncoder(fail_at=3)).add([docs])
    encoder = CountingEncoder()
    index = make_index(tmp_path / "idx", encoder)
    assert len(stored(index)) == 8
    report = index.add([docs])
    # The partly committed file is "updated", the other "added".
    assert (report.added, report.updated, report.reused, report.chunks) == (1, 1, 8, 52 - 8)
    assert encoder.embedded == 44
    fresh = fresh_index_of(docs, tmp_path / "fresh")
    assert stored(index) == stored(fresh)
    assert stored_vectors(index) == stored_vectors(fresh)


def test_an_update_stopped_part_way_keeps_the_indexed_version_and_its_vectors(
    tmp_path, long_file_in_small_windows, monkeypatch
) -> None:
    # The first window of a changed file dropped its indexed passages: stopped after it, a
    # 5 MB log kept a tenth of them (the rest found by no query), and the next run embedded
    # 11,098 passages again for a one-line append.
    docs = long_file_in_small_windows
    index = make_index(tmp_path / "idx", CountingEncoder())
    assert index.add([docs]).chunks == 40
    rewritten = " ".join(f"zebra{i}" for i in range(10))
    (docs / "long.txt").write_text(paragraphs(40, {2: rewritten}), "utf-8")
    windows: list[int] = []

    def stop_after_two_windows(count: int) -> None:
        windows.append(count)
        if len(windows) == 2:
            raise OSError("the disk went away")

    with pytest.raises(OSError, match="the disk went away"):
        index.add([docs], progress=indexer_module.Progress(on_chunks=stop_after_two_windows))
    index = make_index(tmp_path / "idx", CountingEncoder())
    # The indexed version is searched whole meanwhile, its last paragraphs too; the new one's
    # stored first parts (the rewritten paragraph among them) are not searched until complete.
    for word, found in (("w30_3", True), ("w39_9", True), ("w2_3", True), ("zebra3", False)):
        hits = index.search(word, mode="lexical", k=40, per_doc=40)
        assert any(word in h.text.split() for h in hits) == found, word
    kept = [row for row in stored(index) if row[0] == str(docs / "long.txt")]
    assert len(kept) == 40 and len(stored(index)) > 40  # and the new version's first parts
    # One document, as searched: counted once, and found by its path (a relative one was
    # "several indexed documents (records of a JSONL file)").
    assert index.stats()["documents"] == 1
    monkeypatch.chdir(docs)
    assert index.get_document("long.txt").text.startswith("w0_0")
    encoder = CountingEncoder()
    index = make_index(tmp_path / "idx", encoder)
    report = index.add([docs])
    # Nothing embedded again: the rewritten paragraph's vector was committed before the stop.
    assert (report.updated, report.chunks, report.reused) == (1, 0, 40)
    assert encoder.embedded == 0
    fresh = fresh_index_of(docs, tmp_path / "fresh")
    assert stored(index) == stored(fresh)
    assert stored_vectors(index) == stored_vectors(fresh)
    assert names(index) == names(fresh) == [("long", "docs")]


def names(index: SearchIndex) -> list[tuple[str, str]]:
    return sorted(index.store.rows("SELECT name, folder FROM documents_names"))


def test_an_updated_file_keeps_its_name_for_the_name_ranking(tmp_path) -> None:
    # Its new version was stored under a pending doc_id, which has no name, and took the
    # place of the indexed one, whose name row went with it: every edited file lost the
    # boost its name gives (ranking/names.py) until indexed afresh.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "narwhal_guide.txt").write_text("tusks and ice", "utf-8")
    (docs / "other.txt").write_text("plain words", "utf-8")
    index = make_index(tmp_path / "idx")
    index.add([docs])
    before = names(index)
    (docs / "narwhal_guide.txt").write_text("tusks and ice, edited", "utf-8")
    assert index.add([docs]).updated == 1
    assert names(index) == before and ("narwhal_guide narwhalguide", "docs") in before
    assert [h.path for h in index.search("narwhal", k=1)] == [str(docs / "narwhal_guide.txt")]


def test_a_text_repeated_in_a_window_is_embedded_once(tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    boilerplate = " ".join(f"confidential{i}" for i in range(10))  # a chunk of its own
    note = " ".join(f"note{i}" for i in range(10))
    (docs / "a.txt").write_text("\n\n".join([boilerplate, note, boilerplate]), "utf-8")
    (docs / "b.txt").write_text(boilerplate, "utf-8")
    encoder = CountingEncoder()
    index = make_index(tmp_path / "idx", encoder)
    report = index.add([docs])
    assert len(stored(index)) == 4 and encoder.embedded == 2
    assert report.chunks == 2 and report.reused == 2  # two copies took the vector of theirs
    assert stored_vectors(index) == stored_vectors(fresh_index_of(docs, tmp_path / "fresh"))


def test_a_moved_folder_and_a_copy_take_the_stored_vectors(tmp_path) -> None:
    # A passage's vector is its text's: a renamed file, a moved folder or a copy was embedded
    # again whole (1,765 chunks, minutes, for a log file renamed).
    root = tmp_path / "root"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "long.txt").write_text(paragraphs(40), "utf-8")
    (root / "notes" / "short.txt").write_text("a short note", "utf-8")
    encoder = CountingEncoder()
    index = make_index(tmp_path / "idx", encoder)
    assert index.add([root]).chunks == 41 and encoder.embedded == 41
    (root / "notes").rename(root / "Notes")
    (root / "copy.txt").write_text(paragraphs(3), "utf-8")
    report = index.add([root])
    assert (report.added, report.removed, report.chunks, report.reused) == (3, 2, 0, 44)
    assert encoder.embedded == 41  # nothing embedded again
    assert stored_vectors(index) == stored_vectors(fresh_index_of(root, tmp_path / "fresh"))
    (root / "new.txt").write_text(paragraphs(1) + "\n\nand a passage never seen", "utf-8")
    assert index.add([root]).chunks == 1 and encoder.embedded == 42  # only what is new


def test_a_file_that_became_binary_is_counted_removed(tmp_path) -> None:
    # Its documents were dropped, yet the summary said "0 removed, 1 skipped".
    root = tmp_path / "root"
    root.mkdir()
    (root / "g.md").write_text("a note that will be overwritten", "utf-8")
    (root / "gone.txt").write_text("a note that will be deleted", "utf-8")
    index = make_index(tmp_path / "idx")
    assert index.add([root]).added == 2
    (root / "g.md").write_bytes(bytes(range(256)) * 12)
    (root / "gone.txt").unlink()
    report = index.add([root])
    assert (report.removed, [path for path, _ in report.skipped]) == (2, [str(root / "g.md")])
    assert index.store.count_documents() == 0


def test_a_rename_alone_does_not_load_the_encoder(tmp_path, monkeypatch) -> None:
    # Every passage of a renamed file is stored, yet the encoder was asked to load as the file
    # was read: PyTorch imported for nothing (2.7 s against 0.55 s for an unchanged run).
    from searchapp.encoding import EncoderLoader

    starts: list[bool] = []
    start = EncoderLoader.start
    monkeypatch.setattr(EncoderLoader, "start", lambda self: (starts.append(True), start(self)))
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_text(paragraphs(5), "utf-8")
    (root / "b.txt").write_text("a short note", "utf-8")
    encoder = CountingEncoder()
    index = make_index(tmp_path / "idx", encoder)
    assert index.add([root]).chunks == 6 and len(starts) == 1
    (root / "a.txt").rename(root / "renamed.txt")
    (root / "copy.txt").write_text("a short note", "utf-8")
    report = index.add([root])
    assert (report.added, report.removed, report.reused, encoder.embedded) == (2, 1, 6, 6)
    assert len(starts) == 1  # not asked to load
    (root / "b.txt").write_text("a short note, changed", "utf-8")
    (root / "new.txt").write_text("a passage never seen", "utf-8")
    report = index.add([root])
    assert (report.updated, report.added, report.chunks, encoder.embedded) == (1, 1, 2, 8)
    assert len(starts) == 2


def test_an_index_from_before_the_text_starts_takes_stored_vectors_once_migrated(
    tmp_path, monkeypatch
) -> None:
    from searchapp.storage import schema

    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_text(paragraphs(5), "utf-8")
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:10])
    old = make_index(tmp_path / "idx")
    old.add([root])
    assert old.store.vectors_of_texts(paragraphs(5).split("\n\n")) == {}  # no index to ask
    old.close()
    monkeypatch.undo()
    encoder = CountingEncoder()
    index = make_index(tmp_path / "idx", encoder)
    (root / "a.txt").rename(root / "b.txt")
    report = index.add([root])
    assert (report.added, report.removed, report.reused, encoder.embedded) == (1, 1, 5, 0)
    indexes = index.store.db.execute("PRAGMA index_list(chunks)").fetchall()
    assert "chunks_text_start" in {row[1] for row in indexes}


def test_default_excludes_again_drop_the_generated_files_they_let_in(tmp_path) -> None:
    # Indexed with --no-default-excludes, then without: an SVG went (by its name), a minified
    # script stayed, counted unchanged, as its text was never read again.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bundle.js").write_text("var hippo=1;" * 3000, "utf-8")  # minified, by its text
    (docs / "logo.svg").write_text("<svg><title>hippo</title></svg>\n", "utf-8")
    (docs / "note.txt").write_text("a note about hippos", "utf-8")
    for path in docs.iterdir():  # long written: not read again as racily clean
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    encoder = CountingEncoder()
    index = make_index(tmp_path / "idx", encoder)
    assert index.add([docs], default_excludes=False).added == 3
    embedded = encoder.embedded
    report = index.add([docs])
    # Both went: the SVG by its name, the minified script by its text (read again: --recheck).
    assert (report.added, report.removed, report.unchanged, report.chunks) == (0, 2, 1, 0)
    assert sorted((Path(p).name, why.split(";")[0]) for p, why in report.skipped) == [
        ("bundle.js", "minified or generated text"),
        ("logo.svg", "SVG drawing (excluded by default"),
    ]
    assert sorted(index.store.all_paths()) == [str(docs / "note.txt")]
    assert encoder.embedded == embedded  # the note was read, not embedded again
    assert index.add([docs]).unchanged == 1  # and the next run reads nothing


def test_generated_tables_are_left_out_and_generated_code_is_not(tmp_path) -> None:
    # idna's uts46data.py ("# This file is automatically generated by tools/idna-data") was
    # 15% of a home folder's passages, and its tables took hits on questions about notes.
    docs = tmp_path / "docs"
    docs.mkdir()
    tables = "".join(f"    (0x{n:X}, 'M', 'word{n}'),\n" for n in range(200))
    (docs / "uts46data.py").write_text(
        "# This file is automatically generated by tools/idna-data\n\nDATA = (\n" + tables + ")\n"
    )
    (docs / "tables.h").write_text(
        "/* Code generated by gen_tables.py; DO NOT EDIT. */\n\nstatic const int T[] = {\n"
        + "".join(f"  0x{n:04X}, {n * 7}, {n * 13},\n" for n in range(100))
        + "};\n"
    )
    # Generated, but code a person reads (transformers' modeling files); and comments that
    # speak of another file, or of editing.
    body = "".join(
        f"    def layer_{n}(self, hidden):\n        return self.norm(hidden)\n" for n in range(30)
    )
    (docs / "modeling_qwen2.py").write_text(
        "#  This file was automatically generated from modular_qwen2.py.\n"
        "#  Do NOT edit this file manually.\nclass Qwen2Model:\n" + body
    )
    (docs / "__init__.py").write_text("# version.py is auto-generated at build time\n" + tables)
    (docs / "notes.md").write_text("# Notes\n\nDO NOT EDIT: generated from the wiki.\n")
    report = make_index(tmp_path / "idx", CountingEncoder()).add([docs])
    skipped = sorted((Path(p).name, why) for p, why in report.skipped)
    because = "generated data (its top says so); --no-default-excludes indexes it"
    assert skipped == [("tables.h", because), ("uts46data.py", because)]
    assert report.added == 3
    report = make_index(tmp_path / "all", CountingEncoder()).add([docs], default_excludes=False)
    assert report.added == 5 and not report.skipped
    # A file named to index is indexed, as ripgrep searches one.
    named = make_index(tmp_path / "one", CountingEncoder()).add([docs / "uts46data.py"])
    assert named.added == 1 and not named.skipped


def test_go_files_marked_generated_are_left_out(tmp_path) -> None:
    # mockgen's mock ranked above the method it mocks (a Go developer's `UserByID`), as
    # `*.pb.go` did before it was left out by name; Go's tools read the mark before `package`.
    docs = tmp_path / "svc"
    docs.mkdir()
    body = "func (m *MockUserStore) UserByID(id int) (*User, error) {\n\treturn nil, nil\n}\n"
    (docs / "mock_store.go").write_text(
        "// Code generated by MockGen. DO NOT EDIT.\n// Source: store.go\n\npackage mocks\n\n"
        + body
    )
    (docs / "users.go").write_text(
        "// Package repo reads users.\npackage repo\n\n"
        "// Code generated by hand, not really. DO NOT EDIT.\n"  # after the package: code
        "func (s *Store) UserByID(id int) (*User, error) {\n\treturn s.get(id)\n}\n"
    )
    (docs / "notes.md").write_text("// Code generated by MockGen. DO NOT EDIT.\n\nNotes.\n")
    report = make_index(tmp_path / "idx", CountingEncoder()).add([docs])
    because = "generated code (its top says: DO NOT EDIT); --no-default-excludes indexes it"
    assert report.skipped == [(str(docs / "mock_store.go"), because)]
    assert report.added == 2
    report = make_index(tmp_path / "all", CountingEncoder()).add([docs], default_excludes=False)
    assert report.added == 3 and not report.skipped


def test_windows_start_small_so_work_is_kept_within_seconds(tmp_path) -> None:
    # 32, 64, 128, then WINDOW_CHUNKS (256) at most: the first commit comes after 32 chunks.
    encoder = CountingEncoder()
    report = make_index(tmp_path / "idx", encoder).add([one_chunk_files(tmp_path / "d", 600)])
    sizes = [
        b - a for a, b in zip([0] + [e for _, e in encoder.seen], [e for _, e in encoder.seen])
    ]
    assert report.chunks == 600
    assert sizes == [32, 64, 128, 256, 120]


def test_a_long_first_file_is_cut_at_the_first_windows(tmp_path) -> None:
    # Its first part (256 chunks) was one window: Ctrl-C after 25 s of work kept nothing.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a_long.txt").write_text(paragraphs(300), "utf-8")
    (docs / "b_short.txt").write_text("a short note", "utf-8")
    encoder = CountingEncoder()
    index = make_index(tmp_path / "idx", encoder)
    report = index.add([docs])
    sizes = [
        b - a for a, b in zip([0] + [e for _, e in encoder.seen], [e for _, e in encoder.seen])
    ]
    assert report.chunks == 301 and sizes == [32, 64, 128, 77]
    rows = [r for r in stored(index) if r[0].endswith("a_long.txt")]
    assert [r[1] for r in rows] == list(range(300))  # ordinals continue across the cuts
    assert [r[2] for r in rows] == paragraphs(300).split("\n\n")
    shas = index.store.db.execute("SELECT sha256 FROM documents").fetchall()
    assert len(shas) == 2 and all(sha for (sha,) in shas)
    np.testing.assert_array_equal(
        np.sort(index.open_vectors().ids()), np.sort(index.store.chunk_ids())
    )


@pytest.mark.parametrize(("packs", "own"), [(False, 32), (True, 32), (False, 512)])
def test_an_encoder_that_packs_its_batches_gets_more_texts_a_pass(tmp_path, packs, own) -> None:
    # Without padding (bf16 where the attention kernel runs) short texts ran 1.28x faster 256
    # to a pass than 64; padded batches keep 64, unless the encoder takes more (a CUDA GPU).
    class Recording(FakeEncoder):
        packs_batches = packs
        batch_size = own

        def __init__(self) -> None:
            super().__init__()
            self.batch_sizes: set[int] = set()

        def embed_many(self, ids, *, batch_size: int = 32):
            self.batch_sizes.add(batch_size)
            return super().embed_many(ids, batch_size=batch_size)

    encoder = Recording()
    make_index(tmp_path / "idx", encoder).add([one_chunk_files(tmp_path / "d", 5)])
    expected = indexer_module.PACKED_BATCH_SIZE if packs else indexer_module.BATCH_SIZE
    assert encoder.batch_sizes == {max(expected, own)}


def test_an_edit_that_keeps_size_and_mtime_is_seen_by_its_ctime(tmp_path) -> None:
    # `touch -r`, a backup restored with its times, `cp -p` of another version: the size and the
    # mtime are the indexed ones, the text is not. Only the ctime moved.
    docs = tmp_path / "docs"
    docs.mkdir()
    note, other = docs / "note.txt", docs / "other.txt"
    note.write_text("the walrus sleeps on ice", "utf-8")
    other.write_text("an untouched note", "utf-8")
    encoder = CountingEncoder()
    index = make_index(tmp_path / "idx", encoder)
    index.add([docs])
    before = note.stat()
    note.write_text("the penguin naps on rock", "utf-8")  # as many bytes
    os.utime(note, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (note.stat().st_size, note.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    report = index.add([docs])
    assert (report.updated, report.unchanged) == (1, 1)
    texts = {row[0] for row in index.store.rows("SELECT text FROM chunks")}
    assert texts == {"the penguin naps on rock", "an untouched note"}
    # A ctime that moved on the same bytes (chmod) reads the file, embeds nothing.
    embedded = encoder.embedded
    os.chmod(other, 0o600)
    report = index.add([docs])
    assert (report.updated, report.unchanged, encoder.embedded) == (0, 2, embedded)
    assert index.add([docs]).unchanged == 2


def test_files_indexed_before_ctimes_are_read_once_then_trusted(tmp_path, monkeypatch) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(3):
        (docs / f"n{n}.txt").write_text(f"note number {n}", "utf-8")
    old = make_index(tmp_path / "idx")
    old.add([docs])
    with old.store.transaction():  # as ``m012_document_ctimes`` leaves the rows it finds
        old.store.db.execute("UPDATE documents SET ctime_ns = NULL")
    old.close()
    encoder = CountingEncoder()
    index = make_index(tmp_path / "idx", encoder)
    reads: list[Path] = []
    real = reading.read_bytes
    monkeypatch.setattr(reading, "read_bytes", lambda p, **kw: reads.append(p) or real(p, **kw))
    report = index.add([docs])  # read to learn their ctimes; the same bytes: nothing embedded
    assert (report.unchanged, len(reads), encoder.embedded) == (3, 3, 0)
    assert index.add([docs]).unchanged == 3 and len(reads) == 3  # then trusted


# -- text appended to a file (a log) ---------------------------------------------------------


def chunk_rows(index: SearchIndex, path: Path) -> list[tuple[int, int, str, int, int, int]]:
    """(id, ordinal, text, start_char, end_char, start_line) of a file's chunks, in order."""
    rows = index.store.rows(
        "SELECT c.id, c.ordinal, c.text, c.start_char, c.end_char, c.start_line FROM chunks c "
        "JOIN documents d ON d.id = c.document_id WHERE d.path = ? ORDER BY c.ordinal",
        (str(path),),
    )
    return [tuple(row) for row in rows]


def chunked_chars(monkeypatch) -> list[int]:
    """Records the length of each text given to ``chunk_text``."""
    real_chunk_text = reading.chunk_text
    lengths: list[int] = []

    def recorded(text, **options):
        lengths.append(len(text))
        return real_chunk_text(text, **options)

    monkeypatch.setattr(reading, "chunk_text", recorded)
    return lengths


def assert_chunks_of(rows, text: str) -> None:
    """Each stored chunk is the text at its offsets, on its line; ordinals from 0 in a row."""
    assert [row[1] for row in rows] == list(range(len(rows)))
    for _, _, chunk, start, end, line in rows:
        assert text[start:end] == chunk
        assert text.count("\n", 0, start) + 1 == line


def test_a_paragraph_appended_keeps_the_passages_before_and_chunks_only_the_end(
    tmp_path, long_file_in_small_windows, monkeypatch
) -> None:
    # A line appended to a 10 MB log chunked and stored all of it again: ~20 s for one line.
    docs = long_file_in_small_windows
    path = docs / "long.txt"
    encoder = CountingEncoder()
    index = make_index(tmp_path / "idx", encoder)
    index.add([docs])
    before = chunk_rows(index, path)
    closing = " ".join(f"narwhal{i}" for i in range(10))
    with path.open("a", encoding="utf-8") as file:
        file.write("\n\n" + closing)
    lengths = chunked_chars(monkeypatch)
    starts: list[int] = []
    done: list[int] = []
    free: list[int] = []
    progress = indexer_module.Progress(
        on_start=starts.append, on_bytes=done.append, on_free=free.append
    )
    report = index.add([docs], progress=progress)
    assert (report.updated, report.chunks, report.reused) == (1, 1, 1)
    # The passages kept are work left out, not done (the bar's time left stays true).
    assert starts == [path.stat().st_size] and sum(done) + sum(free) == starts[0]
    assert sum(free) > starts[0] * 0.9
    assert encoder.embedded == 41
    assert lengths and sum(lengths) < len(path.read_text("utf-8")) / 10
    after = chunk_rows(index, path)
    assert after[:-2] == before[:-1]  # the same rows, ids and all
    assert_chunks_of(after, path.read_text("utf-8"))
    # As a fresh index of the file stores it, vectors and all.
    fresh = fresh_index_of(docs, tmp_path / "fresh")
    assert stored(index) == stored(fresh)
    assert stored_vectors(index) == stored_vectors(fresh)
    np.testing.assert_array_equal(
        np.sort(index.open_vectors().ids()), np.sort(index.store.chunk_ids())
    )
    hits = index.search("narwhal3", mode="lexical", k=3)
    assert hits and hits[0].line == after[-1][5]
    assert index.add([docs]).unchanged == 1  # complete, with the file's new size and times


def indexed_log(tmp_path: Path, text: str) -> tuple[Path, Path, SearchIndex]:
    """A folder holding ``app.log`` with ``text``, indexed: (folder, log, index)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    log = docs / "app.log"
    log.write_text(text)
    index = make_index(tmp_path / "idx")
    index.add([docs])
    return docs, log, index


def test_lines_appended_to_a_log_are_found_on_their_lines(tmp_path, monkeypatch) -> None:
    lines = "".join(f"2026-12-02 event {i} worker{i % 7} ok\n" for i in range(300))
    docs, log, index = indexed_log(tmp_path, lines)
    before = chunk_rows(index, log)
    assert len(before) > 20
    with log.open("a") as file:
        file.write("".join(f"2026-12-02 event {i} quokka{i} failed\n" for i in range(300, 310)))
    report = index.add([docs])
    after = chunk_rows(index, log)
    assert after[: len(before) - 1] == before[:-1]
    # Only the passages from the seam on were embedded or looked up.
    assert report.updated == 1 and report.chunks + report.reused == len(after) - len(before) + 1
    assert_chunks_of(after, log.read_text())
    # Every line is in some passage.
    covered = {line for row in after for line in range(row[5], row[5] + row[2].count("\n") + 1)}
    assert covered == set(range(1, 311))
    hit = index.search("quokka305", mode="lexical", k=1)[0]
    assert hit.line == 306 and "quokka305" in hit.text
    assert stored(index) == stored(fresh_index_of(docs, tmp_path / "fresh"))


def test_prose_appended_again_and_again_is_cut_as_a_fresh_index_cuts_it(tmp_path) -> None:
    # The passages after an append are cut from the last one's start (``reading._seam``): one
    # that began inside a paragraph cut into sentences took the rest of it as one piece, and
    # the next passage began without the overlap a fresh index gives it (a crash-safety run
    # found "fluid .\n\nthe aerodynamic design..." stored from "the aerodynamic design").
    texts = [json.loads(line)["text"] for line in (DATA / "corpus.jsonl").open()][:60]
    docs = tmp_path / "docs"
    docs.mkdir()
    log = docs / "notes.txt"
    log.write_text("\n\n".join(texts[:4]) + "\n", "utf-8")
    index = make_index(tmp_path / "idx", FakeEncoder(max_length=64))  # passages of sentences
    index.add([docs])
    kept = 0
    for n, text in enumerate(texts[4:24]):
        before = chunk_rows(index, log)
        with log.open("a", encoding="utf-8") as file:  # a paragraph, or a line of one
            file.write(("\n" if n % 3 else "\n\n") + " ".join(text.split()[:40]) + "\n")
        index.add([docs])
        after = chunk_rows(index, log)
        kept += after[: len(before) - 1] == before[:-1]  # the seam was taken
        fresh = make_index(tmp_path / f"fresh{n}", FakeEncoder(max_length=64))
        fresh.add([docs])
        assert stored(index) == stored(fresh), n
    assert kept >= 10  # most appends keep the passages before the last


def test_random_appends_to_logs_are_cut_as_a_fresh_index_cuts_them(tmp_path) -> None:
    # A last paragraph that fitted in one piece, grown past it by an append, is cut into
    # sentences by a fresh index, and the passage before the last takes some of them: the
    # seam kept that passage as it was (a review's fuzzing: 4 of 40 logs differed).
    import random

    rng = random.Random(7)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    ends = [". ", "\n", "\n\n", "! \n", "\r\n", "   ", '." ', " ", " ", " "]

    def lines(count: int) -> str:
        text = "".join(
            " ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) + rng.choice(ends)
            for _ in range(count)
        ).rstrip(" ")
        return text if text.endswith("\n") else text + "\n"

    docs = tmp_path / "docs"
    docs.mkdir()
    logs = [docs / f"log{n}.txt" for n in range(40)]
    for log in logs:
        log.write_text(lines(rng.randint(5, 40)), "utf-8")
    index = make_index(tmp_path / "idx", FakeEncoder(max_length=16))
    index.add([docs])
    kept = 0
    for step in range(3):
        before = {log: chunk_rows(index, log) for log in logs}
        for log in logs:
            with log.open("a", encoding="utf-8", newline="") as file:
                file.write(lines(rng.randint(1, 8)))
        index.add([docs])
        for log in logs:
            after = chunk_rows(index, log)
            kept += len(before[log]) > 1 and after[: len(before[log]) - 1] == before[log][:-1]
        fresh = make_index(tmp_path / f"fresh{step}", FakeEncoder(max_length=16))
        fresh.add([docs])
        assert stored(index) == stored(fresh), step
    assert kept >= 40  # many appends still keep the passages before the last


def test_a_file_whose_start_changed_as_it_grew_is_indexed_whole(tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    log = docs / "app.log"
    lines = [f"event {i} of the log\n" for i in range(100)]
    log.write_text("".join(lines))
    index = make_index(tmp_path / "idx")
    index.add([docs])
    lines[0] = "rotated: the first line is another\n"
    log.write_text("".join(lines + ["event 100 of the log\n"]))
    index.add([docs])
    fresh = fresh_index_of(docs, tmp_path / "fresh")
    assert stored(index) == stored(fresh)
    assert_chunks_of(chunk_rows(index, log), log.read_text())


@pytest.mark.parametrize(
    ("first", "appended", "reads"),
    [
        # UTF-8 before; cp1252 once many cp1252 bytes follow (the offsets move)
        ("café au lait\n".encode(), "crème brûlée\n".encode("cp1252") * 60, "cafÃ©"),
        # cp1252 before; cp1251 once Cyrillic follows: as many characters, other ones
        (
            "Привет мир\n".encode("cp1251"),
            "Это длинные заметки на русском\n".encode("cp1251") * 60,
            "Привет",
        ),
    ],
)
def test_an_append_that_changes_how_the_file_decodes_indexes_it_whole(
    tmp_path, first, appended, reads
) -> None:
    # The indexed bytes are the file's first bytes, but they no longer read as the same text.
    from searchapp.ingest.decoding import load_documents

    docs = tmp_path / "docs"
    docs.mkdir()
    notes = docs / "notes.txt"
    notes.write_bytes(first + b"".join(b"a line of the notes %d\n" % i for i in range(60)))
    index = make_index(tmp_path / "idx")
    index.add([docs])
    with notes.open("ab") as file:
        file.write(appended)
    assert load_documents(notes)[0].text.startswith(reads)  # what the whole file reads as
    index.add([docs])
    fresh = fresh_index_of(docs, tmp_path / "fresh")
    assert stored(index) == stored(fresh)
    assert stored(index)[0][2].startswith(reads)


def test_an_append_stopped_part_way_keeps_what_it_stored_and_completes_next_time(
    tmp_path, long_file_in_small_windows
) -> None:
    docs = long_file_in_small_windows
    path = docs / "long.txt"
    index = make_index(tmp_path / "idx")
    index.add([docs])
    added = [" ".join(f"yak{p}_{i}" for i in range(10)) for p in range(12)]
    with path.open("a", encoding="utf-8") as file:
        file.write("".join("\n\n" + text for text in added))

    def stop_at_first_window(count: int) -> None:
        raise OSError("the disk went away")

    with pytest.raises(OSError, match="the disk went away"):
        index.add([docs], progress=indexer_module.Progress(on_chunks=stop_at_first_window))
    index = make_index(tmp_path / "idx")
    # The passages before the end are searched meanwhile, and the new ones stored so far.
    for word in ("w3_3", "w38_1", "yak0_5"):
        assert index.search(word, mode="lexical", k=1), word
    report = index.add([docs])
    assert report.updated == 1
    fresh = fresh_index_of(docs, tmp_path / "fresh")
    assert stored(index) == stored(fresh)
    assert stored_vectors(index) == stored_vectors(fresh)
    np.testing.assert_array_equal(
        np.sort(index.open_vectors().ids()), np.sort(index.store.chunk_ids())
    )


# -- vectors of removed passages -------------------------------------------------------------


def test_a_folder_removed_then_back_takes_the_vectors_it_had(tmp_path, monkeypatch) -> None:
    # Moved out of a watched folder and back, or a branch checked out and back: its 2,865
    # passages were embedded again (25 s).
    from searchapp.storage import store as store_module

    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "sub" / "a.txt").write_text(paragraphs(6), "utf-8")
    (docs / "b.txt").write_text("a note that stays\n", "utf-8")
    encoder = CountingEncoder()
    index = make_index(tmp_path / "idx", encoder)
    index.add([docs])
    before = stored_vectors(index)
    assert encoder.embedded == 7
    (docs / "sub").rename(tmp_path / "away")
    assert index.add([docs]).removed == 1
    # What is left of it: digests and vectors, no text (`search remove` leaves no words).
    columns = [row[1] for row in index.store.rows("PRAGMA table_info(removed_vectors)")]
    assert columns == ["id", "digest", "embedding"]
    (tmp_path / "away").rename(docs / "sub")
    report = index.add([docs])
    assert (report.added, report.chunks, report.reused) == (1, 0, 6)
    assert encoder.embedded == 7
    assert stored_vectors(index) == before
    # Only the last REMOVED_VECTORS_KEPT removed are kept.
    monkeypatch.setattr(store_module, "REMOVED_VECTORS_KEPT", 2)
    index.remove([str(docs / "sub")])
    assert index.store.rows("SELECT count(*) FROM removed_vectors") == [(2,)]


def test_a_log_that_grew_while_it_was_read_is_appended_to_next_time(tmp_path, monkeypatch) -> None:
    # Its stat's size was stored with the hash of the longer bytes read after it: the next
    # append found its first bytes changed, and chunked the whole log again.
    docs, log, index = indexed_log(tmp_path, "".join(f"event {i} of the log\n" for i in range(300)))
    real = reading.read_bytes

    def growing(path, **options):
        with open(path, "a") as file:  # a line written between the stat and the read
            file.write("event 300 written as it was read\n")
        return real(path, **options)

    with monkeypatch.context() as patched:
        patched.setattr(reading, "read_bytes", growing)
        with log.open("a") as file:
            file.write("event 299b appended\n")
        index.add([docs])
    with log.open("a") as file:
        file.write("event 301 appended later\n")
    lengths = chunked_chars(monkeypatch)
    assert index.add([docs]).updated == 1
    assert sum(lengths) < len(log.read_text()) / 10  # only its end chunked again
    assert_chunks_of(chunk_rows(index, log), log.read_text())


def test_an_append_that_gives_a_page_its_title_stores_it(tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / "report.html"
    page.write_text("<p>" + " ".join(f"word{i}" for i in range(60)) + "</p>\n")
    index = make_index(tmp_path / "idx")
    index.add([docs])
    with page.open("a") as file:
        file.write("<title>Wing Report</title><p>the end</p>\n")
    index.add([docs])
    fresh = fresh_index_of(docs, tmp_path / "fresh")
    titles = "SELECT title FROM documents"
    assert index.store.rows(titles) == fresh.store.rows(titles) == [("Wing Report",)]
    assert stored(index) == stored(fresh)


def test_a_log_grown_past_the_size_limit_keeps_its_indexed_text(tmp_path) -> None:
    # At 58 MB, the 8 MB indexed of it were dropped, and the run exited 0.
    from searchapp.ingest.decoding import DEFAULT_MAX_BYTES

    docs, log, index = indexed_log(tmp_path, "".join(f"event {i} quokka{i}\n" for i in range(50)))
    os.truncate(log, DEFAULT_MAX_BYTES + 1)  # sparse: grown past the limit, nothing written
    report = index.add([docs])
    assert report.removed == 0
    assert report.skipped == [
        (str(log), "larger than the 50.0 MiB limit (50.0 MiB); its indexed text is kept")
    ]
    assert [h.line for h in index.search("quokka7", mode="lexical", k=1)] == [8]


def test_large_files_are_read_after_the_small_ones(tmp_path, monkeypatch) -> None:
    # A helper's paper folder: a 7 MB log, first in the walk, kept 20 small papers unsearchable
    # for minutes, and Ctrl-C then left "0 files complete".
    monkeypatch.setattr(indexer_module, "LATE_FILE_BYTES", 5_000)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a_big.log").write_text("".join(f"line {n} of the log\n" for n in range(600)))
    for n in range(3):
        (docs / f"paper{n}.txt").write_text(f"A short paper number {n}.\n")
    index = make_index(tmp_path / "idx")
    report = index.add([docs])
    assert [Path(path).name for path in report.changed] == [
        *(f"paper{n}.txt" for n in range(3)),
        "a_big.log",
    ]
    order = index.store.db.execute("SELECT path FROM documents ORDER BY id").fetchall()
    assert [Path(row[0]).name for row in order][-1] == "a_big.log"
