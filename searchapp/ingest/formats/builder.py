"""Assembling a ``LocatedText`` unit by unit (page, slide, cell, chapter, paragraph)."""

from __future__ import annotations

import re

from searchapp.ingest.decoding import normalise
from searchapp.ingest.formats.spans import (
    HEADING_SEPARATOR,
    NOWHERE,
    LocatedText,
    Location,
    Span,
)

UNIT_SEPARATOR = "\n\n"  # a paragraph break for the chunker: a unit is never glued to the next

_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")
# Extracted strings can hold lone surrogates (broken UTF-16 in a PDF or XML): not text that SQLite
# or the tokenizer accepts, so each becomes U+FFFD.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


_WORD = re.compile(r"[^\W\d_]{3,}")


def more_than_page_fields(text: str) -> bool:
    """Whether a header's or footer's line holds a word besides "page": "Page of" is what its
    page number fields leave, and no text."""
    return _WORD.search(text.lower().replace("page", "")) is not None


class TextBuilder:
    """Joins units of text with blank lines and records a ``Span`` wherever the location changes.

    Each unit is normalised (as ``decoding.normalise``), loses its leading blank lines and
    trailing whitespace, and is dropped when nothing is left, so every span starts at text.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._spans: list[Span] = []
        self._length = 0
        self._location = NOWHERE  # of the last span (text before the first span has none)

    def add(
        self,
        text: str,
        *,
        page: int | None = None,
        section: str | None = None,
        continues: bool = False,
    ) -> None:
        """Append one unit found on ``page`` and under ``section``; ``continues``: it goes on
        from the unit before (a paragraph across a page turn), so a line break joins them."""
        text = _LEADING_BLANK_LINES.sub("", normalise(_LONE_SURROGATE.sub("\ufffd", text)))
        text = text.rstrip()
        if not text:
            return
        if self._parts:
            separator = "\n" if continues else UNIT_SEPARATOR
            self._parts.append(separator)
            self._length += len(separator)
        location = Location(page, section)
        if location != self._location:
            self._spans.append(Span(self._length, page, section))
            self._location = location
        self._parts.append(text)
        self._length += len(text)

    @property
    def length(self) -> int:
        """Characters of text so far."""
        return self._length

    def build(self, title: str = "", page_labels: tuple[str, ...] = ()) -> LocatedText:
        title = " ".join(normalise(_LONE_SURROGATE.sub("\ufffd", title)).split())
        text = "".join(self._parts)
        return LocatedText(title, text, tuple(self._spans), page_labels)


class HeadingPath:
    """The headings above the current position, as a section label: ``"Install > Linux"``."""

    SEPARATOR = HEADING_SEPARATOR

    def __init__(self) -> None:
        self._headings: list[tuple[int, str]] = []  # (level, title), outermost first

    def enter(self, level: int, title: str) -> str | None:
        """A heading of ``level`` (1 = outermost) starts: it replaces the headings at its level
        and below. Returns the new section; a heading without text changes nothing."""
        title = " ".join(title.split())
        if title:
            while self._headings and self._headings[-1][0] >= level:
                self._headings.pop()
            self._headings.append((level, title))
        return self.section

    @property
    def section(self) -> str | None:
        """The current path, None before the first heading."""
        return self.SEPARATOR.join(title for _, title in self._headings) or None
