"""Mailboxes (mbox: Thunderbird's folder files, a Gmail Takeout's ``.mbox``, Apple Mail's and
mutt's): each message a document of the file, read as an ``.eml`` file is (``formats/eml.py``).

Read as text, a mailbox was one document of MIME: a hit on a message printed its
quoted-printable (``caf=C3=A9``), the next message's headers ran on in its passage, and
nothing named the message. Here each message is a record of the file, numbered from 1 in the
file's order (``Inbox.mbox #12``, as a JSONL corpus's records are named by their ids), titled
by its subject. A message starts at a line "From " (sender, then the date as ``asctime`` writes
it) followed by a header; ``>From `` lines of a body lose one ``>`` (mboxrd's escape).
Messages Thunderbird marks deleted but has not yet compacted away are left out, and those
Gmail's export labels Spam or Trash.

A mailbox is read a block at a time and cut into messages as it goes (``pieces``): a Gmail
export of years of mail is several GB, mostly attachments, and read whole one took twice its
size in memory (those over 1 GiB were skipped). The indexer reads it through once to hash it
(``scan``, which also tells new mail appended since it was indexed), then a message at a time.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from searchapp.ingest.formats.eml import read_message
from searchapp.ingest.formats.spans import Span

logger = logging.getLogger(__name__)

MBOX_SUFFIXES = frozenset({".mbox", ".mbx"})
# "From " starts a message where the sender ("-" for Thunderbird) and a date follow, as
# asctime writes it ("From - Mon Jan  6 10:00:00 2025"; Gmail puts "+0000" before the year),
# and a header line comes next: a body's "From Monday on" is not one.
_FROM_LINE = re.compile(
    rb"^From [^ \t\r\n]*[ \t]+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[ \t]+"
    rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[ \t]+\d{1,2}[ \t]+\d{1,2}:\d\d"
    rb"[^\r\n]*\r?\n(?=[!-9;-~]+:)",
    re.MULTILINE,
)
_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)
_HEADER_LINE = re.compile(rb"[!-9;-~]+:")
_BLANK_LINE = re.compile(rb"\n\r?\n")  # where a message's headers end
# Thunderbird's status of a message: 0x0008 is "expunged" (deleted, still in the file).
_MOZILLA_STATUS = re.compile(rb"^X-Mozilla-Status:[ \t]*([0-9A-Fa-f]{1,4})\r?$", re.MULTILINE)
_EXPUNGED = 0x0008


# Gmail's labels of a message in its Takeout export; those in Spam or Trash are left out, as
# Gmail's own search leaves them out ("All mail Including Spam and Trash.mbox": a helper's
# trial found 65 spam messages among the hits).
_GMAIL_LABELS = re.compile(rb"^X-Gmail-Labels:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.MULTILINE)
_BINNED_LABELS = frozenset({"spam", "trash"})


def _binned(head: bytes) -> bool:
    """Whether a message's headers (``head``) say Gmail holds it in Spam or Trash."""
    found = _GMAIL_LABELS.search(head)
    if found is None:
        return False
    labels = found.group(1).decode("utf-8", "replace").replace("\r", "").replace("\n", "")
    return any(label.strip(' \t"').lower() in _BINNED_LABELS for label in labels.split(","))


@dataclass(frozen=True)
class MailboxMessage:
    """One message of a mailbox: its number in the file (from 1), its subject, readable text
    and the sections of the files attached to it that have text (``eml.read_message``)."""

    number: int
    subject: str
    text: str
    spans: tuple[Span, ...] = ()


def is_mailbox(data: bytes, suffix: str) -> bool:
    """Whether a file (its bytes, and its name's suffix in lower case) is a mailbox: named so,
    or without a suffix (Thunderbird's folder files: `Inbox`, `Archives.sbd/2023`) and
    beginning with a message's "From " line. Not `git format-patch`'s `0001-fix.patch`, whose
    first line is one too."""
    if suffix in MBOX_SUFFIXES:
        return True
    named = bool(suffix) and suffix[1:].isalnum()  # `Mr. Smith` has no suffix but a name
    return not named and _FROM_LINE.match(data.removeprefix(_BOM)) is not None


_BOM = b"\xef\xbb\xbf"
READ_BLOCK_BYTES = 8 << 20  # a mailbox is read this much at a time (at least)
# A "From " line starts a message where a header line follows it: one is told once this much of
# the file follows its start (or the file ends there). A header's name is a word, not 64 KiB.
LOOKAHEAD_BYTES = 64 << 10
# A message is read up to this much (its headers, text and first attachments): a larger one,
# or a file named a mailbox whose "From " lines are not a mailbox's, is not held whole (one of
# 300 MB took 3 GB to parse). Gmail's largest are ~35 MB.
MAX_PIECE_BYTES = 64 << 20


def pieces(stream: BinaryIO, size: int | None = None) -> Iterator[tuple[int, bytes]]:
    """A mailbox's bytes (``stream``'s first ``size`` bytes; None: all) cut where its messages
    begin, each piece with its offset in the file: first what comes before the first message
    (b"" where it begins with one; a byte-order mark left out), then each message from its
    "From " line. A message over ``MAX_PIECE_BYTES`` is given in pieces, each of whole lines,
    the first its start (``is_message``), the others not; ``ValueError`` for a line longer.

    Read a block at a time, never whole: a Gmail export of years of mail is 5 GB, and read
    whole (about twice its size in memory), a mailbox over 1 GiB was skipped."""
    left = size

    def read(count: int) -> bytes:
        nonlocal left
        got = stream.read(count if left is None else min(count, left))
        if left is not None:
            left -= len(got)
        return got

    buffer = read(READ_BLOCK_BYTES)
    base = len(_BOM) if buffer.startswith(_BOM) else 0  # the file's offset of buffer[0]
    buffer = buffer[base:]
    start = scan = 0  # where the piece being read starts; where to look for the next on
    lead = True  # what comes before the first message is yet to be given
    while True:
        more = read(READ_BLOCK_BYTES)
        buffer += more
        settled = len(buffer) if not more else len(buffer) - LOOKAHEAD_BYTES
        starts, resume = _from_lines(buffer, scan, settled, final=not more)
        for found in starts:
            if lead or found > start:
                yield base + start, buffer[start:found]
            lead, start = False, found
        if not more:
            yield base + start, buffer[start:]
            return
        scan = max(scan, resume)
        if len(buffer) - scan > MAX_PIECE_BYTES + LOOKAHEAD_BYTES:  # a line read on and on
            raise ValueError(f"a line of more than {MAX_PIECE_BYTES >> 20} MiB: not mail")
        if scan - start > MAX_PIECE_BYTES:  # given on in pieces from a line's start
            cut = buffer.rfind(b"\n", start, scan) + 1
            if cut <= start:
                raise ValueError(f"a line of more than {MAX_PIECE_BYTES >> 20} MiB: not mail")
            yield base + start, buffer[start:cut]
            lead, start = False, cut
        scan -= start
        buffer, base, start = buffer[start:], base + start, 0


def _from_lines(buffer: bytes, begin: int, end: int, *, final: bool) -> tuple[list[int], int]:
    """Where the "From " lines of messages start in ``buffer``, from ``begin`` to before
    ``end``, each found by ``bytes.find`` (the pattern tried at each line's start took 0.8 s
    over 200 MB of attachments' base64); and where to look on from: ``end``, or, unless the
    buffer ends the file (``final``), a "From " line that cannot yet be told, its line or the
    header after it running to the buffer's end (one of 70 KB was missed so)."""
    found, at = [], begin
    if at and buffer[at - 1 : at] != b"\n":  # not a line's start: from the next one
        at = buffer.find(b"\n", at, end) + 1 or end
    while at < end:
        if _FROM_LINE.match(buffer, at):
            found.append(at)
        elif not final and _UNTOLD.match(buffer, at):
            return found, at
        at = buffer.find(b"\nFrom ", at, end + 5) + 1 or end
    return found, end


# A "From " line, or it and the start of a header name after it, that the buffer ends in.
_UNTOLD = re.compile(rb"From [^\n]*(?:\n[!-9;-~]*)?\Z")


def is_message(piece: bytes) -> bool:
    """Whether a piece of a mailbox (``pieces``) is a message, not what comes before the first."""
    return _FROM_LINE.match(piece) is not None


def read_mailbox(data: bytes, *, first: int = 1) -> list[MailboxMessage]:
    """The messages of a mailbox, in its order, numbered from ``first``. A file of headers and
    a body without a "From " line (an ``.eml`` file renamed) is one message, and so is such a
    text before the first "From " line; an empty one has none."""
    return [message for _, _, message in messages(pieces(io.BytesIO(data)), first=first)]


def messages(
    cut: Iterable[tuple[int, bytes]], *, first: int = 1
) -> Iterator[tuple[int, int, MailboxMessage]]:
    """The messages of a mailbox's ``pieces`` (or of those from one on), numbered from
    ``first``, each with its offset and size in the file (a large one read from its first
    piece alone). Those left out (deleted, Spam and Trash) are counted."""
    number = first
    for n, (offset, raw) in enumerate(cut):
        if not is_message(raw):  # before the first "From " line, or a large message's rest
            if n == 0 and raw.strip():  # a message without its "From " line, counted
                if _HEADER_LINE.match(raw.lstrip()):
                    yield offset, len(raw), _message(number, raw)
                number += 1
            continue
        body = raw[raw.index(b"\n") + 1 :]
        blank = _BLANK_LINE.search(body)
        head = body[: blank.start()] if blank else body
        status = _MOZILLA_STATUS.search(head)
        expunged = status is not None and int(status.group(1), 16) & _EXPUNGED
        if not expunged and not _binned(head):
            yield offset, len(raw), _message(number, _ESCAPED_FROM.sub(rb"\1", body))
        number += 1


@dataclass(frozen=True)
class Scan:
    """A mailbox read through once (``scan``): its content hash, the bytes read, and as of its
    first ``at`` bytes (its size when indexed): their hash, the messages they hold (those left
    out too), and whether the bytes after them begin a message (mail appended)."""

    digest: str
    size: int
    digest_at: str = ""
    count_at: int = 0
    appended_at: bool = False


def scan(
    stream: BinaryIO,
    size: int | None = None,
    *,
    at: int = 0,
    between: Callable[[], object] | None = None,
) -> Scan:
    """``Scan`` of the mailbox in ``stream`` (its first ``size`` bytes), hashed less the status
    lines of its messages' headers (``_masked``); ``at``: 0, or its size when indexed;
    ``between``: called after each message (to stop: 5 GB are hashed in ~13 s)."""
    hashing = hashlib.sha256()
    digest_at, count_at, appended_at, blank_after, read = "", 0, False, False, 0
    for n, (offset, raw) in enumerate(pieces(stream, size)):
        message = is_message(raw)
        if offset == len(_BOM) and not read:  # the byte-order mark, hashed as it is
            hashing.update(_BOM)
        hashed = _masked(raw) if message else raw
        if blank_after:  # the bytes as indexed, a blank line, then this message?
            appended_at, blank_after = message, False
        if at and offset == at and message:
            digest_at, appended_at = hashing.hexdigest(), True
        if offset < at < offset + len(raw):
            hashing.update(hashed[: at - offset])
            digest_at = hashing.hexdigest()
            hashing.update(hashed[at - offset :])
            blank_after = not raw[at - offset :].strip(b"\r\n")
        else:
            hashing.update(hashed)
        if offset < at and (message or (n == 0 and raw.strip())):
            count_at += 1
        read = offset + len(raw)
        if between is not None:
            between()
    return Scan(hashing.hexdigest(), read, digest_at, count_at, appended_at)


# Header lines a mail client rewrites in place as a message is read, flagged or tagged
# (Thunderbird's X-Mozilla-Status, -Status2 and -Keys; mutt's Status and X-Status).
_STATUS_LINE = re.compile(
    rb"^(?:X-Mozilla-Status2?|X-Mozilla-Keys|X-Status|Status):[^\r\n]*", re.MULTILINE | re.I
)


def _masked(message: bytes) -> bytes:
    """A message of a mailbox as hashed to tell whether it changed: the status lines of its
    headers blanked, but for Thunderbird's deleted mark (``_EXPUNGED``), which leaves it out.
    Reading a message rewrites its status in place: hashed as written, a 1 GiB Inbox was read
    whole again for each message read, and new mail never read alone."""
    head = message.index(b"\n") + 1
    blank = _BLANK_LINE.search(message, head)
    end = blank.start() if blank else len(message)
    lines = list(_STATUS_LINE.finditer(message, head, end))
    if not lines:
        return message
    hashed = bytearray(message)
    for line in lines:
        status = _MOZILLA_STATUS.match(line.group())
        expunged = status is not None and int(status.group(1), 16) & _EXPUNGED
        hashed[line.start() : line.end()] = (b"!" if expunged else b"#") * len(line.group())
    return bytes(hashed)


def _message(number: int, raw: bytes) -> MailboxMessage:
    try:
        read = read_message(raw)
    except Exception:  # one damaged message, not the mailbox: its bytes as text
        logger.debug("reading message %d of a mailbox failed", number, exc_info=True)
        return MailboxMessage(number, "", raw.decode("utf-8", "replace"))
    return MailboxMessage(number, read.title, read.text, read.spans)
