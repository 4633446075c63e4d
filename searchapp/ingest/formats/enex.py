"""Evernote exports (``.enex``): each note a document of its file, as a mailbox's messages are.

An export is XML: every note of a notebook, its body as ENML (XHTML in a CDATA section) and the
files it holds as base64. Read as text, a notebook of two notes and a PNG gave 1,450 passages
of base64, hits printed `<en-note><div>`, the PDF a note held was never read, and one with a
video (54 MB) was skipped whole for its size (a product manager's trial). Read here: each note
by its title, its tags and dates, then its text as a reader sees it (checklists as ``[x]``
and ``[ ]``), its tasks so, then each file it holds by its name and, where it has text (a PDF,
a Word file), under a section named for it (``attached.attached_text``). Images, sound and
video are named, never decoded.
"""

from __future__ import annotations

import binascii
import html
import re
from dataclasses import dataclass

from searchapp.ingest.formats.attached import (
    ATTACHED_KINDS,
    MAX_ATTACHED_BYTES,
    attached_text,
    attachment_piece,
    joined,
)
from searchapp.ingest.formats.html import html_to_text
from searchapp.ingest.formats.spans import Span

ENEX_SUFFIX = ".enex"
HEAD_BYTES = 4096  # an export's start: a byte-order mark, its XML declaration and DOCTYPE
# The root element of an export, after what may come before it (a file merely quoting
# `<en-export>`, a how-to, lost its text to a reader taking it for one).
_EXPORT_ROOT = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]{0,200}\?>\s*)?(?:<!--(?:(?!-->).){0,500}-->\s*)*"
    rb"(?:<!DOCTYPE[^>]{0,500}>\s*)?<en-export[\s>]",
    re.DOTALL,
)
_NOTE_START = re.compile(rb"<note[\s>]")
_TODO = re.compile(r"<en-todo\b([^<>]{0,200})/?>(?:\s*</en-todo>)?", re.IGNORECASE)
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
    """Whether ``data`` (a file's bytes, or its start) is an Evernote export: named ``.enex``
    and XML whose root is ``<en-export>``."""
    return suffix == ENEX_SUFFIX and bool(_EXPORT_ROOT.match(data[:HEAD_BYTES]))


def read_notes(data: bytes) -> list[Note]:
    """The notes of the export ``data``, in order.

    Read by their elements, not by an XML parser: exports are flat (a note's title, content,
    dates, tags, attributes, then its files), and tools other than Evernote write them with a
    bare "&" in a title, which an XML parser refuses, losing the notebook; a copy cut short
    keeps its whole notes. Each element is found once, from where the one before ends (a
    pattern tried at each of 20,000 unclosed tags took 10 s), and only a note's head and its
    files' names are decoded: the base64 of what it holds is read as bytes, and only for a
    document or text."""
    notes, at = [], 0
    while match := _NOTE_START.search(data, at):
        start = data.find(b">", match.start()) + 1
        end = data.find(b"</note>", start)
        if end < 0:
            break
        notes.append(_note(len(notes) + 1, data, start, end))
        at = end + len(b"</note>")
    return notes


def _note(number: int, data: bytes, start: int, end: int) -> Note:
    first = _tag(data, b"resource", start, end)
    head = data[start : first if first >= 0 else end].decode("utf-8", "replace")
    content, fields = _split_content(head)
    tasks = _tasks(data, start, end)
    if tasks:  # their titles, dates and statuses are not the note's
        fields = _without(fields, "task")
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
    pieces.append((None, "\n".join(tasks)))
    budget = [MAX_ATTACHED_BYTES]
    while first >= 0:
        close = data.find(b"</resource>", first, end)
        close = end if close < 0 else close
        name, text = _resource(data, first, close, budget)
        pieces.append(attachment_piece(name, text))
        first = _tag(data, b"resource", close, end)
    text, spans = joined(pieces)
    return Note(number, title, text + "\n", spans)


def _tasks(data: bytes, start: int, end: int) -> list[str]:
    """A note's tasks (Evernote 10's, ``<task>`` elements beside its content) as lines:
    ``[ ] Send Jordan the deck (due 2023-12-12)``, ``[x]`` once completed."""
    lines = []
    while (at := _tag(data, b"task", start, end)) >= 0:
        close = data.find(b"</task>", at, end)
        if close < 0:
            break
        task = data[at:close].decode("utf-8", "replace")
        title = " ".join(_element(task, "title").split())
        if title:
            done = _element(task, "taskStatus").strip().lower() == "completed"
            due = _day(_element(task, "dueDate"))
            lines.append(f"[{'x' if done else ' '}] {title}" + (f" (due {due})" if due else ""))
        start = close + len(b"</task>")
    return lines


def _tag(data: bytes | str, name: bytes | str, start: int, end: int) -> int:
    """Where the first element ``name`` opens in ``data[start:end]`` (not one whose name only
    begins so: `<resource-attributes>`), -1 where none does."""
    opening = b"<" + name if isinstance(name, bytes) else "<" + name
    while (at := data.find(opening, start, end)) >= 0:  # type: ignore[arg-type]
        after = data[at + len(opening) : at + len(opening) + 1]
        if after in (b">", b" ", b"\t", b"\n", b"\r", b"/", ">", " ", "\t", "\n", "\r", "/"):
            return at
        start = at + len(opening)
    return -1


def _split_content(head: str) -> tuple[str, str]:
    """A note's head as its ENML (``<content>``'s text) and the rest (title, dates, tags)."""
    at = _tag(head, "content", 0, len(head))
    if at < 0:
        return "", head
    close = head.find("</content>", at)
    if close < 0:
        return "", head[:at]
    return _value(head[head.find(">", at) + 1 : close]), head[:at] + head[close + 10 :]


def _elements(text: str, name: str) -> list[str]:
    """The text of each element ``name`` in ``text`` (``_value``)."""
    values, at, closing = [], 0, f"</{name}>"
    while (start := _tag(text, name, at, len(text))) >= 0:
        inner = text.find(">", start) + 1
        close = text.find(closing, inner)
        if not inner or close < 0:
            break
        values.append(_value(text[inner:close]))
        at = close + len(closing)
    return values


def _element(text: str, name: str) -> str:
    """The text of the first element ``name`` in ``text`` (``_elements``), "" where none."""
    values = _elements(text, name)
    return values[0] if values else ""


def _value(inner: str) -> str:
    """An element's text: its CDATA sections' as they are, else with its entities read."""
    if "<![CDATA[" not in inner:
        return html.unescape(inner)
    parts, at = [], 0
    while (start := inner.find("<![CDATA[", at)) >= 0:
        close = inner.find("]]>", start + 9)
        if close < 0:
            break
        parts.append(inner[start + 9 : close])
        at = close + 3
    return "".join(parts)


def _day(value: str) -> str:
    """An export's time stamp (``20230314T091500Z``) as its day, ``2023-03-14``; "" for another."""
    match = _DATE.match(value.strip())
    return "-".join(match.groups()) if match else ""


def _body(content: str) -> str:
    """A note's ENML as a reader sees it: a checklist's boxes as ``[x]`` and ``[ ]``, an
    encrypted part as ``[encrypted]`` (its ciphertext is no text of the note)."""
    content = _without_encrypted(content)
    marked = _TODO.sub(lambda m: "[x] " if _CHECKED.search(m.group(1)) else "[ ] ", content)
    return html_to_text(marked)[1].strip()


def _without_encrypted(content: str) -> str:
    return _without(content, "en-crypt", " [encrypted] ")


def _without(text: str, name: str, instead: str = "") -> str:
    """``text`` with each element ``name`` (to its end, or the text's) replaced by
    ``instead``."""
    kept, at, closing = [], 0, f"</{name}>"
    while (start := _tag(text, name, at, len(text))) >= 0:
        close = text.find(closing, start)
        kept.append(text[at:start] + instead)
        at = len(text) if close < 0 else close + len(closing)
    return "".join(kept) + text[at:]


def _resource(data: bytes, start: int, end: int, budget: list[int]) -> tuple[str, str]:
    """A file a note holds (``data[start:end]``, its element): its name (else its type's) and
    its text where it is a document or text, or has no type (else "", its bytes not
    decoded)."""
    opened = _tag(data, b"data", start, end)
    inner = data.find(b">", opened, end) + 1 if opened >= 0 else 0
    close = data.find(b"</data>", inner, end) if inner else -1
    if close < 0:
        meta, encoded = data[start:end], memoryview(b"")
    else:
        meta, encoded = data[start:opened] + data[close:end], memoryview(data)[inner:close]
    described = meta.decode("utf-8", "replace")
    mime = _element(described, "mime").strip().lower()
    name = " ".join(_element(described, "file-name").split()) or _unnamed(mime)
    if mime and mime.split("/")[0] not in ATTACHED_KINDS:
        return name, ""
    if len(encoded) * 3 // 4 > budget[0] + 4096:  # too large to read: not decoded first
        return name, ""
    try:
        payload = binascii.a2b_base64(encoded)  # line breaks and blanks skipped
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
