"""OpenDocument text (``.odt``, ``.ott``): headings, paragraphs, lists and tables of
``content.xml`` in reading order, each located under its heading path, wherever they lie (in
sections, numbered paragraphs, a table of contents' title, text boxes anchored to the page: a
box's text after the paragraph it is anchored in). Then, as for .docx, the page styles' headers
and footers and the footnotes, each distinct text once, in sections of those names. Page number
fields and tracked deletions are left out."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from searchapp.ingest.decoding import NotTextError
from searchapp.ingest.formats.builder import HeadingPath, TextBuilder, more_than_page_fields
from searchapp.ingest.formats.safe_zip import SafeZip
from searchapp.ingest.formats.spans import LocatedText

ODT_MIMETYPES = frozenset(
    {"application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.text-template"}
)
CELL_SEPARATOR = " | "
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
_PAGE_FIELDS = frozenset({f"{_TEXT}page-number", f"{_TEXT}page-count"})
_DRAW = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
_DRAWINGS = frozenset({f"{_DRAW}frame", f"{_DRAW}custom-shape", f"{_DRAW}rect", f"{_DRAW}g"})
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_ROW_GROUPS = frozenset(
    {f"{_TABLE}table-header-rows", f"{_TABLE}table-rows", f"{_TABLE}table-row-group"}
)
_SKIPPED = frozenset(
    {
        f"{_TEXT}note",  # read after the body (``_notes``)
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
    seen: set[str] = set()
    for section, container in [*_margins(archive), *(("footnotes", note) for note in _notes(body))]:
        for paragraph in _paragraphs(container):
            margin = section != "footnotes"
            text = _inline_text(paragraph, margin=margin).strip()
            # Each distinct text once, as in .docx; not "Page of", left by a footer's page
            # fields (a footnote's "Id. at 5." is one).
            if margin and not more_than_page_fields(text):
                continue
            if text and text not in seen:
                seen.add(text)
                builder.add(text, section=section)
    return builder.build(title=_title(archive))


def _paragraphs(container: Element) -> list[Element]:
    """The paragraphs and headings in ``container``, not those inside them (a text box's)."""
    found = []
    for child in container:
        if child.tag in (f"{_TEXT}p", f"{_TEXT}h"):
            found.append(child)
        else:
            found.extend(_paragraphs(child))
    return found


def _margins(archive: SafeZip) -> list[tuple[str, Element]]:
    """("header" or "footer", element) of each page style's headers and footers."""
    if not archive.has("styles.xml"):
        return []
    master = archive.read_xml("styles.xml").find(f"{_OFFICE}master-styles")
    if master is None:
        return []
    found = []
    for kind in ("header", "footer"):
        for page in master.findall(f"{_STYLE}master-page"):
            for variant in ("", "-left", "-first"):
                found.extend(
                    (kind, element) for element in page.findall(f"{_STYLE}{kind}{variant}")
                )
    return found


def _notes(body: Element) -> list[Element]:
    """The bodies of the footnotes and endnotes, in the order they are cited."""
    return list(body.iter(f"{_TEXT}note-body"))


def _walk(container: Element, builder: TextBuilder, headings: HeadingPath) -> None:
    for child in container:
        tag = child.tag
        if tag in (f"{_TEXT}h", f"{_TEXT}p"):
            boxes: list[str] = []
            text = _inline_text(child, boxes)
            if tag == f"{_TEXT}h":
                level = child.get(f"{_TEXT}outline-level", "1")
                headings.enter(int(level) if level.isdigit() and level != "0" else 1, text)
            builder.add(text, section=headings.section)
            for box in boxes:  # after the paragraph they are anchored in
                builder.add(box, section=headings.section)
        elif tag == f"{_TABLE}table":
            builder.add(_table_text(child), section=headings.section)
        elif tag not in _SKIPPED:  # sections, lists, indexes, frames and shapes on the page
            _walk(child, builder, headings)


def _inline_text(element: Element, boxes: list[str] | None = None, *, margin: bool = False) -> str:
    """The text of a paragraph; that of text boxes and shapes anchored in it goes to ``boxes``
    (a text box's words were glued to the paragraph's first word), or inline without it.
    ``margin``: a header's or footer's, without its page number fields."""
    parts: list[str] = []
    _collect(element, parts, boxes, margin)
    return "".join(parts)


def _collect(
    element: Element, parts: list[str], boxes: list[str] | None = None, margin: bool = False
) -> None:
    parts.append(element.text or "")
    for child in element:
        tag = child.tag
        if margin and tag in _PAGE_FIELDS:  # "Page 3 of 12": the values of the last save
            pass
        elif boxes is not None and tag in _DRAWINGS:
            box = _inline_text(child, boxes).strip()
            if box:
                boxes.append(box)
        elif tag == f"{_TEXT}s":
            count = child.get(f"{_TEXT}c", "1")
            parts.append(" " * min(int(count) if count.isdigit() else 1, 100))
        elif tag == f"{_TEXT}tab":
            parts.append("\t")
        elif tag in (f"{_TEXT}line-break", f"{_TEXT}p", f"{_TEXT}h"):  # a block in a cell
            parts.append("\n")
            if tag != f"{_TEXT}line-break":
                _collect(child, parts, boxes, margin)
        elif tag not in _SKIPPED:
            _collect(child, parts, boxes, margin)
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
