"""A paper's or a report's numbered headings in text without markup (a PDF's pages).

A PDF's text says nothing of what is a heading: hits of a paper named no section, and a passage
ran from one section into the next. A line is taken for a heading when it is numbered as one
("3.2 Model calibration", "4. Results"), short, and not a sentence, and when with the others so
found it makes an outline: numbers that go up through the document (1, 2, 2.1, 2.2, 3), written
alike ("4" or "4."), at least ``MIN_HEADINGS`` of them. A contents page's lines end in their
page numbers, a numbered list's items in a stop, a table's rows in numbers; a line with a
numbered line of its depth next to it, or between two numbered lines, is a list's item, a
table's row or a contents line (a reviewer's agenda slide, a 5-step list inside "2 Methods" and
numbered table rows made outlines of their own): none is a heading.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from searchapp.ingest.formats.spans import HEADING_SEPARATOR

MIN_HEADINGS = 3  # fewer numbered lines make no outline
MAX_HEADING_WORDS = 10
MAX_CANDIDATES = 5000  # numbered lines read; a document with more is given no outline
LOOK_BACK = 200  # candidates before one that may be the heading before it
_HEADING = re.compile(
    r"(?P<number>[1-9][0-9]?(?:\.[1-9][0-9]?){0,2})(?P<dot>\.?)[ \t]+"
    r"(?P<title>[A-Z][^\n]{0,100}(?:[^\W\d_]|[?)]))[ \t]*"
)
_NUMBERED_LINE = re.compile(r"[ \t]*(?P<number>[0-9]{1,3}(?:\.[0-9]{1,3}){0,3})\.?[ \t]+\S")


@dataclass(frozen=True)
class NumberedHeading:
    """A heading line: its page (an index into the pages given), where its line starts in that
    page's text, its number's parts, its line as written (less blanks at its ends), and its
    section: the headings it is under and its own ("2 Methods > 2.1 Sites")."""

    page: int
    start: int
    number: tuple[int, ...]
    line: str
    section: str = ""
    dotted: bool = False  # its number written with a stop after it ("4.")


def numbered_headings(pages: Sequence[str]) -> list[NumberedHeading]:
    """The headings of ``pages``' texts, in order: the numbered lines that make an outline."""
    found: list[NumberedHeading] = []
    for page, text in enumerate(pages):
        lines = text.split("\n")
        filled = [n for n, line in enumerate(lines) if line.strip()]
        at, starts = 0, []
        for line in lines:
            starts.append(at)
            at += len(line) + 1
        for index, n in enumerate(filled):
            heading = _heading(lines[n])
            if heading is None:
                continue
            number, dotted = heading
            before = _number(lines[filled[index - 1]]) if index else None
            after = _number(lines[filled[index + 1]]) if index + 1 < len(filled) else None
            listed = (before is not None and _next_item(before, number)) or (
                after is not None and _next_item(number, after)
            )
            if listed or (before is not None and after is not None):  # a list, a table
                continue
            found.append(NumberedHeading(page, starts[n], number, lines[n].strip(), "", dotted))
            if len(found) > MAX_CANDIDATES:
                return []
    outline = _in_order(found)
    if len(outline) < MIN_HEADINGS:
        return []
    above: list[NumberedHeading] = []  # the headings it is under: numbers that begin its own
    sections = []
    for heading in outline:
        while above and heading.number[: len(above[-1].number)] != above[-1].number:
            above.pop()
        above.append(heading)
        section = HEADING_SEPARATOR.join(h.line for h in above)
        sections.append(replace(heading, section=section))
    return sections


def _heading(line: str) -> tuple[tuple[int, ...], bool] | None:
    """The number of a heading ``line`` ("3.2 Model calibration": (3, 2)) and whether a stop
    follows it; None for others (a sentence's stop inside it: a reference's "A. Author. A
    study of...")."""
    found = _HEADING.fullmatch(line.strip())
    if found is None or len(found.group("title").split()) > MAX_HEADING_WORDS:
        return None
    if ". " in found.group("title"):
        return None
    return tuple(int(part) for part in found.group("number").split(".")), bool(found.group("dot"))


def _number(line: str) -> tuple[int, ...] | None:
    """The number beginning ``line`` (a heading's, a list item's, a table row's), None for a
    line that begins with none."""
    found = _NUMBERED_LINE.match(line)
    return tuple(int(part) for part in found.group("number").split(".")) if found else None


def _next_item(before: tuple[int, ...], number: tuple[int, ...]) -> bool:
    """Whether ``number`` is the item after ``before`` in a list of its depth (2 after 1, 2.4
    after 2.3): a heading has its section's text before the next."""
    return len(before) == len(number) and number == (*before[:-1], before[-1] + 1)


def _in_order(found: list[NumberedHeading]) -> list[NumberedHeading]:
    """The longest run of ``found`` in which each goes on from the one before (``_follows``)
    and is numbered alike, from a first heading or subheading (1, 3 or 3.1, not 3.2: a first
    heading may not read as one, "1.1 What is a fluid?" after its contents page). A numbered
    list's "1 Collect samples" after "3 Methods" is left out. The heading before one is looked
    for among the ``LOOK_BACK`` candidates before it."""
    longest: list[int] = []  # of the run ending at each
    previous: list[int | None] = []
    for i, heading in enumerate(found):
        best, link = (1, None) if all(p == 1 for p in heading.number[1:]) else (0, None)
        for j in range(max(0, i - LOOK_BACK), i):
            before = found[j]
            # ...the later of as good ones: the body's heading, not its contents line
            longer = longest[j] + 1 > best or (longest[j] + 1 == best and link is not None)
            if (
                longest[j]
                and longer
                and before.dotted == heading.dotted
                and _follows(before.number, heading.number)
            ):
                best, link = longest[j] + 1, j
        longest.append(best)
        previous.append(link)
    if not longest or max(longest) == 0:
        return []
    # Of runs as long, the last: the body's headings, not a contents page's lines before them
    at: int | None = len(longest) - 1 - longest[::-1].index(max(longest))
    run = []
    while at is not None:
        run.append(found[at])
        at = previous[at]
    return run[::-1]


def _follows(before: tuple[int, ...], number: tuple[int, ...]) -> bool:
    """Whether ``number`` may come next after ``before``: one more at one of its levels, or a
    first subheading, and first subheadings below either (2 or 2.1 after 1.3, as a book's
    "Chapter 2" line names its chapter; 2.1 or 2.1.1 after 2)."""
    for level in range(1, len(before) + 1):
        if number[:level] == (*before[: level - 1], before[level - 1] + 1):
            return all(part == 1 for part in number[level:])
    deeper = len(number) > len(before) and number[: len(before)] == before
    return deeper and all(part == 1 for part in number[len(before) :])
