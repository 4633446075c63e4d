"""An index folder this user cannot write (another user's index, a read-only mount) is searched
as it is, and every command that would write it says so in one line.

The suite may run as root, whom permissions do not stop, so the refusals are simulated where
the code meets them: ``store._writable`` (what ``Store.open`` asks) and the lock file's open.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from searchapp.errors import IndexNotWritableError
from searchapp.search_index import SearchIndex
from searchapp.storage import store as store_module
from searchapp.storage.lock import LOCK_NAME
from searchapp.storage.store import Store
from tests.searchapp.cli_runner import run_cli
from tests.searchapp.conftest import FakeEncoder, use_encoder


def folder_state(folder: Path) -> dict[str, tuple[int, int]]:
    """Each file's size and modification time: any write shows."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.fixture()
def indexed(tmp_path: Path) -> tuple[Path, Path]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("supersonic flow over a flat plate\n", "utf-8")
    (docs / "b.txt").write_text("heat transfer in boundary layers\n", "utf-8")
    index_dir = tmp_path / "idx"
    index = SearchIndex(index_dir, encoder=FakeEncoder())
    index.add([docs])
    index.close()
    return docs, index_dir


@pytest.fixture()
def refused(monkeypatch) -> None:
    """This process may not write any index folder: SQLite's files nor the lock file."""
    monkeypatch.setattr(store_module, "_writable", lambda path: False)
    real_open = os.open

    def open_(path, flags, *args, **kwargs):
        if str(path).endswith(LOCK_NAME):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)


def test_queries_read_an_index_they_cannot_write_and_change_nothing(indexed, refused) -> None:
    docs, index_dir = indexed
    (index_dir / "vectors.faiss").unlink()  # rebuilt in memory, as it cannot be saved
    before = folder_state(index_dir)
    index = SearchIndex(index_dir, encoder=FakeEncoder())
    hits = index.search("supersonic flow", k=2)
    assert hits[0].path == str(docs / "a.txt")
    assert index.stats()["documents"] == 2
    index.close()
    assert folder_state(index_dir) == before  # no WAL, no lock, no saved file


def test_a_reader_of_a_file_it_cannot_write_sees_what_its_owner_writes_later(
    indexed, tmp_path, monkeypatch
) -> None:
    # Read as immutable (no locks), the file is opened again once written: never a mix of old
    # and new pages, nor an answer from before the change.
    docs, index_dir = indexed
    monkeypatch.setattr(store_module, "_writable", lambda path: False)
    reader = SearchIndex(index_dir, encoder=FakeEncoder())
    assert {h.path for h in reader.search("gliders soar", k=5, mode="lexical")} == set()
    first = reader.store
    (docs / "c.txt").write_text("gliders soar on thermals\n", "utf-8")
    owner = SearchIndex(index_dir, encoder=FakeEncoder())  # create=True: the owner writes
    owner.add([docs])
    owner.close()
    hits = reader.search("gliders soar", k=5, mode="lexical")
    assert [h.path for h in hits] == [str(docs / "c.txt")]
    assert reader.store is not first and not reader.store.changed_on_disk()
    reader.close()


def test_a_wal_left_beside_the_file_is_read_too(indexed, monkeypatch) -> None:
    docs, index_dir = indexed
    writer = Store.open(index_dir, create=False)
    writer._conn.execute("PRAGMA wal_autocheckpoint=0")  # the change stays in index.db-wal
    with writer.transaction():
        writer._conn.execute("UPDATE documents SET title = 'kept in the WAL'")
    assert (index_dir / "index.db-wal").stat().st_size > 0
    monkeypatch.setattr(store_module, "_writable", lambda path: False)
    reader = Store.open(index_dir, create=False)
    titles = {row[0] for row in reader._conn.execute("SELECT title FROM documents")}
    assert titles == {"kept in the WAL"}
    with pytest.raises(IndexNotWritableError, match="cannot write"):
        with reader.transaction():
            reader.upsert_document(doc_id="/x", path="/x", title=None, size=1)
    reader.close()
    writer.close()


@pytest.mark.parametrize(
    "command", [["index", "{docs}"], ["index"], ["remove", "{docs}/a.txt"]], ids=" ".join
)
def test_writing_commands_say_the_index_cannot_be_written(
    indexed, refused, capsys, monkeypatch, command
) -> None:
    docs, index_dir = indexed
    before = folder_state(index_dir)
    args = [part.format(docs=docs) for part in command]
    use_encoder(monkeypatch, FakeEncoder())
    code, out, err = run_cli(capsys, *args, "--index-dir", str(index_dir))
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert line == (
        f"error: cannot write to the index at {index_dir} (Permission denied); queries can read "
        "it, but this needs write access: check its permissions, or choose another --index-dir"
    )
    assert "damaged" not in err and "--rebuild" not in err
    assert folder_state(index_dir) == before
    code, out, _ = run_cli(capsys, "query", "heat transfer", "--index-dir", str(index_dir))
    assert code == 0 and out.split(":1: ")[0].endswith("b.txt")


def test_a_rebuilt_vectors_file_that_cannot_be_saved_is_searched_from_memory(
    indexed, caplog
) -> None:
    """The lock can be taken but the file not written (a folder made read-only after its files,
    a full disk): a warning, and the query answers. FAISS's own writer raised RuntimeError,
    which no caller expects: a traceback and exit status 1, the one for "no hits"."""
    docs, index_dir = indexed
    (index_dir / "vectors.faiss").unlink()
    # Where the save writes first: a link to a folder that is not there, so it cannot be.
    (index_dir / f".vectors.faiss.{os.getpid()}.tmp").symlink_to(index_dir / "gone" / "x")
    index = SearchIndex(index_dir, encoder=FakeEncoder())
    hits = index.search("supersonic flow", k=2)
    index.close()
    assert hits[0].path == str(docs / "a.txt")
    assert "could not save the rebuilt vectors.faiss" in caplog.text
    assert not (index_dir / "vectors.faiss").exists()
