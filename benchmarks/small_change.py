"""After a small change: one edited file indexed into an index of many passages, with the lexical
postings file updated (``Postings.updated``) against rebuilt from FTS5 (``Postings.build``).

Run by hand from the repository root (not a test):

    python benchmarks/small_change.py                    # 10k and 100k passages, 5 rounds
    python benchmarks/small_change.py --sizes 100000 --rounds 9

The indexes are ``query.build_index``'s (Cranfield abstracts as synthetic documents of 8
passages). One ``SearchIndex`` stays open with its encoder loaded, as in `search watch`; each
round rewrites one small file and times ``SearchIndex.add`` of its folder from start to end
(embedding, commit, vectors saved, postings saved), once with the update and once with the
update turned off (a build, as before it), interleaved. Then, on the same store state, the update
and the build alone. Each update is checked equal to the build, array for array.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `searchapp` and `minilm` importable
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from query import build_index  # noqa: E402
from scale import cranfield_vectors, read_jsonl  # noqa: E402

from benchmarks.machine import describe  # noqa: E402
from searchapp.ranking import postings  # noqa: E402
from searchapp.search_index import SearchIndex  # noqa: E402


def timed_add(search_index: SearchIndex, docs: Path, text: str, *, update: bool) -> float:
    (docs / "note.txt").write_text(text, encoding="utf-8")
    kind = postings.POSTINGS_FILE
    if not update:
        postings.POSTINGS_FILE = dataclasses.replace(kind, update=None)
    try:
        start = time.perf_counter()
        search_index.add([docs])
        return time.perf_counter() - start
    finally:
        postings.POSTINGS_FILE = kind


def main(argv: list[str] | None = None) -> int:
    print(describe(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="passages, comma-separated")
    parser.add_argument("--rounds", type=int, default=5, help="timed adds of each kind")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    if args.rounds < 1 or min(sizes) < 100:
        parser.error("--rounds must be at least 1 and each size at least 100")
    abstracts = read_jsonl("corpus.jsonl")
    base, _ = cranfield_vectors()
    print(f"load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory(prefix="searchapp-change-") as tmp:
        for n in sizes:
            index_dir = Path(tmp) / f"index-{n}"
            build_index(index_dir, n, abstracts, base, "fp32")
            docs = Path(tmp) / f"docs-{n}"
            docs.mkdir()
            search_index = SearchIndex(index_dir)
            search_index.load_encoder()
            timed_add(search_index, docs, abstracts[1], update=True)  # warm: first embedding
            seconds: dict[bool, list[float]] = {True: [], False: []}
            alone: dict[str, list[float]] = {"update": [], "build": []}
            for round_ in range(args.rounds):
                for update in (True, False):
                    text = f"{abstracts[2 + round_]}\n\nround {round_} {update}\n"
                    seconds[update].append(timed_add(search_index, docs, text, update=update))
                # The update and the build alone, on one state: the file saved one add ago.
                stale = postings.Postings.load(index_dir / postings.POSTINGS_NAME)
                timed_add(search_index, docs, f"{abstracts[40 + round_]}\n", update=True)
                store = search_index.store
                with store.snapshot():
                    start = time.perf_counter()
                    updated = stale.updated(store)
                    alone["update"].append(time.perf_counter() - start)
                    start = time.perf_counter()
                    built = postings.Postings.build(store)
                    alone["build"].append(time.perf_counter() - start)
                assert updated is not None and np.array_equal(updated._weights, built._weights)
                assert np.array_equal(updated._rows, built._rows)
            stats = search_index.stats()
            search_index.close()
            add_on, add_off = (statistics.median(seconds[k]) for k in (True, False))
            up, bu = (statistics.median(alone[k]) for k in ("update", "build"))
            print(
                f"\n{n:,} passages ({stats['chunks']:,} chunks, postings file "
                f"{stats['postings_bytes'] / 1e6:.0f} MB), medians of {args.rounds}:\n"
                f"  SearchIndex.add of one edited file: {add_on:.3f} s with the update, "
                f"{add_off:.3f} s with a build (x{add_off / add_on:.2f})\n"
                f"  postings alone: update {up * 1e3:.0f} ms, build {bu * 1e3:.0f} ms "
                f"(update = {up / bu:.0%} of a build; arrays equal)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
