"""Org-mode files (``.org``: Emacs): headings as sections, ``#+TITLE`` as the title.

An Org heading is a line of stars and a space (`** TODO Court-martial dossier :commune:`). Read
as plain text, a passage ran across three headings, and a hit named none (a historian's
trial). Here each heading is a section (its path of headings, without the TODO keyword, the
priority cookie and the tags), so a passage begins at one and a hit names it; the text is kept
as it is, so a hit's line is the file's.
"""

from __future__ import annotations

import re

from searchapp.ingest.formats.builder import HeadingPath
from searchapp.ingest.formats.spans import LocatedText, Span

ORG_SUFFIX = ".org"

_HEADING = re.compile(
    r"^(?P<stars>\*+)[ \t]+(?:(?:TODO|DONE|NEXT|WAITING|HOLD|CANCELL?ED)[ \t]+)?"
    r"(?:\[#[A-Z0-9]\][ \t]+)?(?P<title>[^\n]*?)(?:[ \t]+:[\w@#%:]+:)?[ \t]*+$",
    re.MULTILINE,
)
_TITLE = re.compile(r"^#\+TITLE:[ \t]*(.+?)[ \t]*$", re.MULTILINE | re.IGNORECASE)


def extract_org(text: str) -> LocatedText:
    """``text`` as it is, a span at each heading (its section the path of headings down to
    it), ``#+TITLE`` the title."""
    headings = HeadingPath()
    spans = []
    for match in _HEADING.finditer(text):
        section = headings.enter(len(match.group("stars")), match.group("title"))
        if section:
            spans.append(Span(match.start(), section=section))
    title = _TITLE.search(text)
    return LocatedText(title.group(1) if title else "", text, tuple(spans))
