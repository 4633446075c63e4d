"""Running heads and feet of paged text: the lines a PDF repeats at the top or bottom of its
pages (a journal's name, a book's chapter title, "Page 3 of 40").

Read as text they sat between the end of one page and the start of the next, so a sentence
going on overleaf was cut by them ("the lift of the wing Journal of Aircraft 17 increases"): a
quoted phrase across the page turn was not found, the page looked as if it ended mid-sentence
(so a topic that ended with its page ran into the next: ``spans.section_starts``), and the
title in every head matched every page. A line counts as running when, digits aside (page
numbers), the same line lies among the first or last ``EDGE_LINES`` lines of at least
``MIN_PAGES`` pages. Running lines are taken off each page's edges, from the edge inwards, so a
line like one inside the page stays. The first page that has a running line with words keeps
it, so the words of a title in the head are still found once; page numbers ("Page 3 of 40",
"- 17 -", "xii") go everywhere.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

EDGE_LINES = 3  # lines at the top and at the bottom of a page that may be running
MIN_PAGES = 3  # a line at the edge of this many pages is running

_NUMBER = re.compile(r"\d+")
_ROMAN_NUMBER = re.compile(r"[ivxlcdm]+")  # front matter's page numbers
_WORD = re.compile(r"[^\W\d_]{4,}")  # a word worth keeping once ("page" is not)


def strip_running_lines(pages: Sequence[str]) -> list[str]:
    """``pages``' texts without their running heads and feet."""
    if len(pages) < MIN_PAGES:
        return list(pages)
    lines = [page.splitlines() for page in pages]
    seen: Counter[str] = Counter()
    for page_lines in lines:
        seen.update({key for key in map(_key, _edges(page_lines)) if key})
    running = {key for key, pages_with_it in seen.items() if pages_with_it >= MIN_PAGES}
    if not running:
        return list(pages)
    running.add("")  # blank lines between running ones
    kept: set[str] = set()  # running lines with words, kept on the first page that has them
    stripped = []
    for page, page_lines in zip(pages, lines, strict=True):
        start, end = 0, len(page_lines)
        while start < end and _key(page_lines[start]) in running:
            start += 1
        while end > start and _key(page_lines[end - 1]) in running:
            end -= 1
        if start == end:  # nothing but running lines: a page of one line like the others'
            stripped.append(page)
            continue
        head = [line for line in page_lines[:start] if _kept(line, kept)]
        foot = [line for line in page_lines[end:] if _kept(line, kept)]
        unchanged = (start, end) == (0, len(page_lines))
        stripped.append(page if unchanged else "\n".join(head + page_lines[start:end] + foot))
    return stripped


def _edges(page_lines: list[str]) -> list[str]:
    filled = [line for line in page_lines if line.strip()]
    return filled[:EDGE_LINES] + filled[EDGE_LINES:][-EDGE_LINES:]


def _key(line: str) -> str:
    """The line as running lines are compared: its words, lower case, numbers as ``#`` ("" for
    a blank line, which counts as running at an edge)."""
    key = _NUMBER.sub("#", " ".join(line.split()).lower())
    return "#" if _ROMAN_NUMBER.fullmatch(key) else key


def _kept(line: str, kept: set[str]) -> bool:
    """Whether a running ``line`` stays: the first time a line with words is met."""
    key = _key(line)
    if key in kept or not any(word != "page" for word in _WORD.findall(key)):
        return False
    kept.add(key)
    return True
