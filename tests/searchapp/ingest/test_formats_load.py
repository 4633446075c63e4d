"""All formats together: discovery and ``load_documents`` on a mixed folder, and an indexing run
that skips the files it cannot extract, with their reasons, and indexes the rest."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from searchapp.ingest.decoding import NotTextError, load_documents
from searchapp.ingest.discovery import iter_files
from tests.searchapp.ingest.test_formats_epub import epub_file
from tests.searchapp.ingest.test_formats_notebook import code, markdown, notebook
from tests.searchapp.ingest.test_formats_office import (
    odt_file,
    para,
    pptx_file,
    python_docx_file,
    word_package,
)
from tests.searchapp.ingest.test_formats_pdf import make_pdf, make_scanned_pdf
from tests.searchapp.ingest.test_pipeline import make_index


def write_mixed_folder(root: Path) -> dict[str, str]:
    """Every format, good and bad; returns {name: expected skip reason} for the bad ones."""
    files = {
        "paper.pdf": make_pdf(["Lift on page one.", "Drag on page two."], title="Paper"),
        "guide.docx": python_docx_file(),
        "deck.pptx": pptx_file(),
        "notes.odt": odt_file(),
        "book.epub": epub_file(),
        "analysis.ipynb": json.dumps(notebook([markdown("# Nb"), code("x = 1")])).encode(),
        "readme.md": b"---\ntitle: Readme\n---\n# Intro\nhello\n",
        "plain.txt": b"plain text\r\nstays as it was\n",
        "quotes-pdf.txt": b"A PDF starts with %PDF-1.7 and this is still text.\n",
        "scan.pdf": make_scanned_pdf(1),
        "locked.pdf": make_pdf(["x"], owner_password="o", user_password="u"),
        "cut.pdf": make_pdf(["y" * 500])[:250],
        "bomb.docx": word_package(para("z" * 5_000_000)),
        "hollow.docx": hollow_package(),  # was "binary file"
        # A helper's paper folder: a login page saved as the paper, indexed as "Access denied".
        "denied.pdf": b"<html><head><title>Access denied</title></head><body>Log in</body>",
        # A reviewer's: a byte order mark and a comment first; S3's XML answer.
        "saved.docx": b"\xef\xbb\xbf<!-- saved from url=x -->\n<!DOCTYPE html><html>Wait</html>",
        "s3.pdf": b'<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>',
        "page.html": b"<html><head><title>A page</title></head><body>Saved as a page</body>",
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return {
        "scan.pdf": "no text layer; run OCR first",
        "locked.pdf": "encrypted PDF (it needs a password to open)",
        "cut.pdf": "damaged PDF",
        "bomb.docx": "would inflate",
        "hollow.docx": "damaged Word document: it has no main part",
        "denied.pdf": "named .pdf but holds a web page or a server's reply (a download",
        "saved.docx": "named .docx but holds a web page",
        "s3.pdf": "named .pdf but holds a web page",
    }


def hollow_package() -> bytes:
    """An Office package with its content types and nothing else (no word/document.xml)."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    return data.getvalue()


def test_a_folder_of_every_format(tmp_path: Path) -> None:
    expected_skips = write_mixed_folder(tmp_path)
    loaded: dict[str, list] = {}
    skipped: dict[str, str] = {}
    for path in iter_files([tmp_path]):
        try:
            loaded[path.name] = load_documents(path)
        except NotTextError as exc:
            assert exc.path == path
            skipped[path.name] = str(exc)
    assert set(skipped) == set(expected_skips)
    assert all(expected_skips[name] in reason for name, reason in skipped.items())
    assert {name: len(documents) for name, documents in loaded.items()} == dict.fromkeys(
        [
            "analysis.ipynb",
            "book.epub",
            "deck.pptx",
            "guide.docx",
            "notes.odt",
            "page.html",
            "paper.pdf",
            "plain.txt",
            "quotes-pdf.txt",
            "readme.md",
        ],
        1,
    )
    first = {name: documents[0] for name, documents in loaded.items()}
    assert first["plain.txt"].text == "plain text\nstays as it was\n"
    assert first["plain.txt"].spans == () and first["quotes-pdf.txt"].spans == ()
    assert [s.page for s in first["paper.pdf"].spans] == [1, 2]
    assert [s.section for s in first["analysis.ipynb"].spans] == ["cell 1", "cell 2"]
    assert [s.section for s in first["readme.md"].spans] == ["Intro"]
    assert first["readme.md"].title == "Readme"


def test_an_indexing_run_skips_what_it_cannot_extract_and_indexes_the_rest(
    tmp_path: Path,
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    expected_skips = write_mixed_folder(docs)
    report = make_index(tmp_path / "idx").add([docs])
    skipped = {Path(path).name: reason for path, reason in report.skipped}
    assert set(skipped) == set(expected_skips)
    assert all(expected_skips[name] in reason for name, reason in skipped.items())
    assert report.added == 10  # page.html, a web page under its own name, too


def test_documents_index_incrementally_and_stay_in_agreement(tmp_path: Path) -> None:
    """Edits, removals and the SQLite = FTS5 = FAISS agreement hold for documents as for text,
    and their chunks keep the page, cell or heading they start in."""
    import numpy as np

    docs = tmp_path / "docs"
    docs.mkdir()
    write_mixed_folder(docs)
    index = make_index(tmp_path / "idx")
    index.add([docs])

    def agreement() -> dict[str, list[tuple]]:
        store = index.store
        chunk_ids = np.sort(store.chunk_ids())
        np.testing.assert_array_equal(np.sort(index.open_vectors().ids()), chunk_ids)
        fts = store.db.execute("SELECT count(*) FROM chunks_fts_docsize").fetchone()[0]
        assert fts == len(chunk_ids)
        located: dict[str, list[tuple]] = {}
        for path, page, section in store.db.execute(
            "SELECT d.path, c.page, c.section FROM chunks c JOIN documents d "
            "ON d.id = c.document_id ORDER BY d.path, c.ordinal"
        ):
            located.setdefault(Path(path).name, []).append((page, section))
        return located

    located = agreement()
    assert located["paper.pdf"][0] == (1, None)
    assert all(section.startswith("cell ") for _, section in located["analysis.ipynb"])
    assert located["readme.md"] == [(None, None)]  # from its title's line, above "# Intro"
    assert located["plain.txt"] == [(None, None)]

    again = index.add([docs])
    assert (again.added, again.updated, again.chunks) == (0, 0, 0)
    (docs / "paper.pdf").write_bytes(make_pdf(["Thrust now.", "Drag.", "Weight on page 3."]))
    (docs / "guide.docx").unlink()
    changed = index.add([docs])
    assert (changed.added, changed.updated, changed.removed) == (0, 1, 1)
    located = agreement()
    assert "guide.docx" not in located
    hits = index.search("weight on page three", k=3, mode="lexical")
    assert hits[0].path == str(docs / "paper.pdf") and hits[0].page is not None
