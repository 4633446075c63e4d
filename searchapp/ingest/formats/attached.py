"""Files attached to a message or a note: their text, read as the file itself would be.

An invoice is the PDF attached, not the mail saying so; a contract kept in Evernote is the PDF
its note holds. Read here for both (``formats.eml``, ``formats.enex``): a document's or a text
file's text, not an image's, a sound's, a video's or a font's, nor what a secrets file holds.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path, PurePosixPath

from searchapp.ingest.formats.spans import Span
from searchapp.ingest.marks import without_marks

logger = logging.getLogger(__name__)

MAX_ATTACHED_BYTES = 50 * 1024 * 1024  # of a message's or note's attachments, files and texts
MAX_NESTED_MESSAGES = 8  # messages forwarded inside messages: past this, a hostile file
ATTACHED_KINDS = frozenset({"application", "text"})  # the MIME types read; others named only
_reading = threading.local()  # an attachment's own attachments are named, not read


def file_name(name: str) -> str:
    """The file name of an attachment's name as a sender's client wrote it (a Windows path's
    last part)."""
    return PurePosixPath(name.replace("\\", "/")).name


def attached_text(name: str, payload: bytes, budget: list[int]) -> str:
    """The text of the file ``name`` attached (``payload``, its bytes), read as the file would
    be (``decoding.load_documents``); "" where it has none (an image, an encrypted PDF, a
    binary file), is a secrets file by its name (``prod.env``, ``id_rsa``: left out of a walk,
    and of mail too), is attached to an attached file (a message in a mailbox in a message: one
    level is read), or reads as generated (a one-line JSON invoice: it made the whole message
    be skipped so). ``budget``: the bytes a message's or note's attachments may still take,
    their files' and their texts' (``MAX_ATTACHED_BYTES``; a 3 MB message of gzipped
    attachments unpacked to 800 MB of text), spent here."""
    from searchapp.ingest.decoding import NotTextError, load_documents, looks_generated
    from searchapp.ingest.discovery import is_secret_name

    named = file_name(name)
    if not named or is_secret_name(named) or getattr(_reading, "active", False):
        return ""
    limit = budget[0]
    if not payload.strip() or len(payload) > limit:
        return ""
    _reading.active = True
    try:  # a gzip file unpacked within the budget too
        documents = load_documents(Path(named), data=payload, max_bytes=limit)
    except NotTextError:
        documents = []
    except Exception:  # a damaged file: its name, not the message, is lost
        logger.debug("reading the attachment %r failed", name, exc_info=True)
        documents = []
    finally:
        _reading.active = False
    text = "\n\n".join(text for document in documents if (text := document.text.strip()))
    budget[0] -= min(limit, len(payload) + len(text))
    if looks_generated(text) or len(payload) + len(text) > limit:
        return ""
    return text


def is_reading() -> bool:
    """Whether an attachment is being read (its own attachments are named, not read)."""
    return bool(getattr(_reading, "active", False))


def attachment_piece(name: str, text: str) -> tuple[str | None, str]:
    """A file attached as a piece of its message's or note's text (``joined``'s): its name,
    then its text under a section named for it; its name alone where it has none."""
    return (name, f"Attachment: {name}\n{text}") if text else (None, f"Attachment: {name}")


def joined(pieces: list[tuple[str | None, str]]) -> tuple[str, tuple[Span, ...]]:
    """A message's or note's pieces of text (each with the name of the attached file it is
    the text of, else None) as one text, a blank line between two, and the sections where
    an attached file's text starts and where what follows it does; empty pieces left out."""
    text, spans, section = "", [], None
    for named, piece in pieces:
        if not (piece := without_marks(piece).strip()):
            continue
        text += "\n\n" if text else ""
        if named != section:  # an attachment's text, or what follows it
            spans.append(Span(len(text), section=named))
            section = named
        text += piece
    return text, tuple(spans)
