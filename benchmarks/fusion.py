"""Fusion rules for hybrid ranking, compared offline on Cranfield and CISI (and keyword queries).

Run by hand from the repository root (not a test):

    python benchmarks/fusion.py                    # index once (cached), then the table
    python benchmarks/fusion.py --cache DIR        # where the two indexes are kept

Each collection (``data/cranfield``, ``data/cisi``) is indexed once with the bundled model in
fp32 (``python -m searchapp index corpus.jsonl --precision fp32``) under ``--cache``. Then, for
every query, the dense top ``DEPTH`` (cosines), the lexical top ``DEPTH`` (BM25), the cosine of
every lexical candidate and the query's BM25 ceiling are read once (``read_candidates``: the one
function that reaches into the searcher's internals). A rule only reorders those lists: it fuses
the top ``FUSION_DEPTH`` of each and, as the searcher does, continues with the dense ranking
past them. ``DEPTH`` is what `search eval` fetches for its k = 100. A run keeps each document's
best chunk (per_doc = 1, as `search eval`), scored by ``evaluation.evaluate``.

Rules, each over the two top-100 lists:
- ``rrf``: reciprocal-rank fusion, sum of w / (k + rank); equal weights is the rule before this
  benchmark and must reproduce `search eval`'s hybrid number of then (0.3967 and 0.4160).
- ``minmax``/``z``: alpha * dense + (1 - alpha) * BM25, each min-max or z normalised over its own
  list; a chunk missing from a list gets that list's minimum (0 after min-max). alpha 0.5 of
  min-max is CombSUM; ``combmnz`` multiplies CombSUM by the number of lists holding the chunk.
- ``rerank``: the dense top 100 only, by cosine + beta * BM25 / the list's best BM25 (0 if
  unmatched): lexical evidence re-ranks, never adds.
- ``adaptive rrf``: RRF with the lexical weight set per query to scale * (best BM25 / ceiling),
  how much of what the query's words could score its best chunk reached.
- ``ceiling``: cosine + beta * BM25 / ceiling (``searchapp/ranking/fusion.py``), BM25 over the
  most any chunk could score for the query; a chunk missing from the lexical list counts 0.

The keyword columns are synthetic known-item queries, not judgments: for 150 documents of each
collection drawn at random (seed 0), three distinct words of the document (letters only, longer
than three, in at least 2 and at most 2% of the documents) drawn at random; the document is the
one relevant answer. They stand for a user who types words remembered from one document, where
BM25 is strong and dense weak: a rule that loses them has given up what the lexical ranker is for.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `searchapp` and `minilm` importable

from benchmarks.machine import cpu_model  # noqa: E402
from searchapp.ranking.evaluation import evaluate, read_qrels, read_queries  # noqa: E402
from searchapp.ranking.fusion import BM25_WEIGHT, fuse  # noqa: E402
from searchapp.ranking.searcher import FUSION_DEPTH  # noqa: E402

logger = logging.getLogger("fusion")

COLLECTIONS = {"Cranfield": REPO_ROOT / "data" / "cranfield", "CISI": REPO_ROOT / "data" / "cisi"}
DEPTH = 400  # what `search eval` fetches per ranker: k = 100 results, 4 candidates each
KEYWORD_QUERIES = 150
BOOTSTRAP_SAMPLES = 2000


@dataclass(frozen=True)
class Candidates:
    """What the two rankers return for one query, read once."""

    dense: list[tuple[int, float]]  # (chunk id, cosine), best first
    lexical: list[tuple[int, float]]  # (chunk id, BM25), best first
    cosine: dict[int, float]  # every candidate's cosine
    ceiling: float  # the most BM25 a chunk could score for the query (fusion.bm25_ceiling)


Rule = Callable[[Candidates], list[int]]


# -- the index: built once, read once ------------------------------------------------------------


def ensure_index(corpus: Path, index_dir: Path) -> Path:
    """Index ``corpus`` with the bundled model in fp32, unless ``index_dir`` already holds it."""
    if not (index_dir / "index.db").exists():
        logger.info("indexing %s into %s", corpus, index_dir)
        subprocess.run(
            [sys.executable, "-m", "searchapp", "index", str(corpus)]
            + ["--index-dir", str(index_dir), "--precision", "fp32"],
            check=True,
            cwd=REPO_ROOT,
        )
    return index_dir


def read_candidates(
    index_dir: Path, queries: dict[str, str]
) -> tuple[dict[str, Candidates], dict[int, str]]:
    """Each query's candidates, and the doc id of every candidate chunk.

    The one place that reaches into ``SearchIndex`` and ``Searcher`` internals (the facade is
    being refactored): when they move, change this function, not the rules.
    """
    from searchapp.ranking.searcher import Searcher
    from searchapp.search_index import SearchIndex
    from searchapp.storage.schema import record_id

    index = SearchIndex(index_dir)
    ids = list(queries)
    vectors = index.load_encoder().encode([queries[q] for q in ids])  # as search_many does
    searcher = Searcher(index.store, index.open_vectors(), index.open_postings())
    found: dict[str, Candidates] = {}
    with index.store.snapshot():
        for qid, vector in zip(ids, vectors, strict=True):
            scores, chunk_ids = searcher.vectors.search(vector.reshape(1, -1), DEPTH)
            dense = [(int(i), float(s)) for i, s in zip(chunk_ids[0], scores[0]) if i >= 0]
            lexical = searcher._lexical(queries[qid], DEPTH)
            cosine = dict(dense)
            missing = [i for i, _ in lexical if i not in cosine]
            if missing:
                cosine.update(searcher._cosines(missing, vector))
            ceiling = searcher._bm25_ceiling(queries[qid])
            found[qid] = Candidates(dense, lexical, cosine, ceiling)
        every = sorted({i for c in found.values() for i in c.cosine})
        doc_of = {c.id: record_id(c.doc_id, c.path) for c in index.store.get_chunks(every)}
    index.close()
    return found, doc_of


def live_hybrid_run(index_dir: Path, queries: dict[str, str]) -> dict[str, list[str]]:
    """The doc ids `search eval` ranks in hybrid mode, through the library's public path."""
    from searchapp.ranking.searcher import SearchOptions
    from searchapp.search_index import SearchIndex

    index = SearchIndex(index_dir)
    ids = list(queries)
    options = SearchOptions(k=100, mode="hybrid", per_doc=1)
    hits = index.search_many([queries[q] for q in ids], options)
    index.close()
    return {qid: [hit.record_id for hit in found] for qid, found in zip(ids, hits, strict=True)}


# -- keyword queries (synthetic) ------------------------------------------------------------------


def keyword_queries(corpus: Path) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """Known-item queries: three words of one document each; that document is the answer."""
    documents = [json.loads(line) for line in corpus.read_text("utf-8").splitlines()]
    words = [
        list(dict.fromkeys(w for w in re.findall(r"[a-z]+", f"{d['title']} {d['text']}".lower())))
        for d in documents
    ]
    frequency: dict[str, int] = {}
    for doc_words in words:
        for word in doc_words:
            frequency[word] = frequency.get(word, 0) + 1
    rare = 0.02 * len(documents)
    rng = random.Random(0)
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for n in sorted(rng.sample(range(len(documents)), KEYWORD_QUERIES)):
        pool = [w for w in words[n] if len(w) > 3 and 2 <= frequency[w] <= rare]
        if len(pool) >= 3:
            doc_id = str(documents[n]["_id"])
            queries[f"k{doc_id}"] = " ".join(rng.sample(pool, 3))
            qrels[f"k{doc_id}"] = {doc_id: 1}
    return queries, qrels


# -- the rules ------------------------------------------------------------------------------------


def with_dense_tail(c: Candidates, order: list[int]) -> list[int]:
    """The fused order, then the rest of the dense ranking (as ``Searcher._rank``)."""
    seen = set(order)
    return order + [i for i, _ in c.dense if i not in seen]


def _sorted(c: Candidates, fused: dict[int, float]) -> list[int]:
    return with_dense_tail(c, sorted(fused, key=lambda i: (-fused[i], -c.cosine[i], i)))


def dense_only(c: Candidates) -> list[int]:
    return [i for i, _ in c.dense]


def lexical_only(c: Candidates) -> list[int]:
    return [i for i, _ in c.lexical]


def rrf(k: int = 60, dense_weight: float = 1.0) -> Rule:
    def rule(c: Candidates) -> list[int]:
        fused: dict[int, float] = {}
        lists = ((dense_weight, c.dense[:FUSION_DEPTH]), (1.0, c.lexical[:FUSION_DEPTH]))
        for weight, ranking in lists:
            for rank, (i, _) in enumerate(ranking, start=1):
                fused[i] = fused.get(i, 0.0) + weight / (k + rank)
        return _sorted(c, fused)

    return rule


def adaptive_rrf(scale: float, k: int = 60) -> Rule:
    def rule(c: Candidates) -> list[int]:
        lexical = c.lexical[:FUSION_DEPTH]
        weight = scale * lexical[0][1] / c.ceiling if lexical and c.ceiling > 0 else 0.0
        fused: dict[int, float] = {}
        for w, ranking in ((1.0, c.dense[:FUSION_DEPTH]), (weight, lexical)):
            for rank, (i, _) in enumerate(ranking, start=1):
                fused[i] = fused.get(i, 0.0) + w / (k + rank)
        return _sorted(c, fused)

    return rule


def _normalised(scores: list[tuple[int, float]], kind: str) -> dict[int, float]:
    if not scores:
        return {}
    values = np.array([s for _, s in scores])
    if kind == "minmax":
        span = values.max() - values.min()
        values = (values - values.min()) / span if span > 0 else np.ones_like(values)
    else:
        spread = values.std()
        values = (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)
    return dict(zip((i for i, _ in scores), values.tolist(), strict=True))


def convex(alpha: float, kind: str, mnz: bool = False) -> Rule:
    """alpha * dense + (1 - alpha) * lexical, normalised; missing -> that list's minimum."""

    def rule(c: Candidates) -> list[int]:
        dense = _normalised(c.dense[:FUSION_DEPTH], kind)
        lexical = _normalised(c.lexical[:FUSION_DEPTH], kind)
        dense_floor = min(dense.values(), default=0.0)
        lexical_floor = min(lexical.values(), default=0.0)
        fused = {
            i: alpha * dense.get(i, dense_floor) + (1 - alpha) * lexical.get(i, lexical_floor)
            for i in dict.fromkeys([*dense, *lexical])
        }
        if mnz:
            fused = {i: s * ((i in dense) + (i in lexical)) for i, s in fused.items()}
        return _sorted(c, fused)

    return rule


def rerank(beta: float) -> Rule:
    def rule(c: Candidates) -> list[int]:
        bm25 = dict(c.lexical[:FUSION_DEPTH])
        best = max(bm25.values(), default=1.0)
        fused = {i: s + beta * bm25.get(i, 0.0) / best for i, s in c.dense[:FUSION_DEPTH]}
        return _sorted(c, fused)

    return rule


def ceiling_rule(beta: float) -> Rule:
    def rule(c: Candidates) -> list[int]:
        dense = [i for i, _ in c.dense[:FUSION_DEPTH]]
        fused = fuse(dense, c.lexical[:FUSION_DEPTH], c.cosine, c.ceiling, weight=beta)
        return with_dense_tail(c, [i for i, _ in fused])

    return rule


def rules() -> dict[str, Rule]:
    table: dict[str, Rule] = {"dense": dense_only, "lexical": lexical_only}
    table["rrf k=60, equal (before)"] = rrf()
    for weight in (2, 3, 4, 6):
        table[f"rrf k=60, dense x{weight}"] = rrf(dense_weight=weight)
    table["rrf k=20, dense x2"] = rrf(k=20, dense_weight=2)
    for alpha in (0.5, 0.6, 0.7, 0.8, 0.9):
        name = " (CombSUM)" if alpha == 0.5 else ""
        table[f"minmax alpha={alpha}{name}"] = convex(alpha, "minmax")
    table["CombMNZ"] = convex(0.5, "minmax", mnz=True)
    for alpha in (0.6, 0.7, 0.8):
        table[f"z alpha={alpha}"] = convex(alpha, "z")
    for beta in (0.1, 0.2, 0.3):
        table[f"rerank dense top 100, beta={beta}"] = rerank(beta)
    for scale in (1, 2):
        table[f"adaptive rrf, scale={scale}"] = adaptive_rrf(scale)
    for beta in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0):
        chosen = " (chosen)" if beta == BM25_WEIGHT else ""
        table[f"ceiling beta={beta}{chosen}"] = ceiling_rule(beta)
    return table


# -- scoring --------------------------------------------------------------------------------------


@dataclass
class Workload:
    candidates: dict[str, Candidates]
    doc_of: dict[int, str]
    qrels: dict[str, dict[str, int]]

    def score(self, rule: Rule) -> dict[str, dict[str, float]]:
        """Per-query nDCG@10 and recall@100 of the rule's run."""
        run = {q: [self.doc_of[i] for i in rule(c)] for q, c in self.candidates.items()}
        return evaluate(run, self.qrels, ks=(10, 100)).per_query


def mean(per_query: dict[str, dict[str, float]], metric: str) -> float:
    return float(np.mean([row[metric] for row in per_query.values()]))


def bootstrap(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> tuple[float, ...]:
    """Mean nDCG@10 of a - b with a 95% paired-bootstrap interval over the queries."""
    diff = np.array([a[q]["ndcg@10"] - b[q]["ndcg@10"] for q in a])
    rng = np.random.default_rng(0)
    means = diff[rng.integers(0, len(diff), (BOOTSTRAP_SAMPLES, len(diff)))].mean(axis=1)
    return float(diff.mean()), *np.quantile(means, [0.025, 0.975]).tolist()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    default_cache = Path(tempfile.gettempdir()) / "searchapp-fusion"
    parser.add_argument("--cache", type=Path, default=default_cache, help="index folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    judged: dict[str, Workload] = {}
    keywords: dict[str, Workload] = {}
    for name, data in COLLECTIONS.items():
        index_dir = ensure_index(data / "corpus.jsonl", args.cache / name.lower())
        queries = read_queries(data / "queries.jsonl")
        qrels = read_qrels(data / "qrels" / "test.tsv")
        logger.info("%s: reading the candidates of %d queries", name, len(queries))
        judged[name] = Workload(*read_candidates(index_dir, queries), qrels)
        known_queries, known_qrels = keyword_queries(data / "corpus.jsonl")
        keywords[name] = Workload(*read_candidates(index_dir, known_queries), known_qrels)
        # The offline copy of the library's rule must be what `search eval` measures.
        live = evaluate(live_hybrid_run(index_dir, queries), qrels, ks=(10, 100)).metrics
        offline = mean(judged[name].score(ceiling_rule(BM25_WEIGHT)), "ndcg@10")
        if abs(live["ndcg@10"] - offline) > 1e-9:
            raise SystemExit(f"{name}: offline {offline:.6f} != search eval {live['ndcg@10']:.6f}")
        if offline <= 0:  # the judgments' ids match no hit's record id
            raise SystemExit(f"{name}: nDCG@10 is 0; the hits' ids do not match the qrels")

    names = list(COLLECTIONS)
    scores = {
        rule_name: {
            **{name: judged[name].score(rule) for name in names},
            **{f"{name} keywords": keywords[name].score(rule) for name in names},
        }
        for rule_name, rule in rules().items()
    }
    best_single = {
        name: max(mean(scores[m][name], "ndcg@10") for m in ("dense", "lexical")) for name in names
    }
    print(f"{cpu_model()}, {date.today().isoformat()}; fp32 indexes, all-MiniLM-L6-v2.\n")
    header = (
        ["rule"]
        + [f"{n} nDCG@10" for n in names]
        + ["worst margin"]
        + [f"{n} R@100" for n in names]
        + [f"{n} keywords nDCG@10" for n in names]
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    for rule_name, row in scores.items():
        ndcg = [mean(row[n], "ndcg@10") for n in names]
        margin = min(v - best_single[n] for v, n in zip(ndcg, names, strict=True))
        cells = (
            [f"{v:.4f}" for v in ndcg]
            + [f"{margin:+.4f}"]
            + [f"{mean(row[n], 'recall@100'):.4f}" for n in names]
            + [f"{mean(row[f'{n} keywords'], 'ndcg@10'):.4f}" for n in names]
        )
        print(f"| {rule_name} | " + " | ".join(cells) + " |")
    chosen = next(name for name in scores if name.endswith("(chosen)"))
    print("\nnDCG@10 minus dense, mean over queries [95% paired-bootstrap interval]:\n")
    for rule_name in ("rrf k=60, equal (before)", chosen):
        parts = []
        for n in names:
            diff, low, high = bootstrap(scores[rule_name][n], scores["dense"][n])
            parts.append(f"{n} {diff:+.4f} [{low:+.4f}, {high:+.4f}]")
        print(f"- {rule_name}: " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
