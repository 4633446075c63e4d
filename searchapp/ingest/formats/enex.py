"""Evernote exports (``.enex``): each note a document of its file, as a mailbox's messages are.

An export is XML: every note of a notebook, its body as ENML (XHTML in a CDATA section) and the
files it holds as base64. Read as text, a notebook of two notes and a PNG gave 1,450 passages
of base64, hits printed `<en-note><div>`, the PDF a note held was never read, and one with a
video (54 MB) was skipped whole for its size (a product manager's trial). Read here: each note
by its title, its tags and dates, then its text as a reader sees it (checklists as ``[x]``
and ``[ ]``), then each file it holds by its name and, where it has text (a PDF, a Word file),
under a section named for it (``attached.attached_text``). Images, sound and video are named,
never decoded.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from dataclasses import dataclass

from searchapp.ingest.formats.attached import (
    ATTACHED_KINDS,
    MAX_ATTACHED_BYTES,
    attached_text,
    joined,
)
from searchapp.ingest.formats.html import html_to_text
from searchapp.ingest.formats.spans import Span

ENEX_SUFFIX = ".enex"
HEAD_BYTES = 2048  # an export's start, where its <en-export> element opens
_EXPORT = re.compile(rb"<en-export[\s>]")
_TODO = re.compile(r"<en-todo\b([^>]*)/?>(?:\s*</en-todo>)?", re.IGNORECASE)
_CHECKED = re.compile(r"""checked\s*=\s*["']true["']""", re.IGNORECASE)
_DATE = re.compile(r"(\d{4})(\d\d)(\d\d)T")  # 20230314T091500Z


@dataclass(frozen=True)
class Note:
    """One note of an export: its number there (from 1), title, text and the sections of the
    files it holds."""

    number: int
    title: str
    text: str
    spans: tuple[Span, ...] = ()


def is_enex(data: bytes, suffix: str) -> bool:
    """Whether ``data`` (a file's bytes, or its start) is an Evernote export: named ``.enex``,
    or XML whose root is ``<en-export>``."""
    return suffix == ENEX_SUFFIX or bool(_EXPORT.search(data[:HEAD_BYTES]))


def read_notes(data: bytes) -> list[Note]:
    """The notes of the export ``data``, in order.

    Read by their elements, not by an XML parser: exports are flat (a note's title, content,
    dates, tags, attributes, then its files), and tools other than Evernote write them with a
    bare "&" in a title, which an XML parser refuses, losing the notebook; a copy cut short
    keeps its whole notes."""
    notes, at = [], 0
    while (start := data.find(b"<note>", at)) >= 0:
        end = data.find(b"</note>", start)
        if end < 0:
            break
        notes.append(_note(len(notes) + 1, data[start + 6 : end].decode("utf-8", "replace")))
        at = end + 7
    return notes


def _note(number: int, note: str) -> Note:
    content = _element(note, "content")
    fields = _CONTENT.sub("", note.split("<resource>", 1)[0])  # its title, dates, tags
    title = " ".join(_element(fields, "title").split())
    lines = [title] if title else []
    if tags := [tag for tag in (" ".join(t.split()) for t in _elements(fields, "tag")) if tag]:
        lines.append("Tags: " + ", ".join(tags))
    dates = [
        f"{name}: {day}"
        for name in ("Created", "Updated")
        if (day := _day(_element(fields, name.lower())))
    ]
    if dates:
        lines.append(" · ".join(dates))
    for name, key in (("Author", "author"), ("Source", "source-url")):
        if value := " ".join(_element(fields, key).split()):
            lines.append(f"{name}: {value}")
    pieces: list[tuple[str | None, str]] = [(None, "\n".join(lines)), (None, _body(content))]
    budget = [MAX_ATTACHED_BYTES]
    for resource in note.split("<resource>")[1:]:
        name, text = _resource(resource, budget)
        pieces.append(
            (name, f"Attachment: {name}\n{text}") if text else (None, f"Attachment: {name}")
        )
    text, spans = joined(pieces)
    return Note(number, title, text + "\n", spans)


_CONTENT = re.compile(r"<content>.*?</content>", re.DOTALL)
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)


def _elements(text: str, name: str) -> list[str]:
    """The text of each element ``name`` in ``text``: a CDATA section's as it is, else with its
    entities read (``&amp;``)."""
    found = re.findall(rf"<{name}(?:\s[^>]*)?>(.*?)</{name}>", text, re.DOTALL)
    return [
        "".join(_CDATA.findall(value)) if "<![CDATA[" in value else html.unescape(value)
        for value in found
    ]


def _element(text: str, name: str) -> str:
    """The text of the first element ``name`` in ``text`` (``_elements``), "" where none."""
    values = _elements(text, name)
    return values[0] if values else ""


def _day(value: str) -> str:
    """An export's time stamp (``20230314T091500Z``) as its day, ``2023-03-14``; "" for another."""
    match = _DATE.match(value.strip())
    return "-".join(match.groups()) if match else ""


def _body(content: str) -> str:
    """A note's ENML as a reader sees it: a checklist's boxes as ``[x]`` and ``[ ]``."""
    marked = _TODO.sub(lambda m: "[x] " if _CHECKED.search(m.group(1)) else "[ ] ", content)
    return html_to_text(marked)[1].strip()


def _resource(resource: str, budget: list[int]) -> tuple[str, str]:
    """A file a note holds (``resource``: its element's inside): its name (else its type's)
    and its text where it is a document or text (else "", its bytes not decoded)."""
    resource = resource.split("</resource>", 1)[0]
    mime = _element(resource, "mime").strip().lower()
    name = " ".join(_element(resource, "file-name").split()) or _unnamed(mime)
    if mime.split("/")[0] not in ATTACHED_KINDS:
        return name, ""
    data = re.search(r"<data(?:\s[^>]*)?>(.*?)</data>", resource, re.DOTALL)
    encoded = data.group(1) if data else ""
    if len(encoded) * 3 // 4 > budget[0] + 4096:  # too large to read: not decoded first
        return name, ""
    try:
        payload = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        return name, ""
    return name, attached_text(name, payload, budget)


_UNNAMED = {"application/pdf": "untitled.pdf", "text/plain": "untitled.txt"}


def _unnamed(mime: str) -> str:
    """The name a file of the type ``mime`` is shown by where its note gives it none."""
    if mime in _UNNAMED:
        return _UNNAMED[mime]
    kind = mime.split("/")[0]
    return f"untitled {kind}" if kind else "untitled file"
