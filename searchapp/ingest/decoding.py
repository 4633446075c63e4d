"""Turning a file's bytes into the text that is chunked and searched.

The text is *normalised*: line ends become ``\\n`` (``normalise``: lines are counted as grep counts
them) and other control characters (except tab) become spaces, so character offsets and line
numbers of chunks refer to this text, not to the bytes on disk. Decoding never raises on any
bytes: it returns None for binary data, tries the Unicode encodings a byte-order mark names, then
UTF-8 (with a few stray bytes read as cp1252), then cp1252, then UTF-8 with more damaged bytes
when cp1252 cannot read them but some UTF-8 characters are there, else cp1252 with the five bytes
it leaves undefined read as latin-1 does. HTML is reduced to its visible text; a ``.jsonl`` file
in the BEIR corpus format (``{"_id": ..., "title": ..., "text": ...}`` per line) gives one
document per record.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import gzip
import hashlib
import io
import itertools
import json
import logging
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from searchapp.errors import SearchAppError
from searchapp.ingest import secrets
from searchapp.ingest.formats.html import html_to_text, looks_like_html
from searchapp.ingest.formats.spans import Span
from searchapp.ingest.limits import DEFAULT_MAX_BYTES, ENEX_MAX_BYTES, GENERATED_LINE_CHARS
from searchapp.ingest.marks import INVISIBLE_MARKS
from searchapp.ingest.secrets import blank_private_keys
from searchapp.storage.paths import absolute
from searchapp.storage.schema import CJK, qualified_id

if TYPE_CHECKING:
    from searchapp.ingest.formats.mbox import MailboxMessage, Scan

logger = logging.getLogger(__name__)

SNIFF_BYTES = 8192  # binary detection looks at this much of the start
MAX_CONTROL_FRACTION = 0.1  # more control characters than this in the sniffed start: binary
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
JSONL_SUFFIX = ".jsonl"
MAX_BAD_LINE_WARNINGS = 5  # per file; the rest are only counted

# The longest mark first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Characters that count towards "binary": C0 controls but tab, newlines, form feed and escape
# (ANSI colours in logs), and DEL.
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
_BINARY_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
# In accepted text, control characters but tab and newline become spaces (one for one).
_CARRIAGE_RETURNS = re.compile("\r+\n")
_SPACE_CONTROLS = re.compile(f"[\x00-\x08\x0b-\x1f\x7f{INVISIBLE_MARKS}]")
_CONTROL_TO_SPACE = {code: " " for code in [*range(0x09), *range(0x0B, 0x20), 0x7F]}
_CONTROL_TO_SPACE.update(dict.fromkeys(map(ord, INVISIBLE_MARKS)))  # marks not seen: out
# A terminal's codes in a log or a `script` typescript: colours and cursor moves (CSI), titles
# and links (OSC, to BEL or ST, never past a line), character sets ("\x1b(B") and the keypad
# and cursor saves (\x1b= \x1b> \x1b7 \x1b8). Their ESC alone became a space, and "[31mERROR
# [0m" was indexed and shown. Any other ESC is a space, the text after it kept.
_TERMINAL_CODES = re.compile(
    r"\x1b(?:\[(?:[0-?]+[ -/]*|[!-/]*)[@-~]|\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|[()*+][0-~]|[=>78])"
)
# JSON escapes such as "\ud800" decode to lone surrogates: not text that SQLite or the tokenizer
# accepts, so each becomes U+FFFD.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class NotTextError(SearchAppError):
    """A file that cannot be indexed as text; ``str(error)`` is the reason alone, ``path`` the
    file (the indexer reports both)."""

    def __init__(self, reason: str, path: Path | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


@dataclass(frozen=True)
class DecodedText:
    """A file's normalised text and the encoding it was read with."""

    text: str
    encoding: str


@dataclass(frozen=True)
class SourceDocument:
    """One document to chunk: a whole file, or one record of a JSONL corpus.

    ``doc_id`` is the file's absolute path, and for a JSONL record that path, ``#`` and the
    record's id (``storage.schema.qualified_id``: two corpora both numbered from 1 keep
    every record). ``spans``
    (sorted by ``start_char``) say which page or section each stretch of ``text`` came from, for
    formats that have them (PDF, RTF, Office, EPUB, notebooks, Markdown); ``formats.spans.locate``
    gives the location of an offset such as a chunk's ``start_char``. Plain text has none.
    """

    doc_id: str
    path: Path
    title: str
    text: str
    spans: tuple[Span, ...] = ()
    page_labels: tuple[str, ...] = ()  # a PDF's printed page numbers (``LocatedText``'s)


@dataclass(frozen=True)
class JsonlRecord:
    """One line of a BEIR-format JSONL corpus; ``text`` holds the title, a newline and the text
    when the title is not empty."""

    doc_id: str
    title: str
    text: str
    line: int


@dataclass
class JsonlStats:
    """What ``iter_jsonl_records`` saw, filled in as it goes."""

    records: int = 0
    bad_lines: int = 0
    duplicate_ids: int = 0


# -- bytes -> text ---------------------------------------------------------------------------


def decode_bytes(data: bytes) -> str | None:
    """The normalised text of ``data``, without the private keys it holds
    (``secrets.blank_private_keys``: the lines shown around a hit are read with this), or None
    when it looks binary. Never raises."""
    decoded = _decode(data)
    return None if decoded is None else blank_private_keys(decoded.text)


def _decode(data: bytes) -> DecodedText | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            if encoding == "utf-8":
                text = _utf8_patched(body)  # a UTF-8 mark names the encoding: never cp1252
            else:
                try:
                    text = body.decode(encoding)
                except UnicodeDecodeError as exc:
                    if exc.reason != "truncated data":  # a mark, then bytes not of its encoding
                        return None
                    text = body[: exc.start].decode(encoding)  # an odd byte at the end
            if _too_many_controls(len(_BINARY_CONTROLS.findall(text[:SNIFF_BYTES])), text):
                return None
            return DecodedText(normalise(text), encoding)
    if b"\x00" in data:
        return None
    head = data[:SNIFF_BYTES]
    if _too_many_controls(len(head) - len(head.translate(None, _CONTROL_BYTES)), head):
        return None
    try:
        return DecodedText(normalise(data.decode("utf-8")), "utf-8")
    except UnicodeDecodeError as exc:
        whole = data[: exc.start]  # the characters before one that was cut short
        if exc.reason == "unexpected end of data" and not whole.isascii():
            # other multi-byte characters before it: UTF-8 cut short, not cp1252
            return DecodedText(normalise(whole.decode("utf-8")), "utf-8")
    patched = _utf8_patched(data, most_bad=_MOST_PATCHED)
    if patched is not None:  # UTF-8 with a stray byte or two (a log, a pasted "café")
        return DecodedText(normalise(patched), "utf-8")
    declared = _declared_encoding(head)
    if declared is not None:  # a web page or XML file that names its encoding
        try:
            return DecodedText(normalise(data.decode(declared, errors="replace")), declared)
        except (UnicodeError, LookupError):  # a codec that fails whatever the errors ("idna")
            pass
    legacy = _non_latin_encoding(data)
    if legacy is not None:
        return DecodedText(normalise(data.decode(legacy, errors="replace")), legacy)
    try:
        return DecodedText(normalise(data.decode("cp1252")), "cp1252")
    except UnicodeDecodeError:  # a byte cp1252 leaves undefined: not cp1252 text
        pass
    # Bytes cp1252 leaves undefined: UTF-8 with damaged bytes, when its characters weigh half
    # as much as those bytes (latin-1 reads them as control characters, and "résumé" as
    # "rÃ©sumÃ©"); fewer, and a pair of bytes is likelier an accident of a code page that
    # charset-normalizer had too few bytes to tell (Polish cp1250 "ZAŻÓŁĆ").
    escaped = data.decode("utf-8", errors="surrogateescape")
    bad = len(_STRAY.findall(escaped))
    if 2 * _utf8_weight(escaped, bad) >= _patches(escaped, bad):
        return DecodedText(normalise(_unescaped(escaped)), "utf-8")
    # cp1252 for the bytes it defines: latin-1 read "š" and "ž" (0x9A, 0x9E) of a Czech
    # cp1250 note as control characters, which became spaces.
    return DecodedText(normalise(_unescaped(data.decode("cp1252", "surrogateescape"))), "cp1252")


# UTF-8 whose few bytes that are not UTF-8 are read as cp1252 (a file edited in two editors),
# when its UTF-8 characters beyond ASCII weigh this much for each such byte; less, and the whole
# file is cp1252 (where a UTF-8 pair of bytes is a rare accident). A character weighs 1, 2 in
# U+0080-U+00FF (below), and 3 in U+2000-U+2FFF (€, ’, “, –, …: UTF-8's E2 then two bytes),
# which cp1252 would read as "â" followed by two punctuation marks ("â‚¬"), no accident of real
# text. Other characters of three bytes can be one: "é…”" in cp1252 is the bytes of U+9054.
_UTF8_PER_PATCH = 2
_PUNCTUATION_WEIGHT = 3
_MOST_PATCHED = 64  # stray bytes in a file still read as UTF-8
_STRAY = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, as surrogateescape keeps it
_PUNCTUATION_BLOCKS = re.compile("[\u2000-\u2fff]")
# "é" in UTF-8 (C3 A9) is "Ã©" in cp1252: any of U+0080-U+00FF is "Â" or "Ã" and a symbol of
# 0x80-0xBF there, which text in cp1252 hardly holds, so such a character ties a stray byte
# ("UTF-8 café with a stray \x96 dash" was read whole as cp1252: "cafÃ©").
_LATIN1_WEIGHT = 2
_LATIN1_BLOCK = re.compile("[\u0080-\u00ff]")


# An encoding declared where an HTML or XML file's first bytes may declare it: <meta
# charset="...">, <meta http-equiv="Content-Type" content="text/html; charset=...">, or
# <?xml ... encoding="..."?>. A short page (a cafe's menu in windows-1251) has too few bytes
# beyond ASCII for a guess, and came out as "Áîðù è ïåëüìåíè".
_DECLARED = re.compile(
    rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)"
    rb"|<\?xml\b[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']",
    re.IGNORECASE,
)
DECLARATION_BYTES = 1024  # as far as a browser looks for <meta charset>


def _declared_encoding(head: bytes) -> str | None:
    """The encoding an HTML or XML file declares in its first bytes, when Python has it and it
    is not UTF-8 (which ``data`` already failed to be) or a two-byte one; latin-1 and ASCII as
    browsers read them, cp1252."""
    if not head.lstrip()[:1] == b"<":  # markup from its first byte: not a note quoting a tag
        return None
    match = _DECLARED.search(head[:DECLARATION_BYTES])
    if match is None:
        return None
    name = (match.group(1) or match.group(2)).decode("ascii").lower()
    try:
        info = codecs.lookup(_LABELS.get(name, name))
    except LookupError:
        return None
    codec = info.name
    if not getattr(info, "_is_text_encoding", True):  # "base64", "rot13": not a charset
        return None
    if codec.startswith(("utf", "unicode", "raw_unicode")):  # UTF-8 failed; UTF-7: refused
        return None
    return _AS_BROWSERS_READ.get(codec, codec)


# Labels Python lacks, and the supersets browsers read in place of a declared encoding (the
# WHATWG Encoding Standard): "①" in a page declared Shift_JIS is cp932's.
_LABELS = {"windows-31j": "cp932", "x-sjis": "cp932", "x-gbk": "gbk"}
_AS_BROWSERS_READ = {
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "shift_jis": "cp932",
    "gb2312": "gbk",
    "euc_kr": "cp949",
}


def _utf8_patched(data: bytes, *, most_bad: int | None = None) -> str | None:
    """``data`` as UTF-8, each byte that is not UTF-8 read as its cp1252 (else latin-1)
    character; None (with ``most_bad``) when such bytes are over ``most_bad`` or too many for
    the UTF-8 characters beyond ASCII around them: text in another encoding."""
    text = data.decode("utf-8", errors="surrogateescape")
    if most_bad is not None:
        bad = sum(1 for _ in itertools.islice(_STRAY.finditer(text), most_bad + 1))
        if bad > most_bad or _utf8_weight(text, bad) < _UTF8_PER_PATCH * _patches(text, bad):
            return None
    return _unescaped(text)


# cp1252's quotation marks, opening then closing: a pair of them in UTF-8 text is one phrase
# pasted from a Windows program, and weighs as one stray byte ('a stray \x93quote\x94 in a
# café' was read whole as cp1252: "cafÃ©").
_QUOTE_PAIRS = ("\udc93\udc94", "\udc91\udc92")


def _patches(text: str, bad: int) -> int:
    """The ``bad`` stray bytes of ``text`` (decoded with surrogateescape) counted as patches:
    each, but an opening quotation mark and the closing one after it as one."""
    strays = "".join(_STRAY.findall(text))
    return bad - sum(strays.count(pair) for pair in _QUOTE_PAIRS)


def _unescaped(text: str) -> str:
    """``text`` decoded with surrogateescape, each byte it kept read as cp1252 (else latin-1)."""
    return _STRAY.sub(lambda m: _byte_as_cp1252(ord(m.group()) - 0xDC00), text)


def _utf8_weight(text: str, bad: int) -> int:
    """How strongly ``text`` (decoded with surrogateescape, holding ``bad`` stray bytes) says
    it is UTF-8: 1 for each character beyond ASCII, ``_LATIN1_WEIGHT`` for one in
    U+0080-U+00FF, ``_PUNCTUATION_WEIGHT`` for one in U+2000-U+2FFF."""
    beyond_ascii = len(text) - len(text.encode("ascii", errors="ignore")) - bad
    latin1 = _LATIN1_BLOCK.subn("", text)[1]
    punctuation = _PUNCTUATION_BLOCKS.subn("", text)[1]
    return beyond_ascii + (_LATIN1_WEIGHT - 1) * latin1 + (_PUNCTUATION_WEIGHT - 1) * punctuation


# Code pages of scripts other than Latin, as charset-normalizer names them: a file in one of
# them is read in it (cp1251 Russian was "Ïðèâåò"). Western text is cp1252 whatever else it
# may look like (charset-normalizer offers cp1250 for French, cp1006 for a short "café").
_NON_LATIN = frozenset(
    {
        # Cyrillic
        *("cp1251", "koi8_r", "koi8_u", "koi8_t", "cp866", "cp855", "cp1125", "mac_cyrillic"),
        *("iso8859_5", "kz1048", "ptcp154"),
        # Japanese: charset-normalizer names EUC-JP text euc_jis_2004 (read as cp1252 then)
        *("cp932", "shift_jis", "shift_jis_2004", "shift_jisx0213", "euc_jp", "euc_jis_2004"),
        *("euc_jisx0213", "iso2022_jp", "iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_2004"),
        *("iso2022_jp_3", "iso2022_jp_ext"),
        *("gb18030", "gb2312", "gbk", "hz", "big5", "big5hkscs", "cp950"),  # Chinese
        *("cp949", "euc_kr", "johab", "iso2022_kr"),  # Korean
        *("cp1253", "iso8859_7", "mac_greek", "cp737", "cp869"),  # Greek
        *(
            "cp1255",
            "iso8859_8",
            "cp862",
            "cp1256",
            "iso8859_6",
            "cp720",
            "cp864",
        ),  # Hebrew, Arabic
        *("cp874", "tis_620", "iso8859_11"),  # Thai
    }
)
_NON_LATIN_SAMPLE = 65536  # bytes looked at
# Bytes beyond ASCII from which charset-normalizer's answer is taken as it is. Fewer (a one-line
# note: "Купить молоко и хлеб." is 17), and it is taken only where cp1252 reads the text as no
# Western language is written (``_western``): charset-normalizer guesses short text at random.
_NON_LATIN_MIN_BYTES = 32
_FEWEST_BYTES = 8  # four characters of a CJK script; fewer are anything ("ÄÖÜß", "ñáéíóú")
_HIGH_BYTES = bytes(range(0x80, 0x100))


def _non_latin_encoding(data: bytes) -> str | None:
    """The legacy code page of a non-Latin script that ``data`` is in, when charset-normalizer
    finds one in its first bytes; None for anything else, and for too few bytes to tell."""
    sample = data[:_NON_LATIN_SAMPLE]
    high = len(sample) - len(sample.translate(None, _HIGH_BYTES))
    if high == 0:
        return None
    western = _unescaped(sample.decode("cp1252", "surrogateescape"))
    try:
        data.decode("cp1252")
        cp1252 = True
    except UnicodeDecodeError:  # a byte cp1252 leaves undefined: not cp1252 text
        cp1252 = False
    if (
        high < _NON_LATIN_MIN_BYTES
        and cp1252
        and _western(western)
        and not _CENTRAL_IN_WORD.search(western)
    ):
        return None  # Western text, whatever charset-normalizer would say (1.2 ms a file)
    from charset_normalizer import from_bytes  # ~0.1 s: only for a file that is not UTF-8

    best = from_bytes(sample).best()
    if best is None:
        return None
    if best.encoding in _NON_LATIN:
        if high >= _NON_LATIN_MIN_BYTES or (
            high >= _FEWEST_BYTES
            and not _western(western)
            and not _halfwidth_alone(str(best))  # a Japanese reading of Western bytes
        ):
            return best.encoding
    elif best.encoding in ("cp1250", "iso8859_2"):  # Central European
        if not cp1252 or _CENTRAL_IN_WORD.search(western):
            return best.encoding
    return None


# A letter of cp1252's upper half that a Western language writes: next to an ASCII letter
# ("café", "Größe"). Cyrillic read as cp1252 is words of such letters alone ("Êóïèòü"), and CJK
# symbols and letters between them ("¾úÌïcÍ").
# Letters alone: symbols (£ ° ¥ ½ « µ) seldom touch one, and a note of prices or temperatures
# ("Total: £12.50") was read as Japanese.
_UPPER_LETTERS = "[\xc0-\xd6\xd8-\xf6\xf8-\xff\u0152\u0153\u0160\u0161\u0178\u017d\u017e]"
_UPPER_HALF = re.compile(_UPPER_LETTERS)
_TOUCHING = re.compile(f"(?<=[A-Za-z]){_UPPER_LETTERS}|{_UPPER_LETTERS}(?=[A-Za-z])")
# ...or standing alone between spaces, a word of one letter ("à", "ô"), as a list of accents
# has them: a Cyrillic reading's letters come in words ("Êóïèòü"), a CJK one's between symbols.
_ALONE = re.compile(f"(?<!\\S){_UPPER_LETTERS}(?=[\\s.,;:!?)]|$)")


# cp1250's letters that cp1252 reads as symbols (ł ą ż Ł Ą Ż ľ Ľ as ³ ¹ ¿ £ ¥ ¯ ¾ ¼), inside a
# word: "mo¿na", "w³aœnie". No Western word holds one ("m³" and "¿Qué" have one at its edge).
_CENTRAL_IN_WORD = re.compile(
    "(?<=[A-Za-z\xc0-\xff])[\xa3\xa5\xaf\xb3\xb9\xbc\xbe\xbf](?=[A-Za-z\xc0-\xff])"
)


# Halfwidth katakana and punctuation: what a Japanese code page reads Western bytes as ("ÅÄÖ"
# and "£" in cp932); Japanese text holds kanji or fullwidth kana beside them ("会議ﾒﾓ").
_HALFWIDTH_KANA = re.compile("[\uff61-\uff9f]")
_FULLWIDTH_JAPANESE = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")


def _halfwidth_alone(text: str) -> bool:
    """Whether ``text`` holds halfwidth katakana and no kanji or fullwidth kana."""
    return bool(_HALFWIDTH_KANA.search(text)) and not _FULLWIDTH_JAPANESE.search(text)


def _western(text: str) -> bool:
    """Whether ``text`` (read as cp1252) reads as a Western language: at least half of its
    letters from cp1252's upper half (symbols and punctuation aside) touch an ASCII letter or
    stand alone."""
    upper = len(_UPPER_HALF.findall(text))
    return 2 * (len(_TOUCHING.findall(text)) + len(_ALONE.findall(text))) >= upper


def _byte_as_cp1252(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
        return chr(byte)


def _too_many_controls(count: int, sample: str | bytes) -> bool:
    sniffed = min(len(sample), SNIFF_BYTES)
    return sniffed > 0 and count / sniffed > MAX_CONTROL_FRACTION


def normalise(text: str) -> str:
    """Line ends to ``\\n`` as grep, git and vim count lines: ``\\r\\n`` (and ``\\r\\r\\n``, a
    file converted twice) end one line; a lone ``\\r`` is a space (a progress bar's redraws in
    a log; classic Mac OS line ends, which grep -n and vim read as one line too); other control
    characters but tab become spaces, once a terminal's escape codes are taken out; marks
    that are not seen are taken out (``marks.INVISIBLE_MARKS``)."""
    if "\x1b" in text:
        text = _TERMINAL_CODES.sub("", text)
    if "\r" in text:
        text = _CARRIAGE_RETURNS.sub("\n", text)
    if _SPACE_CONTROLS.search(text):
        text = text.translate(_CONTROL_TO_SPACE)
    return text


# -- files ---------------------------------------------------------------------------------


def is_too_large(reason: str) -> bool:
    """Whether a skip's reason is the size limit (``DEFAULT_MAX_BYTES``), as worded here."""
    return reason.startswith("larger than the ")


def read_bytes(path: Path, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of a regular file, at most ``max_bytes`` (None: no cap).

    Raises ``NotTextError`` (never ``OSError``) for a file that is too large, vanished, is not a
    regular file or cannot be read. Opens without blocking, so a named pipe is refused, not read.
    """
    with opened(path) as (handle, size):
        if max_bytes is not None and size > max_bytes:
            raise NotTextError(
                f"larger than the {_megabytes(max_bytes)} limit ({_megabytes(size)})", path
            )
        try:
            data = _read_at_most(handle, None if max_bytes is None else max_bytes + 1, size)
        except OSError as exc:
            raise NotTextError(f"cannot read: {exc.strerror or exc}", path) from None
    if max_bytes is not None and len(data) > max_bytes:  # grew while we looked
        raise NotTextError(f"larger than the {_megabytes(max_bytes)} limit", path)
    return data


@contextlib.contextmanager
def opened(path: Path) -> Iterator[tuple[BinaryIO, int]]:
    """A regular file open to read, and its size as opened; ``NotTextError`` (never
    ``OSError``) where it vanished, is not a regular file or cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise NotTextError("vanished before it could be read", path) from None
    except OSError as exc:
        raise NotTextError(f"cannot read: {exc.strerror or exc}", path) from None
    try:
        try:
            info = os.fstat(fd)
        except OSError as exc:
            raise NotTextError(f"cannot read: {exc.strerror or exc}", path) from None
        if not stat.S_ISREG(info.st_mode):
            raise NotTextError("not a regular file", path)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            yield handle, info.st_size
    finally:
        os.close(fd)


# A file is read this much at a time: a kernel file (/proc/sys/kernel/ostype, size 0) refused one
# read of the whole limit ("Cannot allocate memory": it allocates what is asked for).
READ_PIECE_BYTES = 1 << 20


def _read_at_most(handle: BinaryIO, limit: int | None, size: int = 0) -> bytes:
    """What ``handle`` holds, ``limit`` bytes at most (None: all): the ``size`` its file has in
    one read (pieces joined held a file twice: 297 MiB for an Evernote export of 148), then
    what more there is (a file growing, a kernel file of size 0) a piece at a time."""
    pieces, total = [], 0
    if size > 0:
        want = size + 1 if limit is None else min(size + 1, limit)
        first = handle.read(want)
        if len(first) < want:  # all of it
            return first
        pieces, total = [first], len(first)
    while limit is None or total < limit:
        want = READ_PIECE_BYTES if limit is None else min(READ_PIECE_BYTES, limit - total)
        piece = handle.read(want)
        if not piece:
            break
        pieces.append(piece)
        total += len(piece)
    return b"".join(pieces)


def gzip_size(path: str | Path) -> int:
    """What a ``.gz`` file holds decompressed, as its last member's trailer records it (modulo
    4 GiB: enough to tell one past the size limit), without reading the rest; 0 for any other
    file, or one that cannot be read."""
    if not str(path).lower().endswith(".gz"):
        return 0
    try:
        with open(path, "rb") as file:
            if file.read(2) != b"\x1f\x8b":
                return 0
            file.seek(-4, os.SEEK_END)
            return int.from_bytes(file.read(4), "little")
    except OSError:
        return 0


def read_text(path: Path, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> DecodedText:
    """A file's normalised text. Raises ``NotTextError`` for binary and unreadable files."""
    decoded = _decode(read_bytes(path, max_bytes=max_bytes))
    if decoded is None:
        raise NotTextError(BINARY_FILE, path)
    return decoded


GZIP_MAGIC = b"\x1f\x8b"


def gunzip(data: bytes, path: Path, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> bytes:
    """What gzip-compressed ``data`` holds (every member, as zcat reads them), at most
    ``max_bytes``: a larger content raises ``NotTextError``, as a damaged stream does."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            content = stream.read() if max_bytes is None else stream.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise NotTextError(f"damaged gzip file ({exc})", path) from None
    if max_bytes is not None and len(content) > max_bytes:
        raise NotTextError(f"larger than the {_megabytes(max_bytes)} limit decompressed", path)
    return content


def load_documents(
    path: Path, *, data: bytes | None = None, max_bytes: int | None = DEFAULT_MAX_BYTES
) -> list[SourceDocument]:
    """The documents in a file: its visible text, or one per record of a BEIR JSONL corpus,
    each without the private keys it holds (``secrets.blank_private_keys``).

    ``data`` is the file's content when the caller has already read it. Raises ``NotTextError``
    (a ``SearchAppError``; its message is the reason) for binary, too large or unreadable files,
    and for documents whose text cannot be extracted (an encrypted or scanned PDF, a zip bomb).
    An empty text file gives one empty document; a JSONL corpus without good records gives [].
    PDF, RTF, Word, PowerPoint, OpenDocument, EPUB and notebooks are told by content, Markdown by
    name; their documents carry ``spans`` (see ``searchapp.ingest.formats``). A gzip file
    (``NEWS.gz``, ``notes.md.gz``) is read as what it holds, its format told by the name less
    ``.gz``.
    """
    return _keys_blanked(_documents(path, data, max_bytes))


def _keys_blanked(documents: list[SourceDocument]) -> list[SourceDocument]:
    """``documents``, each without the private keys it holds."""
    return [
        dataclasses.replace(document, text=blank_private_keys(document.text))
        if secrets.MARK in document.text
        else document
        for document in documents
    ]


def _mail_documents(path: Path, messages: list[MailboxMessage]) -> list[SourceDocument]:
    """A mailbox's messages as documents, each a record of its file named by its number."""
    doc_id = str(absolute(path))
    return [
        SourceDocument(qualified_id(doc_id, str(m.number)), path, m.subject, m.text, m.spans)
        for m in messages
    ]


def _documents(path: Path, data: bytes | None, max_bytes: int | None) -> list[SourceDocument]:
    """``load_documents``, the keys left in."""
    # Imported here: the formats build on this module's helpers (and load PDFium only when used).
    from searchapp.ingest.formats.dispatch import extract_binary, extract_text
    from searchapp.ingest.formats.eml import EML_SUFFIX
    from searchapp.ingest.formats.enex import is_enex, read_notes
    from searchapp.ingest.formats.mbox import is_mailbox, read_mailbox

    path = Path(path)
    if data is None:
        data = read_bytes(path, max_bytes=max_bytes)
    elif max_bytes is not None and len(data) > max_bytes:
        raise NotTextError(
            f"larger than the {_megabytes(max_bytes)} limit ({_megabytes(len(data))})", path
        )
    doc_id = str(absolute(path))
    named = path  # the name that tells Markdown, JSONL and HTML
    if data.startswith(GZIP_MAGIC):
        named = path.with_suffix("") if path.suffix.lower() == ".gz" else path
        if named.suffix.lower() == ".tar" or path.suffix.lower() == ".tgz":
            raise NotTextError("compressed tar archive", path)
        data = gunzip(data, path, max_bytes=max_bytes)
    suffix = named.suffix.lower()
    if suffix != EML_SUFFIX and is_mailbox(data, suffix):
        return _mail_documents(path, read_mailbox(data))
    if is_enex(data, suffix):
        return [
            SourceDocument(qualified_id(doc_id, str(n.number)), path, n.title, n.text, n.spans)
            for n in read_notes(data)
        ]
    located = extract_binary(data, path)
    if located is not None:
        return [
            SourceDocument(
                doc_id, path, located.title, located.text, located.spans, located.page_labels
            )
        ]
    decoded = _decode(data)
    if decoded is None:
        raise NotTextError(BINARY_FILE, path)
    text = decoded.text
    if suffix == JSONL_SUFFIX and is_beir_jsonl(text):
        return [
            SourceDocument(
                doc_id=qualified_id(doc_id, record.doc_id),
                path=path,
                title=record.title,
                text=record.text,
            )
            for record in iter_jsonl_records(text, path)
        ]
    located = extract_text(text, named)
    if located is not None:
        return [
            SourceDocument(
                doc_id, path, located.title, located.text, located.spans, located.page_labels
            )
        ]
    if suffix in HTML_SUFFIXES or looks_like_html(text):
        title, visible = html_to_text(text, source_lines=True)
        return [SourceDocument(doc_id=doc_id, path=path, title=title, text=visible)]
    return [SourceDocument(doc_id=doc_id, path=path, title="", text=text)]


def size_limit(path: Path, size: int) -> int | None:
    """The most bytes ``path`` (``size`` bytes) is read up to: ``DEFAULT_MAX_BYTES``, or None
    (no limit) for a mailbox, read a message at a time (``is_mailbox_file``)."""
    if size <= DEFAULT_MAX_BYTES:
        return DEFAULT_MAX_BYTES
    if path.suffix.lower() == ".enex":  # mostly the files its notes hold, read note by note
        return ENEX_MAX_BYTES
    return None if is_mailbox_file(path) else DEFAULT_MAX_BYTES


MAILBOX_HEAD_BYTES = 4096  # enough for a message's "From " line and its first header


def is_mailbox_file(path: Path) -> bool:
    """Whether ``path`` is a mailbox (``formats/mbox.py``), not compressed: named so, or
    without a suffix and beginning with a message's "From " line. It is read a message at a
    time (``mailbox_documents``), whatever its size; a compressed one whole, as other files."""
    from searchapp.ingest.formats.mbox import MBOX_SUFFIXES, is_mailbox

    suffix = path.suffix.lower()
    if suffix not in MBOX_SUFFIXES and suffix[1:].isalnum():
        return False  # named as another kind of file (`notes.txt`, `fix.patch`, `x.mbox.gz`)
    try:  # not blocking, as files are read: a named pipe so named is none
        with opened(path) as (file, _):
            head = file.read(MAILBOX_HEAD_BYTES)
    except (NotTextError, OSError):
        return False
    return not head.startswith(GZIP_MAGIC) and is_mailbox(head, suffix)


def mailbox_scan(
    path: Path, size: int | None, *, at: int = 0, between: Callable[[], object] | None = None
) -> Scan:
    """A mailbox's first ``size`` bytes (None: all) read through (``formats.mbox.scan``): their
    content hash, less the status lines a mail client rewrites as a message is read; ``at``: 0,
    or the size it was indexed at, to tell whether mail was appended since; ``between``:
    called after each message."""
    from searchapp.ingest.formats.mbox import scan

    with opened(path) as (handle, _):
        try:
            return scan(handle, size, at=at, between=between)
        except OSError as exc:
            raise NotTextError(f"cannot read: {exc.strerror or exc}", path) from None
        except ValueError as exc:  # a line of hundreds of MB (``formats.mbox.pieces``)
            raise NotTextError(str(exc), path) from None


def mailbox_documents(
    path: Path, size: int, *, start: int = 0, first: int = 1
) -> Iterator[tuple[int, SourceDocument]]:
    """The messages of a mailbox's first ``size`` bytes as documents (each a record of its file
    named by its number), from the one at byte ``start`` on, numbered from ``first``; each
    with the bytes it took in the file. Read a message at a time: memory holds one message
    and its text, not the file (a 5 GB Gmail export)."""
    from searchapp.ingest.formats.mbox import messages, pieces

    with opened(path) as (handle, _):
        try:
            handle.seek(start)  # where new mail begins (``Scan.appended_at``), read alone
            cut = ((start + at, piece) for at, piece in pieces(handle, size - start))
            for _, length, message in messages(cut, first=first):
                [document] = _keys_blanked(_mail_documents(path, [message]))
                yield length, document
        except OSError as exc:
            raise NotTextError(f"cannot read: {exc.strerror or exc}", path) from None
        except ValueError as exc:
            raise NotTextError(str(exc), path) from None


def content_digest(path: Path) -> str:
    """The content hash stored for the file at ``path`` (``documents.sha256``): a mailbox's
    less its messages' status lines (``mailbox_scan``), any other file's of its bytes."""
    if is_mailbox_file(path):
        return mailbox_scan(path, None).digest
    return hashlib.sha256(read_bytes(path)).hexdigest()


BINARY_FILE = "binary file"  # the skip reason of a file that is not text


# Minified or generated text: most of it on lines GENERATED_LINE_CHARS long (``limits``), in a
# file at least this large.
GENERATED_MIN_CHARS = 20_000


def looks_generated(text: str) -> bool:
    """Whether ``text`` is mostly very long lines (minified code, data dumps, base64) that do
    not read as prose (``_reads_as_prose``: a transcript or notes kept a paragraph a line)."""
    if len(text) < GENERATED_MIN_CHARS:
        return False
    long_chars = sum(len(line) for line in text.split("\n") if is_generated_line(line))
    return long_chars > len(text) / 2


# A generated source file says so of itself in a comment at its top: Go's `// Code generated by
# stringer; DO NOT EDIT.`, `# This file is automatically generated by tools/idna-data`,
# `@generated`; not a comment that mentions another file (`# version.py is auto-generated`).
_GENERATED_HEADER = re.compile(
    r"(?:#|//|/\*|\*|--|;|<!--)\W*(?:"
    r".*\bthis (?:file|module|header) (?:is|was|has been) (?:automatically |auto-?)?generated\b"
    r"|.*\bgenerated\b.*\bdo not edit\b|.*\bdo not edit\b.*\bgenerated\b|.*@generated\b"
    r"|(?:auto-?generated|automatically generated) (?:by|from|with)\b)",
    re.IGNORECASE,
)
GENERATED_HEADER_LINES = 10  # the lines of a file's top read for it
# ...and is data: literals (strings, numbers) are this share of its characters or more. idna's
# tables are 76-93%, a transformers `modeling_*.py` generated from its modular file 7-8% (the
# readable model code, kept), the standard library's modules 8-16%.
GENERATED_LITERALS = 0.5
_LITERAL = re.compile(
    r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"|\b0[xX][0-9A-Fa-f]+\b|\b[0-9]+(?:\.[0-9]+)?\b"
)


# Go's own mark of a generated file (`go help generate`), on a line before its package clause:
# mockgen's mocks and stringer's tables ranked above the code they copy (a Go developer's
# `UserByID` gave the mock's recorder first), as `*.pb.go` files did before they were left out.
_GO_GENERATED = re.compile(r"^// Code generated .* DO NOT EDIT\.$", re.MULTILINE)
_GO_PACKAGE = re.compile(r"^package\s", re.MULTILINE)


def go_generated(text: str) -> bool:
    """Whether Go source says it was generated, as Go's tools read it: a line
    ``// Code generated ... DO NOT EDIT.`` before its package clause."""
    package = _GO_PACKAGE.search(text, 0, 20_000)
    return _GO_GENERATED.search(text, 0, package.start() if package else 20_000) is not None


def generated_data(text: str) -> bool:
    """Whether a source file says at its top that it was generated (a comment among its first
    ``GENERATED_HEADER_LINES`` lines, of itself) and is mostly literals: a table, not code."""
    head = text[:4000].split("\n")[:GENERATED_HEADER_LINES]
    if not any(_GENERATED_HEADER.match(line.lstrip()) for line in head):
        return False
    nonspace = len(text) - sum(map(text.count, " \t\n\r"))
    literal = sum(
        len(found.group()) - found.group().count(" ") for found in _LITERAL.finditer(text)
    )
    return literal >= GENERATED_LITERALS * max(nonspace, 1)


def is_generated_line(line: str) -> bool:
    """Whether one line is as ``looks_generated`` counts a file's: very long, not prose."""
    return len(line) > GENERATED_LINE_CHARS and not _reads_as_prose(line)


# Prose is words between spaces (15-18% of English or French text), or Chinese and Japanese,
# nearly all letters; minified code, base64 and JSON dumps are mostly not letters, or spaceless.
_PROSE_SPACES, _PROSE_LETTERS = 0.08, 0.8
_CJK_LETTER = re.compile(f"[{CJK}]")


def _reads_as_prose(line: str) -> bool:
    sample = line[:GENERATED_LINE_CHARS]
    ends = line.strip()
    if (ends[:1], ends[-1:]) in (("[", "]"), ("{", "}")) and '":' in sample:
        return False  # a JSON dump, its strings English or not
    spaces = sample.count(" ")
    letters = sum(c.isalpha() for c in sample)
    if letters < _PROSE_LETTERS * (len(sample) - spaces):
        return False
    return spaces >= _PROSE_SPACES * len(sample) or len(_CJK_LETTER.findall(sample)) > letters / 2


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


# -- HTML ------------------------------------------------------------------------------------


def is_beir_jsonl(text: str) -> bool:
    """Whether the first non-empty line is a JSON object with ``_id`` (or ``id``) and ``text``."""
    for line in text.split("\n", 100):  # a leading run of blank lines is not a corpus
        if line.strip():
            return _parse_record(line) is not None
    return False


def iter_jsonl_records(
    text: str, path: Path | str, *, stats: JsonlStats | None = None
) -> Iterator[JsonlRecord]:
    """The records of a BEIR-format JSONL corpus. Bad lines and repeated ids are skipped with a
    warning (the first few per file, then a count) and counted in ``stats``."""
    stats = stats if stats is not None else JsonlStats()
    seen: set[str] = set()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        parsed = _parse_record(line)
        if parsed is None:
            stats.bad_lines += 1
            if stats.bad_lines <= MAX_BAD_LINE_WARNINGS:
                logger.warning(
                    "%s:%d: skipped: not a JSON object with a string 'text' and an '_id'",
                    path,
                    number,
                )
            continue
        doc_id, title, body = parsed
        if doc_id in seen:
            stats.duplicate_ids += 1
            logger.warning(
                "%s:%d: skipped: the id %r was used by an earlier line", path, number, doc_id
            )
            continue
        seen.add(doc_id)
        stats.records += 1
        yield JsonlRecord(
            doc_id=doc_id, title=title, text=f"{title}\n{body}" if title else body, line=number
        )
    if stats.bad_lines > MAX_BAD_LINE_WARNINGS:
        logger.warning("%s: %d bad lines skipped in all", path, stats.bad_lines)


def _parse_record(line: str) -> tuple[str, str, str] | None:
    """(id, title, text) of a corpus line, normalised, or None when it is not a record."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    doc_id = obj.get("_id", obj.get("id"))
    body = obj.get("text")
    title = obj.get("title") or ""
    if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)) or doc_id == "":
        return None
    if not isinstance(body, str) or not isinstance(title, str):
        return None
    doc_id, title, body = (_LONE_SURROGATE.sub("\ufffd", s) for s in (str(doc_id), title, body))
    return doc_id, normalise(title).strip(), normalise(body)
