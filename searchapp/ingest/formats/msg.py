"""Outlook messages saved as files (``.msg``): read as a saved ``.eml`` is.

A ``.msg`` is a compound file (OLE2, as Word 97's ``.doc``), each of the message's properties
a stream named by its tag (``__substg1.0_0037001F``: the subject, UTF-16) and each attached
file a storage of its own. Mail dragged out of Outlook into a project folder is saved so; it
was skipped ("Outlook message (.msg): not indexed"). Read here with olefile (the compound
file's sectors and directory, whose hostile forms it checks): the sender, recipients, date and
subject, the plain-text body (else the HTML one as text), then each attached file by its name
and its text where it has some (``attached.attached_text``), as ``formats.eml`` reads mail.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cached_property
from typing import Any

from searchapp.ingest.formats.attached import (
    ATTACHED_KINDS,
    MAX_ATTACHED_BYTES,
    MAX_NESTED_MESSAGES,
    attached_text,
    attachment_piece,
    joined,
)
from searchapp.ingest.formats.html import html_to_text
from searchapp.ingest.formats.spans import LocatedText

MSG_SUFFIX = ".msg"
_STRING, _STRING8, _BINARY = "001F", "001E", "0102"
_SUBJECT, _BODY, _HTML, _RTF = "0037", "1000", "1013", "1009"
_SENDER_NAME, _SENDER_EMAIL, _SENDER_SMTP = "0C1A", "0C1F", "5D01"
_TO, _CC = "0E04", "0E03"
_SUBMITTED, _DELIVERED = 0x0039, 0x0E06  # PT_SYSTIME properties, in the fixed-size stream
_ATTACHMENT_NAMES = ("3707", "3704", "3001")  # long file name, 8.3 name, display name
_ATTACHMENT_DATA, _ATTACHMENT_MIME = "3701", "370E"
_CODEPAGE = 0x3FFD  # PR_MESSAGE_CODEPAGE: what 8-bit strings (001E) are written in
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def is_msg(data: bytes) -> bool:
    """Whether ``data`` is a compound file holding an Outlook message's properties."""
    from searchapp.ingest.formats.dispatch import OLE2_MAGIC

    return data.startswith(OLE2_MAGIC) and "__substg1.0_".encode("utf-16-le") in data


def extract_msg(data: bytes) -> LocatedText:
    """The readable text of an Outlook message (``data``, its bytes), titled by its subject."""
    import olefile  # only when a .msg is met

    with olefile.OleFileIO(data) as ole:
        subject, pieces = _message(
            ole, [], _MESSAGE_HEADER, MAX_NESTED_MESSAGES, [MAX_ATTACHED_BYTES]
        )
    text, spans = joined(pieces)
    return LocatedText(" ".join(subject.split()), text + "\n", spans)


_MESSAGE_HEADER, _ATTACHED_MESSAGE_HEADER, _ATTACHMENT_HEADER = 32, 24, 8  # of the fixed props
_ATTACHED_MESSAGE = "__substg1.0_3701000D"  # an attachment's storage holding a whole message


def _message(
    ole: Any, path: list[str], header: int, depth: int, budget: list[int]
) -> tuple[str, list[tuple[str | None, str]]]:
    """The subject and the pieces of text (``attached.joined``'s) of the message stored at
    ``path``: its headers, its body, then what is attached to it, a message attached whole
    (forwarded as an attachment) read after it, ``depth`` levels down."""
    message = _Properties(ole, path, header)
    codepage = message.integer(_CODEPAGE)
    subject = message.string(_SUBJECT, codepage)
    sender = message.string(_SENDER_NAME, codepage)
    address = message.string(_SENDER_SMTP, codepage) or message.string(_SENDER_EMAIL, codepage)
    if "@" in address and address not in sender:
        sender = f"{sender} <{address}>" if sender else address
    sent = message.time(_SUBMITTED) or message.time(_DELIVERED)
    lines = [
        f"{name}: {' '.join(value.split())}"
        for name, value in (
            ("From", sender),
            ("To", message.string(_TO, codepage)),
            ("Cc", message.string(_CC, codepage)),
            ("Date", format_datetime(sent) if sent else ""),
            ("Subject", subject),
        )
        if value.strip()
    ]
    body = message.string(_BODY, codepage).replace("\r\n", "\n")
    if not body.strip():
        body = _html_body(message, codepage) or _rtf_body(message)
    pieces: list[tuple[str | None, str]] = [(None, "\n".join(lines)), (None, body)]
    for storage in _attachment_storages(ole, path):
        inner = [*storage, _ATTACHED_MESSAGE]
        if depth > 0 and ole.exists("/".join(inner)):
            _, (head, *rest) = _message(ole, inner, _ATTACHED_MESSAGE_HEADER, depth - 1, budget)
            pieces += [(None, f"Forwarded message:\n{head[1]}".strip()), *rest]
            continue
        name, text = _attachment(_Properties(ole, storage, _ATTACHMENT_HEADER), codepage, budget)
        if name:
            pieces.append(attachment_piece(name, text))
    return subject, pieces


class _Properties:
    """The properties of a message or an attachment: the streams of its storage (``path``)."""

    def __init__(self, ole: Any, path: list[str], header: int) -> None:
        self._ole, self._path, self._header = ole, path, header

    def raw(self, tag: str, kind: str) -> bytes | None:
        stream = [*self._path, f"__substg1.0_{tag}{kind}"]
        if not self._ole.exists("/".join(stream)):
            return None
        return self._ole.openstream(stream).read()

    def string(self, tag: str, codepage: int | None) -> str:
        """A string property, written as UTF-16 or in the message's code page."""
        wide = self.raw(tag, _STRING)
        if wide is not None:
            return wide.decode("utf-16-le", "replace").rstrip("\x00")
        narrow = self.raw(tag, _STRING8)
        if narrow is None:
            return ""
        return _decoded(narrow.rstrip(b"\x00"), codepage)

    @cached_property
    def _fixed(self) -> dict[int, bytes]:
        """The fixed-size properties (``__properties_version1.0``): each tag's 8 value bytes."""
        name = "/".join([*self._path, "__properties_version1.0"])
        if not self._ole.exists(name):
            return {}
        data = self._ole.openstream(name).read()
        found = {}
        for at in range(self._header, len(data) - 15, 16):
            tag, _, value = struct.unpack_from("<II8s", data, at)
            found[tag] = value
        return found

    def time(self, property_id: int) -> datetime | None:
        value = self._fixed.get(property_id << 16 | 0x0040)
        if value is None:
            return None
        ticks = struct.unpack("<Q", value)[0]  # 100 ns since 1601
        try:
            return _FILETIME_EPOCH + timedelta(microseconds=ticks // 10)
        except OverflowError:
            return None

    def integer(self, property_id: int) -> int | None:
        value = self._fixed.get(property_id << 16 | 0x0003)
        return None if value is None else struct.unpack_from("<i", value)[0]


def _decoded(data: bytes, codepage: int | None) -> str:
    try:
        return data.decode(f"cp{codepage}" if codepage else "cp1252", "replace")
    except LookupError:  # a code page Python does not know
        return data.decode("cp1252", "replace")


def _html_body(message: _Properties, codepage: int | None) -> str:
    """The HTML body as text, where a message has no plain-text one."""
    from searchapp.ingest.decoding import decode_bytes

    html = message.raw(_HTML, _BINARY)
    page = decode_bytes(html) if html is not None else message.string(_HTML, codepage)
    return html_to_text(page)[1].strip() if page else ""


def _rtf_body(message: _Properties) -> str:
    """The RTF body as text (compressed, ``PR_RTF_COMPRESSED``), where a message has neither
    a plain-text nor an HTML one (as Outlook saves mail written in rich text)."""
    from searchapp.ingest.formats.rtf import extract_rtf

    packed = message.raw(_RTF, _BINARY)
    rtf = decompressed_rtf(packed) if packed else b""
    return extract_rtf(rtf, name="a message's RTF body").text.strip() if rtf.strip() else ""


# Compressed RTF (MS-OXRTFCP): a header, then LZ77 over a 4,096-byte ring that starts with
# these bytes, so that the words every RTF begins with cost a reference each.
_RTF_PREBUF = (
    b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss "
    b"\\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier"
    b"{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx"
)
_COMPRESSED, _UNCOMPRESSED = b"LZFu", b"MELA"


def decompressed_rtf(data: bytes) -> bytes:
    """An RTF body as ``PR_RTF_COMPRESSED`` holds it, unpacked; b"" where it is damaged."""
    if len(data) < 16:
        return b""
    size, raw_size, kind = struct.unpack_from("<II4s", data)
    if kind == _UNCOMPRESSED:
        return data[16 : 16 + raw_size]
    if kind != _COMPRESSED:
        return b""
    ring = bytearray(_RTF_PREBUF.ljust(4096, b"\0"))
    write, out, at, end = len(_RTF_PREBUF), bytearray(), 16, min(len(data), size + 4)
    while at < end and len(out) < raw_size:
        control, at = data[at], at + 1
        for bit in range(8):
            if at >= end or len(out) >= raw_size:
                break
            if not control >> bit & 1:  # a literal byte
                out.append(data[at])
                ring[write] = data[at]
                write, at = (write + 1) % 4096, at + 1
                continue
            if at + 1 >= end:
                return bytes(out)
            reference, at = data[at] << 8 | data[at + 1], at + 2
            offset, length = reference >> 4, (reference & 0xF) + 2
            if offset == write:  # the end
                return bytes(out)
            for n in range(length):
                byte = ring[(offset + n) % 4096]
                out.append(byte)
                ring[write] = byte
                write = (write + 1) % 4096
    return bytes(out)


def _attachment_storages(ole: Any, message: list[str]) -> list[list[str]]:
    """The storages of the files attached to the message stored at ``message``."""
    return [
        path
        for path in ole.listdir(streams=False, storages=True)
        if len(path) == len(message) + 1
        and path[:-1] == message
        and path[-1].startswith("__attach_version1.0_#")
    ]


def _attachment(
    attachment: _Properties, codepage: int | None, budget: list[int]
) -> tuple[str, str]:
    """A file attached: its name, and its text where it is a document or text ("" for an
    image, sound or video, a message attached, or a file without text)."""
    name = next(
        (n for tag in _ATTACHMENT_NAMES if (n := attachment.string(tag, codepage).strip())), ""
    )
    if not name:
        return "", ""
    mime = attachment.string(_ATTACHMENT_MIME, codepage).strip().lower()
    if mime and mime.split("/")[0] not in ATTACHED_KINDS:
        return name, ""
    data = attachment.raw(_ATTACHMENT_DATA, _BINARY)  # none for a message attached whole
    if not data:
        return name, ""
    return name, attached_text(name, data, budget)
