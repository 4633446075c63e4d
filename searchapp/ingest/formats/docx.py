"""Word documents (``.docx``, ``.docm``, ``.dotx``): paragraphs, headings and tables in reading
order, each located under its heading path (``"Install > Linux"``).

The WordprocessingML is read with ``zipfile`` and ``xml.etree`` (python-docx would add lxml and
still need this walk for tables and content controls in reading order). A heading is a paragraph
with an outline level, its own or its style's (inherited through ``basedOn``), or whose style is
named ``heading N`` (or, where the styles part lacks the style, has Word's id ``HeadingN``); a
paragraph in the ``Title`` style gives the title when the core properties
have none. Table rows become lines with cells separated by `` | ``. Deleted text (tracked
changes), field codes and the fallback copies of drawings are left out; headers, footers and
footnotes are read after the body, each distinct text once, in sections of those names;
comments are not read.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Iterator
from xml.etree.ElementTree import Element

from searchapp.ingest.decoding import NotTextError
from searchapp.ingest.formats.builder import HeadingPath, TextBuilder, more_than_page_fields
from searchapp.ingest.formats.docx_numbering import ListNumbers, list_numbers
from searchapp.ingest.formats.ooxml import (
    MC_FALLBACK,
    core_title,
    namespace,
    paragraph_styles,
    relationships,
)
from searchapp.ingest.formats.safe_zip import SafeZip
from searchapp.ingest.formats.spans import LocatedText

CELL_SEPARATOR = " | "
BODY, TITLE = 0, -1  # paragraph levels besides headings 1-9; TITLE: the Title style
_HEADING_NAME = re.compile(r"heading\s*([1-9])", re.IGNORECASE)
_OUTLINE_VALUES = frozenset(str(n) for n in range(9))  # 0-8; 9 means body text


def extract_docx(archive: SafeZip, main_part: str) -> LocatedText:
    """The text of a Word document whose main part is ``main_part`` (``word/document.xml``)."""
    root = archive.read_xml(main_part)
    w = namespace(root)
    body = root.find(f"{w}body")
    if body is None:
        raise NotTextError(f"damaged Word document: {main_part!r} has no body; re-save it")
    styles = _heading_styles(archive, main_part, w)
    numbers = list_numbers(archive, main_part, w)
    builder = TextBuilder()
    headings = HeadingPath()
    title = core_title(archive)
    for block in _blocks(body, w):
        if block.tag == f"{w}tbl":
            builder.add(_table_text(block, w, numbers), section=headings.section)
            continue
        text = _paragraph_text(block, w)
        label = numbers.label(block)  # counted even where the paragraph is empty, as Word does
        if label and text.strip():
            text = f"{label} {text.lstrip()}"
        level = _paragraph_level(block, w, styles)
        if level == TITLE:
            title = title or " ".join(text.split())
        elif level != BODY:
            headings.enter(level, text)
        builder.add(text, section=headings.section)
    for section, text in _margins(archive, main_part, w):
        builder.add(text, section=section)
    return builder.build(title=title)


# Parts beside the body whose text is read after it, each a section of its own: a name or a
# date written only in a header, or a source only in a footnote, was found by no query.
_MARGIN_SECTIONS = {"header": "header", "footer": "footer", "footnotes": "footnotes"}


def _margins(archive: SafeZip, main_part: str, w: str) -> Iterator[tuple[str, str]]:
    """(section, text) of the headers, footers and footnotes, each distinct text once (a
    header is often repeated for the first, even and odd pages)."""
    targets = relationships(archive, main_part).values()
    seen: set[str] = set()
    kinds = list(_MARGIN_SECTIONS)
    margins = sorted((kinds.index(kind), target, kind) for kind, target in targets if kind in kinds)
    for _, target, kind in margins:
        if not archive.has(target):
            continue
        root = archive.read_xml(target)
        containers = [root]
        if kind == "footnotes":  # each a w:footnote; the separator lines are not text
            containers = [
                note
                for note in root.iter(f"{w}footnote")
                if note.get(f"{w}type") not in ("separator", "continuationSeparator")
            ]
        margin = kind != "footnotes"
        for container in containers:
            for block in _blocks(container, w):
                tag = block.tag == f"{w}tbl"
                text = (
                    _table_text(block, w) if tag else _paragraph_text(block, w, margin=margin)
                ).strip()
                # Not "Page of", what a footer's page fields leave (a footnote's "Id. at 5."
                # is text).
                if margin and not more_than_page_fields(text):
                    continue
                if text and text not in seen:
                    seen.add(text)
                    yield _MARGIN_SECTIONS[kind], text


def _blocks(container: Element, w: str) -> Iterator[Element]:
    """Paragraphs and tables of a body or cell in reading order, through content controls."""
    for child in container:
        if child.tag in (f"{w}p", f"{w}tbl"):
            yield child
        elif child.tag in (f"{w}sdt", f"{w}sdtContent", f"{w}customXml", f"{w}ins"):
            yield from _blocks(child, w)


def _paragraph_text(paragraph: Element, w: str, *, margin: bool = False) -> str:
    """A paragraph's text; ``margin``: a header's or footer's, without its page numbers nor
    the words left around them ("Northwind MSA Page of" was a passage, the first hit for
    "Northwind": a paralegal's trial)."""
    parts: list[str] = []
    _collect_text(paragraph, w, parts, [] if margin else None)
    text = "".join(parts)
    if margin:
        whole: list[str] = []
        _collect_text(paragraph, w, whole, None)
        if "".join(whole) != text:  # a page number field was left out
            text = _PAGE_WORDS.sub("", text).strip(" \t")
    return text


# What a footer's "Page {PAGE} of {NUMPAGES}" leaves once its fields are out: "Page of",
# "Seite von", "Page" alone, at the end of its line or at its start.
_PAGE_WORD = r"\b(?:page|seite|p[aá]gina)\b"
_PAGE_WORDS = re.compile(
    rf"(?im){_PAGE_WORD}[ \t]*(?:(?:of|von|de|di|/)[ \t]*)?$"
    rf"|^[ \t]*{_PAGE_WORD}[ \t]+(?:of|von|de|di)\b"
)


# Fields whose result is a page number or count: a footer's "Page 6 of 6" as last saved.
_PAGE_FIELDS = frozenset({"PAGE", "NUMPAGES", "SECTIONPAGES", "PAGEREF"})


def _collect_text(
    element: Element, w: str, parts: list[str], fields: list[list[str]] | None
) -> None:
    """``fields`` (in a margin; else None): the complex fields open (``w:fldChar`` begin ..
    end), each [instruction, phase]: a page number field's result is left out."""
    for child in element:
        tag = child.tag
        if tag == f"{w}r" and _hidden(child, w):
            continue
        if tag == f"{w}fldChar" and fields is not None:
            kind = child.get(f"{w}fldCharType")
            if kind == "begin":
                fields.append(["", "code"])
            elif kind == "separate" and fields:
                fields[-1][1] = "result"
            elif kind == "end" and fields:
                fields.pop()
        elif tag == f"{w}instrText" and fields:  # (None or empty: false)
            fields[-1][0] += child.text or ""
        elif (
            tag == f"{w}fldSimple"
            and fields is not None
            and _page_field(child.get(f"{w}instr", ""))
        ):
            continue
        elif tag == f"{w}t":
            if not any(phase == "result" and _page_field(code) for code, phase in fields or ()):
                parts.append(child.text or "")
        elif tag in (f"{w}tab", f"{w}ptab"):  # ptab: aligned to a margin ("Invoice⇥Total")
            parts.append("\t")
        elif tag in (f"{w}br", f"{w}cr"):
            parts.append("\n")
        elif tag == f"{w}noBreakHyphen":
            parts.append("-")
        elif tag == f"{w}p":  # a paragraph in a text box inside this one: a line of its own
            if parts and not parts[-1].endswith("\n"):
                parts.append("\n")
            _collect_text(child, w, parts, None if fields is None else [])
            parts.append("\n")  # the text after the box is not glued to its last word
        elif tag not in _skipped_tags(w):
            _collect_text(child, w, parts, fields)


def _page_field(instruction: str) -> bool:
    words = instruction.split()
    return bool(words) and words[0].upper() in _PAGE_FIELDS


def _hidden(run: Element, w: str) -> bool:
    """Whether a run is hidden text (``w:vanish``: Word shows it only with formatting marks on,
    and never prints it; an answer key, a note to self), which was indexed as the rest."""
    properties = run.find(f"{w}rPr")
    vanish = properties.find(f"{w}vanish") if properties is not None else None
    return vanish is not None and vanish.get(f"{w}val", "true") not in ("0", "false", "off")


@functools.cache
def _skipped_tags(w: str) -> frozenset[str]:
    """Properties, deleted or moved-away text (tracked changes), field codes, the fallback
    copy of content that a newer element also holds, and ruby text (the reading set above a
    word: 東京, not とうきょう東京)."""
    return frozenset(
        (f"{w}pPr", f"{w}rPr", f"{w}del", f"{w}moveFrom", f"{w}instrText", MC_FALLBACK, f"{w}rt")
    )


def _table_text(table: Element, w: str, numbers: ListNumbers | None = None) -> str:
    """A table's rows, a line each, its cells joined by ``CELL_SEPARATOR``; a cell merged with
    the one above (``w:vMerge``) reads as that one (a fee schedule's "| Data room review |
    $3,500" lost its "Phase 1": a paralegal's trial)."""
    rows = []
    above: dict[int, str] = {}  # the text of each grid column's merged cell, by its column
    for row in _rows(table, w):
        cells = []
        column = 0
        for cell in row.findall(f"{w}tc"):
            properties = cell.find(f"{w}tcPr")
            merge = properties.find(f"{w}vMerge") if properties is not None else None
            span = properties.find(f"{w}gridSpan") if properties is not None else None
            text = _cell_text(cell, w, numbers)
            if merge is not None and merge.get(f"{w}val", "continue") == "continue":
                text = above.get(column, text)
            elif merge is not None:  # "restart": the first of the merged cells
                above[column] = text
            cells.append(text)
            width = span.get(f"{w}val", "1") if span is not None else "1"
            column += int(width) if width.isdigit() and int(width) > 0 else 1
        if any(cells):
            rows.append(CELL_SEPARATOR.join(cells))
    return "\n".join(rows)


def _rows(container: Element, w: str) -> Iterator[Element]:
    """The rows of a table (not of tables nested in its cells), through content controls."""
    for child in container:
        if child.tag == f"{w}tr":
            yield child
        elif child.tag in (f"{w}sdt", f"{w}sdtContent", f"{w}customXml"):
            yield from _rows(child, w)


def _cell_text(cell: Element, w: str, numbers: ListNumbers | None = None) -> str:
    """A cell's text on one line; its numbered paragraphs with their numbers, counted in the
    document's order (``numbers``: the body's; a header's cells number nothing)."""
    parts = []
    for block in _blocks(cell, w):
        if block.tag == f"{w}tbl":
            parts.append(_table_text(block, w, numbers).replace("\n", " "))
        else:
            text = _paragraph_text(block, w)
            label = numbers.label(block) if numbers is not None else ""
            parts.append(f"{label} {text.lstrip()}" if label and text.strip() else text)
    return " ".join(" ".join(part.split()) for part in parts if part.strip())


def _paragraph_level(paragraph: Element, w: str, styles: dict[str, int]) -> int:
    """1-9 for a heading, ``TITLE`` for the title, ``BODY`` for other paragraphs."""
    properties = paragraph.find(f"{w}pPr")
    if properties is None:
        return BODY
    level = _outline_level(properties, w)
    if level is not None:
        return level
    style = properties.find(f"{w}pStyle")
    if style is None:
        return BODY
    style_id = style.get(f"{w}val", "")
    if style_id in styles:
        return styles[style_id]
    # A style the styles part lacks (generated files often have none): Word's own ids for its
    # built-in styles are their names, "Heading1", "Title".
    match = _HEADING_NAME.fullmatch(style_id)
    if match:
        return int(match.group(1))
    return TITLE if style_id.lower() == "title" else BODY


def _outline_level(properties: Element, w: str) -> int | None:
    """1-9 from ``w:outlineLvl`` 0-8, ``BODY`` from 9, None when it is not set."""
    element = properties.find(f"{w}outlineLvl")
    if element is None:
        return None
    value = element.get(f"{w}val", "")
    return int(value) + 1 if value in _OUTLINE_VALUES else BODY


def _heading_styles(archive: SafeZip, main_part: str, w: str) -> dict[str, int]:
    """{style id: heading level 1-9, ``TITLE`` or ``BODY``} of the paragraph styles defined."""
    part = next(
        (t for kind, t in relationships(archive, main_part).values() if kind == "styles"),
        posixpath.join(posixpath.dirname(main_part), "styles.xml"),
    )

    def level(style: Element) -> int | None:  # None: not said, inherited from basedOn
        properties = style.find(f"{w}pPr")
        found = _outline_level(properties, w) if properties is not None else None
        if found is None:
            name_element = style.find(f"{w}name")
            name = (name_element.get(f"{w}val", "") if name_element is not None else "").strip()
            match = _HEADING_NAME.fullmatch(name)
            if match:
                found = int(match.group(1))
            elif name.lower() == "title":
                found = TITLE
        return found

    return {
        style_id: BODY if found is None else found
        for style_id, found in paragraph_styles(archive, part, w, level).items()
    }
