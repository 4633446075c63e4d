"""Evernote exports (``formats/enex.py``): a note a document, its files read as mail's are."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from searchapp.ingest.decoding import load_documents

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE en-export SYSTEM "http://xml.evernote.com/pub/evernote-export4.dtd">\n'
    '<en-export export-date="20231201T093012Z" application="Evernote" version="10.68.2">\n'
)


def note(title: str, enml: str, *resources: str, tags: tuple[str, ...] = ()) -> str:
    tagged = "".join(f"<tag>{tag}</tag>" for tag in tags)
    return (
        f"<note><title>{title}</title><content><![CDATA["
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        '<!DOCTYPE en-note SYSTEM "http://xml.evernote.com/pub/enml2.dtd">\n'
        f"<en-note>{enml}</en-note>]]></content><created>20231125T090000Z</created>"
        f"<updated>20231126T101500Z</updated>{tagged}<note-attributes><author>sam@acme.io"
        f"</author><source-url>https://acme.io/wiki</source-url></note-attributes>"
        f"{''.join(resources)}</note>\n"
    )


def resource(data: bytes, mime: str, name: str | None) -> str:
    encoded = base64.encodebytes(data).decode()
    named = f"<file-name>{name}</file-name>" if name else ""
    return (
        f'<resource><data encoding="base64">{encoded}</data><mime>{mime}</mime>'
        f"<width>800</width><resource-attributes><source-url>file://x</source-url>{named}"
        "</resource-attributes></resource>"
    )


def export(*notes: str) -> bytes:
    return (HEAD + "".join(notes) + "</en-export>\n").encode()


def test_each_note_is_a_document_by_its_title_its_files_read_and_no_base64(tmp_path) -> None:
    # A product manager's trial: read as XML, two notes and a PNG gave 1,450 passages of
    # base64, hits printed `<en-note><div>`, and a PDF a note held was never read.
    from tests.searchapp.ingest.test_formats_pdf import make_pdf

    image = os.urandom(30_000)
    pdf = make_pdf(["SEPARATION AGREEMENT. The Company will pay twelve weeks of base salary."])
    path = tmp_path / "Work Notebook.enex"
    path.write_bytes(
        export(
            note(
                "Offboarding checklist",
                '<div><en-todo checked="true"/>Tell the team about the handover doc</div>'
                '<div><en-todo checked="false"/>Return the MacBook to IT by Dec 8</div>',
                tags=("leaving", "it &amp; admin"),
            ),
            note(
                "Recruiters & job search",  # a bare "&", as other tools write it: no XML
                "<div><b>Dana Whitfield</b> &ndash; Mobile: +1 415-555-0198</div>",
                resource(image, "image/png", "whiteboard.png"),
            ),
            note(
                "Separation agreement",
                "<div>Draft from HR attached.</div>",
                resource(pdf, "application/pdf", "Agreement v2.pdf"),
                resource(b"DB_PASSWORD=Tr0ub4dor\n", "text/plain", "PROD.ENV"),
                resource(b"Bring the badge.\n", "text/plain", None),
            ),
        )
    )
    documents = load_documents(path)
    assert [d.doc_id for d in documents] == [f"{path}#{n}" for n in (1, 2, 3)]
    assert [d.title for d in documents] == [
        "Offboarding checklist",
        "Recruiters & job search",
        "Separation agreement",
    ]
    first, second, third = documents
    assert first.text.startswith(
        "Offboarding checklist\nTags: leaving, it & admin\n"
        "Created: 2023-11-25 · Updated: 2023-11-26\nAuthor: sam@acme.io\n"
        "Source: https://acme.io/wiki\n\n"
    )
    assert "[x] Tell the team about the handover doc" in first.text
    assert "[ ] Return the MacBook to IT by Dec 8" in first.text
    assert "<" not in first.text and "en-todo" not in first.text
    assert "Dana Whitfield – Mobile: +1 415-555-0198" in second.text
    assert "Attachment: whiteboard.png" in second.text  # named, its bytes never read
    encoded = base64.b64encode(image).decode()
    assert encoded[:24] not in second.text and len(second.text) < 400
    assert second.spans == ()
    at = third.text.index("Attachment: Agreement v2.pdf\n")
    assert "twelve weeks of base salary" in third.text[at:]
    assert [(s.start_char, s.section) for s in third.spans][0] == (at, "Agreement v2.pdf")
    assert "Attachment: PROD.ENV" in third.text and "Tr0ub4dor" not in third.text
    assert "Attachment: untitled.txt\nBring the badge." in third.text


def test_an_export_cut_short_keeps_its_whole_notes(tmp_path) -> None:
    whole = export(note("First", "<div>kept whole</div>"), note("Second", "<div>cut</div>"))
    path = tmp_path / "Cut.enex"
    path.write_bytes(whole[: whole.index(b"cut</div>")])
    [document] = load_documents(path)
    assert (document.title, "kept whole" in document.text) == ("First", True)
    # an export of no notes holds no documents (a notebook exported empty)
    path.write_bytes(export())
    assert load_documents(path) == []


def test_an_export_is_read_past_the_size_limit_of_other_files(tmp_path, monkeypatch) -> None:
    # A notebook of two notes and a video was 54 MB: skipped whole, "larger than the 50.0 MiB
    # limit", and the query after said the index held no documents.
    from searchapp.ingest import decoding
    from tests.searchapp.ingest.test_pipeline import make_index

    video = os.urandom(6_000)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "Meetings.enex").write_bytes(
        export(
            note("Offsite", "<div>The tooling budget is capped at 240k.</div>"),
            note(
                "Recording",
                "<div>Video of the demo.</div>",
                resource(video, "video/mp4", "demo.mp4"),
            ),
        )
    )
    (docs / "big.log").write_text("a line of a log\n" * 1_000)
    monkeypatch.setattr(decoding, "DEFAULT_MAX_BYTES", 4_096)
    assert decoding.size_limit(docs / "big.log", 16_000) == 4_096
    assert decoding.size_limit(docs / "Meetings.enex", 16_000) == decoding.ENEX_MAX_BYTES
    index = make_index(tmp_path / "idx")
    report = index.add([docs])
    assert [path for path, _ in report.skipped] == [str(docs / "big.log")]
    [hit] = index.search("tooling budget capped", k=1, mode="lexical")
    assert (hit.record_id, hit.title, hit.line) == ("1", "Offsite", 6)


def test_an_export_indexed_as_xml_is_read_again_as_notes(tmp_path) -> None:
    from rich.console import Console

    from searchapp.ingest.formats import enex
    from searchapp.interfaces.render import print_hits
    from searchapp.storage import schema
    from tests.searchapp.ingest.test_pipeline import make_index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "Work.enex").write_bytes(
        export(
            note("Recruiters", "<div>Dana at Lumen Talent.</div>"),
            note(
                "Offboarding checklist", '<div><en-todo checked="false"/>Return the MacBook</div>'
            ),
        )
    )
    every = schema.MIGRATIONS
    with pytest.MonkeyPatch.context() as patch:  # indexed by the version before: XML as text
        version = every.index(schema.m024_evernote_slack_and_keep_read)
        patch.setattr(schema, "MIGRATIONS", every[:version])
        patch.setattr(enex, "is_enex", lambda data, suffix: False)
        index = make_index(tmp_path / "idx")
        index.add([docs])
        [hit] = index.search("return the macbook", k=1, mode="lexical")
        assert hit.record_id is None or hit.doc_id == hit.path
        assert "en-todo" in hit.text
        index.close()
    index = make_index(tmp_path / "idx")
    report = index.add([docs])
    assert report.updated == 1
    [hit] = index.search("return the macbook", k=1, mode="lexical")
    assert (hit.record_id, hit.title) == ("2", "Offboarding checklist")
    assert "[ ] Return the MacBook" in hit.text
    console = Console(width=120, record=True)
    print_hits(console, [hit], "return the macbook")
    shown = console.export_text()
    assert "Work.enex #2:" in shown and "✎ Offboarding checklist" in shown and "✉" not in shown


def test_an_export_is_told_by_its_name_and_its_root_element(tmp_path: Path) -> None:
    # A reviewer's: a how-to quoting `<en-export>` near its start was read as an export of
    # no notes, and lost its text.
    whole = export(note("Parking", "<div>Level P2, spot 117.</div>"))
    path = tmp_path / "notes.enex"
    path.write_bytes(b"\xef\xbb\xbf" + whole)
    [document] = load_documents(path)
    assert (document.doc_id, document.title) == (f"{path}#1", "Parking")
    assert "Level P2, spot 117." in document.text
    for name, data in [
        ("notes.xml", whole),  # an export renamed: its XML, as any XML file
        ("howto.md", b"# Reading exports\n\nAn export starts `<en-export>`; my recipe: rice.\n"),
        ("odd.enex", b"Not an export at all, but text: rice and beans.\n"),
    ]:
        (tmp_path / name).write_bytes(data)
        [document] = load_documents(tmp_path / name)
        assert document.doc_id == str(tmp_path / name), name
        assert ("Level P2" if name == "notes.xml" else "rice") in document.text, name


def test_odd_and_hostile_notes_are_read_as_far_as_they_go(tmp_path: Path) -> None:
    # A reviewer's: <en-crypt> ciphertext was indexed, a file of no <mime> was named and not
    # read, a <note> with attributes gave no note, and unclosed tags were read quadratically.
    crypt = '<en-crypt hint="bank" cipher="AES">RU5DMP0AAAA5mCwKkHFYrHPfIqmDGz</en-crypt>'
    path = tmp_path / "odd.enex"
    path.write_bytes(
        export(
            note("Vault", f"<div>Bank login below.</div>{crypt}<div>Call Kim.</div>").replace(
                "<note>", '<note xmlns:x="urn:x">'
            ),
            note(
                "Invoice",
                "<div>see file</div>",
                resource(b"Invoice 2291: 40 EUR\n", "", "invoice.txt"),
            ),
        )
        + b"<note><title>"
        + b"<tag>" * 20_000
        + b"<![CDATA[" * 20_000
    )
    vault, invoice = load_documents(path)
    assert "Bank login below." in vault.text and "[encrypted]" in vault.text
    assert "Call Kim." in vault.text and "RU5DMP" not in vault.text
    assert "Attachment: invoice.txt\nInvoice 2291: 40 EUR" in invoice.text


def test_a_note_of_generated_text_is_left_out_not_its_notebook(tmp_path: Path) -> None:
    # A reviewer's: one note holding a pasted 30,000-character key made the whole export be
    # skipped ("minified or generated text"), its 20 other notes with it.
    from tests.searchapp.ingest.test_pipeline import make_index

    docs = tmp_path / "docs"
    docs.mkdir()
    notes = [
        note(f"Meeting {n}", f"<div>Agenda item {n}: the budget review.</div>") for n in range(20)
    ]
    key = base64.b64encode(os.urandom(24_000)).decode()
    (docs / "Work.enex").write_bytes(export(*notes, note("Key", f"<div>{key}</div>")))
    index = make_index(tmp_path / "idx")
    report = index.add([docs])
    assert (report.added, report.skipped) == (1, [])
    assert report.stored[str(docs / "Work.enex")] >= 20
    assert index.search("agenda item 7", k=1, mode="lexical")[0].record_id == "8"
    assert index.search(key[:40], k=1, mode="lexical") == []


def test_evernote_10_tasks_are_read_as_a_checklist(tmp_path: Path) -> None:
    # A second trial: an Evernote 10 note's tasks (<task> beside its content) were dropped,
    # "Send Jordan the final handover deck" found nowhere.
    tasks = (
        "<task><title>Send Jordan the final handover deck</title><created>20231127T080000Z"
        "</created><updated>20231127T080000Z</updated><taskStatus>open</taskStatus>"
        "<inNote>true</inNote><dueDate>20231212T170000Z</dueDate><reminder><created>"
        "20231127T080000Z</created></reminder></task>"
        "<task><title>Book the farewell dinner</title><created>20231120T080000Z</created>"
        "<taskStatus>completed</taskStatus></task>"
    )
    path = tmp_path / "Work Log.enex"
    path.write_bytes(
        export(
            note("Wrap-up", "<div>Things to wrap up.</div>").replace(
                "</content>", "</content>" + tasks
            )
        )
    )
    [document] = load_documents(path)
    assert document.title == "Wrap-up"
    assert "Created: 2023-11-25 · Updated: 2023-11-26" in document.text  # the note's, not a task's
    assert document.text.endswith(
        "Things to wrap up.\n\n[ ] Send Jordan the final handover deck (due 2023-12-12)\n"
        "[x] Book the farewell dinner\n"
    )
