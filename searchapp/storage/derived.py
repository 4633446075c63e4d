"""Files derived from the store (``vectors.faiss``, ``postings.bin``): found, checked, rebuilt.

SQLite is the source of truth; a derived file records which store generation it matches. Opening
one takes a snapshot of the store, loads the file and compares; a missing, damaged or stale file
is rebuilt from the store and saved atomically. Only a writer saves: the caller that holds the
writer lock passes it, any other caller takes it without waiting to save its rebuild. Two saves
interleaving could otherwise pair an older file with a newer generation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from searchapp.errors import CorruptIndexError, IndexLockedError, IndexNotWritableError
from searchapp.storage.lock import WriterLock
from searchapp.storage.store import Store

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class DerivedFile(Generic[T]):
    """How to load, check, build and save one kind of derived file."""

    name: str  # the file's name in the index folder
    what: str  # what it is, for the log: "the vector index"
    load: Callable[[Path], T | None]  # None when missing; CorruptIndexError when damaged
    stale: Callable[[T, Store, int], str | None]  # why it does not match (generation), or None
    build: Callable[[Store], T]  # from the store, inside a snapshot
    save: Callable[[T, Store, Path, int], None]  # into the folder, recording the generation
    # When it cannot be saved (a writer runs, or the folder is read-only): build it for this
    # process alone, or return None so the caller uses another way (FTS5 for postings).
    build_unsaved: bool
    rebuild_level: int = logging.INFO  # how loudly a rebuild of a non-empty index is logged
    # A stale file brought up to date in this process alone, cheaper than a build (None: can't),
    # from the file or from what this process caught up or built before (``previous``).
    catch_up: Callable[[Path, Store, T | None], T | None] | None = None
    # A stale file brought up to date as a build would make it, in a snapshot, when that is
    # cheaper (None: it is not; build). Whoever saves a rebuild tries it first.
    update: Callable[[T, Store], T | None] | None = None


def open_derived(
    kind: DerivedFile[T],
    store: Store,
    index_dir: Path,
    *,
    writer: WriterLock | None = None,
    previous: T | None = None,
    damaged: str | None = None,
) -> T | None:
    """``kind``'s file matching the store, rebuilt (and saved) when missing, damaged or stale;
    ``damaged``: what the caller found wrong with the file it loaded (rebuilt, with a warning).

    ``writer`` is the lock the caller holds while it writes the index; its save errors are
    raised. Without it, the lock is taken without waiting to save a rebuild; when it cannot be,
    the result is built unsaved or ``None`` as ``kind.build_unsaved`` says, or caught up
    (``kind.catch_up``), from ``previous`` (what this reader opened last) when it can be.
    """
    index_dir = Path(index_dir)
    path = index_dir / kind.name
    with store.snapshot():
        generation, count = store.generation(), store.count_chunks()
        try:
            found = None if damaged else kind.load(path)
        except CorruptIndexError as exc:  # its fix is this rebuild: not worth a word
            found, reason = None, exc.problem
        except OSError as exc:
            found, reason = None, str(exc)
        else:
            reason = f"{path} is damaged ({damaged})" if damaged else f"{path} is missing"
        if found is not None:
            stale = kind.stale(found, store, generation)
            if stale is None:
                return found
            reason = stale
    # A new, empty index has no files yet, and a file one generation behind is what a reader
    # finds while another process writes: nothing worth a warning. A missing or damaged one is.
    if not count:
        level = logging.DEBUG
    elif damaged:
        level = logging.WARNING
    elif found is None:
        level = kind.rebuild_level
    else:
        level = logging.INFO
    logger.log(level, "rebuilding %s: %s", kind.what, reason)
    if writer is not None:
        return _build_and_save(kind, store, index_dir, stale=found)
    try:
        with WriterLock(index_dir, wait=False):
            return _build_and_save(kind, store, index_dir, stale=found, warn=True)
    except IndexLockedError:
        logger.debug("a writer is running and will save %s", path)
    except (IndexNotWritableError, OSError) as exc:  # no writer can run there either
        logger.warning("cannot save %s (%s)", path, exc)
    if not kind.build_unsaved:
        return None
    with store.snapshot():
        if found is not None and kind.catch_up is not None:  # a writer's commits since it
            caught = kind.catch_up(path, store, previous)
            if caught is not None:
                return caught
        return kind.build(store)


def _build_and_save(
    kind: DerivedFile[T],
    store: Store,
    index_dir: Path,
    *,
    stale: T | None = None,
    warn: bool = False,
) -> T:
    with store.snapshot():
        generation = store.generation()
        built = None if stale is None or kind.update is None else kind.update(stale, store)
        if built is None:
            built = kind.build(store)
    try:
        kind.save(built, store, index_dir, generation)
    except OSError as exc:
        if not warn:
            raise
        logger.warning("could not save the rebuilt %s: %s", kind.name, exc)
    return built
