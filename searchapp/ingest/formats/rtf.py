"""Rich Text Format (``.rtf``: WordPad, TextEdit, Word, LibreOffice): its visible text, each
paragraph a unit, located under its heading path.

An RTF file is 7-bit text that spells its formatting as control words (``\\b``, ``\\par``) in
nested ``{groups}``; indexed as it is, a note's words were lost among ``\\f0\\fs24\\cf0`` and its
font table. Read here: text, ``\\'hh`` bytes in the code page of the document (``\\ansicpgN``)
or of the current font (``\\fcharsetN``), ``\\uN`` characters (their ``\\ucN`` fallback skipped),
paragraph and line breaks, tabs and table cells (`` | ``, a row a unit). Left out: the font,
colour and style tables, document properties but the title, pictures and objects' data, field
instructions, headers, footers, footnotes, comments, hidden text (``\\v``) and every ``{\\*``
group a reader may ignore. A paragraph with an outline level (``\\outlinelevelN``, its own or
its style's, or a style named ``heading N``) is a heading.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, replace

from searchapp.ingest.decoding import NotTextError
from searchapp.ingest.formats.builder import HeadingPath, TextBuilder
from searchapp.ingest.formats.spans import LocatedText

RTF_MAGIC = b"{\\rtf"
CELL_SEPARATOR = " | "
DEFAULT_CODE_PAGE = 1252
MAX_DEPTH = 512  # deeper nesting is a damaged or hostile file
_BOM = b"\xef\xbb\xbf"

# Control word (with its parameter and the one space that ends it), \'hh, control symbol, brace,
# line end (not text in RTF), or a run of text.
_TOKEN = re.compile(
    r"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|[\r\n]+|([^\\{}\r\n]+)",
    re.DOTALL,
)
# Groups whose text is not the document's (their first control word names them).
_SKIPPED = frozenset(
    {
        "colortbl", "listtable", "listoverridetable", "revtbl", "rsidtbl", "generator",
        "xmlnstbl", "themedata", "colorschememapping", "latentstyles", "datastore", "pict",
        "objdata", "objclass", "objname", "fldinst", "header", "headerl", "headerr", "headerf",
        "footer", "footerl", "footerr", "footerf", "footnote", "annotation", "atnid", "atnauthor",
        "xe", "tc", "txe", "ftnsep", "ftnsepc", "aftnsep", "aftnsepc", "pntxta", "pntxtb",
        "filetbl", "template", "nonshppict", "bkmkstart", "bkmkend", "docvar", "userprops",
        "mmathPr", "pgdsctbl", "passwordhash", "protusertbl", "wgrffmtfilter", "background",
    }
)  # fmt: skip
_CHARACTERS = {
    "tab": "\t", "emdash": "\u2014", "endash": "\u2013", "bullet": "\u2022",
    "lquote": "\u2018", "rquote": "\u2019", "ldblquote": "\u201c", "rdblquote": "\u201d",
    "emspace": " ", "enspace": " ", "qmspace": " ", "line": "\n", "lbr": "\n",
    "cell": CELL_SEPARATOR, "nestcell": CELL_SEPARATOR,
}  # fmt: skip
_SYMBOLS = {"\\": "\\", "{": "{", "}": "}", "~": "\u00a0", "_": "-", "\t": "\t"}
_PARAGRAPH_ENDS = frozenset({"par", "sect", "page", "row", "nestrow"})
# \fcharsetN -> code page (Microsoft's table; 0 and 1 mean the document's own).
_CHARSET_CODE_PAGES = {
    77: 10000, 128: 932, 129: 949, 130: 1361, 134: 936, 136: 950, 161: 1253, 162: 1254,
    163: 1258, 177: 1255, 178: 1256, 186: 1257, 204: 1251, 222: 874, 238: 1250, 254: 437,
    255: 850,
}  # fmt: skip
_HEADING_STYLE = re.compile(r"heading\s*([1-9])", re.IGNORECASE)
_DESTINATIONS = frozenset({"fonttbl", "stylesheet", "info", "title"})


@dataclass(frozen=True)
class _State:
    """What a group holds: restored when it closes."""

    destination: str = ""  # "" (the body), "skip", "fonttbl", "stylesheet", "info", "title"
    font: int | None = None
    hidden: bool = False
    skip_after_unicode: int = 1  # \ucN
    level: int | None = None  # the paragraph's outline level (0 = heading 1)
    style: int | None = None  # the paragraph's style (\sN)


def is_rtf(data: bytes) -> bool:
    """Whether ``data`` begins ``{\\rtf`` (a BOM and white space aside)."""
    return data.removeprefix(_BOM).lstrip()[: len(RTF_MAGIC)] == RTF_MAGIC


def extract_rtf(data: bytes) -> LocatedText:
    """The text of an RTF document."""
    return _Reader(data.removeprefix(_BOM).lstrip().decode("latin-1")).read()


class _Reader:
    def __init__(self, source: str) -> None:
        self._source = source
        self._code_page = DEFAULT_CODE_PAGE
        self._default_font: int | None = None
        self._font_code_pages: dict[int, int] = {}
        self._style_levels: dict[int, int] = {}
        self._builder = TextBuilder()
        self._headings = HeadingPath()
        self._title: list[str] = []
        self._paragraph: list[str] = []  # decoded text of the paragraph so far
        self._bytes = bytearray()  # bytes not decoded yet, of one code page and one target
        self._bytes_code_page = DEFAULT_CODE_PAGE
        self._bytes_target = self._paragraph
        # For the group being defined in the font table and the stylesheet.
        self._entry_number: int | None = None
        self._entry_charset: int | None = None
        self._entry_level: int | None = None
        self._entry_name: list[str] = []

    def read(self) -> LocatedText:
        source = self._source
        stack: list[_State] = []
        state = _State()
        fallback = 0  # characters still to skip after a \uN
        position = 0
        while position < len(source):
            match = _TOKEN.match(source, position)
            if match is None:  # a lone backslash at the end
                break
            position = match.end()
            word, parameter, hex_byte, symbol, brace, text = match.groups()
            if brace == "{":
                if len(stack) >= MAX_DEPTH:
                    raise NotTextError(f"damaged RTF document: groups nested over {MAX_DEPTH} deep")
                stack.append(state)
                fallback = 0
            elif brace == "}":
                self._close_group(state)
                if not stack:  # a brace too many
                    break
                state, fallback = stack.pop(), 0
                if not stack:  # the document's group closed: what follows is not RTF
                    break
            elif text is not None:
                if fallback:
                    skipped = min(fallback, len(text))
                    text, fallback = text[skipped:], fallback - skipped
                self._run(state, text)
            elif hex_byte is not None:
                if fallback:
                    fallback -= 1
                else:
                    self._byte(state, int(hex_byte, 16))
            elif symbol is not None:
                if fallback:
                    fallback -= 1
                elif symbol == "*":
                    state = replace(state, destination="skip")
                elif symbol in "\r\n":
                    self._end_paragraph(state)
                else:
                    self._text(state, _SYMBOLS.get(symbol, ""))
            elif word is not None:
                number = int(parameter) if parameter is not None else None
                if word == "bin":  # binary data follows: never text
                    position += max(number or 0, 0)
                    continue
                if fallback:
                    fallback -= 1
                    continue
                if word == "u" and number is not None:
                    self._text(state, chr(number + 0x10000 if number < 0 else number))
                    fallback = state.skip_after_unicode
                    continue
                state = self._control(state, word, number)
        self._end_paragraph(replace(state, destination=""))  # a file cut short, too
        return self._builder.build(title=_surrogates_joined("".join(self._title)))

    def _control(self, state: _State, word: str, number: int | None) -> _State:
        """The state after control word ``word`` (with ``number``); text it stands for is added."""
        destination = state.destination
        if destination == "skip":
            return state
        if word in _SKIPPED:
            return replace(state, destination="skip")
        if word in _DESTINATIONS:
            if word == "title" and destination != "info":
                return replace(state, destination="skip")
            return replace(state, destination=word)
        if destination in ("fonttbl", "stylesheet"):
            self._table_entry(destination, word, number)
            return state
        if word == "ansicpg" and number:
            self._code_page = number
        elif word == "mac":
            self._code_page = 10000
        elif word == "pc":
            self._code_page = 437
        elif word == "pca":
            self._code_page = 850
        elif word == "deff":
            self._default_font = number
        elif word == "uc" and number is not None:
            return replace(state, skip_after_unicode=max(number, 0))
        elif word == "f":
            return replace(state, font=number)
        elif word in ("v", "webhidden"):
            return replace(state, hidden=number != 0)
        elif word == "plain":
            return replace(state, hidden=False, font=None)
        elif word == "pard":
            return replace(state, level=None, style=None)
        elif word == "outlinelevel" and number is not None:
            return replace(state, level=number if 0 <= number <= 8 else None)
        elif word == "s" and number is not None:
            return replace(state, style=number)
        elif word in _PARAGRAPH_ENDS:
            self._end_paragraph(state)
        elif word in _CHARACTERS:
            self._text(state, _CHARACTERS[word])
        return state

    def _table_entry(self, table: str, word: str, number: int | None) -> None:
        """A control word inside the font table or the stylesheet."""
        if table == "fonttbl":
            if word == "f":  # TextEdit lists its fonts in one group: \f0 ...;\f1 ...;
                self._end_entry(table)
                self._entry_number, self._entry_charset = number, None
            elif word == "fcharset":
                self._entry_charset = number
            elif word == "cpg" and number:
                self._entry_charset = -number  # a code page itself
            return
        if word == "s":
            self._entry_number, self._entry_level, self._entry_name = number, None, []
        elif word == "outlinelevel" and number is not None and 0 <= number <= 8:
            self._entry_level = number

    def _close_group(self, state: _State) -> None:
        if state.destination in ("fonttbl", "stylesheet"):
            self._end_entry(state.destination)

    def _end_entry(self, table: str) -> None:
        """Record the font or style defined since the last one."""
        number, self._entry_number = self._entry_number, None
        if number is None:
            return
        if table == "fonttbl":
            code_page = _code_page_of(self._entry_charset)
            if code_page is not None:
                self._font_code_pages[number] = code_page
            return
        level = self._entry_level
        if level is None:
            named = _HEADING_STYLE.fullmatch("".join(self._entry_name).strip(" ;"))
            level = int(named.group(1)) - 1 if named else None
        if level is not None:
            self._style_levels[number] = level

    def _run(self, state: _State, run: str) -> None:
        """A run of the file's text: ASCII, or raw 8-bit bytes of the current code page (the
        file was read as latin-1)."""
        if run.isascii():
            self._text(state, run)
        else:
            for character in run:
                self._byte(state, ord(character))

    def _text(self, state: _State, text: str) -> None:
        """Decoded text."""
        if state.destination == "stylesheet":
            self._entry_name.append(text)
            return
        target = self._target(state)
        if target is not None and text:
            self._flush()
            target.append(text)

    def _byte(self, state: _State, value: int) -> None:
        target = self._target(state)
        if target is None:
            return
        code_page = self._font_code_page(state)
        if code_page != self._bytes_code_page or target is not self._bytes_target:
            self._flush()
        self._bytes_code_page, self._bytes_target = code_page, target
        self._bytes.append(value)

    def _target(self, state: _State) -> list[str] | None:
        """Where the text of a group in ``state`` goes: the paragraph, the title or nowhere."""
        if state.hidden:
            return None
        if state.destination == "":
            return self._paragraph
        return self._title if state.destination == "title" else None

    def _flush(self) -> None:
        """Decode the pending bytes into where they were going."""
        if self._bytes:
            self._bytes_target.append(_decode(bytes(self._bytes), self._bytes_code_page))
            self._bytes.clear()

    def _end_paragraph(self, state: _State) -> None:
        if state.destination:
            return
        self._flush()
        text = _surrogates_joined("".join(self._paragraph))
        self._paragraph.clear()
        if text.endswith(CELL_SEPARATOR):  # a table row ends with its last cell
            text = text[: -len(CELL_SEPARATOR)]
        level = state.level
        if level is None and state.style is not None:
            level = self._style_levels.get(state.style)
        if level is not None and text.strip():
            self._headings.enter(level + 1, text)
        self._builder.add(text, section=self._headings.section)

    def _font_code_page(self, state: _State) -> int:
        font = state.font if state.font is not None else self._default_font
        if font is None:
            return self._code_page
        return self._font_code_pages.get(font, self._code_page)


def _code_page_of(charset: int | None) -> int | None:
    """The code page of a font's ``\\fcharsetN`` (negative: ``\\cpgN``), None for the
    document's."""
    if charset is None:
        return None
    if charset < 0:
        return -charset
    return _CHARSET_CODE_PAGES.get(charset)


def _decode(data: bytes, code_page: int) -> str:
    name = "mac_roman" if code_page == 10000 else f"cp{code_page}"
    if code_page == 65001:
        name = "utf-8"
    try:
        codecs.lookup(name)
    except LookupError:
        name = f"cp{DEFAULT_CODE_PAGE}"
    return data.decode(name, errors="replace")


def _surrogates_joined(text: str) -> str:
    """``\\uN`` pairs of UTF-16 surrogates (Word's astral characters) as one character; a lone
    surrogate stays for ``TextBuilder`` to replace."""
    if not any("\ud800" <= character <= "\udfff" for character in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
