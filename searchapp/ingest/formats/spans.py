"""Where each stretch of an extracted document's text came from: a page, a cell, a chapter or a
heading path.

A document's spans are sorted by ``start_char``. A span covers its ``start_char`` up to the next
span's; text before the first span has no location. ``locate`` finds the location of any offset
into the text, such as a chunk's ``start_char``, by binary search.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class Span:
    """From ``start_char`` on (to the next span), the text is on ``page`` and under ``section``.

    ``page`` is 1-based (PDF pages); ``section`` is a label to show after the file name: a heading
    path (``"Install > Linux"``), ``"cell 7"``, ``"slide 3"`` or a chapter title. Either may be
    None.
    """

    start_char: int
    page: int | None = None
    section: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.start_char, bool) or not isinstance(self.start_char, int):
            raise ValueError(f"start_char ({self.start_char!r}) must be an int offset")
        if self.start_char < 0:
            raise ValueError(f"start_char ({self.start_char}) must be >= 0 (an offset into text)")
        if self.page is not None and (
            isinstance(self.page, bool) or not isinstance(self.page, int) or self.page < 1
        ):
            raise ValueError(f"page ({self.page!r}) must be None or an int >= 1 (1-based)")
        if self.section is not None and not isinstance(self.section, str):
            raise ValueError(f"section ({self.section!r}) must be None or a string")


class Location(NamedTuple):
    """The page and section of an offset; both None where the text has no location."""

    page: int | None
    section: str | None


NOWHERE = Location(None, None)


def locate(spans: Sequence[Span], start_char: int) -> Location:
    """The location of the character at ``start_char``: that of the last span starting at or
    before it (``NOWHERE`` before the first span or without spans). O(log n)."""
    index = bisect.bisect_right(spans, start_char, key=_start_char) - 1
    if index < 0:
        return NOWHERE
    span = spans[index]
    return Location(span.page, span.section)


def _start_char(span: Span) -> int:
    return span.start_char


@dataclass(frozen=True)
class LocatedText:
    """An extracted document: its title, its text, and spans sorted by strictly increasing
    ``start_char``, each at a character of the text."""

    title: str
    text: str
    spans: tuple[Span, ...] = ()
    # A PDF's page labels, as its pages are printed and viewers show them ("iv", "33" on the
    # 43rd page), one a page from the first; () where they are the pages' numbers.
    page_labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_spans(self.spans, len(self.text))


def check_spans(spans: Sequence[Span], text_length: int) -> None:
    """Raise ``ValueError`` unless ``spans`` start in strictly increasing order, each at a
    character of a text of ``text_length`` characters."""
    previous = -1
    for span in spans:
        if not previous < span.start_char < text_length:
            raise ValueError(
                f"span start_char ({span.start_char}) must be greater than the previous span's "
                f"({previous}) and below the text's length ({text_length}); build spans in text "
                "order, one per located unit that has text"
            )
        previous = span.start_char


# The end of a sentence, before closing quotes or brackets: where a page that ends there ends
# its text, rather than breaking a paragraph off to go on overleaf.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s*\Z")


def ends_sentence(text: str) -> bool:
    """Whether ``text`` ends a sentence (a full stop, question or exclamation mark, perhaps
    before closing quotes or brackets)."""
    return _SENTENCE_END.search(text, max(0, len(text) - 16)) is not None


def section_starts(spans: Sequence[Span], text: str = "") -> list[int]:
    """The offsets where the section changes (a heading, cell, slide or chapter begins), in
    order; and where a page turns after a page of ``text`` that ends a sentence. A page turn
    mid-sentence is not one (a paragraph goes on overleaf): a PDF of a page per topic (slides
    exported, a handout) was one passage of five topics, its pages found by their words only.
    In a document of short pages (``SLIDE_PAGE_CHARS``: slides exported to PDF, whose bullets
    end no sentence: a student's deck of 8 slides was one passage), every page turn but to a
    page that begins in lower case (a sentence going on)."""
    starts = []
    section, page = None, None
    slides = _short_pages(spans, len(text)) if text else False
    for span in spans:
        if span.section != section:
            if span.section is not None:
                starts.append(span.start_char)
            section = span.section
        elif (
            span.page != page
            and page is not None
            and (
                _SENTENCE_END.search(text, max(0, span.start_char - 16), span.start_char)
                or (slides and not text[span.start_char :].lstrip()[:1].islower())
            )
        ):
            starts.append(span.start_char)
        page = span.page
    return starts


# Pages of at most this many characters, the median of 3 or more: slides, not a paper's pages
# (a page of prose holds 2,000-4,000).
SLIDE_PAGE_CHARS = 600


def _short_pages(spans: Sequence[Span], length: int) -> bool:
    """Whether the text's pages (``spans``' page turns) are slides: 3 or more, the median at
    most ``SLIDE_PAGE_CHARS`` characters."""
    turns = [
        span.start_char for n, span in enumerate(spans) if n == 0 or span.page != spans[n - 1].page
    ]
    if len(turns) < 3 or any(span.page is None for span in spans):
        return False
    sizes = sorted(end - start for start, end in zip(turns, [*turns[1:], length]))
    return sizes[len(sizes) // 2] <= SLIDE_PAGE_CHARS


HEADING_SEPARATOR = " > "  # between the headings of a section's path: "Install > Linux"


# A reStructuredText heading's adornment (`=======`) and a label before it (`.. _retries:`): a
# section may begin with them, above its heading's line.
HEADING_MARKUP = re.compile(
    r"(?:([=\-~^\"'`#*+:.<>_!$%&,;?@\\/|(){}\[\]])\1{2,}|\.\. _[^\n:]+:|\.\. _`[^`\n]+`:)[ \t]*"
)


def heading_starts(spans: Sequence[Span], text: str) -> set[int]:
    """The offsets of ``section_starts`` whose line is the section's own heading (the last part
    of its heading path, as a Word file's, an EPUB's or a web page's heading reads): there a
    heading stands, not a cell's or a page's first line of text; after its markup
    (``HEADING_MARKUP``) and blank lines, where a reStructuredText section begins with them."""
    found = set()
    for span in spans:
        if not span.section:
            continue
        at = span.start_char
        while True:
            end = text.find("\n", at)
            line = text[at : end if end >= 0 else len(text)]
            if end < 0 or (line.strip() and not HEADING_MARKUP.fullmatch(line)):
                break
            at = end + 1
        heading = span.section.rsplit(HEADING_SEPARATOR, 1)[-1]
        if " ".join(line.lstrip("#= \t").split()) == " ".join(heading.split()):
            found.add(span.start_char)
    return found


def line_locations(
    spans: Sequence[Span], text: str, start_char: int, end_char: int, first_line: int
) -> list[tuple[int, Location]]:
    """Where the location changes inside ``text[start_char:end_char]`` (a chunk starting on line
    ``first_line``): each later line whose first character lies in another location than the
    line before, with that location, in line order. [] when the stretch has one location."""
    first = bisect.bisect_right(spans, start_char, key=_start_char)
    last = bisect.bisect_left(spans, end_char, key=_start_char)
    changes: list[tuple[int, Location]] = []
    current = locate(spans, start_char)
    for span in spans[first:last]:
        line_start = span.start_char
        if text[line_start - 1] != "\n":  # a span from mid-line: its next line starts in it
            line_start = text.find("\n", line_start, end_char) + 1
            if line_start == 0:
                continue
        if line_start >= end_char:
            continue
        here = locate(spans, line_start)
        if here != current:
            changes.append((first_line + text.count("\n", start_char, line_start), here))
            current = here
    return changes
