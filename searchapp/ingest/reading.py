"""Reading one file for the indexer (``pipeline.py``), in its thread that reads: the file's
documents, chunked and tokenized, in parts of at most ``PART_CHUNKS`` chunks (``Part``), then
what became of the file (``FileDone``).

A file that is its indexed version with text added at its end (a log) is chunked only from its
last indexed passage on (``FileReader._seam``): the passages before are kept as they are.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from searchapp.errors import SearchAppError
from searchapp.ingest.chunking import (
    CODE_SUFFIXES,
    ChunkingConfig,
    CountTokens,
    Resume,
    chunk_text,
    cut_apart,
    resume_at,
)
from searchapp.ingest.decoding import (
    HTML_SUFFIXES,
    SourceDocument,
    generated_data,
    go_generated,
    is_mailbox_file,
    is_too_large,
    load_documents,
    looks_generated,
    mailbox_documents,
    mailbox_scan,
    read_bytes,
    size_limit,
)
from searchapp.ingest.discovery import NO_DEFAULT_EXCLUDES, is_read_error
from searchapp.ingest.formats.spans import (
    heading_starts,
    line_locations,
    locate,
    section_starts,
)
from searchapp.ingest.formats.subtitles import is_transcript
from searchapp.storage.schema import Chunk, DocumentRow, Place
from searchapp.storage.store import Store

PART_CHUNKS = 256  # a long document travels in parts of this many chunks (bounded memory)
LONG_READ_BYTES = 1 << 20  # a file this large is named while it is chunked (``on_reading``)


@dataclass
class Part:
    """Some chunks of one document, with token ids; ``first`` marks its start."""

    path: str
    doc_id: str
    title: str
    chunks: list[Chunk]
    first_ordinal: int  # ordinal of chunks[0] within its document
    ids: list[list[int]]
    first: bool
    size: int
    mtime_ns: int
    ctime_ns: int
    replace_path: bool  # first part of a changed file: drop the file's old documents first
    bytes: int = 0  # its share of the file's work (``work_bytes``), for progress
    # First part of an appended file (``FileReader._seam``): the row id of its document, whose
    # chunks from ``first_ordinal`` on it replaces (those before are kept).
    resume_document: int | None = None
    page_labels: tuple[str, ...] = ()  # a PDF's printed page numbers (``SourceDocument``'s)


def split(part: Part, count: int) -> tuple[Part, Part]:
    """``part``'s first ``count`` chunks, and the rest as the part that follows them."""
    share = part.bytes * count // len(part.chunks)
    head = replace(part, chunks=part.chunks[:count], ids=part.ids[:count], bytes=share)
    rest = replace(
        part,
        chunks=part.chunks[count:],
        ids=part.ids[count:],
        first_ordinal=part.first_ordinal + count,
        first=False,
        replace_path=False,
        resume_document=None,
        bytes=part.bytes - share,
    )
    return head, rest


@dataclass
class FileDone:
    path: str
    status: str  # added | updated | unchanged | touched (same content, new mtime) | skipped
    reason: str = ""
    size: int = 0  # of a file read (touched: for the store); else 0
    mtime_ns: int = 0
    ctime_ns: int = 0
    sha256: str = ""  # added | updated: the content every document of the file now holds
    work: int = 0  # what the file counted for at the start (``work_bytes``), for progress
    credited: int = 0  # bytes its parts have counted for progress
    kept_bytes: int = 0  # an appended file: the share of its work its kept passages stand for
    kept: bool = False  # skipped, but its documents stay (``skipped``)
    # added | updated: its documents indexed before stay, their file's size and times now these
    kept_documents: bool = False


class Tail(NamedTuple):
    """The last passage of a file's one indexed document (``grown_tails``)."""

    document_id: int  # the document's row id
    ordinal: int
    chunk: Chunk
    previous_end: int | None  # where the chunk before it ends (None: it is the first)
    resume: Resume | None = None  # how chunking picks up at its start (``FileReader._seam``)


@dataclass
class FileReader:
    """Reads files into parts for one run of the indexer."""

    chunking: ChunkingConfig
    tokenize: Callable[[Sequence[str]], list[list[int]]]
    # A file of ``LONG_READ_BYTES`` or more being chunked, then None (``Progress.on_reading``).
    on_reading: Callable[[str | None], None]
    default_excludes: bool = True
    # Read unchanged files too, to skip those the default excludes leave out by their text.
    recheck: bool = False
    tails: dict[str, Tail] = dataclasses.field(default_factory=dict)  # ``grown_tails``
    named: frozenset[str] = frozenset()  # files given by name: their text is not judged

    def items(
        self, path: Path, rows: list[DocumentRow], count_tokens: CountTokens
    ) -> Iterator[Part | FileDone]:
        """The parts of the file's documents, then what became of it."""
        key = str(path)
        try:
            stat = path.stat()
        except FileNotFoundError:
            yield FileDone(key, "skipped", "vanished before it could be read")
            return
        except OSError as exc:
            yield skipped(key, f"cannot read: {exc.strerror or exc}", rows)
            return
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            reason = "file name is not valid UTF-8; rename it to index it"
            work = work_bytes(path, stat.st_size)
            yield FileDone(key, "skipped", reason, size=stat.st_size, work=work)
            return
        if unchanged(rows, stat) and not self.recheck:
            yield FileDone(key, "unchanged")
            return
        work = work_bytes(path, stat.st_size)
        times = {"mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns}
        if is_mailbox_file(path):  # read a message at a time, whatever its size
            yield from self._mailbox(path, rows, stat, work, count_tokens)
            return
        try:
            limit = size_limit(path, stat.st_size)
            data = read_bytes(path, max_bytes=limit)
            # The size of what is hashed, not the stat's: a log that grew between the two was
            # stored with a size its hash did not cover, and its next append (``_seam``) found
            # its first bytes changed, and chunked all of it again.
            size = len(data)
            digest = hashlib.sha256(data).hexdigest()
            same = bool(rows) and all(row.sha256 == digest for row in rows)
            if same and not self.recheck:
                yield FileDone(key, "touched", size=size, work=work, **times)
                return
            documents = load_documents(path, data=data, max_bytes=limit)
        except SearchAppError as exc:
            yield skipped(key, str(exc), rows, size=stat.st_size, work=work)
            return
        # A page's visible text keeps its file's lines: a page written on one line is one
        # long line of prose and markup-free code, not generated noise.
        # Not a file named to index (`search index app.min.js`), as ripgrep searches one.
        judged = self.default_excludes and key not in self.named
        page = Path(key).suffix.lower() in HTML_SUFFIXES
        flags = [not page and looks_generated(d.text) for d in documents]
        if judged and len(documents) > 1 and not all(flags):  # a note or record, not its file
            documents = [d for d, flag in zip(documents, flags, strict=True) if not flag]
            flags = [False] * len(documents)
        generated = any(flags)
        if judged and generated:
            reason = f"minified or generated text; {NO_DEFAULT_EXCLUDES}"
            yield FileDone(key, "skipped", reason, size=stat.st_size, work=work)
            return
        if (
            judged
            and Path(key).suffix.lower() in CODE_SUFFIXES
            and any(generated_data(d.text) for d in documents)
        ):
            reason = f"generated data (its top says so); {NO_DEFAULT_EXCLUDES}"
            yield FileDone(key, "skipped", reason, size=stat.st_size, work=work)
            return
        if (
            judged
            and Path(key).suffix.lower() == ".go"
            and any(go_generated(d.text) for d in documents)
        ):
            reason = f"generated code (its top says: DO NOT EDIT); {NO_DEFAULT_EXCLUDES}"
            yield FileDone(key, "skipped", reason, size=stat.st_size, work=work)
            return
        if same:  # read again only to check it (``recheck``): its passages stand
            yield FileDone(key, "touched", size=size, work=work, **times)
            return
        seam = self._seam(key, data, rows, documents, count_tokens)
        replace = bool(rows) and seam is None
        all_text = sum(len(document.text) for document in documents) or 1
        long_read = stat.st_size >= LONG_READ_BYTES
        # where chunking starts: the last indexed passage's of an appended file (one document)
        start = seam.chunk.start_char if seam is not None else 0
        kept_bytes = work * start // all_text
        shares = [(d, (work - kept_bytes) * (len(d.text) - start) // all_text) for d in documents]
        credited = 0
        file = (size, times, count_tokens)
        for part in self._parts(key, shares, file, replace=replace, long_read=long_read, seam=seam):
            credited += part.bytes
            yield part
        if not documents:
            yield FileDone(key, "skipped", "no text", size=size, work=work)
            return
        status = "updated" if rows else "added"
        yield FileDone(
            key,
            status,
            sha256=digest,
            size=size,
            work=work,
            credited=credited,
            kept_bytes=kept_bytes,
        )

    def _mailbox(
        self,
        path: Path,
        rows: list[DocumentRow],
        stat: os.stat_result,
        work: int,
        count_tokens: CountTokens,
    ) -> Iterator[Part | FileDone]:
        """``items`` of a mailbox (``formats/mbox.py``): read through once to hash it, then
        a message at a time, so that memory holds one message, not the file (a 5 GB Gmail
        export). Mail appended since it was indexed (Thunderbird writes new mail at a folder
        file's end) is read alone: the messages before keep their passages."""
        key = str(path)
        times = {"mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns}
        indexed = _indexed_size(rows) if 0 < _indexed_size(rows) < stat.st_size else 0
        long_read = stat.st_size >= LONG_READ_BYTES
        if long_read:  # named while it is hashed and chunked (5 GB take minutes)
            self.on_reading(key)
        credited = 0
        try:
            # Its first ``stat.st_size`` bytes: mail appended while it is read waits its turn.
            # Each message looks whether to stop (Ctrl-C): ``stoppable``'s empty count.
            scan = mailbox_scan(path, stat.st_size, at=indexed, between=lambda: count_tokens(()))
            size = scan.size  # of what is hashed (it may have shrunk since the stat)
            if bool(rows) and all(row.sha256 == scan.digest for row in rows):
                yield FileDone(key, "touched", size=size, work=work, **times)
                return
            appended = bool(indexed) and scan.appended_at and scan.digest_at == rows[0].sha256
            start, first = (indexed, scan.count_at + 1) if appended else (0, 1)
            kept_bytes = work * start // size if size else 0
            shares = (
                (document, (work - kept_bytes) * length // max(size - start, 1))
                for length, document in mailbox_documents(path, size, start=start, first=first)
            )
            replace, count, file = bool(rows) and not appended, 0, (size, times, count_tokens)
            for part in self._parts(key, shares, file, replace=replace, long_read=False):
                count += part.first  # a message's first part
                credited += part.bytes
                yield part
        except SearchAppError as exc:  # its parts so far counted for progress: the rest
            done = skipped(key, str(exc), rows, size=stat.st_size, work=work)
            yield dataclasses.replace(done, credited=credited)
            return
        finally:
            if long_read:
                self.on_reading(None)
        if not count and not appended:
            yield FileDone(key, "skipped", "no text", size=size, work=work)
            return
        yield FileDone(
            key,
            "updated" if rows else "added",
            sha256=scan.digest,
            size=size,
            work=work,
            credited=credited,
            kept_bytes=kept_bytes,
            **(times if appended else {}),
            kept_documents=appended,
        )

    def _parts(
        self,
        key: str,
        shares: Iterable[tuple[SourceDocument, int]],
        file: tuple[int, dict[str, int], CountTokens],
        *,
        replace: bool,
        long_read: bool,
        seam: Tail | None = None,
    ) -> Iterator[Part]:
        """The documents of the file ``key`` (its size and times, and how tokens are counted),
        each with its share of the file's work, chunked and tokenized in parts of
        ``PART_CHUNKS`` chunks (one without chunks for an empty document). ``replace``: the
        first part drops the file's documents indexed before (once their new version is
        complete); ``seam``: the file's last indexed passage, where its one document's
        chunking starts (``_seam``); ``long_read``: the file is named while it is chunked
        (``on_reading``)."""
        for document, document_bytes in shares:
            yield from self._document_parts(
                key, document, file, document_bytes, replace=replace, long_read=long_read, seam=seam
            )
            replace = False

    def _document_parts(
        self,
        key: str,
        document: SourceDocument,
        file: tuple[int, dict[str, int], CountTokens],
        document_bytes: int,
        *,
        replace: bool,
        long_read: bool,
        seam: Tail | None,
    ) -> Iterator[Part]:
        """One document's parts (``_parts``)."""
        size, times, count_tokens = file
        start = ordinal = lines = 0  # where chunking starts: character, ordinal, line
        if seam is not None:
            ordinal, last = seam.ordinal, seam.chunk
            start, lines = last.start_char, last.start_line - 1
        spans = document.spans
        # a transcript's cues are sections (their times) that start no passage of their own
        transcript = is_transcript(key)
        if long_read:
            self.on_reading(key)
        try:
            chunks = [
                located(shifted(chunk, start, lines), document)
                for chunk in chunk_text(
                    document.text[start:],
                    count_tokens=count_tokens,
                    config=self.chunking,
                    # A seam is only taken without spans: no section starts to shift.
                    breaks=[] if transcript else section_starts(spans, document.text),
                    headings=[] if transcript else heading_starts(spans, document.text),
                    code=Path(key).suffix.lower() in CODE_SUFFIXES,
                    resume=seam.resume if seam is not None else None,
                )
            ]
        finally:  # stopped part way (Ctrl-C) too: the bar no longer names it
            if long_read:
                self.on_reading(None)
        for n, begin in enumerate(range(0, max(len(chunks), 1), PART_CHUNKS)):
            piece = chunks[begin : begin + PART_CHUNKS]
            yield Part(
                path=key,
                doc_id=document.doc_id,
                title=document.title,
                chunks=piece,
                first_ordinal=ordinal + begin,
                ids=self.tokenize([c.text for c in piece]) if piece else [],
                first=n == 0 and seam is None,
                size=size,
                replace_path=replace and n == 0,
                bytes=document_bytes * len(piece) // max(len(chunks), 1),
                resume_document=seam.document_id if seam is not None and n == 0 else None,
                page_labels=document.page_labels,
                **times,
            )

    def _seam(
        self,
        key: str,
        data: bytes,
        rows: list[DocumentRow],
        documents: list[SourceDocument],
        count_tokens: CountTokens,
    ) -> Tail | None:
        """For a file that is its indexed version with text added at its end (a log): its
        document's row id, and the ordinal and chunk of its last passage. That passage is
        chunked again with what follows it; those before are kept as they are (a line appended
        to a 10 MB log chunked and stored all of it again: ~20 s). None for any other change:
        the file's first bytes are not the indexed ones, or they do not read as a beginning of
        its text now (the decoding changed), or it has pages or sections."""
        tail = self.tails.get(key)
        if tail is None or len(documents) != 1 or documents[0].spans:
            return None
        row, text, last = rows[0], documents[0].text, tail.chunk
        size = row.size or 0  # the quick test: most changed files fail it
        if hashlib.sha256(memoryview(data)[:size]).hexdigest() != row.sha256:
            return None
        try:
            before = load_documents(Path(key), data=data[:size])
        except SearchAppError:
            return None
        if (
            len(before) != 1
            or before[0].doc_id != row.doc_id
            or documents[0].doc_id != row.doc_id
            or before[0].title != documents[0].title  # a page's <title> appended: stored anew
            or before[0].spans
            or not text.startswith(before[0].text)
            or text[last.start_char : last.end_char] != last.text
            # Its last paragraph grown past one piece: the passages before the last change.
            or cut_apart(before[0].text, text, count_tokens, self.chunking)
        ):
            return None
        # Chunking from its start must cut what follows as chunking all of the text would (an
        # index of appended files equal to one built anew): a start inside a sentence cannot.
        resume = resume_at(text, last.start_char, tail.previous_end)
        return None if resume is None else tail._replace(resume=resume)


def grown_tails(
    store: Store, files: list[Path], known: dict[str, list[DocumentRow]]
) -> dict[str, Tail]:
    """For each file indexed whole as one document that is larger now: that document's row
    id, and its last chunk with its ordinal (read here: the thread that reads the files has
    no connection to the store). ``FileReader`` tells whether the file was appended to."""
    tails: dict[str, Tail] = {}
    for path in files:
        rows = known.get(str(path), [])
        if len(rows) != 1 or not rows[0].sha256 or rows[0].size is None:
            continue
        try:
            grown = path.stat().st_size > rows[0].size
        except OSError:
            continue
        last = store.last_chunk(rows[0].id) if grown else None
        if last is not None:
            tails[str(path)] = Tail(rows[0].id, *last)
    return tails


def located(chunk: Chunk, document: SourceDocument) -> Chunk:
    """``chunk`` with the page and section it starts on, and the lines where they change."""
    spans = document.spans
    if not spans:
        return chunk
    start, end = chunk.start_char, chunk.end_char
    changes = line_locations(spans, document.text, start, end, chunk.start_line)
    return dataclasses.replace(
        chunk,
        **locate(spans, start)._asdict(),
        places=tuple(Place(line, *location) for line, location in changes),
    )


def shifted(chunk: Chunk, chars: int, lines: int) -> Chunk:
    """``chunk`` of a text that starts ``chars`` characters and ``lines`` lines into another,
    as a chunk of that one."""
    if not chars and not lines:
        return chunk
    return dataclasses.replace(
        chunk,
        start_char=chunk.start_char + chars,
        end_char=chunk.end_char + chars,
        start_line=chunk.start_line + lines,
        end_line=chunk.end_line + lines,
    )


def _indexed_size(rows: list[DocumentRow]) -> int:
    """The size of the file its ``rows`` were indexed from, where they are records of one
    complete version of it (a mailbox's messages); else 0 (a file indexed whole, an update
    stopped part way)."""
    if not rows or any(row.doc_id == row.path for row in rows):
        return 0
    states = {(row.size, row.sha256) for row in rows}
    if len(states) != 1:
        return 0
    [(size, sha256)] = states
    return size or 0 if sha256 else 0


def unchanged(rows: list[DocumentRow], stat: os.stat_result) -> bool:
    """Whether the file's documents were indexed whole from the bytes it holds: complete, and
    its stat as stored (``DocumentRow.stat_matches``)."""
    return bool(rows) and all(row.sha256 for row in rows) and rows[0].stat_matches(stat)


class Stopped(Exception):
    """The producer was told to stop while it chunked a file."""


def stoppable(count_tokens: CountTokens, stop: threading.Event) -> CountTokens:
    """``count_tokens`` raising ``Stopped`` once ``stop`` is set: chunking a 20 MB log
    counts its lines for ~30 s, and Ctrl-C waited for all of it (10-14 s, without a word)."""

    def count(texts: Sequence[str]) -> list[int]:
        if stop.is_set():
            raise Stopped
        return count_tokens(texts) if texts else []  # empty: only to look (``_mailbox``)

    return count


# Files whose bytes are mostly not their text (a PDF's fonts and images, a Word file's zip, a
# notebook's outputs): their size says little of the work.
CONTAINER_SUFFIXES = frozenset(
    {".pdf", ".docx", ".pptx", ".xlsx", ".odt", ".odp", ".ods", ".epub", ".ipynb", ".enex"}
)


def is_document(path: Path) -> bool:
    """Whether the file's bytes are mostly not its text: a PDF, Word file, notebook, Evernote
    export, or a mailbox (mostly its attachments' base64), told by its name or first line."""
    return path.suffix.lower() in CONTAINER_SUFFIXES or is_mailbox_file(path)


def bytes_to_read(path: Path, rows: list[DocumentRow]) -> int:
    """The file's work (``work_bytes``) unless it is unchanged since it was indexed, or over
    the size limit (``decoding.size_limit``): skipped unread, it is no work (a 63 MB log skipped
    so was named at each run as most of what it reads and embeds, and counted in its progress,
    instead of the 4 MB one that took five minutes)."""
    try:
        stat = path.stat()
    except OSError:
        return 0
    limit = size_limit(path, stat.st_size)
    if unchanged(rows, stat) or (limit is not None and stat.st_size > limit):
        return 0
    work = work_bytes(path, stat.st_size)
    return work if limit is None or work <= limit else 0  # a gzip file too large unpacked


GZIP_MAGIC = b"\x1f\x8b"
MAX_GZIP_RATIO = 64  # a trailer claiming more is not believed (a damaged or odd file)


def work_bytes(path: Path, size: int) -> int:
    """What reading and embedding the file costs, in bytes of what it holds: its size, or for
    a gzip file the uncompressed size its trailer records (its last 4 bytes, modulo 4 GiB; the
    last member's, for a file of several). A changelog.gz holds ~3-4 times its size in text:
    counted by its size, the time left jumped at each one."""
    if size < 18 or not path.name.lower().endswith((".gz", ".tgz")):
        return size
    try:
        with path.open("rb") as file:
            if file.read(2) != GZIP_MAGIC:
                return size
            file.seek(-4, os.SEEK_END)
            recorded = int.from_bytes(file.read(4), "little")
    except OSError:
        return size
    return min(max(size, recorded), MAX_GZIP_RATIO * size)


def skipped(
    path: str, reason: str, rows: list[DocumentRow], *, size: int = 0, work: int = 0
) -> FileDone:
    """A file not indexed this run. One indexed before that cannot be read now (permissions,
    I/O) keeps its indexed text, and the reason says so: it is not taken for deleted; so does
    one grown past the size limit (a log: at 58 MB its 8 MB indexed were dropped, exit 0).
    Any other skip (now binary, damaged) drops what was indexed."""
    kept = bool(rows) and (is_read_error(reason) or is_too_large(reason))
    told = f"{reason}; its indexed text is kept" if kept else reason
    return FileDone(path, "skipped", told, size=size, work=work, kept=kept)
