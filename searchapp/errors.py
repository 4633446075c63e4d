"""Named exceptions: the CLI turns each into one line on stderr and a non-zero exit."""

from __future__ import annotations

from typing import Any


class SearchAppError(Exception):
    """Base class for every error a user can cause or fix."""


class IndexNotFoundError(SearchAppError):
    """No index exists at the given folder."""


class ModelMismatchError(SearchAppError):
    """The index was built with another model or settings."""


class CorruptIndexError(SearchAppError):
    """A file of the index is damaged; the message names it (``problem``) and the fix."""

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(f"{problem}; {fix}" if fix else problem)
        self.problem = problem


class DamagedVectorsError(SearchAppError):
    """The vector index gave a score no stored vector can have (past a cosine's range, or NaN):
    its file is damaged (``SearchIndex`` rebuilds it from SQLite)."""


class IndexLockedError(SearchAppError):
    """Another process is writing to the index."""


class BadInputError(SearchAppError):
    """A path, query or option value that cannot be used."""


class IndexNotWritableError(SearchAppError):
    """This user cannot write the index folder or its files (queries can still read them)."""


class DiskFullError(SearchAppError):
    """The disk filled up while writing; the index keeps what was committed before."""


class IndexIOError(SearchAppError):
    """The system failed to read or write an index file (a quota, a file-size limit, a failing
    disk); the index keeps what was committed before."""


class IndexInterrupted(SearchAppError):
    """Ctrl-C stopped ``search index``; ``report`` holds what was committed before it."""

    def __init__(self, report: Any) -> None:  # an ingest.pipeline.IndexReport
        super().__init__("interrupted")
        self.report = report
        self.asked = False  # stopped as its caller asked (``SearchIndex.add``'s stop), no Ctrl-C
        self.rebuild = False  # a --rebuild, deleted: the index is as it was before it
