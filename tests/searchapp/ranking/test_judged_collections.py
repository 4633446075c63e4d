"""The held-out collections' queries and judgments (``data/man-pages``, ``data/python-docs``)
agree with each other and with the documents they name: a judgment of a page that is never
rendered, or of a query that does not exist, would count as a miss in every mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from searchapp.ranking.evaluation import read_qrels, read_queries

DATA = Path(__file__).resolve().parents[3] / "data"


@pytest.mark.parametrize(
    ("collection", "names"), [("man-pages", "commands.txt"), ("python-docs", "modules.txt")]
)
def test_every_judgment_names_a_query_and_a_listed_document(collection: str, names: str) -> None:
    folder = DATA / collection
    queries = read_queries(folder / "queries.jsonl")
    qrels = read_qrels(folder / "qrels.tsv")
    listed = (folder / names).read_text("utf-8").split()
    assert len(listed) == len(set(listed))
    assert set(qrels) == set(queries)  # every query judged, no judgment of another
    assert {qid[0] for qid in queries} == {"a", "b", "c", "d"}  # the four kinds
    for qid, judged in qrels.items():
        assert {f"{name}.txt" for name in listed} >= set(judged), qid
        assert 2 in judged.values(), qid  # a document that answers it
