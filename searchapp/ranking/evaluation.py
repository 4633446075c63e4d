"""Retrieval evaluation: read BEIR/TREC queries and judgments, score ranked lists against them.

Metrics follow the trec_eval/pytrec_eval conventions that BEIR reports:
- nDCG@k with linear gain, DCG = sum rel_i / log2(i + 1) for ranks i = 1..k, divided by the DCG
  of the judged documents sorted by gain;
- MRR@k = 1 / rank of the first relevant document within k (0 when there is none);
- Recall@k = relevant documents in the top k / all relevant documents;
- MAP@k (average precision) = sum of precision@i at each rank i <= k holding a relevant document,
  divided by all relevant documents.
A document is relevant when its gain is > 0; gains <= 0 count as 0. A ranking is first cut of
repeated document ids (the first occurrence stays), then cut to k.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from searchapp.errors import BadInputError
from searchapp.ranking.searcher import Hit, SearchOptions

Judgments = Mapping[str, int]  # doc id -> gain
Qrels = dict[str, dict[str, int]]  # query id -> doc id -> gain

NO_RELEVANT = "no relevant judgments"
NOT_IN_QUERIES = "not in queries file"

QUERY_HEADER_IDS = {"id", "_id", "qid", "query-id", "query_id"}
QRELS_HELP = (
    "a BEIR qrels TSV ('query-id corpus-id score', header optional) or a TREC qrels file "
    "('qid 0 docid relevance', no header)"
)


# ---------------------------------------------------------------------------------------------
# Metrics on one ranked list


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise BadInputError(f"k ({k!r}) must be a positive integer, such as 10")


def _top_k(ranking: Sequence[str], k: int) -> list[str]:
    """The first k distinct doc ids of ``ranking``, in order."""
    _check_k(k)
    seen: set[str] = set()
    top: list[str] = []
    for doc_id in ranking:
        if doc_id not in seen:
            seen.add(doc_id)
            top.append(doc_id)
            if len(top) == k:
                break
    return top


def _relevant(judgments: Judgments) -> set[str]:
    return {doc_id for doc_id, gain in judgments.items() if gain > 0}


def ndcg_at_k(ranking: Sequence[str], judgments: Judgments, k: int) -> float:
    """Normalised discounted cumulative gain of the top k, linear gain (0 if nothing relevant)."""
    top = _top_k(ranking, k)
    dcg = sum(max(judgments.get(d, 0), 0) / math.log2(i + 1) for i, d in enumerate(top, start=1))
    ideal = sorted((gain for gain in judgments.values() if gain > 0), reverse=True)[:k]
    idcg = sum(gain / math.log2(i + 1) for i, gain in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def mrr_at_k(ranking: Sequence[str], judgments: Judgments, k: int) -> float:
    """Reciprocal rank of the first relevant document within the top k (0 if none)."""
    relevant = _relevant(judgments)
    for rank, doc_id in enumerate(_top_k(ranking, k), start=1):
        if doc_id in relevant:
            return 1.0 / rank
    return 0.0


def recall_at_k(ranking: Sequence[str], judgments: Judgments, k: int) -> float:
    """Share of all relevant documents found in the top k (0 if nothing is relevant)."""
    relevant = _relevant(judgments)
    if not relevant:
        return 0.0
    return sum(doc_id in relevant for doc_id in _top_k(ranking, k)) / len(relevant)


def average_precision_at_k(ranking: Sequence[str], judgments: Judgments, k: int) -> float:
    """Precision at each relevant hit within k, summed and divided by all relevant documents."""
    relevant = _relevant(judgments)
    if not relevant:
        return 0.0
    hits = 0
    total = 0.0
    for rank, doc_id in enumerate(_top_k(ranking, k), start=1):
        if doc_id in relevant:
            hits += 1
            total += hits / rank
    return total / len(relevant)


METRICS: dict[str, Callable[[Sequence[str], Judgments, int], float]] = {
    "ndcg": ndcg_at_k,
    "mrr": mrr_at_k,
    "recall": recall_at_k,
    "map": average_precision_at_k,
}


# ---------------------------------------------------------------------------------------------
# Evaluating a run


@dataclass(frozen=True)
class EvalReport:
    """Mean of each metric over the evaluated queries, keyed ``"ndcg@10"``, ``"map@100"``, ..."""

    ks: tuple[int, ...]
    metrics: dict[str, float]
    n_queries: int
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (query id, reason)
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)


def evaluate(
    run: Mapping[str, Sequence[str]], qrels: Mapping[str, Judgments], *, ks: Sequence[int] = (10,)
) -> EvalReport:
    """Score ``run`` (query id -> doc ids, best first; one entry per query in the queries file).

    A query of the run without a judgment of gain > 0 is skipped ("no relevant judgments"); a
    judged query missing from the run is skipped ("not in queries file"). Means are over the rest.
    """
    ks = tuple(dict.fromkeys(ks))
    if not ks:
        raise BadInputError("give at least one cutoff k to evaluate at, such as 10")
    for k in ks:
        _check_k(k)
    skipped: list[tuple[str, str]] = []
    per_query: dict[str, dict[str, float]] = {}
    for qid, ranking in run.items():
        judgments = qrels.get(qid, {})
        if not _relevant(judgments):
            skipped.append((qid, NO_RELEVANT))
            continue
        per_query[qid] = {
            f"{name}@{k}": metric(ranking, judgments, k)
            for name, metric in METRICS.items()
            for k in ks
        }
    skipped.extend((qid, NOT_IN_QUERIES) for qid in qrels if qid not in run)
    if not per_query:
        raise BadInputError(
            f"none of the {len(run)} queries has a relevant judgment in the qrels; check that the "
            "query ids of the queries file match those of the qrels file"
        )
    names = [f"{name}@{k}" for name in METRICS for k in ks]
    means = {name: sum(s[name] for s in per_query.values()) / len(per_query) for name in names}
    return EvalReport(ks, means, len(per_query), skipped, per_query)


# ---------------------------------------------------------------------------------------------
# Reading queries and judgments


def evaluate_modes(
    search_many: Callable[[list[str], SearchOptions], list[list[Hit]]],
    queries: Mapping[str, str],
    qrels: Qrels,
    modes: Sequence[str],
    *,
    k: int = 10,
    depth: int = 100,
    path_glob: str | None = None,
) -> dict[str, dict[str, object]]:
    """nDCG@k, MRR@k, recall@depth and MAP@depth of each ranking mode, ranking documents by
    their best passage (``per_doc=1``), by the ids their files give them (``Hit.record_id``),
    among the files ``path_glob`` matches (all by default: an index of one corpus).
    ``search_many`` is ``SearchIndex.search_many``.

    Returns mode -> metric name -> value, with ``queries`` (how many were scored) and
    ``skipped`` (``{"query", "reason"}`` for each query left out).
    """
    if isinstance(k, bool) or isinstance(depth, bool) or k < 1 or depth < 1:
        raise BadInputError(f"-k ({k}) and --depth ({depth}) must be positive")
    options = {
        # Each copy of a document is ranked as itself: folded into the hit of the copy whose
        # path sorts first (``Hit.also``), a judged paper with a copy under another name
        # scored 0, and "no ranking found a single relevant document" was said.
        mode: SearchOptions(
            k=max(k, depth),
            mode=mode,
            per_doc=1,
            path_glob=path_glob,
            phrases=False,
            collapse_copies=False,
        )
        for mode in modes
    }
    ids = list(queries)
    results: dict[str, dict[str, object]] = {}
    for mode in dict.fromkeys(modes):
        hits = search_many([queries[q] for q in ids], options[mode])
        run = {qid: [hit.record_id for hit in found] for qid, found in zip(ids, hits, strict=True)}
        _check_one_corpus(hits)
        if path_glob and not any(hits):
            raise BadInputError(f"no indexed document matches --path {path_glob!r}")
        report = evaluate(run, qrels, ks=(k, depth))
        results[mode] = {
            f"ndcg@{k}": report.metrics[f"ndcg@{k}"],
            f"mrr@{k}": report.metrics[f"mrr@{k}"],
            f"recall@{depth}": report.metrics[f"recall@{depth}"],
            f"map@{depth}": report.metrics[f"map@{depth}"],
            "queries": report.n_queries,
            "skipped": [{"query": q, "reason": r} for q, r in report.skipped],
        }
    return results


def _check_one_corpus(rankings: Iterable[list[Hit]]) -> None:
    """Refuse rankings that hold records of two files with the same id (two corpora numbered
    from 1 in one index): the judgments name ids, and could not tell the two apart."""
    first_path: dict[str, str] = {}
    for hits in rankings:
        for hit in hits:
            path = first_path.setdefault(hit.record_id, hit.path)
            if path != hit.path:
                raise BadInputError(
                    f"records of two files have the id {hit.record_id!r} ({path}, {hit.path}); "
                    "the judgments cannot tell them apart: score one corpus with --path and "
                    "its file, as in --path 'cranfield/corpus.jsonl'"
                )


def _lines(path: str | Path, what: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of the non-blank lines of a UTF-8 file, or a BadInputError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInputError(f"{what} file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{what} file {path} is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise BadInputError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def _beir_split(folder: Path) -> Path:
    """The judgments in a BEIR ``qrels/`` folder: its ``test.tsv``, or its only ``.tsv``
    (``--qrels data/cranfield/qrels`` was "cannot read qrels file ...: Is a directory")."""
    found = sorted(p for p in folder.glob("*.tsv") if p.is_file())
    if folder / "test.tsv" in found:
        return folder / "test.tsv"
    if len(found) == 1:
        return found[0]
    named = ", ".join(p.name for p in found) if found else "no .tsv file"
    raise BadInputError(f"{folder} is a folder holding {named}: name the qrels file to use")


def _where(path: str | Path, number: int) -> str:
    return f"{path}, line {number}"


def read_queries(path: str | Path) -> dict[str, str]:
    """Query id -> text from BEIR ``queries.jsonl`` (``_id``, ``text``) or a TSV ``id<TAB>text``.

    The format is taken from the first non-blank line: ``{`` starts JSON lines. A TSV may start
    with a header line whose first field is ``id``, ``qid`` or ``query-id``.
    """
    queries: dict[str, str] = {}
    first_line: dict[str, int] = {}
    is_jsonl: bool | None = None
    for number, line in _lines(path, "queries"):
        if is_jsonl is None:
            is_jsonl = line.lstrip().startswith("{")
            if not is_jsonl and line.split("\t")[0].strip().lower() in QUERY_HEADER_IDS:
                continue
        if is_jsonl:
            qid, text = _parse_query_json(line, _where(path, number))
        else:
            qid, text = _parse_query_tsv(line, _where(path, number))
        if not text.strip():
            raise BadInputError(f"{_where(path, number)}: query {qid!r} has no text")
        if qid in queries:
            raise BadInputError(
                f"{_where(path, number)}: query id {qid!r} already given on line "
                f"{first_line[qid]}; each query needs its own id"
            )
        queries[qid] = text
        first_line[qid] = number
    if not queries:
        raise BadInputError(f"queries file {path} holds no queries")
    return queries


def _parse_query_json(line: str, where: str) -> tuple[str, str]:
    expected = 'expected a JSON object with "_id" and "text", as in BEIR queries.jsonl'
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{where}: not valid JSON ({exc.msg}); {expected}") from None
    if not isinstance(record, dict) or "_id" not in record or "text" not in record:
        raise BadInputError(f"{where}: {expected}, found {line.strip()[:80]!r}")
    if not isinstance(record["text"], str) or not isinstance(record["_id"], (str, int)):
        raise BadInputError(f"{where}: {expected} (id a string or number, text a string)")
    return str(record["_id"]).strip(), record["text"]


def _parse_query_tsv(line: str, where: str) -> tuple[str, str]:
    qid, tab, text = line.partition("\t")
    if not tab or not qid.strip():
        raise BadInputError(
            f"{where}: expected 'id<TAB>text' (or one JSON object per line), "
            f"found {line.strip()[:80]!r}"
        )
    return qid.strip(), text.strip()


def read_qrels(path: str | Path) -> Qrels:
    """Query id -> doc id -> gain from a BEIR qrels TSV or a TREC qrels file, told apart per file.

    BEIR: ``query-id corpus-id score`` (header optional); TREC: ``qid iteration docid relevance``.
    Fields are split on tabs when a line has any, otherwise on whitespace. Gains must be integers;
    all are kept, including 0 and negative ones (evaluation treats gain > 0 as relevant).
    """
    qrels: Qrels = {}
    judged_on: dict[tuple[str, str], int] = {}
    width: int | None = None
    if Path(path).is_dir():
        path = _beir_split(Path(path))
    for number, line in _lines(path, "qrels"):
        fields = [f.strip() for f in (line.split("\t") if "\t" in line else line.split())]
        if width is None:
            width = len(fields)
            if width not in (3, 4):
                raise BadInputError(
                    f"{_where(path, number)}: expected {QRELS_HELP}, found {len(fields)} "
                    f"fields in {line.strip()[:80]!r}"
                )
            if width == 3 and not any(c.isdigit() for c in fields[2]):
                continue  # the BEIR header, "query-id corpus-id score"
        layout = "query-id corpus-id score" if width == 3 else "qid 0 docid relevance"
        if len(fields) != width or not all(fields):
            raise BadInputError(
                f"{_where(path, number)}: expected {width} fields ({layout}) like the first line "
                f"of this file, found {line.strip()[:80]!r}"
            )
        # BEIR: query-id corpus-id score; TREC: qid iteration docid relevance.
        qid, doc_id, score = fields[0], fields[width - 2], fields[width - 1]
        if not _is_int(score):
            raise BadInputError(
                f"{_where(path, number)}: the score {score!r} is not an integer ({layout})"
            )
        gain = int(score)
        previous = qrels.setdefault(qid, {}).get(doc_id)
        if previous is not None and previous != gain:
            raise BadInputError(
                f"{_where(path, number)}: query {qid!r} judges document {doc_id!r} {gain}, but "
                f"line {judged_on[qid, doc_id]} judged it {previous}; keep one judgment per pair"
            )
        qrels[qid][doc_id] = gain
        judged_on[qid, doc_id] = number
    if not qrels:
        raise BadInputError(f"qrels file {path} holds no judgments; expected {QRELS_HELP}")
    return qrels


def _is_int(text: str) -> bool:
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isascii() and digits.isdigit()
