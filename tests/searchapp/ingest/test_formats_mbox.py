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
    # A table names the message by its subject: `#1:6` alone named no mail a person knows.
    from rich.console import Console

    from searchapp.interfaces.render import print_hits
    from searchapp.search_index import SearchIndex

    hits = SearchIndex(tmp_path / "idx").search("roof Lisbon", k=2, mode="lexical")
    for width in (120, 50):  # a table, and hits one under another on a narrow terminal
        console = Console(width=width, record=True)
        print_hits(console, hits, "roof Lisbon")
        shown = console.export_text()
        assert "✉ Invoice overdue" in shown and "✉ Trip" in shown, shown


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
    from searchapp.ingest.decoding import mailbox_documents, mailbox_scan

    indexed = box.stat().st_size
    with box.open("ab") as file:
        file.write(b"\nFrom e@f Thu Jan  9 10:00:00 2025\nSubject: delta\n\nyak\n")
    scan = mailbox_scan(box, None, at=indexed)
    assert (scan.appended_at, scan.count_at) == (True, 2)
    [(_, new)] = mailbox_documents(box, scan.size, start=indexed, first=scan.count_at + 1)
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


def _mixed_mailbox(count: int) -> bytes:
    """A mailbox of ``count`` messages as mail clients write them: LF and CRLF, a body line
    "From Monday on", an escaped ">From ", status lines, an attachment's base64 lines, and a
    text before the first "From " line."""
    import base64
    import random

    rng = random.Random(7)
    out = [b"\xef\xbb\xbfSubject: saved alone\n\nthe walrus contract\n\n"]
    for n in range(count):
        eol = b"\r\n" if n % 3 == 0 else b"\n"
        status = b"X-Mozilla-Status: 000%d" % (9 if n % 11 == 5 else 1)
        lines = [
            b"From - Mon Jan  6 10:%02d:00 2025" % (n % 60),
            status,
            b"Subject: message %d" % n,
            b"",
            b"From Monday on, item %d." % n,
            b">From the archive.",
        ]
        lines += base64.encodebytes(rng.randbytes(rng.randrange(0, 3000))).splitlines()
        out.append(eol.join(lines) + eol + eol)
    return b"".join(out)


def test_a_mailbox_read_a_block_at_a_time_is_cut_as_read_whole(tmp_path, monkeypatch) -> None:
    # A mailbox is read a block at a time (a 5 GB Gmail export was skipped, read whole): its
    # messages, numbers and hash are those of the file read whole, wherever a block ends.
    import hashlib
    import io

    from searchapp.ingest.formats import mbox

    data = _mixed_mailbox(120)
    whole = data.removeprefix(b"\xef\xbb\xbf")
    starts = [m.start() + 3 for m in mbox._FROM_LINE.finditer(whole)]  # the pattern alone
    assert len(starts) == 120
    expected = [0, *starts]
    assert [offset for offset, _ in mbox.pieces(io.BytesIO(data))][1:] == starts
    read_whole = mbox.read_mailbox(data)
    digest = mbox.scan(io.BytesIO(data)).digest
    sizes = []

    class Recorded(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            sizes.append(size)
            return super().read(size)

    for block, lookahead in ((4096, 512), (1000, 100), (257, 64)):
        monkeypatch.setattr(mbox, "READ_BLOCK_BYTES", block)
        monkeypatch.setattr(mbox, "LOOKAHEAD_BYTES", lookahead)
        sizes.clear()
        cut = list(mbox.pieces(Recorded(data)))
        assert max(sizes) < len(data) // 20  # never the file at once
        assert [offset for offset, _ in cut][1:] == starts
        assert b"".join(piece for _, piece in cut) == whole
        assert cut[0][0] == 3 and expected[0] == 0  # after the byte-order mark
        assert mbox.read_mailbox(data) == read_whole
        assert mbox.scan(io.BytesIO(data)).digest == digest
    numbers = [m.number for m in read_whole]
    assert numbers[:3] == [1, 2, 3] and 7 not in numbers  # message 6 (number 7) deleted
    assert len(read_whole) == 1 + 120 - len(range(5, 120, 11))
    # The hash: status lines are not counted, but for the deleted mark; the rest is.
    read = data.replace(b"X-Mozilla-Status: 0001", b"X-Mozilla-Status: 0000")
    assert mbox.scan(io.BytesIO(read)).digest == digest
    deleted = data.replace(b"X-Mozilla-Status: 0001", b"X-Mozilla-Status: 0009", 1)
    assert mbox.scan(io.BytesIO(deleted)).digest != digest
    assert mbox.scan(io.BytesIO(data.replace(b"item 3.", b"item 4."))).digest != digest
    assert digest != hashlib.sha256(data).hexdigest()


def test_mail_appended_is_told_by_a_scan_of_the_mailbox(tmp_path) -> None:
    import io

    from searchapp.ingest.formats import mbox

    data = _mixed_mailbox(30)
    old = mbox.scan(io.BytesIO(data))
    new_mail = b"\nFrom - Fri Jan 10 10:00:00 2025\nSubject: new\n\nthe roofer comes\n"
    scan = mbox.scan(io.BytesIO(data + new_mail), at=len(data))
    assert (scan.digest_at, scan.count_at, scan.appended_at) == (old.digest, 31, True)
    assert scan.size == len(data + new_mail)
    assert not mbox.scan(io.BytesIO(data + b"\n\nmore text\n"), at=len(data)).appended_at
    # The last message's own text grown (not new mail): its first bytes hash alike, no new
    # message begins where the indexed bytes end.
    assert not mbox.scan(io.BytesIO(data + b"a line more\n"), at=len(data)).appended_at
    assert mbox.scan(io.BytesIO(data + new_mail), len(data)).digest == old.digest


def test_a_mailbox_larger_than_memory_would_hold_is_indexed_a_message_at_a_time(
    tmp_path, monkeypatch
) -> None:
    # Read a message at a time, a mailbox has no size limit: one over 1 GiB was skipped.
    # Here the indexer's reads of it are recorded: none is of the whole file.
    from searchapp.ingest import decoding
    from searchapp.ingest.formats import mbox
    from tests.searchapp.ingest.test_pipeline import make_index

    monkeypatch.setattr(decoding, "DEFAULT_MAX_BYTES", 4096)
    monkeypatch.setattr(mbox, "READ_BLOCK_BYTES", 8192)
    monkeypatch.setattr(mbox, "LOOKAHEAD_BYTES", 1024)
    mail = tmp_path / "mail"
    mail.mkdir()
    box = mail / "All mail.mbox"
    box.write_bytes(_mixed_mailbox(60))
    reads = []
    pieces = mbox.pieces

    def recorded(stream, size=None):
        for offset, piece in pieces(stream, size):
            reads.append(len(piece))
            yield offset, piece

    monkeypatch.setattr(mbox, "pieces", recorded)
    index = make_index(tmp_path / "idx")
    report = index.add([mail])
    assert (report.added, report.skipped) == (1, [])
    assert 0 < max(reads) < box.stat().st_size // 10
    [hit] = index.search("From Monday on, item 42.", k=1, mode="lexical")
    assert (hit.record_id, hit.title) == ("44", "message 42")  # after the saved one (1)
    assert index.add([mail]).unchanged == 1


def test_ctrl_c_while_a_mailbox_is_hashed_stops_it_between_messages(tmp_path) -> None:
    # Hashing a 5 GB mailbox takes ~13 s, and Ctrl-C waited for all of it: the reader looks
    # whether it is told to stop after each message (``stoppable``'s count of nothing).
    import threading

    from searchapp.ingest.chunking import ChunkingConfig
    from searchapp.ingest.reading import FileReader, Stopped, stoppable

    box = tmp_path / "All mail.mbox"
    box.write_bytes(_mixed_mailbox(50))
    stop = threading.Event()
    looked = []

    def count_tokens(texts):
        return [len(text.split()) for text in texts]

    counted = stoppable(count_tokens, stop)

    def watched(texts):
        if not texts:
            looked.append(1)
            if len(looked) == 3:
                stop.set()  # Ctrl-C, three messages into the hashing
        return counted(texts)

    reader = FileReader(ChunkingConfig(), lambda texts: [[1]] * len(texts), lambda _: None)
    items = reader.items(box, [], watched)
    with pytest.raises(Stopped):
        next(items)
    assert len(looked) == 3  # stopped there: not all 51 pieces were read
    stop.clear()
    looked.clear()
    parts = list(
        FileReader(ChunkingConfig(), lambda t: [[1]] * len(t), print).items(box, [], counted)
    )
    *messages, done = parts
    assert done.status == "added" and len(messages) == 1 + 50 - len(range(5, 50, 11))


def test_a_mail_clients_trash_and_junk_are_left_out_as_gmails_are(tmp_path: Path) -> None:
    # A helper's trial: Gmail's Spam and Trash were left out, Thunderbird's `Trash` and `Junk`
    # folder files were not, and a query's second hit was "Cheap rolex watches".
    mail = tmp_path / "Local Folders"
    (mail / "Trash.sbd").mkdir(parents=True)
    for name in ("Inbox", "Trash", "Junk", "Trash.sbd/Old project"):
        (mail / name).write_bytes(THUNDERBIRD.encode())
    (tmp_path / "Junk.mbox").mkdir()  # Apple Mail's export: a folder, its messages in `mbox`
    (tmp_path / "Junk.mbox" / "mbox").write_bytes(THUNDERBIRD.encode())
    notes = tmp_path / "Trash"  # a folder of notes so named is read
    notes.mkdir()
    (notes / "ideas.md").write_text("Ideas for the shed.\n")
    skipped: list[tuple[Path, str]] = []
    found = list(iter_files([tmp_path], on_skip=lambda path, why: skipped.append((path, why))))
    assert sorted(p.relative_to(tmp_path).as_posix() for p in found) == [
        "Local Folders/Inbox",
        "Trash/ideas.md",
    ]
    assert {why.split(" (")[0] for _, why in skipped} == {"mail client's Trash or Junk folder"}
    assert sorted(p.name for p, _ in skipped) == ["Junk", "Old project", "Trash", "mbox"]


def test_a_huge_message_is_read_from_its_start_and_a_huge_line_is_no_mailbox(
    tmp_path, monkeypatch
) -> None:
    # A reviewer's: with no size limit, one message of 300 MB took 3 GB to parse, and a
    # file named .mbox whose "From " lines are not a mailbox's was one piece of all of it.
    import io

    from searchapp.ingest.decoding import NotTextError, mailbox_scan
    from searchapp.ingest.formats import mbox

    monkeypatch.setattr(mbox, "READ_BLOCK_BYTES", 4096)
    monkeypatch.setattr(mbox, "LOOKAHEAD_BYTES", 512)
    monkeypatch.setattr(mbox, "MAX_PIECE_BYTES", 20_000)
    big = (
        b"From - Mon Jan  6 10:00:00 2025\nX-Mozilla-Status: 0001\nSubject: drawings\n\n"
        b"The drawings are attached.\n" + b"QUJDRA==\n" * 10_000 + b"\n"
    )
    small = b"From - Tue Jan  7 10:00:00 2025\nSubject: keys\n\nThe keys are under the mat.\n"
    data = small + b"\n" + big + small.replace(b"keys", b"gate")
    cut = list(mbox.pieces(io.BytesIO(data)))
    assert max(len(piece) for _, piece in cut) <= 20_000 + 4096
    assert b"".join(piece for _, piece in cut) == data
    read = mbox.read_mailbox(data)
    assert [(m.number, m.subject) for m in read] == [(1, "keys"), (2, "drawings"), (3, "gate")]
    assert "The drawings are attached." in read[1].text
    # hashed as a whole, its status line masked wherever its pieces were cut
    seen = mbox.scan(io.BytesIO(data.replace(b"Status: 0001", b"Status: 0000"))).digest
    assert seen == mbox.scan(io.BytesIO(data)).digest
    grown = data + b"\nFrom - Wed Jan  8 10:00:00 2025\nSubject: new\n\nNew mail.\n"
    scan = mbox.scan(io.BytesIO(grown), at=len(data))
    assert (scan.appended_at, scan.count_at) == (True, 3)
    box = tmp_path / "Dump.mbox"
    box.write_bytes(b"From x\n" + b"y" * 60_000)  # one line longer than a piece may be
    with pytest.raises(NotTextError, match="not mail"):
        mailbox_scan(box, None)


def test_lower_case_status_lines_are_masked_and_a_named_pipe_is_no_mailbox(tmp_path) -> None:
    import io
    import os

    from searchapp.ingest.decoding import is_mailbox_file
    from searchapp.ingest.formats import mbox

    data = THUNDERBIRD.encode().replace(b"X-Mozilla-Status: 0001", b"status: RO")
    seen = data.replace(b"status: RO", b"status: OR")
    assert mbox.scan(io.BytesIO(seen)).digest == mbox.scan(io.BytesIO(data)).digest
    pipe = tmp_path / "Inbox"
    os.mkfifo(pipe)  # nothing writes to it: opened to read, it would wait for ever
    assert not is_mailbox_file(pipe)
    assert is_mailbox_file(tmp_path / "Inbox") is False


def test_a_read_error_part_way_through_a_mailbox_counts_what_was_read(
    tmp_path, monkeypatch
) -> None:
    from searchapp.ingest import reading
    from searchapp.ingest.chunking import ChunkingConfig
    from searchapp.ingest.decoding import NotTextError

    box = tmp_path / "All mail.mbox"
    box.write_bytes(_mixed_mailbox(5))
    real = reading.mailbox_documents

    def failing(path, size, **where):
        for n, item in enumerate(real(path, size, **where)):
            if n == 2:
                raise NotTextError("cannot read: Input/output error", path)
            yield item

    monkeypatch.setattr(reading, "mailbox_documents", failing)
    reader = reading.FileReader(ChunkingConfig(), lambda t: [[1]] * len(t), lambda _: None)
    *parts, done = reader.items(box, [], lambda texts: [len(t.split()) for t in texts])
    assert len(parts) == 2 and done.status == "skipped"
    assert done.credited == sum(part.bytes for part in parts) > 0
    assert done.work - done.credited >= 0


def test_a_from_line_longer_than_the_lookahead_is_found_where_a_block_ends(monkeypatch) -> None:
    # A reviewer's: a "From " line of 70 KB near a block's end was tried before its end was
    # read, failed, and was never tried again: two messages were read as one.
    import io

    from searchapp.ingest.formats import mbox

    monkeypatch.setattr(mbox, "READ_BLOCK_BYTES", 4096)
    monkeypatch.setattr(mbox, "LOOKAHEAD_BYTES", 256)
    first = b"From a@b Mon Jan  6 10:00:00 2025\nSubject: one\n\n" + b"x" * 1000 + b"\n"
    for shift in range(0, 8192, 97):  # its start before, at and after a block's end
        data = first + b"y" * shift + b"\n"
        data += b"From evil@x Mon Jan  6 10:00:00 2025 " + b"A" * 2000
        data += b"\nSubject: two\n\nbody two\n"
        expected = [m.start() for m in mbox._FROM_LINE.finditer(data)]  # the file read whole
        assert len(expected) == 2
        assert [offset for offset, _ in mbox.pieces(io.BytesIO(data))][1:] == expected
        assert [m.subject for m in mbox.read_mailbox(data)] == ["one", "two"]
