"""Rich Text Format (``.rtf``: WordPad, TextEdit, Word, LibreOffice): its visible text, each
paragraph a unit, located under its heading path.

An RTF file is 7-bit text that spells its formatting as control words (``\\b``, ``\\par``) in
nested ``{groups}``; indexed as it is, a note's words were lost among ``\\f0\\fs24\\cf0`` and its
font table. Read here: text, ``\\'hh`` bytes in the code page of the document (``\\ansicpgN``)
or of the current font (``\\fcharsetN``; a symbol font's bytes are glyphs, not text), ``\\uN``
characters (their ``\\ucN`` fallback skipped; of an ``\\upr`` pair the Unicode copy), paragraph
and line breaks, tabs, tables (a row a line, its cells joined by `` | ``, a table a unit) and
text boxes (``\\shptxt``). Left out: the font, colour and style tables, document properties but
the title, pictures, objects' data and TextEdit's attachments, list numbers and bullets, field
instructions, headers, footers, footnotes, comments, hidden text (``\\v``), tracked deletions
and every other ``{\\*`` group a reader may ignore. A paragraph with an outline level
(``\\outlinelevelN``, its own or its style's, through ``\\sbasedon``, or a style named
``heading N``) is a heading. Reading stops after ``MAX_RTF_SECONDS`` (pathological files of
millions of control words), keeping the text read so far.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import time
from dataclasses import dataclass, replace

from searchapp.ingest.decoding import NotTextError
from searchapp.ingest.formats.builder import HeadingPath, TextBuilder
from searchapp.ingest.formats.spans import LocatedText

logger = logging.getLogger(__name__)

RTF_MAGIC = b"{\\rtf"
CELL_SEPARATOR = " | "
DEFAULT_CODE_PAGE = 1252
MAX_DEPTH = 512  # deeper nesting is a damaged or hostile file
# Word's RTF reads at some 2 MB/s; 50 MB of nothing but control words took 100 s.
MAX_RTF_SECONDS = 60.0
MAX_STYLE_DEPTH = 16  # \sbasedon chains longer than this (or looping) stop inheriting
_TIME_CHECK_TOKENS = 8192
_BOM = b"\xef\xbb\xbf"

# Control word (with its parameter and the one space that ends it), a run of \'hh bytes, control
# symbol, brace, line end (not text in RTF), or a run of text.
_TOKEN = re.compile(
    r"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?|((?:\\'[0-9a-fA-F]{2})+)|\\(.)|([{}])|[\r\n]+"
    r"|([^\\{}\r\n]+)",
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
        "listtext", "pntext", "sp", "shprslt", "nonesttables",
    }
)  # fmt: skip
# Groups a reader may ignore ({\*\word ...}) whose text is read all the same: text boxes, and
# the Unicode copy of an \upr pair.
_READ_WHEN_IGNORABLE = frozenset({"shpinst", "shptxt", "ud"})
_CHARACTERS = {
    "tab": "\t", "emdash": "\u2014", "endash": "\u2013", "bullet": "\u2022",
    "lquote": "\u2018", "rquote": "\u2019", "ldblquote": "\u201c", "rdblquote": "\u201d",
    "emspace": " ", "enspace": " ", "qmspace": " ", "line": "\n", "lbr": "\n",
    "softline": "\n", "column": "\n", "softcol": "\n", "cell": CELL_SEPARATOR,
    "nestcell": CELL_SEPARATOR, "nestrow": " ",
}  # fmt: skip
_SYMBOLS = {"~": "\u00a0", "_": "-", "\t": "\t"}
_LITERALS = frozenset("\\{}")  # \\, \{, \}: the character itself (perhaps a DBCS trail byte)
_PARAGRAPH_ENDS = frozenset({"par", "sect", "page", "softpage"})
SYMBOL_CODE_PAGE = -1  # a symbol font (\fcharset2): its bytes are glyphs
_DOUBLE_BYTE_CODE_PAGES = frozenset({932, 936, 949, 950, 1361})
# \fcharsetN -> code page (Microsoft's table; 0 and 1 mean the document's own).
_CHARSET_CODE_PAGES = {
    2: SYMBOL_CODE_PAGE, 77: 10000, 128: 932, 129: 949, 130: 1361, 134: 936, 136: 950,
    161: 1253, 162: 1254, 163: 1258, 177: 1255, 178: 1256, 186: 1257, 204: 1251, 222: 874,
    238: 1250, 254: 437, 255: 850,
}  # fmt: skip
# The words of the body that mean something here; any other is formatting.
_READ_WORDS = (
    _PARAGRAPH_ENDS
    | _CHARACTERS.keys()
    | {
        "row", "f", "v", "webhidden", "deleted", "plain", "pard", "intbl", "outlinelevel", "s",
        "uc", "upr", "ud", "ansicpg", "mac", "pc", "pca", "deff",
    }
)  # fmt: skip
_HEADING_STYLE = re.compile(r"heading\s*([1-9])", re.IGNORECASE)
_DESTINATIONS = frozenset({"fonttbl", "stylesheet", "info", "title"})
_ATTACHMENT_MARK = 0xAC  # TextEdit's byte after an attachment (an image)
# Not text: symbol fonts' glyphs as Word and LibreOffice write them (U+F020-U+F0FF), the
# object replacement character.
_NOT_TEXT = re.compile("[\uf020-\uf0ff\ufffc]")


@dataclass(frozen=True)
class _State:
    """What a group holds: restored when it closes."""

    # "" (the body), "skip", "attachment", "fonttbl", "stylesheet", "info", "title"
    destination: str = ""
    font: int | None = None
    hidden: bool = False  # \v, \webhidden, \deleted
    ansi_copy: bool = False  # in an \upr group, before its Unicode copy
    ignorable: bool = False  # after \*: the group is skipped unless its word is read
    skip_after_unicode: int = 1  # \ucN
    level: int | None = None  # the paragraph's outline level (0 = heading 1)
    style: int | None = None  # the paragraph's style (\sN)
    in_table: bool = False  # \intbl: the paragraph is a table cell's


@dataclass
class _Style:
    level: int | None = None
    based_on: int | None = None
    name: str = ""


def is_rtf(data: bytes) -> bool:
    """Whether ``data`` begins ``{\\rtf`` (a BOM and white space aside)."""
    return data.removeprefix(_BOM).lstrip()[: len(RTF_MAGIC)] == RTF_MAGIC


def extract_rtf(
    data: bytes, *, name: str = "RTF", max_seconds: float = MAX_RTF_SECONDS
) -> LocatedText:
    """The text of an RTF document; ``name`` (the file) is for warnings."""
    source = data.removeprefix(_BOM).lstrip().decode("latin-1")
    return _Reader(source, name=name, max_seconds=max_seconds).read()


class _Reader:
    def __init__(self, source: str, *, name: str, max_seconds: float) -> None:
        self._source = source
        self._name = name
        self._max_seconds = max_seconds
        self._code_page = DEFAULT_CODE_PAGE
        self._default_font: int | None = None
        self._font_code_pages: dict[int, int] = {}
        self._styles: dict[int, _Style] = {}
        self._builder = TextBuilder()
        self._headings = HeadingPath()
        self._title = io.StringIO()
        self._paragraph = io.StringIO()  # decoded text of the paragraph so far
        self._rows: list[str] = []  # rows of the table so far
        self._bytes = bytearray()  # bytes not decoded yet, of one code page and one target
        self._bytes_code_page = DEFAULT_CODE_PAGE
        self._bytes_target = self._paragraph
        self._after_attachment = False
        # The font or style being defined in the font table or the stylesheet.
        self._entry_number: int | None = None
        self._entry_charset: int | None = None
        self._entry_style = _Style()

    def read(self) -> LocatedText:
        source = self._source
        stack: list[_State] = []
        state = _State()
        fallback = 0  # characters still to skip after a \uN
        position = tokens = 0
        deadline = time.monotonic() + self._max_seconds
        while position < len(source):
            match = _TOKEN.match(source, position)
            if match is None:  # a lone backslash at the end
                break
            position = match.end()
            tokens += 1
            if tokens % _TIME_CHECK_TOKENS == 0 and time.monotonic() > deadline:
                logger.warning(
                    "%s: reading stopped after %g s (MAX_RTF_SECONDS), at %d%% of the file; "
                    "the text before is indexed",
                    self._name,
                    self._max_seconds,
                    100 * position // len(source),
                )
                break
            word, parameter, hex_run, symbol, brace, text = match.groups()
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
            elif hex_run is not None:
                values = bytes.fromhex(hex_run.replace("\\'", ""))
                if fallback:
                    skipped = min(fallback, len(values))
                    values, fallback = values[skipped:], fallback - skipped
                self._bytes_in(state, values)
            elif symbol is not None:
                if fallback:
                    fallback -= 1
                elif symbol == "*":
                    state = replace(state, ignorable=True)
                elif symbol in "\r\n":
                    state = self._control(state, "par", None)
                elif symbol in _LITERALS:
                    self._run(state, symbol)
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
                    self._text(state, _unicode_character(number))
                    fallback = state.skip_after_unicode
                    continue
                state = self._control(state, word, number)
        self._end_paragraph(replace(state, destination="", in_table=False))  # cut short, too
        title = _surrogates_joined(self._title.getvalue())
        return self._builder.build(title=title)

    def _control(self, state: _State, word: str, number: int | None) -> _State:
        """The state after control word ``word`` (with ``number``); text it stands for is added."""
        destination = state.destination
        if destination in ("skip", "attachment"):
            return state
        if state.ignorable:
            state = replace(state, ignorable=False)
            if word not in _READ_WHEN_IGNORABLE:
                return replace(state, destination="skip")
        if word in _SKIPPED:
            return replace(state, destination="skip")
        if word == "NeXTGraphic":
            return replace(state, destination="attachment")
        if word in _DESTINATIONS:
            if word == "title" and destination != "info":
                return replace(state, destination="skip")
            return replace(state, destination=word)
        if destination in ("fonttbl", "stylesheet"):
            self._table_entry(destination, word, number)
            return state
        if word not in _READ_WORDS:  # formatting: bold, sizes, colours, spacing...
            return state
        if word in _PARAGRAPH_ENDS:
            if state.in_table and word == "par":  # a paragraph break inside a cell
                self._text(state, " ")
            else:
                self._end_paragraph(state)
        elif word == "row":
            self._end_row(state)
        elif word in _CHARACTERS:
            self._text(state, _CHARACTERS[word])
        elif word == "f":
            return state if state.font == number else replace(state, font=number)
        elif word in ("v", "webhidden", "deleted"):
            return replace(state, hidden=number != 0)
        elif word == "plain":
            return replace(state, hidden=False, font=None)
        elif word == "pard":
            return replace(state, level=None, style=None, in_table=False)
        elif word == "intbl":
            return replace(state, in_table=True)
        elif word == "outlinelevel" and number is not None:
            return replace(state, level=number if 0 <= number <= 8 else None)
        elif word == "s" and number is not None:
            return replace(state, style=number)
        elif word == "uc" and number is not None:
            return replace(state, skip_after_unicode=max(number, 0))
        elif word == "upr":
            return replace(state, ansi_copy=True)
        elif word == "ud":
            return replace(state, ansi_copy=False)
        elif word == "ansicpg" and number:
            self._code_page = number
        elif word == "mac":
            self._code_page = 10000
        elif word == "pc":
            self._code_page = 437
        elif word == "pca":
            self._code_page = 850
        elif word == "deff":
            self._default_font = number
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
            self._entry_number, self._entry_style = number, _Style()
        elif word == "outlinelevel" and number is not None and 0 <= number <= 8:
            self._entry_style.level = number
        elif word == "sbasedon":
            self._entry_style.based_on = number

    def _close_group(self, state: _State) -> None:
        if state.destination in ("fonttbl", "stylesheet"):
            self._end_entry(state.destination)
        self._after_attachment = state.destination == "attachment"

    def _end_entry(self, table: str) -> None:
        """Record the font or style defined since the last one."""
        number, self._entry_number = self._entry_number, None
        if number is None:
            return
        if table == "fonttbl":
            code_page = _code_page_of(self._entry_charset)
            if code_page is not None:
                self._font_code_pages[number] = code_page
        else:
            self._styles[number] = self._entry_style

    def _style_level(self, number: int | None) -> int | None:
        """The outline level of style ``number``: its own, its name's or its base style's."""
        for _ in range(MAX_STYLE_DEPTH):
            style = self._styles.get(number) if number is not None else None
            if style is None:
                return None
            if style.level is not None:
                return style.level
            named = _HEADING_STYLE.fullmatch(style.name.strip(" ;"))
            if named:
                return int(named.group(1)) - 1
            number = style.based_on
        return None

    def _run(self, state: _State, run: str) -> None:
        """A run of the file's text: ASCII, or raw 8-bit bytes of the current code page (the
        file was read as latin-1)."""
        if not run.isascii():
            self._bytes_in(state, run.encode("latin-1"))
            return
        if self._bytes and self._bytes_code_page in _DOUBLE_BYTE_CODE_PAGES:
            # A double-byte character's second byte may be written as the ASCII character.
            if _lead_byte_pending(self._bytes, self._bytes_code_page) and self._target(state):
                self._bytes.append(ord(run[0]))
                run = run[1:]
        self._text(state, run)

    def _text(self, state: _State, text: str) -> None:
        """Decoded text."""
        self._after_attachment = False
        if state.destination == "stylesheet":
            self._entry_style.name += text
            return
        target = self._target(state)
        if target is not None and text:
            self._flush()
            target.write(text)

    def _bytes_in(self, state: _State, values: bytes) -> None:
        if self._after_attachment and values[:1] == bytes([_ATTACHMENT_MARK]):
            values = values[1:]
        self._after_attachment = False
        target = self._target(state)
        code_page = self._font_code_page(state)
        if target is None or not values or code_page == SYMBOL_CODE_PAGE:
            return
        if code_page != self._bytes_code_page or target is not self._bytes_target:
            self._flush()
        self._bytes_code_page, self._bytes_target = code_page, target
        self._bytes += values

    def _target(self, state: _State) -> io.StringIO | None:
        """Where the text of a group in ``state`` goes: the paragraph, the title or nowhere."""
        if state.hidden or state.ansi_copy:
            return None
        if state.destination == "":
            return self._paragraph
        return self._title if state.destination == "title" else None

    def _flush(self) -> None:
        """Decode the pending bytes into where they were going."""
        if self._bytes:
            self._bytes_target.write(_decode(bytes(self._bytes), self._bytes_code_page))
            self._bytes.clear()

    def _take_paragraph(self) -> str:
        self._flush()
        text = _NOT_TEXT.sub("", _surrogates_joined(self._paragraph.getvalue())).lstrip(" ")
        self._paragraph.seek(0)
        self._paragraph.truncate()
        return text

    def _end_row(self, state: _State) -> None:
        if state.destination:
            return
        row = self._take_paragraph().strip()
        if row.endswith(CELL_SEPARATOR.strip()):  # a row ends with its last cell
            row = row[: -len(CELL_SEPARATOR.strip())].rstrip()
        if row.replace(CELL_SEPARATOR.strip(), "").strip():
            self._rows.append(row)

    def _end_paragraph(self, state: _State) -> None:
        if state.destination:
            return
        text = self._take_paragraph()
        if self._rows:  # the table before this paragraph
            self._builder.add("\n".join(self._rows), section=self._headings.section)
            self._rows.clear()
        level = state.level if state.level is not None else self._style_level(state.style)
        if level is not None and text.strip():
            self._headings.enter(level + 1, text)
        self._builder.add(text, section=self._headings.section)

    def _font_code_page(self, state: _State) -> int:
        font = state.font if state.font is not None else self._default_font
        if font is None:
            return self._code_page
        return self._font_code_pages.get(font, self._code_page)


def _unicode_character(number: int) -> str:
    """The character of ``\\uN`` (a signed 16-bit number); U+FFFD for a number out of range."""
    if -0x8000 <= number < 0:
        number += 0x10000
    return chr(number) if 0 <= number <= 0xFFFF else "\ufffd"


def _lead_byte_pending(data: bytearray, code_page: int) -> bool:
    """Whether ``data`` ends with the first byte of a double-byte character."""
    decoder = codecs.getincrementaldecoder(_codec_name(code_page))("replace")
    decoder.decode(bytes(data))
    return bool(decoder.getstate()[0])


def _code_page_of(charset: int | None) -> int | None:
    """The code page of a font's ``\\fcharsetN`` (negative: ``\\cpgN``), None for the
    document's."""
    if charset is None:
        return None
    if charset < 0:
        return -charset
    return _CHARSET_CODE_PAGES.get(charset)


def _codec_name(code_page: int) -> str:
    name = {10000: "mac_roman", 65001: "utf-8"}.get(code_page, f"cp{code_page}")
    try:
        codecs.lookup(name)
    except LookupError:
        return f"cp{DEFAULT_CODE_PAGE}"
    return name


def _decode(data: bytes, code_page: int) -> str:
    return data.decode(_codec_name(code_page), errors="replace")


def _surrogates_joined(text: str) -> str:
    """``\\uN`` pairs of UTF-16 surrogates (Word's astral characters) as one character; a lone
    surrogate stays for ``TextBuilder`` to replace."""
    if not any("\ud800" <= character <= "\udfff" for character in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
