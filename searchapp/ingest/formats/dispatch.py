"""Which format a file is, and the extractor for it.

Formats are told by content, never by the name alone: ``%PDF-`` at the start (or at a line start
in the first kilobyte of a file that ends like a PDF), ``{\\rtf`` at the start, a zip archive
whose ``mimetype`` member names EPUB or OpenDocument text or whose ``[Content_Types].xml`` and
package relationships name a Word or PowerPoint main part, and a JSON object with ``nbformat``
and ``cells``. Markdown is told by its name (``.md``, ``.markdown``): any text may be Markdown;
so is an Obsidian canvas (``.canvas``), JSON that only Obsidian names so.
Every failure inside an extractor becomes a ``NotTextError`` naming the file, so one bad file is
a skip reason, never the end of a run; PDFs are read in a worker process (``pdf_worker``), so
that not even a PDFium crash is.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from searchapp.ingest.decoding import NotTextError
from searchapp.ingest.formats.canvas import CANVAS_SUFFIX, extract_canvas
from searchapp.ingest.formats.changelog import extract_changelog, is_debian_changelog
from searchapp.ingest.formats.delimited import DELIMITED_SUFFIXES, extract_delimited
from searchapp.ingest.formats.docx import extract_docx
from searchapp.ingest.formats.eml import EML_SUFFIX, extract_eml
from searchapp.ingest.formats.epub import EPUB_MIMETYPE, extract_epub
from searchapp.ingest.formats.html import looks_like_html
from searchapp.ingest.formats.keep import extract_keep, is_keep_html_copy, might_be_keep_note
from searchapp.ingest.formats.latex import BIB_SUFFIX, TEX_SUFFIX, extract_bibtex, extract_latex
from searchapp.ingest.formats.maildir import is_maildir_message
from searchapp.ingest.formats.markdown import (
    MARKDOWN_SUFFIXES,
    RENDERED_SUFFIXES,
    extract_markdown,
)
from searchapp.ingest.formats.msg import MSG_SUFFIX, extract_msg, is_msg
from searchapp.ingest.formats.notebook import NOTEBOOK_SUFFIX, extract_notebook, might_be_notebook
from searchapp.ingest.formats.odt import ODT_MIMETYPES, extract_odt
from searchapp.ingest.formats.ooxml import CONTENT_TYPES, ooxml_kind
from searchapp.ingest.formats.org import ORG_SUFFIX, extract_org
from searchapp.ingest.formats.pdf_worker import extract_pdf_isolated
from searchapp.ingest.formats.pptx import extract_pptx
from searchapp.ingest.formats.rst import (
    ASCIIDOC_SUFFIXES,
    RST_SUFFIX,
    extract_asciidoc,
    extract_rst,
)
from searchapp.ingest.formats.rtf import extract_rtf, is_rtf
from searchapp.ingest.formats.safe_zip import SafeZip
from searchapp.ingest.formats.slack import extract_slack, is_slack_file
from searchapp.ingest.formats.spans import LocatedText
from searchapp.ingest.formats.subtitles import SUBTITLE_SUFFIXES, extract_subtitles

logger = logging.getLogger(__name__)

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Office 97-2003 files, Outlook's .msg
# Formats told but not read: the skip reason says what the file is and what to do.
_OLE2_KINDS = {
    ".doc": "Word 97-2003 document (.doc): not indexed; save it as .docx, .odt or .rtf",
    ".dot": "Word 97-2003 template (.dot): not indexed; save it as .docx, .odt or .rtf",
    ".xls": "Excel 97-2003 workbook (.xls): not indexed; export it as CSV to search it",
    ".ppt": "PowerPoint 97-2003 deck (.ppt): not indexed; save it as .pptx or PDF",
    ".pps": "PowerPoint 97-2003 show (.pps): not indexed; save it as .pptx or PDF",
}
_ODF_KINDS = {
    "application/vnd.oasis.opendocument.spreadsheet": (
        "OpenDocument spreadsheet (.ods): not indexed; export it as CSV to search it"
    ),
    "application/vnd.oasis.opendocument.presentation": (
        "OpenDocument presentation (.odp): not indexed; save it as .pptx or PDF to search it"
    ),
}
# PDFium, like Acrobat, accepts the header anywhere in the first 1,024 bytes.
PDF_HEADER_WINDOW = 1024
_PDF_HEADER = re.compile(rb"%PDF-\d\.\d")
_PDF_HEADER_AT_LINE_START = re.compile(rb"(?:^|[\r\n])%PDF-\d\.\d")


def extract_binary(data: bytes, path: Path) -> LocatedText | None:
    """The text of a PDF, RTF or zip-based document or an Outlook message told by its bytes;
    None for other files.

    Raises ``NotTextError`` (with ``path``) for such a document that cannot be extracted.
    """
    if is_pdf(data):
        return _guarded("PDF", path, extract_pdf_isolated, data, name=str(path))
    if data.startswith(ZIP_MAGIC):
        return _guarded("zip-based document", path, _extract_zip, data, str(path))
    if is_rtf(data):
        return _guarded("RTF document", path, extract_rtf, data, name=str(path))
    if (path.suffix.lower() == EML_SUFFIX and data.strip()) or is_maildir_message(path, data):
        return _guarded("e-mail message", path, extract_eml, data)
    if data.startswith(OLE2_MAGIC) and (
        path.suffix.lower() == MSG_SUFFIX
        or (path.suffix.lower() not in _OLE2_KINDS and is_msg(data))
    ):
        return _guarded("Outlook message", path, extract_msg, data)
    if data.startswith(OLE2_MAGIC) and path.suffix.lower() in _OLE2_KINDS:
        raise NotTextError(_OLE2_KINDS[path.suffix.lower()], path)
    if path.suffix.lower() in _DOCUMENT_SUFFIXES and _is_markup(data):
        # A paper folder's "Access denied" page, indexed as the paper; S3's <Error> reply.
        raise NotTextError(
            f"named {path.suffix.lower()} but holds a web page or a server's reply (a download "
            "that failed?); download it again",
            path,
        )
    return None


def _is_markup(data: bytes) -> bool:
    """Whether ``data`` begins as HTML, XML or JSON do (a byte order mark, blanks and HTML
    comments before): what a server answers in place of a file."""
    head = data[:PDF_HEADER_WINDOW].decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    while head.startswith("<!--") and "-->" in head:
        head = head[head.index("-->") + 3 :].lstrip()
    return looks_like_html(head) or head.startswith(("<?xml", "<head", "<body", "{", "["))


# Documents whose name says a format that a web page saved under it is not.
_DOCUMENT_SUFFIXES = frozenset({".pdf", ".docx", ".pptx", ".epub", ".odt", ".rtf"})


def extract_text(text: str, path: Path) -> LocatedText | None:
    """The text of a notebook or a Debian changelog (told by content) or a Markdown file, an
    Obsidian canvas, a LaTeX, BibTeX, Org, reStructuredText, AsciiDoc, CSV or TSV file, a
    Slack export's day, people or channels (by name), a Google Keep note's JSON (by both)
    from its decoded text; None for other text. ``NotTextError`` for a Keep note in the trash
    and for the HTML copy of a Keep note beside its JSON."""
    suffix = path.suffix.lower()
    # Sphinx's copies of its sources (`_build/html/_sources/retry.rst.txt`), read as those are:
    # read as plain text, their passages were no copies of the sources', and ranked above them.
    in_sources = path.parent.name == "_sources"
    if suffix == ".txt" and in_sources and Path(path.stem).suffix.lower() in (RST_SUFFIX, ".md"):
        suffix = Path(path.stem).suffix.lower()
    # An empty .ipynb (a notebook not saved yet) is an empty file, as an empty .pdf or .docx
    # is, not a damaged notebook.
    if (suffix == NOTEBOOK_SUFFIX and text.strip()) or might_be_notebook(text):
        located = _guarded(
            "notebook", path, extract_notebook, text, required=suffix == NOTEBOOK_SUFFIX
        )
        if located is not None:
            return located
    if suffix == CANVAS_SUFFIX and text.strip():
        return _guarded("canvas", path, extract_canvas, text)
    if suffix in MARKDOWN_SUFFIXES and not looks_like_html(text):
        return _guarded(
            "Markdown file",
            path,
            extract_markdown,
            text,
            mdx=suffix == ".mdx",
            rendered=suffix in RENDERED_SUFFIXES,
        )
    if suffix == TEX_SUFFIX:
        return _guarded("LaTeX file", path, extract_latex, text)
    if suffix == BIB_SUFFIX:
        return _guarded("BibTeX file", path, extract_bibtex, text)
    if suffix == ORG_SUFFIX:
        return _guarded("Org file", path, extract_org, text)
    if suffix == RST_SUFFIX:
        return _guarded("reStructuredText file", path, extract_rst, text)
    if suffix in ASCIIDOC_SUFFIXES:
        return _guarded("AsciiDoc file", path, extract_asciidoc, text)
    if suffix in DELIMITED_SUFFIXES and text.strip():
        return extract_delimited(text, suffix)
    if suffix in SUBTITLE_SUFFIXES and not looks_like_html(text):
        return _guarded("transcript", path, extract_subtitles, text)
    if is_debian_changelog(text):
        return extract_changelog(text)
    if is_slack_file(path):
        return _guarded("Slack export's file", path, extract_slack, text, path)
    if might_be_keep_note(text, path):
        return _guarded("Google Keep note", path, extract_keep, text, path)
    if is_keep_html_copy(text, path):
        raise NotTextError("Google Keep's HTML copy of a note: read from its .json", path)
    return None


def is_pdf(data: bytes) -> bool:
    """``%PDF-x.y`` at the start, or at a line start in the first kilobyte of data that also
    has ``%%EOF`` in its last kilobyte (a text file quoting a PDF header is not a PDF)."""
    head = data[:PDF_HEADER_WINDOW]
    if _PDF_HEADER.match(head):
        return True
    return bool(_PDF_HEADER_AT_LINE_START.search(head)) and b"%%EOF" in data[-PDF_HEADER_WINDOW:]


def _extract_zip(data: bytes, name: str) -> LocatedText | None:
    archive = SafeZip(data)
    if not (archive.has("mimetype") or archive.has(CONTENT_TYPES)):
        return None  # no package: a binary file, as before
    mimetype = archive.read("mimetype").strip() if archive.has("mimetype") else b""
    if mimetype == EPUB_MIMETYPE.encode():
        return extract_epub(archive, name=name)
    if mimetype.decode("ascii", "replace") in ODT_MIMETYPES:
        return extract_odt(archive)
    if mimetype.decode("ascii", "replace") in _ODF_KINDS:
        raise NotTextError(_ODF_KINDS[mimetype.decode("ascii", "replace")])
    kind = ooxml_kind(archive)
    if kind is None and archive.has("xl/workbook.xml"):  # it was "binary file"
        raise NotTextError("Excel workbook (.xlsx): not indexed; export it as CSV to search it")
    suffix = os.path.splitext(name)[1].lower()
    office = {".docx": "Word document", ".pptx": "PowerPoint deck"}.get(suffix)
    if kind is None and office is not None and archive.has(CONTENT_TYPES):  # was "binary file"
        raise NotTextError(f"damaged {office}: it has no main part; repair or re-save it")
    if kind is None:
        return None  # another zip: a binary file, as before
    if kind[0] == "docx":
        return extract_docx(archive, kind[1])
    return extract_pptx(archive, kind[1])


def _guarded(
    kind: str, path: Path, extract: Callable[..., LocatedText | None], *args: Any, **kwargs: Any
) -> LocatedText | None:
    try:
        return extract(*args, **kwargs)
    except NotTextError as exc:
        raise NotTextError(exc.reason, path) from exc
    except Exception as exc:  # a bug, or a file no parser expected: never the end of a run
        logger.debug("extracting %s failed", path, exc_info=True)
        raise NotTextError(
            f"{kind} whose text could not be extracted ({type(exc).__name__}: {exc}); "
            "repair or re-save it to index it",
            path,
        ) from exc
