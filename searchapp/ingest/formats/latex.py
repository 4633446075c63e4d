"""LaTeX sources (``.tex``) and BibTeX databases (``.bib``): accents as letters, sections and
entries as sections.

LaTeX writes accented letters as commands: `M{\\"u}ller`, `W{\\l}adys{\\l}aw`, `\\'{e}`,
`{\\ss}`. Indexed as written, `search query -F "Müller, Hans"` found no entry of a `.bib` file,
and "Władysław" none of its authors (a historian's trial). Here each such command becomes its
letter, on its line (a hit's line is the file's). A `.tex` file's `\\part` to
`\\subsubsection` are its sections (a hit names them; a passage begins at one), its `\\title`
its title; a `.bib` file's entries (`@book{haupt1980commune,`) are sections named by their
keys, so a passage holds one record, not the tail of one and the head of the next.
"""

from __future__ import annotations

import re
import unicodedata

from searchapp.ingest.formats.builder import HeadingPath
from searchapp.ingest.formats.spans import LocatedText, Span

TEX_SUFFIX = ".tex"
BIB_SUFFIX = ".bib"

# An accent command and the combining mark it puts on its letter: `\"u`, `\"{u}`, `{\"u}`,
# `\'{\i}`, `\c{c}`, `\v s`.
_MARKS = {
    '"': "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303", "=": "\u0304",
    ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328",
    "r": "\u030a", "d": "\u0323", "b": "\u0331",
}  # fmt: skip
_ACCENT = re.compile(
    r"(?P<open>\{)?\\(?:(?P<symbol>[\"'`^~=.])[ \t]*|(?P<letter>[uvHckrdb])(?:[ \t]+|(?=\{)))"
    r"(?:\{[ \t]*(?P<braced>\\[ij]|[A-Za-z])[ \t]*\}|(?P<bare>\\[ij](?![A-Za-z])|[A-Za-z]))"
    r"(?(open)\})"  # `{\"u}` whole; not the brace that closes a title after `\'z`
)
# Letters that are commands of their own: `{\l}`, `\ss{}`, `\o `, `\AA`.
_SPECIAL = {
    "l": "ł", "L": "Ł", "o": "ø", "O": "Ø", "ss": "ß", "ae": "æ", "AE": "Æ", "oe": "œ",
    "OE": "Œ", "aa": "å", "AA": "Å", "i": "ı", "j": "ȷ",
}  # fmt: skip
# ...a bare one takes the blank after it, as TeX does (`Erschie\\ss en`: "Erschießen").
_SPECIAL_LETTER = re.compile(
    r"\{\\(ss|ae|AE|oe|OE|aa|AA|[lLoOij])\}"
    r"|\\(ss|ae|AE|oe|OE|aa|AA|[lLoOij])(?:\{\}|[ \t](?=[A-Za-z])|(?![A-Za-z]))"
)


def letters(text: str) -> str:
    """``text`` with LaTeX's accent and letter commands as the letters they write, each line
    on its line (nothing else of the markup changes)."""
    if "\\" not in text:
        return text

    def accented(match: re.Match[str]) -> str:
        base = match.group("braced") or match.group("bare")
        base = {"\\i": "i", "\\j": "j"}.get(base, base)
        mark = _MARKS[match.group("symbol") or match.group("letter")]
        return unicodedata.normalize("NFC", base + mark)

    def special(match: re.Match[str]) -> str:
        return _SPECIAL[match.group(1) or match.group(2)]

    return _SPECIAL_LETTER.sub(special, _ACCENT.sub(accented, text))


# A sectioning command at a line's start, its title in braces (one level of braces inside).
_SECTIONING = re.compile(
    r"^[ \t]*\\(?P<kind>part|chapter|section|subsection|subsubsection)\*?[ \t]*+"
    r"(?:\[[^\]\n]*\][ \t]*+)?\{(?P<title>(?:[^{}\n]|\{[^{}\n]*\})*)\}",
    re.MULTILINE,
)
_LEVELS = {"part": 1, "chapter": 2, "section": 3, "subsection": 4, "subsubsection": 5}
_TITLE = re.compile(r"\\title[ \t]*(?:\[[^\]\n]*\])?[ \t]*\{((?:[^{}\n]|\{[^{}\n]*\})*)\}")
_COMMAND = re.compile(r"\\[A-Za-z]+\*?[ \t]*|[{}]")


def extract_latex(text: str) -> LocatedText:
    """A LaTeX source's text with its letters (``letters``), a span at each sectioning command
    (the section its heading path of titles), its ``\\title`` its title."""
    text = letters(text)
    headings = HeadingPath()
    spans = []
    for match in _SECTIONING.finditer(text):
        section = headings.enter(_LEVELS[match.group("kind")], _plain(match.group("title")))
        if section and (not spans or spans[-1].start_char != match.start()):
            spans.append(Span(match.start(), section=section))
    title = _TITLE.search(text)
    return LocatedText(_plain(title.group(1)) if title else "", text, tuple(spans))


def _plain(title: str) -> str:
    """A title less its commands and braces (`\\emph{La} Commune` -> "La Commune")."""
    return " ".join(_COMMAND.sub(" ", title).split())


# An entry's head: `@book{haupt1980commune,`; not `@comment`, `@string` or `@preamble`.
_ENTRY = re.compile(
    r"^[ \t]*@(?!(?:comment|string|preamble)\b)[A-Za-z]+[ \t]*[{(][ \t]*"
    r"(?P<key>[^\s,{}()]+)[ \t]*,",
    re.MULTILINE | re.IGNORECASE,
)


def extract_bibtex(text: str) -> LocatedText:
    """A BibTeX database's text with its letters (``letters``), a span at each entry, named
    by its key."""
    text = letters(text)
    spans = tuple(
        Span(match.start(), section=match.group("key")) for match in _ENTRY.finditer(text)
    )
    return LocatedText("", text, spans)
