"""The package parts that Word and PowerPoint files share (Office Open XML, ECMA-376 part 2):
content types, relationships, the main part and the core properties."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import TypeVar
from xml.etree import ElementTree

from searchapp.ingest.formats.safe_zip import SafeZip

CONTENT_TYPES = "[Content_Types].xml"
PACKAGE_RELS = "_rels/.rels"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
# Part names when the package relationships do not say (they always do in files Office writes).
_DEFAULT_PARTS = {"docx": "word/document.xml", "pptx": "ppt/presentation.xml"}


def ooxml_kind(archive: SafeZip) -> tuple[str, str] | None:
    """("docx" or "pptx", the main part's name) of an Office Open XML package; None for other
    packages (a spreadsheet) and for zip files that are not one."""
    if not archive.has(CONTENT_TYPES):
        return None
    main = next(
        (
            target
            for kind, target in relationships(archive, "").values()
            if kind == "officeDocument"
        ),
        None,
    )
    if main is None or not archive.has(main):
        for kind, part in _DEFAULT_PARTS.items():
            if archive.has(part):
                return kind, part
        return None
    content_type = _content_type(archive, main)
    if "wordprocessingml" in content_type or content_type.startswith("application/vnd.ms-word."):
        return "docx", main
    if "presentationml" in content_type or content_type.startswith(
        "application/vnd.ms-powerpoint."
    ):
        return "pptx", main
    return None


def relationships(archive: SafeZip, part: str) -> dict[str, tuple[str, str]]:
    """{id: (type, target part)} of a part ("" for the package); the type is the last segment of
    its URI (``officeDocument``, ``slide``, ``styles``); external targets are left out."""
    folder, name = posixpath.split(part)
    rels_part = posixpath.join(folder, "_rels", f"{name}.rels")
    if not archive.has(rels_part):
        return {}
    found: dict[str, tuple[str, str]] = {}
    for rel in archive.read_xml(rels_part).iter(f"{_RELS}Relationship"):
        if rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target", "")
        kind = rel.get("Type", "").rsplit("/", 1)[-1]
        found[rel.get("Id", "")] = (kind, resolve(folder, target))
    return found


def resolve(folder: str, href: str) -> str:
    """The part name a relative reference from ``folder`` points at (no leading slash)."""
    if href.startswith("/"):
        return posixpath.normpath(href.lstrip("/"))
    return posixpath.normpath(posixpath.join(folder, href))


def core_title(archive: SafeZip) -> str:
    """The title in the core properties (``docProps/core.xml``), or ""."""
    for kind, target in relationships(archive, "").values():
        if kind == "core-properties" and archive.has(target):
            element = archive.read_xml(target).find(_DC_TITLE)
            return " ".join((element.text or "").split()) if element is not None else ""
    return ""


def namespace(element: ElementTree.Element) -> str:
    """``{uri}`` of an element's tag, to build the tags of its children."""
    tag = element.tag
    return tag[: tag.index("}") + 1] if tag.startswith("{") else ""


def _content_type(archive: SafeZip, part: str) -> str:
    types = archive.read_xml(CONTENT_TYPES)
    for override in types.iter(f"{_TYPES}Override"):
        if override.get("PartName", "").lstrip("/") == part:
            return override.get("ContentType", "")
    extension = posixpath.splitext(part)[1].lstrip(".").lower()
    for default in types.iter(f"{_TYPES}Default"):
        if default.get("Extension", "").lower() == extension:
            return default.get("ContentType", "")
    return ""


MAX_STYLE_DEPTH = 16  # basedOn chains longer than this (or looping) stop inheriting
_T = TypeVar("_T")


def paragraph_styles(
    archive: SafeZip, part: str, w: str, own: Callable[[ElementTree.Element], _T | None]
) -> dict[str, _T | None]:
    """{style id: its value} of a Word styles ``part``'s paragraph styles: ``own`` of the
    style, or where that is None, of the style it is based on (``w:basedOn``), up its chain;
    None where none says. {} without the part."""
    if not archive.has(part):
        return {}
    values: dict[str, _T | None] = {}
    based_on: dict[str, str] = {}
    for style in archive.read_xml(part).iter(f"{w}style"):
        if style.get(f"{w}type") != "paragraph":
            continue
        style_id = style.get(f"{w}styleId", "")
        values[style_id] = own(style)
        parent = style.find(f"{w}basedOn")
        if parent is not None:
            based_on[style_id] = parent.get(f"{w}val", "")
    inherited: dict[str, _T | None] = {}
    for style_id in values:
        current = style_id
        for _ in range(MAX_STYLE_DEPTH):
            if values.get(current) is not None or current not in based_on:
                break
            current = based_on[current]
        inherited[style_id] = values.get(current)
    return inherited
