"""The index database's rows and schema: row dataclasses, migrations, and safe FTS5 queries."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import sqlite_utils

MAX_QUERY_TOKENS = 64  # bounds the cost of a pasted paragraph used as a lexical query
FTS_TOKENIZER = "unicode61 remove_diacritics 2"  # chunks' and queries' words: folded, no accents
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class DocumentRow:
    """One row of ``documents``: a file, or one record of a JSONL file (many share a path)."""

    id: int
    doc_id: str
    path: str
    title: str | None
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    indexed_at: str | None


@dataclass(frozen=True)
class ChunkRecord:
    """A chunk as the indexer hands it in; any object with these attributes will do."""

    text: str
    start_char: int
    end_char: int
    start_line: int
    end_line: int
    ordinal: int


class ChunkLike(Protocol):
    text: str
    start_char: int
    end_char: int
    start_line: int
    end_line: int


@dataclass(frozen=True)
class StoredChunk:
    """A stored chunk joined with its document, as search results need it."""

    id: int
    document_id: int
    doc_id: str
    path: str
    title: str | None
    ordinal: int | None
    text: str
    start_char: int | None
    end_char: int | None
    start_line: int | None
    end_line: int | None


def m001_initial(db: sqlite_utils.Database) -> None:
    """Meta, documents, chunks with their embeddings, and an FTS5 index kept by triggers."""
    statements = (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
        """CREATE TABLE documents (
            id INTEGER PRIMARY KEY, doc_id TEXT UNIQUE NOT NULL, path TEXT NOT NULL,
            title TEXT, size INTEGER, mtime_ns INTEGER, sha256 TEXT, indexed_at TEXT)""",
        "CREATE INDEX documents_path ON documents(path)",
        # AUTOINCREMENT: a chunk id is never reused, so a stale vector id cannot name another chunk.
        """CREATE TABLE chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            ordinal INTEGER, text TEXT NOT NULL, start_char INTEGER, end_char INTEGER,
            start_line INTEGER, end_line INTEGER, embedding BLOB NOT NULL)""",
        "CREATE INDEX chunks_document_id ON chunks(document_id)",
        f"""CREATE VIRTUAL TABLE chunks_fts USING fts5(
            text, content='chunks', content_rowid='id',
            tokenize='{FTS_TOKENIZER}')""",
        # Triggers keep the FTS index in the same transaction as every chunk write, cascades too.
        """CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text); END""",
        """CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
            END""",
        """CREATE TRIGGER chunks_fts_update AFTER UPDATE OF id, text ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text); END""",
    )
    for sql in statements:
        db.execute(sql)


def m002_term_counts(db: sqlite_utils.Database) -> None:
    """A read-only view of the FTS5 index's terms and how many chunks hold each."""
    db.execute("CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, 'row')")


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (
    m001_initial,
    m002_term_counts,
)


def query_terms(text: str) -> list[str]:
    """The distinct words of any user text, at most ``MAX_QUERY_TOKENS``."""
    return list(dict.fromkeys(_WORD.findall(text)))[:MAX_QUERY_TOKENS]


def fts_query(text: str | Sequence[str]) -> str:
    """Turn any user text (or its terms) into a safe FTS5 query: each word quoted as a string,
    joined by OR."""
    tokens = query_terms(text) if isinstance(text, str) else list(text)
    return " OR ".join('"' + token.replace('"', '""') + '"' for token in tokens)
