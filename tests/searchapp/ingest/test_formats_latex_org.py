"""LaTeX, BibTeX (``formats/latex.py``) and Org files (``formats/org.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from searchapp.ingest.decoding import load_documents
from searchapp.ingest.formats.latex import letters
from searchapp.ingest.formats.spans import locate


@pytest.mark.parametrize(
    ("written", "read"),
    [
        # A historian's .bib: `M{\"u}ller`, `W{\l}adys{\l}aw` were found by no query.
        (r"M{\"u}ller, Hans", "Müller, Hans"),
        (r"M\"uller and M\"{u}ller", "Müller and Müller"),
        (r"W{\l}adys{\l}aw Reymont", "Władysław Reymont"),
        (r"\'{e}t\'e, Fran\c{c}ois, \v{S}koda, \'{\i}ndice", "été, François, Škoda, índice"),
        (r"Stra{\ss}e, Erschie\ss en, \AA ngstr\"om, {\o}re", "Straße, Erschießen, Ångström, øre"),
        # The brace closing a title after an accent is the title's.
        (r"\title{The Commune and {\L}\'od\'z}", r"\title{The Commune and Łódź}"),
        (r"no accents here \section{x}", r"no accents here \section{x}"),
    ],
)
def test_latex_letters(written: str, read: str) -> None:
    assert letters(written) == read


def test_a_latex_file_has_its_sections_and_title(tmp_path: Path) -> None:
    # A historian's trial: `title` and `section` were null for .tex hits, and a passage ran
    # across chapters.
    source = (
        "\\documentclass{book}\n\\title{The Commune and {\\L}\\'od\\'z}\n\\begin{document}\n"
        "\\chapter{\\L\\'od\\'z 1905}\n\\label{ch:lodz}\n\\section{The textile economy}\n"
        "By the 1890s \\L\\'od\\'z was the largest cotton centre.\n"
        "\\section*{Strikes}\nThe strike of 1905.\n\\chapter[Paris]{Paris, 1871}\nThe Commune.\n"
    )
    path = tmp_path / "thesis.tex"
    path.write_text(source, "utf-8")
    [document] = load_documents(path)
    assert document.title == "The Commune and Łódź"
    assert document.text.count("\n") == source.count("\n")  # each line on its line
    at = document.text.index
    assert locate(document.spans, at("By the 1890s")).section == "Łódź 1905 > The textile economy"
    assert locate(document.spans, at("The strike")).section == "Łódź 1905 > Strikes"
    assert locate(document.spans, at("The Commune.")).section == "Paris, 1871"
    assert locate(document.spans, at("\\documentclass")).section is None


def test_a_bibtex_file_is_a_section_per_entry(tmp_path: Path) -> None:
    # A passage crossed two records: `haupt1980commune` showed Haupt's tail and François's head.
    source = (
        "@string{pub = {Maspero}}\n\n"
        "@book{haupt1980commune,\n  author = {Haupt, Heinz-Gerhard},\n  year = {1980},\n}\n\n"
        '@Article{ mueller1905,\n  author = {M{\\"u}ller, Hans and W{\\l}adys{\\l}aw Reymont},\n}\n'
    )
    path = tmp_path / "refs.bib"
    path.write_text(source, "utf-8")
    [document] = load_documents(path)
    at = document.text.index
    assert locate(document.spans, at("Haupt, Heinz")).section == "haupt1980commune"
    assert locate(document.spans, at("Müller, Hans and Władysław Reymont")).section == (
        "mueller1905"
    )
    assert locate(document.spans, at("Maspero")).section is None  # @string is no entry


def test_an_org_file_has_its_headings_and_title(tmp_path: Path) -> None:
    # Passages crossed headings; hits named none, `#+TITLE` was no title.
    source = (
        "#+TITLE: Research log 2024\n\n* 2024-03 March\nArchives.\n"
        "** TODO [#A] Order SHD Vincennes 8 J dossiers :archive:commune:\nThe dossiers.\n"
        "*** Louise Michel\nHer court-martial.\n* People\nThe list.\n"
    )
    path = tmp_path / "research_log.org"
    path.write_text(source, "utf-8")
    [document] = load_documents(path)
    assert document.title == "Research log 2024" and document.text == source
    at = document.text.index
    assert locate(document.spans, at("The dossiers")).section == (
        "2024-03 March > Order SHD Vincennes 8 J dossiers"
    )
    assert locate(document.spans, at("Her court")).section == (
        "2024-03 March > Order SHD Vincennes 8 J dossiers > Louise Michel"
    )
    assert locate(document.spans, at("The list")).section == "People"


def test_files_indexed_before_their_sections_are_read_again(tmp_path, monkeypatch) -> None:
    from tests.searchapp.ingest.test_pipeline import report_after_migrating

    docs = tmp_path / "notes"
    docs.mkdir()
    (docs / "log.org").write_text("* Heading\ntext\n", "utf-8")
    (docs / "a.txt").write_text("plain\n", "utf-8")
    index, report = report_after_migrating(tmp_path, monkeypatch, docs, 15)
    assert (report.updated, report.unchanged) == (1, 1)
    [hit] = index.search("text", k=1, mode="lexical", path_glob="*.org")
    assert hit.section == "Heading"
