"""Query latency: a cold `search query` process; warm SearchIndex.search on 10k and 100k passages.

Run by hand from the repository root (not a test):

    python benchmarks/query.py                   # 10k and 100k passages, 7 cold runs each
    python benchmarks/query.py --sizes 10000 --cold-runs 3

The indexes are built without embedding 100k texts: a seed file is indexed by `SearchIndex.add`
(which records the model), then synthetic documents of 8 passages each are written through the
Store API. Each passage's text is a Cranfield abstract and its vector a mixture made mostly of
that abstract's embedding (``scale.synthetic_batches``), so the lexical and dense rankers see
Cranfield-like data. The vectors are then built as ``auto`` picks for the size (``plan_params``),
and the lexical postings file as `search index` saves it. The index records ``--precision``
(auto by default, as `search index`: bf16 on CPUs with native bf16), which queries are embedded in.

Cold: wall time of `search query TEXT --index-dir DIR` in a new process (median of several runs,
after one untimed run that warms the OS file cache), against `python -c "import torch"` timed in
the same loop. Warm: one `SearchIndex` kept open, the 225 Cranfield queries one at a time; each
timing covers embedding the query, searching and fetching the passages' rows. Queries embed with
the PyTorch encoder, as in a server or an interactive REPL once it has loaded; the "numpy" row
with the NumPy encoder that answers until then (and every one-shot `search query`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `searchapp` and `minilm` importable

from scale import cranfield_vectors, read_jsonl, synthetic_batches  # noqa: E402

from benchmarks.machine import describe  # noqa: E402
from searchapp.ranking.postings import Postings, save_postings  # noqa: E402
from searchapp.ranking.searcher import SearchOptions  # noqa: E402
from searchapp.search_index import SearchIndex  # noqa: E402
from searchapp.storage.schema import Chunk  # noqa: E402
from searchapp.storage.vector_params import plan_params  # noqa: E402
from searchapp.storage.vectors_file import (  # noqa: E402
    INDEX_TYPE_KEY,
    build_from_store,
    fit_vectors,
    save_vectors,
)

PASSAGES_PER_DOCUMENT = 8  # divides scale.BATCH, so no document spans two batches
PASSAGES_PER_TRANSACTION = 2048


def build_index(
    index_dir: Path, n: int, abstracts: list[str], base: np.ndarray, precision: str
) -> float:
    """An index of ``n`` synthetic passages (plus the seed file's); returns the seconds it took."""
    start = time.perf_counter()
    seed = index_dir.parent / f"seed-{n}"
    seed.mkdir()
    (seed / "seed.txt").write_text(abstracts[0] + "\n", encoding="utf-8")
    search_index = SearchIndex(index_dir, precision=precision)
    search_index.add([seed])  # records model, dimension and chunking in meta, as `search index`
    store = search_index.store
    documents = 0
    for sources, vectors in synthetic_batches(base, n, seed=n):
        for first in range(0, len(sources), PASSAGES_PER_TRANSACTION):
            with store.transaction():
                last = min(first + PASSAGES_PER_TRANSACTION, len(sources))
                for at in range(first, last, PASSAGES_PER_DOCUMENT):
                    end = min(at + PASSAGES_PER_DOCUMENT, last)
                    path = f"/synthetic/doc{documents:07d}.txt"
                    document_id = store.upsert_document(doc_id=path, path=path, sha256="-")
                    texts = [abstracts[source] for source in sources[at:end]]
                    chunks = [Chunk(t, 0, len(t), 1, 1) for t in texts]
                    store.add_chunks(document_id, chunks, vectors[at:end])
                    documents += 1
    params = plan_params("auto", store.count_chunks())
    save_vectors(build_from_store(store, base.shape[1], params=params), store, index_dir)
    save_postings(Postings.build(store), store, index_dir)  # as `search index` does at its end
    search_index.close()
    return time.perf_counter() - start


def cold_runs(index_dir: Path, query: str, runs: int) -> dict[str, float]:
    """Median wall seconds, interleaved: `search query`, the REPL from start to its first answer,
    `python -c "import torch"` and `python -c "import numpy"`."""
    search = [str(Path(sys.executable).with_name("search"))]
    commands = {
        "search": [*search, "query", query, "--index-dir", str(index_dir)],
        "repl": [*search, "repl", "--index-dir", str(index_dir)],
        "torch": [sys.executable, "-c", "import torch"],
        "numpy": [sys.executable, "-c", "import numpy"],
    }
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(runs + 1):
        for name, command in commands.items():
            start = time.perf_counter()
            stdin = f"{query}\n" if name == "repl" else None  # answers, then reads EOF and ends
            subprocess.run(command, check=True, capture_output=True, input=stdin, text=True)
            if round_:  # round 0 warms the OS file cache
                seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in seconds.items()}


def warm_latency(
    index_dir: Path, queries: list[str], mode: str, encoder: str = "torch"
) -> dict[str, float]:
    """p50 and p99 ms of SearchIndex.search, one query at a time on an open index, and the p50
    of its two steps: embedding the query, then searching and fetching the passages' rows.

    ``encoder``: "torch", queries embedded by the PyTorch encoder, as in a process that loaded
    it (`search serve`, `search mcp`, an interactive REPL once it is ready); "numpy", by the
    NumPy encoder a one-shot `search query` uses.
    """
    search_index = SearchIndex(index_dir)
    if encoder == "torch":
        search_index.load_encoder()  # load_query_encoder then returns it
    options = SearchOptions(k=10, mode=mode)
    for query in queries[:10]:  # warm-up: loads the model and the vectors, first allocations
        search_index.search(query, k=10, mode=mode)
    total, embed, search = [], [], []
    for query in queries:
        start = time.perf_counter()
        vector = search_index._embed_queries([query])[0]  # search() is these two calls
        embedded = time.perf_counter()
        search_index._rank(query, vector, options)
        done = time.perf_counter()
        total.append(done - start)
        embed.append(embedded - start)
        search.append(done - embedded)
    search_index.close()
    return {
        "p50": float(np.percentile(total, 50) * 1e3),
        "p99": float(np.percentile(total, 99) * 1e3),
        "embed p50": float(np.percentile(embed, 50) * 1e3),
        "search p50": float(np.percentile(search, 50) * 1e3),
    }


def main(argv: list[str] | None = None) -> int:
    print(describe(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10000,100000", help="passages per index, comma-separated"
    )
    parser.add_argument("--cold-runs", type=int, default=7, help="timed `search query` processes")
    parser.add_argument(
        "--precision",
        default="auto",
        help="recorded in the index as `search index --precision` (default auto, as there); "
        "queries are embedded in it",
    )
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    if args.cold_runs < 1 or min(sizes) < 100:
        parser.error("--cold-runs must be at least 1 and each size at least 100")

    abstracts, queries = read_jsonl("corpus.jsonl"), read_jsonl("queries.jsonl")
    base, _ = cranfield_vectors()
    print(
        f"{len(queries)} Cranfield queries, k=10; {torch.get_num_threads()} torch threads; load "
        f"average {os.getloadavg()[0]:.2f} at start. Targets: cold `search query` <= 0.25x "
        "`import torch`, REPL to its first answer <= 0.5 s; warm on 100k passages p50 <= 10 ms, "
        "p99 <= 30 ms"
    )
    with tempfile.TemporaryDirectory(prefix="searchapp-query-") as tmp:
        for n in sizes:
            index_dir = Path(tmp) / f"index-{n}"
            seconds = build_index(index_dir, n, abstracts, base, args.precision)
            opened = SearchIndex(index_dir)
            stats = opened.stats()
            opened.close()
            print(f"\n{n:,} passages in {n // PASSAGES_PER_DOCUMENT:,} documents "
                  f"(built in {seconds:.0f}s), vectors {stats['vectors_params']}, "
                  f"precision {stats['precision']}", flush=True)  # fmt: skip
            cold = cold_runs(index_dir, queries[0], args.cold_runs)
            torch_s = cold["torch"]
            print(
                f"  cold, median of {args.cold_runs}: `search query` {cold['search'] * 1e3:.0f} ms "
                f"(x{cold['search'] / torch_s:.2f} `import torch`, target <= 0.25); REPL to its "
                f"first answer {cold['repl'] * 1e3:.0f} ms (target <= 500); `import torch` "
                f"{torch_s * 1e3:.0f} ms, `import numpy` {cold['numpy'] * 1e3:.0f} ms"
            )
            rows = {mode: warm_latency(index_dir, queries, mode) for mode in ("hybrid", "dense")}
            rows["hybrid, numpy"] = warm_latency(index_dir, queries, "hybrid", encoder="numpy")
            search_index = SearchIndex(index_dir)
            kind_now = search_index.open_vectors().kind
            if kind_now != "flat":  # the exact baseline, measured in the same run
                store = search_index.store
                fit_vectors(search_index.open_vectors(), store, index_dir, "flat")
                store.set_meta({INDEX_TYPE_KEY: "flat"})
                rows["hybrid, flat"] = warm_latency(index_dir, queries, "hybrid")
                rows["dense, flat"] = warm_latency(index_dir, queries, "dense")
            search_index.close()
            for mode, row in rows.items():
                label = mode if "flat" in mode or "numpy" in mode else f"{mode}, {kind_now}"
                print(
                    f"  warm SearchIndex.search ({label:<13}): p50 {row['p50']:6.2f} ms, "
                    f"p99 {row['p99']:6.2f} ms; p50 of embedding {row['embed p50']:5.2f}, of "
                    f"search + rows {row['search p50']:6.2f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
