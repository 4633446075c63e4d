"""Outlook messages saved as files (``formats/msg.py``), read as a saved ``.eml`` is."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from searchapp.ingest.decoding import NotTextError, load_documents
from tests.searchapp.ingest.compound_file import compound_file, outlook_message

SENT = datetime(2025, 4, 15, 16, 12, tzinfo=UTC)
FILETIME = (SENT - datetime(1601, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 10


def test_a_message_is_its_headers_body_and_attached_files(tmp_path) -> None:
    # Mail dragged out of Outlook into a case folder was skipped: "Outlook message (.msg):
    # not indexed; save it as text or PDF to search it".
    from tests.searchapp.ingest.test_formats_pdf import make_pdf

    body = "Ada,\r\n\r\nThe maintenance logs support a $850,000 demand.\r\n" + "More.\r\n" * 700
    pdf = make_pdf(["Demand letter: the sum of eight hundred fifty thousand dollars."])
    path = tmp_path / "RE Okafor.msg"
    path.write_bytes(
        outlook_message(
            subject="RE: Okafor v. Brightline – mediation",
            body=body,
            sent_filetime=FILETIME,
            attachments=(
                ("Demand letter.pdf", "application/pdf", pdf),
                ("image001.png", "image/png", os.urandom(3_000)),
                ("prod.env", "text/plain", b"DB_PASSWORD=Tr0ub4dor\n"),
            ),
        )
    )
    [document] = load_documents(path)
    assert document.title == "RE: Okafor v. Brightline – mediation"
    assert document.text.split("\n")[:8] == [
        "From: James Park <james@firm.example>",
        "To: Ada Okafor",
        "Date: Tue, 15 Apr 2025 16:12:00 +0000",
        "Subject: RE: Okafor v. Brightline – mediation",
        "",
        "Ada,",
        "",
        "The maintenance logs support a $850,000 demand.",
    ]
    assert "\r" not in document.text and document.text.count("More.") == 700
    at = document.text.index("Attachment: Demand letter.pdf\n")
    assert "eight hundred fifty thousand dollars" in document.text[at:]
    assert [(s.start_char, s.section) for s in document.spans][0] == (at, "Demand letter.pdf")
    assert "Attachment: image001.png" in document.text
    assert "Attachment: prod.env" in document.text and "Tr0ub4dor" not in document.text


def test_an_html_body_is_read_as_text_and_8_bit_strings_in_their_code_page(tmp_path) -> None:
    path = tmp_path / "invoice.msg"
    html = "<html><head><meta charset='utf-8'></head><body><p>Invoice № 2291</p></body></html>"
    path.write_bytes(
        outlook_message(subject="", html=html.encode(), eight_bit=(1251, "Счёт на оплату"))
    )
    [document] = load_documents(path)
    assert document.title == "Счёт на оплату"
    assert "Subject: Счёт на оплату" in document.text and "Invoice № 2291" in document.text
    assert "<p>" not in document.text


def test_other_compound_files_are_told_as_before(tmp_path) -> None:
    word = tmp_path / "brief.doc"  # Word 97: no message's properties in it
    word.write_bytes(compound_file({"WordDocument": b"\xec\xa5" + b"\0" * 5000}))
    with pytest.raises(NotTextError, match=r"Word 97-2003 document \(.doc\): not indexed"):
        load_documents(word)
    unnamed = tmp_path / "saved mail"  # a message without its suffix: told by its properties
    unnamed.write_bytes(outlook_message(subject="Site visit", body="The gate code is 4471."))
    [document] = load_documents(unnamed)
    assert document.title == "Site visit" and "The gate code is 4471." in document.text
    damaged = tmp_path / "cut.msg"
    damaged.write_bytes(outlook_message(subject="Cut", body="x" * 9000)[:1500])
    with pytest.raises(NotTextError, match="Outlook message whose text could not be extracted"):
        load_documents(damaged)


def test_a_message_file_is_found_by_its_subject(tmp_path) -> None:
    from rich.console import Console

    from searchapp.interfaces.render import print_hits
    from tests.searchapp.ingest.test_pipeline import make_index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "Site visit.msg").write_bytes(
        outlook_message(subject="Party wall award", body="The surveyor signed the award.")
    )
    index = make_index(tmp_path / "idx")
    report = index.add([docs])
    assert (report.added, report.skipped) == (1, [])
    [hit] = index.search("surveyor signed", k=1, mode="lexical")
    assert hit.title == "Party wall award"
    console = Console(width=120, record=True)
    print_hits(console, [hit], "surveyor signed")
    assert "✉ Party wall award" in console.export_text()
