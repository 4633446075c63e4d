"""SQLite's failures as the project's named errors: locked, disk full, damaged."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from searchapp.errors import (
    CorruptIndexError,
    DiskFullError,
    IndexIOError,
    IndexLockedError,
    IndexNotWritableError,
    SearchAppError,
)
from searchapp.storage.paths import rebuild_hint

_F = TypeVar("_F", bound=Callable[..., Any])


def named_error(path: Path, exc: sqlite3.DatabaseError) -> SearchAppError | None:
    """The project's error for SQLite's "locked", "full" and "damaged" failures; None for the
    rest."""
    name, text = getattr(exc, "sqlite_errorname", "") or "", str(exc).lower()
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return IndexLockedError(
            f"{path} is locked by another process writing to it; wait for it to finish and retry"
        )
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return DiskFullError(
            f"{path}: the disk is full ({exc}); free some space and run the command again "
            "(the index keeps what was committed before)"
        )
    if name.startswith("SQLITE_IOERR") or (not name and "disk i/o error" in text):
        # Not ENOSPC, which is SQLITE_FULL: a quota (EDQUOT), a file-size limit (EFBIG), a
        # failing disk. It printed a traceback, or called the file damaged.
        return IndexIOError(
            f"{path}: the system failed to read or write it ({exc}): a disk quota or a "
            "file-size limit (`ulimit -f`) reached, or a failing disk; free some space or "
            "raise the limit and run the command again (the index keeps what was committed "
            "before)"
        )
    if name in ("SQLITE_READONLY", "SQLITE_READONLY_DIRECTORY") or (
        not name and "readonly database" in text
    ):
        return IndexNotWritableError(
            f"cannot write {path} ({exc}); queries can read it, but this needs write access: "
            "check the folder's permissions, or choose another --index-dir"
        )
    corrupt = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
    if name.startswith(corrupt) or "malformed" in text or "not a database" in text:
        return CorruptIndexError(
            f"{path} is damaged ({exc})", rebuild_hint(path, roots_readable=False)
        )
    return None


def guarded(method: _F) -> _F:
    """Raise the project's named errors for SQLite's lock and corruption errors (for methods of
    an object with a ``path``)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            error = named_error(self.path, exc)
            if error is None:
                raise
            raise error from exc

    return wrapper  # type: ignore[return-value]
