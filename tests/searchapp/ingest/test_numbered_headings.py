"""A PDF's numbered headings (``formats/numbered_headings.py``): an outline of numbered lines,
each a section of the text after it."""

from __future__ import annotations

from searchapp.ingest.formats.numbered_headings import numbered_headings
from searchapp.ingest.formats.pdf import extract_pdf
from searchapp.ingest.formats.spans import locate
from tests.searchapp.ingest.test_formats_pdf import make_pdf

PAPER = [
    "A study of baseflow\nAbstract text of the paper.\n1 Introduction\nBaseflow is the slow part.",
    "2 Methods\nWe fit filters.\n2.1 Recession constant\nThe constant is fitted.\n"
    "1 Collect the samples\n2 Dry the samples",  # a numbered list: not the outline's
    "3 Results\nThe filter works.\n3.1 What the filter misses?\nStorms.\n4 Conclusions\nDone.",
]


def test_numbered_lines_that_make_an_outline_are_headings_with_their_paths() -> None:
    found = numbered_headings(PAPER)
    assert [h.line for h in found] == [
        "1 Introduction",
        "2 Methods",
        "2.1 Recession constant",
        "3 Results",
        "3.1 What the filter misses?",
        "4 Conclusions",
    ]
    assert found[2].section == "2 Methods > 2.1 Recession constant"
    assert found[3].section == "3 Results"  # 2.1 is not above it
    assert (found[1].page, PAPER[1][found[1].start :].split("\n")[0]) == (1, "2 Methods")


def test_contents_lines_prose_and_tables_are_no_headings() -> None:
    contents = ["Contents\n1 Introduction 1\n2 Methods 4\n2.1 Sites 5\n3 Results 9"]
    assert numbered_headings(contents) == []  # each ends in its page: a contents page
    prose = ["3 of the 12 sites were dry. 4 were flooded.\n5 Stations reported late data"]
    assert numbered_headings(prose) == []
    assert numbered_headings(["1 Introduction\n2 Methods"]) == []  # two make no outline


def test_a_book_whose_chapters_are_named_by_words_has_its_numbered_sections() -> None:
    # "Chapter 2" is a line of words; its sections 2.1, 2.2 follow 1.3.
    pages = ["Chapter 1\n1.1 Rain\nText.\n1.2 Snow\nText.", "Chapter 2\n2.1 Evaporation\nText."]
    assert [h.line for h in numbered_headings(pages)] == ["1.1 Rain", "1.2 Snow", "2.1 Evaporation"]


def test_a_pdf_hit_names_its_section_and_a_passage_starts_at_a_heading() -> None:
    located = extract_pdf(make_pdf(PAPER))
    at = located.text.index("The constant is fitted")
    assert locate(located.spans, at).section == "2 Methods > 2.1 Recession constant"
    assert locate(located.spans, at).page == 2
    assert locate(located.spans, located.text.index("Baseflow is")).section == "1 Introduction"
    assert locate(located.spans, located.text.index("Abstract text")).section is None
    # A heading begins a paragraph of its own, as a section starts a passage.
    assert "\n\n2.1 Recession constant\n" in located.text


def test_lists_tables_contents_and_references_make_no_outline() -> None:
    # A reviewer's: an agenda slide, a 5-step list inside "2 Methods", numbered table rows and
    # a reference list each made headings (a Results hit said "section": "5 Record the weights").
    assert numbered_headings(["Agenda\n1 Budget overview\n2 Hiring plan\n3 Open questions"]) == []
    steps = (
        "1 Introduction\nText.\n2 Methods\nWe did:\n1 Collect the water samples\n2 Dry the "
        "filters\n3 Weigh them\n4 Store them\n5 Record the weights\nDone.\n3 Results\nText.\n"
        "4 Discussion\nText.\nReferences\n5. Author J, Other K. A study of baseflow in\nrivers."
    )
    assert [h.line for h in numbered_headings([steps])] == [
        "1 Introduction",
        "2 Methods",
        "3 Results",
        "4 Discussion",
    ]
    rows = ["1 Introduction\nText.\n2 Sites\nWe chose:\n1 Blue Creek\n2 Red River\n3 Green Lake\n"]
    assert [h.line for h in numbered_headings([rows[0] + "3 Results\nText."])] == [
        "1 Introduction",
        "2 Sites",
        "3 Results",
    ]
    # A contents page without page numbers: the body's headings, not its lines.
    contents = "Contents\n1 Introduction\n1.1 Scope\n2 Methods\n2.1 Sites\n3 Results"
    body = (
        "1 Introduction\nText.\n1.1 Scope\nText.\n2 Methods\nText.\n2.1 Sites\nText.\n3 Results\nX."
    )
    assert {h.page for h in numbered_headings([contents, body])} == {1}
    # Numbered alike: "4" and "5." are not one outline's.
    assert [h.line for h in numbered_headings(["1 A b\nx\n2 C d\nx\n3 E f\nx\n4. G h\nx"])][-1] == (
        "3 E f"
    )
