"""Running heads and feet of paged text: the lines a PDF repeats at the top or bottom of its
pages (a journal's name, a book's chapter title) and its page numbers ("Page 3 of 40").

Read as text they sat between the end of one page and the start of the next, so a sentence
going on overleaf was cut by them ("the lift of the wing Journal of Aircraft 17 increases"): a
quoted phrase across the page turn was not found, the page looked as if it ended mid-sentence,
and the title in every head matched every page. Only what is surely not the page's own text
goes, and only from a page's edges inwards (a line like one inside the page stays):

- a page number: a line of a number that goes up with the page (its page less a constant),
  alone or with page words ("- 17 -", "Page 3 of 40", "p. 12"), or in lower-case roman
  numerals alone (front matter's "iv"), on at least ``MIN_PAGES`` pages; a page holding
  nothing else is left blank;
- a running line: the same line, exactly, among the first or last ``EDGE_LINES`` lines of at
  least ``MIN_PAGES`` pages, two of them at most ``NEAR_PAGES`` apart (a head is on every page
  or every other one; a closing line of each chapter is not); the first copy of one stays, so
  a title's words are still found once; or the same line but for a page number at its start
  or end, beside two words or more ("Chapter 4: Function reference 9", a book's head on every
  other page: every copy goes), the start and the end counted as one (a journal's head has
  its page number at the outer edge: left on even pages, right on odd ones);
- of a document of two pages, a line at the edge of both (the first copy stays) and a page
  number with page words or between dashes on both ("Page 1 of 2", "- 1 -"; not a bare
  number).

A line that differs from page to page in anything but its page number (an invoice's number, a
table's rows, "Question 2") is never one of them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

EDGE_LINES = 3  # lines at the top and at the bottom of a page that may be running
MIN_PAGES = 3  # a line at the edge of this many pages is running
NEAR_PAGES = 2  # ...when two of them are at most this many pages apart
MAX_PAGE_OFFSET = 100  # a printed page number is its page less at most this (front matter)

_NUMBER = re.compile(r"\d+")
# What a page number line holds besides its number: page words and punctuation.
_PAGE_WORDS = re.compile(
    r"(?:page|pages|p|pg|pp|of|seite|von|página|pagina|de|di|sur|side|sida|strona|z|стр|из)\b"
    r"|[\W_]",
    re.IGNORECASE,
)


def strip_running_lines(pages: Sequence[str]) -> list[str]:
    """``pages``' texts without their page numbers and running heads and feet."""
    if len(pages) < 2:
        return list(pages)
    least = min(MIN_PAGES, len(pages))  # a paper of two pages: on both
    lines = [page.splitlines() for page in pages]
    found: defaultdict[tuple[str, int | None], set[int]] = defaultdict(set)
    for index, page_lines in enumerate(lines):
        for line in _edges(page_lines):
            for key in _keys(line, index):
                found[key].add(index)
    running = {key for key, at in found.items() if _runs(key, at, least)}
    if not running:
        return list(pages)
    kept: set[tuple[str, int | None]] = set()  # running lines kept once
    stripped = []
    for index, (page, page_lines) in enumerate(zip(pages, lines, strict=True)):

        def goes(line: str, index: int = index) -> bool:
            return not line.strip() or any(key in running for key in _keys(line, index))

        start, end = 0, len(page_lines)
        while start < end and goes(page_lines[start]):
            start += 1
        while end > start and goes(page_lines[end - 1]):
            end -= 1
        if start == end:  # nothing but running lines: a page of one line like the others'
            # ...but for its page number (a blank page's "viii" stood between two chapters)
            left = [line for line in page_lines if not _numbers_page(line, index, running)]
            stripped.append(page if len(left) == len(page_lines) else "\n".join(left).strip())
            continue
        head = [line for line in page_lines[:start] if _kept(line, running, kept)]
        foot = [line for line in page_lines[end:] if _kept(line, running, kept)]
        unchanged = (start, end) == (0, len(page_lines))
        stripped.append(page if unchanged else "\n".join(head + page_lines[start:end] + foot))
    return stripped


def _edges(page_lines: list[str]) -> list[str]:
    filled = [line for line in page_lines if line.strip()]
    return filled[:EDGE_LINES] + filled[EDGE_LINES:][-EDGE_LINES:]


def _keys(line: str, index: int) -> list[tuple[str, int | None]]:
    """How ``line`` on page ``index`` (0-based) may repeat: as it is (offset None), and, for a
    page number line, as its words with the number that goes with the page (its offset)."""
    text = " ".join(line.split()).lower()
    if not text:
        return []
    keys: list[tuple[str, int | None]] = [(text, None)]
    if _ROMAN.fullmatch(" ".join(line.split())):  # front matter's numbers: "iv", not "IV"
        offset = _roman_value(text) - (index + 1)
        return [*keys, ("#", offset)] if abs(offset) <= MAX_PAGE_OFFSET else keys
    for number in _NUMBER.finditer(text):
        offset = int(number.group()) - (index + 1) if len(number.group()) < 7 else None
        if offset is None or abs(offset) > MAX_PAGE_OFFSET:
            continue
        rest = text[: number.start()] + "#" + text[number.end() :]
        if _page_words_alone(rest):
            keys.append((rest, offset))
        elif (rest.startswith("# ") or rest.endswith(" #")) and len(_WORD.findall(rest)) >= 2:
            # A head beside its page number, on either side: a journal's puts it at the outer
            # edge, left on even pages and right on odd ones (a 5-page paper's 2 of each kept
            # all 4 heads, inside sentences going on overleaf).
            keys.append((_AT_AN_END + (rest[2:] if rest.startswith("# ") else rest[:-2]), offset))
    return keys


_AT_AN_END = "#|"  # a key's mark: the page number was at the start or the end of the line
# A page number in roman numerals, as front matter has them (i to xxxix, lower case).
_ROMAN = re.compile(r"x{0,3}(?:ix|iv|v?i{0,3})")
_ROMAN_VALUES = {"x": 10, "v": 5, "i": 1}


def _roman_value(numeral: str) -> int:
    values = [_ROMAN_VALUES[c] for c in numeral]
    return sum(-v if v < after else v for v, after in zip(values, [*values[1:], 0]))


# Words of a head beside its page number: two at least ("Question 2" on page 2 is the page's).
_WORD = re.compile(r"[^\W\d_]{2,}")


def _page_words_alone(rest: str) -> bool:
    """Whether a line less its page number (``#``) holds page words alone ("page # of 40")."""
    return not _NUMBER.sub("", _PAGE_WORDS.sub("", rest.replace("#", "")))


def _runs(key: tuple[str, int | None], pages: set[int], least: int = MIN_PAGES) -> bool:
    if len(pages) < least:
        return False
    if key[1] is not None and _page_words_alone(key[0]):  # a page number, going up with them
        # Of two pages, "Page 1 of 2" or "- 1 -" alone: a bare "2" and "3" were an invoice's
        # quantities (a historian's two-page PDFs kept "- 1 -" and "- 2 -").
        return least > 2 or (
            key[1] == 0
            and (re.search(r"[^\W\d_]", key[0]) is not None or _DASHED.fullmatch(key[0]))
        )
    ordered = sorted(pages)  # a line, or one with words beside its page number: near pages
    return any(b - a <= NEAR_PAGES for a, b in zip(ordered, ordered[1:]))


# A page number between dashes, a number less its number (``_keys``): "- # -", "— # —".
_DASHED = re.compile(r"[-–—]+ ?# ?[-–—]+")


def _numbers_page(line: str, index: int, running: set[tuple[str, int | None]]) -> bool:
    """Whether ``line`` on page ``index`` is a running page number (no words but page words)."""
    return any(
        key in running and key[1] is not None and _page_words_alone(key[0])
        for key in _keys(line, index)
    )


def _kept(line: str, running: set[tuple[str, int | None]], kept: set) -> bool:
    """Whether a running ``line`` stays: the first time a line with words is met (page numbers
    never)."""
    text = " ".join(line.split()).lower()
    if (text, None) not in running or (text, None) in kept:
        return False
    if not re.search(r"[^\W\d_]{4,}", text):
        return False
    kept.add((text, None))
    return True
