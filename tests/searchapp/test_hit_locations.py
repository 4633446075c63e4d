"""A hit's page, section or cell is that of its line (the one holding the query's words), not
of where its passage starts: a passage may cross a page break, a heading or a cell boundary."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from searchapp.errors import IndexNotWritableError
from searchapp.interfaces.render import hit_line, location
from searchapp.search_index import SearchIndex
from searchapp.storage import store as store_module
from searchapp.storage.schema import READABLE_FROM
from tests.searchapp.conftest import FakeEncoder
from tests.searchapp.ingest.test_formats_notebook import code, markdown, notebook
from tests.searchapp.ingest.test_formats_pdf import make_pdf
from tests.searchapp.interfaces.test_everyday import LINE

# Sections this short share a passage (chunking.SECTION_MIN_TOKENS).
GUIDE = """# Install

Use pip.

## Linux

Use apt.

## Keys

Rotate the signing keys every month.
"""


def only_hit(tmp_path: Path, name: str, content: str | bytes, query: str):
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    target = docs / name
    target.write_bytes(content if isinstance(content, bytes) else content.encode())
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder(max_length=256))
    index.add([docs])
    [hit] = index.search(query, k=1, mode="lexical")
    index.close()
    assert hit.start_line == 1  # one passage holds the whole file
    return hit


def test_a_hit_in_a_later_section_of_its_passage_names_that_section(tmp_path) -> None:
    hit = only_hit(tmp_path, "guide.md", GUIDE, "rotate the signing keys")
    assert hit.line == GUIDE.splitlines().index("Rotate the signing keys every month.") + 1
    assert hit.section == "Install > Keys"
    assert hit.to_json()["section"] == "Install > Keys"


def test_a_section_of_a_few_sentences_is_a_passage_of_its_own(tmp_path) -> None:
    sections = [
        (
            "Install",
            "Get the package with pip, then build its extension with the C compiler "
            "that built your Python, or use a wheel.",
        ),
        (
            "Keys",
            "Rotate the signing keys every month and keep the old ones for a year, so that "
            "older releases can still be checked.",
        ),
        ("Backups", "Copy the database to the second disk every night, then check the copy."),
    ]
    text = "".join(f"## {head}\n\n{body}\n\n" for head, body in sections)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text(text)
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder(max_length=256))
    index.add([docs])
    [hit] = index.search("rotate the signing keys", k=1, mode="lexical")
    assert (hit.start_line, hit.end_line, hit.section) == (5, 7, "Keys")
    assert hit.text == "## Keys\n\n" + sections[1][1]
    assert index.stats()["chunks"] == 3
    index.close()


def test_a_hit_on_the_second_page_of_its_passage_is_on_that_page(tmp_path) -> None:
    pages = ["The wing loading of light gliders.", "Flutter of the tail at high speed."]
    hit = only_hit(tmp_path, "paper.pdf", make_pdf(pages), "flutter of the tail")
    assert hit.page == 2
    assert location(hit).endswith("paper.pdf p.2")
    # A grep-like line keeps path:line: first, so cut -d: -f1 and quickfix lists read it.
    line = LINE.match(hit_line(hit, "flutter of the tail"))
    assert line["path"].endswith("/paper.pdf") and int(line["line"]) == hit.line
    assert line["text"].startswith("p.2  ") and "Flutter of the tail" in line["text"]


def test_a_hit_in_a_later_cell_of_its_passage_names_that_cell(tmp_path) -> None:
    cells = [markdown("Load the survey data."), code("rows = read_survey()\nplot_histogram(rows)")]
    content = json.dumps(notebook(cells))
    hit = only_hit(tmp_path, "analysis.ipynb", content, "plot_histogram")
    first = only_hit(tmp_path, "analysis.ipynb", content, "survey data")
    assert (first.section, hit.section) == ("cell 1", "cell 2")
    assert location(hit).endswith("analysis.ipynb cell 2")
    line = LINE.match(hit_line(hit, "plot_histogram"))
    assert line["path"].endswith("/analysis.ipynb") and int(line["line"]) == hit.line
    assert line["text"].startswith("cell 2  ")


def older(index_dir: Path, version: int) -> None:
    """Make ``index_dir`` look written by the searchapp of schema ``version``, 4 or 5."""
    conn = sqlite3.connect(index_dir / "index.db")
    conn.execute("ALTER TABLE chunks DROP COLUMN places")
    conn.execute("DROP TRIGGER documents_names_delete")  # m006
    conn.execute("DROP TABLE documents_names")
    conn.execute("DROP INDEX chunks_text_start")  # m011
    conn.execute("ALTER TABLE documents DROP COLUMN ctime_ns")  # m012
    conn.execute("DROP TRIGGER chunks_removed_vector")  # m013
    conn.execute("DROP TABLE removed_vectors")
    conn.execute("ALTER TABLE documents DROP COLUMN page_labels")  # m019
    conn.execute("DELETE FROM _migrations WHERE version > ?", (version,))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    conn.commit()
    conn.close()


def test_an_older_index_is_upgraded_and_its_passages_show_where_they_start(tmp_path) -> None:
    only_hit(tmp_path, "guide.md", GUIDE, "signing keys")
    older(tmp_path / "idx", READABLE_FROM)
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder(max_length=256))
    [hit] = index.search("rotate the signing keys", k=1, mode="lexical")
    assert hit.section == "Install"  # stored before places: where the passage starts
    index.add([tmp_path / "docs"], rebuild=True)
    [hit] = index.search("rotate the signing keys", k=1, mode="lexical")
    assert hit.section == "Install > Keys"
    index.close()


def test_an_older_index_this_user_cannot_write_is_read_as_it_is(tmp_path, monkeypatch) -> None:
    only_hit(tmp_path, "guide.md", GUIDE, "signing keys")
    older(tmp_path / "idx", READABLE_FROM)
    monkeypatch.setattr(store_module, "_writable", lambda path: False)
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder(max_length=256))
    [hit] = index.search("rotate the signing keys", k=1, mode="lexical")
    assert (hit.section, hit.line) == ("Install", 11)
    [hit] = index.search("guide signing keys", k=1)  # hybrid: no names' table to read, none read
    assert hit.path.endswith("guide.md") and hit.score < 2.0
    index.close()
    columns = sqlite3.connect(tmp_path / "idx" / "index.db").execute("PRAGMA table_info(chunks)")
    assert "places" not in {row[1] for row in columns}  # not migrated


def test_a_much_older_index_this_user_cannot_write_says_what_to_do(tmp_path, monkeypatch) -> None:
    only_hit(tmp_path, "guide.md", GUIDE, "signing keys")
    older(tmp_path / "idx", READABLE_FROM - 1)
    monkeypatch.setattr(store_module, "_writable", lambda path: False)
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder(max_length=256))
    with pytest.raises(IndexNotWritableError, match="older searchapp.*as a user who can write"):
        index.search("signing keys", k=1)


def test_a_hit_carries_its_documents_title(tmp_path) -> None:
    # A script (or an agent, over MCP) showing hits had the path alone: the title a note's
    # first heading gives was kept with the document but left out of every hit.
    hit = only_hit(tmp_path, "guide.md", GUIDE, "rotate the signing keys")
    assert hit.to_json()["title"] == "Install"
    (tmp_path / "plain").mkdir()
    plain = only_hit(tmp_path / "plain", "notes.txt", "Rotate the signing keys.\n", "rotate")
    assert plain.to_json()["title"] is None
