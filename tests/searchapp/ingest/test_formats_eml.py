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


def test_a_file_attached_to_a_message_is_read_under_a_section_named_for_it(tmp_path) -> None:
    # An architect's invoice is the PDF attached to the mail, not the mail ("please find
    # attached"): only the file's name was indexed. Its text now is, as the file's would be;
    # not an image's bytes, a signature, a secrets file, nor what an attached message has
    # attached (one level is read: a hostile message nests them).
    from searchapp.ingest.formats.spans import locate
    from tests.searchapp.ingest.test_formats_pdf import make_pdf

    forwarded = message("The surveyor's notes are attached.")
    forwarded.add_attachment(b"Survey: the cellar is damp.\n", "text", "plain", filename="s.txt")
    saved = message("An old message, saved as a file.")
    saved.add_attachment(b"Old note: the gutter leaks.\n", "text", "plain", filename="o.txt")
    m = message("Please find attached the invoice and the schedule.")
    pdf = make_pdf(["Invoice 2291. Roof repairs, slate and lead flashing: EUR 4,400."])
    m.add_attachment(pdf, maintype="application", subtype="pdf", filename="Invoice 2291.pdf")
    m.add_attachment(b"task,week\nscaffolding,12\nroof,13\n", "text", "csv", filename="plan.csv")
    m.add_attachment(b"\x89PNG\r\n\x1a\n" + bytes(200), "image", "png", filename="logo.png")
    m.add_attachment(b"DB_PASSWORD=hunter2\n", "application", "octet-stream", filename="prod.env")
    m.add_attachment(
        b"-----BEGIN PGP SIGNATURE-----\nabc\n", "application", "pgp-signature", filename="s.asc"
    )
    m.add_attachment(bytes(saved), "application", "octet-stream", filename="old.eml")
    m.add_attachment(forwarded)  # forwarded whole: read as the message's own
    path = tmp_path / "invoice.eml"
    path.write_bytes(bytes(m))
    [document] = load_documents(path)
    text = document.text
    assert "Roof repairs, slate and lead flashing: EUR 4,400." in text
    assert "scaffolding,12" in text
    lines = text.splitlines()
    for name in ("logo.png", "prod.env", "s.asc"):
        assert lines[lines.index(f"Attachment: {name}") + 1] == ""  # named, nothing read
    assert "hunter2" not in text and "PGP" not in text and "PNG" not in text
    from searchapp.ingest.discovery import is_secret_name

    # an attachment's name keeps Windows' case
    assert all(map(is_secret_name, ("PROD.ENV", "ID_RSA", "key.PEM", "x.TFSTATE")))
    # a file attached to an attached file is named, not read (a message in a mailbox in ...)
    assert "An old message, saved as a file." in text and "Attachment: o.txt" in text
    assert "the gutter leaks" not in text
    assert "The surveyor's notes are attached." in text and "the cellar is damp" in text
    at = text.index("Invoice 2291. Roof")
    assert locate(document.spans, at).section == "Invoice 2291.pdf"
    assert locate(document.spans, text.index("scaffolding")).section == "plan.csv"
    assert locate(document.spans, text.index("Please find attached")).section is None
    assert locate(document.spans, text.index("Attachment: logo.png")).section is None


def test_an_attachment_word_finds_its_message_in_a_mailbox(tmp_path) -> None:
    from searchapp.ingest.formats import eml
    from searchapp.storage import schema
    from tests.searchapp.ingest.test_formats_mbox import write_mbox
    from tests.searchapp.ingest.test_formats_pdf import make_pdf
    from tests.searchapp.ingest.test_pipeline import make_index

    mail = tmp_path / "mail"
    mail.mkdir()
    m = message("See the attached quote.")
    quote = make_pdf(["Quote for the conservatory: oak frame, double glazing."])
    m.add_attachment(quote, maintype="application", subtype="pdf", filename="quote.pdf")
    write_mbox(mail / "Inbox.mbox", message("No attachment here."), m)
    every = schema.MIGRATIONS
    # Indexed by the version before, which named attachments and read none.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            schema, "MIGRATIONS", every[: every.index(schema.m023_attachments_and_maildirs_read)]
        )
        patch.setattr(eml, "attachment_text", lambda part, name, budget: "")
        index = make_index(tmp_path / "idx")
        index.add([mail])
        assert index.search("conservatory oak frame", k=3, mode="lexical") == []
        index.close()
    index = make_index(tmp_path / "idx")
    report = index.add([mail])
    assert report.updated == 1
    [hit] = index.search("conservatory oak frame", k=3, mode="lexical")
    assert (hit.record_id, hit.section, hit.title) == ("2", "quote.pdf", m["Subject"])
    # A saved .eml's hit is named by its subject too, as a mailbox message's is.
    from rich.console import Console

    from searchapp.interfaces.render import print_hits

    (mail / "saved.eml").write_bytes(bytes(message("The conservatory frame is oak.")))
    index.add([mail])
    hits = index.search("conservatory oak frame", k=3, mode="lexical")
    assert {Path(hit.path).name for hit in hits} == {"Inbox.mbox", "saved.eml"}
    console = Console(width=120, record=True)
    print_hits(console, hits, "conservatory oak frame")
    assert console.export_text().count(f"✉ {m['Subject']}") == 2


def test_attachments_are_read_within_a_budget_in_their_charset_and_not_as_generated(
    tmp_path,
) -> None:
    # A reviewer's: a one-line JSON invoice attached made the whole .eml be skipped as
    # generated; 20 gzipped logs of 3 MB unpacked to 800 MB of text; a Japanese attachment
    # in ISO-2022-JP was indexed as escape codes.
    import gzip

    from searchapp.ingest.formats import eml

    m = message("Please see the e-invoice and the notes.")
    invoice = '{"invoice": 7781, "lines": [' + ", ".join(['{"sku": "X1", "qty": 2}'] * 2000)
    m.add_attachment((invoice + "]}").encode(), "application", "json", filename="e-invoice.json")
    note = "請求書の合計金額は一万円です。"
    m.add_attachment(note.encode("iso-2022-jp"), "text", "plain", filename="note.txt")
    m.get_payload()[-1].set_param("charset", "iso-2022-jp")
    big = gzip.compress(b"the retry log line\n" * 200_000)  # 3.8 MB of text each
    for n in range(4):
        m.add_attachment(big, "application", "gzip", filename=f"log{n}.txt.gz")
    path = tmp_path / "invoice.eml"
    path.write_bytes(bytes(m))
    budget = 10 * 1024 * 1024  # two logs' text fit, not four
    original = eml.MAX_ATTACHED_BYTES
    eml.MAX_ATTACHED_BYTES = budget
    try:
        [document] = load_documents(path)
    finally:
        eml.MAX_ATTACHED_BYTES = original
    text = document.text
    assert "Please see the e-invoice" in text and "Attachment: e-invoice.json" in text
    assert '"sku"' not in text  # generated: named, not read
    assert note in text
    assert 0 < text.count("the retry log line") <= budget // len("the retry log line\n")
    assert "Attachment: log3.txt.gz" in text


def test_a_maildirs_messages_are_read_as_mail(tmp_path) -> None:
    # mbsync's and Dovecot's Maildir (as mutt, notmuch and aerc read it): one file a message,
    # no suffix; it was read as text, its quoted-printable and base64 the passages.
    from rich.console import Console

    from searchapp.ingest.formats import dispatch
    from searchapp.interfaces.render import print_hits
    from searchapp.storage import schema
    from tests.searchapp.ingest.test_pipeline import make_index

    inbox = tmp_path / "Mail" / "work" / "INBOX"
    for folder in ("cur", "new", "tmp"):
        (inbox / folder).mkdir(parents=True)
    m = message("The “retaining wall” survey is due on Friday.", cte="quoted-printable")
    m.add_attachment(b"Survey: gabion wall, 22 m.\n", "text", "plain", filename="survey.txt")
    read = inbox / "cur" / "1700000000.M20P1.host:2,S"
    read.write_bytes(bytes(m))
    (inbox / "new" / "1700000100.M21P1.host").write_bytes(bytes(message("New mail: the gate.")))
    loose = tmp_path / "notes" / "cur"  # so named, but no Maildir: a file as it is
    loose.mkdir(parents=True)
    (loose / "1700000000.draft").write_bytes(b"Subject: a draft\n\nplain text =E2=80=9C\n")
    every = schema.MIGRATIONS
    with pytest.MonkeyPatch.context() as patch:  # indexed by the version before: text
        version = every.index(schema.m023_attachments_and_maildirs_read)
        patch.setattr(schema, "MIGRATIONS", every[:version])
        patch.setattr(dispatch, "is_maildir_message", lambda path, data: False)
        index = make_index(tmp_path / "idx")
        index.add([tmp_path])
        index.close()
    index = make_index(tmp_path / "idx")
    report = index.add([tmp_path])
    assert report.updated == 3  # the draft too, named as a message is: read again alike
    [hit] = index.search("retaining wall survey", k=1, mode="lexical")
    assert (hit.path, hit.title) == (str(read), m["Subject"])
    [document] = load_documents(read)
    assert "The “retaining wall” survey is due on Friday." in document.text
    assert "=E2" not in document.text and "Survey: gabion wall, 22 m." in document.text
    [draft] = load_documents(loose / "1700000000.draft")
    assert draft.text.startswith("Subject: a draft\n") and "=E2=80=9C" in draft.text
    console = Console(width=140, record=True)
    print_hits(console, [hit], "retaining wall survey")
    assert f"✉ {m['Subject']}" in console.export_text()
