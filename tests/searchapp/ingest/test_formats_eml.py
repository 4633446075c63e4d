"""E-mail messages saved as files (``formats/eml.py``)."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from searchapp.ingest.decoding import load_documents


def message(body: str, *, html: str | None = None, cte: str = "quoted-printable") -> EmailMessage:
    m = EmailMessage()
    m["From"] = "James Park <james@firm.example>"
    m["To"] = "Ada Okafor <ada@client.example>"
    m["Subject"] = "RE: Okafor v. Brightline – discovery & mediation"  # an encoded word
    m["Date"] = "Tue, 15 Apr 2025 09:12:00 -0700"
    m.set_content(body, cte=cte)
    if html is not None:
        m.add_alternative(html, subtype="html")
    return m


def test_a_message_is_its_headers_and_body_as_a_reader_sees_them(tmp_path: Path) -> None:
    # A paralegal's trial: indexed as MIME, `maintenan=` / `ce logs` and `=E2=80=9C` were
    # its words, "$850,000 demand" was in no passage, and a hit printed `<html><body><p>`.
    body = "James,\n\nThe maintenance logs and “the Agreement” support a $850,000 demand. " * 4
    m = message(body, html="<html><body><p>James,</p><p>An $850,000 demand.</p></body></html>")
    m.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="Demand.pdf")
    path = tmp_path / "RE Okafor.eml"
    path.write_bytes(bytes(m))
    assert b"=E2=80=9C" in path.read_bytes()  # quoted-printable on disk
    [document] = load_documents(path)
    assert document.title == "RE: Okafor v. Brightline – discovery & mediation"
    lines = document.text.split("\n")
    assert lines[:4] == [
        "From: James Park <james@firm.example>",
        "To: Ada Okafor <ada@client.example>",
        "Date: Tue, 15 Apr 2025 09:12:00 -0700",
        "Subject: RE: Okafor v. Brightline – discovery & mediation",
    ]
    assert "The maintenance logs and “the Agreement” support a $850,000 demand." in document.text
    assert "<html>" not in document.text and "=E2" not in document.text
    assert "Content-Type" not in document.text and "boundary" not in document.text
    assert lines[-2] == "Attachment: Demand.pdf" and "%PDF" not in document.text


def test_an_html_only_message_and_one_forwarded_inside_it(tmp_path: Path) -> None:
    inner = message("The settlement offer stands until Friday.", cte="base64")
    outer = EmailMessage()
    outer["Subject"] = "Fwd: offer"
    outer.set_content("<p>See below &amp; advise.</p>", subtype="html")
    outer.add_attachment(inner)
    path = tmp_path / "fwd.eml"
    path.write_bytes(bytes(outer))
    [document] = load_documents(path)
    assert "See below & advise." in document.text and "<p>" not in document.text
    assert "Forwarded message:" in document.text
    assert "The settlement offer stands until Friday." in document.text  # base64 decoded


def test_a_message_with_a_charset_python_does_not_know_is_read_as_utf8(tmp_path: Path) -> None:
    raw = (
        b"From: a@b.example\r\nSubject: odd\r\nContent-Type: text/plain; charset=x-unknown\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xc3\xa9 notes\r\n"
    )
    path = tmp_path / "odd.eml"
    path.write_bytes(raw)
    [document] = load_documents(path)
    assert document.text == "From: a@b.example\nSubject: odd\n\nCafé notes\n"
    # ...as are one that names no charset (its 8-bit text was "Caf��"), a header's 8-bit
    # bytes, and an encoded word in a charset Python does not know.
    path.write_bytes(
        b"From: J\xc3\xb6rg <j@b.example>\r\nSubject: =?x-unknown?q?R=C3=A9sum=C3=A9?=\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xc3\xa9 notes\r\n"
    )
    [document] = load_documents(path)
    assert document.title == "Résumé"
    assert document.text == "From: Jörg <j@b.example>\nSubject: Résumé\n\nCafé notes\n"
    # ...and one in a codec of no text (idna raised, and the whole file was skipped)
    path.write_bytes(
        b"Subject: odd\r\nContent-Type: text/plain; charset=idna\r\n\r\nhello\xc3\xa9\r\n"
    )
    [document] = load_documents(path)
    assert document.text == "Subject: odd\n\nhelloé\n"


@pytest.mark.parametrize("data", [b"", b"\n\n"])
def test_an_empty_eml_is_an_empty_document_not_a_damaged_one(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "empty.eml"
    path.write_bytes(data)
    assert all(not d.text.strip() for d in load_documents(path))  # no NotTextError


def test_text_after_an_inline_image_is_the_bodys(tmp_path: Path) -> None:
    # A reviewer's: Apple Mail writes text, an inline image, text; the second text was lost.
    m = EmailMessage()
    m["Subject"] = "Roof"
    m.set_content("Photos of the roof below.")
    m.add_attachment(b"\xff\xd8", maintype="image", subtype="jpeg", filename="IMG_1.jpg")
    m.add_attachment("The contractor quoted $4,400.", subtype="plain", disposition="inline")
    path = tmp_path / "roof.eml"
    path.write_bytes(bytes(m))
    [document] = load_documents(path)
    assert "Photos of the roof below." in document.text
    assert "The contractor quoted $4,400." in document.text
    assert "Attachment: IMG_1.jpg" in document.text
