"""PowerPoint presentations (``.pptx``, ``.pptm``, ``.ppsx``): the text of each slide in
presentation order, located as ``"slide N"`` (1-based, hidden slides counted). Speaker notes are
not read, nor the footer, slide number and date placeholders, nor a footer written as a text
box (``_without_footers``): a student's slide hits named the footer "ME2310 Fluid Mechanics ·
Lecture 5 · 6" as their line."""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from searchapp.ingest.formats.builder import TextBuilder
from searchapp.ingest.formats.ooxml import MC_FALLBACK, core_title, namespace, relationships
from searchapp.ingest.formats.safe_zip import SafeZip
from searchapp.ingest.formats.spans import LocatedText

_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
# Placeholders that repeat the deck's furniture on each slide, not its content.
_FURNITURE = frozenset({"ftr", "sldNum", "dt"})


def extract_pptx(archive: SafeZip, main_part: str) -> LocatedText:
    """The text of a presentation whose main part is ``main_part`` (``ppt/presentation.xml``)."""
    presentation = archive.read_xml(main_part)
    p = namespace(presentation)
    targets = relationships(archive, main_part)
    builder = TextBuilder()
    slide_list = presentation.find(f"{p}sldIdLst")
    slides = [] if slide_list is None else slide_list.findall(f"{p}sldId")
    texts: list[str | None] = []  # a slide's text, None where its part is missing
    for slide in slides:
        kind, part = targets.get(slide.get(_R_ID, ""), ("", ""))
        if kind != "slide" or not archive.has(part):
            texts.append(None)
            continue
        paragraphs: list[str] = []
        _collect_paragraphs(archive.read_xml(part), paragraphs)
        texts.append("\n".join(paragraphs))
    kept = _without_footers([text or "" for text in texts])
    for number, (text, stripped) in enumerate(zip(texts, kept, strict=True), start=1):
        if text is not None:
            builder.add(stripped, section=f"slide {number}")
    return builder.build(title=core_title(archive))


def _collect_paragraphs(element: Element, paragraphs: list[str]) -> None:
    """The DrawingML paragraphs (text boxes, placeholders, table cells) in document order."""
    for child in element:
        if child.tag == f"{_A}p":
            text = "".join(
                (node.text or "") if node.tag == f"{_A}t" else "\n"
                for node in child.iter()
                if node.tag in (f"{_A}t", f"{_A}br")
            )
            if text.strip():
                paragraphs.append(text)
        elif child.tag != MC_FALLBACK and not _furniture(child):
            _collect_paragraphs(child, paragraphs)


# A footer is among a slide's last lines, the same on this share of the slides but for the
# slide's number ("Lecture 5 · 6"), of 3 slides or more; never a slide's first line, its title
# ("Worked example 1", "Worked example 2" on the next: a reviewer's).
FOOTER_LINES = 3
FOOTER_SHARE = 0.5
_NUMBER = re.compile(r"[0-9]+")


def _without_footers(slides: list[str]) -> list[str]:
    """``slides``' texts less the footers written as text boxes (the placeholders' are left
    out as they are read: ``_furniture``)."""

    def key(line: str, number: int) -> str:
        def numbered(found: re.Match[str]) -> str:
            return "#" if int(found.group()) == number else found.group()

        return _NUMBER.sub(numbered, " ".join(line.split()))

    def feet(text: str) -> list[str]:
        lines = [line for line in text.split("\n") if line.strip()]
        return lines[1:][-FOOTER_LINES:]

    counts: dict[str, int] = {}
    for number, text in enumerate(slides, start=1):
        for found in {key(line, number) for line in feet(text)}:
            counts[found] = counts.get(found, 0) + 1
    least = max(3, FOOTER_SHARE * len(slides))
    footers = {found for found, n in counts.items() if n >= least}
    if not footers:
        return slides
    kept = []
    for number, text in enumerate(slides, start=1):
        foot = {line for line in feet(text) if key(line, number) in footers}
        kept.append("\n".join(line for line in text.split("\n") if line not in foot))
    return kept


def _furniture(shape: Element) -> bool:
    """Whether ``shape`` is a footer, slide number or date placeholder."""
    if shape.tag != f"{_P}sp":
        return False
    placeholder = shape.find(f"{_P}nvSpPr/{_P}nvPr/{_P}ph")
    return placeholder is not None and placeholder.get("type") in _FURNITURE
