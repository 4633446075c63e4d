"""Two processes on one index: writers take turns on the lock; readers see consistent snapshots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import searchapp.ranking.searcher
import searchapp.search_index
from searchapp.storage.lock import LOCK_NAME
from searchapp.storage.store import Store
from tests.searchapp.cli_runner import run_cli

pytestmark = pytest.mark.slow

QUERIES = ("wing lift in a slipstream", "heat transfer at hypersonic speed", "boundary layer")
# `search index` committing every 16 chunks (production: WINDOW_CHUNKS) and pausing 0.3 s after
# each commit, so that queries run between many commits of one run and the other writers start
# while it holds the lock, however fast the machine.
SMALL_WINDOW_BOOT = (
    "import sys, time, searchapp.ingest.pipeline as m; m.WINDOW_CHUNKS = 16; "
    "commit = m.Indexer._commit; "
    "m.Indexer._commit = lambda self, *args: (commit(self, *args), time.sleep(0.3))[0]; "
    "from searchapp.interfaces.cli import main; main()"
)


def write_files(folder: Path, texts: list[str]) -> None:
    folder.mkdir(parents=True)
    for n, text in enumerate(texts):
        (folder / f"doc{n:03d}.txt").write_text(text + "\n", encoding="utf-8")


def search_index(folder: Path, index_dir: Path, *, boot: str | None = None) -> list[str]:
    start = ["-c", boot] if boot else ["-m", "searchapp"]
    return [
        sys.executable,
        *start,
        "index",
        str(folder),
        "--index-dir",
        str(index_dir),
        "--device",
        "cpu",
        "--precision",
        "fp32",
    ]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def documents_under(index_dir: Path, folder: Path) -> int:
    store = Store.open(index_dir, create=False)
    try:
        return store.db.execute(
            "SELECT count(*) FROM documents WHERE path LIKE ? || '%'", [str(folder) + os.sep]
        ).fetchone()[0]
    finally:
        store.close()


def has_model(index_dir: Path) -> bool:
    if not (index_dir / "index.db").exists():
        return False
    try:
        store = Store.open(index_dir, create=False)
    except Exception:  # created but not migrated yet
        return False
    try:
        return "model" in store.get_meta()
    finally:
        store.close()


def test_writers_take_turns_and_readers_see_consistent_snapshots(
    tmp_path, cranfield, loaded_model, capsys, monkeypatch
) -> None:
    texts = list(cranfield.corpus.values())
    first_docs, second_docs = tmp_path / "first", tmp_path / "second"
    write_files(first_docs, [" ".join(t.split()[:80]) for t in texts[:160]])
    write_files(second_docs, texts[160:180])
    index_dir = tmp_path / "idx"
    first_err, second_err = tmp_path / "first.err", tmp_path / "second.err"

    # What each in-process query saw: the FAISS ids it searched, and inside its SQLite snapshot
    # the chunk ids and FTS rows.
    seen: list[dict[str, object]] = []
    open_vectors = searchapp.search_index.open_vectors
    opened: dict[str, int] = {}

    def spy_open_vectors(store, index_dir, dim, **options):
        before = store.generation()
        vectors = open_vectors(store, index_dir, dim, **options)
        after = store.generation()
        opened["generation"] = before if before == after else -1  # -1: built mid-commit
        return vectors

    class SpySearcher(searchapp.ranking.searcher.Searcher):
        def search(self, query, query_vector, options, *more):
            seen.append(
                {
                    "generation": self.store.generation(),
                    "vectors_generation": opened["generation"],
                    "chunk_ids": set(self.store.chunk_ids().tolist()),
                    "fts_rows": self.store.db.execute(
                        "SELECT count(*) FROM chunks_fts_docsize"
                    ).fetchone()[0],
                    "faiss_ids": set(self.vectors.ids().tolist()),
                }
            )
            return super().search(query, query_vector, options, *more)

    monkeypatch.setattr(searchapp.search_index, "open_vectors", spy_open_vectors)
    monkeypatch.setattr(searchapp.search_index, "Searcher", SpySearcher)

    with open(first_err, "w") as err1, open(second_err, "w") as err2:
        first = subprocess.Popen(
            search_index(first_docs, index_dir, boot=SMALL_WINDOW_BOOT),
            stdout=subprocess.DEVNULL,
            stderr=err1,
        )
        lock = index_dir / LOCK_NAME
        wait_for(
            lambda: lock.exists() and lock.read_text() == str(first.pid), 60, "the first writer"
        )

        # A second writer with --no-wait fails at once with one line.
        refused = subprocess.run(
            [*search_index(second_docs, index_dir), "--no-wait"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode != 0
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1, refused.stderr
        assert lines[0].startswith(
            f"error: another `search index` or `search watch` (pid {first.pid})"
        )
        assert first.poll() is None, "the first writer finished too soon to test the lock"

        # Without --no-wait it says it waits, and writes nothing until the first one is done.
        second = subprocess.Popen(
            search_index(second_docs, index_dir), stdout=subprocess.DEVNULL, stderr=err2
        )
        wait_for(lambda: "waiting" in second_err.read_text(), 60, "the second writer to wait")

        # Queries while the first writer commits window after window.
        wait_for(lambda: has_model(index_dir), 120, "the index to be created")
        queries = 0
        while first.poll() is None or queries < 3:
            code, out, err = run_cli(
                capsys,
                "query",
                QUERIES[queries % len(QUERIES)],
                "--index-dir",
                str(index_dir),
                "--json",
                "-k",
                "5",
            )
            assert code in (0, 1), err  # 1: nothing indexed yet that matches
            hits = json.loads(out)
            snapshot = seen[-1]
            assert {h["chunk_id"] for h in hits} <= snapshot["chunk_ids"]
            if first.poll() is None:  # the second writer must not have started
                assert documents_under(index_dir, second_docs) == 0
            queries += 1
            time.sleep(0.1)  # leave the writers some CPU
        assert first.wait(timeout=300) == 0, first_err.read_text()
        assert second.wait(timeout=300) == 0, second_err.read_text()

    for snapshot in seen:
        # Inside one snapshot SQLite and FTS agree exactly; the FAISS ids are those of the
        # snapshot when opened at the same generation, else of an earlier one (only adds here).
        assert snapshot["fts_rows"] == len(snapshot["chunk_ids"])
        if snapshot["vectors_generation"] == snapshot["generation"]:
            assert snapshot["faiss_ids"] == snapshot["chunk_ids"]
        else:
            assert snapshot["faiss_ids"] <= snapshot["chunk_ids"]
    exact = sum(s["vectors_generation"] == s["generation"] for s in seen)
    growing = len({s["generation"] for s in seen})
    print(f"\n{queries} queries during indexing over {growing} generations, {exact} exact")
    assert growing >= 3, "queries did not run between the first writer's commits"

    assert documents_under(index_dir, first_docs) == 160
    assert documents_under(index_dir, second_docs) == 20
    assert "waiting for another `search index` or `search watch` to finish" in (
        second_err.read_text()
    )
    code, out, err = run_cli(capsys, "query", QUERIES[0], "--index-dir", str(index_dir), "--json")
    assert code == 0, err
    store = Store.open(index_dir, create=False)
    store.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    chunk_ids = store.chunk_ids()
    assert store.db.execute("SELECT count(*) FROM chunks_fts_docsize").fetchone()[0] == len(
        chunk_ids
    )
    store.close()
    vectors = searchapp.search_index.SearchIndex(index_dir).open_vectors()
    np.testing.assert_array_equal(np.sort(vectors.ids()), chunk_ids)
