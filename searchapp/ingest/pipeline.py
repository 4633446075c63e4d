"""Building and updating an index: files -> documents -> chunks -> token ids -> vectors -> store.

Reading, decoding, chunking and tokenizing (``reading.py``) run in a producer thread that stays
at most two windows of chunks ahead of the encoder. The encoder takes a window of chunks, sorts
it by length, embeds it in batches of a token budget, and the window is committed to SQLite in
one transaction. A file's documents are marked complete (their sha256 set) only in the
transaction that stores the file's last chunk, so a killed run leaves at worst incomplete files
that the next run re-indexes
(a JSONL file's records too, even when some of them were committed).

A chunk whose text the file's previous version (or what an interrupted run committed of it) holds
is not embedded again: its stored vector is reused, so an edit re-embeds the passages it changed
and the same command after Ctrl-C continues where it stopped. A window embeds each distinct text
once. A text any other stored chunk holds takes its vector too (``Store.vectors_of_texts``): a
file renamed, moved or copied embeds nothing again. Not for the later windows of a changed file of
more than ``REUSE_MAX_CHUNKS`` chunks (its old chunks are deleted with its first). An
``EmbeddingBackend`` is sent only the texts left (its windows go ahead of the commits, so a text
of one window copied in the next is embedded twice).

A file that is its indexed version with text added at its end (a log) keeps its passages up to
its last one: that one is chunked again with the text after it (``reading.FileReader``).

An ``EmbeddingBackend`` (a pool of Ray actors: ``ray_embedding.py``) can embed instead of the local
encoder: windows are then submitted ahead and committed in order as their vectors come back, so the
cluster embeds window N+1 while this process commits window N.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from searchapp.encoding import (
    EmbeddingBackend,
    Encoder,
    EncoderLoader,
    PendingVectors,
    Tokenizer,
)
from searchapp.ingest import reading
from searchapp.ingest.chunking import ChunkingConfig
from searchapp.ingest.decoding import looks_generated
from searchapp.ingest.discovery import iter_files, unreadable_places
from searchapp.ingest.interrupts import DeferredInterrupts, StopAsked
from searchapp.ingest.reading import (
    FileDone,
    FileReader,
    Part,
    Stopped,
    bytes_to_read,
    grown_tails,
    is_document,
    split,
    stoppable,
)
from searchapp.storage.paths import absolute
from searchapp.storage.schema import PENDING, DocumentRow
from searchapp.storage.store import Store
from searchapp.storage.vectors import VectorIndex

logger = logging.getLogger(__name__)

STOP_POLL_SECONDS = 0.1  # how often a run waiting on the reader looks at its ``stop``
WINDOW_CHUNKS = 256  # chunks sorted, embedded and committed together (and progress steps)
# The first window is this small and each next one twice the last, up to WINDOW_CHUNKS: the
# progress bar moves, and Ctrl-C keeps work, within seconds of the start (a first window of 256
# took 12-30 s on 2 cores, and Ctrl-C before it committed kept nothing).
FIRST_WINDOW_CHUNKS = 32
HEAVY_FILE_CHUNKS = 1000  # a file this many chunks and half of a run's is named (``heaviest``)
# ...and, before the run, one of this many bytes to read and embed and half of them: a 20 MB log
# in a home folder was an hour of a first index, and nothing said so until its end; a 2.2 MB
# CSV of numbers (6,429 passages) four minutes of an ecologist's seven, named only after.
HEAVY_FILE_BYTES = 1_000_000
HEAVY_FILES_TOLD = 3  # ...of which so many, together half the run's work or more
# A file with this many bytes to read and embed is read after the smaller ones (each in the
# walk's order): a 7 MB log met first kept a paper folder's 20 small papers unsearchable for
# minutes, and Ctrl-C then left "0 files complete".
LATE_FILE_BYTES = 1_000_000
BATCH_SIZE = 64  # texts per forward pass at most (the encoder also caps padded tokens)
# Where the encoder packs its batches (no padding), short texts go 256 to a pass: 1.28x faster
# than 64 for STS-b sentences in bf16; packed fp32 1.06x (Zen 5); padded fp32 5% slower at 256.
PACKED_BATCH_SIZE = 256
# While the passages a process has embedded (texts no stored vector holds) stay within this
# many tokens, the NumPy encoder that read the model files embeds them (``Indexer.quick``) and
# PyTorch never loads. `search index` of a
# folder of 300 notes with new passages of 177 / 595 / 1,055 / 1,795 tokens took 0.44-0.66 /
# 0.63-0.71 / 0.86-0.94 / 1.43 s so, against 1.36-1.56 / 1.36-1.47 / 1.48-1.53 / 1.57-1.61 s
# loading PyTorch (AMD EPYC, Zen 5): past ~1,000 tokens the gain goes. Past this, PyTorch loads
# and embeds the rest.
QUICK_TOKENS = 1024
# How far the producer may run ahead: in chunks, two windows (``_ahead_chunks``), so the next
# window is ready when the encoder finishes one (bounded by items alone, small files ran a few
# chunks ahead and the encoder waited for each window to be read: 7% of `search index` on the
# Cranfield files), and in items, which bounds the "unchanged" notes of a folder indexed before.
QUEUE_ITEMS = 1024
# The most chunks of a changed file whose vectors are kept for reuse while it is re-indexed
# (text and vector: ~2.5 kB each, so ~125 MB); a larger file is embedded again whole.
REUSE_MAX_CHUNKS = 50_000


def _starts_generated(path: Path) -> bool:
    """Whether the first ``HEAVY_SNIFF_BYTES`` of the file at ``path`` read as minified or
    generated text (``decoding.looks_generated``), which a walk skips."""
    try:
        with open(path, "rb") as file:
            head = file.read(HEAVY_SNIFF_BYTES)
    except OSError:
        return False
    return looks_generated(head.decode("utf-8", "replace"))


HEAVY_SNIFF_BYTES = 256 * 1024


def _ahead_chunks() -> int:
    """Chunks the producer may hold in the queue: two windows, and never less than one whole
    part (a part takes its permits one by one: fewer would stall it half way, for ever)."""
    return max(2 * WINDOW_CHUNKS, reading.PART_CHUNKS)


def texts_per_pass(encoder: Encoder) -> int:
    """Texts a forward pass of ``encoder`` takes here: more where its batches run packed, and
    its own number where that is larger still (512 on a CUDA GPU, ``minilm.batching``)."""
    return max(encoder.batch_size, PACKED_BATCH_SIZE if encoder.packs_batches else BATCH_SIZE)


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0  # embedded
    reused: int = 0  # stored with the vector an earlier version of their file had
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    # Indexed documents under the roots that this run's --include/--exclude leave out: kept.
    outside_filters: int = 0
    # Files the walk found, and those of them that only --include/--exclude left out.
    found: int = 0
    filtered_out: int = 0
    changed: list[str] = field(default_factory=list)  # files added, updated or dropped, in order
    stored: dict[str, int] = field(default_factory=dict)  # chunks stored this run, by file

    def heaviest(self) -> tuple[str, int] | None:
        """The file that gave at least half of this run's chunks (``HEAVY_FILE_CHUNKS`` or
        more) when the run stored more than one file's: a 1.3 MB log was 2,907 of a home
        folder's 3,192 chunks, 90% of the time, and nothing said which file it was."""
        if len(self.stored) < 2:
            return None
        path, count = max(self.stored.items(), key=lambda item: item[1])
        if count < HEAVY_FILE_CHUNKS or 2 * count < sum(self.stored.values()):
            return None
        return path, count


@dataclass
class Progress:
    """Callbacks the CLI uses to draw a progress bar; all optional. Work is counted in bytes of
    the files that have to be read and embedded (unchanged files cost none)."""

    on_start: Callable[[int], None] = lambda total_bytes: None
    # Bytes of those files now read and embedded: a share of a file's size as each part of it
    # is committed (a long file moves the bar as it goes), the rest when the file is complete.
    on_bytes: Callable[[int], None] = lambda done_bytes: None
    # Bytes of that work that cost nothing after all: the share of the passages whose stored
    # vectors were reused (an edited file, a run resumed after Ctrl-C). Left out of the work,
    # not counted done: done, they made the time left of a resumed run jump (0:19, 8:46, 4:56).
    on_free: Callable[[int], None] = lambda free_bytes: None
    on_chunks: Callable[[int], None] = lambda count: None
    # A file of ``LONG_READ_BYTES`` or more being chunked, then None: its first part comes only
    # once all of it is chunked (a 20 MB log: ~30 s of a bar that did not move). Called from
    # the thread that reads.
    on_reading: Callable[[str | None], None] = lambda path: None
    # The file most of a window's passages to embed come from, as the encoder starts on it:
    # nothing named which file a slow run was spending its minutes on.
    on_embedding: Callable[[str], None] = lambda path: None
    # Before the work, each of the files of ``HEAVY_FILE_BYTES`` or more that are half of it or
    # more together (``HEAVY_FILES_TOLD`` at most), its bytes to read and embed, and the run's.
    on_heavy: Callable[[str, int, int], None] = lambda path, size, total: None


_DONE = object()


class Indexer:
    def __init__(
        self,
        store: Store,
        vectors: VectorIndex,
        tokenizer: Tokenizer,
        encoder: EncoderLoader,
        *,
        chunking: ChunkingConfig,
        progress: Progress | None = None,
        embedder: EmbeddingBackend | None = None,
        quick: Encoder | None = None,
        quick_spent: int = 0,
    ) -> None:
        self.store = store
        self.vectors = vectors
        # The model's tokenizer (no torch needed) reads ahead while the encoder loads: it starts
        # with the first chunk to embed, and a run with none never loads it.
        self.tokenize = tokenizer.encode_ids
        self.count_tokens = tokenizer.count_tokens
        self.encoder = encoder  # embeds unless an embedder is given
        self.embedder = embedder
        # Embeds windows while PyTorch is not loading, up to ``QUICK_TOKENS`` tokens in all
        # (None: always the loader's encoder). ``quick_spent``: the tokens it has embedded in
        # this process before (a command's earlier runs), and after this run.
        self.quick = quick
        self.quick_spent = quick_spent
        self._quick_seen = quick_spent  # tokens the parts read so far will need embedded
        self.chunking = chunking
        self.progress = progress or Progress()
        self._open_document = -1
        self._reusable: dict[str, dict[str, np.ndarray]] = {}  # path -> text -> stored vector
        self._replacing: set[str] = set()  # files whose new version is stored as pending
        self._encoder_started = False  # asked to load, while the files are read
        self.report = IndexReport()
        self._interrupts = DeferredInterrupts()
        self._stop: threading.Event | None = None

    def run(
        self,
        roots: Sequence[Path],
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        default_excludes: bool = True,
        nested_roots: Sequence[Path] = (),
        recheck: bool = False,
        stop: threading.Event | None = None,
        named: Collection[str] | None = None,
    ) -> IndexReport:
        """Index ``roots``; ``self.report`` holds what was committed if this is interrupted:
        by Ctrl-C, or by ``stop``, looked at before each window after the first (it raises
        ``StopAsked``, a ``KeyboardInterrupt``, with every window before committed).

        Documents under the roots whose files are gone, or that ignore files or the default
        excludes now leave out, are removed; those that only this run's ``include``/``exclude``
        leave out are kept and counted in ``IndexReport.outside_filters``, as are those whose
        files still exist under ``nested_roots`` (roots indexed on their own, which this walk
        may skip: a ``node_modules`` given by name). ``recheck``: read unchanged files too, to
        skip those the default excludes leave out by their text (minified, generated): the
        roots were indexed before with --no-default-excludes. ``named``: the files named to index,
        whose text is not judged (`search index app.min.js`, as ripgrep searches a file named);
        None: those of ``roots``. Not `search watch`'s changed files, judged as a walk of their
        folder judges them, but the files it was named to watch.
        """
        started = time.perf_counter()
        report = self.report = IndexReport()
        self._stop = stop
        known = self.store.documents_by_path()
        files = list(
            iter_files(
                roots,
                include=include,
                exclude=exclude,
                default_excludes=default_excludes,
                on_skip=lambda p, r: report.skipped.append((str(p), r)),
            )
        )
        seen = {str(p) for p in files}
        wanted = seen
        if include or exclude:  # what the roots hold without this run's filters
            wanted = {str(p) for p in iter_files(roots, default_excludes=default_excludes)}
        report.outside_filters = sum(
            len(rows) for path, rows in known.items() if path in wanted and path not in seen
        )
        report.found, report.filtered_out = len(seen), len(wanted - seen)
        to_read = {path: bytes_to_read(path, known.get(str(path), [])) for path in files}
        if named is None:
            named = [str(root) for root in roots if root.is_file()]
        named = frozenset(str(absolute(Path(path))) for path in named)
        changed = [path for path, work in to_read.items() if work]  # the others: not read
        reader = FileReader(
            self.chunking,
            self.tokenize,
            self.progress.on_reading,
            default_excludes=default_excludes,
            recheck=recheck,
            tails=grown_tails(self.store, changed, known),
            named=named,
        )
        files.sort(key=lambda path: to_read[path] >= LATE_FILE_BYTES)  # stable: walk order
        total = sum(to_read.values())
        # The largest few that are half of it or more together: a 5.5 MB CSV and a 5 MB TSV,
        # each under half, were 97% of a data scientist's 26-minute first index, unsaid. Text
        # read as it is (a log, code): a PDF's, Word file's or mailbox's bytes are mostly not
        # text (a helper was told to leave out its 1.3 GB Gmail export, its mail).
        heavy = sorted(
            (
                item
                for item in to_read.items()
                if item[1] >= HEAVY_FILE_BYTES
                and str(item[0]) not in named
                and not is_document(item[0])
            ),
            key=lambda item: -item[1],
        )[:HEAVY_FILES_TOLD]
        # ...but one its start shows to be skipped as generated (a translator's 2 MB base64
        # line was named before every run, and skipped in each)
        heavy = [item for item in heavy if not _starts_generated(item[0])]
        if len(changed) > 1 and heavy and 2 * sum(size for _, size in heavy) >= total:
            for path, size in heavy:
                self.progress.on_heavy(str(path), size, total)
        self.progress.on_start(total)

        parts: queue.Queue = queue.Queue(maxsize=QUEUE_ITEMS)
        self._ahead = threading.Semaphore(_ahead_chunks())  # a permit per chunk in the queue
        stop = threading.Event()
        producer = threading.Thread(
            target=self._produce,
            args=(reader, files, known, parts, stop),
            daemon=True,
            name="indexer-read",
        )
        producer.start()
        try:
            with DeferredInterrupts() as self._interrupts:
                self._consume(parts, report)
        finally:
            stop.set()
            while producer.is_alive():  # unblock a producer waiting on a full queue
                try:
                    parts.get_nowait()
                except queue.Empty:
                    producer.join(0.05)
            with DeferredInterrupts() as held, held.deferred():  # Ctrl-C: once torch has loaded
                self.encoder.wait()

        unlisted = unreadable_places(report.skipped)  # their documents are kept
        gone = [
            path
            for path in known
            if path not in wanted
            and _under_any(path, roots)
            and not (_under_any(path, nested_roots) and os.path.exists(path))
            and not _under_any(path, unlisted)
        ]
        if gone:
            with self.store.transaction():
                removed_ids = self.store.delete_documents_by_path(gone)
            self.vectors.remove(np.asarray(removed_ids, dtype=np.int64))
            report.removed += len(gone)
        report.seconds = time.perf_counter() - started
        return report

    # -- producer thread ------------------------------------------------------------------------

    def _produce(
        self,
        reader: FileReader,
        files: list[Path],
        known: dict[str, list[DocumentRow]],
        out: queue.Queue,
        stop: threading.Event,
    ) -> None:
        count_tokens = stoppable(self.count_tokens, stop)
        try:
            for path in files:
                if stop.is_set():
                    return
                for item in reader.items(path, known.get(str(path), []), count_tokens):
                    if isinstance(item, Part):
                        for _ in item.chunks:  # at most PART_CHUNKS: within _ahead_chunks()
                            while not self._ahead.acquire(timeout=0.1):
                                if stop.is_set():
                                    return
                    out.put(item)
        except Stopped:
            return
        except BaseException as exc:  # handed to the consumer, which raises it
            out.put(exc)
        finally:
            out.put(_DONE)

    # -- consumer (this thread) -----------------------------------------------------------------

    def _consume(self, parts: queue.Queue, report: IndexReport) -> None:
        if self.embedder is not None:
            self._consume_ahead(parts, report, self.embedder)
            return
        for number, window in enumerate(self._windows(parts)):
            if number and self._stop is not None and self._stop.is_set():
                raise StopAsked  # the windows before are committed
            self._commit(window, report)

    def _start_encoder(self) -> None:
        self.encoder.start()
        self._encoder_started = True

    def _stored_vectors(self, path: str) -> dict[str, np.ndarray]:
        """The vectors the file at ``path`` has stored, by text, read once a run (kept until
        its new version commits, for ``_embed`` to reuse)."""
        if path not in self._reusable:
            self._reusable[path] = self.store.vectors_by_text(path, REUSE_MAX_CHUNKS)
        return self._reusable[path]

    def _loads_for(self, part: Part) -> bool:
        """Whether ``part`` starts PyTorch's encoder loading while the files are read: it may
        hold a passage to embed (``_may_embed``); with a quick encoder, once the passages read
        so far that no stored vector holds pass ``QUICK_TOKENS`` tokens."""
        if self.quick is None:
            return self._may_embed(part)
        texts = [chunk.text for chunk in part.chunks]
        known = set(self._stored_vectors(part.path)) if part.replace_path else set()
        new = {text for text in texts if text not in known}
        new -= set(self.store.vectors_of_texts(list(new))) if new else set()
        for text, ids in zip(texts, part.ids, strict=True):
            if text in new:
                new.discard(text)  # a text's copies are embedded once
                self._quick_seen += len(ids)
        return self._quick_seen > QUICK_TOKENS

    def _local_encoder(self, ids: list[list[int]]) -> Encoder:
        """The encoder that embeds these token ids here: the quick one while what it embedded
        in this process, these included, stays within ``QUICK_TOKENS``; else PyTorch's."""
        tokens = sum(len(row) for row in ids)
        if (
            self.quick is not None
            and not self._encoder_started
            and self.quick_spent + tokens <= QUICK_TOKENS
        ):
            self.quick_spent += tokens
            return self.quick
        if not self._encoder_started:
            self._start_encoder()  # in its thread: Ctrl-C waits for the load (``run``)
        return self.encoder.get()

    def _consume_ahead(
        self, parts: queue.Queue, report: IndexReport, embedder: EmbeddingBackend
    ) -> None:
        """Submit windows ahead to ``embedder``, started at the first with chunks (an unchanged
        folder starts no cluster); commit them in order as their vectors arrive."""
        in_flight: deque[tuple[list[Part | FileDone], _Reuse, PendingVectors | None]] = deque()
        started = False

        def commit_oldest() -> None:
            window, reuse, pending = in_flight.popleft()
            if pending is not None:
                reuse.fill(pending.result())
            self._commit(window, report, reuse)

        for window in self._windows(parts):
            # Stored vectors first: an interrupted `--ray` run, or a renamed folder, sent every
            # passage to the cluster again (257 of 257 after 96 were committed).
            reuse = self._reuse(window)
            batch = reuse.to_embed()
            if not batch and not in_flight:  # nothing to wait for
                self._commit(window, report, reuse)
                continue
            if batch and not started:
                embedder.start(self.encoder.get())
                started = True
            # BATCH_SIZE: a window splits into tasks for several actors (ray_embedding.py)
            if batch:
                self.progress.on_embedding(reuse.heaviest)
            pending = embedder.submit(batch, batch_size=BATCH_SIZE) if batch else None
            in_flight.append((window, reuse, pending))
            while len(in_flight) > embedder.windows_ahead:
                commit_oldest()
        while in_flight:
            commit_oldest()

    def _may_embed(self, part: Part) -> bool:
        """Whether ``part`` may hold a passage to embed, so the encoder starts loading while the
        files are read: not for a file renamed, moved or copied, whose passages are all stored
        (a rename loaded PyTorch for nothing: 2.7 s against 0.55 s). A changed file is taken to
        hold one; if none is, nothing loads it until a window needs it (``_embed``)."""
        if part.replace_path:
            return True
        texts = [chunk.text for chunk in part.chunks]
        return len(self.store.vectors_of_texts(texts)) < len(set(texts))

    def _windows(self, parts: queue.Queue) -> Iterator[list[Part | FileDone]]:
        """The producer's items in windows of ``FIRST_WINDOW_CHUNKS``, then twice as many each
        time, up to ``WINDOW_CHUNKS`` chunks; the last one may be empty (it still ends the run:
        progress, file statuses)."""
        window: list[Part | FileDone] = []
        pending = 0
        limit = min(FIRST_WINDOW_CHUNKS, WINDOW_CHUNKS)
        while True:
            item = self._next(parts)
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, Part) and item.chunks:
                if not self._encoder_started and self._loads_for(item):
                    self._start_encoder()
                self._ahead.release(len(item.chunks))
            while isinstance(item, Part) and pending + len(item.chunks) > limit:
                # A long file's part is cut at the window's end: the first windows commit as
                # soon with one large file first (its first 256 chunks were one window, and
                # Ctrl-C after 25 s of work kept nothing).
                head, item = split(item, limit - pending)
                window.append(head)
                yield window
                window, pending = [], 0
                limit = min(2 * limit, WINDOW_CHUNKS)
            window.append(item)
            if isinstance(item, Part):
                pending += len(item.chunks)
            if pending >= limit:
                yield window
                window, pending = [], 0
                limit = min(2 * limit, WINDOW_CHUNKS)
        yield window

    def _next(self, parts: queue.Queue) -> object:
        """The producer's next item; ``StopAsked`` once told to stop while waiting for it
        (chunking a 5 MB log, it held a stopped `search watch` for 10 s)."""
        if self._stop is None:
            return parts.get()
        while True:
            try:
                return parts.get(timeout=STOP_POLL_SECONDS)
            except queue.Empty:
                if self._stop.is_set():
                    raise StopAsked from None  # the windows before are committed

    def _commit(
        self,
        window: list[Part | FileDone],
        report: IndexReport,
        reuse: _Reuse | None = None,
    ) -> None:
        """Store a window in one transaction; ``reuse``: its vectors, embedded elsewhere."""
        all_ids = _window_ids(window)
        if reuse is None:
            reuse = self._embed(window)
        vectors, reused = reuse.vectors, reuse.reused
        assert len(vectors) == len(all_ids), f"{len(vectors)} vectors for {len(all_ids)} chunks"
        removed: list[int] = []
        added_ids: list[int] = []
        dropped_files: set[str] = set()  # indexed before, skipped now: their documents went
        document_id = self._open_document
        offset = 0
        with self._interrupts.deferred():  # the commit and FAISS stay in step
            with self.store.transaction():
                for item in window:
                    if isinstance(item, FileDone):
                        if item.status == "touched":
                            self.store.touch_path(
                                item.path,
                                size=item.size,
                                mtime_ns=item.mtime_ns,
                                ctime_ns=item.ctime_ns,
                            )
                        elif item.status == "skipped" and not item.kept:  # was text once,
                            # or vanished: drop it
                            dropped = self.store.delete_documents_by_path([item.path])
                            if dropped:  # counted removed (and skipped), as a deleted file is
                                dropped_files.add(item.path)
                            removed += dropped
                        elif item.status in ("added", "updated"):  # its last chunk is stored
                            if item.path in self._replacing:
                                removed += self.store.promote_pending(item.path)
                                self._replacing.discard(item.path)
                            if item.kept_documents:  # mail appended: the messages before stay
                                self.store.touch_path(
                                    item.path,
                                    size=item.size,
                                    mtime_ns=item.mtime_ns,
                                    ctime_ns=item.ctime_ns,
                                )
                            self.store.mark_complete(item.path, item.sha256)
                        self._reusable.pop(item.path, None)
                        continue
                    if item.resume_document is not None:  # appended: keeps its chunks before
                        document_id = item.resume_document
                        removed += self.store.reopen_document(
                            document_id,
                            item.first_ordinal,
                            size=item.size,
                            mtime_ns=item.mtime_ns,
                            ctime_ns=item.ctime_ns,
                        )
                    if item.replace_path:
                        # Its indexed version stays, searched and its vectors reusable, until
                        # the new one is complete: an update stopped part way left a 5 MB log
                        # with a tenth of its passages, and the next run embedded it all again.
                        removed += self.store.delete_pending(item.path)  # a stopped run's
                        self._replacing.add(item.path)
                    if item.first:
                        doc_id = item.doc_id
                        if item.path in self._replacing:
                            doc_id += PENDING
                        removed += self.store.delete_document(doc_id)
                        document_id = self.store.upsert_document(
                            doc_id=doc_id,
                            path=item.path,
                            title=item.title or None,
                            page_labels=item.page_labels,
                            size=item.size,
                            mtime_ns=item.mtime_ns,
                            ctime_ns=item.ctime_ns,
                            sha256=None,
                        )
                    rows = vectors[offset : offset + len(item.chunks)]
                    offset += len(item.chunks)
                    added_ids += self.store.add_chunks(
                        document_id, item.chunks, rows, first_ordinal=item.first_ordinal
                    )
            self._open_document = document_id  # a long document continues in the next window
            self.vectors.remove(np.asarray(removed, dtype=np.int64))  # in step with the commit
            if added_ids:
                self.vectors.add(np.asarray(added_ids, dtype=np.int64), vectors)
            report.chunks += len(all_ids) - reused
            report.reused += reused
            self.progress.on_chunks(len(all_ids) - reused)
            done_bytes = part_bytes = kept_bytes = 0
            for item in window:
                if isinstance(item, Part):
                    part_bytes += item.bytes
                    report.stored[item.path] = report.stored.get(item.path, 0) + len(item.chunks)
                    continue
                status = "unchanged" if item.status == "touched" else item.status
                if status == "skipped":
                    report.skipped.append((item.path, item.reason))
                    if item.path in dropped_files:  # indexed before, binary or empty now
                        report.removed += 1
                        report.changed.append(item.path)
                else:
                    setattr(report, status, getattr(report, status) + 1)
                    if status != "unchanged":
                        report.changed.append(item.path)
                done_bytes += item.work - item.credited - item.kept_bytes  # read, or 0
                kept_bytes += item.kept_bytes
            free = part_bytes * reused // len(all_ids) if all_ids else 0
            if free + kept_bytes:
                self.progress.on_free(free + kept_bytes)
            self.progress.on_bytes(done_bytes + part_bytes - free)

    def _embed(self, window: list[Part | FileDone]) -> _Reuse:
        """The window's vectors: stored ones where they can be (``_reuse``), the rest embedded
        here."""
        reuse = self._reuse(window)
        batch = reuse.to_embed()
        if batch:
            self.progress.on_embedding(reuse.heaviest)
            encoder = self._local_encoder(batch)
            reuse.fill(encoder.embed_many(batch, batch_size=texts_per_pass(encoder)))
        return reuse

    def _reuse(self, window: list[Part | FileDone]) -> _Reuse:
        """The window's vectors in storage order as far as stored ones give them: a text the
        file's stored chunks hold takes their vector, then one any stored chunk holds; every
        other distinct text is left to embed once, its copies to share the vector."""
        texts: list[str] = []
        paths: list[str] = []
        ids: list[list[int]] = []
        for item in window:
            if not isinstance(item, Part):
                continue
            if item.replace_path:  # read before this window's transaction deletes them
                self._stored_vectors(item.path)
            texts += [chunk.text for chunk in item.chunks]
            paths += [item.path] * len(item.chunks)
            ids += item.ids
        reuse = _Reuse(np.empty((len(texts), self.vectors.dim), dtype=np.float32), ids)
        for row, (text, path) in enumerate(zip(texts, paths, strict=True)):
            stored = self._reusable.get(path, {}).get(text)
            if stored is not None and len(stored) == self.vectors.dim:
                reuse.vectors[row] = stored
                reuse.reused += 1
            else:
                reuse.rows.setdefault(text, []).append(row)
        if reuse.rows:  # a text stored under another path: a file renamed, moved or copied
            for text, vector in self.store.vectors_of_texts(list(reuse.rows)).items():
                if len(vector) == self.vectors.dim:
                    rows = reuse.rows.pop(text)
                    reuse.vectors[rows] = vector
                    reuse.reused += len(rows)
        reuse.reused += sum(len(rows) - 1 for rows in reuse.rows.values())  # a text's copies
        if reuse.rows:
            counts = Counter(paths[rows[0]] for rows in reuse.rows.values())
            reuse.heaviest = counts.most_common(1)[0][0]
        return reuse


@dataclass
class _Reuse:
    """A window's vectors in storage order, those of ``rows`` still to embed."""

    vectors: np.ndarray  # (chunks, dim)
    ids: list[list[int]]  # each chunk's token ids
    rows: dict[str, list[int]] = field(default_factory=dict)  # text to embed -> its rows
    reused: int = 0  # chunks not embedded: stored vectors, and copies of a text in the window
    heaviest: str = ""  # the file most of ``rows`` come from

    def to_embed(self) -> list[list[int]]:
        """The token ids of each distinct text left, in ``rows``' order."""
        return [self.ids[rows[0]] for rows in self.rows.values()]

    def fill(self, embedded: np.ndarray) -> None:
        """Put ``to_embed``'s vectors in place, each at every row of its text."""
        for rows, vector in zip(self.rows.values(), embedded, strict=True):
            self.vectors[rows] = vector


def _window_ids(window: list[Part | FileDone]) -> list[list[int]]:
    """The token ids of a window's chunks, in the order they are stored."""
    return [ids for item in window if isinstance(item, Part) for ids in item.ids]


def _under_any(path: str, roots: Sequence[Path]) -> bool:
    for root in roots:
        root_text = str(root)
        if path == root_text or path.startswith(root_text.rstrip(os.sep) + os.sep):
            return True
    return False
