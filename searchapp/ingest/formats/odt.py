"""OpenDocument text (``.odt``, ``.ott``): headings, paragraphs, lists and tables of
``content.xml`` in reading order, each located under its heading path, wherever they lie (in
sections, numbered paragraphs, a table of contents' title, text boxes anchored to the page).
Notes (footnotes) and tracked deletions are left out."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from searchapp.ingest.decoding import NotTextError
from searchapp.ingest.formats.builder import HeadingPath, TextBuilder
from searchapp.ingest.formats.safe_zip import SafeZip
from searchapp.ingest.formats.spans import LocatedText

ODT_MIMETYPES = frozenset(
    {"application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.text-template"}
)
CELL_SEPARATOR = " | "
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_ROW_GROUPS = frozenset(
    {f"{_TABLE}table-header-rows", f"{_TABLE}table-rows", f"{_TABLE}table-row-group"}
)
_SKIPPED = frozenset(
    {
        f"{_TEXT}note",
        f"{_TEXT}tracked-changes",
        f"{_TEXT}sequence-decls",
        f"{_TEXT}variable-decls",
        f"{_TEXT}user-field-decls",
        f"{_OFFICE}forms",
        f"{_OFFICE}annotation",
    }
)


def extract_odt(archive: SafeZip) -> LocatedText:
    """The text of an OpenDocument text file."""
    body = archive.read_xml("content.xml").find(f"{_OFFICE}body/{_OFFICE}text")
    if body is None:
        raise NotTextError("damaged OpenDocument file: content.xml has no text body; re-save it")
    builder = TextBuilder()
    headings = HeadingPath()
    _walk(body, builder, headings)
    return builder.build(title=_title(archive))


def _walk(container: Element, builder: TextBuilder, headings: HeadingPath) -> None:
    for child in container:
        tag = child.tag
        if tag == f"{_TEXT}h":
            text = _inline_text(child)
            level = child.get(f"{_TEXT}outline-level", "1")
            headings.enter(int(level) if level.isdigit() and level != "0" else 1, text)
            builder.add(text, section=headings.section)
        elif tag == f"{_TEXT}p":
            builder.add(_inline_text(child), section=headings.section)
        elif tag == f"{_TABLE}table":
            builder.add(_table_text(child), section=headings.section)
        elif tag not in _SKIPPED:  # sections, lists, indexes, frames and shapes on the page
            _walk(child, builder, headings)


def _inline_text(element: Element) -> str:
    parts: list[str] = []
    _collect(element, parts)
    return "".join(parts)


def _collect(element: Element, parts: list[str]) -> None:
    parts.append(element.text or "")
    for child in element:
        tag = child.tag
        if tag == f"{_TEXT}s":
            count = child.get(f"{_TEXT}c", "1")
            parts.append(" " * min(int(count) if count.isdigit() else 1, 100))
        elif tag == f"{_TEXT}tab":
            parts.append("\t")
        elif tag in (f"{_TEXT}line-break", f"{_TEXT}p", f"{_TEXT}h"):  # a block in a cell
            parts.append("\n")
            if tag != f"{_TEXT}line-break":
                _collect(child, parts)
        elif tag not in _SKIPPED:
            _collect(child, parts)
        parts.append(child.tail or "")


def _table_text(table: Element) -> str:
    rows = []
    for row in _rows(table):
        cells = [
            " ".join(_inline_text(cell).split()) for cell in row.findall(f"{_TABLE}table-cell")
        ]
        if any(cells):
            rows.append(CELL_SEPARATOR.join(cells))
    return "\n".join(rows)


def _rows(container: Element) -> list[Element]:
    """The rows of a table (not of tables nested in its cells), through row groups."""
    rows = []
    for child in container:
        if child.tag == f"{_TABLE}table-row":
            rows.append(child)
        elif child.tag in _ROW_GROUPS:
            rows.extend(_rows(child))
    return rows


def _title(archive: SafeZip) -> str:
    if not archive.has("meta.xml"):
        return ""
    element = archive.read_xml("meta.xml").find(f"{_OFFICE}meta/{_DC_TITLE}")
    return " ".join((element.text or "").split()) if element is not None else ""
