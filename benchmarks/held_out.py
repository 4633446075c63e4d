"""Ranking on collections never tuned on: man pages and Python's documentation, judged queries.

Run by hand from the repository root (not a test):

    python benchmarks/held_out.py                         # both collections (~4 min on 2 cores)
    python benchmarks/held_out.py man-pages --precision fp32

Each collection's documents are rendered on the machine that runs this, one ``NAME.txt`` each:
``man-pages``, the pages of ``data/man-pages/commands.txt`` as ``man -P cat NAME | col -bx``
prints them (needs `man` and `col`; a page this machine lacks is left out, with its judgments);
``python-docs``, the modules of ``data/python-docs/modules.txt`` as ``pydoc`` renders them in
plain text with this Python (``pydoc.render_doc(module, renderer=pydoc.plaintext)``). The queries
and judgments (``data/<collection>/``) were written for this project before any ranking was
looked at, in four kinds, told by the first letter of the query id: a paraphrase that shares few
words with its document (a), a rare exact word (b), one or two words (c), a query naming its
command or module (d). Each mode ranks documents by their best passage, as `search eval` does;
hybrid is also ranked without file names (``Searcher._named`` returning nothing), and without
reading a query that is one name alone as asking for its definition (``definitions.whole_name``
returning None), in the same run.
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
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `searchapp` and `minilm` importable

from benchmarks.machine import describe  # noqa: E402
from searchapp.ranking import definitions as definitions_module  # noqa: E402
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

DATA = REPO_ROOT / "data"
KINDS = {"a": "paraphrase", "b": "rare word", "c": "short", "d": "names it"}

# Renders every listed module in one process, each into NAME.txt; prints how many it rendered.
PYDOC_SCRIPT = """
import importlib, pathlib, pydoc, sys, warnings
warnings.simplefilter("ignore")
folder, made = pathlib.Path(sys.argv[1]), 0
for name in pathlib.Path(sys.argv[2]).read_text("utf-8").split():
    try:
        text = pydoc.render_doc(importlib.import_module(name), renderer=pydoc.plaintext)
    except Exception:
        continue
    (folder / f"{name}.txt").write_text(text, "utf-8")
    made += 1
print(made)
"""


def render_man_pages(folder: Path) -> int:
    """Each listed page as ``NAME.txt`` in ``folder``; returns how many this machine has."""
    if not (shutil.which("man") and shutil.which("col")):
        raise SystemExit("man-pages needs `man` and `col` to render the pages")
    env = {**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "0"}
    made = 0
    for name in (DATA / "man-pages" / "commands.txt").read_text("utf-8").split():
        page = subprocess.run(["man", "-P", "cat", name], capture_output=True, env=env, timeout=60)
        if page.returncode != 0 or not page.stdout:
            continue
        plain = subprocess.run(["col", "-bx"], input=page.stdout, capture_output=True, timeout=60)
        (folder / f"{name}.txt").write_bytes(plain.stdout)
        made += 1
    return made


def render_python_docs(folder: Path) -> int:
    """Each listed module's pydoc text as ``NAME.txt`` in ``folder``; returns how many."""
    modules = DATA / "python-docs" / "modules.txt"
    env = {**os.environ, "PAGER": "cat", "COLUMNS": "80"}
    done = subprocess.run(
        # -I: neither the working folder nor PYTHON* variables: a json.py lying in /tmp would
        # be rendered in place of the standard library's.
        [sys.executable, "-I", "-c", PYDOC_SCRIPT, str(folder), str(modules)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    return int(done.stdout.split()[-1])


COLLECTIONS: dict[str, Callable[[Path], int]] = {
    "man-pages": render_man_pages,
    "python-docs": render_python_docs,
}


def scores(index: SearchIndex, queries: dict, qrels: dict, mode: str) -> dict[str, list[tuple]]:
    """nDCG@10, MRR@10, recall@10 of each judged query, by kind (and "all")."""
    ids = [q for q in queries if q in qrels]
    options = SearchOptions(k=100, mode=mode, per_doc=1, phrases=False, collapse_copies=False)
    hits = index.search_many([queries[q] for q in ids], options)
    found: dict[str, list[tuple]] = defaultdict(list)
    for qid, ranked in zip(ids, hits, strict=True):
        run = [hit.record_id for hit in ranked]
        row = tuple(f(run, qrels[qid], 10) for f in (ndcg_at_k, mrr_at_k, recall_at_k))
        found[qid[0]].append(row)
        found["all"].append(row)
    return found


def evaluate(name: str, precision: str) -> dict[str, dict[str, list[tuple]]]:
    """Render, index and score one collection; its rows by mode."""
    data = DATA / name
    with tempfile.TemporaryDirectory(prefix=f"searchapp-{name}-") as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        rendered = COLLECTIONS[name](docs)
        queries = read_queries(data / "queries.jsonl")
        judged = read_qrels(data / "qrels.tsv")
        qrels = {  # the judgments of the documents rendered here, by their paths
            qid: {str(docs / d): g for d, g in found.items() if (docs / d).exists()}
            for qid, found in judged.items()
        }
        qrels = {qid: found for qid, found in qrels.items() if any(found.values())}
        start = time.perf_counter()
        index = SearchIndex(Path(tmp) / "idx", precision=precision)
        index.add([docs])
        stats = index.stats()
        size = sum(path.stat().st_size for path in docs.iterdir())
        print(
            f"\n{name}: {rendered} documents rendered ({size / 1e6:.1f} MB, "
            f"{stats['chunks']:,} passages, precision {stats['precision']}), indexed in "
            f"{time.perf_counter() - start:.0f} s; {len(qrels)} of {len(queries)} queries "
            "judged here",
            flush=True,
        )
        rows = {mode: scores(index, queries, qrels, mode) for mode in ("dense", "lexical")}
        rows["hybrid"] = scores(index, queries, qrels, "hybrid")
        named = searcher_module.Searcher._named
        searcher_module.Searcher._named = lambda self, query, candidates: ({}, False)
        try:
            rows["hybrid, no names"] = scores(index, queries, qrels, "hybrid")
        finally:
            searcher_module.Searcher._named = named
        # A query that is a name alone read as asking for its definition (``whole_name``), or not.
        whole_name = definitions_module.whole_name
        searcher_module.whole_name = definitions_module.whole_name = lambda query: None
        try:
            rows["hybrid, no whole names"] = scores(index, queries, qrels, "hybrid")
        finally:
            searcher_module.whole_name = definitions_module.whole_name = whole_name
        index.close()
    return rows


def print_table(rows: dict[str, dict[str, list[tuple]]]) -> None:
    print("nDCG@10 / MRR@10 / recall@10, mean over the queries of each kind (n):")
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


def main(argv: list[str] | None = None) -> int:
    print(describe(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "collections", nargs="*", metavar="NAME", help=f"of {', '.join(COLLECTIONS)} (all)"
    )
    parser.add_argument("--precision", default="auto", help="as `search index --precision`")
    args = parser.parse_args(argv)
    for name in args.collections:
        if name not in COLLECTIONS:
            parser.error(f"no collection {name!r}: {', '.join(COLLECTIONS)}")
    for name in args.collections or COLLECTIONS:
        print_table(evaluate(name, args.precision))
    return 0


if __name__ == "__main__":
    sys.exit(main())
