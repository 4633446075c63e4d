"""PDF extraction: real PDFs written by fpdf2, read back page by page through PDFium."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from fpdf import FPDF
from PIL import Image

from searchapp.errors import SearchAppError
from searchapp.ingest.decoding import NotTextError, decode_bytes, load_documents
from searchapp.ingest.formats import pdf as pdf_module
from searchapp.ingest.formats.dispatch import is_pdf
from searchapp.ingest.formats.pdf import NO_TEXT_LAYER, extract_pdf
from searchapp.ingest.formats.running_lines import strip_running_lines
from searchapp.ingest.formats.spans import Span, locate
from tests.searchapp.conftest import FakeEncoder
from tests.searchapp.ingest.test_pipeline import make_index


def make_pdf(
    pages: list[str], *, title: str = "", compress: bool = True, **encryption: str
) -> bytes:
    """A PDF with one page per string ("" for a blank page), in a core font."""
    document = FPDF()
    document.set_compression(compress)
    if title:
        document.set_title(title)
    if encryption:
        document.set_encryption(**encryption)
    document.set_font("helvetica", size=11)
    for text in pages:
        document.add_page()
        if text:
            document.multi_cell(0, 6, text)
    return bytes(document.output())


def make_scanned_pdf(pages: int = 2) -> bytes:
    """Pages holding only an image, as a scanner writes them."""
    document = FPDF()
    for n in range(pages):
        document.add_page()
        document.image(Image.new("L", (120, 160), 90 + n), x=10, y=10, w=120)
    return bytes(document.output())


PAGES = [
    "Experimental investigation of the aerodynamics of a wing in a slipstream.",
    "",  # a blank page: no text, no span
    "The spanwise distribution of the lift increase\ndue to slipstream.",
]


def test_text_per_page_with_page_spans_and_title() -> None:
    located = extract_pdf(make_pdf(PAGES, title="Wing in a slipstream"))
    assert located.title == "Wing in a slipstream"
    assert located.text == (
        "Experimental investigation of the aerodynamics of a wing in a slipstream."
        "\n\nThe spanwise distribution of the lift increase\ndue to slipstream."
    )
    third = located.text.index("The spanwise")
    assert located.spans == (Span(0, page=1), Span(third, page=3))
    assert locate(located.spans, located.text.index("aerodynamics")) == (1, None)
    assert locate(located.spans, located.text.index("due to")) == (3, None)


def test_a_hyphen_at_a_line_end_joins_a_broken_word_and_keeps_a_compound() -> None:
    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=11)
    document.multi_cell(
        0,
        6,
        "a boundary-\nlayer experiment on the veloc-\nity and the distri-\nbution of the\n"
        "COVID-\n19 wards; the boundary and its layer at a velocity of INFOR-\nMATION and a "
        "numeri-",
    )
    document.add_page()  # a word broken at the page's end goes on overleaf
    document.multi_cell(0, 6, "cally exact value.")
    # "boundary" and "layer" are words of the document, "velocity" is one too, "distri" and
    # "bution" are not; PDFium marks each of these hyphens the same.
    assert extract_pdf(bytes(document.output())).text == (
        "a boundary-layer experiment on the velocity and the distribution of the\n"
        "COVID-19 wards; the boundary and its layer at a velocity of INFORMATION and a "
        "numerically\nexact value."
    )


def test_scanned_pdf_is_skipped_with_the_reason() -> None:
    with pytest.raises(NotTextError) as caught:
        extract_pdf(make_scanned_pdf())
    assert str(caught.value) == NO_TEXT_LAYER == "no text layer; run OCR first"


def test_blank_pdf_is_skipped_with_its_own_reason() -> None:
    with pytest.raises(NotTextError, match="PDF without text on any of its 2 pages"):
        extract_pdf(make_pdf(["", ""]))
    with pytest.raises(NotTextError, match="PDF without text on its one page; nothing"):
        extract_pdf(make_pdf([""]))
    # Drawings alone may be words drawn as shapes: told to OCR them, as a scan is.
    drawing = FPDF()
    drawing.add_page()
    drawing.line(10, 10, 100, 100)
    with pytest.raises(NotTextError, match="its one page, only drawings; if they show words, run"):
        extract_pdf(bytes(drawing.output()))


def test_encrypted_pdf_is_skipped_unless_the_empty_password_opens_it() -> None:
    with pytest.raises(NotTextError, match=r"encrypted PDF \(it needs a password to open\)"):
        extract_pdf(make_pdf(["secret text"], owner_password="own", user_password="user"))
    # Only an owner password (permissions): every reader opens it, and so do we.
    assert extract_pdf(make_pdf(["open text"], owner_password="own")).text == "open text"


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 3],  # truncated
        lambda data: data[:9] + b"\x00garbage" * 40,  # a header and nothing of a PDF
        lambda data: b"%PDF-1.7\n",
    ],
)
def test_damaged_pdf_is_skipped_with_the_reason(damage) -> None:
    with pytest.raises(NotTextError, match="damaged PDF"):
        extract_pdf(damage(make_pdf(PAGES)))


def test_page_bound_keeps_the_first_pages_and_warns(monkeypatch, caplog) -> None:
    monkeypatch.setattr(pdf_module, "MAX_PDF_PAGES", 2)
    with caplog.at_level(logging.WARNING):
        located = extract_pdf(make_pdf(["One.", "Two.", "Three."]), name="long.pdf")
    assert located.text == "One.\n\nTwo."
    assert "long.pdf: 3 pages; only the first 2 are indexed" in caplog.text


def test_time_bound_stops_between_pages_and_warns(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        located = extract_pdf(make_pdf(["one", "two", "three"]), name="slow.pdf", max_seconds=0)
    assert located.text == "one"  # at least one page is read
    assert "slow.pdf: text extraction stopped after 1 of 3 pages" in caplog.text


def test_character_bound_stops_before_the_page_that_crosses_it(monkeypatch, caplog) -> None:
    monkeypatch.setattr(pdf_module, "MAX_PDF_CHARS", 10)
    with caplog.at_level(logging.WARNING):
        located = extract_pdf(make_pdf(["short", "a longer page"]), name="big.pdf")
    assert located.text == "short"
    assert "big.pdf: text extraction stopped at page 2 of 2" in caplog.text


def test_pdfs_read_from_many_threads_at_once() -> None:
    """PDFium is not thread-safe: the lock must serialise every call into it."""
    documents = {n: make_pdf([f"Document {n} page {p}." for p in range(1, 4)]) for n in range(8)}
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def read(n: int) -> None:
        try:
            for _ in range(5):
                results[n] = extract_pdf(documents[n]).text
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(n,)) for n in documents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert results == {
        n: f"Document {n} page 1.\n\nDocument {n} page 2.\n\nDocument {n} page 3."
        for n in documents
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%PDF-1.4\n...", True),
        (b"junk before\r\n%PDF-1.7\n1 0 obj\n%%EOF\n", True),  # header within the first KB
        (b"junk before\n%PDF-1.7\nbut no end marker\n", False),
        (b"notes: files start with %PDF-1.4 and end with %%EOF\n", False),  # quoted, mid-line
        (b"%PDF-", False),
        (b"hello", False),
    ],
)
def test_is_pdf_by_content(data: bytes, expected: bool) -> None:
    assert is_pdf(data) is expected


# -- through load_documents ----------------------------------------------------------------------


def test_a_small_pdf_without_nul_bytes_is_read_as_a_pdf_not_as_its_syntax(tmp_path: Path) -> None:
    data = make_pdf(["Hello from a tiny PDF."], compress=False)
    assert decode_bytes(data) is not None  # text to the byte sniffer: once indexed as PDF syntax
    path = tmp_path / "tiny.pdf"
    path.write_bytes(data)
    [document] = load_documents(path)
    assert (document.doc_id, document.path) == (str(path.absolute()), path)
    assert (document.title, document.text) == ("", "Hello from a tiny PDF.")
    assert document.spans == (Span(0, page=1),)


def test_pdf_is_told_by_content_not_by_name(tmp_path: Path) -> None:
    (tmp_path / "paper.bin").write_bytes(make_pdf(["content wins"]))
    (tmp_path / "fake.pdf").write_text("a text file with a .pdf name")
    assert load_documents(tmp_path / "paper.bin")[0].text == "content wins"
    assert load_documents(tmp_path / "fake.pdf")[0].text == "a text file with a .pdf name"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (make_scanned_pdf(1), "no text layer; run OCR first"),
        (make_pdf(["x"], owner_password="o", user_password="u"), "encrypted PDF"),
        (make_pdf(PAGES)[:200], "damaged PDF"),
    ],
)
def test_unreadable_pdfs_are_skips_that_name_the_file(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    path = tmp_path / "paper.pdf"
    path.write_bytes(data)
    with pytest.raises(NotTextError) as caught:
        load_documents(path)
    assert isinstance(caught.value, SearchAppError)  # the indexer's skip path
    assert reason in str(caught.value) and caught.value.path == path


class _JournalPDF(FPDF):
    """Pages with a journal's running head and a page number foot, as papers have."""

    def header(self) -> None:
        self.set_font("helvetica", size=8)
        self.cell(0, 6, "Journal of Aircraft, Vol. 17, No. 3")
        self.ln(10)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("helvetica", size=8)
        self.cell(0, 6, f"Page {self.page_no()} of {{nb}}")


def make_journal_pdf(pages: list[str]) -> bytes:
    document = _JournalPDF()
    for text in pages:
        document.add_page()
        document.set_font("helvetica", size=11)
        document.multi_cell(0, 6, text)
    return bytes(document.output())


JOURNAL_PAGES = [
    "Wing loading tests.\nThe spanwise distribution of the lift of the wing",
    "increases with the slipstream velocity.\nJournal of Aircraft, Vol. 17, No. 3 is cited.",
    "The drag of the nacelle was measured.",
    "Conclusions follow from the tests.",
]


def test_running_heads_and_page_numbers_are_not_text(tmp_path: Path) -> None:
    located = extract_pdf(make_journal_pdf(JOURNAL_PAGES))
    # The head kept once, on the first page; the page numbers nowhere; a line like the head
    # inside a page stays. The sentence left open on page 1 goes on after a line break.
    assert located.text == (
        "Journal of Aircraft, Vol. 17, No. 3\n"
        + JOURNAL_PAGES[0]
        + "\n"
        + "\n\n".join(JOURNAL_PAGES[1:])
    )
    assert [span.page for span in located.spans] == [1, 2, 3, 4]
    # The sentence that goes on overleaf is one passage, found by a phrase across the turn.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "paper.pdf").write_bytes(make_journal_pdf(JOURNAL_PAGES))
    index = make_index(tmp_path / "idx", FakeEncoder(max_length=64))
    index.add([docs])
    [hit] = index.search('"lift of the wing increases"', k=3, mode="lexical")
    assert hit.page == 1 and "slipstream velocity" in hit.text


def test_a_paper_of_two_pages_loses_its_page_numbers_and_second_head() -> None:
    # A helper's paper folder: two-page papers (letters, extended abstracts) kept "Page 1 of
    # 2" and the journal's head between the two halves of a sentence.
    located = extract_pdf(make_journal_pdf(JOURNAL_PAGES[:2]))
    assert located.text == "Journal of Aircraft, Vol. 17, No. 3\n" + "\n".join(JOURNAL_PAGES[:2])
    one = extract_pdf(make_journal_pdf(JOURNAL_PAGES[:1]))  # one page: nothing repeats
    # A reviewer's: bare numbers at the edges of two pages are an invoice's quantities.
    invoice = ["Invoice\nItem Qty\nWidget\n2", "Gadget\n3\nTotal due\n3"]
    assert strip_running_lines(invoice) == invoice
    # A historian's: "- 1 -" and "- 2 -" at their feet stayed between the halves of a sentence.
    letter = ["Dear sir, the city\nwas quiet\n- 1 -", "until the night of\nthe 18th.\n- 2 -"]
    assert strip_running_lines(letter) == [page.rsplit("\n", 1)[0] for page in letter]
    assert "Page 1 of 1" in one.text and "Vol. 17" in one.text


def test_a_head_that_differs_but_in_its_page_number_goes() -> None:
    # A Texinfo manual (libtasn1's): "Chapter 4: Function reference 9" on every other page
    # stayed in 15 passages, its number printed 3 less than the page.
    pages = [f"{n - 3}\nText of page {n}." for n in range(4, 12, 2)]
    pages = [
        part
        for n, even in zip(range(5, 13, 2), pages, strict=True)
        for part in (even, f"Chapter 4: Function reference {n - 3}\nMore of page {n}.")
    ]
    assert strip_running_lines(pages) == [
        page.split("\n", 1)[1] for page in pages
    ]  # every copy: its words are the chapter's heading, found where the chapter starts


def make_labelled_pdf(front: list[str], body: list[str]) -> bytes:
    """A book's PDF: ``front`` pages labelled i, ii, ..., then ``body`` pages labelled 1, 2..."""
    document = FPDF()
    document.set_font("helvetica", size=11)
    for n, text in enumerate([*front, *body]):
        document.add_page()
        if n == 0:
            document.set_page_label(label_style="r")
        elif n == len(front):
            document.set_page_label(label_style="D", label_start=1)
        document.multi_cell(0, 6, text)
    return bytes(document.output())


def test_page_labels_are_read_where_a_pdf_prints_other_numbers() -> None:
    front = ["Title page of the book.", "Contents: hysteresis 2."]
    body = ["First chapter text.", "Hysteresis of the rating curve.", "Last words."]
    located = extract_pdf(make_labelled_pdf(front, body))
    assert located.page_labels == ("i", "ii", "1", "2", "3")
    assert extract_pdf(make_pdf(PAGES)).page_labels == ()  # numbered as counted: none kept
    from searchapp.ingest.formats.pdf_worker import extract_pdf_isolated

    assert extract_pdf_isolated(make_labelled_pdf(front, body)).page_labels == located.page_labels
    # A reviewer's: labels that name no one page each are not kept (a hit named p.2 of the
    # second paper of a volume, `get --page 2` gave the first's).
    volume = FPDF()
    volume.set_font("helvetica", size=11)
    for n in range(4):
        volume.add_page()
        if n in (0, 2):
            volume.set_page_label(label_style="D", label_start=1)  # each paper from 1
        volume.multi_cell(0, 6, f"Text on sheet {n} of the volume.")
    assert extract_pdf(bytes(volume.output())).page_labels == ()
    covered = FPDF()
    covered.set_font("helvetica", size=11)
    for n in range(3):
        covered.add_page()
        if n == 0:
            covered.set_page_label(label_style="D", label_prefix="Front Cover ")  # unnamed
        elif n == 1:
            covered.set_page_label(label_style="D", label_start=1)
        covered.multi_cell(0, 6, f"Text on sheet {n} of the book.")
    assert extract_pdf(bytes(covered.output())).page_labels == ()


def test_a_head_with_its_page_number_on_alternate_sides_goes() -> None:
    # A researcher's 5-page paper: "81 H. Gupta et al. / J. Hydrol. ..." on even pages and
    # "H. Gupta et al. / J. Hydrol. ... 82" on odd ones, two of each, stayed inside sentences
    # going on overleaf (-F "The KGE gives the modeller" found nothing).
    head = "H. Gupta et al. / Journal of Hydrology 377 (2009) 80-91"
    bodies = [
        f"Text of page {n} about the KGE,\nwhich goes on overleaf {n * 7}" for n in range(1, 6)
    ]
    pages = [bodies[0]] + [
        f"{79 + n} {head}\n{body}" if n % 2 == 0 else f"{head} {79 + n}\n{body}"
        for n, body in enumerate(bodies[1:], start=2)
    ]
    assert strip_running_lines(pages) == bodies


def test_files_whose_reading_schema_19_changed_are_read_again(tmp_path, monkeypatch) -> None:
    from tests.searchapp.ingest.test_pipeline import report_after_migrating

    docs = tmp_path / "papers"
    docs.mkdir()
    (docs / "paper.pdf").write_bytes(make_pdf(["Text of the paper."] * 2))
    texts = {"a.rst": "T\n=\n", "b.qmd": "# T\n", "c.R": "f <- function(x) x\n"}
    texts |= {"d.html": "<p>x</p>\n", "e.adoc": "= T\n", "note.txt": "A note.\n"}
    for name, text in texts.items():
        (docs / name).write_text(text)
    _, report = report_after_migrating(tmp_path, monkeypatch, docs, 18)
    assert (report.updated, report.unchanged) == (6, 1)  # all but the plain note


def test_roman_page_numbers_of_front_matter_go_and_a_page_of_one_alone_is_blank() -> None:
    # A book's "iii", "iv" stayed as lines of text (one inside its contents passage), and
    # blank pages holding only "viii" and "ix" were a passage of their own.
    texts = ["Title of the book", "Copyright 2016.", "For Margaret.", "", "Contents 1 Rain 1"]
    numerals = ["i", "ii", "iii", "iv", "v"]
    pages = [f"{text}\n{numeral}".strip() for text, numeral in zip(texts, numerals, strict=True)]
    assert strip_running_lines(pages) == texts
    listed = ["Steps:\ni\nmix", "ii\nstir well", "Serve."]  # no page numbers: kept
    assert strip_running_lines(listed) == listed
    # A reviewer's: a sonnet a page, each headed I, II, III: its numbers, not the page's.
    sonnets = ["Sonnets by W. S.", "I\nFrom fairest", "II\nWhen forty", "III\nLook in", "IV\nUn"]
    assert strip_running_lines(sonnets) == sonnets


def test_which_lines_are_running() -> None:
    pages = [
        "THE GLIDER BOOK\nPreface text.\n- ix -",  # not a number that goes with the page
        "THE GLIDER BOOK\nChapter text one.\n- 2 -",
        "Chapter 1. Wings\nMore text.\nTHE GLIDER BOOK\n- 3 -",
        "THE GLIDER BOOK\n\nText.\n- 4 -",  # a blank line between the head and the text
        "Last text.\nTHE GLIDER BOOK\nquoted inside.\n\n- 5 -",
        "THE GLIDER BOOK\nEnd.\n- 6 -",
    ]
    assert strip_running_lines(pages) == [
        "THE GLIDER BOOK\nPreface text.\n- ix -",  # the first copy of a running line stays
        "Chapter text one.",
        "Chapter 1. Wings\nMore text.",
        "Text.",
        "Last text.\nTHE GLIDER BOOK\nquoted inside.",  # not at an edge: it stays
        "End.",
    ]


def test_lines_that_differ_but_in_their_page_number_are_kept() -> None:
    # Masking every digit took an invoice's number and total from each page but the first,
    # and a table's rows from page edges ("28.0 1039" was found by no query).
    invoices = [f"Invoice {n}\nAcme Ltd\nTotal: {n * 3}.00 EUR" for n in range(1021, 1025)]
    assert strip_running_lines(invoices) == invoices
    rows = [f"{n}.0 {1000 + n} 7\n{n}.5 {1000 + n} 8" for n in range(28, 33)]
    assert strip_running_lines(rows) == rows
    questions = [f"Question {n}\nWhat is lift?\nAnswer:" for n in range(1, 5)]
    kept = strip_running_lines(questions)
    assert [page.split("\n")[0] for page in kept] == [f"Question {n}" for n in range(1, 5)]
    # A closing line of every chapter is not a running foot; a head on every page is.
    chapters = ["Text one.\nThe end.", "Text two.", "Text three.", "Text four.\nThe end."]
    chapters += ["Text five.", "Text six.", "Text seven.\nThe end."]
    assert strip_running_lines(chapters) == chapters
