"""Reading indexed documents back from the store (``SearchIndex.get_document``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from searchapp.errors import BadInputError
from searchapp.ingest.decoding import load_documents
from searchapp.search_index import SearchIndex
from searchapp.storage.documents import DocumentNotFoundError, stitch
from tests.searchapp.conftest import FakeEncoder

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture()
def indexed(tmp_path: Path) -> tuple[SearchIndex, Path]:
    """Source files of this repository (indented, blank lines, long) in 14-token passages,
    so most of each file lies across passage boundaries; and a JSONL corpus."""
    folder = tmp_path / "files"
    folder.mkdir()
    for source in sorted((REPO / "searchapp").rglob("*.py"))[:12]:
        (folder / f"{source.parent.name}_{source.name}").write_bytes(source.read_bytes())
    (folder / "padded.txt").write_text("\n\n   indented start\n\n\n\tafter a tab\n", "utf-8")
    (folder / "tabbed.txt").write_text("\tfirst line tab\nsecond\n   \nfourth  \n\n\n", "utf-8")
    records = [{"_id": f"r{i}", "text": f"record {i} text\nsecond line"} for i in range(3)]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in records), "utf-8")
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder(max_length=16))
    index.add([folder])
    return index, folder


def test_documents_read_back_as_indexed(indexed) -> None:
    index, folder = indexed
    files = sorted(p for p in folder.iterdir() if p.suffix != ".jsonl")
    for path in files:
        (expected,) = load_documents(path)
        document = index.get_document(str(path))
        # A file as indexed gives its own whitespace between passages: a leading tab came
        # back as a space, and blank lines at its end were lost (line_count was not wc -l's).
        assert document.text == expected.text.removesuffix("\n"), path.name
        assert document.line_count == expected.text.count("\n") + (expected.text[-1:] != "\n")
        assert (document.doc_id, document.path) == (str(path), str(path))
    for path in files:  # changed since (its times): the passages alone, stitched
        os.utime(path, ns=(10**9, 10**9))
        (expected,) = load_documents(path)
        document = index.get_document(str(path))
        # Passages end at the last visible character: trailing whitespace is not indexed.
        if path.name == "tabbed.txt":
            assert document.text == " first line tab\nsecond\n   \nfourth"
            continue
        assert document.text == expected.text.rstrip(), path.name
        assert document.line_count == len(document.text.split("\n"))
    # Most of them were cut into several passages (the stitching was exercised).
    counts = [
        index.store.rows(
            "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE d.path = ?",
            (str(p),),
        )[0][0]
        for p in files
    ]
    assert sum(c > 3 for c in counts) >= 10


def test_line_ranges(indexed) -> None:
    index, folder = indexed
    path = str(folder / "padded.txt")
    lines = index.get_document(path).text.split("\n")
    part = index.get_document(path, (3, 6))
    assert part.text.split("\n") == lines[2:6] and (part.start_line, part.end_line) == (3, 6)
    assert part.text.split("\n")[0] == "   indented start"
    tail = index.get_document(path, (5, 10_000))
    assert tail.end_line == len(lines) and tail.text.split("\n") == lines[4:]
    with pytest.raises(BadInputError, match="past the end"):
        index.get_document(path, (len(lines) + 1, len(lines) + 2))
    for bad in [(0, 2), (4, 3)]:
        with pytest.raises(BadInputError, match="must be a range"):
            index.get_document(path, bad)
    from searchapp.storage.documents import line_range

    assert [line_range(t) for t in ("12", "3-9", "5-", "-7")] == [
        (12, 12),
        (3, 9),
        (5, 2**31 - 1),
        (1, 7),
    ]
    for text in ("9" * 5000, "", "-", "a-b", "٣", "3-x"):  # 5,000 digits: a 500, not a 400
        with pytest.raises(BadInputError, match="must be a line or a range"):
            line_range(text)


def test_jsonl_records_by_doc_id(indexed) -> None:
    index, folder = indexed
    corpus = str(folder / "corpus.jsonl")
    # Its doc_id, as a hit prints it (`corpus.jsonl #r1`), or its own id while one file has it.
    for key in (f"{corpus}#r1", f"{corpus} #r1", f"{corpus} #r1:", "r1"):
        record = index.get_document(key)
        assert (record.doc_id, record.path, record.text) == (
            f"{corpus}#r1",
            corpus,
            "record 1 text\nsecond line",
        )
    with pytest.raises(BadInputError, match="several indexed documents") as raised:
        index.get_document(corpus)
    assert f"give one as the search results name it, '{corpus} #ID'" in str(raised.value)
    # A second corpus with the same ids: both keep their records; a bare id is now ambiguous.
    other = folder / "other.jsonl"
    other.write_text(json.dumps({"_id": "r1", "text": "the other r1"}) + "\n", "utf-8")
    index.add([folder])
    assert index.get_document(f"{other}#r1").text == "the other r1"
    assert index.get_document(f"{corpus}#r1").text == "record 1 text\nsecond line"
    with pytest.raises(BadInputError, match=r"records of several files have the id 'r1'"):
        index.get_document("r1")
    # An id holding ":" (a URN, `b:2`), pasted as its hit prints it: not line 2 of `... #b`.
    other.write_text(json.dumps({"_id": "b:2", "text": "the b two"}) + "\n", "utf-8")
    index.add([folder])
    assert index.get_document(f"{other} #b:2:").text == "the b two"


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "/etc/passwd", "", "files/../../../etc/passwd", "%2Fetc%2Fpasswd"],
)
def test_anything_not_indexed_is_refused(indexed, name) -> None:
    index, _ = indexed
    with pytest.raises(DocumentNotFoundError, match="not an indexed document"):
        index.get_document(name)


def test_a_file_beside_the_indexed_ones_is_refused(indexed, monkeypatch) -> None:
    index, folder = indexed
    secret = folder.parent / "secret.txt"
    secret.write_text("not indexed\n", "utf-8")
    monkeypatch.chdir(folder)
    for name in ["../secret.txt", str(secret), str(folder / ".." / "secret.txt")]:
        with pytest.raises(DocumentNotFoundError):
            index.get_document(name)
    # A relative path to an indexed file names it.
    assert index.get_document("padded.txt").path == str(folder / "padded.txt")
    # Through a link to a folder outside (not followed by the index), a file there is told as
    # one that is not there: the two answers told which files of /etc exist.
    (folder / "elsewhere").symlink_to(folder.parent)
    for name in ("elsewhere/secret.txt", "elsewhere/no-such.txt"):
        with pytest.raises(DocumentNotFoundError) as raised:
            index.get_document(name)
        assert "is not an indexed document" in str(raised.value)


def test_stitch_overlaps_and_gaps() -> None:
    text = "alpha beta\n\n  gamma delta\nepsilon"
    #        0123456789 0 1 234567890123 4567890
    passages = [(0, 10, 1, "alpha beta"), (6, 10, 1, "beta"), (14, 25, 3, "gamma delta")]
    passages.append((19, 33, 3, text[19:33]))
    assert stitch(passages) == text


def test_an_empty_file_has_no_lines(tmp_path: Path) -> None:
    # It read back as one line (line_count 1, end_line 1); wc -l says 0.
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "empty.txt").write_text("", "utf-8")
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder(max_length=16))
    index.add([folder])
    document = index.get_document(str(folder / "empty.txt"))
    assert (document.text, document.line_count) == ("", 0)
    with pytest.raises(BadInputError, match="line 1 is past the end"):
        index.get_document(str(folder / "empty.txt"), lines=(1, 1))
