"""The index database's rows and schema: row dataclasses and the migrations that make the tables."""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from searchapp.errors import CorruptIndexError, IndexNotFoundError, IndexNotWritableError
from searchapp.storage.paths import rebuild_hint

if TYPE_CHECKING:  # imported when a migration runs: a query opens an index without it (~40 ms)
    import sqlite3

    import sqlite_utils

logger = logging.getLogger(__name__)

SCHEMA_VERSION_KEY = "schema_version"
FTS_TOKENIZER = "unicode61 remove_diacritics 2"  # chunks' and queries' words: folded, no accents

# Chinese and Japanese put no spaces between words, and unicode61 makes one term of a whole run
# of letters: "東京大学で研究" was a single word, found by no query but itself. ``fts_text``
# makes each of these characters a word of its own, as Lucene's StandardTokenizer does, before
# FTS5 reads a chunk, a file name or a query: a word is then found inside a run.
CJK = (
    "\u3040-\u30ff\u31f0-\u31ff"  # hiragana, katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"  # Han
    "\uff66-\uff9f"  # half-width katakana
)
_CJK_JOINS = re.compile(rf"(?<=[{CJK}])(?=[^\W_])|(?<=[^\W_])(?=[{CJK}])")
_CJK_ANY = re.compile(f"[{CJK}]")

# Code names its things in camelCase: unicode61 made one term of ``parseConfig``, found by no
# query for "config" nor by ``parse_config`` (two terms). ``fts_text`` follows such a word with
# its parts ("parseConfig parse Config", "HTTPServer HTTP Server"), as code search tools split
# identifiers: the whole word is still a term, and each part is one too. A snake_case word is
# followed by its parts joined ("get_console getconsole"), so that ``get_console`` and
# ``getConsole`` share a term that only that identifier holds.
CAMEL_JOIN = r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])"
_CAMEL_JOINS = re.compile(CAMEL_JOIN)
_CAMEL_ANY = re.compile(r"[a-z0-9][A-Z]|[A-Z][A-Z][a-z]")
# A snake_case word ("get_console", "__rich_console__" less its outer underscores): FTS5 reads
# its parts as words, and ``fts_text`` adds them joined, the identifier as one term.
_SNAKE_WORD = re.compile(r"(?<![^\W_])[^\W_]+(?:_+[^\W_]+)+")
# A word holding such a join, matched from its start only: each word is read once.
_CAMEL_WORD = re.compile(r"(?<![^\W_])[^\W_]*?(?:[a-z0-9][A-Z]|[A-Z][A-Z][a-z])[^\W_]*")


# How many of a chunk's first characters ``m011_chunk_text_starts`` indexes: enough to tell
# most passages apart, the rest compared whole.
TEXT_START_CHARS = 48


def cjk_spaced(text: str) -> str:
    """``text`` with a space between a Chinese or Japanese character and a letter or digit next
    to it, so that FTS5's tokenizer makes each such character a term (what ``fts_text`` was
    from schema version 8 to 9)."""
    if text.isascii() or not _CJK_ANY.search(text):  # 5x faster than the joins on Latin text
        return text
    return _CJK_JOINS.sub(" ", text)


def is_identifier(word: str) -> bool:
    """Whether one word is a camelCase or snake_case name, which ``fts_text`` adds parts or a
    joined form to."""
    return bool(_CAMEL_ANY.search(word) or _SNAKE_WORD.search(word))


def _with_parts(match: re.Match[str]) -> str:
    word = match.group()
    return f"{word} {' '.join(_CAMEL_JOINS.split(word))}"


def _joined(match: re.Match[str]) -> str:
    word = match.group()
    return f"{word} {word.replace('_', '')}"


# Latin letters that are no accented forms of another (Unicode gives them no decomposition, so
# FTS5's ``remove_diacritics`` keeps them), written as these letters where a keyboard lacks them:
# "Lodz" found no "Łódź", "Strasse" no "Straße", "oeuvre" no "œuvre" (a helper's trial).
# From schema version 15 (``latin_fts_text``).
LATIN_FOLDS = {
    "ł": "l", "ŀ": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "ı": "i",
    "ß": "ss", "œ": "oe", "æ": "ae", "þ": "th",
    "Ł": "L", "Ŀ": "L", "Ø": "O", "Đ": "D", "Ð": "D", "Ħ": "H",
    "ẞ": "SS", "Œ": "Oe", "Æ": "Ae", "Þ": "Th",  # "Œuvre": no camelCase "OEuvre"
}  # fmt: skip
_LATIN_FOLDING = str.maketrans(LATIN_FOLDS)
_LATIN_FOLDED = re.compile("[" + "".join(LATIN_FOLDS) + "]")


def _accentless_greek() -> dict[str, str]:
    """Each Greek letter with an accent, a diaeresis or a breathing (monotonic and polytonic)
    -> the letter without, in its case."""
    folds = {}
    for code in [*range(0x370, 0x400), *range(0x1F00, 0x2000)]:
        char = chr(code)
        base = unicodedata.normalize("NFD", char)[0]
        if base != char and unicodedata.name(base, "").startswith("GREEK"):
            folds[char] = base
    return folds


# FTS5's ``remove_diacritics`` drops the accents of Latin letters alone: "ελλαδα" found no
# "Ελλάδα", nor did "ΕΛΛΑΔΑ", and "мед" no "мёд" (a translator's trial). Greek is read without
# its accents and with one sigma (ς as σ, as Lucene's Greek analyzer reads it), Russian's ё as
# е; й, ї and ў are letters of their own and stay. From schema version 20.
GREEK_AND_CYRILLIC_FOLDS = {
    **_accentless_greek(),
    "ς": "σ",
    **{"ё": "е", "Ё": "Е", "ѐ": "е", "Ѐ": "Е"},
}
# What ``fts_text`` writes plain; ``query_words.fold`` and the highlighting read them so too.
LETTER_FOLDS = {**LATIN_FOLDS, **GREEK_AND_CYRILLIC_FOLDS}
_LETTER_FOLDING = str.maketrans(LETTER_FOLDS)
_FOLDED_LETTER = re.compile("[" + "".join(LETTER_FOLDS) + "]")
_GREEK_OR_CYRILLIC_FOLDED = re.compile("[" + "".join(GREEK_AND_CYRILLIC_FOLDS) + "]")


def letters_folded(text: str) -> str:
    """``text`` with the letters of ``LETTER_FOLDS`` written as their plain letters, in case."""
    if text.isascii() or not _FOLDED_LETTER.search(text):
        return text
    return text.translate(_LETTER_FOLDING)


def fts_text(text: str) -> str:
    """``text`` as FTS5 is given it (chunks, file names, queries): composed (NFC: a Mac's
    decomposed "й" was "и" and a mark to FTS5, found by no typed "й"), ``identifier_words``,
    then its letters of ``LETTER_FOLDS`` plain (after, so "Œuvre" is no camelCase "OEuvre";
    from schema version 20, Greek's and Cyrillic's too)."""
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return letters_folded(identifier_words(text))


def latin_fts_text(text: str) -> str:
    """What ``fts_text`` was from schema version 15 to 19: ``identifier_words``, then the
    letters of ``LATIN_FOLDS`` plain."""
    text = identifier_words(text)
    if text.isascii() or not _LATIN_FOLDED.search(text):
        return text
    return text.translate(_LATIN_FOLDING)


def identifier_words(text: str) -> str:
    """``text`` with each Chinese or Japanese character a term (``cjk_spaced``), each camelCase
    word followed by its parts, and each snake_case word by its parts joined ("get_console
    getconsole"): an identifier, however it is spelled, is a term of its own, rarer than its
    parts (what ``fts_text`` was from schema version 10 to 14)."""
    text = cjk_spaced(text)
    if _CAMEL_ANY.search(text):
        text = _CAMEL_WORD.sub(_with_parts, text)
    if "_" in text:
        text = _SNAKE_WORD.sub(_joined, text)
    return text


def text_digest(text: str) -> str:
    """What ``removed_vectors`` knows a removed chunk's text by: a hash, not the text (a file
    given to `search remove` leaves none of its words behind)."""
    import hashlib  # OpenSSL's ~2.5 ms: not for a query, which hashes nothing

    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def add_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions the schema's triggers call: ``fts_text``, ``text_digest``. A SQLite
    built with SQLITE_TRUSTED_SCHEMA=0 refuses a trigger's call to a function Python cannot
    mark innocuous: this connection trusts its own schema."""
    conn.create_function("fts_text", 1, fts_text, deterministic=True)
    conn.create_function("text_digest", 1, text_digest, deterministic=True)
    conn.execute("PRAGMA trusted_schema=ON")


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
    ctime_ns: int | None = None  # NULL: indexed before ``CTIMES_FROM``

    def stat_matches(self, stat: os.stat_result) -> bool:
        """Whether the file's size, mtime and ctime are the ones stored. An edit that puts the
        mtime back (``touch -r``, a backup restored with its times) still moves the ctime,
        which nothing but the OS sets."""
        return (self.size, self.mtime_ns, self.ctime_ns) == (
            stat.st_size,
            stat.st_mtime_ns,
            stat.st_ctime_ns,
        )


class Place(NamedTuple):
    """From ``line`` on (to the next place or the chunk's end) a chunk is on ``page`` and under
    ``section``: where a passage crosses a page break, a heading or a cell boundary."""

    line: int
    page: int | None
    section: str | None


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: ``text == source[start_char:end_char]``; lines are 1-based and
    inclusive. The chunker makes them and the store keeps them in document order."""

    text: str
    start_char: int
    end_char: int
    start_line: int
    end_line: int
    page: int | None = None  # 1-based page it starts on (PDF); None for formats without pages
    section: str | None = None  # "Install > Linux", "cell 7", a chapter; None when there is none
    places: tuple[Place, ...] = ()  # where page or section changes after its first line


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
    page: int | None = None
    section: str | None = None
    places: tuple[Place, ...] = ()

    def location_of(self, line: int) -> tuple[int | None, str | None]:
        """The page and section of one of its lines: those of the last place at or before it,
        else where the chunk starts."""
        page, section = self.page, self.section
        for place in self.places:
            if place.line > line:
                break
            page, section = place.page, place.section
        return page, section


# A file's new version is stored under its doc_ids with this after them until it is complete,
# its indexed version kept as it was meanwhile (``Store.promote_pending``); searches skip it.
PENDING = "\x01pending"


def is_pending(doc_id: str) -> bool:
    """Whether ``doc_id`` names a version of its file still being stored (``PENDING``)."""
    return doc_id.endswith(PENDING)


def qualified_id(path: str, record_id: str) -> str:
    """The ``doc_id`` of a JSONL record: its file's path, ``#``, its id in the file. Ids are
    unique within a file only (two BEIR corpora are both numbered from 1) and ``documents.doc_id``
    is unique in the index. ``record_id`` undoes it."""
    return f"{path}#{record_id}"


def record_id(doc_id: str, path: str) -> str:
    """The id the file gives a document: a JSONL record's own id, else ``doc_id`` (the path)."""
    prefix = qualified_id(path, "")
    return doc_id[len(prefix) :] if doc_id.startswith(prefix) else doc_id


COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")
_TYPE_SUFFIX = re.compile(r"\.[a-z0-9]{1,4}$", re.IGNORECASE)  # .md .txt .go .pm .list .json


class FileName(NamedTuple):
    """What a file's path says it is about, as ``documents_names`` keeps it: its name less its
    type (``NEWS.Debian.gz`` -> ``NEWS.Debian``, ``dc.sed`` -> ``dc``, ``.bashrc`` whole) and
    the name of the folder holding it (``grep`` for ``/usr/share/doc/grep/changelog.gz``)."""

    name: str
    folder: str


def file_name(doc_id: str, path: str) -> FileName | None:
    """``path``'s ``FileName``; None for a JSONL record, whose file's name is the collection's,
    not its own."""
    if doc_id != path:
        return None
    folder, _, name = path.rpartition("/")
    for suffix in COMPRESSED_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return FileName(_TYPE_SUFFIX.sub("", name) or name, folder.rpartition("/")[2])


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


def m003_chunk_locations(db: sqlite_utils.Database) -> None:
    """Where a chunk starts inside its document beyond lines: its page and section."""
    db.execute("ALTER TABLE chunks ADD COLUMN page INTEGER")
    db.execute("ALTER TABLE chunks ADD COLUMN section TEXT")


def m004_qualified_record_ids(db: sqlite_utils.Database) -> None:
    """JSONL records' doc_ids become ``path#id`` (``qualified_id``); before, a record's bare id
    was its doc_id, and a record of another file with the same id replaced it."""
    db.execute(
        "UPDATE documents SET doc_id = path || '#' || doc_id WHERE doc_id != path "
        # and not already path#id (main had that form for clashing ids for an hour)
        "AND substr(doc_id, 1, length(path) + 1) != path || '#'"
    )


def m005_chunk_places(db: sqlite_utils.Database) -> None:
    """Where a chunk's page or section changes after its first line (``Chunk.places``, JSON
    ``[[line, page, section], ...]``); NULL where it does not, and in chunks stored before,
    which show where they start until their file is indexed again."""
    db.execute("ALTER TABLE chunks ADD COLUMN places TEXT")


def m006_file_names(db: sqlite_utils.Database) -> None:
    """Each file's name, its words searched by hybrid ranking
    (``ranking/names.py``): the store writes a row with its document; deleting the document
    deletes it."""
    db.execute(f"CREATE VIRTUAL TABLE documents_names USING fts5(name, tokenize='{FTS_TOKENIZER}')")
    db.execute(
        """CREATE TRIGGER documents_names_delete AFTER DELETE ON documents BEGIN
            DELETE FROM documents_names WHERE rowid = old.id; END"""
    )
    rows = db.execute("SELECT id, doc_id, path FROM documents WHERE doc_id = path").fetchall()
    db.conn.executemany(
        "INSERT INTO documents_names (rowid, name) VALUES (?, ?)",
        [(i, path.rpartition("/")[2]) for i, _, path in rows],
    )


def m007_file_name_words(db: sqlite_utils.Database) -> None:
    """File names less their type, and the folder holding each file (``FileName``): the names
    of version 6 kept the type (``.go`` matched "let's go") and no folder."""
    db.execute("DROP TABLE documents_names")  # m006's trigger names it: it stays
    db.execute(
        f"CREATE VIRTUAL TABLE documents_names USING fts5(name, folder, tokenize='{FTS_TOKENIZER}')"
    )
    rows = db.execute("SELECT id, doc_id, path FROM documents WHERE doc_id = path").fetchall()
    db.conn.executemany(
        "INSERT INTO documents_names (rowid, name, folder) VALUES (?, ?, ?)",
        [(i, *file_name(doc_id, path)) for i, doc_id, path in rows],  # type: ignore[misc]
    )


def m008_cjk_words(db: sqlite_utils.Database) -> None:
    """Chunks and file names reach FTS5 through ``fts_text``: the triggers call it, and what was
    indexed before with Chinese or Japanese runs as single words is indexed again."""
    for name in ("chunks_fts_insert", "chunks_fts_delete", "chunks_fts_update"):
        db.execute(f"DROP TRIGGER {name}")
    for sql in (
        """CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts(rowid, text) VALUES (new.id, fts_text(new.text)); END""",
        """CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text)
            VALUES ('delete', old.id, fts_text(old.text)); END""",
        """CREATE TRIGGER chunks_fts_update AFTER UPDATE OF id, text ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text)
            VALUES ('delete', old.id, fts_text(old.text));
            INSERT INTO chunks_fts(rowid, text) VALUES (new.id, fts_text(new.text)); END""",
    ):
        db.execute(sql)
    conn = db.conn
    # As version 8 read them (``cjk_spaced``): m010 adds what ``fts_text`` has added since.
    conn.create_function("cjk_spaced", 1, cjk_spaced, deterministic=True)
    chunks = conn.execute("SELECT id, text FROM chunks WHERE cjk_spaced(text) != text")
    for chunk_id, text in chunks:  # deleted as they were indexed, added as they are now read
        conn.execute(
            "INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', ?, ?)",
            (chunk_id, text),
        )
        conn.execute(
            "INSERT INTO chunks_fts(rowid, text) VALUES (?, ?)", (chunk_id, cjk_spaced(text))
        )
    names = conn.execute("SELECT rowid, name, folder FROM documents_names").fetchall()
    for rowid, name, folder in names:
        if (cjk_spaced(name), cjk_spaced(folder)) != (name, folder):
            conn.execute(
                "UPDATE documents_names SET name = ?, folder = ? WHERE rowid = ?",
                (cjk_spaced(name), cjk_spaced(folder), rowid),
            )


def m009_html_read_again(db: sqlite_utils.Database) -> None:
    """HTML pages' text now keeps each file line's words on that line (hits named lines of the
    extracted text): the next `search index` reads them again (a passage that reads the same
    keeps its vector)."""
    db.execute(
        "UPDATE documents SET sha256 = NULL WHERE lower(path) LIKE '%.html' "
        "OR lower(path) LIKE '%.htm' OR lower(path) LIKE '%.xhtml'"
    )


def m010_identifier_words(db: sqlite_utils.Database) -> None:
    """camelCase words reach FTS5 with their parts, snake_case ones with their parts joined
    (``fts_text``): chunks holding one are indexed again, and file names are written again from
    their paths."""
    conn = db.conn
    chunks = conn.execute(  # read as they are written: a million passages stay on disk
        # GLOB is case-sensitive: a cheap first sieve in C, ``fts_text`` says for certain.
        "SELECT id, text FROM chunks WHERE text GLOB '*[a-z0-9][A-Z]*' "
        "OR text GLOB '*[A-Z][A-Z][a-z]*' OR instr(text, '_') > 0"
    )
    for chunk_id, text in chunks:
        # deleted as version 9 indexed it, added as version 10 reads it
        _index_again(conn, chunk_id, cjk_spaced(text), identifier_words(text))
    rows = conn.execute("SELECT id, doc_id, path FROM documents WHERE doc_id = path").fetchall()
    conn.execute("DELETE FROM documents_names")
    for document_id, doc_id, path in rows:
        name = file_name(doc_id, path)
        if name is not None:
            conn.execute(
                "INSERT INTO documents_names (rowid, name, folder) VALUES (?, ?, ?)",
                (document_id, *map(identifier_words, name)),
            )


def _index_again(conn: sqlite3.Connection, chunk_id: int, was: str, now: str) -> None:
    """A chunk's FTS5 entry, indexed as ``was`` (exactly: a 'delete' of other text corrupts the
    index), indexed again as ``now``; nothing where they are the same."""
    if now == was:
        return
    conn.execute(
        "INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', ?, ?)", (chunk_id, was)
    )
    conn.execute("INSERT INTO chunks_fts(rowid, text) VALUES (?, ?)", (chunk_id, now))


def m011_chunk_text_starts(db: sqlite_utils.Database) -> None:
    """An index of each chunk's first characters, so that a passage stored under another path
    lends its vector (``Store.vectors_of_texts``): a renamed file, a moved folder or a copy was
    embedded again whole."""
    db.execute(f"CREATE INDEX chunks_text_start ON chunks(substr(text, 1, {TEXT_START_CHARS}))")


def m012_document_ctimes(db: sqlite_utils.Database) -> None:
    """Each file's status-change time beside its size and mtime: an edit that kept both (``touch
    -r``, a backup restored with its times, ``cp -p`` of another version) was taken for no
    change, its old passages kept until ``--recheck``. The rows indexed before it hold NULL:
    each such file is read once more and, unchanged, given its ctime."""
    db.execute("ALTER TABLE documents ADD COLUMN ctime_ns INTEGER")


def m013_removed_vectors(db: sqlite_utils.Database) -> None:
    """The vectors of the last ``REMOVED_VECTORS_KEPT`` chunks removed, by their texts' digests
    (``Store.vectors_of_texts``): a folder moved out of a watched one and back, or a branch
    checked out and back, embedded all its passages again (2,865 of them: 25 s)."""
    db.execute(
        "CREATE TABLE removed_vectors (id INTEGER PRIMARY KEY, digest TEXT NOT NULL UNIQUE, "
        "embedding BLOB NOT NULL)"
    )
    db.execute(
        """CREATE TRIGGER chunks_removed_vector AFTER DELETE ON chunks BEGIN
            INSERT OR REPLACE INTO removed_vectors (digest, embedding)
            VALUES (text_digest(old.text), old.embedding); END"""
    )


# What a terminal's escape code left of itself once its ESC was read as a space: " [31m",
# " [0;1m", " [K", " ]0;" (``decoding._TERMINAL_CODES`` now takes the whole code out).
_CODE_REMAINS = re.compile(r"(?:^|\s)(?:\[[0-9;?]*[A-Za-z](?!\])|\][0-9]+;)")  # not "[2B]"


def m014_terminal_codes_read_again(db: sqlite_utils.Database) -> None:
    """A terminal's escape codes are now taken out of the text, where each ESC was a space
    and the rest of the code was kept ("[31mERROR [0m"): the next `search index` reads again
    each file whose passages hold such a rest (a passage that reads the same keeps its vector).
    Its digest is made empty, not NULL, which would count it as stored in part."""
    conn = db.conn
    found = set()
    chunks = conn.execute(  # GLOB: a cheap first sieve in C; the expression says for certain
        "SELECT document_id, text FROM chunks WHERE text GLOB '*[[][0-9;?A-Za-z]*' "
        "OR text GLOB '*[]][0-9]*'"
    )
    for document_id, text in chunks:
        if document_id not in found and _CODE_REMAINS.search(text):
            found.add(document_id)
    for document_id in found:
        conn.execute(
            "UPDATE documents SET sha256 = '' WHERE path = "
            "(SELECT path FROM documents WHERE id = ?) AND sha256 IS NOT NULL",
            (document_id,),
        )


def m015_folded_letters(db: sqlite_utils.Database) -> None:
    """Ł, ß, œ and the other letters of ``LETTER_FOLDS`` reach FTS5 as their plain letters
    (``fts_text``): chunks holding one are indexed again, and file names written again."""
    conn = db.conn
    # Read as they are written; sieved here (21 instr() a passage in SQL took 10 s for
    # 200,000 passages, str.isascii 0.4 s: a reviewer's).
    for chunk_id, text in conn.execute("SELECT id, text FROM chunks"):
        if text.isascii() or not _LATIN_FOLDED.search(text):
            continue
        # deleted as version 14 indexed it, added as version 15 reads it
        _index_again(conn, chunk_id, identifier_words(text), latin_fts_text(text))
    rows = conn.execute("SELECT rowid, name, folder FROM documents_names").fetchall()
    for rowid, name, folder in rows:
        folded = ((name or "").translate(_LATIN_FOLDING), (folder or "").translate(_LATIN_FOLDING))
        if folded != (name or "", folder or ""):
            conn.execute(
                "UPDATE documents_names SET name = ?, folder = ? WHERE rowid = ?",
                (*folded, rowid),
            )


def m016_latex_and_org_read_again(db: sqlite_utils.Database) -> None:
    """LaTeX, BibTeX and Org files are now read with their sections, and LaTeX's accent
    commands as letters (``formats/latex.py``, ``formats/org.py``): the next `search index`
    reads them again (a passage that reads the same keeps its vector)."""
    db.execute(
        "UPDATE documents SET sha256 = '' WHERE (lower(path) LIKE '%.tex' "
        "OR lower(path) LIKE '%.bib' OR lower(path) LIKE '%.org') AND sha256 IS NOT NULL"
    )


def m017_slides_read_again(db: sqlite_utils.Database) -> None:
    """PowerPoint decks are now read without their footers, slide numbers and dates
    (``formats/pptx.py``): the next `search index` reads them again."""
    db.execute(
        "UPDATE documents SET sha256 = '' WHERE (lower(path) LIKE '%.pptx' "
        "OR lower(path) LIKE '%.pptm' OR lower(path) LIKE '%.ppsx') AND sha256 IS NOT NULL"
    )


def m018_notebooks_read_again(db: sqlite_utils.Database) -> None:
    """Notebooks are now read with their cells' errors and the start of what they printed
    (``formats/notebook.py``): the next `search index` reads them again."""
    # '' as m014's: NULL counts a document as stored in part (`search info`: "incomplete")
    db.execute(
        "UPDATE documents SET sha256 = '' WHERE lower(path) LIKE '%.ipynb' AND sha256 IS NOT NULL"
    )


def m019_pdfs_read_again(db: sqlite_utils.Database) -> None:
    """PDFs now lose a journal's head with its page number on alternate sides, and roman page
    numbers (``formats/running_lines.py``), keep their pages' labels (printed numbers,
    ``documents.page_labels``, JSON) and their numbered headings as sections
    (``formats/numbered_headings.py``); R Markdown and Quarto files are read as Markdown, and
    R files' passages end before their functions, notebooks hold what their cells' last
    expressions showed as text, reStructuredText and AsciiDoc files have sections, and web
    pages lose menus marked by their role: the next `search index` reads them again."""
    db.execute("ALTER TABLE documents ADD COLUMN page_labels TEXT")
    db.execute(
        "UPDATE documents SET sha256 = '' WHERE (lower(path) LIKE '%.pdf' OR lower(path) LIKE "
        "'%.pdf.gz' OR lower(path) LIKE '%.rmd' OR lower(path) LIKE '%.qmd' OR lower(path) "
        "LIKE '%.r' OR lower(path) LIKE '%.ipynb' OR lower(path) LIKE '%.rst' OR lower(path) "
        "LIKE '%.adoc' OR lower(path) LIKE '%.asciidoc' OR lower(path) LIKE '%.html' OR "
        "lower(path) LIKE '%.htm' OR lower(path) LIKE '%.xhtml' OR lower(path) LIKE '%.epub' OR "
        "lower(path) LIKE '%.rst.txt' OR lower(path) LIKE '%.md.txt') "
        "AND sha256 IS NOT NULL"
    )


def m020_greek_and_cyrillic_folded(db: sqlite_utils.Database) -> None:
    """Greek's accented letters and final sigma, and Cyrillic's ё, reach FTS5 as their plain
    letters, and decomposed text (a Mac's) composed (``fts_text``): chunks holding one are
    indexed again, and file names written again from their paths."""
    conn = db.conn
    for chunk_id, text in conn.execute("SELECT id, text FROM chunks"):  # read as written
        if text.isascii() or not (
            _GREEK_OR_CYRILLIC_FOLDED.search(text) or not unicodedata.is_normalized("NFC", text)
        ):
            continue
        # deleted as version 19 indexed it, added as it is now read
        _index_again(conn, chunk_id, latin_fts_text(text), fts_text(text))
    rows = conn.execute(
        "SELECT documents.id, doc_id, path, name, folder FROM documents "
        "JOIN documents_names ON documents_names.rowid = documents.id"
    ).fetchall()
    for document_id, doc_id, path, *was in rows:
        name = file_name(doc_id, path)
        now = [fts_text(part) for part in name] if name else was
        if now != was:
            conn.execute(
                "UPDATE documents_names SET name = ?, folder = ? WHERE rowid = ?",
                (*now, document_id),
            )


def m021_word_go_and_tables_read_again(db: sqlite_utils.Database) -> None:
    """Word's numbered paragraphs now begin with the number Word shows ("12.3 Termination",
    ``formats/docx_numbering.py``), its footers lose the "Page of" their page numbers left,
    and a table's cell merged with the one above reads as it; CSV and TSV rows are under
    their header's column names (``formats/delimited.py``); Go files marked generated are
    left out (``decoding.go_generated``): the next `search index` reads Word documents, CSV
    and TSV files again, and the Go files whose first passage holds such a mark."""
    db.execute(
        "UPDATE documents SET sha256 = '' WHERE (lower(path) LIKE '%.docx' OR lower(path) LIKE "
        "'%.docm' OR lower(path) LIKE '%.dotx' OR lower(path) LIKE '%.dotm' OR (lower(path) "
        "LIKE '%.go' AND EXISTS (SELECT 1 FROM chunks WHERE chunks.document_id = documents.id "
        "AND ordinal = 0 AND instr(text, 'DO NOT EDIT.') > 0)) OR lower(path) GLOB "
        "'*.[ct]sv' OR lower(path) GLOB '*.[ct]sv.*' OR lower(path) LIKE '%.tab' OR "
        "lower(path) LIKE '%.psv') AND sha256 IS NOT NULL"
    )


def m022_mailboxes_read_again(db: sqlite_utils.Database) -> None:
    """A mailbox is now one document a message (``formats/mbox.py``), where it was one of
    MIME, and a message names its Gmail labels and reads a body naming no charset as UTF-8;
    a transcript is what is said, without its timing (``formats/subtitles.py``): the next
    `search index` reads again the files named ``.eml``, ``.mbox``, ``.mbx``, ``.vtt`` or
    ``.srt`` and those
    indexed as a whole whose first passage begins as a mailbox does, "From " and a date
    (Thunderbird's folder files, without a suffix)."""
    db.execute(
        "UPDATE documents SET sha256 = '' WHERE (lower(path) LIKE '%.mbox' OR lower(path) "
        "LIKE '%.eml' OR lower(path) LIKE '%.vtt' OR lower(path) LIKE '%.srt' OR lower(path) "
        "LIKE '%.eml.gz' OR lower(path) LIKE '%.vtt.gz' OR lower(path) LIKE '%.srt.gz' OR "
        "lower(path) "
        "LIKE '%.mbx' OR lower(path) LIKE '%.mbox.gz' OR lower(path) LIKE '%.mbx.gz' OR "
        "(doc_id = path AND EXISTS (SELECT 1 FROM chunks WHERE chunks.document_id = "
        "documents.id AND ordinal = 0 AND text GLOB "
        "'From *[MTWFS][a-z][a-z] [JFMASOND][a-z][a-z] *[0-9]:[0-5][0-9]*'))) "
        "AND sha256 IS NOT NULL"
    )


def m023_attachments_and_maildirs_read(db: sqlite_utils.Database) -> None:
    """The text of a file attached to a message is now read with it, under a section named
    for the file (``eml.attachment_text``), and a Maildir's message is read as an ``.eml``
    file is (``formats/maildir.py``): the next `search index` reads again the files whose
    messages name an attachment (an ``.eml`` file, a mailbox; any record naming one) and the
    files named as a Maildir's messages are."""
    db.execute(
        "UPDATE documents SET sha256 = '' WHERE (path IN (SELECT documents.path FROM documents "
        "JOIN chunks ON chunks.document_id = documents.id WHERE instr(chunks.text, "
        "'Attachment: ') > 0) OR path GLOB ? OR path GLOB ?) AND sha256 IS NOT NULL",
        [f"*/{folder}/{'[0-9]' * 9}*.*" for folder in ("cur", "new")],
    )


def m024_evernote_slack_and_keep_read(db: sqlite_utils.Database) -> None:
    """An Evernote export (``.enex``) is now one document a note, its ENML read as text and
    the files it holds by their names and text (``formats/enex.py``), where it was XML and
    base64; a Slack export's days, people and channels are read as a conversation and lists
    (``formats/slack.py``), and a Google Keep note from its JSON alone, not in the trash
    (``formats/keep.py``), where they were JSON and HTML: the next `search index` reads again
    the files named ``.enex``, a day's (``2023-11-14.json``), ``users.json``,
    ``org_users.json``, the channel lists, the ``.json`` and ``.html`` files of a folder named
    Keep, and any file a passage of which names a Keep note's ``"isTrashed"`` (a Takeout kept
    under another name)."""
    db.execute(
        "UPDATE documents SET sha256 = '' WHERE (lower(path) LIKE '%.enex' OR lower(path) "
        "LIKE '%.enex.gz' OR lower(path) GLOB ? OR lower(path) LIKE '%/users.json' OR "
        "lower(path) LIKE '%/channels.json' OR lower(path) LIKE '%/groups.json' OR lower(path) "
        "LIKE '%/org_users.json' OR lower(path) "
        "LIKE '%/mpims.json' OR lower(path) LIKE '%/dms.json' OR lower(path) LIKE "
        "'%/keep/%.json' OR lower(path) LIKE '%/keep/%.html' OR path IN (SELECT documents.path "
        "FROM documents JOIN chunks ON chunks.document_id = documents.id WHERE "
        "instr(chunks.text, '\"isTrashed\"') > 0)) AND sha256 IS NOT NULL",
        ["*/[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9].json"],
    )


MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (
    m001_initial,
    m002_term_counts,
    m003_chunk_locations,
    m004_qualified_record_ids,
    m005_chunk_places,
    m006_file_names,
    m007_file_name_words,
    m008_cjk_words,
    m009_html_read_again,
    m010_identifier_words,
    m011_chunk_text_starts,
    m012_document_ctimes,
    m013_removed_vectors,
    m014_terminal_codes_read_again,
    m015_folded_letters,
    m016_latex_and_org_read_again,
    m017_slides_read_again,
    m018_notebooks_read_again,
    m019_pdfs_read_again,
    m020_greek_and_cyrillic_folded,
    m021_word_go_and_tables_read_again,
    m022_mailboxes_read_again,
    m023_attachments_and_maildirs_read,
    m024_evernote_slack_and_keep_read,
)
# The most ``removed_vectors`` keeps (~1.6 kB each with 384 dimensions): older ones go first.
REMOVED_VECTORS_KEPT = 20_000
# The first version whose chunks and names reach FTS5 through ``fts_text``: postings built from
# an index before it are built again.
CJK_WORDS_FROM = 8
# The last version that changed what FTS5 is given (``fts_text``): postings built before it are
# built again.
FTS_WORDS_FROM = 20
# The first version whose FTS5 text is ``latin_fts_text``, before ``GREEK_AND_CYRILLIC_FOLDS``.
LATIN_FOLDS_FROM = 15
# The first version whose FTS5 text is ``identifier_words``, before ``LETTER_FOLDS``.
IDENTIFIER_WORDS_FROM = 10
# The first version whose documents hold their files' ctimes.
CTIMES_FROM = 12
# The first version whose documents' names are searched (``ranking/names.py``).
NAMES_FROM = 7
# An index that cannot be written (``Store.open``) is read without migrating from this version
# on: what came since only adds columns, which read as NULL (``Store.get_chunks``), and the
# table of file names, which is searched from NAMES_FROM on (``ranking/names.py``).
READABLE_FROM = 4


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def schema_version(conn: sqlite3.Connection) -> int:
    """The number of migrations applied (0 for a new, empty database)."""
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    if found is None:
        return 0
    return conn.execute("SELECT max(version) FROM _migrations").fetchone()[0] or 0


def migrate(conn: sqlite3.Connection, path: Path, *, create: bool, read_only: bool = False) -> None:
    """Apply the migrations ``conn``'s database lacks, each in its own transaction, as ``llm``
    does, through sqlite-utils (imported only then).

    Refuses a database newer than this code, and an empty one unless ``create``. A database
    that cannot be written is read as it is from ``READABLE_FROM`` on, else refused.
    """
    version = schema_version(conn)
    if version > len(MIGRATIONS):
        raise CorruptIndexError(
            f"{path} has schema version {version}, newer than this searchapp understands "
            f"({len(MIGRATIONS)})",
            f"upgrade searchapp or {rebuild_hint(path, roots_readable=False)}",
        )
    if version == 0 and not create:
        derived = ("vectors.faiss", "postings.bin")  # saved only after a first commit
        if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0 and not any(
            path.with_name(name).exists() for name in derived
        ):
            # Nothing in it yet: a `search index` is creating it (a server asked for a --rebuild
            # of it, in a 500, while the first run had made the file but not its tables), or
            # one stopped before it began. Not damage: the next run makes it.
            raise IndexNotFoundError(
                f"no index at {path.parent} yet ({path} is empty: a `search index` may be "
                "making it); run `search index PATH` first"
            )
        raise CorruptIndexError(
            f"{path} is empty or not a search index", rebuild_hint(path, roots_readable=False)
        )
    if version == len(MIGRATIONS):
        return
    if read_only:
        if version >= READABLE_FROM:
            return
        raise IndexNotWritableError(
            f"{path} was made by an older searchapp (schema version {version}) and must be "
            "upgraded, which needs write access; run `search index` as a user who can write it"
        )
    import sqlite_utils

    db = sqlite_utils.Database(conn, execute_plugins=False, recursive_triggers=False)
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        _apply(db, path, number, migration)


def _apply(
    db: sqlite_utils.Database,
    path: Path,
    number: int,
    migration: Callable[[sqlite_utils.Database], None],
) -> None:
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        if schema_version(conn) < number:  # else another process applied it while we waited
            logger.info("applying migration %s to %s", migration.__name__, path)
            migration(db)
            conn.execute(
                "INSERT INTO _migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (number, migration.__name__, _now()),
            )
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (SCHEMA_VERSION_KEY, str(number)),
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
