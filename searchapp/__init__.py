"""Local semantic search over files: index folders, then query them by meaning.

``searchapp.SearchIndex`` is the library the ``search`` command is a thin layer over.
"""

from __future__ import annotations

__all__ = ["Hit", "IndexReport", "SearchIndex", "SearchOptions"]


def __getattr__(name: str) -> object:
    # Lazy, so that `search --help` and the error paths do not pay for FAISS and SQLite imports,
    # and nothing else: a Ctrl-C while `typing` was imported here (the first 0.12 s) ended
    # `search` in a traceback, before its own handling of Ctrl-C could begin.
    if name == "SearchIndex":
        from searchapp.search_index import SearchIndex

        return SearchIndex
    if name in ("Hit", "SearchOptions"):
        from searchapp.ranking import searcher

        return getattr(searcher, name)
    if name == "IndexReport":
        from searchapp.ingest.pipeline import IndexReport

        return IndexReport
    raise AttributeError(f"module 'searchapp' has no attribute {name!r}")
