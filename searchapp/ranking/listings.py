"""A book's index and contents pages: lists of terms and page numbers, not prose about them.

A back-of-book index ("variable source area, 22, 23") holds a term as often as the passage that
explains it, in far fewer words, so BM25 and word order ranked it first, and with one hit a
file it was the book's only hit: a student asking for "variable source area" was given p.63's
index line, not p.33's definition. In hybrid ranking such a passage scores by its cosine alone
(``searcher.py``): what it holds of the query is a list's, not an explanation's.

Only documents laid out in pages are read so (``BOOK_SUFFIXES``): a CSV's rows or a log's lines
also end in numbers, and there the numbers are what is looked for.
"""

from __future__ import annotations

import os
import re

# Formats whose documents have index and contents pages.
BOOK_SUFFIXES = frozenset({".pdf", ".docx", ".odt", ".rtf", ".epub", ".doc"})

# A page number as an index or a contents line gives it: 22, 12-14, 17f., xii.
_PAGE = r"(?:\d{1,4}(?:\s*[-–—]\s*\d{1,4})?(?:ff?\.?)?|[ivxlc]{1,7})"
# An index entry: a term, a comma, its pages ("Darcy's law, 4, 17f., 23-25"); or pages alone,
# those an entry runs on with on the next line.
_INDEX_LINE = re.compile(
    rf"(?:[^\W\d].*?,\s*)?(?<![\d.,]){_PAGE}(?:\s*,\s*{_PAGE})*[.,]?", re.IGNORECASE
)
# A contents line: a title, then its page after spaces or dot leaders ("3.2 Model calibration
# ..... 45", "Preface vii"). A decimal (45.3) or a number in a sentence is no page.
_CONTENTS_LINE = re.compile(r".*?\S(?:\s*(?:\.\s?){2,}\s*|\s*…\s*|\s+)(\d{1,4}|[ivxlc]{1,7})")

# Of a contents line, what begins it: a section's number, or a book's part.
_CONTENTS_START = re.compile(
    r"(?:\d{1,2}(?:\.\d{1,2})*\.?|[A-Z]\.|chapter|part|appendix|preface|foreword|index|"
    r"introduction|acknowledg|bibliography|references|glossary|contents)\b",
    re.IGNORECASE,
)
_LEADERS = re.compile(r"(?:\.\s?){3,}|…")

MIN_LINES = 5  # fewer lines say too little to tell
LISTING_SHARE = 0.6  # of its lines that are index entries, or contents lines
# Of an index's entries, those giving two pages or more: a price list's or a catalogue's lines
# ("Zorblax hinge, brass, 12": a reviewer's) give one number each.
MANY_PAGES_SHARE = 0.25
# Of a contents page's lines, those beginning with a section's number or a part's name, or
# led by dots to their page: a course's schedule of rooms (101, 102, ...) is neither.
CONTENTS_SHAPE_SHARE = 0.5
ORDERED_SHARE = 0.9  # of a contents page's steps from one page to the next: not backwards
MAX_LINE_CHARS = 400  # an index's or contents' line is shorter (and read in linear time)


def is_book(path: str) -> bool:
    """Whether ``path`` names a document that may have index and contents pages."""
    return os.path.splitext(path)[1].lower() in BOOK_SUFFIXES


def is_listing(text: str) -> bool:
    """Whether ``text`` is (most of it) a book's index, or its table of contents: lines of
    entries and their pages, many giving several pages (an index), or numbered or led by dots
    to pages in order (contents). A table's rows of numbers, a price list, are neither."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if len(lines) < MIN_LINES:
        return False
    least = LISTING_SHARE * len(lines)
    # Most lines of prose end in a letter or a stop: those are told without a regex.
    short = [line for line in lines if len(line) <= MAX_LINE_CHARS and _ends_in_page(line)]
    if len(short) < least:
        return False
    entries = [line for line in short if _INDEX_LINE.fullmatch(line)]
    several = sum(1 for line in entries if "," in line.rsplit(None, 1)[-1] or _pages(line) > 1)
    if len(entries) >= least and several >= MANY_PAGES_SHARE * len(entries):
        return True
    contents = [
        (line, found.group(1)) for line in short if (found := _CONTENTS_LINE.fullmatch(line))
    ]
    if len(contents) < least:
        return False
    shaped = sum(1 for line, _ in contents if _CONTENTS_START.match(line) or _LEADERS.search(line))
    if shaped < CONTENTS_SHAPE_SHARE * len(contents):
        return False
    numbers = [int(page) for _, page in contents if page.isdigit()]
    steps = list(zip(numbers, numbers[1:]))
    return bool(steps) and sum(b >= a for a, b in steps) >= ORDERED_SHARE * len(steps)


def _pages(line: str) -> int:
    """How many pages an index line gives: the numbers after its term's last comma-free part."""
    return len(_PAGES_GIVEN.findall(line.split(",", 1)[-1])) if "," in line else 1


_PAGES_GIVEN = re.compile(rf"(?<![\w.]){_PAGE}(?![\w.])", re.IGNORECASE)


_ROMAN = frozenset("ivxlcIVXLC")


def _ends_in_page(line: str) -> bool:
    """Whether ``line`` ends as a page number or a list of them may: a digit, a comma (the
    list goes on) or a roman numeral."""
    last = line[-1]
    return (
        last.isdigit()
        or last == ","
        or (last in _ROMAN and all(c in _ROMAN for c in line.rsplit(None, 1)[-1]))
    )
