"""EPUB books: the XHTML chapters in spine order (the OPF package's manifest and spine), each
reduced to its visible text by ``formats.html.html_to_text`` and located by its title: the table of
contents' entry for the file (the EPUB 3 navigation document, else the EPUB 2 NCX), else its
first heading, else its file name."""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from searchapp.ingest.decoding import NotTextError, decode_bytes
from searchapp.ingest.formats.builder import TextBuilder
from searchapp.ingest.formats.html import html_to_text, unclosed_as_text
from searchapp.ingest.formats.ooxml import resolve
from searchapp.ingest.formats.safe_zip import SafeZip
from searchapp.ingest.formats.spans import LocatedText

logger = logging.getLogger(__name__)

EPUB_MIMETYPE = "application/epub+zip"
CONTAINER = "META-INF/container.xml"
CHAPTER_MEDIA_TYPES = frozenset({"application/xhtml+xml", "text/html"})
_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_NCX = "{http://www.daisy.org/z3986/2005/ncx/}"
_XHTML = "{http://www.w3.org/1999/xhtml}"
_EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


@dataclass(frozen=True)
class _ManifestItem:
    part: str  # the member's name in the zip
    media_type: str
    properties: tuple[str, ...]  # "nav" marks the EPUB 3 navigation document


def extract_epub(archive: SafeZip, *, name: str = "EPUB") -> LocatedText:
    """The text of an EPUB's chapters, each located by its title; ``name`` (the file) is for
    warnings."""
    package_part = _package_part(archive)
    package = archive.read_xml(package_part)
    folder = posixpath.dirname(package_part)
    manifest = {
        item.get("id", ""): _ManifestItem(
            resolve(folder, unquote(item.get("href", "").split("#", 1)[0])),
            item.get("media-type", ""),
            tuple(item.get("properties", "").split()),
        )
        for item in package.iter(f"{_OPF}item")
    }
    spine = package.find(f"{_OPF}spine")
    if spine is None:
        raise NotTextError(f"damaged EPUB: {package_part!r} has no spine; repair or re-save it")
    toc = _toc_titles(archive, manifest, spine.get("toc", ""), name)
    builder = TextBuilder()
    for itemref in spine.findall(f"{_OPF}itemref"):
        item = manifest.get(itemref.get("idref", ""))
        if item is None or item.media_type not in CHAPTER_MEDIA_TYPES or not archive.has(item.part):
            continue
        html = decode_bytes(archive.read(item.part))
        if html is None:
            logger.warning("%s: the chapter %s is not text; left out", name, item.part)
            continue
        _, text = html_to_text(html)
        chapter = toc.get(item.part) or _first_heading(html) or posixpath.basename(item.part)
        builder.add(text, section=chapter)
    title_element = package.find(f"{_OPF}metadata/{_DC_TITLE}")
    title = (title_element.text or "") if title_element is not None else ""
    return builder.build(title=title)


def _package_part(archive: SafeZip) -> str:
    rootfile = archive.read_xml(CONTAINER).find(f"{_CONTAINER}rootfiles/{_CONTAINER}rootfile")
    part = rootfile.get("full-path", "") if rootfile is not None else ""
    if not part or not archive.has(part):
        raise NotTextError(
            f"damaged EPUB: {CONTAINER} names no package document that exists; repair it"
        )
    return part


def _toc_titles(
    archive: SafeZip, manifest: dict[str, _ManifestItem], ncx_id: str, name: str
) -> dict[str, str]:
    """{chapter part: its first entry's title} from the navigation document or the NCX; {} when
    neither can be read (titles then come from headings)."""
    nav = next((item for item in manifest.values() if "nav" in item.properties), None)
    ncx = manifest.get(ncx_id)
    for item, read in ((nav, _nav_entries), (ncx, _ncx_entries)):
        if item is None or not archive.has(item.part):
            continue
        try:
            entries = read(archive.read_xml(item.part))
        except NotTextError as exc:
            logger.warning("%s: the table of contents %s was not read: %s", name, item.part, exc)
            continue
        titles: dict[str, str] = {}
        folder = posixpath.dirname(item.part)
        for href, title in entries:
            part = resolve(folder, unquote(href.split("#", 1)[0]))
            title = " ".join(title.split())
            if title and part not in titles:
                titles[part] = title
        if titles:
            return titles
    return {}


def _nav_entries(root: Element) -> list[tuple[str, str]]:
    navs = list(root.iter(f"{_XHTML}nav"))
    tocs = [nav for nav in navs if "toc" in nav.get(_EPUB_TYPE, "").split()] or navs[:1]
    return [
        (link.get("href", ""), "".join(link.itertext()))
        for nav in tocs
        for link in nav.iter(f"{_XHTML}a")
    ]


def _ncx_entries(root: Element) -> list[tuple[str, str]]:
    entries = []
    for point in root.iter(f"{_NCX}navPoint"):
        label = point.find(f"{_NCX}navLabel/{_NCX}text")
        content = point.find(f"{_NCX}content")
        if label is not None and content is not None:
            entries.append((content.get("src", ""), label.text or ""))
    return entries


def _first_heading(html: str) -> str:
    parser = _FirstHeading()
    try:
        parser.feed(unclosed_as_text(html))
        parser.close()
    except (AssertionError, ValueError, _Found):
        pass
    return " ".join("".join(parser.parts).split())


class _Found(Exception):
    """Raised by ``_FirstHeading`` to stop parsing once the first heading has ended."""


class _FirstHeading(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._depth = 0  # > 0 inside the first heading

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HEADINGS:
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _HEADINGS and self._depth:
            self._depth -= 1
            if not self._depth and "".join(self.parts).strip():
                raise _Found

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.parts.append(data)
