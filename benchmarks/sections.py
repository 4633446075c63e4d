"""Ranking on notes-like Markdown: Cranfield abstracts as short sections of larger files, against
the same abstracts one per file, judged by the Cranfield judgments.

Run by hand from the repository root (not a test):

    python benchmarks/sections.py                  # 10 abstracts to a file
    python benchmarks/sections.py --per-file 20 --modes dense hybrid

Each abstract (data/cranfield/corpus.jsonl) becomes a section, ``## <its first sentence>`` then
the rest, ``--per-file`` sections to a Markdown file; the baseline writes each abstract, heading
and all, to a file of its own. Both folders are indexed with the bundled model (fp32) and the 225
Cranfield queries are run in each mode with ``--per-doc`` high enough for every section of a file
to be ranked. A hit counts as the abstract whose section holds its ``line`` (the line a person is
sent to), so a passage that runs over several sections is judged by the one it points at.
nDCG@10 and Recall@10 are printed for both layouts, with the ratio of sections to baseline.
"""

from __future__ import annotations

import argparse
import bisect
import json
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `searchapp` importable

from benchmarks.machine import describe  # noqa: E402
from searchapp.ranking.evaluation import (  # noqa: E402
    ndcg_at_k,
    read_qrels,
    read_queries,
    recall_at_k,
)
from searchapp.ranking.searcher import SearchOptions  # noqa: E402
from searchapp.search_index import SearchIndex  # noqa: E402

CRANFIELD = REPO_ROOT / "data" / "cranfield"
K = 10


def sections() -> list[tuple[str, str, str]]:
    """(doc id, heading, body) of each non-empty abstract: the heading is its first sentence
    (Cranfield repeats the title there), the body the rest."""
    out = []
    for line in (CRANFIELD / "corpus.jsonl").read_text("utf-8").splitlines():
        record = json.loads(line)
        text = " ".join(record["text"].split())
        if not text:
            continue
        head, dot, body = text.partition(" . ")
        if not body:
            head, body = head[:80], text
        out.append((record["_id"], head.strip(), body.strip()))
    return out


def write(folder: Path, per_file: int) -> dict[str, list[tuple[int, str]]]:
    """Markdown files of ``per_file`` sections; for each file, (first line, doc id) of each
    section in line order."""
    folder.mkdir()
    layout: dict[str, list[tuple[int, str]]] = {}
    items = sections()
    for n, start in enumerate(range(0, len(items), per_file)):
        path = folder / f"notes-{n:04d}.md"
        lines: list[str] = []
        starts = []
        for doc_id, head, body in items[start : start + per_file]:
            starts.append((len(lines) + 1, doc_id))
            lines += [f"## {head}", "", *_wrap(body), ""]
        path.write_text("\n".join(lines), "utf-8")
        layout[str(path.resolve())] = starts
    return layout


def _wrap(text: str, width: int = 76) -> list[str]:
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return [*lines, current] if current else lines


def doc_of(layout: dict[str, list[tuple[int, str]]], path: str, line: int) -> str:
    starts = layout[path]
    index = bisect.bisect_right(starts, (line, "\uffff")) - 1
    return starts[max(index, 0)][1]


def run(folder: Path, layout, queries, qrels, modes, per_file: int) -> dict[str, tuple]:
    index = SearchIndex(folder.parent / f"{folder.name}-index", precision="fp32")
    start = time.perf_counter()
    report = index.add([folder])
    seconds = time.perf_counter() - start
    chunks = index.stats()["chunks"]
    ids = [q for q in queries if q in qrels]
    results = {}
    for mode in modes:
        options = SearchOptions(k=4 * K, mode=mode, per_doc=per_file)
        rankings = index.search_many([queries[q] for q in ids], options)
        ndcg = recall = 0.0
        for q, hits in zip(ids, rankings, strict=True):
            ranking = [doc_of(layout, hit.path, hit.line) for hit in hits]
            ndcg += ndcg_at_k(ranking, qrels[q], K)
            recall += recall_at_k(ranking, qrels[q], K)
        results[mode] = (ndcg / len(ids), recall / len(ids))
    index.close()
    print(f"  {folder.name}: {report.added} files, {chunks} passages, {seconds:.1f} s")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-file", type=int, default=10, help="sections to a Markdown file")
    parser.add_argument("--modes", nargs="+", default=["dense", "hybrid", "lexical"])
    args = parser.parse_args()
    print(describe())
    queries = read_queries(CRANFIELD / "queries.jsonl")
    qrels = read_qrels(CRANFIELD / "qrels" / "test.tsv")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        got = {}
        for name, per_file in (("one-per-file", 1), (f"{args.per_file}-per-file", args.per_file)):
            folder = root / name
            got[name] = run(folder, write(folder, per_file), queries, qrels, args.modes, per_file)
    base, mixed = got["one-per-file"], got[f"{args.per_file}-per-file"]
    print(f"\nnDCG@{K} / Recall@{K} over {len(qrels)} judged queries")
    print(f"{'mode':8} {'one per file':>20} {f'{args.per_file} per file':>20} {'ratio':>7}")
    for mode in args.modes:
        (bn, br), (mn, mr) = base[mode], mixed[mode]
        print(f"{mode:8} {bn:>11.4f} / {br:.4f} {mn:>11.4f} / {mr:.4f} {mn / bn:>7.3f}")


if __name__ == "__main__":
    main()
