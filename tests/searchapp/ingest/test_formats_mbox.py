"""Mailboxes: one document a message (``formats/mbox.py``)."""

from __future__ import annotations

import gzip
import json
import mailbox
from email.message import EmailMessage
from pathlib import Path

import pytest

from searchapp.ingest.decoding import load_documents
from searchapp.ingest.discovery import iter_files
from tests.searchapp.cli_runner import run_cli as run
from tests.searchapp.conftest import FakeEncoder, use_encoder


def message(subject: str, body: str, *, html: str | None = None) -> EmailMessage:
    m = EmailMessage()
    m["From"] = "Bob Roofer <bob@roof.example>"
    m["To"] = "anna@home.example"
    m["Subject"] = subject
    m["Date"] = "Mon, 01 Jun 2026 10:00:00 +0000"
    m.set_content(body, cte="quoted-printable")
    if html is not None:
        m.add_alternative(html, subtype="html")
    return m


def write_mbox(path: Path, *messages: EmailMessage) -> Path:
    box = mailbox.mbox(str(path))
    for m in messages:
        box.add(m)
    box.flush()
    box.close()
    return path


def test_a_mailbox_is_a_document_for_each_message_named_by_its_number(tmp_path: Path) -> None:
    # Read as text, a hit printed `caf=C3=A9` and the next message's headers ran on into it.
    path = write_mbox(
        tmp_path / "Inbox.mbox",
        message("Invoice overdue", "Dear Anna,\nthe roof repair invoice is overdue. Café.\n"),
        message("Trip to Lisbon", "Flights booked.", html="<p>Flights <b>booked</b>.</p>"),
        message("Quarterly report", "Revenue grew 12 percent.\n"),
    )
    assert b"=C3=A9" in path.read_bytes() and path.read_bytes().startswith(b"From ")
    documents = load_documents(path)
    assert [d.doc_id for d in documents] == [f"{path}#1", f"{path}#2", f"{path}#3"]
    assert [d.title for d in documents] == ["Invoice overdue", "Trip to Lisbon", "Quarterly report"]
    first = documents[0].text
    assert first.startswith("From: Bob Roofer <bob@roof.example>\nTo: anna@home.example\n")
    assert "the roof repair invoice is overdue. Café." in first
    assert "=C3=A9" not in first and "Trip to Lisbon" not in first and "MAILER-DAEMON" not in first
    assert documents[1].text.endswith("Flights booked.\n")  # the plain part, not the HTML
    # A compressed one is read as what it holds.
    packed = tmp_path / "Old.mbox.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    assert [d.title for d in load_documents(packed)][2] == "Quarterly report"


THUNDERBIRD = (
    "From - Mon Jan  6 10:00:00 2025\r\n"
    "X-Mozilla-Status: 0001\r\n"
    "From: Carol <carol@example.org>\r\n"
    "Subject: Dentist\r\n"
    "\r\n"
    "Your appointment moved to Friday.\r\n"
    "From Monday on, the practice opens at 8.\r\n"
    ">From the archive: bring your card.\r\n"
    "\r\n"
    "From - Tue Jan  7 09:30:00 2025\r\n"
    "X-Mozilla-Status: 0009\r\n"
    "From: Spam <spam@example.net>\r\n"
    "Subject: You won\r\n"
    "\r\n"
    "Deleted, not yet compacted away.\r\n"
    "\r\n"
    "From 1780000000000000000@xxx Wed Jan 08 14:34:12 +0000 2025\r\n"
    "X-Gmail-Labels: Inbox\r\n"
    "From: Dan <dan@example.org>\r\n"
    "Subject: Keys\r\n"
    "\r\n"
    "The spare keys are under the mat.\r\n"
)


def test_a_thunderbird_folder_file_without_a_suffix_leaves_out_deleted_messages(
    tmp_path: Path,
) -> None:
    # Thunderbird keeps a folder as a file named as it (`Inbox`) beside its summary, and a
    # deleted message stays in the file, marked, until the folder is compacted.
    mail = tmp_path / "Mail"
    mail.mkdir()
    (mail / "Inbox").write_bytes(THUNDERBIRD.encode())
    (mail / "Inbox.msf").write_text('// <!-- <mdb:mork:z v="1.4"/> -->\n< <(a=c)> (80=0)>\n')
    skipped: list[tuple[Path, str]] = []
    found = list(iter_files([mail], on_skip=lambda path, why: skipped.append((path, why))))
    assert found == [mail / "Inbox"]
    assert [(p.name, why.split(" (")[0]) for p, why in skipped] == [
        ("Inbox.msf", "mail folder summary")
    ]
    documents = load_documents(mail / "Inbox")
    assert [(d.doc_id.rsplit("#", 1)[1], d.title) for d in documents] == [
        ("1", "Dentist"),
        ("3", "Keys"),  # numbered as the file orders them: #2 was deleted
    ]
    body = documents[0].text
    # A body's "From Monday" line is no message's start; ">From " loses its escape.
    assert "From Monday on, the practice opens at 8.\nFrom the archive: bring your card." in body
    assert "\r" not in body and "Deleted" not in body


def test_a_gmail_export_names_labels_and_leaves_out_spam_and_trash(tmp_path: Path) -> None:
    # Gmail's "All mail Including Spam and Trash.mbox": a helper's trial found 65 spam
    # messages among the hits, and `-F "Projects/Chen"` (a label) nothing.
    def gmail(labels: str, subject: str) -> str:
        return (
            f"From 1780000000000000000@xxx Wed Jan 08 14:34:12 +0000 2025\n"
            f"X-Gmail-Labels: {labels}\nFrom: a@b.example\nSubject: {subject}\n\nBody.\n\n"
        )

    path = tmp_path / "All mail Including Spam and Trash.mbox"
    path.write_text(
        gmail("Inbox,Projects/Chen", "Window quote")
        + gmail("Spam", "You won")
        + gmail('Opened,"Trash"', "Old newsletter")
        + gmail("Archived,\n Important", "Permit")
    )
    documents = load_documents(path)
    assert [(d.doc_id.rsplit("#", 1)[1], d.title) for d in documents] == [
        ("1", "Window quote"),
        ("4", "Permit"),
    ]
    assert "\nLabels: Inbox,Projects/Chen\n" in documents[0].text


@pytest.mark.parametrize(
    "text",
    [
        "From the desk of the editor:\nSubject: this is a letter, not a mailbox\n",
        "From - Mon Jan  6 10:00:00 2025\n\nno header follows the line\n",
    ],
)
def test_text_beginning_with_from_is_not_a_mailbox(tmp_path: Path, text: str) -> None:
    path = tmp_path / "letter"
    path.write_text(text)
    [document] = load_documents(path)
    assert (document.doc_id, document.text) == (str(path), text)


def test_an_empty_mbox_has_no_messages_and_an_eml_named_mbox_is_one(tmp_path: Path) -> None:
    (tmp_path / "Trash.mbox").write_bytes(b"")
    assert load_documents(tmp_path / "Trash.mbox") == []
    (tmp_path / "one.mbox").write_bytes(bytes(message("Alone", "Just one.")))
    [document] = load_documents(tmp_path / "one.mbox")
    assert (document.doc_id, document.title) == (f"{tmp_path / 'one.mbox'}#1", "Alone")


def test_search_names_a_message_and_get_prints_it(tmp_path: Path, monkeypatch, capsys) -> None:
    use_encoder(monkeypatch, FakeEncoder(dim=32, max_length=64))
    mail = tmp_path / "mail"
    mail.mkdir()
    write_mbox(
        mail / "Inbox.mbox",
        message("Invoice overdue", "The roof repair invoice is overdue.\n"),
        message("Trip", "Flights to Lisbon are booked.\n"),
    )
    index = ("--index-dir", str(tmp_path / "idx"))
    code, _, err = run(capsys, "index", str(mail), *index)
    assert code == 0, err
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "query", "Lisbon flights", "-k", "1", "--mode", "lexical", *index)
    assert code == 0 and out.startswith("mail/Inbox.mbox #2:6: ")  # its line in the message
    # -C: its message's lines around it, as grep -C writes them
    args = ("query", "Lisbon flights", "-k", "1", "--mode", "lexical", "-C", "2", *index)
    code, out, _ = run(capsys, *args)
    lines = out.splitlines()
    assert lines[:2] == ["mail/Inbox.mbox #2-4-Subject: Trip"] + ["mail/Inbox.mbox #2-5-"]
    assert lines[2].startswith("mail/Inbox.mbox #2:6: ") and len(lines) == 3
    code, out, _ = run(capsys, "get", "mail/Inbox.mbox #2", *index)
    assert code == 0 and out.splitlines()[-1] == "Flights to Lisbon are booked."
    code, out, _ = run(capsys, "query", "roof", "-k", "1", "--json", *index)
    [hit] = json.loads(out)
    assert (hit["record_id"], hit["title"]) == ("1", "Invoice overdue")


def test_mailboxes_indexed_as_text_are_read_again(tmp_path: Path, monkeypatch) -> None:
    from searchapp.ingest.formats import mbox
    from searchapp.storage import schema
    from tests.searchapp.ingest.test_pipeline import make_index

    docs = tmp_path / "mail"
    docs.mkdir()
    write_mbox(docs / "Archive.mbox", message("Old", "An old message.\n"))
    (docs / "Sent").write_bytes(THUNDERBIRD.encode())  # Thunderbird's, without a suffix
    (docs / "notes.txt").write_text("From here on, plain notes.\n")
    (docs / "saved.eml").write_bytes(bytes(message("Saved", "A saved message.\n")))
    (docs / "call.srt").write_text("1\n00:00:01,000 --> 00:00:04,000\nA call.\n")
    every = schema.MIGRATIONS
    # Indexed by the version before: mailboxes were text, one document each.
    monkeypatch.setattr(
        schema, "MIGRATIONS", every[: every.index(schema.m022_mailboxes_read_again)]
    )
    monkeypatch.setattr(mbox, "is_mailbox", lambda data, suffix: False)
    index = make_index(tmp_path / "idx")
    index.add([docs])
    index.close()
    monkeypatch.undo()
    index = make_index(tmp_path / "idx")
    report = index.add([docs])
    assert (report.updated, report.unchanged) == (4, 1)
    rows = index.store.db.execute("SELECT doc_id FROM documents ORDER BY doc_id").fetchall()
    assert [doc_id.rsplit("/", 1)[1] for (doc_id,) in rows] == [
        "Archive.mbox#1",
        "Sent#1",
        "Sent#3",
        "call.srt",
        "notes.txt",
        "saved.eml",
    ]


def mailbox_rows(index) -> list[tuple[str, int, int, str]]:
    rows = index.store.db.execute(
        "SELECT doc_id, id, size, sha256 FROM documents ORDER BY id"
    ).fetchall()
    return [(doc_id.rsplit("#", 1)[1], row_id, size, sha) for doc_id, row_id, size, sha in rows]


def test_mail_appended_to_a_mailbox_is_read_alone(tmp_path: Path) -> None:
    # Thunderbird writes new mail at a folder file's end: the messages indexed before keep
    # their passages (a 1 GiB Inbox was read, chunked and tokenized whole for each new one).
    from tests.searchapp.ingest.test_pipeline import make_index

    mail = tmp_path / "Mail"
    mail.mkdir()
    inbox = mail / "Inbox"
    inbox.write_bytes(THUNDERBIRD.encode())  # messages 1 and 3 (2 is deleted)
    index = make_index(tmp_path / "idx")
    index.add([mail])
    before = mailbox_rows(index)
    assert [number for number, *_ in before] == ["1", "3"]
    with inbox.open("ab") as file:
        file.write(
            b"\r\nFrom - Thu Jan  9 08:00:00 2025\r\nX-Mozilla-Status: 0001\r\n"
            b"Subject: Roof\r\n\r\nThe roofer comes on Monday.\r\n"
        )
    report = index.add([mail])
    assert (report.updated, report.chunks, report.reused) == (1, 1, 0)
    after = mailbox_rows(index)
    size = inbox.stat().st_size
    assert after[:2] == [(n, row_id, size, after[2][3]) for n, row_id, _, _ in before]
    assert after[2][0] == "4" and after[2][2] == size  # numbered on, as the file orders it
    [hit] = index.search("roofer Monday", k=1, mode="lexical")
    assert (hit.record_id, hit.title) == ("4", "Roof")
    assert index.add([mail]).unchanged == 1
    # Compacted (a deleted message gone from the middle): read whole, numbered anew.
    data = inbox.read_bytes()
    start = data.index(b"From - Tue Jan  7")
    inbox.write_bytes(data[:start] + data[data.index(b"From 1780000000000000000@xxx") :])
    report = index.add([mail])
    assert report.updated == 1
    assert [number for number, *_ in mailbox_rows(index)] == ["1", "2", "3"]
    [hit] = index.search("roofer Monday", k=1, mode="lexical")
    assert hit.record_id == "3"


def test_a_mailbox_past_the_size_limit_of_other_files_is_read(tmp_path, monkeypatch) -> None:
    from searchapp.ingest import decoding
    from tests.searchapp.ingest.test_pipeline import make_index

    monkeypatch.setattr(decoding, "DEFAULT_MAX_BYTES", 500)
    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "Sent").write_bytes(THUNDERBIRD.encode())  # 535 bytes
    (mail / "notes.txt").write_text("Notes about the dentist and the keys.\n" * 20)
    assert (mail / "Sent").stat().st_size > 500
    index = make_index(tmp_path / "idx")
    report = index.add([mail])
    assert report.added == 1
    assert [(Path(p).name, why.split(" (")[0]) for p, why in report.skipped] == [
        ("notes.txt", "larger than the 0.0 MiB limit")
    ]


def test_a_patch_is_no_mailbox_and_nothing_before_a_from_line_is_lost(tmp_path: Path) -> None:
    # A reviewer's: `git format-patch`'s output begins with a "From " line and a header, and
    # was read as a message (its hits' lines were a message's); a message saved without its
    # "From " line before the first one was dropped, and new mail took its number.
    patch = tmp_path / "0001-fix-retry.patch"
    text = (
        "From 1a2b3c4d Mon Sep 17 00:00:00 2001\nFrom: Dev <dev@example.org>\n"
        "Subject: [PATCH] fix retry\n\n---\n+int backoff = 250;\n"
    )
    patch.write_text(text)
    [document] = load_documents(patch)
    assert (document.doc_id, document.text) == (str(patch), text)
    box = tmp_path / "Saved.mbox"
    lone = b"\xef\xbb\xbfSubject: lone\n\nthe walrus contract\n"
    box.write_bytes(lone + b"\nFrom c@d Wed Jan  8 10:00:00 2025\nSubject: gamma\n\nokapi\n")
    assert [(d.doc_id.rsplit("#", 1)[1], d.title) for d in load_documents(box)] == [
        ("1", "lone"),
        ("2", "gamma"),
    ]
    from searchapp.ingest.decoding import appended_mail

    data = box.read_bytes() + b"\nFrom e@f Thu Jan  9 10:00:00 2025\nSubject: delta\n\nyak\n"
    [new] = appended_mail(box, data, box.stat().st_size)
    assert (new.doc_id.rsplit("#", 1)[1], new.title) == ("3", "delta")


def test_a_message_read_in_thunderbird_changes_nothing_and_new_mail_is_still_read_alone(
    tmp_path: Path,
) -> None:
    # A reviewer's: Thunderbird rewrites a message's status line in place when it is read,
    # so the whole Inbox was read again, and new mail was never read alone.
    from tests.searchapp.ingest.test_pipeline import make_index

    mail = tmp_path / "Mail"
    mail.mkdir()
    inbox = mail / "Inbox"
    inbox.write_bytes(THUNDERBIRD.encode())
    index = make_index(tmp_path / "idx")
    index.add([mail])
    read = inbox.read_bytes().replace(b"X-Mozilla-Status: 0001", b"X-Mozilla-Status: 0000")
    inbox.write_bytes(read)  # message 1 read: its status rewritten, same length
    report = index.add([mail])
    assert (report.unchanged, report.updated, report.chunks) == (1, 0, 0)
    with inbox.open("ab") as file:
        file.write(b"\r\nFrom - Thu Jan  9 08:00:00 2025\r\nSubject: Roof\r\n\r\nThe roofer.\r\n")
    report = index.add([mail])
    assert (report.updated, report.chunks, report.reused) == (1, 1, 0)  # the new one alone
    # Deleted in Thunderbird (marked, not yet compacted): read again, and gone from the hits.
    inbox.write_bytes(
        inbox.read_bytes().replace(b"X-Mozilla-Status: 0000", b"X-Mozilla-Status: 0009")
    )
    assert index.add([mail]).updated == 1
    assert index.search("dentist appointment", k=5, mode="lexical") == []
