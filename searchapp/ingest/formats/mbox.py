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
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from searchapp.ingest.formats.eml import read_message

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
    """One message of a mailbox: its number in the file (from 1), subject and readable text."""

    number: int
    subject: str
    text: str


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


def read_mailbox(data: bytes, *, first: int = 1) -> list[MailboxMessage]:
    """The messages of a mailbox, in its order, numbered from ``first``. A file of headers and
    a body without a "From " line (an ``.eml`` file renamed) is one message, and so is such a
    text before the first "From " line; an empty one has none."""
    data = data.removeprefix(_BOM)
    starts = [(match.start(), match.end()) for match in _FROM_LINE.finditer(data)]
    messages = []
    lead = data[: starts[0][0]] if starts else data
    if lead.strip():  # a message without its "From " line, counted whatever it is
        if _HEADER_LINE.match(lead.lstrip()):
            messages.append(_message(first, lead))
        first += 1
    if not starts:
        return messages
    ends = [start for start, _ in starts[1:]] + [len(data)]
    for number, ((_, begin), end) in enumerate(zip(starts, ends, strict=True), start=first):
        raw = data[begin:end]
        blank = _BLANK_LINE.search(raw)
        head = raw[: blank.start()] if blank else raw
        status = _MOZILLA_STATUS.search(head)
        if status is not None and int(status.group(1), 16) & _EXPUNGED:
            continue
        if _binned(head):
            continue
        messages.append(_message(number, _ESCAPED_FROM.sub(rb"\1", raw)))
    return messages


def appended_messages(data: bytes, indexed: int) -> list[MailboxMessage] | None:
    """The messages a mail client appended to a mailbox whose first ``indexed`` bytes are as
    they were, numbered on from those (Thunderbird writes new mail at a folder file's end);
    None where the bytes after them do not begin a message."""
    at = indexed
    while data[at : at + 1] in (b"\r", b"\n"):  # a blank line ends the message before
        at += 1
    if _FROM_LINE.match(data, at) is None:
        return None
    return read_mailbox(data[at:], first=_count(data[:indexed]) + 1)


def _count(data: bytes) -> int:
    """How many messages ``read_mailbox`` numbers in ``data`` (those it leaves out too)."""
    data = data.removeprefix(_BOM)
    starts = [match.start() for match in _FROM_LINE.finditer(data)]
    return len(starts) + bool(data[: starts[0]].strip() if starts else data.strip())


# Header lines a mail client rewrites in place as a message is read, flagged or tagged
# (Thunderbird's X-Mozilla-Status, -Status2 and -Keys; mutt's Status and X-Status).
_STATUS_LINE = re.compile(
    rb"^(?:X-Mozilla-Status2?|X-Mozilla-Keys|X-Status|Status):[^\r\n]*", re.MULTILINE | re.I
)


def as_hashed(data: bytes) -> bytes:
    """A mailbox's bytes as hashed to tell whether it changed: the status lines its messages'
    headers hold blanked, but for Thunderbird's deleted mark (``_EXPUNGED``), which leaves a
    message out. Reading a message rewrites its status in place: hashed as written, a 1 GiB
    Inbox was read whole again for each message read, and new mail never read alone."""
    if b"Status" not in data and b"X-Mozilla-Keys" not in data:
        return data
    hashed = bytearray(data)
    for message in _FROM_LINE.finditer(data):
        blank = _BLANK_LINE.search(data, message.end())
        end = blank.start() if blank else len(data)
        for line in _STATUS_LINE.finditer(data, message.end(), end):
            status = _MOZILLA_STATUS.match(line.group())
            expunged = status is not None and int(status.group(1), 16) & _EXPUNGED
            hashed[line.start() : line.end()] = (b"!" if expunged else b"#") * len(line.group())
    return bytes(hashed)


def _message(number: int, raw: bytes) -> MailboxMessage:
    try:
        subject, text = read_message(raw)
    except Exception:  # one damaged message, not the mailbox: its bytes as text
        logger.debug("reading message %d of a mailbox failed", number, exc_info=True)
        subject, text = "", raw.decode("utf-8", "replace")
    return MailboxMessage(number, subject, text)
