"""A book's index and contents pages (``ranking/listings.py``): told from prose, and ranked by
their cosine alone, below the page that explains what they list."""

from __future__ import annotations

from pathlib import Path

import pytest

from searchapp.ranking.listings import is_book, is_listing
from searchapp.search_index import SearchIndex
from tests.searchapp.conftest import FakeEncoder
from tests.searchapp.ingest.test_formats_pdf import make_pdf

BACK_INDEX = """Index
Alter shield, 1
annual maximum series, 39
aquifer, 2, 3, 4, 5, 6, 7, 10, 11, 12,
13, 14, 16
Darcy's law, 4, 17f., 23-25
hydrograph
 recession of, 31
TOPMODEL, 22, 23
variable source area, 22, 23
water-table fluctuation method, 30, 32"""

CONTENTS = """Contents
Preface vii
1 Precipitation and interception 1
1.1 Measuring precipitation ........ 1
1.2 Areal rainfall . . . . . . . 3
2 Evaporation and transpiration 9
2.1 Energy balance 9
3 Soil water and infiltration 15"""

PROSE = """The variable source area concept of Hewlett describes how the saturated area
expands and contracts during and between storms, as the water table rises to the
surface near the channel. Dunne and Black measured it on a hillslope in 1970, and
TOPMODEL predicts it from the topographic wetness index of each cell in the catchment;
the contributing area grew from 5 to 40 percent of the basin in the storm of
12 August, and fell back within 3 days as the hillslopes drained toward 22"""

TABLE = """Station Area Rainfall
Harwell 120 845
Ashby 45 610
Corran 310 1020
Deeping 88 702
Eastleigh 15 930
Fenton 260 640"""

# A reviewer's: a catalogue's lines of "words, price" and a schedule's rooms going up.
CATALOGUE = "Catalogue\n" + "\n".join(
    f"{name} hinge, brass, {12 + 3 * n}"
    for n, name in enumerate("Abbot Crane Delta Ember Zorblax".split())
)
SCHEDULE = "Schedule\n" + "\n".join(f"Week {n} seminar in room {100 + n}" for n in range(1, 7))


@pytest.mark.parametrize("text", [BACK_INDEX, CONTENTS, CONTENTS.replace("\n", "\n  ")])
def test_an_index_or_contents_page_is_a_listing(text) -> None:
    assert is_listing(text)


@pytest.mark.parametrize(
    "text",
    [
        PROSE,
        TABLE,  # a table's numbers are out of order: no page numbers
        CATALOGUE,  # one number an entry: prices, not an index's pages
        SCHEDULE,  # in order, but no contents line's shape
        "\n".join(BACK_INDEX.split("\n")[:4]),  # too few lines to tell
        "1 Introduction 1\n" + PROSE,  # a contents line before prose is no contents page
    ],
)
def test_prose_and_tables_are_no_listing(text) -> None:
    assert not is_listing(text)


def test_only_documents_with_pages_have_index_pages() -> None:
    assert is_book("books/Hydrology.PDF") and is_book("a/thesis.docx") and is_book("b.epub")
    assert not is_book("data/orders.csv") and not is_book("logs/syslog") and not is_book("a.md")


def test_the_page_that_explains_a_term_ranks_above_the_index_listing_it(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "book.pdf").write_bytes(make_pdf([PROSE, BACK_INDEX]))
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder(dim=64, max_length=128))
    index.add([docs])
    # Both hold the words; the index page holds them in fewer words, so BM25 and word order
    # favour it. As the book's one hit it gave the reader a list of page numbers.
    for query in ("variable source area", '"variable source area"', "TOPMODEL"):
        hits = index.search(query, k=1)
        assert [hit.page for hit in hits] == [1], query
    both = index.search("variable source area", k=2, per_doc=2)
    assert [hit.page for hit in both] == [1, 2]  # the index page is still a hit, below
    assert both[1].score == pytest.approx(both[1].cosine)  # by its cosine alone
    # Lexical ranking is asked for words as BM25 counts them: the index page is not moved.
    lexical = index.search("variable source area", k=2, per_doc=2, mode="lexical")
    assert lexical[0].page == 2
