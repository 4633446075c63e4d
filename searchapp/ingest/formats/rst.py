"""reStructuredText (``.rst``: Sphinx, Python projects' docs) and AsciiDoc (``.adoc``): headings
as sections, the first one the title.

A reStructuredText heading is a line underlined (perhaps overlined too) with one punctuation
character repeated at least as long as its text (`Install\n=======`); its level is the order in
which its style of adornment first appears, as docutils reads it. An AsciiDoc heading is a line
of `=` signs and a space (`== Install`; `=` alone is the document's title). Read as plain text,
a passage ran across sections and a hit named none. The text is kept as it is, so a hit's line
is the file's.
"""

from __future__ import annotations

import bisect
import re

from searchapp.ingest.formats.builder import HeadingPath
from searchapp.ingest.formats.spans import LocatedText, Span

RST_SUFFIX = ".rst"
ASCIIDOC_SUFFIXES = frozenset({".adoc", ".asciidoc"})

# An adornment: one of docutils' punctuation characters, repeated, alone on its line.
_ADORNMENT = re.compile(r"([=\-~^\"'`#*+:.<>_!$%&,;?@\\/|(){}\[\]])\1{2,}[ \t]*")
_ASCIIDOC_HEADING = re.compile(r"^(?P<marks>={1,6})[ \t]+(?P<title>\S[^\n]*)", re.MULTILINE)


def extract_rst(text: str) -> LocatedText:
    """``text`` as it is, a span at each heading's text line (its section the path of
    headings down to it), the first heading the title."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    styles: list[tuple[str, bool]] = []  # (character, overlined), in order of first use
    headings = HeadingPath()
    spans, title = [], ""
    n, consumed = 0, -1  # the last heading's underline: no overline of the next (a reviewer's)
    while n + 1 < len(lines):
        line, under = lines[n], lines[n + 1]
        above = lines[n - 1] if n > 0 and n - 1 != consumed else ""
        over = (
            _ADORNMENT.fullmatch(above) is not None
            and above[0] == under[:1]
            and len(above.rstrip()) >= len(line.rstrip())
        )
        heading = (
            line.strip()
            and not _ADORNMENT.fullmatch(line)
            and (over or not line[:1].isspace())  # an indented line: a block's, but inset titles
            and (n == 0 or not lines[n - 1].strip() or over or n - 1 == consumed)
            and _ADORNMENT.fullmatch(under)
            and len(under.rstrip()) >= len(line.rstrip())
        )
        if not heading:
            n += 1
            continue
        style = (under[0], over and lines[n - 1][0] == under[0])
        if style not in styles:
            styles.append(style)
        section = headings.enter(styles.index(style) + 1, line.strip())
        if section:
            spans.append(Span(starts[_section_start(lines, n - over)], section=section))
            title = title or line.strip()
        consumed = n + 1
        n += 2
    return LocatedText(title, text, tuple(spans))


def _section_start(lines: list[str], heading: int) -> int:
    """The line a section whose heading (or its overline) is on ``heading`` begins on: the
    labels above it (`.. _retries:`, a cross-reference's target, was the section before's)."""
    start, n = heading, heading - 1
    while n >= 0 and (not lines[n].strip() or _LABEL.fullmatch(lines[n])):
        if lines[n].strip():
            start = n
        n -= 1
    return start


_LABEL = re.compile(r"\.\. _(?:[^\n:`]+|`[^`\n]+`):[ \t]*")


def extract_asciidoc(text: str) -> LocatedText:
    """``text`` as it is, a span at each section heading (`== Install`), `= Title` the title.
    Not inside a listing block (`----`), where `= x` is code."""
    headings = HeadingPath()
    spans, title = [], ""
    fenced = _fenced_ranges(text)
    fence_starts = [start for start, _ in fenced]
    for match in _ASCIIDOC_HEADING.finditer(text):
        at = bisect.bisect_right(fence_starts, match.start()) - 1
        if at >= 0 and match.start() < fenced[at][1]:
            continue
        level, name = len(match.group("marks")), match.group("title").rstrip()
        if level == 1:
            title = title or name
            continue
        section = headings.enter(level - 1, name)
        if section:
            spans.append(Span(match.start(), section=section))
    return LocatedText(title, text, tuple(spans))


_DELIMITER = re.compile(r"^(-{4,}|\.{4,}|={4,}|\+{4,}|_{4,}|\*{4,}|/{4,})[ \t]*$", re.MULTILINE)


def _fenced_ranges(text: str) -> list[tuple[int, int]]:
    """Where AsciiDoc's delimited blocks (`----` listings, `....` literals) lie."""
    ranges, opened = [], None
    for match in _DELIMITER.finditer(text):
        if opened is None:
            opened = match
        elif match.group(1) == opened.group(1):
            ranges.append((opened.start(), match.end()))
            opened = None
    return ranges
