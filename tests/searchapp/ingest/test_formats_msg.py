"""Outlook messages saved as files (``formats/msg.py``), read as a saved ``.eml`` is."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from searchapp.ingest.decoding import NotTextError, load_documents
from tests.searchapp.ingest.compound_file import compound_file, message_streams, outlook_message

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


def test_a_message_attached_whole_is_read_after_it(tmp_path) -> None:
    # Outlook's "Forward as attachment": the message forwarded is a storage in the
    # attachment's, its properties as a message's; it was named, not read.
    from tests.searchapp.ingest.test_formats_pdf import make_pdf

    original = message_streams(
        subject="Boundary survey",
        body="The fence stands 40 cm over the line.",
        sender=("Kim Surveyor", "kim@survey.example"),
        attachments=(("Plan.pdf", "application/pdf", make_pdf(["Plot 14, north boundary."])),),
        header=24,
    )
    path = tmp_path / "FW Boundary survey.msg"
    path.write_bytes(
        outlook_message(subject="FW: Boundary survey", body="See below.", forwarded=(original,))
    )
    [document] = load_documents(path)
    assert document.title == "FW: Boundary survey"
    at = document.text.index("Forwarded message:\nFrom: Kim Surveyor <kim@survey.example>\n")
    assert "Subject: Boundary survey\n\nThe fence stands 40 cm over the line." in document.text[at:]
    assert "Attachment: Plan.pdf\nPlot 14, north boundary." in document.text[at:]
    assert [s.section for s in document.spans] == ["Plan.pdf"]


def test_a_body_in_rich_text_alone_is_read_from_its_compressed_rtf(tmp_path) -> None:
    # Outlook keeps mail written in rich text as PR_RTF_COMPRESSED alone: no plain-text body.
    import compressed_rtf  # the test extra's reference

    from searchapp.ingest.formats.msg import decompressed_rtf

    rtf = (
        b"{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Calibri;}}\\pard "
        b"The \\b retaining wall\\b0  survey is due on Friday.\\par "
        + b"Gabion baskets, 22 m, as agreed.\\par " * 40
        + b"}"
    )
    packed = compressed_rtf.compress(rtf)
    path = tmp_path / "rich.msg"
    path.write_bytes(outlook_message(subject="Wall survey", rtf=packed))
    [document] = load_documents(path)
    assert "The retaining wall survey is due on Friday." in document.text
    assert document.text.count("Gabion baskets, 22 m, as agreed.") == 40
    assert "\\par" not in document.text and "fonttbl" not in document.text
    # the unpacking against the reference, on what it compresses and on random bytes
    for data in (rtf, os.urandom(5_000), b"{\\rtf1 " + b"ab" * 3_000 + b"}", b""):
        assert decompressed_rtf(compressed_rtf.compress(data)) == data
    assert decompressed_rtf(b"MELA") == b"" and decompressed_rtf(packed[:40]) != rtf
