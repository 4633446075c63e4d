"""Word order as evidence (``searchapp/ranking/proximity.py``): with it and without, in one run.

Run by hand from the repository root (not a test):

    python benchmarks/word_order.py                      # indexes cached in the temp folder
    python benchmarks/word_order.py --cache DIR --fragments 300

Each collection (``data/cranfield``, ``data/cisi``) is indexed once in fp32 under ``--cache``
(``fusion.ensure_index``). Then, for hybrid and lexical ranking, with ``PROXIMITY_WEIGHT`` as
shipped and at 0, in the same process on the same index:

- judged: `search eval`'s nDCG@10 and MRR@10 on the collection's questions;
- pasted: ``--fragments`` passages drawn at random (seed 0), from each a stretch of 4 to 9 of its
  words as written (punctuation and all), as one pastes a line of an error message or a
  sentence remembered; in every other one a word inside the stretch is replaced by "4711" (the
  value a message interpolated). The passage's document is the one right answer: its MRR@10,
  and how often it ranks first.

Prints the CPU, then a markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `searchapp` and `minilm` importable

from benchmarks.fusion import ensure_index  # noqa: E402
from benchmarks.machine import cpu_model  # noqa: E402
from searchapp.ranking import proximity  # noqa: E402
from searchapp.ranking.evaluation import evaluate_modes, read_qrels, read_queries  # noqa: E402
from searchapp.ranking.searcher import SearchOptions  # noqa: E402
from searchapp.search_index import SearchIndex  # noqa: E402

MODES = ("hybrid", "lexical")
_WORD_SPAN = re.compile(r"\S+")


def fragments(index: SearchIndex, count: int) -> list[tuple[str, str]]:
    """``(fragment, doc id)`` for ``count`` passages drawn at random (seed 0)."""
    rng = random.Random(0)
    ids = [int(i) for i in index.store.chunk_ids()]
    drawn: list[tuple[str, str]] = []
    for chunk in index.store.get_chunks(rng.sample(ids, min(len(ids), count * 2))):
        spans = list(_WORD_SPAN.finditer(chunk.text))
        if len(spans) < 12:
            continue
        length = rng.randint(4, 9)
        first = rng.randrange(0, len(spans) - length)
        words = [m.group() for m in spans[first : first + length]]
        if len(drawn) % 2:
            words[rng.randrange(1, length - 1)] = "4711"
        drawn.append((" ".join(words), chunk.doc_id))
        if len(drawn) == count:
            break
    return drawn


def pasted_scores(
    index: SearchIndex, drawn: list[tuple[str, str]], mode: str
) -> tuple[float, float]:
    """(MRR@10, share ranked first) of each fragment's own document."""
    options = SearchOptions(k=10, mode=mode, per_doc=1, phrases=False)
    found = index.search_many([text for text, _ in drawn], options)
    reciprocal, first = 0.0, 0
    for (_, doc_id), hits in zip(drawn, found, strict=True):
        ranks = [hit.rank for hit in hits if hit.doc_id == doc_id]
        if ranks:
            reciprocal += 1.0 / ranks[0]
            first += ranks[0] == 1
    return reciprocal / len(drawn), first / len(drawn)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "searchapp-bench"
    )
    parser.add_argument("--fragments", type=int, default=200)
    args = parser.parse_args(argv)
    shipped = proximity.PROXIMITY_WEIGHT
    print(f"CPU: {cpu_model()}; PROXIMITY_WEIGHT {shipped}, MAX_HOLDERS {proximity.MAX_HOLDERS}\n")
    columns = ["collection", "mode", "weight", "judged nDCG@10", "judged MRR@10"]
    columns += ["pasted MRR@10", "pasted first"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in ("cranfield", "cisi"):
        data = REPO_ROOT / "data" / name
        index = SearchIndex(ensure_index(data / "corpus.jsonl", args.cache / name))
        queries = read_queries(data / "queries.jsonl")
        qrels = read_qrels(data / "qrels" / "test.tsv")
        drawn = fragments(index, args.fragments)
        for mode in MODES:
            for weight in (shipped, 0.0):
                proximity.PROXIMITY_WEIGHT = weight
                judged = evaluate_modes(index.search_many, queries, qrels, [mode])[mode]
                mrr, first = pasted_scores(index, drawn, mode)
                print(
                    f"| {name} | {mode} | {weight} | {judged['ndcg@10']:.4f} | "
                    f"{judged['mrr@10']:.4f} | {mrr:.4f} | {first:.1%} |",
                    flush=True,
                )
        proximity.PROXIMITY_WEIGHT = shipped
        index.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
