"""Ranking on a collection never tuned on: this machine's man pages, 54 judged queries.

Run by hand from the repository root (not a test; needs `man` and `col`):

    python benchmarks/man_pages.py                      # index (~2 min on 2 cores), then eval
    python benchmarks/man_pages.py --precision fp32

The documents are the pages of ``data/man-pages/commands.txt`` as ``man -P cat NAME | col -bx``
renders them here (one ``NAME.txt`` each; a page this machine lacks is left out, and its
judgments with it). The queries and judgments (``data/man-pages/``) were written for this project
before any ranking was looked at, in four kinds, told by the first letter of the query id: a
paraphrase that shares few words with its page (a), a rare exact word (b), one or two words (c),
a query naming its command (d). Each mode ranks documents by their best passage, as `search eval`
does; hybrid is also ranked without file names (``Searcher._named`` returning nothing), in the
same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `searchapp` and `minilm` importable

from benchmarks.machine import describe  # noqa: E402
from searchapp.ranking import searcher as searcher_module  # noqa: E402
from searchapp.ranking.evaluation import (  # noqa: E402
    mrr_at_k,
    ndcg_at_k,
    read_qrels,
    read_queries,
    recall_at_k,
)
from searchapp.ranking.searcher import SearchOptions  # noqa: E402
from searchapp.search_index import SearchIndex  # noqa: E402

DATA = REPO_ROOT / "data" / "man-pages"
KINDS = {"a": "paraphrase", "b": "rare word", "c": "short", "d": "names its command"}


def render(folder: Path) -> int:
    """Each listed page as ``NAME.txt`` in ``folder``; returns how many this machine has."""
    env = {**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "0"}
    made = 0
    for name in (DATA / "commands.txt").read_text("utf-8").split():
        page = subprocess.run(["man", "-P", "cat", name], capture_output=True, env=env, timeout=60)
        if page.returncode != 0 or not page.stdout:
            continue
        plain = subprocess.run(["col", "-bx"], input=page.stdout, capture_output=True, timeout=60)
        (folder / f"{name}.txt").write_bytes(plain.stdout)
        made += 1
    return made


def scores(index: SearchIndex, queries: dict, qrels: dict, mode: str) -> dict[str, list[tuple]]:
    """nDCG@10, MRR@10, recall@10 of each judged query, by kind (and "all")."""
    ids = [q for q in queries if q in qrels]
    options = SearchOptions(k=100, mode=mode, per_doc=1, phrases=False)
    hits = index.search_many([queries[q] for q in ids], options)
    found: dict[str, list[tuple]] = defaultdict(list)
    for qid, ranked in zip(ids, hits, strict=True):
        run = [hit.record_id for hit in ranked]
        row = tuple(f(run, qrels[qid], 10) for f in (ndcg_at_k, mrr_at_k, recall_at_k))
        found[qid[0]].append(row)
        found["all"].append(row)
    return found


def main(argv: list[str] | None = None) -> int:
    print(describe(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="auto", help="as `search index --precision`")
    args = parser.parse_args(argv)
    if not (shutil.which("man") and shutil.which("col")):
        parser.error("needs `man` and `col` to render the pages")
    with tempfile.TemporaryDirectory(prefix="searchapp-man-") as tmp:
        docs = Path(tmp) / "man"
        docs.mkdir()
        pages = render(docs)
        queries = read_queries(DATA / "queries.jsonl")
        judged = read_qrels(DATA / "qrels.tsv")
        qrels = {  # the judgments of the pages rendered here, by their paths
            qid: {str(docs / d): g for d, g in found.items() if (docs / d).exists()}
            for qid, found in judged.items()
        }
        qrels = {qid: found for qid, found in qrels.items() if any(found.values())}
        start = time.perf_counter()
        index = SearchIndex(Path(tmp) / "idx", precision=args.precision)
        report = index.add([docs])
        stats = index.stats()
        print(
            f"{pages} pages rendered ({stats['chunks']:,} passages, precision "
            f"{stats['precision']}), indexed in {time.perf_counter() - start:.0f} s; "
            f"{len(qrels)} of {len(queries)} queries judged here; {report.added} files",
            flush=True,
        )
        rows = {mode: scores(index, queries, qrels, mode) for mode in ("dense", "lexical")}
        rows["hybrid"] = scores(index, queries, qrels, "hybrid")
        named = searcher_module.Searcher._named
        searcher_module.Searcher._named = lambda self, query, candidates: {}
        try:
            rows["hybrid, no names"] = scores(index, queries, qrels, "hybrid")
        finally:
            searcher_module.Searcher._named = named
        index.close()
    print("\nnDCG@10 / MRR@10 / recall@10, mean over the queries of each kind (n):")
    kinds = [*KINDS, "all"]
    counts = {kind: len(rows["dense"][kind]) for kind in kinds}
    header = " | ".join(f"{KINDS.get(k, 'all')} ({counts[k]})" for k in kinds)
    print(f"| mode | {header} |")
    print("|---|" + "---:|" * len(kinds))
    for mode, found in rows.items():
        cells = []
        for kind in kinds:
            n = max(len(found[kind]), 1)
            means = [sum(row[i] for row in found[kind]) / n for i in range(3)]
            cells.append(" / ".join(f"{m:.3f}" for m in means))
        print(f"| {mode} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
