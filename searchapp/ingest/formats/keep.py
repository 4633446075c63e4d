"""Google Keep notes as Google Takeout exports them: a ``.json`` and an ``.html`` a note.

Read as they were, each note was found twice (its JSON and its HTML, ranks 1 and 2), the JSON's
passages held ``"isPinned": false`` and ``textContentHtml``'s markup, and a note in Keep's
trash ("Old wifi", a password) ranked second (a product manager's trial). Read here: the JSON,
as the note's title, labels, day last edited, whether it is pinned or archived and the files
it holds, then its text or its checklist (``[x]`` and
``[ ]``) and the links it holds; a note in the trash is not indexed, and the HTML beside a
note's JSON is left to it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from searchapp.ingest.decoding import NotTextError
from searchapp.ingest.formats.spans import LocatedText

_KEYS = ('"textContent"', '"listContent"')  # what a Keep note's JSON holds, one or the other


def might_be_keep_note(text: str, path: Path) -> bool:
    """Whether ``text`` (the file ``path``'s) may be a Keep note's JSON, by a quick look."""
    return (
        path.suffix.lower() == ".json" and '"isTrashed"' in text and any(k in text for k in _KEYS)
    )


def extract_keep(text: str, path: Path) -> LocatedText | None:
    """The text of a Keep note's JSON (the file ``path``'s); None where ``text`` is none;
    ``NotTextError`` for a note in the trash."""
    try:
        note = json.loads(text)
    except ValueError:
        return None
    if not isinstance(note, dict) or not ("textContent" in note or "listContent" in note):
        return None
    if note.get("isTrashed") is True:
        raise NotTextError("a note in Google Keep's trash", path)
    title = _text(note.get("title"))
    lines = [title] if title else []
    labels = [
        _text(label.get("name")) for label in _list(note, "labels") if isinstance(label, dict)
    ]
    if labels := [label for label in labels if label]:
        lines.append("Labels: " + ", ".join(labels))
    if edited := _day(note.get("userEditedTimestampUsec")):
        lines.append(f"Edited: {edited}")
    if kept := [name for key, name in _STATES if note.get(key) is True]:
        lines.append(" · ".join(kept))  # "Pinned", "Archived": as Keep shows them
    for attachment in _list(note, "attachments"):  # an image or a recording, by its file
        if isinstance(attachment, dict) and (name := _text(attachment.get("filePath"))):
            lines.append(f"Attachment: {name}")
    body = [_text(note.get("textContent"), keep_lines=True)]
    body += [
        f"[{'x' if item.get('isChecked') else ' '}] {_text(item.get('text'))}"
        for item in _list(note, "listContent")
        if isinstance(item, dict) and _text(item.get("text"))
    ]
    for link in _list(note, "annotations"):
        if isinstance(link, dict) and (url := _text(link.get("url"))):
            named = _text(link.get("title"))
            body.append(f"{named} ({url})" if named else url)
    text = "\n".join(lines)
    if content := "\n".join(line for line in body if line):
        text = f"{text}\n\n{content}" if text else content
    return LocatedText(title, text + "\n")


def is_keep_html_copy(text: str, path: Path) -> bool:
    """Whether ``path`` is the HTML Takeout writes beside a Keep note's JSON (the note read from
    that)."""
    if path.suffix.lower() != ".html" or '<div class="note' not in text:  # after its <style>
        return False
    twin = path.with_suffix(".json")
    try:
        return twin.is_file() and might_be_keep_note(twin.read_text("utf-8", "replace"), twin)
    except OSError:
        return False


_STATES = (("isPinned", "Pinned"), ("isArchived", "Archived"))


def _list(note: dict[str, Any], key: str) -> list[Any]:
    value = note.get(key)
    return value if isinstance(value, list) else []


def _text(value: Any, *, keep_lines: bool = False) -> str:
    if not isinstance(value, str):
        return ""
    return value.strip() if keep_lines else " ".join(value.split())


def _day(microseconds: Any) -> str:
    """A Keep time stamp (microseconds since 1970) as its local day, ``2023-11-03``."""
    try:
        return datetime.fromtimestamp(int(microseconds) / 1e6).strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""
