"""PDF text, page by page, with PDFium (pypdfium2).

Every page becomes one unit located by its 1-based page number, without the running heads and
feet it shares with other pages (``running_lines``); a page that leaves a sentence open, before
one that goes on in lower case, is followed by a line break, not a blank line, so the paragraph
goes on overleaf. What a PDF cannot give is a skip reason (``NotTextError``): encrypted with a
user password (one that opens with the empty password is read), damaged, or without any text
(a scan: OCR it first).
Extraction is bounded per file so that no PDF holds up a run: at most ``MAX_PDF_PAGES`` pages,
``MAX_PDF_CHARS`` characters and ``MAX_PDF_SECONDS`` seconds are read; past a bound the text
read so far is kept and a warning logged. The input is already bounded by
``decoding.DEFAULT_MAX_BYTES``. The time bound is checked between pages: one pathological page
cannot be interrupted in-process.

PDFium is not thread-safe, not even across documents, so every call into it holds
``PDFIUM_LOCK``, and every PDFium object is closed while the lock is held (never left to the
garbage collector, which may run in another thread).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import TYPE_CHECKING

from searchapp.ingest.decoding import NotTextError
from searchapp.ingest.formats.builder import TextBuilder
from searchapp.ingest.formats.numbered_headings import NumberedHeading, numbered_headings
from searchapp.ingest.formats.running_lines import strip_running_lines
from searchapp.ingest.formats.spans import LocatedText, ends_sentence

if TYPE_CHECKING:
    from pypdfium2 import PdfDocument

logger = logging.getLogger(__name__)

# A 2,000-page PDF is a long book. PDFium reads some 800-2,000 abstract-sized pages/s on one
# core (benchmarks/formats.py; dense pages are slower), so these pages take seconds; the time
# bound catches PDFs whose pages are slow to parse (huge content streams), not long ones.
MAX_PDF_PAGES = 2_000
MAX_PDF_SECONDS = 60.0
# Some 10,000 pages of dense text: a page whose text layer is garbage (millions of glyphs) stops
# here instead of filling memory and the index.
MAX_PDF_CHARS = 20_000_000
NO_TEXT_LAYER = "no text layer; run OCR first"
# PDFium gives a hyphen that ends a line, with the line break, as U+FFFE ("veloc\ufffeity").
_LINE_END_HYPHEN = "\ufffe"
_HYPHENATED = re.compile(r"(\w+)\ufffe(\w+)")
_WORD = re.compile(r"\w+(?:-\w+)*")
_PAGE_END_HYPHEN = re.compile(r"(?<![\w-])([^\W\d_]+)-\s*\Z")  # "numeri-" ending a page
_PAGE_START_WORD = re.compile(r"\s*([^\W\d_]+)(?=[\s.,;:!?)\]]|\Z)")  # its "cally" overleaf

PDFIUM_LOCK = threading.Lock()

_ERR_FORMAT, _ERR_PASSWORD, _ERR_SECURITY = 3, 4, 5  # FPDF_ERR_* codes of FPDF_GetLastError


def extract_pdf(
    data: bytes, *, name: str = "PDF", max_seconds: float = MAX_PDF_SECONDS
) -> LocatedText:
    """The text of each page with the page it is on; raises ``NotTextError`` with the reason for
    a PDF that cannot be read or has no text. ``name`` (the file) is for warnings."""
    import pypdfium2  # here, not at the top: PDFium loads only when a PDF is met

    with PDFIUM_LOCK:
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as exc:
            raise NotTextError(_open_failure(exc)) from None
        try:
            return _read(document, name, max_seconds)
        finally:
            document.close()


def _open_failure(exc: Exception) -> str:
    code = getattr(exc, "err_code", None)
    if code == _ERR_PASSWORD:
        return "encrypted PDF (it needs a password to open); save a copy without one to index it"
    if code == _ERR_SECURITY:
        return (
            "encrypted PDF with a security handler PDFium does not support; save a copy "
            "without encryption to index it"
        )
    if code == _ERR_FORMAT:
        return "damaged PDF (PDFium cannot parse it); repair it or save it again to index it"
    return f"PDF that PDFium cannot open ({exc}); repair it or save it again to index it"


def _read(document: PdfDocument, name: str, max_seconds: float) -> LocatedText:
    import pypdfium2

    pages = len(document)
    if pages == 0:
        raise NotTextError("PDF without pages; nothing to index")
    readable = min(pages, MAX_PDF_PAGES)
    if pages > readable:
        logger.warning(
            "%s: %d pages; only the first %d are indexed (MAX_PDF_PAGES)", name, pages, readable
        )
    deadline = time.monotonic() + max_seconds
    numbers: list[int] = []  # of the pages read, 1-based
    texts: list[str] = []
    chars = 0
    failed: list[int] = []
    images = False  # whether a page without text holds an image (a scan)
    drawings = False  # ...or drawings alone (words may be drawn as shapes)
    for index in range(readable):
        try:
            text, drawn = _page_text(document, index, MAX_PDF_CHARS - chars)
        except pypdfium2.PdfiumError:
            failed.append(index + 1)
            continue
        if text is None:
            logger.warning(
                "%s: text extraction stopped at page %d of %d: over %d characters "
                "(MAX_PDF_CHARS); the pages before it are indexed",
                name,
                index + 1,
                pages,
                MAX_PDF_CHARS,
            )
            break
        chars += len(text)
        images, drawings = images or drawn == "image", drawings or drawn == "drawing"
        numbers.append(index + 1)
        texts.append(text)
        if index + 1 < readable and time.monotonic() > deadline:
            logger.warning(
                "%s: text extraction stopped after %d of %d pages: over %g s "
                "(MAX_PDF_SECONDS); the pages read are indexed",
                name,
                index + 1,
                pages,
                max_seconds,
            )
            break
    if failed:
        logger.warning("%s: pages PDFium could not read were left out: %s", name, failed)
    builder = TextBuilder()
    texts = _line_end_hyphens_read(strip_running_lines(texts))
    headings: dict[int, list[NumberedHeading]] = {}  # by page: each begins a section
    for heading in numbered_headings(texts):
        headings.setdefault(heading.page, []).append(heading)
    section = None
    before = ""  # the last page with text: a sentence it leaves open goes on overleaf
    for index, (number, text) in enumerate(zip(numbers, texts, strict=True)):
        # Open at the end, and going on in lower case: a slide's title after its last bullet
        # begins a page of its own.
        opening = text.lstrip()[:1]
        continues = bool(before) and not ends_sentence(before) and opening.islower()
        starts = [heading.start for heading in headings.get(index, ())]
        pieces = zip([0, *starts], [*starts, len(text)], strict=True)
        for n, (start, end) in enumerate(pieces):
            if n:  # a heading's line: a section of its own from there
                section = headings[index][n - 1].section
            builder.add(text[start:end], page=number, section=section, continues=continues)
            continues = False
        before = text.strip() or before
    if builder.length == 0:
        if len(failed) == readable:
            raise NotTextError("damaged PDF (no page could be read); repair it or save it again")
        if images:
            raise NotTextError(NO_TEXT_LAYER)
        where = "its one page" if pages == 1 else f"any of its {pages} pages"
        if drawings:  # a helper's diagram: told "nothing to index", without the OCR a scan gets
            raise NotTextError(
                f"PDF without text on {where}, only drawings; if they show words, run OCR first"
            )
        raise NotTextError(f"PDF without text on {where}; nothing to index")
    return builder.build(title=_title(document), page_labels=_page_labels(document, readable))


def _line_end_hyphens_read(texts: list[str]) -> list[str]:
    """The pages' texts with each word broken by a hyphen at a line end (or at the end of a
    page, going on overleaf) whole again: joined ("veloc-ity": "velocity") where the document
    has the joined word elsewhere, or where it has neither part as a word of its own; else kept
    ("leading-edge", where "leading" and "edge" are words of the document; "COVID-19" and
    "Anglo-French": the second part begins with a digit, or a capital after lower case).
    Dropping every such hyphen made up words ("boundarylayer", "leadingedge") that no query
    for "boundary layer" or "leading-edge" found."""
    turns = [
        bool(_PAGE_END_HYPHEN.search(text)) and bool(_PAGE_START_WORD.match(after))
        for text, after in zip(texts, texts[1:])
    ]
    if not any(_LINE_END_HYPHEN in text for text in texts) and not any(turns):
        return texts
    words: set[str] = set()
    for index, text in enumerate(texts):
        text = _HYPHENATED.sub(" ", text)
        if index < len(turns) and turns[index]:  # the broken word's halves are not words
            text = _PAGE_END_HYPHEN.sub(" ", text)
        if index > 0 and turns[index - 1]:
            text = _PAGE_START_WORD.sub(" ", text, count=1)
        for word in _WORD.findall(text):
            words.add(word.lower())
            words.update(part.lower() for part in word.split("-"))

    def whole(first: str, second: str) -> str:
        if (first + second).lower() in words:
            return first + second
        if second[0].isdigit() or (second[0].isupper() and not first.isupper()):
            return f"{first}-{second}"
        if first.lower() in words and second.lower() in words:
            return f"{first}-{second}"
        return first + second

    read = [
        _HYPHENATED.sub(lambda m: whole(*m.groups()), text).replace(_LINE_END_HYPHEN, "-")
        for text in texts
    ]
    for index, turn in enumerate(turns):  # the word ends on the page it begins on
        if turn:
            end = _PAGE_END_HYPHEN.search(read[index])
            start = _PAGE_START_WORD.match(read[index + 1])
            if end is None or start is None:  # changed by a join above: left as it is
                continue
            joined = whole(end.group(1), start.group(1))
            read[index] = read[index][: end.start(1)] + joined
            read[index + 1] = read[index + 1][start.end() :].lstrip(" ")
    return read


def _page_text(document: PdfDocument, index: int, max_chars: int) -> tuple[str | None, str]:
    """(text, what a page without text holds: "image" (a scan), "drawing" (paths alone) or "");
    text None when the page has more than ``max_chars`` characters."""
    import pypdfium2

    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            count = textpage.count_chars()
            if count > max_chars:
                return None, ""
            text = textpage.get_text_range() if count > 0 else ""
        finally:
            textpage.close()
        drawn = ""
        if not text.strip():
            raw = pypdfium2.raw
            for kind, name in (
                (raw.FPDF_PAGEOBJ_IMAGE, "image"),
                (raw.FPDF_PAGEOBJ_PATH, "drawing"),
            ):
                if any(True for _ in page.get_objects(filter=[kind])):
                    drawn = name
                    break
        return text, drawn
    finally:
        page.close()


# A page label as hits show it and `search get --page` takes it: a word of letters and digits.
_LABEL = re.compile(r"[0-9A-Za-z][0-9A-Za-z.]{0,11}")


def _page_labels(document: PdfDocument, pages: int) -> tuple[str, ...]:
    """The labels of the first ``pages`` pages as the PDF prints them (its /PageLabels: a
    book's "iv" front matter, then "1" on its 11th page); () where each is its page's number,
    and where they cannot each name one page: a label no command line could name ("Front
    Cover"), or one on two pages (a proceedings volume numbering each paper from 1)."""
    import pypdfium2

    labels = []
    for index in range(pages):
        try:
            label = document.get_page_label(index)
        except pypdfium2.PdfiumError:
            return ()
        if not _LABEL.fullmatch(label):
            return ()
        labels.append(label)
    if labels == [str(n) for n in range(1, pages + 1)] or len(set(labels)) < len(labels):
        return ()
    return tuple(labels)


def _title(document: PdfDocument) -> str:
    try:
        title = document.get_metadata_dict().get("Title", "")
    except Exception:  # a title is a nicety; a damaged info dictionary is not fatal
        return ""
    return title if isinstance(title, str) else ""
