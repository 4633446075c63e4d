"""``SearchIndex``: one index folder as a whole — settings, model, writer lock, add/search/remove.

The CLI and the REPL are thin layers over this class.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import unicodedata
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from typing import TYPE_CHECKING, Any

import numpy as np

from minilm.variants import DEFAULT_MODEL
from searchapp.errors import (
    BadInputError,
    CorruptIndexError,
    DamagedVectorsError,
    IndexInterrupted,
    IndexNotFoundError,
    ModelMismatchError,
    SearchAppError,
)
from searchapp.ingest.interrupts import StopAsked
from searchapp.ranking.path_filter import path_filter
from searchapp.ranking.postings import POSTINGS_NAME, Postings, open_postings
from searchapp.ranking.query_words import held_phrases
from searchapp.ranking.searcher import Hit, Searcher, SearchOptions
from searchapp.storage.indexed_paths import (
    Filters,
    forget_roots,
    matching,
    record_roots,
    recorded_roots,
    root_filters,
    roots_with_counts,
    under,
)
from searchapp.storage.lock import WriterLock
from searchapp.storage.meta import IndexMeta
from searchapp.storage.paths import (
    absolute,
    as_private_as,
    index_dir_option,
    not_there,
    rebuild_hint,
    refuse_empty,
    resolve_index_dir,
)
from searchapp.storage.store import DB_NAME, Store, remove_store_files, single_file
from searchapp.storage.vector_params import INDEX_TYPES
from searchapp.storage.vectors_file import (
    VECTORS_NAME,
    VECTORS_PARAMS_KEY,
    fit_vectors,
    open_vectors,
    save_vectors,
)

if TYPE_CHECKING:
    from searchapp.encoding import EmbeddingBackend, Encoder, EncoderLoader
    from searchapp.ingest.chunking import ChunkingConfig
    from searchapp.ingest.pipeline import IndexReport, Progress
    from searchapp.storage.documents import PageRange, StoredDocument
    from searchapp.storage.flat_vectors import MappedFlat
    from searchapp.storage.vectors import VectorIndex

logger = logging.getLogger(__name__)

REBUILD_DIR = ".rebuild-in-progress"  # in the index folder: where --rebuild builds the new one
OVERLAP_TOKENS = 32  # chunks of a new index repeat this much of the one before (at most 1/4)
MAX_NAMED_ALIKE = 1000  # files read for a --path that matches nothing (``named_alike``)


class SearchIndex:
    """An index folder: SQLite (source of truth) plus the FAISS vectors derived from it.

    ``model`` defaults to the one the index was built with (or all-MiniLM-L6-v2 for a new one);
    asking for another model on an existing index raises ``ModelMismatchError``.
    ``precision`` defaults to the one the index was built with: fp32 stays fp32, a reduced
    one becomes ``auto`` (bf16 where this machine runs it natively), ``auto`` for a new index
    as for ``search index``.
    """

    def __init__(
        self,
        index_dir: str | os.PathLike[str] | None = None,
        *,
        model: str | None = None,
        device: str = "auto",
        precision: str | None = None,
        encoder: Encoder | None = None,
    ) -> None:
        self.index_dir = resolve_index_dir(index_dir)
        if self.index_dir.exists() and not self.index_dir.is_dir():
            raise BadInputError(
                f"the index folder {self.index_dir} is a file; give --index-dir a folder"
            )
        self.device = device
        self.precision = precision
        self._model = model
        self._encoder = encoder
        self._query_encoder = encoder  # NumPy on the CPU unless one was given (encoding.py)
        self._encoder_loading = threading.Lock()
        self._store: Store | None = None
        self._vectors: VectorIndex | MappedFlat | None = None
        self._vectors_generation = -1  # the store generation self._vectors was opened at
        self._postings: Postings | None = None
        self._writer: WriterLock | None = None  # held while add() or remove() runs
        self._default_index_type: str | None = None  # a rebuild's: the index it replaces
        self._encoder_given = encoder is not None
        self._quick_spent = 0  # tokens ``add`` embedded with NumPy's encoder (``Indexer.quick``)
        self._replaced_model: str | None = None  # the model of a store replaced since read
        # The files context was last read from, by (path, size, mtime, ctime): -C read and
        # decoded a 5 MB log again for each of its 100 hits (47 ms each).
        self._context_files: dict[tuple[str, int, int, int], tuple[str, list[str]] | None] = {}
        # changed_files: whether a file, in one state of it, still hashes to its indexed sha256
        self._hashed: dict[tuple[str, int, int, int, str | None], bool] = {}

    # -- opening --------------------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.index_dir / "index.db").exists()

    @property
    def store(self) -> Store:
        """The SQLite store, opened on first use (raises ``IndexNotFoundError`` when none), and
        again when its file was replaced (--rebuild) or, read as immutable (a folder this user
        cannot write), written."""
        self._drop_if_replaced()
        if self._store is None:
            if not self.exists():
                # The command that makes this index, not the default one (an --index-dir the
                # hint left out would build it elsewhere).
                named = index_dir_option(self.index_dir)
                raise IndexNotFoundError(
                    f"no index at {self.index_dir}; run `search index PATH{named}` to create one"
                )
            self._store = Store.open(self.index_dir, create=False)
            self._forget_encoder_of_another_model()
        return self._store

    def _forget_encoder_of_another_model(self) -> None:
        """After a rebuild swapped in an index of another model (``--rebuild --model X``):
        queries are embedded with the new one (a serve left running answered each with an
        error) unless a model or an encoder was given to this ``SearchIndex``."""
        replaced, self._replaced_model = self._replaced_model, None
        if replaced is None or self._model is not None or self._encoder_given:
            return
        assert self._store is not None
        if IndexMeta.from_dict(self._store.get_meta()).model != replaced:
            self._encoder = self._query_encoder = None

    def _drop_if_replaced(self) -> None:
        """Close the store if its file was replaced (or, read as immutable, written) since it
        was opened; another file (a --rebuild's) starts its generations over: drop what was
        read from the old one too."""
        if self._store is not None and self._store.changed_on_disk():
            replaced_model = IndexMeta.from_dict(self._store.get_meta()).model
            self._store.close()
            self._store, self._vectors, self._postings = None, None, None
            self._vectors_generation = -1
            self._replaced_model = replaced_model

    def meta(self) -> IndexMeta:
        """The index's recorded settings; empty while there is none to read. That includes the
        empty file a first run killed before it created the tables leaves: `search index` then
        creates them (``Store.open(create=True)`` still refuses a file that is damaged)."""
        try:
            return IndexMeta.read(self.store)
        except (IndexNotFoundError, CorruptIndexError):
            return IndexMeta()

    @property
    def model_name(self) -> str:
        """The model this index uses: asked for, else recorded in the index, else the default."""
        return self._model or self.meta().model or DEFAULT_MODEL

    def share_encoder(self, encoder: Encoder) -> None:
        """Embed with ``encoder``, another index's of the same model (`serve --watch`'s writer
        takes the server's): one copy of the model in memory. As if given when made."""
        self._encoder = self._query_encoder = encoder
        self._encoder_given = True

    def load_encoder(self, *, warm_up: bool = False) -> Encoder:
        """The encoder, loaded once (seconds: the weights are read and the model built).
        ``warm_up``: for a process that will answer queries (a server), one query is embedded
        before the encoder is used, so that the first real one does not pay for oneDNN's
        compiling its bf16 kernels (~46 ms of a first query's 49 on a Xeon with AMX)."""
        if self._encoder is None:
            # The index's settings are read here: SQLite's connection is this thread's.
            self._load_encoder(self.model_name, self._precision(), warm_up=warm_up)
        assert self._encoder is not None
        return self._encoder

    def _load_encoder(self, name: str, precision: str, *, warm_up: bool = False) -> None:
        with self._encoder_loading:  # once, whichever thread comes first (see below)
            if self._encoder is None:
                from searchapp.encoding import load_encoder

                encoder = load_encoder(name, device=self.device, precision=precision)
                if warm_up:
                    encoder.encode(["a query of a few words"])
                self._encoder = encoder

    def _encoder_loader(self, store: Store) -> EncoderLoader:
        """The PyTorch encoder for ``add``, loaded in a thread once asked for; the precision it
        runs in is recorded when it is first used, before any vector is stored."""
        from searchapp.encoding import EncoderLoader

        name, precision = self.model_name, self._precision()  # read here, in this thread
        asked = self.precision is not None

        def load() -> Encoder:
            self._load_encoder(name, precision)
            assert self._encoder is not None
            return self._encoder

        def record_precision(encoder: Encoder) -> None:
            recorded = IndexMeta.read(store).precision
            if recorded is None:
                IndexMeta(precision=encoder.precision).write(store)
            # Asked for another precision than the index's: refused before any vector of this
            # run is stored. Not asked, a bf16 index updated where bf16 is not native gets fp32
            # vectors (mean cosine 0.99995 to its bf16 ones), rather than refusing the update.
            elif asked and recorded != encoder.precision:
                raise self._precision_refused(recorded, precision, encoder.precision)

        return EncoderLoader(load, ready=record_precision)

    def load_query_encoder(self) -> Encoder:
        """The encoder for queries: the PyTorch encoder once this process has loaded it (to
        index, or by ``load_encoder_in_background``), else NumPy's where it can
        (``encoding.numpy_query_encoder``), else the PyTorch one. Warm, PyTorch embeds a query
        in about half NumPy's time (bf16; benchmarks/RESULTS.md, "Query latency"); its vectors
        agree with NumPy's fp32 ones to a mean cosine of 0.9999, so scores may move in the third
        decimal when it takes over."""
        if self._encoder is not None:
            return self._encoder
        if self._query_encoder is None:
            from searchapp.encoding import numpy_query_encoder

            found = numpy_query_encoder(self.model_name, device=self.device)
            self._query_encoder = found if found is not None else self.load_encoder()
        return self._query_encoder

    def load_encoder_in_background(self) -> threading.Thread | None:
        """Load the PyTorch encoder in a thread, for a process that stays (a REPL): queries
        embed with NumPy until it is ready, then with it; ``None`` when it is loaded already.
        Join the thread before the process exits (torch cut off mid-import can abort it). A
        failure is logged at debug level and NumPy goes on answering."""
        if self._encoder is not None:
            return None
        name, precision = self.model_name, self._precision()  # read here, in this thread

        def load() -> None:
            try:
                self._load_encoder(name, precision, warm_up=True)
            except Exception as exc:  # noqa: BLE001 - NumPy answers; `search index` would say why
                logger.debug("the PyTorch encoder did not load: %s", exc)

        thread = threading.Thread(target=load, name="search-load-encoder", daemon=True)
        thread.start()
        return thread

    def _precision(self) -> str:
        """As asked, else as recorded: a query embedded as its passages were is faster and
        ranks the same (benchmarks/RESULTS.md)."""
        if self.precision is not None:
            return self.precision
        return "fp32" if self.meta().precision == "fp32" else "auto"

    def chunking(self) -> ChunkingConfig:
        """How documents are cut: as recorded, else from the model's length."""
        from searchapp.ingest.chunking import ChunkingConfig  # its regexes: not for a query

        meta = self.meta()
        if meta.chunk_max_tokens is not None and meta.chunk_overlap_tokens is not None:
            return ChunkingConfig(meta.chunk_max_tokens, meta.chunk_overlap_tokens)
        max_tokens = self.load_query_encoder().max_length - 2  # [CLS] and [SEP] take two
        return ChunkingConfig(max_tokens, min(OVERLAP_TOKENS, max_tokens // 4))

    def open_vectors(self) -> VectorIndex | MappedFlat:
        """The vector index, reopened once another process changed the store (a REPL keeps
        one SearchIndex while `search index` runs elsewhere), rebuilt when stale or damaged.
        A reader maps the file read-only; a writer takes it into memory once, when it starts,
        and updates it in place as it commits."""
        generation = self.store.generation()
        cached = self._vectors
        if (
            cached is None
            or generation != self._vectors_generation
            or (cached.mapped and self._writer is not None)  # read-only: a writer reloads
        ):
            dim = self.meta().dim or self.load_encoder().dim
            previous = cached if self._writer is None else None  # a reader's, to catch up
            self._vectors = open_vectors(
                self.store, self.index_dir, dim, writer=self._writer, previous=previous
            )
            self._vectors_generation = generation  # or older: at worst, one more reload
        return self._vectors

    def open_postings(self) -> Postings | None:
        """The lexical postings matching the store, reopened after another process wrote;
        ``None`` while a writer runs on a store they no longer match (FTS5 then ranks)."""
        cached = self._postings
        if cached is None or cached.generation != self.store.generation():
            self._postings = open_postings(self.store, self.index_dir, writer=self._writer)
        return self._postings

    # -- writing --------------------------------------------------------------------------------

    def add(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        rebuild: bool = False,
        wait: bool = True,
        on_wait: Callable[[], None] | None = None,
        progress: Progress | None = None,
        index_type: str | None = None,
        default_excludes: bool = True,
        embedder: EmbeddingBackend | None = None,
        as_roots: bool = True,
        stop: threading.Event | None = None,
        named: Collection[str] | None = None,
    ) -> IndexReport:
        """Index files and folders (incrementally unless ``rebuild``).

        ``index_type`` (flat, ivf, hnsw or auto) is recorded in the index; ``None`` keeps the
        recorded one (auto for a new index). The vectors are rebuilt when it asks for another kind.
        A path that no longer exists but has indexed documents has them removed. Ctrl-C stops
        the run with what was committed kept, raising ``IndexInterrupted`` with the report.
        ``embedder`` embeds elsewhere (``RayEmbedder``) what the local encoder would; the encoder
        still tokenizes, and its name, weights and precision are what the index records.
        ``paths`` are recorded as roots for a bare `search index` unless not ``as_roots``
        (`search watch`'s changed files, under its roots). ``stop``, once set, stops the run as
        Ctrl-C does, but only where a window was just committed (`search watch` told to stop,
        from any thread). ``named``: the files named to index, whose text is not judged (by
        default the files of ``paths`` when ``as_roots``; `search watch` names those it watches).
        """
        from searchapp.ingest.discovery import check_filters
        from searchapp.ingest.pipeline import Indexer

        check_filters(include, exclude)  # not recorded for the next run, to fail again
        if index_type is not None and index_type not in INDEX_TYPES:
            raise BadInputError(
                f"--index-type ({index_type!r}) must be one of {', '.join(INDEX_TYPES)}"
            )
        if rebuild and self.exists():
            with self.rebuilding(wait=wait, on_wait=on_wait) as fresh:
                return fresh.add(
                    paths,
                    include=include,
                    exclude=exclude,
                    wait=wait,
                    progress=progress,
                    index_type=index_type,
                    default_excludes=default_excludes,
                    embedder=embedder,
                    as_roots=as_roots,
                    stop=stop,
                    named=named,
                )
        roots, vanished = self._roots(paths)
        if not self.exists():
            self.load_query_encoder()  # a model not found leaves no index folder behind
        with self._writing(wait=wait, on_wait=on_wait):
            # What the model files tell (name, checksum, size, tokenizer) needs no torch: the
            # query encoder's (NumPy). The PyTorch encoder loads only once there is something
            # to embed, while the files are read (``EncoderLoader``).
            model = self.load_query_encoder()
            self._drop_if_replaced()
            store = self._store = self._store or Store.open(self.index_dir, create=True)
            meta = IndexMeta.read(store)
            meta.check(model, self.index_dir)
            # Refused now, not only once a file needs embedding (auto's precision is known only
            # from the loaded encoder, and is checked then).
            asked = self.precision
            if asked not in (None, "auto") and meta.precision not in (None, asked):
                raise self._precision_refused(meta.precision, asked, asked)
            if meta.model is None:
                chunking = self.chunking()
                meta = replace(
                    meta.with_encoder(model, model=self._model),
                    chunk_max_tokens=chunking.max_tokens,
                    chunk_overlap_tokens=chunking.overlap_tokens,
                )
            if meta.precision is None and self.precision == "fp32":
                meta = replace(meta, precision="fp32")  # fp32 on every device: known now
            index_type = index_type or meta.index_type or self._default_index_type or "auto"
            replace(meta, index_type=index_type).write(store)
            vectors = self.open_vectors()
            indexer = Indexer(
                store,
                vectors,
                model.tokenizer,
                self._encoder_loader(store),
                chunking=self.chunking(),
                progress=progress,
                embedder=embedder,
                # NumPy's encoder (fp32) while this process has embedded little: not once
                # PyTorch's is loaded, nor for a precision asked of PyTorch's (checked when it
                # loads), nor with an embedder elsewhere (Ray).
                quick=model
                if self._encoder is None and embedder is None and self.precision in (None, "fp32")
                else None,
                quick_spent=self._quick_spent,
            )
            # Roots indexed on their own inside these (`search index A/node_modules`, then A):
            # what this walk leaves out of them is still theirs.
            given = {str(root) for root in roots}
            nested = [Path(r) for r in under(recorded_roots(store), roots) if r not in given]
            # Indexed before with --no-default-excludes, now with them: what they leave out by
            # its text (minified, generated) is found only by reading unchanged files too.
            earlier = root_filters(store)
            recheck = default_excludes and any(
                not filters.default_excludes
                and (under([root], roots) or under([str(r) for r in roots], [root]))
                for root, filters in earlier.items()
            )
            if as_roots:  # folders at once: a relative path is read from them mid-run
                # (a first index of 26 minutes answered `get src/lstm.py:21` with "not an
                # indexed document" until it ended); files once the run says they were kept
                folders = [root for root in roots if root.is_dir()]
                if folders:
                    given_filters = Filters(tuple(include), tuple(exclude), default_excludes)
                    record_roots(store, folders, given_filters)
            try:
                report = indexer.run(
                    roots,
                    include=include,
                    exclude=exclude,
                    default_excludes=default_excludes,
                    nested_roots=nested,
                    recheck=recheck,
                    stop=stop,
                    # `search watch`'s changed files: judged as its walk judges them (a bundle
                    # rebuilt, a generated file touched, was indexed as if named to index)
                    named=named if named is not None else None if as_roots else (),
                )
                report.removed += self._remove_under(store, vectors, vanished)
                forget_roots(store, vanished, literal=True)  # deleted: nothing left to update
            except KeyboardInterrupt as exc:
                interrupted = IndexInterrupted(indexer.report)
                interrupted.asked = isinstance(exc, StopAsked)
                raise interrupted from None
            finally:
                self._quick_spent = indexer.quick_spent
                # Whatever was committed is in SQLite; the vectors file follows it.
                save_vectors(vectors, store, self.index_dir)
                if as_roots:  # not a FIFO or /dev/null given by name: no root of anything
                    filters = Filters(tuple(include), tuple(exclude), default_excludes)
                    # Nor a file skipped (a scan without text): a bare `search index` named it
                    # as an indexed root of no documents.
                    skipped = {path for path, _ in indexer.report.skipped}
                    kept = [
                        root
                        for root in roots
                        if root.is_dir() or (root.is_file() and str(root) not in skipped)
                    ]
                    record_roots(store, kept, filters)
            self._vectors = fit_vectors(vectors, store, self.index_dir, index_type)
            self._vectors_generation = store.generation()
            self._postings = self.open_postings()
            IndexMeta(last_indexed_at=datetime.now(UTC).isoformat("T", "seconds")).write(store)
        return report

    def matching(self, patterns: Sequence[str | os.PathLike[str]]) -> list[str]:
        """The indexed paths these name (``indexed_paths.matching``)."""
        return matching(self.store.all_paths(), patterns)

    def any_document_matches(self, path_glob: str | Sequence[str] | None) -> bool:
        """Whether any indexed document's path matches ``--path`` (``path_matches``)."""
        matches = path_filter(path_glob)
        return any(matches(path) for path in self.store.all_paths())

    def named_alike(self, glob: str, most: int = 3) -> tuple[str, list[str]]:
        """For a ``--path`` glob that matches nothing: a glob that matches the files whose
        names hold its text in another case or as part of them (`Lease` for
        `Lease_221_Harbor_Street.docx`: a paralegal's `--path Lease` and `'lease*'` matched
        nothing), and up to ``most`` of them; ("", []) where none does."""
        text = glob.strip("*/!")
        if not text or any(c in text for c in "*?[{/"):
            return "", []
        from searchapp.ranking.query_words import fold

        # case-blind letter by letter: "İ".lower() is two characters, and slicing by it was off
        held = re.compile(re.escape(text), re.IGNORECASE)
        plain = fold(text)  # ...and accent-blind, as -F is: '*Nunez*' for 'Núñez notes.md'
        found: list[str] = []
        spelled = ""
        for path in self.store.all_paths():
            name = unicodedata.normalize("NFC", path.rpartition("/")[2])
            at = held.search(name)
            if at is not None:
                spelled = spelled or at.group()
            elif len(folded := fold(name)) == len(name) and (start := folded.find(plain)) >= 0:
                spelled = spelled or name[start : start + len(plain)]  # letter for letter
            else:
                continue
            found.append(path)
            if len(found) == MAX_NAMED_ALIKE:
                break
        if not found:
            return "", []
        # the glob as given, its text as the names spell it (`*.CSV`: `*.csv`), else around it
        respelled = held.sub(lambda _: spelled, glob.lstrip("!"), count=1)
        for alike in (respelled, f"*{spelled}*"):
            if alike != glob and self.any_document_matches(alike):
                # the names it matches: another spelling ('LEASE_UP.md') is not one
                matches = path_filter(alike)
                return alike, [path for path in found if matches(path)][: most + 1]
        return "", []

    def remove(
        self,
        patterns: Sequence[str | os.PathLike[str]],
        *,
        literal: bool = False,
        keep_roots: bool = False,
        wait: bool = True,
        on_wait: Callable[[], None] | None = None,
    ) -> int:
        """Drop the documents at or below these paths, or matching these globs (``matching``);
        ``literal``: paths only, never globs (files a watch saw deleted: ``[ab].md`` is not
        ``a.md`` and ``b.md``). The indexed roots they empty are forgotten unless
        ``keep_roots`` (a watch's, which it waits for). ``wait`` and ``on_wait``: for the
        writer lock, as ``add`` takes them. Returns how many paths were removed."""
        with self._writing(wait=wait, on_wait=on_wait):
            store = self.store
            vectors = self.open_vectors()  # matching the store as this writer found it
            gone = under(store.all_paths(), patterns) if literal else self.matching(patterns)
            self._delete(store, vectors, gone)
            if not keep_roots:
                forget_roots(store, patterns, literal=literal)
            save_vectors(vectors, store, self.index_dir)
            self._vectors_generation = store.generation()
            self._postings = self.open_postings()
        return len(gone)

    def _remove_under(self, store: Store, vectors: VectorIndex, roots: Sequence[Path]) -> int:
        if not roots:
            return 0
        gone = under(store.all_paths(), roots)
        self._delete(store, vectors, gone)
        return len(gone)

    @staticmethod
    def _delete(store: Store, vectors: VectorIndex, paths: Sequence[str]) -> None:
        with store.transaction():
            removed = store.delete_documents_by_path(paths)
        vectors.remove(np.asarray(removed, dtype=np.int64))

    def _roots(self, paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[Path]]:
        """The paths to index, and those that are gone but still have documents indexed or
        are recorded roots (forgotten then)."""
        if not paths:
            raise BadInputError("give at least one file or folder to index")
        refuse_empty(paths)
        roots, vanished = [], []
        for raw in paths:
            path = absolute(raw)
            if path.exists():
                roots.append(path)
            elif self.exists() and (
                under(self.store.all_paths(), [path]) or str(path) in recorded_roots(self.store)
            ):
                vanished.append(path)
            else:
                raise not_there(raw)
        return roots, vanished

    def indexed_roots(self) -> list[str]:
        """What a bare `search index` updates: the folders and files given to ``add`` before,
        on disk or not (one that is not is said to be, and kept, or dropped when it was a file
        deleted from a folder still there); none for an index not made yet."""
        return recorded_roots(self.store) if self.exists() else []

    def roots_by_filters(self) -> dict[Filters, list[str]]:
        """``indexed_roots`` grouped by the filters each was last indexed with, for a bare
        `search index` to walk them as before."""
        if not self.exists():
            return {}
        recorded = root_filters(self.store)
        groups: dict[Filters, list[str]] = {}
        for root in self.indexed_roots():
            groups.setdefault(recorded.get(root, Filters()), []).append(root)
        return groups

    def roots(self) -> list[dict[str, Any]]:
        """The folders and files given to ``add``, each with the documents indexed under it."""
        return roots_with_counts(self.store)

    @contextmanager
    def _writing(
        self, *, wait: bool = True, on_wait: Callable[[], None] | None = None
    ) -> Iterator[WriterLock]:
        """Hold the writer lock; the derived files this object opens meanwhile are saved."""
        with WriterLock(self.index_dir, wait=wait, on_wait=on_wait) as lock:
            self._writer = lock
            # A --rebuild killed part way (`kill -9`, a crash) left its new index here: with
            # the lock no rebuild runs, so it is one that stopped (a full copy of a large index).
            left = self.index_dir / REBUILD_DIR
            if left.is_dir():
                logger.info("removing %s, left by a --rebuild that was stopped", left)
                shutil.rmtree(left, ignore_errors=True)
            try:
                yield lock
            finally:
                self._writer = None

    def _precision_refused(self, recorded: str, asked: str, embeds: str) -> ModelMismatchError:
        return ModelMismatchError(
            f"the index at {self.index_dir} holds {recorded} vectors and --precision {asked} "
            f"embeds in {embeds} here; use --precision {recorded}, or rebuild it: search index "
            f"--rebuild --precision {asked} PATH..."
        )

    @contextmanager
    def rebuilding(
        self, *, wait: bool = True, on_wait: Callable[[], None] | None = None
    ) -> Iterator[SearchIndex]:
        """`search index --rebuild`: a new, empty index beside this one (``REBUILD_DIR``), to
        ``add`` to; its files replace this one's when the block ends. It keeps this index's
        model, fp32 precision and index type unless others were asked for (read where the
        index is readable: a damaged one is rebuilt this way too, with the defaults). Until the
        swap this index answers queries as it was; a block that stops (Ctrl-C, an error)
        deletes the new one and leaves this one so (``IndexInterrupted.rebuild``)."""
        with self._writing(wait=wait, on_wait=on_wait):
            meta = self.meta()
            aside = self.index_dir / REBUILD_DIR
            shutil.rmtree(aside, ignore_errors=True)  # left by a process killed mid-rebuild
            fresh = SearchIndex(
                aside,
                model=self._model or meta.model,
                device=self.device,
                precision=self.precision or ("fp32" if meta.precision == "fp32" else None),
            )
            fresh._default_index_type = meta.index_type
            if fresh.model_name == self.model_name:
                fresh._encoder = self._encoder  # loaded once in this process, if it was
            try:
                yield fresh
            except BaseException as stopped:
                fresh.close()
                shutil.rmtree(aside, ignore_errors=True)
                if isinstance(stopped, IndexInterrupted):
                    stopped.rebuild = True
                raise
            fresh.close()
            self.close()
            self._swap_in(aside)
            self._encoder = fresh._encoder
            self._query_encoder = fresh._query_encoder
            self._model = fresh._model

    def _swap_in(self, aside: Path) -> None:
        """Move a rebuilt index's files over this one's (the writer lock held, both closed).
        The old derived files go first, then the database is replaced, then the new derived
        files come: a reader that opens the database meanwhile finds no vectors beside it and
        builds them from it, never vectors of the other database. Each step leaves an index
        that works, should the next one not happen."""
        single_file(aside / DB_NAME)  # no WAL to move with it: one rename moves it whole
        as_private_as(aside / DB_NAME, self.index_dir / DB_NAME)  # shared by chmod: still so
        for name in (VECTORS_NAME, POSTINGS_NAME):
            (self.index_dir / name).unlink(missing_ok=True)
        remove_store_files(self.index_dir, keep_db=True)  # the old database's WAL files
        os.replace(aside / DB_NAME, self.index_dir / DB_NAME)
        for name in (VECTORS_NAME, POSTINGS_NAME):
            if (aside / name).exists():
                as_private_as(aside / name, self.index_dir / DB_NAME)
                os.replace(aside / name, self.index_dir / name)
        shutil.rmtree(aside, ignore_errors=True)

    # -- reading --------------------------------------------------------------------------------

    def search(self, text: str, options: SearchOptions | None = None, **fields: Any) -> list[Hit]:
        """Rank passages for ``text``: ``options``, or ``SearchOptions`` fields (k, mode, ...).

        A query longer than the model's limit is embedded truncated, with a warning logged.
        Quoted phrases no passage holds (of the passages ``options`` lets in) are read as
        characters (unless ``options.fixed``), with a warning: a pasted traceback's `File
        "/app/x.py", line 3` or a message quoting a value (`no route for name "user_detail"`)
        found nothing, silently.
        """
        options = options or SearchOptions(**fields)
        if options.like is not None:
            return self.related(options.like, options)
        self._context_files.clear()
        _check_typed(text)
        vector = self._embed_queries([text])[0]
        hits = self._rank(text, vector, options)
        if not hits and options.phrases and not options.fixed and (phrases := held_phrases(text)):
            shown = " ".join(f'"{phrase.text}"' for phrase in phrases)
            logger.warning(
                "no passage holds %s as written; searching its words in any order instead",
                shown if len(shown) <= 80 else shown[:79] + "…",
            )
            hits = self._rank(text, vector, replace(options, phrases=False))
        return hits

    def related(self, path_or_doc_id: str, options: SearchOptions) -> list[Hit]:
        """The passages of other documents nearest in meaning to an indexed document (`search
        query --like`: "notes related to this one"): by the cosine to the mean of its stored
        vectors, read without the model, ``options`` as for ``search`` (its mode is dense)."""
        from searchapp.storage.documents import find_document

        if options.mode == "lexical":
            raise BadInputError("--like compares meanings; --mode lexical has no words to compare")
        if options.min_score is not None and options.min_score > 1:
            raise BadInputError(
                f"--min-score ({options.min_score}) with --like must be at most 1: its scores "
                "are cosines, -1 to 1"
            )
        with self.store.snapshot():
            document_id, doc_id, _, _ = find_document(self.store, path_or_doc_id)
            rows = self.store.rows(
                "SELECT id, text FROM chunks WHERE document_id = ? ORDER BY ordinal, id",
                (document_id,),
            )
            stored = self.store.embeddings(row[0] for row in rows)
            # Its passages and their copies elsewhere are no candidates: an earlier version of
            # it, its best passage one they share, was left out whole (a paralegal's trial).
            copies = self.store.copies_of([row[1] for row in rows])
        if not stored:
            raise BadInputError(f"{doc_id} has no passages to compare others with")
        mean = np.mean(np.stack(list(stored.values())), axis=0)
        vector = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
        # Its first words choose each hit's line; quotes and all, as characters.
        text = " ".join(" ".join(row[1] for row in rows).replace('"', " ").split()[:32])
        own = {row[1] for row in rows}  # its passages, in copies of it too (named for them)
        left_out = {row[0] for row in rows} | {c[0] for found in copies.values() for c in found}
        # Its passages and their copies are left out before the selection: no room to make
        # for them (it widened past every passage of an index of few documents: a reviewer's).
        wanted = replace(options, mode="dense", phrases=False, like=None)
        hits = [
            hit  # (an index from before ``copies_of`` finds them has them left out here)
            for hit in self._rank(text, vector, wanted, left_out=frozenset(left_out))
            if hit.doc_id != doc_id and hit.text not in own
        ]
        return [replace(hit, rank=n) for n, hit in enumerate(hits[: options.k], start=1)]

    def search_many(self, texts: Sequence[str], options: SearchOptions) -> list[list[Hit]]:
        """Rank passages for many queries, embedding them together (for evaluation; a query
        of a benchmark may be a whole document, so its length is not capped)."""
        vectors = self._embed_queries(texts, warn=False)
        return [self._rank(t, v, options) for t, v in zip(texts, vectors, strict=True)]

    def _embed_queries(self, texts: Sequence[str], *, warn: bool = True) -> np.ndarray:
        for text in texts:
            _check_query(text)
        _ = self.store  # no index: say so now, not after loading the model
        encoder = self.load_query_encoder()
        self.meta().check(encoder, self.index_dir)
        if len(texts) > 1:
            return encoder.encode(list(texts))
        tokens = encoder.tokenizer.count_tokens(list(texts))[0] + 2  # [CLS] and [SEP]
        if warn and tokens > encoder.max_length:
            logger.warning(
                "the query is %d tokens; only the first %d (the model's limit) were used",
                tokens,
                encoder.max_length,
            )
        if type(encoder).__module__ != "minilm.encoder":  # not PyTorch's SentenceEncoder
            return encoder.encode(list(texts))
        from minilm.devices import cpu_threads, query_threads  # torch is loaded already

        with cpu_threads(query_threads()):
            return encoder.encode(list(texts))

    def _rank(
        self,
        text: str,
        vector: np.ndarray,
        options: SearchOptions,
        left_out: frozenset[int] = frozenset(),
    ) -> list[Hit]:
        while True:
            store = self.store
            vectors = self.open_vectors()  # may rebuild and save the FAISS file: not in a snapshot
            postings = self.open_postings() if options.mode != "dense" else None  # the same
            if self.store is store:  # else a --rebuild swapped in another database meanwhile:
                break  # its chunk ids name other passages than these vectors' ids
        try:
            with store.snapshot():
                return Searcher(store, vectors, postings).search(text, vector, options, left_out)
        except DamagedVectorsError as exc:
            # Bytes changed inside the file (its size and header as saved): nothing checked
            # them, and hits scored 2.7e37; `search index` kept the file. Rebuilt from SQLite.
            dim = self.meta().dim or self.load_encoder().dim
            self._vectors = open_vectors(
                store, self.index_dir, dim, writer=self._writer, damaged=str(exc)
            )
        try:
            with store.snapshot():
                searcher = Searcher(store, self._vectors, postings)
                return searcher.search(text, vector, options, left_out)
        except DamagedVectorsError as exc:  # rebuilt from SQLite as they were: they are there
            path = self.index_dir / DB_NAME
            raise CorruptIndexError(
                f"{path} holds damaged vectors ({exc})", rebuild_hint(path, roots_readable=True)
            ) from None

    def changed_files(self, hits: Sequence[Hit | StoredDocument]) -> dict[str, str]:
        """``{path: "changed", "too large", "gone" or "root gone"}`` for each hit's file that
        changed or went since it was indexed: its ``path:line`` may no longer be that line
        ("root gone": with the indexed folder it lies in, an unmounted drive, whose documents
        a bare `search index` keeps). One stat a file; one
        whose size or times moved is read and hashed, so a `touch` alone says nothing. A file
        that cannot be read now is left out (nothing to tell of it). "too large": it grew past
        the size limit, so `search index` keeps its indexed text rather than reading it."""
        from searchapp.ingest.limits import DEFAULT_MAX_BYTES

        paths = list(dict.fromkeys(hit.path for hit in hits if hit.doc_id == hit.path))
        found = {}
        for path, indexed in self.store.file_states(paths).items():
            try:
                stat = os.stat(path)
                if indexed.stat_matches(stat):
                    continue
                if not S_ISREG(stat.st_mode):  # a folder of that name now (`git checkout`)
                    found[path] = "gone"
                    continue
                from searchapp.ingest.decoding import gzip_size  # only for a changed file

                if stat.st_size > DEFAULT_MAX_BYTES or gzip_size(path) > DEFAULT_MAX_BYTES:
                    found[path] = "too large"  # what was indexed was not
                    continue
                # A server asks at every query: a file is hashed once for each state of it.
                key = (path, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, indexed.sha256)
                if key not in self._hashed:
                    if len(self._hashed) >= 1024:
                        self._hashed.clear()
                    with open(path, "rb") as file:
                        import hashlib  # not at import: most queries hash nothing

                        digest = hashlib.sha256(file.read()).hexdigest()
                    self._hashed[key] = digest == indexed.sha256
                if self._hashed[key]:
                    continue
                found[path] = "changed"
            except (FileNotFoundError, NotADirectoryError):
                found[path] = "gone"
            except OSError:
                continue
        if "gone" in found.values():  # under an indexed folder that is not there itself
            # Not there as a bare `search index` sees it (a link to an unmounted drive too);
            # a file given by name is not under itself: deleted, it goes.
            missing = [root for root in self.indexed_roots() if not os.path.exists(root)]
            for path in [path for path, how in found.items() if how == "gone"]:
                if any(path.startswith(root.rstrip(os.sep) + os.sep) for root in missing):
                    found[path] = "root gone"
        return found

    def context(self, hit: Hit, lines: int) -> Context:
        """The lines of the hit's file from ``lines`` before its passage's first line to
        ``lines`` after its last, as written (the passage alone when the file changed or is a
        JSONL record). With 0, its lines whole: a passage may begin or end inside one (-C 0
        printed a long line's passage, not the line, as grep -C 0 does)."""
        if lines < 0 or (hit.doc_id != hit.path and not hit.message):
            return Context(hit.start_line, hit.text)
        alone = Context(hit.start_line, hit.text, changed=True)
        if hit.message:  # its message's lines, as indexed
            try:
                all_lines = self.get_document(hit.doc_id).text.split("\n")
            except SearchAppError:  # removed since the query
                return alone
            if "\n".join(all_lines[hit.start_line - 1 : hit.end_line]) != hit.text:
                return alone
            first = max(0, hit.start_line - 1 - lines)
            last = min(len(all_lines), hit.end_line + lines)
            return Context(first + 1, "\n".join(all_lines[first:last]), around=lines)
        read = self._context_file(hit.path)
        if read is None:
            return alone
        text, all_lines = read
        if (
            text[hit.start_char : hit.end_char] != hit.text
            or text.count("\n", 0, hit.start_char) != hit.start_line - 1  # lines moved
        ):
            return alone
        first = max(0, hit.start_line - 1 - lines)
        last = min(len(all_lines), hit.end_line + lines)
        return Context(first + 1, "\n".join(all_lines[first:last]), around=lines)

    def _context_file(self, path: str) -> tuple[str, list[str]] | None:
        """The text a file gives now, as indexed, and its lines as written; None when it
        cannot be read or holds more than one document. The last few files are kept."""
        from searchapp.ingest.decoding import decode_bytes, load_documents, read_bytes

        try:
            stat = os.stat(path)
        except OSError:
            return None
        key = (path, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        if key not in self._context_files:
            try:
                data = read_bytes(Path(path))
                documents = load_documents(Path(path), data=data)
            except Exception:  # the file changed or vanished since indexing: what we stored
                documents = []
            read = None
            if len(documents) == 1:
                text = documents[0].text
                all_lines = _file_lines(decode_bytes(data), text, markup=marked_up(path))
                if len(all_lines) > 1 and all_lines[-1] == "":  # the last newline ends a line
                    all_lines.pop()
                read = (text, all_lines)
            # The newest is kept whatever its size (a query's hits in one big log), the others
            # while they fit; a search forgets them all (a server would hold them for good).
            while self._context_files and (
                len(self._context_files) >= CONTEXT_FILES
                or sum(len(r[0]) for r in self._context_files.values() if r)
                + len(read[0] if read else "")
                > CONTEXT_CHARS
            ):
                self._context_files.pop(next(iter(self._context_files)))
            self._context_files[key] = read
        return self._context_files[key]

    def stats(self) -> dict[str, Any]:
        store = self.store
        raw = store.get_meta()
        meta = IndexMeta.from_dict(raw)
        counts = store.stats()
        vectors_path = self.index_dir / VECTORS_NAME
        postings_path = self.index_dir / POSTINGS_NAME
        return {
            "index_dir": str(self.index_dir),
            "model": meta.model,
            "model_sha256": meta.model_sha256,
            "dim": meta.dim or 0,
            "max_length": meta.max_length or 0,
            "precision": meta.precision,
            "documents": counts["documents"],
            # Stored in part by a run that was stopped: searched, finished by `search index`.
            "incomplete_documents": counts["incomplete_documents"],
            "incomplete_files": counts["incomplete_files"],  # a mailbox's messages: one file
            "incomplete_paths": counts["incomplete_paths"],  # the first few
            "chunks": counts["chunks"],
            "db_bytes": counts["db_bytes"],
            "db_free_bytes": counts["db_free_bytes"],
            # A --rebuild's new index, under way or stopped: the next writer removes the latter.
            "rebuild_bytes": _folder_size(self.index_dir / REBUILD_DIR),
            "vectors_bytes": _size(vectors_path),
            "postings_bytes": _size(postings_path),
            "index_type": meta.index_type or "auto",
            "vectors_params": _json_or_text(raw.get(VECTORS_PARAMS_KEY)),
            "last_indexed_at": meta.last_indexed_at,
            "schema_version": store.schema_version(),
            "roots": self.roots(),
        }

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store = None
        self._vectors = None
        self._postings = None

    def get_document(
        self,
        path_or_doc_id: str,
        lines: tuple[int, int] | None = None,
        *,
        pages: PageRange | None = None,
        labelled: bool = False,
    ) -> StoredDocument:
        """An indexed document's text as indexed (``lines``: a 1-based inclusive range; or
        ``pages``, a PDF's, as its lines: ``labelled``, as the PDF prints them,
        ``documents.page_lines``).

        Anything that is not an indexed document, such as ``../../etc/passwd``, raises
        ``DocumentNotFoundError``. The text is the stored passages', stitched; a file still as
        indexed (its size and times) gives the whitespace between them as it has it (a leading
        tab came back as a space, blank lines at its end were lost), and its YAML front matter
        as written, and nothing else.
        """
        from searchapp.storage.documents import (
            DocumentNotFoundError,
            find_document,
            page_lines,
            read_document,
        )

        def _names(key: str) -> bool:
            try:
                find_document(self.store, key)
            except DocumentNotFoundError:
                return False
            return True

        def as_written(path: str, stitched: str) -> str | None:
            indexed = self.store.file_states([path]).get(path)
            try:
                unchanged = indexed is not None and indexed.stat_matches(os.stat(path))
            except OSError:
                return None
            read = self._context_file(path) if unchanged else None
            if read is None:
                return None
            text, lines = read  # as extracted now, and as written where its lines are those
            return "\n".join(lines) + "\n" * (text.endswith("\n") and bool(lines))

        with self.store.snapshot():
            at_page = _AT_PAGE.fullmatch(path_or_doc_id)
            if pages is None and lines is None and at_page and not _names(path_or_doc_id):
                # `FILE p.3` as a table's hit names a PDF's page, copied whole (a paralegal's
                # trial: "is not an indexed document")
                page = at_page.group(2)
                path_or_doc_id, labelled = at_page.group(1), True
                pages = (int(page) if page.isdigit() else page,) * 2
            if pages is None:
                return read_document(self.store, path_or_doc_id, lines, as_written=as_written)
            lines = page_lines(self.store, path_or_doc_id, pages, labelled=labelled)
            document = read_document(self.store, path_or_doc_id, lines, as_written=as_written)
        kept = document.text.rstrip("\n")  # not the blank line between it and the next page
        dropped = document.text.count("\n") - kept.count("\n")
        return replace(document, text=kept, end_line=document.end_line - dropped)


# A document and a page as a hit names them on a terminal: `paper.pdf p.12`.
_AT_PAGE = re.compile(r"(.+?)[ \t]+p\.([0-9A-Za-z][0-9A-Za-z.]{0,11}?)[ \t]*")


# The model reads a query's first 256 tokens (~1,000 characters) and the lexical ranking its
# first 64 words; past this, a query is a pasted file, and its words' patterns grew costly
# (a 2 MB one held a server's other clients for minutes).
MAX_QUERY_CHARS = 10_000


def _check_typed(text: str) -> None:
    """Refuse a typed or requested query past ``MAX_QUERY_CHARS``, or with no letter or digit
    (`search query '***'` ranked passages nearest to nothing, with status 0)."""
    if text.strip() and not any(c.isalnum() for c in text):
        raise BadInputError(
            f"the query {text.strip()[:40]!r} has no letters or digits to search for"
        )
    if len(text) > MAX_QUERY_CHARS:
        raise BadInputError(
            f"the query is {len(text):,} characters; the most is {MAX_QUERY_CHARS:,} (the model "
            "reads only its first few hundred words): shorten it"
        )


def _check_query(text: str) -> None:
    if not text.strip():
        raise BadInputError("the query is empty; type some words to search for")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8, as Python keeps them from argv
        raise BadInputError(
            "the query holds bytes that are not UTF-8 text; check the terminal's encoding "
            "and type it again"
        ) from None


@dataclass(frozen=True)
class Context:
    """Lines of a hit's file around its passage: ``text`` begins at line ``first_line``.
    ``changed``: the file is not as indexed (edited, gone), so ``text`` is the passage alone."""

    first_line: int
    text: str
    changed: bool = False
    around: int = 0  # the lines asked for on either side (-C N)


CONTEXT_FILES = 4  # files whose text context keeps (a query's hits come from a few at a time)
CONTEXT_CHARS = 8_000_000  # and their characters, but the newest's (a 29 MB log: 81 MB as text)


def _file_lines(raw: str | None, indexed: str, *, markup: bool = False) -> list[str]:
    """The lines around a passage as the file has them, as grep -C shows them: the file's own
    ``raw`` text where its lines are the indexed text's (text, code, Markdown, whose YAML front
    matter is indexed as blank lines and values), else the indexed text's (the text extracted
    from a PDF); ``markup``: a transcript's, what is said as indexed (its tags left out), and
    the lines left blank (timing, cue numbers) as the file has them, less their tags."""
    lines = indexed.split("\n")
    raw_lines = lines if raw is None else raw.split("\n")
    if len(raw_lines) != len(lines):
        return lines
    if markup:  # what is said as indexed; the timing and cue lines between as written
        from searchapp.ingest.formats.subtitles import spoken

        return [line if line.strip() else spoken(raw) for raw, line in zip(raw_lines, lines)]
    # Only lines the indexed text left blank, or kept the end of (a front matter key's value),
    # may differ: anything else is another extraction.
    for raw_line, line in zip(raw_lines, lines, strict=True):
        if raw_line != line and line.strip() and not _ends_alike(raw_line, line):
            return lines
    return raw_lines


def marked_up(path: str) -> bool:
    """Whether the file's lines are indexed less their tags (a transcript's: ``_file_lines``)."""
    from searchapp.ingest.formats.subtitles import is_transcript

    return is_transcript(path)


def _ends_alike(raw_line: str, line: str) -> bool:
    """Whether a file's line ends with the indexed one, YAML's quotes, brackets and dashes
    aside (front matter is indexed as words: ``tags: [a, "b c"]`` as ``a, b c``)."""
    if raw_line.rstrip().endswith(line.strip()):
        return True
    words = _NOT_WORD.sub("", line)
    return bool(words) and _NOT_WORD.sub("", raw_line).endswith(words)


_NOT_WORD = re.compile(r"[\W_]+")


def _folder_size(folder: Path) -> int:
    """The bytes of the files in ``folder`` (0 when there is none)."""
    return sum(_size(path) for path in folder.glob("*")) if folder.is_dir() else 0


def _size(path: Path) -> int:
    """``path``'s size; 0 when there is none (a rebuild swapping files in may remove it)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _json_or_text(value: str | None) -> Any:
    """A meta value that holds JSON, decoded (the text as it is where damaged)."""
    try:
        return json.loads(value) if value else None
    except ValueError:
        return value
