"""Queries while another process writes: a reader's vectors caught up against rebuilt.

Run by hand from the repository root (not a test):

    python benchmarks/query_while_writing.py                 # 60,000 passages (ivf), 3 commits
    python benchmarks/query_while_writing.py --chunks 20000 --commits 5

While `search index` runs elsewhere it commits every few hundred passages, and its vectors file
is saved at the end: each query in another process (`search query`, a REPL, `search serve`)
finds the file one generation behind and cannot save a rebuild. The reader used to rebuild the
whole vector index from SQLite for itself, an ivf index trained anew, at every such query; it now
reads the saved file and takes out and puts in what changed since (``vectors_file.catch_up``),
and from the second commit on catches up its own copy instead of reading the file again.
Both are timed here on the same index and the same commits, each after each commit, through
``open_derived`` with and without the catch-up. The passages are random unit vectors (the
vector index does not look at their text); the writer is this process holding the writer lock.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `searchapp` importable

from benchmarks.machine import describe  # noqa: E402
from searchapp.storage.derived import open_derived  # noqa: E402
from searchapp.storage.lock import WriterLock  # noqa: E402
from searchapp.storage.schema import Chunk  # noqa: E402
from searchapp.storage.store import Store  # noqa: E402
from searchapp.storage.vectors_file import open_vectors, vectors_file  # noqa: E402

DIM = 384


def add_passages(store: Store, name: str, count: int, rng: np.random.Generator) -> None:
    vectors = rng.standard_normal((count, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks = [Chunk(f"{name} passage {i}", 0, 1, i + 1, i + 1) for i in range(count)]
    with store.transaction():
        document = store.upsert_document(doc_id=name, path=f"/bench/{name}.txt")
        store.add_chunks(document, chunks, vectors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=60_000)
    parser.add_argument("--commits", type=int, default=3)
    parser.add_argument("--per-commit", type=int, default=256)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    folder = Path(tempfile.mkdtemp(prefix="query-while-writing-"))
    store = Store.open(folder, create=True)
    for start in range(0, args.chunks, 10_000):
        add_passages(store, f"doc{start}", min(10_000, args.chunks - start), rng)
    saved = open_vectors(store, folder, DIM)  # built and saved as `search index` leaves it
    print(describe())
    print(f"{store.count_chunks()} passages, vectors {saved.params.to_json()}")
    caught_up = vectors_file(DIM)
    rebuilt = dataclasses.replace(caught_up, catch_up=None)  # as before the catch-up
    times: dict[str, list[float]] = {"own copy": [], "catch-up": [], "rebuild": []}
    own = None  # the reader's copy, caught up at the commit before (the file read at the first)
    with WriterLock(folder):  # another process writes: readers cannot save
        for commit in range(args.commits):
            add_passages(store, f"new{commit}", args.per_commit, rng)  # a file added,
            if commit:  # and the one added before it removed
                store.delete_documents_by_path([f"/bench/new{commit - 1}.txt"])
            for name, kind in (
                ("own copy", caught_up),
                ("catch-up", caught_up),
                ("rebuild", rebuilt),
            ):
                started = time.perf_counter()
                vectors = open_derived(
                    kind, store, folder, previous=own if name == "own copy" else None
                )
                times[name].append(time.perf_counter() - started)
                assert vectors is not None and vectors.ntotal == store.count_chunks()
                if name == "own copy":
                    own = vectors
    for name, measured in times.items():
        shown = ", ".join(f"{t:.2f}" for t in measured)
        print(
            f"{name:9} per query after a commit: median {statistics.median(measured):.2f} s "
            f"({shown})"
        )
    ratio = statistics.median(times["rebuild"]) / statistics.median(times["catch-up"])
    print(f"catch-up x{ratio:.0f} faster than the rebuild it replaced")
    later = times["own copy"][1:] or times["own copy"]  # the first reads the file
    ratio = statistics.median(times["catch-up"]) / statistics.median(later)
    print(f"own copy after the first commit x{ratio:.1f} faster than reading the file again")


if __name__ == "__main__":
    main()
