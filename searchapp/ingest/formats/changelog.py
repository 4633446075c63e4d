"""Debian changelogs and NEWS.Debian files: each entry's heading a section.

An entry begins ``package (version) distribution; urgency=level`` at the start of a line. Chunks
are cut at blank lines, so a heading often ended the passage before its entry, and a hit in an
entry read as the version of the next heading its passage held ("apt (1.9.11)" for a change of
2.1.16). With each heading a section, a passage begins at its entry, and a hit names it
(``section``). Told by content, not by name (``changelog.Debian.gz``, ``NEWS.Debian``, a
``debian/changelog``): the first line that is not blank is such a heading. The text is kept as
it is, so lines are the file's.
"""

from __future__ import annotations

import re

from searchapp.ingest.formats.spans import LocatedText, Span

# Old entries too: `dpkg (1.2.12); priority=LOW` (no distribution), `urgency=low (HIGH for m68k)`.
_HEADING = re.compile(
    r"^(?P<entry>[a-z0-9][a-z0-9+.-]* \([^()\s]+\)(?: [A-Za-z0-9/+._-]+)*);"
    r"[ \t]*[A-Za-z-]+=[^\n]*$",
    re.MULTILINE,
)


def is_debian_changelog(text: str) -> bool:
    """Whether ``text`` begins with an entry's heading (blank lines aside)."""
    return _HEADING.match(text.lstrip("\n")) is not None


def extract_changelog(text: str) -> LocatedText:
    """``text`` as it is, a span at each entry's heading, its section ``package (version)
    distribution``."""
    spans = tuple(
        Span(match.start(), section=match.group("entry")) for match in _HEADING.finditer(text)
    )
    return LocatedText("", text, spans)
