"""Crash safety: `search index` killed at random moments never loses or corrupts the index.

A killed run may leave work undone, never an index that disagrees with itself: SQLite chunk rows,
FTS rows and FAISS ids stay the same set, queries keep working, and the next run finishes the job
so that the index equals one built from scratch.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import searchapp.ingest.pipeline as pipeline
from searchapp.search_index import SearchIndex
from searchapp.storage.store import Store
from searchapp.storage.vectors import VectorIndex
from searchapp.storage.vectors_file import VECTORS_GENERATION_KEY, VECTORS_NAME
from tests.searchapp.cli_runner import run_cli

REPO = Path(__file__).resolve().parents[2]
SEED = 20261127
MIN_KILLS = 10
# The kill loop stops after this many seconds (or as many "paces", on a slow machine) even with
# fewer kills, and the test then fails.
KILL_BUDGET_S, KILL_BUDGET_PACES = 100, 30
QUERIES = ("wing lift in a slipstream", "heat transfer at hypersonic speed", "boundary layer")
# `search index` with a smaller commit window, so that kills also land between and inside the
# commits of one run (the production window, WINDOW_CHUNKS, makes one or two commits per run here).
SMALL_WINDOW_BOOT = (
    "import sys, searchapp.ingest.pipeline as m; m.WINDOW_CHUNKS = int(sys.argv.pop(1)); "
    "from searchapp.interfaces.cli import main; main()"
)


class SimulatedKill(BaseException):
    """Stands for SIGKILL in-process: not an Exception, so nothing on the way catches it."""


# -- checks ------------------------------------------------------------------------------------


def check_agreement(index_dir: Path) -> dict[str, int]:
    """SQLite chunks, FTS rows and the FAISS file's ids are the same set; returns counts."""
    store = Store.open(index_dir, create=False)
    try:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        store.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
        with store.snapshot():
            chunk_ids = store.chunk_ids()
            fts = store.db.execute("SELECT count(*) FROM chunks_fts_docsize").fetchone()[0]
            meta = store.get_meta()
            generation = store.generation()
            incomplete = store.db.execute(
                "SELECT count(*) FROM documents WHERE sha256 IS NULL"
            ).fetchone()[0]
            # A complete document holds chunks 0..n-1, each once.
            gaps = store.db.execute(
                "SELECT d.doc_id FROM documents d JOIN chunks c ON c.document_id = d.id "
                "WHERE d.sha256 IS NOT NULL GROUP BY d.id "
                "HAVING count(*) != max(c.ordinal) + 1 OR min(c.ordinal) != 0"
            ).fetchall()
        assert fts == len(chunk_ids)
        assert gaps == []
        vectors = VectorIndex.load(index_dir / VECTORS_NAME, int(meta["dim"]))
        assert vectors is not None
        assert meta.get(VECTORS_GENERATION_KEY) == str(generation)
        np.testing.assert_array_equal(np.sort(vectors.ids()), chunk_ids)
        return {"chunks": len(chunk_ids), "generation": generation, "incomplete": incomplete}
    finally:
        store.close()


def check_query(capsys, index_dir: Path, text: str) -> list[dict]:
    """`search query --json` exits 0 with one JSON array whose hits are stored chunks."""
    code, out, err = run_cli(capsys, "query", text, "--index-dir", str(index_dir), "--json")
    assert code == 0, err
    hits = json.loads(out)
    assert isinstance(hits, list)
    store = Store.open(index_dir, create=False)
    try:
        stored = {c.id: c.text for c in store.get_chunks([h["chunk_id"] for h in hits])}
    finally:
        store.close()
    assert all(stored.get(h["chunk_id"]) == h["text"] for h in hits)
    return hits


def index_contents(index_dir: Path) -> dict[str, object]:
    """What must match between two indexes of the same files: documents and their chunks."""
    store = Store.open(index_dir, create=False)
    try:
        documents = {
            row[0]: (row[1], row[2], row[3])
            for row in store.db.execute("SELECT doc_id, path, title, sha256 FROM documents")
        }
        chunks: dict[str, list[tuple]] = {}
        embeddings: dict[str, list[np.ndarray]] = {}
        for doc_id, *chunk, blob in store.db.execute(
            "SELECT d.doc_id, c.ordinal, c.text, c.start_char, c.end_char, c.start_line, "
            "c.end_line, c.embedding FROM chunks c JOIN documents d ON d.id = c.document_id "
            "ORDER BY d.doc_id, c.ordinal"
        ):
            chunks.setdefault(doc_id, []).append(tuple(chunk))
            embeddings.setdefault(doc_id, []).append(np.frombuffer(blob, dtype="<f4"))
    finally:
        store.close()
    return {"documents": documents, "chunks": chunks, "embeddings": embeddings}


def assert_same_index(built: Path, reference: Path, encoder) -> None:
    got, want = index_contents(built), index_contents(reference)
    assert got["documents"] == want["documents"]
    assert got["chunks"] == want["chunks"]
    for doc_id, vectors in want["embeddings"].items():
        # Different batches pad differently: equal up to float rounding.
        np.testing.assert_allclose(got["embeddings"][doc_id], vectors, atol=1e-4)
    indexes = [SearchIndex(folder, encoder=encoder) for folder in (built, reference)]
    for text in QUERIES:
        for mode in ("dense", "lexical", "hybrid"):
            got, want = (index.search(text, k=5, mode=mode) for index in indexes)
            assert [(h.doc_id, h.start_char, h.text) for h in got] == [
                (h.doc_id, h.start_char, h.text) for h in want
            ], (text, mode)
            np.testing.assert_allclose([h.score for h in got], [h.score for h in want], atol=1e-4)
    for index in indexes:
        index.close()


# -- the corpus --------------------------------------------------------------------------------


class Corpus:
    """300 small files from Cranfield abstracts: most one short passage, some several chunks, and
    one BEIR JSONL file of many records; ``mutate`` edits, deletes and adds some."""

    def __init__(self, folder: Path, texts: list[str], rng: random.Random) -> None:
        self.folder, self.texts, self.rng = folder, texts, rng
        self.next_text = 0
        self.records = 0
        for n in range(269):
            self.write(self.path_for(f"doc{n:03d}.txt", n), self.short_text())
        for n in range(30):  # three or four abstracts each: several chunks
            parts = [self.take() for _ in range(3 + n % 2)]
            self.write(self.path_for(f"long{n:02d}.txt", n), "\n\n".join(parts) + "\n")
        self.jsonl = folder / "records.jsonl"
        self.add_records(40)
        assert sum(1 for p in folder.rglob("*") if p.is_file()) == 300

    def path_for(self, name: str, n: int) -> Path:
        return self.folder / ("" if n % 3 else f"part{n % 4}") / name

    def take(self) -> str:
        self.next_text += 1
        return self.texts[(self.next_text - 1) % len(self.texts)]

    def short_text(self) -> str:
        return " ".join(self.take().split()[:40]) + "\n"

    def write(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def add_records(self, count: int) -> None:
        with open(self.jsonl, "a", encoding="utf-8") as handle:
            for _ in range(count):
                self.records += 1
                record = {"_id": f"rec{self.records}", "title": "", "text": self.short_text()}
                handle.write(json.dumps(record) + "\n")

    def mutate(self) -> None:
        files = sorted(p for p in self.folder.rglob("*.txt"))
        for path in self.rng.sample(files, 3):  # edited: new content
            with open(path, "a", encoding="utf-8") as handle:
                handle.write("\n" + self.short_text())
        for path in self.rng.sample(files, 2):  # deleted
            path.unlink(missing_ok=True)
        for _ in range(3):  # new files
            self.write(self.folder / "new" / f"new{self.next_text}.txt", self.short_text())
        self.add_records(2)  # the JSONL file changes: all its records are indexed again


# -- tests -------------------------------------------------------------------------------------


def test_interrupted_multi_document_file_is_finished_by_the_next_run(
    tmp_path, cranfield, encoder, monkeypatch
) -> None:
    """A kill after some records of a JSONL file were committed must not mark the file done."""
    texts = list(cranfield.corpus.values())
    corpus = tmp_path / "docs"
    corpus.mkdir()
    with open(corpus / "corpus.jsonl", "w", encoding="utf-8") as handle:
        for n in range(12):
            handle.write(json.dumps({"_id": f"d{n}", "title": "", "text": texts[n]}) + "\n")
    index_dir = tmp_path / "idx"
    monkeypatch.setattr(pipeline, "WINDOW_CHUNKS", 4)
    commit = pipeline.Indexer._commit
    calls = []

    def killed_in_second_window(self, window, report):
        calls.append(len(window))
        if len(calls) == 2:
            raise SimulatedKill
        return commit(self, window, report)

    monkeypatch.setattr(pipeline.Indexer, "_commit", killed_in_second_window)
    with pytest.raises(SimulatedKill):
        SearchIndex(index_dir, encoder=encoder).add([corpus])
    partial = SearchIndex(index_dir, encoder=encoder)
    assert 0 < partial.stats()["documents"] < 12  # some records were committed
    partial.close()

    monkeypatch.setattr(pipeline.Indexer, "_commit", commit)
    report = SearchIndex(index_dir, encoder=encoder).add([corpus])
    assert report.unchanged == 0 and (report.added, report.updated) in ((1, 0), (0, 1))
    reference = tmp_path / "reference"
    SearchIndex(reference, encoder=encoder).add([corpus])
    check_agreement(index_dir)
    assert_same_index(index_dir, reference, encoder)


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing(
    tmp_path, cranfield, encoder, loaded_model, capsys
) -> None:
    rng = random.Random(SEED)
    folder, index_dir = tmp_path / "docs", tmp_path / "idx"
    corpus = Corpus(folder, list(cranfield.corpus.values()), rng)
    common = [str(folder), "--index-dir", str(index_dir), "--device", "cpu", "--precision", "fp32"]
    production = [sys.executable, "-m", "searchapp", "index", *common]
    small_window = [sys.executable, "-c", SMALL_WINDOW_BOOT, "24", "index", *common]
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    # A first, partial index (a twelfth of the folder) that every later query can rely on. Its
    # time, mostly starting Python and loading the model, sets the pace of the kills below, so
    # that they land at the same stages on a faster or slower machine.
    started = time.monotonic()
    first = subprocess.run(
        [*production, "--include", "part0/**"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    pace = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    check_query(capsys, index_dir, QUERIES[0])
    check_agreement(index_dir)

    log: list[str] = []
    kills = after_commits = completed = 0
    budget = max(KILL_BUDGET_S, KILL_BUDGET_PACES * pace)
    deadline = time.monotonic() + budget
    while kills < MIN_KILLS + 1 and time.monotonic() < deadline:
        command = small_window if (kills + completed) % 2 == 0 else production
        # Mostly while embedding; sometimes while starting, loading the model or discovering.
        delay = pace * (rng.uniform(0.02, 0.7) if rng.random() < 0.25 else rng.uniform(0.7, 1.8))
        before = check_agreement(index_dir)["generation"]
        with open(tmp_path / "stderr.txt", "w") as stderr:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
            try:
                code = process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                code = None
        if code is None:
            kills += 1
        else:
            assert code == 0, (tmp_path / "stderr.txt").read_text()
            completed += 1
        check_query(capsys, index_dir, rng.choice(QUERIES))  # may rebuild the FAISS file
        state = check_agreement(index_dir)
        after_commits += code is None and state["generation"] > before
        log.append(
            f"{'killed' if code is None else 'finished'} after {delay:.2f}s "
            f"(window {24 if command is small_window else pipeline.WINDOW_CHUNKS}): "
            f"generation {before} -> {state['generation']}, {state['chunks']} chunks, "
            f"{state['incomplete']} incomplete documents"
        )
        if code is not None or kills % 3 == 0:
            corpus.mutate()
    print("\n" + "\n".join(log))
    assert kills >= MIN_KILLS, f"only {kills} kills in {budget:.0f}s:\n" + "\n".join(log)
    assert after_commits >= 1, "no kill landed after a commit:\n" + "\n".join(log)

    final = subprocess.run(production, capture_output=True, text=True, env=env, timeout=300)
    assert final.returncode == 0, final.stderr
    check_agreement(index_dir)
    reference = tmp_path / "reference"
    SearchIndex(reference, encoder=encoder).add([folder])
    assert_same_index(index_dir, reference, encoder)
    # Nothing half-written is left behind either (a FAISS save killed before its rename).
    leftovers = [p.name for p in index_dir.iterdir() if p.name.endswith(".tmp")]
    print(
        f"pace {pace:.1f}s: {kills} kills ({after_commits} after a commit), {completed} "
        f"runs finished; temporary files left: {leftovers}"
    )


@pytest.mark.slow
def test_ctrl_c_at_random_moments_exits_130_and_keeps_the_index_consistent(
    tmp_path, cranfield, encoder
) -> None:
    """SIGINT, unlike SIGKILL, lets `search index` save what it committed: after each one the
    FAISS file already agrees with SQLite (no reader has to rebuild it), stderr holds one line,
    and the exit status is 130."""
    from docx import Document
    from fpdf import FPDF

    rng = random.Random(SEED + 1)
    folder, index_dir = tmp_path / "docs", tmp_path / "idx"
    cranfield.write_files(folder, 0, 160)
    # Some of them as PDFs and Word files: documents are committed like text.
    for n, path in enumerate(sorted(folder.glob("doc*.txt"))[40:60]):
        text = path.read_text("utf-8")
        if n % 2:
            pdf = FPDF()
            pdf.add_page()
            pdf.set_font("Helvetica", size=11)
            pdf.multi_cell(0, 5, text)
            pdf.output(str(path.with_suffix(".pdf")))
        else:
            document = Document()
            document.add_paragraph(text)
            document.save(str(path.with_suffix(".docx")))
        path.unlink()
    common = [str(folder), "--index-dir", str(index_dir), "--device", "cpu", "--precision", "fp32"]
    small_window = [sys.executable, "-c", SMALL_WINDOW_BOOT, "16", "index", *common]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    first = subprocess.run(
        [*small_window, "--include", "doc1?.txt"], capture_output=True, text=True, env=env
    )
    pace = time.monotonic() - started  # starting Python and loading the model, mostly
    assert first.returncode == 0, first.stderr
    check_agreement(index_dir)

    outcomes: list[tuple[float, int, list[str]]] = []
    # Six rounds, and more (12 at most) until three were interrupted: once the folder is
    # indexed a run has little to do, and one that ends before its signal tests nothing (a
    # fresh-clone CI run had two of six).
    round_ = 0
    while round_ < 6 or (sum(o[1] == 130 for o in outcomes) < 3 and round_ < 12):
        delay = pace * rng.uniform(0.5, 1.6)
        process = subprocess.Popen(
            small_window, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
        # The first run without the first run's --include notes that the filters changed.
        lines = [line for line in err.strip().splitlines() if not line.startswith("note: ")]
        outcomes.append((round(delay, 2), process.returncode, lines[-1:] if lines else []))
        # Killed by the signal itself (-2) only once the command had finished and reported,
        # in the interpreter's last teardown after its handlers are gone (a shell reports
        # that as 130 too).
        finished = process.returncode == -signal.SIGINT and "unchanged" in " ".join(lines[-1:])
        assert process.returncode in (0, 130) or finished, (round_, err)
        if process.returncode == 130:
            assert len(lines) == 1 and lines[0].startswith("interrupted"), err
        check_agreement(index_dir)  # as the interrupted run left it, before any reader
        if round_ % 2:
            for path in sorted(folder.glob("doc*.txt"))[round_ * 7 :][:3]:
                path.write_text(path.read_text("utf-8") + "\nAn added sentence.\n", "utf-8")
        round_ += 1
    print(outcomes)
    assert sum(code == 130 for _, code, _ in outcomes) >= 3, outcomes
    assert any("committed" in " ".join(line) for _, code, line in outcomes if code == 130)

    final = subprocess.run(small_window, capture_output=True, text=True, env=env, timeout=300)
    assert final.returncode == 0, final.stderr
    check_agreement(index_dir)
    reference = tmp_path / "reference"
    SearchIndex(reference, encoder=encoder).add([folder])
    assert_same_index(index_dir, reference, encoder)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sigint", "signum"),
    [("default", signal.SIGTERM), ("ignored", signal.SIGTERM), ("default", signal.SIGHUP)],
)
def test_sigterm_stops_search_index_as_ctrl_c_does(tmp_path, cranfield, sigint, signum) -> None:
    """`timeout 60 search index`, `kill`: the window under way commits, one line says what was
    kept, the status is 143 (it was killed silently). Also when started with Ctrl-C ignored
    (`search index ... &` from a script). SIGHUP (the terminal closed) alike, status 129."""
    folder, index_dir = tmp_path / "docs", tmp_path / "idx"
    cranfield.write_files(folder, 0, 400)
    command = [sys.executable, "-c", SMALL_WINDOW_BOOT, "8", "index", str(folder)]
    command += ["--index-dir", str(index_dir), "--device", "cpu", "--precision", "fp32"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint == "ignored" else None
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=ignore
    )
    try:
        deadline = time.monotonic() + 120
        while not (index_dir / "index.db").exists() or not committed_chunks(index_dir):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signum)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signum, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert lines[-1].startswith("interrupted: ") and "committed" in lines[-1], err
    name = signal.Signals(signum).name
    assert f"before {name}; run the same command again to continue" in lines[-1]
    check_agreement(index_dir)  # SQLite and FAISS as the stopped run left them: in step


def committed_chunks(index_dir: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{index_dir / 'index.db'}?mode=ro", uri=True)
        try:
            return db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:  # being created
        return 0
