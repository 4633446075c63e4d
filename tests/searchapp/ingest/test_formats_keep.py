"""Google Keep notes from a Takeout (``formats/keep.py``): the JSON read, its HTML copy not."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from searchapp.ingest.decoding import NotTextError, load_documents

EDITED = 1_699_000_000_000_000  # microseconds, as Keep writes them


def keep_note(folder: Path, name: str, **fields) -> Path:
    """A note as Takeout writes it: ``name.json`` and ``name.html`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    note = {
        "color": "DEFAULT",
        "isTrashed": False,
        "isPinned": True,
        "isArchived": False,
        "title": "",
        "userEditedTimestampUsec": EDITED,
        "createdTimestampUsec": EDITED - 10**9,
        **fields,
    }
    if "textContent" in note:
        note["textContentHtml"] = f'<p dir="ltr"><span>{note["textContent"]}</span></p>'
    (folder / f"{name}.json").write_text(json.dumps(note))
    body = note.get("textContent") or " ".join(i["text"] for i in note.get("listContent", []))
    (folder / f"{name}.html").write_text(
        '<?xml version="1.0" ?>\n<html><head><title></title></head><body>'
        f'<div class="note DEFAULT"><div class="title">{note["title"]}</div>'
        f'<div class="content">{body}</div></div></body></html>'
    )
    return folder / f"{name}.json"


def test_a_note_is_its_title_labels_day_and_text_or_checklist(tmp_path) -> None:
    keep = tmp_path / "Takeout" / "Keep"
    listed = keep_note(
        keep,
        "Before I leave",
        title="Before I leave",
        labels=[{"name": "Work"}, {"name": "Admin"}],
        listContent=[
            {"text": "Ask Jordan for a LinkedIn recommendation", "isChecked": False},
            {"text": "Export Notion + Slack", "isChecked": True},
        ],
        annotations=[
            {"url": "https://linkedin.com/in/jordan", "title": "Jordan", "source": "WEBLINK"}
        ],
    )
    [document] = load_documents(listed)
    day = datetime.fromtimestamp(EDITED / 1e6).strftime("%Y-%m-%d")
    assert document.title == "Before I leave"
    assert document.text == (
        f"Before I leave\nLabels: Work, Admin\nEdited: {day}\nPinned\n\n"
        "[ ] Ask Jordan for a LinkedIn recommendation\n[x] Export Notion + Slack\n"
        "Jordan (https://linkedin.com/in/jordan)\n"
    )
    archived = keep_note(
        keep,
        "Jordan",
        title="Jordan",
        textContent="Kids: Mia (7) and Leo (4)",
        isPinned=False,
        isArchived=True,
        attachments=[{"filePath": "1a2b3c.jpg", "mimetype": "image/jpeg"}],
    )
    [document] = load_documents(archived)
    assert (
        document.text
        == f"Jordan\nEdited: {day}\nArchived\nAttachment: 1a2b3c.jpg\n\nKids: Mia (7) and Leo (4)\n"
    )
    untitled = keep_note(
        keep, "2023-04-11T08_31_02.118-07_00", textContent="Parking: P2, spot 117\nnear the lift"
    )
    [document] = load_documents(untitled)
    assert (document.title, document.text) == (
        "",
        f"Edited: {day}\nPinned\n\nParking: P2, spot 117\nnear the lift\n",
    )


def test_the_html_copy_and_a_note_in_the_trash_are_not_indexed(tmp_path) -> None:
    # A product manager's trial: each note ranked first and second (its JSON and its HTML),
    # and a note in the trash ("Old wifi", its password) ranked second for another question.
    keep = tmp_path / "Keep"
    note = keep_note(keep, "Book ideas", title="Book ideas", textContent="Escaping the Build Trap")
    trashed = keep_note(
        keep, "Old wifi", title="Old wifi", textContent="pw Sunflower77", isTrashed=True
    )
    with pytest.raises(NotTextError, match="HTML copy of a note: read from its .json"):
        load_documents(note.with_suffix(".html"))
    with pytest.raises(NotTextError, match="a note in Google Keep's trash"):
        load_documents(trashed)
    # an HTML page of no Keep note, and one whose JSON is gone, are read as pages
    (keep / "page.html").write_text(
        '<html><body><div class="note">A saved page.</div></body></html>'
    )
    [page] = load_documents(keep / "page.html")
    assert page.text.strip() == "A saved page."
    note.unlink()
    [alone] = load_documents(note.with_suffix(".html"))
    assert "Escaping the Build Trap" in alone.text


@pytest.mark.parametrize(
    "content",
    [
        {"isTrashed": False, "title": "a setting"},
        {"textContent": "no isTrashed key"},
        ["textContent", "isTrashed"],
    ],
)
def test_json_that_is_no_keep_note_is_read_as_it_is(tmp_path, content) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(content))
    [document] = load_documents(path)
    assert document.text.strip() == json.dumps(content)


def test_a_takeout_indexed_before_is_read_again_a_note_found_once(tmp_path) -> None:
    from searchapp.ingest.formats import dispatch
    from searchapp.storage import schema
    from tests.searchapp.ingest.test_pipeline import make_index

    keep = tmp_path / "docs" / "Takeout" / "Keep"
    keep_note(keep, "Parking", title="Parking", textContent="Level P2, spot 117 at the garage")
    keep_note(
        keep, "Old wifi", title="Old wifi", textContent="Garage wifi pw Sunflower77", isTrashed=True
    )
    # a Takeout's note kept under another folder's name: told by what it held (a reviewer's)
    moved = keep_note(
        tmp_path / "docs" / "Google Keep backup",
        "Wifi",
        textContent="garage wifi pw",
        isTrashed=True,
    )
    moved.with_suffix(".html").unlink()
    every = schema.MIGRATIONS
    with pytest.MonkeyPatch.context() as patch:  # indexed by the version before: JSON and HTML
        patch.setattr(
            schema, "MIGRATIONS", every[: every.index(schema.m024_evernote_slack_and_keep_read)]
        )
        patch.setattr(dispatch, "might_be_keep_note", lambda text, path: False)
        patch.setattr(dispatch, "is_keep_html_copy", lambda text, path: False)
        index = make_index(tmp_path / "idx")
        index.add([tmp_path / "docs"])
        found = index.search("garage", k=5, mode="lexical")
        assert len(found) == 5  # each note twice, the trashed ones too
        index.close()
    index = make_index(tmp_path / "idx")
    report = index.add([tmp_path / "docs"])
    assert (report.updated, report.removed) == (1, 4)
    [hit] = index.search("garage", k=5, mode="lexical")
    assert (Path(hit.path).name, hit.title) == ("Parking.json", "Parking")
    reasons = dict(report.skipped)
    assert reasons[str(keep / "Old wifi.json")] == "a note in Google Keep's trash"
