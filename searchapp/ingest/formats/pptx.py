"""PowerPoint presentations (``.pptx``, ``.pptm``, ``.ppsx``): the text of each slide in
presentation order, located as ``"slide N"`` (1-based, hidden slides counted). Speaker notes are
not read."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from searchapp.ingest.formats.builder import TextBuilder
from searchapp.ingest.formats.ooxml import MC_FALLBACK, core_title, namespace, relationships
from searchapp.ingest.formats.safe_zip import SafeZip
from searchapp.ingest.formats.spans import LocatedText

_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def extract_pptx(archive: SafeZip, main_part: str) -> LocatedText:
    """The text of a presentation whose main part is ``main_part`` (``ppt/presentation.xml``)."""
    presentation = archive.read_xml(main_part)
    p = namespace(presentation)
    targets = relationships(archive, main_part)
    builder = TextBuilder()
    slide_list = presentation.find(f"{p}sldIdLst")
    slides = [] if slide_list is None else slide_list.findall(f"{p}sldId")
    for number, slide in enumerate(slides, start=1):
        kind, part = targets.get(slide.get(_R_ID, ""), ("", ""))
        if kind != "slide" or not archive.has(part):
            continue
        paragraphs: list[str] = []
        _collect_paragraphs(archive.read_xml(part), paragraphs)
        builder.add("\n".join(paragraphs), section=f"slide {number}")
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
        elif child.tag != MC_FALLBACK:
            _collect_paragraphs(child, paragraphs)
