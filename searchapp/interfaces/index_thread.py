"""One ``SearchIndex`` shared by the requests of a server, used from one thread.

A ``SearchIndex`` is not thread-safe and its SQLite connection belongs to the thread that opened
it, while the HTTP server answers each connection in a thread of its own and the MCP SDK runs
tools in a pool. So every call goes to one thread that owns the index: searches are serialized
(the encoder uses every core for one query anyway) and the index reopens what another process
changed, as a REPL does, between two calls.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from searchapp.ranking.searcher import Hit, SearchOptions
from searchapp.search_index import SearchIndex
from searchapp.storage.documents import StoredDocument

T = TypeVar("T")


class IndexThread:
    """Runs calls on a ``SearchIndex`` in one thread, one at a time, for callers in any thread."""

    def __init__(self, index: SearchIndex) -> None:
        self._index = index
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="search-index")
        self._load_asked = False
        self._loader: threading.Thread | None = None  # PyTorch's encoder loading (``search``)
        self._loading = threading.Lock()  # two first requests at once: one loader

    @property
    def index_dir(self) -> Path:
        return self._index.index_dir

    @property
    def device(self) -> str:
        return self._index.device

    def call(self, function: Callable[[SearchIndex], T]) -> T:
        """``function(index)`` run in the index's thread; its result or its exception."""
        return self.submit(function).result()

    def submit(self, function: Callable[[SearchIndex], T]) -> Future[T]:
        """Queue ``function(index)`` without waiting (a later call runs after it)."""
        return self._executor.submit(function, self._index)

    def search(self, text: str, options: SearchOptions) -> tuple[list[Hit], list[str]]:
        """``searched_with_notes`` in the index's thread. The first answer is NumPy's, fast from
        a cold start; PyTorch's encoder then loads in the background and answers the later ones
        in about half the time, as in the REPL (loaded as the server started, it kept the first
        request of `search mcp` waiting 1.5-2.3 s)."""
        found = self.call(lambda index: searched_with_notes(index, text, options))
        with self._loading:
            if not self._load_asked:
                self._load_asked = True
                self._loader = self.call(lambda index: index.load_encoder_in_background())
        return found

    def close(self) -> None:
        """Finish the call under way, then close the index in its own thread (once PyTorch's
        encoder has loaded, if it was loading: cut off mid-import, torch can abort)."""
        try:
            with self._loading:  # no loader starts after this
                self._load_asked = True
            if self._loader is not None:
                self._loader.join()
            self.call(SearchIndex.close)
        finally:
            self._executor.shutdown(wait=True)


EMPTY_INDEX_NOTE = "the index holds no documents yet"


def searched_with_notes(
    index: SearchIndex, text: str, options: SearchOptions
) -> tuple[list[Hit], list[str]]:
    """``index.search``, and what a server's client is told of it: the warnings it logged, an
    index that holds nothing yet (an empty answer said nothing of it), a path filter that
    matches no indexed document (an empty answer said nothing of a mistyped
    filter; the CLI and the REPL say it on stderr), and each hit's file that changed or went
    since it was indexed (its `path:line` may name another line now; the CLI says it too)."""
    with warnings_logged() as notes:
        hits = index.search(text, options)
    if not hits and not index.store.count_documents():  # not a miss: there is nothing to find
        from searchapp.storage.paths import index_dir_option

        command = f"search index PATH{index_dir_option(index.index_dir)}"
        notes.append(f"{EMPTY_INDEX_NOTE}; `{command}` adds some")
    elif not hits and options.path_glob and not index.any_document_matches(options.path_glob):
        globs = [options.path_glob] if isinstance(options.path_glob, str) else options.path_glob
        shown = " or ".join(f"'{glob}'" for glob in globs)  # repr doubled a backslash
        notes.append(f"no indexed document matches path {shown}")
    notes += [changed_file_note(path, how) for path, how in index.changed_files(hits).items()]
    return hits, notes


def document_with_notes(
    index: SearchIndex,
    key: str,
    lines: tuple[int, int] | None,
    pages: tuple[int, int] | None = None,
) -> tuple[StoredDocument, list[str]]:
    """``index.get_document`` (``lines``, or a PDF's ``pages``), and the note a server's client
    is told when its file changed or went since it was indexed (lines asked for by a hit's line
    numbers may have moved), as `search get` says on stderr."""
    document = index.get_document(key, lines, pages=pages)
    changed = index.changed_files([document]).items()
    return document, [changed_file_note(path, how) for path, how in changed]


def changed_file_note(path: str, how: str) -> str:
    """What a hit's file that ``SearchIndex.changed_files`` found changed or gone means."""
    if how == "gone":
        return f"{path} is gone since it was indexed"
    if how == "root gone":  # `search index` keeps it, and would not make this note go
        return (
            f"{path} is not there: the folder it was indexed from is missing (an unmounted "
            "drive?), and `search index` keeps what it indexed there"
        )
    if how == "too large":  # `search index` skips it, and would not make this note go
        from searchapp.ingest.limits import DEFAULT_MAX_BYTES

        return (
            f"{path} grew past the {DEFAULT_MAX_BYTES // 2**20} MiB size limit since it was "
            "indexed: its older text is searched, and its lines may have moved"
        )
    return f"{path} changed since it was indexed: its lines may have moved"


def changed_file_line(path: str, how: str) -> str:
    """The CLI's line on stderr for ``changed_file_note``, with what to run where it helps."""
    told = how not in ("too large", "root gone")
    return f"note: {changed_file_note(path, how)}" + " (run `search index`)" * told


@contextmanager
def warnings_logged() -> Iterator[list[str]]:
    """The warnings searchapp logs in this thread meanwhile: a server's client is told them
    (they went to the server's stderr alone, where no client reads them)."""
    notes: list[str] = []
    thread = threading.get_ident()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.thread == thread:
                notes.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logger = logging.getLogger("searchapp")
    logger.addHandler(handler)
    try:
        yield notes
    finally:
        logger.removeHandler(handler)
