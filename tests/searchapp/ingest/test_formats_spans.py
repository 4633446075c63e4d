"""Spans, ``locate`` and the text builder: the location data model every format hands on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from searchapp.ingest.chunking import ChunkingConfig, chunk_text
from searchapp.ingest.formats.builder import HeadingPath, TextBuilder
from searchapp.ingest.formats.spans import (
    NOWHERE,
    LocatedText,
    Location,
    Span,
    line_locations,
    locate,
    section_starts,
)


def test_locate_finds_the_last_span_at_or_before_the_offset() -> None:
    spans = [Span(5, page=1), Span(20, page=2), Span(30, page=2, section="cell 3")]
    assert locate(spans, 0) == NOWHERE == Location(None, None)
    assert locate(spans, 4) == NOWHERE
    assert locate(spans, 5) == Location(1, None)
    assert locate(spans, 19) == (1, None)
    assert locate(spans, 20) == (2, None)
    assert locate(spans, 10_000) == (2, "cell 3")
    assert locate((), 3) == NOWHERE
    page, section = locate(spans, 31)  # a plain tuple to unpack
    assert (page, section) == (2, "cell 3")


@given(st.lists(st.integers(0, 200), unique=True), st.integers(0, 250))
def test_locate_agrees_with_a_linear_scan(starts: list[int], offset: int) -> None:
    spans = [Span(start, page=n + 1) for n, start in enumerate(sorted(starts))]
    before = [span for span in spans if span.start_char <= offset]
    expected = Location(before[-1].page, None) if before else NOWHERE
    assert locate(spans, offset) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start_char": -1}, r"start_char \(-1\) must be >= 0"),
        ({"start_char": 1.5}, r"start_char \(1.5\) must be an int"),
        ({"start_char": True}, r"start_char \(True\) must be an int"),
        ({"start_char": 0, "page": 0}, r"page \(0\) must be None or an int >= 1"),
        ({"start_char": 0, "section": 7}, r"section \(7\) must be None or a string"),
    ],
)
def test_span_is_validated(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Span(**kwargs)


@pytest.mark.parametrize(
    "spans",
    [
        (Span(3), Span(3)),  # not strictly increasing
        (Span(4), Span(2)),
        (Span(5),),  # past the text
    ],
)
def test_located_text_refuses_spans_out_of_order_or_outside_the_text(spans) -> None:
    with pytest.raises(ValueError, match="build spans in text order"):
        LocatedText(title="", text="hello", spans=spans)


def test_builder_joins_units_with_blank_lines_and_records_changes_of_location() -> None:
    builder = TextBuilder()
    builder.add("\n\n  first page\r\nline two  \n", page=1)
    builder.add("   \n", page=2)  # blank: dropped, no span
    builder.add("third", page=3, section="Intro")
    builder.add("more of it", page=3, section="Intro")  # same location: no new span
    builder.add("x\x00y\ud800", page=4)  # normalised: controls to spaces, lone surrogates
    located = builder.build(title="  A\n title ")
    assert located.text == "  first page\nline two\n\nthird\n\nmore of it\n\nx y\ufffd"
    assert located.title == "A title"
    assert located.spans == (Span(0, 1), Span(23, 3, "Intro"), Span(42, 4))
    assert located.text[23:28] == "third" and located.text[42] == "x"


def test_builder_without_units_is_empty() -> None:
    assert TextBuilder().build() == LocatedText("", "", ())


def test_heading_path() -> None:
    path = HeadingPath()
    assert path.section is None
    assert path.enter(1, "Install") == "Install"
    assert path.enter(2, " Linux\n") == "Install > Linux"
    assert path.enter(4, "Debian") == "Install > Linux > Debian"  # levels may skip
    assert path.enter(3, "Arch") == "Install > Linux > Arch"
    assert path.enter(2, "macOS") == "Install > macOS"
    assert path.enter(2, "  ") == "Install > macOS"  # an empty heading changes nothing
    assert path.enter(1, "Usage") == "Usage"


def test_every_chunk_of_an_extracted_text_is_located() -> None:
    """The intended use: chunk the text as any text, then locate each chunk's start."""
    builder = TextBuilder()
    for page in range(1, 6):
        builder.add(" ".join(f"p{page}w{n}" for n in range(60)), page=page)
    located = builder.build()

    def count_tokens(texts):
        return [len(text.split()) for text in texts]

    chunks = chunk_text(
        located.text,
        count_tokens=count_tokens,
        config=ChunkingConfig(max_tokens=25, overlap_tokens=4),
    )
    pages = [locate(located.spans, chunk.start_char).page for chunk in chunks]
    starts = [chunk.text.split()[0] for chunk in chunks]
    assert pages == [int(word[1 : word.index("w")]) for word in starts]
    assert set(pages) == {1, 2, 3, 4, 5}


def test_sections_start_where_a_heading_cell_or_slide_does_and_not_at_a_page_turn() -> None:
    spans = [
        Span(0, page=1),
        Span(10, page=2),  # a page turn alone
        Span(20, page=2, section="Intro"),
        Span(30, page=3, section="Intro"),  # the same section on a new page
        Span(40, page=3, section="Intro > Scope"),
        Span(50, page=3),  # back to no section: nothing starts
        Span(60, page=3, section="Intro > Scope"),
    ]
    assert section_starts(spans) == [20, 40, 60]
    assert section_starts([]) == []


def test_a_page_that_ends_a_sentence_ends_its_passage() -> None:
    # A PDF of a page per topic (five pages, five topics) was one passage: a page turn was
    # never a boundary. One after a sentence's end is; one mid-sentence (a paragraph that goes
    # on overleaf) still is not.
    pages = [
        "Beekeeping. Hives need shade.\n",
        "Volcanoes erupt when \n",  # goes on overleaf
        "magma rises (as it does).\n\n",
        'Chess openings: "the Queen\'s Gambit!"\n',
        "Marathons\n",
    ]
    text, spans = "", []
    for number, page in enumerate(pages, start=1):
        spans.append(Span(len(text), page=number))
        text += page
    turns = [span.start_char for span in spans[1:]]
    assert section_starts(spans, text) == [turns[0], turns[2], turns[3]]
    assert section_starts(spans) == []  # without the text: sections only, as before


@st.composite
def located_stretches(draw):
    """A text of short lines, spans at any characters (line starts or not), and a stretch of it."""
    text = draw(st.text(alphabet="ab\n", min_size=2, max_size=60))
    starts = draw(st.lists(st.integers(0, len(text) - 1), unique=True, max_size=8))
    spans = [
        Span(start, page=draw(st.integers(1, 3)), section=draw(st.sampled_from([None, "A", "B"])))
        for start in sorted(starts)
    ]
    start = draw(st.integers(0, len(text) - 1))
    end = draw(st.integers(start + 1, len(text)))
    return text, spans, start, end


@given(located_stretches(), st.integers(1, 5))
def test_line_locations_are_where_each_line_of_the_stretch_starts(case, first_line) -> None:
    text, spans, start, end = case
    expected, current = [], locate(spans, start)
    line = first_line
    for offset in range(start + 1, end):  # each later line's first character, by a linear scan
        if text[offset - 1] != "\n":
            continue
        line = first_line + text.count("\n", start, offset)
        here = locate(spans, offset)
        if here != current:
            expected.append((line, here))
            current = here
    assert line_locations(spans, text, start, end, first_line) == expected


def test_line_locations_of_a_chunk_across_two_pages() -> None:
    builder = TextBuilder()
    builder.add("one\ntwo", page=1)
    builder.add("three\nfour", page=2, section="B")
    located = builder.build()  # "one\ntwo\n\nthree\nfour": page 2 from line 4
    assert line_locations(located.spans, located.text, 0, len(located.text), 1) == [
        (4, Location(2, "B"))
    ]
    assert line_locations(located.spans, located.text, 0, 7, 1) == []  # page 1 only


def test_each_slide_of_a_deck_exported_to_pdf_starts_a_passage() -> None:
    # A student's deck of 8 slides exported to PDF: bullets end no sentence, so it was one
    # passage (the .pptx of it, a passage a slide, outranked it for its own words).
    pages = [
        "Lecture 2: Fluid statics\nPressure at a point\nHydrostatic law\n",
        "Pressure at a point\n- same in all directions\n- a scalar\n",
        "Hydrostatic law\n- dp/dz = -rho g\n- p = p0 + rho g h\n",
        "Manometers\n- U-tube: p1 - p2 = rho g h, and a\n",
        "second fluid on the right side\n",  # lower case: the slide's line goes on
    ]
    text, spans = "", []
    for number, page in enumerate(pages, start=1):
        spans.append(Span(len(text), page=number))
        text += page
    turns = [span.start_char for span in spans[1:]]
    assert section_starts(spans, text) == turns[:3]
    # Pages of prose are no slides: a page turn mid-paragraph is no start.
    prose = [("Word " * 150).strip() + " and\n", ("more " * 150).strip() + ".\n", "End.\n"]
    text, spans = "", []
    for number, page in enumerate(prose, start=1):
        spans.append(Span(len(text), page=number))
        text += page
    assert section_starts(spans, text) == [spans[2].start_char]
