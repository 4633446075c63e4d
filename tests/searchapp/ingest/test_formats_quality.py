"""Ranking quality survives the formats: Cranfield as PDFs and as Word files scores as its text.

Each collection is the 1,400 Cranfield abstracts, one file each, indexed through the CLI with
the bundled model; ``search eval``'s scoring (``evaluate_modes``) compares each build with the
plain-text build of the same documents (``cranfield_folder_index``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from searchapp.interfaces.cli import main
from searchapp.ranking.evaluation import evaluate_modes
from searchapp.search_index import SearchIndex

pytestmark = pytest.mark.slow
MODES = ["hybrid", "dense"]
TOLERANCE = 0.005  # nDCG@10, against the plain-text build


def write_pdfs(cranfield, folder: Path) -> Path:
    from fpdf import FPDF

    folder.mkdir(parents=True)
    for doc_id, text in cranfield.corpus.items():
        pdf = FPDF()
        pdf.add_page()
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 5, text)
        pdf.output(str(folder / f"doc{doc_id}.pdf"))
    return folder


def write_docx(cranfield, folder: Path) -> Path:
    from docx import Document

    folder.mkdir(parents=True)
    for doc_id, text in cranfield.corpus.items():
        document = Document()
        document.add_paragraph(text)
        document.save(str(folder / f"doc{doc_id}.docx"))
    return folder


def index(folder: Path, index_dir: Path) -> Path:
    try:
        main(["index", str(folder), "--index-dir", str(index_dir), "--precision", "auto"])
    except SystemExit as exc:
        assert not exc.code, f"search index failed with {exc.code}"
    return index_dir


def scores(index_dir: Path, cranfield) -> dict[str, float]:
    """nDCG@10 per mode, documents named by their Cranfield id (the file name's number)."""
    search_index = SearchIndex(index_dir)

    def search_many(texts, options):
        return [
            [
                dataclasses.replace(hit, doc_id=Path(hit.path).stem.removeprefix("doc"))
                for hit in hits
            ]
            for hits in search_index.search_many(texts, options)
        ]

    results = evaluate_modes(search_many, cranfield.queries, cranfield.qrels, MODES)
    return {mode: results[mode]["ndcg@10"] for mode in MODES}


@pytest.fixture(scope="module")
def text_build(cranfield_folder_index, cranfield) -> tuple[int, dict[str, float]]:
    """The plain-text build's document count and scores."""
    index_dir = cranfield_folder_index[1]
    return with_text(index_dir), scores(index_dir, cranfield)


def with_text(index_dir: Path) -> int:
    """Documents that have passages (two Cranfield records are empty: a blank text file is a
    document without passages, a blank PDF is skipped)."""
    store = SearchIndex(index_dir).store
    return store.db.execute("SELECT count(DISTINCT document_id) FROM chunks").fetchone()[0]


@pytest.mark.parametrize("writer", [write_pdfs, write_docx], ids=["pdf", "docx"])
def test_cranfield_in_a_document_format_ranks_as_its_text(
    writer, text_build, cranfield, tmp_path: Path
) -> None:
    documents, text_scores = text_build
    folder = writer(cranfield, tmp_path / "docs")
    index_dir = index(folder, tmp_path / "index")
    assert with_text(index_dir) == documents > 1300
    got = scores(index_dir, cranfield)
    print(f"{writer.__name__}: {got}; text: {text_scores}")
    for mode in MODES:
        assert abs(got[mode] - text_scores[mode]) <= TOLERANCE, (mode, got, text_scores)
    assert text_scores["dense"] > 0.3  # the comparison is between working builds
