"""The bundled CISI files against the original collection, and `search eval` on them (slow)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from searchapp.interfaces.cli import main
from searchapp.ranking.evaluation import evaluate, read_qrels, read_queries
from tests.searchapp.cli_runner import run_cli as run

REPO = Path(__file__).resolve().parents[3]
CISI = REPO / "data" / "cisi"
SHARED = REPO.parent / "shared" / "data" / "cisi"

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"the original CISI files are not at {SHARED}"
)


def split_records(path: Path) -> dict[str, dict[str, str]]:
    """``.I`` id -> field letter -> text, parsed here independently of make_cisi.py."""
    records = {}
    for block in re.split(r"^\.I ", path.read_text("ascii"), flags=re.M)[1:]:
        number, _, rest = block.partition("\n")
        parts = re.split(r"^\.([A-Z]) *\n", "\n" + rest, flags=re.M)[1:]
        fields: dict[str, str] = {}
        for letter, text in zip(parts[::2], parts[1::2]):
            fields[letter] = fields.get(letter, "") + text
        records[number.strip()] = fields
    return records


def read_jsonl(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


@needs_shared
def test_bundled_cisi_matches_the_original() -> None:
    documents = split_records(SHARED / "CISI.ALL")
    queries = split_records(SHARED / "CISI.QRY")
    pairs = [line.split()[:2] for line in (SHARED / "CISI.REL").read_text("ascii").splitlines()]
    judged = {q for q, _ in pairs}

    corpus = read_jsonl(CISI / "corpus.jsonl")
    assert len(corpus) == len(documents) == 1460
    assert [d["_id"] for d in corpus] == list(documents) == [str(n) for n in range(1, 1461)]
    for record in corpus:
        fields = documents[record["_id"]]
        assert record["title"] == " ".join(fields["T"].split())
        assert record["text"] == fields["W"].strip()
    # Spot checks: document 1 as written; document 321 keeps neither its .K keywords nor .X.
    assert corpus[0]["title"] == "18 Editions of the Dewey Decimal Classifications"
    assert corpus[0]["text"].startswith("The present study is a history of the DEWEY Decimal\n")
    assert corpus[320]["text"].endswith("promises considerable\ncost advantages.")

    bundled = read_queries(CISI / "queries.jsonl")
    assert len(queries) == 112 and len(judged) == len(bundled) == 76
    assert bundled == {q: " ".join(queries[q]["W"].split()) for q in queries if q in judged}
    assert bundled["3"] == "What is information science? Give definitions where possible."

    qrels = read_qrels(CISI / "qrels" / "test.tsv")
    assert sum(len(docs) for docs in qrels.values()) == len(pairs) == 3114
    assert {(q, d) for q, docs in qrels.items() for d in docs} == {(q, d) for q, d in pairs}
    assert {gain for docs in qrels.values() for gain in docs.values()} == {1}
    # Every query scores 1 with its judged documents first.
    report = evaluate({q: list(qrels[q]) for q in bundled}, qrels, ks=(10,))
    assert report.n_queries == 76 and report.metrics["ndcg@10"] == pytest.approx(1.0)


@needs_shared
def test_make_cisi_regenerates_the_same_bytes(tmp_path) -> None:
    script = REPO / "data" / "make_cisi.py"
    subprocess.run(
        [sys.executable, str(script), "--source", str(SHARED), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        assert (tmp_path / name).read_bytes() == (CISI / name).read_bytes(), name


@pytest.fixture(scope="module")
def cisi_index(tmp_path_factory) -> Path:
    """data/cisi/corpus.jsonl indexed once for this module (about a minute on 2 cores)."""
    index_dir = tmp_path_factory.mktemp("cisi-index")
    try:
        main(
            [
                "index",
                str(CISI / "corpus.jsonl"),
                "--index-dir",
                str(index_dir),
                "--precision",
                "auto",
            ]
        )
    except SystemExit as exc:
        assert not exc.code, f"search index failed with {exc.code}"
    return index_dir


@pytest.mark.slow
def test_eval_on_the_76_judged_cisi_queries(cisi_index, capsys) -> None:
    code, out, err = run(
        capsys,
        "eval",
        "--queries",
        str(CISI / "queries.jsonl"),
        "--qrels",
        str(CISI / "qrels" / "test.tsv"),
        "--index-dir",
        str(cisi_index),
        "--json",
    )
    assert code == 0, err
    results = json.loads(out)
    assert all(row["queries"] == 76 and row["skipped"] == [] for row in results.values())
    ndcg = {mode: row["ndcg@10"] for mode, row in results.items()}
    # Reference (data/README.md): exact dense 0.4193, BM25 0.3044, equal-weight RRF 0.4136;
    # hybrid is the ceiling rule of ranking/fusion.py (0.4337 on an fp32 index).
    assert ndcg["dense"] >= 0.41
    assert ndcg["lexical"] >= 0.29
    assert ndcg["hybrid"] >= 0.43
    assert ndcg["hybrid"] > max(ndcg["dense"], ndcg["lexical"])
