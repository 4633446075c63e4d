"""The SQLite store: the source of truth of an index folder (documents, chunks, vectors, FTS5)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from searchapp.errors import (
    BadInputError,
    CorruptIndexError,
    DiskFullError,
    IndexIOError,
    IndexLockedError,
    IndexNotFoundError,
    IndexNotWritableError,
    ModelMismatchError,
)
from searchapp.storage.paths import rebuild_hint
from searchapp.storage.schema import (
    PENDING,
    REMOVED_VECTORS_KEPT,
    TEXT_START_CHARS,
    Chunk,
    DocumentRow,
    Place,
    StoredChunk,
    add_functions,
    file_name,
    fts_text,
    migrate,
    schema_version,
    text_digest,
)
from searchapp.storage.sqlite_errors import guarded, named_error

if TYPE_CHECKING:
    import sqlite_utils

logger = logging.getLogger(__name__)

DB_NAME = "index.db"
GENERATION_KEY = "generation"  # bumped by every committed transaction that changed chunks
_F = TypeVar("_F", bound=Callable[..., Any])
_SELECT_DOCUMENTS_BY = {
    "path": "SELECT id FROM documents WHERE path IN (SELECT value FROM json_each(?))",
    "doc_id": "SELECT id FROM documents WHERE doc_id IN (SELECT value FROM json_each(?))",
}


def remove_store_files(index_dir: Path, *, keep_db: bool = False) -> None:
    """Delete ``index.db`` (unless ``keep_db``) and its WAL files; the store must be closed."""
    for suffix in ("-wal", "-shm") if keep_db else ("", "-wal", "-shm"):
        (Path(index_dir) / (DB_NAME + suffix)).unlink(missing_ok=True)


def single_file(db_path: Path) -> None:
    """Fold a closed database's WAL into it and leave WAL mode, so that the file alone holds
    it (to be moved: `search index --rebuild`); the next writer to open it sets WAL again."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=DELETE").fetchone()
    finally:
        conn.close()


def _file_id(db_path: Path) -> tuple[int, int]:
    info = db_path.stat()
    return (info.st_dev, info.st_ino)


def _signature(db_path: Path) -> tuple[int, ...]:
    """What changes when a database file is written or replaced, or a writer opens it."""
    info = db_path.stat()
    wal = db_path.with_name(db_path.name + "-wal").exists()
    return (info.st_ino, info.st_size, info.st_mtime_ns, int(wal))


def _writable(db_path: Path) -> bool:
    """Whether this user may write the database and make files beside it (its WAL)."""
    return os.access(db_path.parent, os.W_OK) and os.access(db_path, os.W_OK)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# What ``get_chunks`` reads as a chunk's places: the column, or NULL for an index before it.
PLACES_COLUMN = {True: "c.places", False: "NULL"}
# A document's ctime, and the statements that write it, for an index with documents.ctime_ns
# (True) or one from before it (False: a read-only index, or a test's older one).
CTIME_COLUMN = {True: "ctime_ns", False: "NULL"}
_UPSERT = (
    "INSERT INTO documents (doc_id, path, title, size, mtime_ns, sha256, indexed_at{}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?{}) ON CONFLICT(doc_id) DO UPDATE SET "
    "path = excluded.path, title = excluded.title, size = excluded.size, "
    "mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256, indexed_at = excluded.indexed_at{} "
    "RETURNING id"
)
UPSERT_DOCUMENT = {
    True: _UPSERT.format(", ctime_ns", ", ?", ", ctime_ns = excluded.ctime_ns"),
    False: _UPSERT.format("", "", ""),
}
NAMED_INCOMPLETE = 5  # documents a stopped run left in part, named by `stats`

# An appended file's document, its chunks from the seam on deleted: incomplete until its last
# chunk is stored (``mark_complete``).
REOPEN_DOCUMENT = {
    True: "UPDATE documents SET size = ?, mtime_ns = ?, sha256 = NULL, indexed_at = ?, "
    "ctime_ns = ? WHERE id = ?",
    False: "UPDATE documents SET size = ?, mtime_ns = ?, sha256 = NULL, indexed_at = ? "
    "WHERE id = ?",
}
TOUCH_DOCUMENTS = {
    True: "UPDATE documents SET size = ?, mtime_ns = ?, ctime_ns = ? WHERE path = ?",
    False: "UPDATE documents SET size = ?, mtime_ns = ? WHERE path = ?",
}


def places(stored: str | None) -> tuple[Place, ...]:
    """``chunks.places`` as written by ``add_chunks``: JSON ``[[line, page, section], ...]``."""
    return tuple(Place(*place) for place in json.loads(stored)) if stored else ()


class Store:
    """An index folder's ``index.db``; open with :meth:`Store.open`, write inside transactions."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, *, frozen: tuple[int, ...] | None = None
    ) -> None:
        self.path = path
        self._conn = conn
        self._frozen = frozen  # an immutable reader: the file's signature when it was opened
        self._file = _file_id(path)  # which file this connection reads (--rebuild replaces it)
        self._in_write = False  # inside transaction(): nested blocks join the outer one
        self._has_places = True  # False: a read-only index from before chunks.places
        self._has_text_starts = True  # False: a read-only index from before chunks_text_start
        self._has_removed = True  # False: a read-only index from before removed_vectors
        self._has_ctimes = True  # False: an index from before documents.ctime_ns (a test's)
        self._has_page_labels = True  # ...or from before documents.page_labels
        self._version = 0  # the schema version this connection was opened (and migrated) at
        self._chunks_changed = False

    @classmethod
    def open(cls, index_dir: Path, *, create: bool, timeout: float = 10.0) -> Store:
        """Open ``index_dir/index.db``, creating it (and the folder) only when ``create``.

        ``timeout`` is how many seconds a write waits for another writer before giving up.
        """
        index_dir = Path(index_dir)
        path = index_dir / DB_NAME
        if not path.exists():
            if not create:
                raise IndexNotFoundError(f"no index at {index_dir}; run `search index PATH` first")
            try:
                # Private: it holds the text of every file indexed, some of them readable by
                # this user alone (an SRE's index of /etc let any user read root's files).
                index_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # its WAL: as it
            except OSError as exc:
                raise BadInputError(
                    f"cannot create the index folder {index_dir} ({exc}); choose another folder"
                ) from exc
        read_only = not create and not _writable(path)
        frozen = None
        if read_only:
            # A folder this user cannot write (another user's index, a read-only mount): no
            # WAL or lock files can be made. With a writer's WAL and shared memory files beside
            # it SQLite reads as any reader does (mode=ro); else it reads the file as it is
            # (immutable: no locks), and ``changed_on_disk`` tells when to open it again.
            live = all(path.with_name(path.name + end).exists() for end in ("-wal", "-shm"))
            frozen = None if live else _signature(path)
            uri = f"{path.absolute().as_uri()}?mode=ro" + ("" if live else "&immutable=1")
            conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
        else:
            conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        store = cls(conn, path, frozen=frozen)
        try:
            store._configure_and_migrate(create=create, read_only=read_only)
        except BaseException:
            conn.close()
            raise
        return store

    @property
    def db(self) -> sqlite_utils.Database:
        """The connection as a sqlite-utils ``Database`` (imported on first use: queries, which
        read through the connection alone, start ~40 ms sooner without it)."""
        import sqlite_utils

        return sqlite_utils.Database(self._conn, execute_plugins=False, recursive_triggers=False)

    def _configure_and_migrate(self, *, create: bool, read_only: bool = False) -> None:
        try:
            if not read_only:
                self._conn.execute("PRAGMA journal_mode=WAL").fetchone()
                # FULL: each commit is on disk before it returns (NORMAL left it in the WAL
                # until a checkpoint). Derived files are saved after the commit they match: a
                # power loss must not roll the store back behind a vectors.faiss that then
                # looks current, or hand out again the chunk ids the file holds.
                self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA recursive_triggers=ON")  # as sqlite-utils sets it
            self._conn.execute("PRAGMA schema_version").fetchone()
            add_functions(self._conn)
            migrate(self._conn, self.path, create=create, read_only=read_only)
            self._version = schema_version(self._conn)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(chunks)")}
            self._has_places = "places" in columns  # a read-only index may predate it
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(documents)")}
            self._has_ctimes = "ctime_ns" in columns
            self._has_page_labels = "page_labels" in columns
            self._has_removed = bool(
                self._conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                    ("removed_vectors",),
                ).fetchone()
            )
            self._has_text_starts = bool(
                self._conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?",
                    ("chunks_text_start",),
                ).fetchone()
            )
            self.get_meta()  # a cheap read of a later page: catches most truncated files
        except sqlite3.DatabaseError as exc:
            error = named_error(self.path, exc)
            if isinstance(
                error, (IndexLockedError, DiskFullError, IndexIOError, IndexNotWritableError)
            ):
                raise error from exc
            if "unable to open" in str(exc):
                raise BadInputError(
                    f"cannot open {self.path} ({exc}); check the folder's permissions"
                ) from exc
            raise CorruptIndexError(
                f"{self.path} is damaged ({exc})", rebuild_hint(self.path, roots_readable=False)
            ) from exc

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Group writes into one ``BEGIN IMMEDIATE`` transaction; nested blocks join it.

        An error anywhere inside rolls everything back. The generation counter is bumped in the
        same transaction when chunks changed.
        """
        if self._in_write:
            yield self
            return
        self._sql("BEGIN IMMEDIATE")
        self._in_write, self._chunks_changed = True, False
        try:
            self._refuse_newer_schema()
            yield self
            if self._chunks_changed:
                self._conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT(key) "
                    "DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
                    (GENERATION_KEY,),
                )
                if self._has_removed:  # the oldest removed vectors go (ids only grow)
                    self._conn.execute(
                        "DELETE FROM removed_vectors WHERE id <= "
                        "(SELECT max(id) FROM removed_vectors) - ?",
                        (REMOVED_VECTORS_KEPT,),
                    )
            self._sql("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        finally:
            self._in_write, self._chunks_changed = False, False

    def _refuse_newer_schema(self) -> None:
        """A newer searchapp may have migrated the index since this one opened it (a `search
        watch` left running across an upgrade): this process's triggers would then write what
        the older schema wrote (FTS5 terms deleted as they were never indexed, left behind)."""
        now = schema_version(self._conn)
        if now != self._version:
            raise IndexNotWritableError(
                f"{self.path} was upgraded to schema version {now} by a newer searchapp "
                f"since this process opened it (version {self._version}); stop this command "
                "and run it again"
            )

    @contextmanager
    def snapshot(self) -> Iterator[Store]:
        """Read in one consistent snapshot: other writers' commits stay invisible inside it."""
        if self._conn.in_transaction:
            yield self
            return
        self._sql("BEGIN DEFERRED")
        try:
            yield self
        except BaseException:
            # Ended, not committed: a damaged file's COMMIT raised "malformed" again, in
            # place of the error that told what to do.
            if self._conn.in_transaction:
                with suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            raise
        if self._conn.in_transaction:
            self._sql("COMMIT")

    @guarded
    def _sql(self, statement: str) -> None:
        self._conn.execute(statement)

    @guarded
    def execute(self, sql: str, parameters: Sequence[object] = ()) -> None:
        """Run one statement that returns no rows (temporary tables, for example)."""
        self._conn.execute(sql, parameters)

    @guarded
    def rows(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """All rows of one query."""
        return self._conn.execute(sql, parameters).fetchall()

    def iter_rows(self, sql: str, parameters: Sequence[object] = ()) -> Iterator[tuple[Any, ...]]:
        """The rows of one query, read as they are consumed. A generator left part way (Ctrl-C
        while the postings were built) and closed after the store is: no error. ``yield from``
        closed the cursor then, which raised on the closed connection ("Exception ignored in
        <generator object Store.iter_rows>" and a traceback before `search index` said
        "interrupted")."""
        try:
            for row in self._conn.execute(sql, parameters):  # noqa: UP028 - see above
                yield row
        except sqlite3.DatabaseError as exc:
            error = named_error(self.path, exc)
            if error is None:
                raise
            raise error from exc

    # -- meta -----------------------------------------------------------------------------------

    @guarded
    def get_meta(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall())

    @guarded
    def set_meta(self, mapping: Mapping[str, object]) -> None:
        """Store each value as text (``None`` deletes the key)."""
        with self.transaction():
            for key, value in mapping.items():
                if value is None:
                    self._conn.execute("DELETE FROM meta WHERE key = ?", (key,))
                    continue
                self._conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, str(value)),
                )

    @guarded
    def generation(self) -> int:
        """How many committed transactions changed chunks; vectors record the one they match."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (GENERATION_KEY,))
        found = row.fetchone()
        return int(found[0]) if found else 0

    @guarded
    def schema_version(self) -> int:
        return schema_version(self._conn)

    # -- writes ---------------------------------------------------------------------------------

    @guarded
    def upsert_document(
        self,
        *,
        doc_id: str,
        path: str,
        title: str | None = None,
        size: int | None = None,
        mtime_ns: int | None = None,
        ctime_ns: int | None = None,
        sha256: str | None = None,
        indexed_at: str | None = None,
        page_labels: Sequence[str] = (),
    ) -> int:
        """Insert or replace the document ``doc_id``, dropping its old chunks; returns its row
        id. ``page_labels``: a PDF's printed page numbers, one a page (``LocatedText``)."""
        values = (doc_id, path, title, size, mtime_ns, sha256, indexed_at or _now())
        if self._has_ctimes:
            values += (ctime_ns,)
        with self.transaction():
            document_id = self._conn.execute(UPSERT_DOCUMENT[self._has_ctimes], values).fetchall()[
                0
            ][0]
            deleted = self._conn.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
            self._chunks_changed |= deleted.rowcount > 0
            self._name(document_id, doc_id, path)
            if self._has_page_labels:
                labels = json.dumps(list(page_labels)) if page_labels else None
                self._conn.execute(
                    "UPDATE documents SET page_labels = ? WHERE id = ?", (labels, document_id)
                )
        return int(document_id)

    @guarded
    def page_labels(self, doc_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """``{doc_id: its pages' printed numbers}`` for those of ``doc_ids`` that have them."""
        if not self._has_page_labels:
            return {}
        rows = self._conn.execute(
            "SELECT doc_id, page_labels FROM documents WHERE page_labels IS NOT NULL "
            "AND doc_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(doc_ids)),),
        )
        return {doc_id: tuple(json.loads(labels)) for doc_id, labels in rows}

    def _name(self, document_id: int, doc_id: str, path: str) -> None:
        """The document's row in ``documents_names``: its file's name and folder, searched by
        ``ranking/names.py`` (none for a JSONL record or a pending version)."""
        self._conn.execute("DELETE FROM documents_names WHERE rowid = ?", (document_id,))
        name = file_name(doc_id, path)
        if name:
            self._conn.execute(
                "INSERT INTO documents_names (rowid, name, folder) VALUES (?, ?, ?)",
                (document_id, *map(fts_text, name)),
            )

    @guarded
    def add_chunks(
        self,
        document_id: int,
        chunks: Sequence[Chunk],
        embeddings: np.ndarray,
        *,
        first_ordinal: int = 0,
    ) -> list[int]:
        """Store chunks with their (n, dim) embeddings; returns the new chunk ids in order.

        The chunks are the document's from its ``first_ordinal``-th on (a long document arrives
        in parts).
        """
        if not chunks:
            return []
        vectors = np.asarray(embeddings, dtype="<f4")  # little-endian float32 on disk
        if vectors.ndim != 2 or vectors.shape[0] != len(chunks):
            raise ValueError(
                f"embeddings have shape {vectors.shape} but there are {len(chunks)} chunks; "
                f"pass one row per chunk: ({len(chunks)}, dim)"
            )
        ids: list[int] = []
        with self.transaction():
            self._check_dim(vectors.shape[1])
            for position, (chunk, vector) in enumerate(zip(chunks, vectors)):
                cursor = self._conn.execute(
                    "INSERT INTO chunks (document_id, ordinal, text, start_char, end_char, "
                    "start_line, end_line, page, section, places, embedding) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        document_id,
                        first_ordinal + position,
                        chunk.text,
                        chunk.start_char,
                        chunk.end_char,
                        chunk.start_line,
                        chunk.end_line,
                        chunk.page,
                        chunk.section,
                        json.dumps(chunk.places) if chunk.places else None,
                        vector.tobytes(),
                    ),
                )
                ids.append(int(cursor.lastrowid))
            self._chunks_changed = True
        return ids

    def _check_dim(self, dim: int) -> None:
        stored = self.get_meta().get("dim")
        if stored is None:
            row = self._conn.execute("SELECT length(embedding) FROM chunks LIMIT 1").fetchone()
            stored = str(row[0] // 4) if row else None
        if stored is not None and int(stored) != dim:
            raise ModelMismatchError(
                f"embeddings have dimension {dim} but the index stores dimension {stored}; "
                f"{rebuild_hint(self.path)} with the new model"
            )

    @guarded
    def mark_complete(self, path: str, sha256: str) -> None:
        """Record the content hash of the file at ``path`` once every chunk of every document
        it holds is stored (until then a killed run leaves it to be indexed again)."""
        with self.transaction():
            self._conn.execute("UPDATE documents SET sha256 = ? WHERE path = ?", (sha256, path))

    @guarded
    def touch_path(self, path: str, *, size: int, mtime_ns: int, ctime_ns: int) -> None:
        """Update size and times of the documents at ``path`` (content unchanged)."""
        with self.transaction():
            self._conn.execute(
                TOUCH_DOCUMENTS[self._has_ctimes],
                (size, mtime_ns, *([ctime_ns] if self._has_ctimes else []), path),
            )

    @guarded
    def reopen_document(
        self, document_id: int, ordinal: int, *, size: int, mtime_ns: int, ctime_ns: int
    ) -> list[int]:
        """Delete the document's chunks from ``ordinal`` on and record its file's new size and
        times, not complete (an appended file: the chunks before stay, the rest follow).
        Returns the ids of the chunks removed."""
        with self.transaction():
            cursor = self._conn.execute(
                "SELECT id FROM chunks WHERE document_id = ? AND ordinal >= ? ORDER BY id",
                (document_id, ordinal),
            )
            removed = [row[0] for row in cursor]
            self._conn.execute(
                "DELETE FROM chunks WHERE document_id = ? AND ordinal >= ?", (document_id, ordinal)
            )
            times = (mtime_ns, _now(), *([ctime_ns] if self._has_ctimes else []))
            self._conn.execute(REOPEN_DOCUMENT[self._has_ctimes], (size, *times, document_id))
            self._chunks_changed |= bool(removed)
        return removed

    @guarded
    def promote_pending(self, path: str) -> list[int]:
        """The new version of the file at ``path``, stored under pending doc_ids
        (``schema.PENDING``), in place of its indexed one: that one's documents go, the new
        ones take their doc_ids. Returns the ids of the chunks removed."""
        with self.transaction():
            cursor = self._conn.execute(
                "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "
                "WHERE d.path = ? AND substr(d.doc_id, -?) != ? ORDER BY c.id",
                (path, len(PENDING), PENDING),
            )
            removed = [row[0] for row in cursor]
            self._conn.execute(
                "DELETE FROM documents WHERE path = ? AND substr(doc_id, -?) != ?",
                (path, len(PENDING), PENDING),
            )
            self._conn.execute(
                "UPDATE documents SET doc_id = substr(doc_id, 1, length(doc_id) - ?) "
                "WHERE path = ? AND substr(doc_id, -?) = ?",
                (len(PENDING), path, len(PENDING), PENDING),
            )
            # Named now: under a pending doc_id a file has no name (``schema.file_name``), and
            # its indexed version's name row went with it (an edited file lost its name boost).
            renamed = self._conn.execute(
                "SELECT id, doc_id FROM documents WHERE path = ?", (path,)
            ).fetchall()
            for document_id, doc_id in renamed:
                self._name(document_id, doc_id, path)
            self._chunks_changed |= bool(removed)
        return removed

    @guarded
    def delete_pending(self, path: str) -> list[int]:
        """Delete the pending documents at ``path`` (a new version an interrupted run began);
        returns the ids of the chunks removed."""
        pending = [
            doc_id
            for (doc_id,) in self._conn.execute(
                "SELECT doc_id FROM documents WHERE path = ? AND substr(doc_id, -?) = ?",
                (path, len(PENDING), PENDING),
            )
        ]
        return self._delete_documents("doc_id", pending) if pending else []

    @guarded
    def delete_documents_by_path(self, paths: Iterable[str]) -> list[int]:
        """Delete every document at these paths; returns the ids of the chunks removed."""
        return self._delete_documents("path", sorted(set(paths)))

    @guarded
    def delete_document(self, doc_id: str) -> list[int]:
        """Delete one document by ``doc_id``; returns the ids of the chunks removed."""
        return self._delete_documents("doc_id", [doc_id])

    def _delete_documents(self, column: str, values: list[str]) -> list[int]:
        selected = _SELECT_DOCUMENTS_BY[column]  # fixed SQL; the values are bound
        payload = (json.dumps(values),)
        with self.transaction():
            cursor = self._conn.execute(
                f"SELECT id FROM chunks WHERE document_id IN ({selected}) ORDER BY id", payload
            )
            removed = [row[0] for row in cursor]
            # ON DELETE CASCADE removes the chunks; their triggers remove the FTS rows.
            self._conn.execute(f"DELETE FROM documents WHERE id IN ({selected})", payload)
            self._chunks_changed |= bool(removed)
        return removed

    # -- reads ----------------------------------------------------------------------------------

    @guarded
    def documents_by_path(self) -> dict[str, list[DocumentRow]]:
        """Every document grouped by path, for comparing against the files on disk."""
        grouped: dict[str, list[DocumentRow]] = {}
        for row in self._conn.execute(
            "SELECT id, doc_id, path, title, size, mtime_ns, sha256, indexed_at, "
            f"{CTIME_COLUMN[self._has_ctimes]} FROM documents ORDER BY path, id"
        ):
            document = DocumentRow(*row)
            grouped.setdefault(document.path, []).append(document)
        return grouped

    @guarded
    def last_chunk(self, document_id: int) -> tuple[int, Chunk, int | None] | None:
        """The document's last chunk, its ordinal and where the chunk before it ends (None:
        it is the first); None for a document without chunks."""
        rows = self._conn.execute(
            "SELECT ordinal, text, start_char, end_char, start_line, end_line FROM chunks "
            "WHERE document_id = ? ORDER BY ordinal DESC LIMIT 2",
            (document_id,),
        ).fetchall()
        if not rows or None in rows[0]:
            return None
        before = rows[1][3] if len(rows) > 1 else None
        return rows[0][0], Chunk(*rows[0][1:]), before

    @guarded
    def chunk_places(
        self, document_id: int
    ) -> list[tuple[int, int | None, str | None, str | None]]:
        """(start_line, page, section, places as stored) of each chunk of a document."""
        return self._conn.execute(
            "SELECT c.start_line, c.page, c.section, "
            f"{PLACES_COLUMN[self._has_places]} "
            "FROM chunks c WHERE c.document_id = ?",
            (document_id,),
        ).fetchall()

    @guarded
    def file_states(self, paths: Iterable[str]) -> dict[str, DocumentRow]:
        """A document row of each of these paths (unknown ones skipped): its file as indexed,
        the searched version's where a new one is pending (the oldest row is the last read)."""
        rows = self._conn.execute(
            "SELECT id, doc_id, path, title, size, mtime_ns, sha256, indexed_at, "
            f"{CTIME_COLUMN[self._has_ctimes]} FROM documents "
            "WHERE path IN (SELECT value FROM json_each(?)) ORDER BY id DESC",
            (json.dumps(list(paths)),),
        )
        return {row[2]: DocumentRow(*row) for row in rows}

    @guarded
    def document_counts_by_path(self) -> dict[str, int]:
        """How many documents each path holds (a JSONL file holds one per record), pending
        versions left out."""
        return dict(
            self._conn.execute(
                "SELECT path, count(*) FROM documents WHERE substr(doc_id, -?) != ? GROUP BY path",
                (len(PENDING), PENDING),
            ).fetchall()
        )

    @guarded
    def holds_paths_under(self, folder: str) -> bool:
        """Whether a document's path lies below ``folder`` (one lookup in the path index: the
        paths from ``folder/`` up to, not including, ``folder0``, "0" following "/")."""
        below = folder.rstrip(os.sep) + os.sep
        row = self._conn.execute(
            "SELECT 1 FROM documents WHERE path >= ? AND path < ? LIMIT 1",
            (below, below[:-1] + chr(ord(os.sep) + 1)),
        ).fetchone()
        return row is not None

    @guarded
    def all_paths(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT DISTINCT path FROM documents ORDER BY 1")]

    @guarded
    def chunk_ids_at(self, paths: Sequence[str], limit: int = -1) -> list[int]:
        """The ids of the chunks of the documents at these paths, ascending, the first
        ``limit`` of them (-1: all); not of a version still being stored (``PENDING``)."""
        rows = self._conn.execute(
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE d.path IN (SELECT value FROM json_each(?)) AND substr(d.doc_id, -?) != ? "
            "ORDER BY c.id LIMIT ?",
            (json.dumps(list(paths)), len(PENDING), PENDING, limit),
        )
        return [row[0] for row in rows]

    @guarded
    def chunk_ids(self) -> np.ndarray:
        """All chunk ids, ascending, as int64."""
        # One text of them all, joined in C: 8x faster than a Python row per id.
        (joined,) = self._conn.execute("SELECT group_concat(id, ' ') FROM chunks").fetchone()
        if not joined:
            return np.empty(0, dtype=np.int64)
        return np.sort(np.fromstring(joined, dtype=np.int64, sep=" "))

    @guarded
    def count_chunks(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0])

    @guarded
    def count_documents_within(self, chunk_ids: Collection[int]) -> int:
        """How many documents have every one of their chunks among ``chunk_ids``."""
        if not chunk_ids:
            return 0
        return int(
            self._conn.execute(
                "SELECT count(*) FROM (SELECT document_id, count(*) AS n FROM chunks "
                "WHERE id IN (SELECT value FROM json_each(?)) GROUP BY document_id) AS some "
                "WHERE some.n = (SELECT count(*) FROM chunks WHERE document_id = some.document_id)",
                (json.dumps(list(chunk_ids)),),
            ).fetchone()[0]
        )

    @guarded
    def count_documents(self) -> int:
        """Documents searched: pending versions (``schema.PENDING``) left out."""
        return int(
            self._conn.execute(
                "SELECT count(*) FROM documents WHERE substr(doc_id, -?) != ?",
                (len(PENDING), PENDING),
            ).fetchone()[0]
        )

    def iter_embeddings(
        self, batch_size: int = 4096, *, after_id: int = -1
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(ids (n,) int64, vectors (n, dim) float32)`` in id order, one batch at a time,
        of the chunks whose id is above ``after_id``.

        Use inside :meth:`snapshot` to see one consistent state while other processes write.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size ({batch_size}) must be at least 1")
        last_id, width = after_id, None
        while True:
            rows = self._fetch_embeddings(last_id, batch_size)
            if not rows:
                return
            width = width or len(rows[0][1])
            blob = b"".join(row[1] for row in rows)
            if width % 4 or len(blob) != width * len(rows):
                raise CorruptIndexError(
                    f"{self.path} holds embeddings of different sizes", rebuild_hint(self.path)
                )
            ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(blob, dtype="<f4").reshape(len(rows), width // 4)
            yield ids, vectors.astype(np.float32)  # a writable, native-order copy
            last_id = int(ids[-1])

    @guarded
    def _fetch_embeddings(self, after_id: int, limit: int) -> list[tuple[int, bytes]]:
        return self._conn.execute(
            "SELECT id, embedding FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        ).fetchall()

    @guarded
    def embeddings(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        """The stored (dim,) float32 vector of each of these chunk ids; unknown ids are skipped."""
        rows = self._conn.execute(
            "SELECT id, embedding FROM chunks WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps([int(i) for i in ids]),),
        )
        return {row[0]: np.frombuffer(row[1], dtype="<f4").astype(np.float32) for row in rows}

    @guarded
    def vectors_by_text(self, path: str, limit: int) -> dict[str, np.ndarray]:
        """The stored vector of each chunk text of the documents at ``path``; {} when they hold
        more than ``limit`` chunks (a bound on the memory this takes)."""
        count = self._conn.execute(
            "SELECT count(*) FROM chunks WHERE document_id IN "
            "(SELECT id FROM documents WHERE path = ?)",
            (path,),
        ).fetchone()[0]
        if count > limit:
            return {}
        rows = self._conn.execute(
            "SELECT c.text, c.embedding FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE d.path = ?",
            (path,),
        )
        return {text: np.frombuffer(blob, dtype="<f4").astype(np.float32) for text, blob in rows}

    @guarded
    def vectors_of_texts(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vector of each of ``texts`` that some chunk holds, whatever its file (a
        file renamed or copied: its passages are stored under the old name), else that a chunk
        removed not long ago held (``schema.m013_removed_vectors``). A chunk's vector is its
        text's alone, embedded by the index's one model."""
        if not texts or not self._has_text_starts:
            return {}
        distinct = list(dict.fromkeys(texts))
        # One chunk a text (LIMIT 1): every stored copy of it was read, 1.5 KB each, for each
        # new copy: 1,000 copies of a passage 12,500 files held took 26 s to index.
        start = f"substr(text, 1, {TEXT_START_CHARS})"  # as ``chunks_text_start`` indexes it
        rows = self._conn.execute(
            f"SELECT value, (SELECT embedding FROM chunks WHERE {start} = "
            f"substr(value, 1, {TEXT_START_CHARS}) AND text = value LIMIT 1) FROM json_each(?)",
            (json.dumps(distinct),),
        )
        found = {text: blob for text, blob in rows if blob is not None}
        missing = {text_digest(text): text for text in distinct if text not in found}
        if missing and self._has_removed:
            rows = self._conn.execute(
                "SELECT digest, embedding FROM removed_vectors "
                "WHERE digest IN (SELECT value FROM json_each(?))",
                (json.dumps(list(missing)),),
            )
            found.update((missing[digest], blob) for digest, blob in rows)
        return {
            text: np.frombuffer(blob, dtype="<f4").astype(np.float32)
            for text, blob in found.items()
        }

    @guarded
    def copies_of(self, texts: Sequence[str]) -> dict[str, list[tuple[int, str, str]]]:
        """Every stored chunk holding each of ``texts`` (copies: a passage in several files),
        as ``(chunk id, path, doc_id)``; versions still being stored (``schema.PENDING``)
        left out. {} for an index from before ``chunks_text_start``, which has no quick way
        to find them."""
        if not texts or not self._has_text_starts:
            return {}
        distinct = list(dict.fromkeys(texts))
        rows = self._conn.execute(
            "SELECT c.text, c.id, d.path, d.doc_id FROM chunks c "
            "JOIN documents d ON d.id = c.document_id "
            f"WHERE substr(c.text, 1, {TEXT_START_CHARS}) IN (SELECT value FROM json_each(?)) "
            "AND c.text IN (SELECT value FROM json_each(?)) AND substr(d.doc_id, -?) != ?",
            (
                json.dumps(list({t[:TEXT_START_CHARS]: None for t in distinct})),
                json.dumps(distinct),
                len(PENDING),
                PENDING,
            ),
        )
        found: dict[str, list[tuple[int, str, str]]] = {}
        for text, chunk_id, path, doc_id in rows:
            found.setdefault(text, []).append((chunk_id, path, doc_id))
        return found

    @guarded
    def get_chunks(self, ids: Iterable[int]) -> list[StoredChunk]:
        """The chunks with these ids, in the order given; unknown ids (and -1) are skipped."""
        wanted = [int(i) for i in ids]
        found = {
            row[0]: StoredChunk(*row[:-1], places=places(row[-1]))
            for row in self._conn.execute(
                "SELECT c.id, c.document_id, d.doc_id, d.path, d.title, c.ordinal, c.text, "
                "c.start_char, c.end_char, c.start_line, c.end_line, c.page, c.section, "
                f"{PLACES_COLUMN[self._has_places]} "
                "FROM chunks c JOIN documents d ON d.id = c.document_id "
                "WHERE c.id IN (SELECT value FROM json_each(?))",
                (json.dumps(wanted),),
            )
        }
        return [found[i] for i in wanted if i in found]

    @guarded
    def chunk_texts(self, ids: Iterable[int]) -> dict[int, str]:
        """``{chunk id: its text}`` for these ids (unknown ones skipped): what ranking by word
        order reads of ~200 candidates a query, without ``get_chunks``' places and paths."""
        rows = self._conn.execute(
            "SELECT id, text FROM chunks WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps([int(i) for i in ids]),),
        )
        return dict(rows)

    @guarded
    def chunk_paths(self, ids: Iterable[int]) -> dict[int, str]:
        """``{chunk id: its document's path}`` for these ids (unknown ones skipped)."""
        rows = self._conn.execute(
            "SELECT c.id, d.path FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE c.id IN (SELECT value FROM json_each(?))",
            (json.dumps([int(i) for i in ids]),),
        )
        return dict(rows)

    @guarded
    def texts_before(self, ids: Iterable[int], chunks: int = 2) -> dict[int, str]:
        """``{chunk id: its document's text before it}``, as far as the ``chunks`` passages
        before it reach, ending where it begins (what the enclosing class of a definition is
        read from, and the indentation of a passage's first line, which its text leaves out).
        Between passages that do not overlap, the blank lines and indentation they leave out
        are put back as newlines and spaces."""
        rows = self._conn.execute(
            "SELECT c.id, c.start_char, c.start_line, p.start_char, p.start_line, p.end_char, "
            "p.end_line, p.text FROM chunks c JOIN chunks p ON p.document_id = c.document_id "
            "AND p.ordinal BETWEEN c.ordinal - ? AND c.ordinal - 1 "
            "WHERE c.id IN (SELECT value FROM json_each(?)) ORDER BY c.id, p.ordinal",
            (chunks, json.dumps([int(i) for i in ids])),
        )
        from searchapp.storage.documents import stitch  # it reads documents from a Store

        pieces: dict[int, list[tuple[int, int, int, str]]] = {}
        starts: dict[int, tuple[int, int]] = {}
        for chunk_id, start, start_line, p_start, p_line, p_end, _, text in rows:
            pieces.setdefault(chunk_id, []).append((p_start, p_end, p_line, text))
            starts[chunk_id] = (start, start_line)
        texts = {}
        for chunk_id, parts in pieces.items():
            start, start_line = starts[chunk_id]
            # Up to the passage: a gap to it refilled, or the overlap with it cut off.
            text = stitch(
                [*parts, (start, start, start_line, "")], position=parts[0][0], line=parts[0][2]
            )
            reached = max(end for _, end, _, _ in parts)
            texts[chunk_id] = text[: len(text) - (reached - start)] if reached > start else text
        return texts

    @guarded
    def stats(self) -> dict[str, Any]:
        """Document and chunk counts (and of documents an interrupted run left part way, which
        are searched, with the first few of their paths), and the bytes on disk of the database
        and its WAL."""
        files = [self.path, self.path.with_name(DB_NAME + "-wal")]
        incomplete, incomplete_files = self._conn.execute(
            "SELECT count(*), count(DISTINCT path) FROM documents WHERE sha256 IS NULL "
            "AND substr(doc_id, -?) != ?",
            (len(PENDING), PENDING),
        ).fetchone()
        return {
            "documents": self.count_documents(),
            "incomplete_documents": incomplete,
            # the files they are of: a mailbox stopped part way is one, of many messages
            "incomplete_files": incomplete_files,
            "incomplete_paths": [  # the first few, by path: `search info` names them
                path
                for (path,) in self._conn.execute(
                    "SELECT DISTINCT path FROM documents WHERE sha256 IS NULL "
                    "AND substr(doc_id, -?) != ? ORDER BY path LIMIT ?",
                    (len(PENDING), PENDING, NAMED_INCOMPLETE),
                )
            ]
            if incomplete
            else [],
            "chunks": self.count_chunks(),
            "db_bytes": sum(f.stat().st_size for f in files if f.exists()),
            # Pages removals left free: reused as the index grows, never given back (a folder
            # of 13,662 passages moved out and back left index.db 62% free pages).
            "db_free_bytes": self._conn.execute("PRAGMA freelist_count").fetchone()[0]
            * self._conn.execute("PRAGMA page_size").fetchone()[0],
        }

    def changed_on_disk(self) -> bool:
        """Whether the file was replaced since it was opened (`search index --rebuild` moves a
        new one in: this connection would go on reading the old one), or, read as immutable,
        written since (by a user who may: its reader would see a mix of old and new pages). It
        must then be opened again."""
        try:
            if _file_id(self.path) != self._file:
                return True
            return self._frozen is not None and _signature(self.path) != self._frozen
        except OSError:  # gone: opening again says what is there
            return True

    def close(self) -> None:
        self._conn.close()
