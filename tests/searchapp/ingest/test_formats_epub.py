"""EPUB: chapters in spine order, named from the table of contents, a heading or the file."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from searchapp.ingest.decoding import NotTextError, load_documents
from searchapp.ingest.formats.spans import Span, locate

CONTAINER = (
    '<?xml version="1.0"?><container version="1.0" '
    'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
    '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
    "</rootfiles></container>"
)


def chapter(body: str, title: str = "ignored head title") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><!DOCTYPE html>'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head>'
        f"<title>{title}</title><style>p {{ color: red }}</style></head><body>{body}</body></html>"
    )


NAV = (
    '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml" '
    'xmlns:epub="http://www.idpf.org/2007/ops"><body>'
    '<nav epub:type="landmarks"><ol><li><a href="text/ch%201.xhtml">Begin</a></li></ol></nav>'
    '<nav epub:type="toc"><ol><li><a href="text/ch%201.xhtml#start">Chapter <b>One</b></a></li>'
    '<li><a href="text/ch%201.xhtml#later">One, later</a></li></ol></nav></body></html>'
)
NCX = (
    '<?xml version="1.0"?><!DOCTYPE ncx PUBLIC "-//NISO//DTD ncx 2005-1//EN" '
    '"http://www.daisy.org/z3986/2005/ncx-2005-1.dtd">'
    '<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><navMap>'
    '<navPoint id="n1"><navLabel><text>From the NCX</text></navLabel>'
    '<content src="text/ch%201.xhtml"/></navPoint></navMap></ncx>'
)


def epub_file(*, nav: bool = True, ncx: bool = False) -> bytes:
    manifest = [
        '<item id="c1" href="text/ch%201.xhtml" media-type="application/xhtml+xml"/>',
        '<item id="c2" href="text/two.xhtml" media-type="application/xhtml+xml"/>',
        '<item id="c3" href="text/three.xhtml" media-type="application/xhtml+xml"/>',
        '<item id="css" href="style.css" media-type="text/css"/>',
    ]
    if nav:
        manifest.append(
            '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
        )
    if ncx:
        manifest.append('<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>')
    spine = '<spine toc="ncx">' if ncx else "<spine>"
    package = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Flight</dc:title>'
        f"</metadata><manifest>{''.join(manifest)}</manifest>"
        f"{spine}"
        '<itemref idref="c3"/><itemref idref="c1"/><itemref idref="css"/><itemref idref="c2"/>'
        "</spine></package>"
    )
    members = {
        "META-INF/container.xml": CONTAINER,
        "OEBPS/content.opf": package,
        "OEBPS/text/ch 1.xhtml": chapter("<h1>Lift</h1><p>Wings &amp; <i>lift</i>.</p>"),
        "OEBPS/text/two.xhtml": chapter("<p>No heading here.</p><script>x()</script>"),
        "OEBPS/text/three.xhtml": chapter("<section><h2>Drag <em>first</em></h2><p>Drag.</p>"),
        "OEBPS/style.css": "p { margin: 0 }",
    }
    if nav:
        members["OEBPS/nav.xhtml"] = NAV
    if ncx:
        members["OEBPS/toc.ncx"] = NCX
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")  # first and stored, as required
        for name, content in members.items():
            archive.writestr(name, content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def load_epub(tmp_path: Path, data: bytes):
    path = tmp_path / "book.epub"
    path.write_bytes(data)
    [document] = load_documents(path)
    return document


def test_chapters_in_spine_order_named_by_toc_heading_or_file(tmp_path: Path) -> None:
    document = load_epub(tmp_path, epub_file())
    assert document.title == "Flight"
    assert document.text == "Drag first\n\nDrag.\n\nLift\n\nWings & lift.\n\nNo heading here."
    text = document.text
    assert document.spans == (
        Span(0, section="Drag first"),  # not in the TOC: its first heading
        Span(text.index("Lift"), section="Chapter One"),  # the TOC's first entry for the file
        Span(text.index("No heading"), section="two.xhtml"),  # neither: the file name
    )
    assert locate(document.spans, text.index("Wings")) == (None, "Chapter One")


def test_epub2_titles_come_from_the_ncx(tmp_path: Path) -> None:
    document = load_epub(tmp_path, epub_file(nav=False, ncx=True))
    assert [span.section for span in document.spans] == [
        "Drag first",
        "From the NCX",
        "two.xhtml",
    ]


def test_epub_is_told_by_its_mimetype_member_not_its_name(tmp_path: Path) -> None:
    path = tmp_path / "book.zip"
    path.write_bytes(epub_file())
    assert load_documents(path)[0].title == "Flight"


def test_epub_without_a_package_document_is_a_skip(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/container.xml", CONTAINER.replace("content.opf", "gone.opf"))
    with pytest.raises(NotTextError, match="damaged EPUB: .* names no package document"):
        load_epub(tmp_path, buffer.getvalue())
