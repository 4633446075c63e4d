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

MIN_LINES = 5  # fewer lines say too little to tell
LISTING_SHARE = 0.6  # of its lines that are index entries, or contents lines
ORDERED_SHARE = 0.9  # of a contents page's steps from one page to the next: not backwards


def is_book(path: str) -> bool:
    """Whether ``path`` names a document that may have index and contents pages."""
    return os.path.splitext(path)[1].lower() in BOOK_SUFFIXES


def is_listing(text: str) -> bool:
    """Whether ``text`` is (most of it) a book's index, or its table of contents: lines of
    entries and their pages, the pages of contents lines in order (a table's rows of numbers
    are not)."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if len(lines) < MIN_LINES:
        return False
    least = LISTING_SHARE * len(lines)
    # Most lines of prose end in a letter or a stop: those are told without a regex.
    if sum(1 for line in lines if _ends_in_page(line)) < least:
        return False
    if sum(1 for line in lines if _INDEX_LINE.fullmatch(line)) >= least:
        return True
    pages = [found.group(1) for line in lines if (found := _CONTENTS_LINE.fullmatch(line))]
    if len(pages) < least:
        return False
    numbers = [int(page) for page in pages if page.isdigit()]
    steps = list(zip(numbers, numbers[1:]))
    return bool(steps) and sum(b >= a for a, b in steps) >= ORDERED_SHARE * len(steps)


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
