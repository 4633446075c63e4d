"""Retrieval metrics against hand-computed values, the query/qrels readers, the Cranfield data."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from searchapp.errors import BadInputError
from searchapp.ranking.evaluation import (
    NO_RELEVANT,
    NOT_IN_QUERIES,
    average_precision_at_k,
    evaluate,
    mrr_at_k,
    ndcg_at_k,
    read_qrels,
    read_queries,
    recall_at_k,
)

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "data" / "cranfield"
SHARED = REPO.parent / "shared" / "data" / "cranfield"
LOG2_3 = math.log2(3)  # the discount at rank 2

# ---------------------------------------------------------------------------------------------
# Metrics on one ranked list


def test_ndcg_graded_hand_computed() -> None:
    judgments = {"a": 3, "c": 2, "d": 0}
    ranking = ["a", "b", "c"]  # gains [3, 0, 2]; ideal [3, 2]
    # DCG@3 = 3/log2(2) + 0/log2(3) + 2/log2(4) = 3 + 0 + 1; IDCG@3 = 3/1 + 2/log2(3)
    assert ndcg_at_k(ranking, judgments, 3) == pytest.approx((3 / 1 + 2 / 2) / (3 + 2 / LOG2_3))
    assert ndcg_at_k(ranking, judgments, 3) == pytest.approx(0.938557, abs=1e-6)
    # DCG@2 = 3; IDCG@2 = 3 + 2/log2(3)
    assert ndcg_at_k(ranking, judgments, 2) == pytest.approx(3 / (3 + 2 / LOG2_3))
    # DCG@1 = IDCG@1 = 3
    assert ndcg_at_k(ranking, judgments, 1) == pytest.approx(1.0)


def test_ndcg_ideal_is_cut_at_k_and_gain_is_linear() -> None:
    judgments = {"a": 1, "b": 2, "c": 3}
    # DCG@2 = 1/1 + 2/log2(3); IDCG@2 = 3/1 + 2/log2(3) (only the best two gains); linear, not 2^g-1
    expected = (1 + 2 / LOG2_3) / (3 + 2 / LOG2_3)
    assert ndcg_at_k(["a", "b", "c"], judgments, 2) == pytest.approx(expected)
    assert ndcg_at_k(["c", "b", "a"], judgments, 3) == pytest.approx(1.0)


def test_mrr_hand_computed() -> None:
    judgments = {"a": 1, "b": 2}
    assert mrr_at_k(["x", "y", "a", "b"], judgments, 10) == pytest.approx(1 / 3)  # first hit rank 3
    assert mrr_at_k(["x", "y", "a"], judgments, 2) == 0.0  # the hit lies beyond k
    assert mrr_at_k(["b"], judgments, 1) == 1.0


def test_recall_hand_computed() -> None:
    judgments = {"a": 1, "b": 1, "c": 2, "d": 3, "z": 0}  # 4 relevant; z is judged not relevant
    ranking = ["a", "x", "b", "y", "c"]
    assert recall_at_k(ranking, judgments, 3) == pytest.approx(2 / 4)  # a, b
    assert recall_at_k(ranking, judgments, 5) == pytest.approx(3 / 4)  # a, b, c
    assert recall_at_k(ranking, judgments, 100) == pytest.approx(3 / 4)  # k beyond the list


def test_average_precision_hand_computed() -> None:
    judgments = {"a": 1, "b": 1, "c": 1}  # 3 relevant, c never retrieved
    ranking = ["a", "x", "b", "y"]
    # hits at ranks 1 and 3: (P@1 + P@3) / 3 = (1/1 + 2/3) / 3
    assert average_precision_at_k(ranking, judgments, 4) == pytest.approx((1 + 2 / 3) / 3)
    assert average_precision_at_k(ranking, judgments, 4) == pytest.approx(0.555556, abs=1e-6)
    # within k = 2 only the hit at rank 1: (1/1) / 3, still divided by all relevant
    assert average_precision_at_k(ranking, judgments, 2) == pytest.approx(1 / 3)


@pytest.mark.parametrize("metric", [ndcg_at_k, mrr_at_k, recall_at_k, average_precision_at_k])
def test_nothing_relevant_retrieved_scores_zero(metric) -> None:
    judgments = {"a": 2, "b": 0}
    assert metric(["b", "x", "y"], judgments, 3) == 0.0
    assert metric([], judgments, 3) == 0.0
    assert metric(["a"], {"a": 0, "b": -1}, 3) == 0.0  # no judgment with gain > 0


def test_duplicates_count_once_at_their_first_rank() -> None:
    judgments = {"a": 1}
    ranking = ["x", "x", "a"]  # read as [x, a]: a is at rank 2
    assert mrr_at_k(ranking, judgments, 2) == pytest.approx(1 / 2)
    assert recall_at_k(ranking, judgments, 2) == 1.0
    assert average_precision_at_k(ranking, judgments, 2) == pytest.approx(1 / 2)  # (1/2) / 1
    assert ndcg_at_k(ranking, judgments, 2) == pytest.approx(1 / LOG2_3)  # (1/log2(3)) / (1/1)
    # A relevant document repeated is found once: recall and nDCG cannot pass 1.
    both = {"a": 1, "b": 1}
    assert recall_at_k(["a", "a", "b"], both, 3) == 1.0
    assert ndcg_at_k(["a", "a", "a"], both, 3) == pytest.approx(1 / (1 + 1 / LOG2_3))


def test_negative_gains_count_as_zero() -> None:
    # gains [-1 -> 0, 1]: DCG@2 = 0/1 + 1/log2(3); IDCG@2 = 1/1
    assert ndcg_at_k(["a", "b"], {"a": -1, "b": 1}, 2) == pytest.approx(1 / LOG2_3)
    assert mrr_at_k(["a", "b"], {"a": -1, "b": 1}, 2) == pytest.approx(1 / 2)


@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_bad_k_is_rejected(k) -> None:
    with pytest.raises(BadInputError, match="must be a positive integer"):
        ndcg_at_k(["a"], {"a": 1}, k)


# ---------------------------------------------------------------------------------------------
# Evaluating a run


def test_evaluate_means_and_skips() -> None:
    run = {
        "1": ["a", "b", "c"],  # gains [3, 0, 2]
        "2": ["x"],  # judged, but nothing relevant
        "3": ["a"],  # not judged at all
        "5": ["z"],  # relevant document not retrieved: every metric 0
    }
    qrels = {"1": {"a": 3, "c": 2}, "2": {"x": 0}, "4": {"d": 1}, "5": {"a": 1}}
    report = evaluate(run, qrels, ks=(1, 3))
    assert report.ks == (1, 3)
    assert report.n_queries == 2
    assert report.skipped == [("2", NO_RELEVANT), ("3", NO_RELEVANT), ("4", NOT_IN_QUERIES)]
    # query 1: nDCG@3 = (3 + 1) / (3 + 2/log2(3)); query 5: 0 -> mean is half
    assert report.metrics["ndcg@3"] == pytest.approx(4 / (3 + 2 / LOG2_3) / 2)
    assert report.metrics["ndcg@1"] == pytest.approx(1 / 2)
    assert report.metrics["mrr@3"] == pytest.approx(1 / 2)
    assert report.metrics["recall@1"] == pytest.approx((1 / 2) / 2)  # query 1 finds a of {a, c}
    assert report.metrics["map@3"] == pytest.approx((1 / 1 + 2 / 3) / 2 / 2)  # hits at 1 and 3
    assert list(report.metrics) == [
        f"{m}@{k}" for m in ("ndcg", "mrr", "recall", "map") for k in (1, 3)
    ]
    assert report.per_query["5"]["ndcg@3"] == 0.0
    assert set(report.per_query) == {"1", "5"}


@pytest.mark.parametrize(
    ("run", "qrels", "ks", "message"),
    [
        ({"1": ["a"]}, {"1": {"a": 1}}, (), "at least one cutoff"),
        ({"1": ["a"]}, {"1": {"a": 1}}, (10, 0), r"k \(0\) must be a positive integer"),
        ({"1": ["a"]}, {"2": {"a": 1}}, (10,), "query ids of the queries file match"),
        ({}, {"1": {"a": 1}}, (10,), "none of the 0 queries"),
    ],
)
def test_evaluate_rejects(run, qrels, ks, message) -> None:
    with pytest.raises(BadInputError, match=message):
        evaluate(run, qrels, ks=ks)


# ---------------------------------------------------------------------------------------------
# Reading queries and qrels


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_queries_beir_jsonl(tmp_path) -> None:
    path = write(
        tmp_path,
        "queries.jsonl",
        '{"_id": "q1", "text": "shock waves", "metadata": {}}\n\n{"_id": 7, "text": "lift"}\n',
    )
    assert read_queries(path) == {"q1": "shock waves", "7": "lift"}


@pytest.mark.parametrize("header", ["", "query-id\ttext\n", "id\ttext\n"])
def test_read_queries_tsv(tmp_path, header) -> None:
    path = write(tmp_path, "queries.tsv", f"{header}1\tboundary layer\n2\theat transfer\t\n")
    assert read_queries(path) == {"1": "boundary layer", "2": "heat transfer"}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('{"_id": "1", "text": "a"}\n{"_id": "2", "text": \n', 2, "not valid JSON"),
        ('{"_id": "1", "text": "a"}\n{"id": "2", "text": "b"}\n', 2, 'with "_id" and "text"'),
        ('{"_id": "1", "text": "a"}\n\n{"_id": "1", "text": "b"}\n', 3, "already given on line 1"),
        ('{"_id": "1", "text": "  "}\n', 1, "has no text"),
        ("1\tlift\n2 drag\n", 2, "expected 'id<TAB>text'"),
    ],
)
def test_read_queries_bad_lines_name_file_and_line(tmp_path, text, line, message) -> None:
    path = write(tmp_path, "queries-bad.jsonl", text)
    with pytest.raises(BadInputError, match=message) as caught:
        read_queries(path)
    assert f"{path}, line {line}:" in str(caught.value)


def test_read_queries_missing_or_empty_file(tmp_path) -> None:
    with pytest.raises(BadInputError, match="queries file not found: .*nope.jsonl"):
        read_queries(tmp_path / "nope.jsonl")
    with pytest.raises(BadInputError, match="empty.jsonl holds no queries"):
        read_queries(write(tmp_path, "empty.jsonl", "\n\n"))


def test_read_qrels_beir_with_header(tmp_path) -> None:
    path = write(
        tmp_path, "test.tsv", "query-id\tcorpus-id\tscore\n1\t184\t3\n1\t29\t3\n2\t12\t0\n"
    )
    assert read_qrels(path) == {"1": {"184": 3, "29": 3}, "2": {"12": 0}}


def test_read_qrels_beir_whitespace_without_header(tmp_path) -> None:
    path = write(tmp_path, "qrels.txt", "1 184 3\n\n1   29 1\n")
    assert read_qrels(path) == {"1": {"184": 3, "29": 1}}


@pytest.mark.parametrize("separator", [" ", "\t"])
def test_read_qrels_trec(tmp_path, separator) -> None:
    lines = ["301 0 FBIS3-10082 1", "301 0 FBIS3-10169 0", "302 Q0 doc-7 -1"]
    path = write(
        tmp_path, "qrels.trec", "".join(line.replace(" ", separator) + "\n" for line in lines)
    )
    assert read_qrels(path) == {"301": {"FBIS3-10082": 1, "FBIS3-10169": 0}, "302": {"doc-7": -1}}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("query-id\tcorpus-id\tscore\n1\t2\t3\n1\t3\n", 3, r"expected 3 fields \(query-id"),
        ("1 0 d1 1\n1 0 d2 1\n1 d3 1\n", 3, r"expected 4 fields \(qid 0 docid relevance\)"),
        ("1\td1\t2\n1\td2\thigh\n", 2, "score 'high' is not an integer"),
        ("1 d1 2\n1 d1 2\n1 d1 3\n", 3, "judged it 2"),
        ("1 0 d1 1 extra\n", 1, "expected a BEIR qrels TSV"),
        ("1\td1\t2\n1\t\t2\n", 2, "expected 3 fields"),
    ],
)
def test_read_qrels_bad_lines_name_file_and_line(tmp_path, text, line, message) -> None:
    path = write(tmp_path, "qrels-bad.tsv", text)
    with pytest.raises(BadInputError, match=message) as caught:
        read_qrels(path)
    assert f"{path}, line {line}:" in str(caught.value)


def test_read_qrels_missing_or_empty_file(tmp_path) -> None:
    with pytest.raises(BadInputError, match="qrels file not found: .*nope.tsv"):
        read_qrels(tmp_path / "nope.tsv")
    with pytest.raises(BadInputError, match="header.tsv holds no judgments"):
        read_qrels(write(tmp_path, "header.tsv", "query-id\tcorpus-id\tscore\n"))


def test_read_qrels_of_a_beir_folder_takes_its_test_split(tmp_path) -> None:
    # `--qrels data/cranfield/qrels` was "cannot read qrels file ...: Is a directory".
    assert read_qrels(DATA / "qrels") == read_qrels(DATA / "qrels" / "test.tsv")
    folder = tmp_path / "qrels"
    folder.mkdir()
    write(folder, "dev.tsv", "1\td1\t1\n")
    assert read_qrels(folder) == {"1": {"d1": 1}}  # its only split
    write(folder, "train.tsv", "2\td2\t1\n")
    with pytest.raises(BadInputError, match="holding dev.tsv, train.tsv: name the qrels file"):
        read_qrels(folder)


def test_bundled_cranfield_reads_and_a_perfect_run_scores_one() -> None:
    queries = read_queries(DATA / "queries.jsonl")
    qrels = read_qrels(DATA / "qrels" / "test.tsv")
    assert list(queries) == [str(n) for n in range(1, 226)]
    assert sum(len(judged) for judged in qrels.values()) == 1612
    # Each query's judged documents, best gain first, is an ideal ranking.
    run = {qid: sorted(qrels[qid], key=qrels[qid].__getitem__, reverse=True) for qid in queries}
    report = evaluate(run, qrels, ks=(10, 100))
    assert report.n_queries == 225 and report.skipped == []
    for name in ("ndcg@10", "ndcg@100", "mrr@10", "recall@100", "map@100"):
        assert report.metrics[name] == pytest.approx(1.0), name


# ---------------------------------------------------------------------------------------------
# The bundled BEIR files agree with the original Cranfield collection


needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"the original Cranfield files are not at {SHARED}"
)


def split_records(text: str) -> dict[str, str]:
    """``.I`` id -> the text after ``.W``, parsed here independently of make_cranfield.py.

    The text runs to the next ``.I``; stray field markers inside it (documents 240, 576 and 578
    have ``.A``, ``.B`` or a second ``.W`` there) are dropped.
    """
    records = {}
    for block in re.split(r"^\.I ", text.replace("\r\n", "\n"), flags=re.M)[1:]:
        number, _, rest = block.partition("\n")
        after_w = rest.split(".W\n", 1)[1] if ".W\n" in rest else ""
        records[number.strip()] = re.sub(r"^\.[A-Z]\n", "", after_w, flags=re.M).strip()
    return records


def read_jsonl(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


@needs_shared
def test_bundled_cranfield_matches_the_original() -> None:
    documents = split_records((SHARED / "cran.all.1400").read_text("utf-8"))
    original_queries = list(split_records((SHARED / "cran.qry").read_text("utf-8")).items())
    relevance = [line.split() for line in (SHARED / "cranqrel").read_text("utf-8").splitlines()]
    judged = [(q, d, 5 - int(r)) for q, d, r in relevance if int(r) in (1, 2, 3, 4)]

    corpus = read_jsonl(DATA / "corpus.jsonl")
    queries = read_jsonl(DATA / "queries.jsonl")
    rows = [tuple(line.split("\t")) for line in (DATA / "qrels/test.tsv").read_text().splitlines()]
    assert len(corpus) == len(documents) == 1400
    assert len(queries) == len(original_queries) == 225
    assert rows[0] == ("query-id", "corpus-id", "score")
    assert len(rows) - 1 == len(judged) == 1612
    assert {d["_id"]: d["text"] for d in corpus} == documents
    assert all(d["title"] == "" for d in corpus)

    # Spot checks. Document 1 as written (line breaks kept); the third query is `.I 004` of
    # cran.qry and is id "3"; cranqrel "1 184 2" becomes gain 5 - 2 = 3.
    assert corpus[0]["_id"] == "1"
    assert corpus[0]["text"].startswith("experimental investigation of the aerodynamics of a\nwing")
    assert corpus[0]["text"].endswith("the specific configuration of the experiment .")
    assert original_queries[2][0] == "004"
    assert queries[2] == {
        "_id": "3",
        "text": "what problems of heat conduction in composite slabs have been solved so far .",
    }
    assert [q["text"] for q in queries] == [" ".join(t.split()) for _, t in original_queries]
    assert ("1", "184", "3") in rows
    assert [(q, d, int(g)) for q, d, g in rows[1:]] == judged


@needs_shared
def test_make_cranfield_regenerates_the_same_bytes(tmp_path) -> None:
    script = REPO / "data" / "make_cranfield.py"
    subprocess.run(
        [sys.executable, str(script), "--source", str(SHARED), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_evaluate_modes_scores_each_mode_by_its_documents() -> None:
    from searchapp.ranking.evaluation import evaluate_modes
    from searchapp.ranking.searcher import Hit

    queries = {"q1": "alpha", "q2": "beta", "q3": "gamma"}
    qrels = {"q1": {"d1": 2, "d2": 1}, "q2": {"d3": 1}}  # q3 has no judgments
    rankings = {  # mode -> query text -> ranked doc ids
        "dense": {"alpha": ["d2", "d9", "d1"], "beta": ["d3"], "gamma": ["d1"]},
        "lexical": {"alpha": ["d9"], "beta": ["d8", "d3"], "gamma": []},
    }
    seen = []

    def search_many(texts, options):
        seen.append((options.mode, options.k, options.per_doc))
        return [
            [
                Hit(n, 0.5, 0.5, f"/{d}", d, n, 1, 1, d)
                for n, d in enumerate(rankings[options.mode][t])
            ]
            for t in texts
        ]

    results = evaluate_modes(search_many, queries, qrels, ["dense", "lexical"], k=2, depth=3)
    assert seen == [("dense", 3, 1), ("lexical", 3, 1)]
    expected = {}
    for mode in ("dense", "lexical"):
        run = {q: rankings[mode][text] for q, text in queries.items()}
        report = evaluate(run, qrels, ks=(2, 3))
        expected[mode] = [report.metrics[m] for m in ("ndcg@2", "mrr@2", "recall@3", "map@3")]
        got = [results[mode][m] for m in ("ndcg@2", "mrr@2", "recall@3", "map@3")]
        assert got == pytest.approx(expected[mode])
        assert results[mode]["queries"] == 2
        assert results[mode]["skipped"] == [{"query": "q3", "reason": NO_RELEVANT}]
    assert results["dense"]["ndcg@2"] > results["lexical"]["ndcg@2"] > 0
    with pytest.raises(BadInputError, match="must be positive"):
        evaluate_modes(search_many, queries, qrels, ["dense"], k=0)


def test_eval_of_one_corpus_among_two_numbered_alike(tmp_path) -> None:
    # Two corpora numbered from 1 in one index (their records' doc_ids are "path#id"). Scored
    # among one corpus's files (--path), a hit counts by the id its file gives it.
    from searchapp.ranking.evaluation import evaluate_modes
    from searchapp.search_index import SearchIndex
    from tests.searchapp.conftest import FakeEncoder

    words = {
        "a": ["river apple orchard", "apple cider", "apple pie"],
        "b": ["river delta", "estuary"],
    }
    for name, texts in words.items():
        corpus = tmp_path / name / "corpus.jsonl"
        corpus.parent.mkdir()
        lines = [json.dumps({"_id": str(i), "text": t}) for i, t in enumerate(texts, start=1)]
        corpus.write_text("\n".join(lines) + "\n", "utf-8")
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    index.add([tmp_path / "a", tmp_path / "b"])
    queries = {"q1": "estuary", "q2": "river delta"}
    qrels = {"q1": {"2": 1}, "q2": {"1": 1}}

    def scores(path_glob: str | None) -> dict[str, object]:
        return evaluate_modes(
            index.search_many, queries, qrels, ["lexical"], k=2, depth=2, path_glob=path_glob
        )["lexical"]

    assert scores("b/*")["mrr@2"] == 1.0
    assert scores("a/*")["mrr@2"] == 0.5  # the other corpus: only its record 1 holds "river"
    # Among both files, the judgments' "1" and "2" could be either corpus's: refused.
    for glob in (None, "corpus.jsonl"):
        with pytest.raises(BadInputError, match="records of two files have the id .* --path"):
            scores(glob)
    with pytest.raises(BadInputError, match="no indexed document matches --path 'c/'"):
        scores("c/")


def test_a_judged_document_with_a_copy_counts_where_it_ranks(tmp_path) -> None:
    # A paper folder held one paper twice: hits fold copies into the copy whose path sorts
    # first, so judgments naming the other scored 0 ("no ranking found a single relevant
    # document"), and the same judgments naming the first copy scored 1.
    from searchapp.ranking.evaluation import evaluate_modes
    from searchapp.search_index import SearchIndex
    from tests.searchapp.conftest import FakeEncoder

    papers = tmp_path / "papers"
    papers.mkdir()
    text = "Boundary layer transition on a flat plate, measured by hot wire.\n"
    for name in ("a-first.txt", "schubauer.txt"):
        (papers / name).write_text(text, "utf-8")
    (papers / "other.txt").write_text("Flutter of a panel at high speed.\n", "utf-8")
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    index.add([papers])
    [hit] = index.search("transition flat plate", k=1, mode="lexical")
    assert hit.path.endswith("a-first.txt") and hit.also  # as a search shows them
    for judged in ("schubauer.txt", "a-first.txt"):
        qrels = {"q1": {str(papers / judged): 1}}
        scores = evaluate_modes(
            index.search_many, {"q1": "transition flat plate"}, qrels, ["lexical", "dense"], k=2
        )
        assert scores["lexical"]["recall@100"] == 1.0, judged
        assert scores["lexical"]["mrr@2"] >= 0.5 and scores["dense"]["recall@100"] == 1.0
