"""``search watch``: index folders, then keep the index fresh as their files change.

``watchfiles`` reports changed paths in debounced batches. A batch is applied from what is on
disk, not from the kinds of events, so the many ways editors save (write a temporary file, then
rename it over the old one), renames, deletions, new folders and edited ignore files all reduce
to one comparison: discovery's walk of the watched roots (which applies ``.gitignore`` and
``.searchignore`` as ``search index`` does) against the indexed paths below them.

- Indexed paths that the walk no longer yields (deleted, renamed away, now ignored) are removed.
- Changed paths that the walk yields are added; after a new folder or a changed ignore file,
  every yielded path that is not indexed yet too.

``SearchIndex.add`` and ``SearchIndex.remove`` each take the writer lock for one call, so the
lock is held only while a batch is committed and a `search index` run elsewhere waits briefly.
``add`` is given the files of the batch, never a folder above them: for a file it is asked to
index, it removes nothing but that file's old documents. The walk costs about 15 ms per 1,000
files a batch.

The indexer takes a file whose size and modification time are the stored ones for unchanged. A
file rewritten at the same size within the clock tick in which it was read (editors saving twice
in quick succession) would keep its old text, so each batch compares the content hash of the
files it added with the stored one and reads those that differ again.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from minilm.allocator import release_freed_memory
from searchapp.errors import BadInputError, IndexInterrupted, IndexNotFoundError, SearchAppError
from searchapp.ingest.decoding import BINARY_FILE
from searchapp.ingest.discovery import (
    IGNORE_FILES,
    INDEX_OWN_FILES,
    SKIPPED_FOLDERS,
    is_hidden,
    is_read_error,
    iter_files,
    unreadable_places,
    walk_reaches,
)
from searchapp.ingest.interrupts import StopRequest
from searchapp.interfaces.cli_app import state
from searchapp.interfaces.render import committed_chunks, counted
from searchapp.search_index import SearchIndex
from searchapp.storage.indexed_paths import recorded_roots, under
from searchapp.storage.paths import absolute, index_dir_option, not_there, refuse_empty

if TYPE_CHECKING:
    from rich.console import Console

    from searchapp.ingest.pipeline import IndexReport, Progress

logger = logging.getLogger(__name__)

DEBOUNCE_MS = 1000  # changes arriving without a pause are applied at least this often
STEP_MS = 50  # a batch is applied once no new change arrived for this long
ATTEMPTS = 3  # tries at a batch whose files keep vanishing while it is read
# A file last modified this long before a batch began cannot be rewritten within the clock tick
# of its modification time any more (ticks are ~4 ms; 1-2 s on old file systems).
RACY_NS = 3 * 10**9
NAMED_FILES = 3  # a batch's line names this many of its files
BAR_AFTER_S = 1.0  # a batch of changes that takes longer shows a progress bar (on a terminal)
QUICK_PATHS = 64  # a batch of at most this many files is judged path by path (``_files_plan``)


@dataclass
class BatchReport:
    """What one batch changed in the index."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    paths: list[str] = field(default_factory=list)  # the files added, updated or removed
    # Files found as indexed (``index_all``): the first line says them, as `search index`
    # does ("0 added, 0 updated, 0 removed" read as an empty index).
    unchanged: int | None = None

    @property
    def changed(self) -> bool:
        """Whether the batch did anything worth a line: added, updated, removed or skipped."""
        return bool(self.added or self.updated or self.removed or self.skipped)

    def summary(self) -> str:
        """The counts, then the files (the first ``NAMED_FILES`` of them): a line a second of
        "0 added, 1 updated, 0 removed" never said which file changed."""
        from searchapp.interfaces.render import display_path

        named = ", ".join(display_path(path) for path in self.paths[:NAMED_FILES])
        more = len(self.paths) - NAMED_FILES
        return (
            f"{self.added} added, {self.updated} updated, {self.removed} removed"
            + (f", {self.unchanged} unchanged" if self.unchanged is not None else "")
            + (f", {len(self.skipped)} skipped" if self.skipped else "")
            + f" in {self.seconds:.2f}s"
            + (f": {named}" if named else "")
            + (f" and {more} more" if more > 0 else "")
        )


class Watcher:
    """Keeps ``index`` equal to a fresh `search index PATHS` as the files below ``paths`` change.

    Its index opens SQLite in the thread that first uses it: use one thread, or close the index
    in the first before another thread takes over.
    """

    def __init__(
        self,
        index: SearchIndex,
        paths: Sequence[str | os.PathLike[str]],
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        default_excludes: bool = True,
        debounce_ms: int = DEBOUNCE_MS,
        step_ms: int = STEP_MS,
        on_wait: Callable[[], None] | None = None,
        progress: Callable[[], AbstractContextManager[Progress | None]] | None = None,
    ) -> None:
        """``progress``: a context for each batch, giving what to tell of its work (a bar that
        shows once a batch takes long) or None."""
        if not paths:
            raise BadInputError("give at least one file or folder to watch")
        refuse_empty(paths)
        if debounce_ms < step_ms or step_ms < 1:
            raise BadInputError(
                f"--debounce ({debounce_ms} ms) must be at least the step ({step_ms} ms)"
            )
        self.index = index
        self.roots = [absolute(p) for p in paths]
        for raw, root in zip(paths, self.roots):
            if not root.exists():
                raise not_there(raw)
        # Folders as given: one deleted later is still watched for, not taken for a file.
        self._folder_roots = frozenset(root for root in self.roots if root.is_dir())
        self.include, self.exclude = tuple(include), tuple(exclude)
        self.default_excludes = default_excludes  # False: --no-default-excludes, as index takes
        self.debounce_ms, self.step_ms = debounce_ms, step_ms
        self.on_wait = on_wait
        self.busy = False  # applying a batch of changes (``follow``)
        self._stop: threading.Event | None = None  # ``follow``'s, while it runs
        # What the batch under way had committed when ``follow`` was told to stop in it.
        self.stopped_in: IndexReport | None = None
        self._progress_of_batches = progress or (lambda: nullcontext(None))
        self._progress: Progress | None = None  # the batch under way's
        self._index_dir = str(index.index_dir.absolute())
        # Skips said so far (path, reason): a catch-up run tells only new ones (a file whose
        # name is not UTF-8 ends the OS watch; its catch-up was the only batch to tell it).
        self._skips_told: set[tuple[str, str]] = set()
        # The folders the last walk entered (``_wanted``), each with which folder it is
        # (``_identity``): the OS watches those alone.
        self._walked_folders: dict[str, tuple[int, int] | None] = {}
        self._limit_told = False  # the OS's limit on watches, said once (``_follow``)
        self._walk_fresh = False  # ``_walked_folders`` are what is on disk now (``_follow``)
        self._walks = 0  # walks that set ``_walked_folders``: ``_follow`` compares after one
        # The last walk's files and unreadable places, kept up to date by batches of files
        # (``_files_plan``); its links, found when a batch first needs them.
        self._last_walk: tuple[set[str], list[tuple[str, str]]] | None = None
        self._walk_skips: list[tuple[str, str]] = []  # what the last walk skipped, and why
        self._walk_links: set[str] | None = None

    def index_all(
        self,
        progress: Progress | None = None,
        roots: Sequence[Path] | None = None,
        *,
        stop: threading.Event | None = None,
    ) -> BatchReport:
        """Index the watched paths (or ``roots`` of them) as `search index PATHS` does; ``stop``
        (else ``follow``'s) stops it where it next commits (``IndexInterrupted``)."""
        try:
            report = self.index.add(
                self.roots if roots is None else roots,
                include=self.include,
                exclude=self.exclude,
                default_excludes=self.default_excludes,
                on_wait=self.on_wait,
                progress=progress or self._progress,
                stop=stop or self._stop,
            )
        finally:
            # The watch then waits: what embedding freed goes back to the system (729 MB
            # resident idle after 800 abstracts, 426 MB so), as after each batch.
            release_freed_memory()
        skipped = [skip for skip in report.skipped if not _vanished(skip)]
        self._skips_told.update(skipped)
        return BatchReport(
            report.added,
            report.updated,
            report.removed,
            skipped,
            report.seconds,
            # Named, as a batch's line names its files (a catch-up's named none).
            paths=list(report.changed),
            unchanged=report.unchanged,
        )

    def follow(
        self,
        stop: threading.Event,
        on_batch: Callable[[BatchReport], None] | None = None,
        on_note: Callable[[str], None] | None = None,
    ) -> int:
        """Apply changes as they come until ``stop`` is set; returns the batches applied.

        A batch under way when ``stop`` is set stops where its last window of chunks was
        committed (``stopped_in`` then tells what it had committed; the rest is indexed when a
        watch or `search index` runs again): a batch of a `git checkout` took minutes to
        finish, past what a service manager waits before it kills. Once the OS watch is set
        up, the paths are indexed once more, as ``index_all`` does: what changed while they were
        first indexed (before anything watched them) is caught up with.

        The OS watch of a folder ends with the folder: when a watched folder is deleted or
        replaced (``rm -r notes; mkdir notes``), ``on_note`` hears of it, the watch is set up
        again on the folders there are, and again when the folder is back (looked for every
        ``CATCH_UP_AFTER_MS``), each time with the catch-up run.
        """
        self._stop, self.stopped_in = stop, None
        try:
            return self._follow_all(stop, on_batch, on_note)
        finally:
            self._stop = None

    def _follow_all(
        self,
        stop: threading.Event,
        on_batch: Callable[[BatchReport], None] | None,
        on_note: Callable[[str], None] | None,
    ) -> int:
        batches = 0
        folders = {folder: _identity(folder) for folder in self._watched_folders()}
        gone = {folder: None for folder, identity in folders.items() if identity is None}
        if gone and on_note is not None:  # gone since the watcher was made: said as later
            on_note(_moved_note(dict.fromkeys(gone, (0, 0)), gone))
        if not any(folders.values()):  # gone already: ``_follow``'s catch-up will not run
            batches += self._batch(self._catch_up, on_batch)
        while not stop.is_set():
            if any(folders.values()):
                batches += self._follow(stop, folders, on_batch, on_note)
            else:
                stop.wait(CATCH_UP_AFTER_MS / 1000)  # none to watch until one comes back
                self._check_index_there()  # (its catch-up would make an empty one anew)
            now = {folder: _identity(folder) for folder in folders}
            if now != folders:
                if on_note is not None:
                    on_note(_moved_note(folders, now))
                # A folder's last changes may have gone with its OS watch.
                batches += self._batch(self._catch_up, on_batch)
            folders = now
        return batches

    def _follow(
        self,
        stop: threading.Event,
        folders: dict[str, tuple[int, int] | None],
        on_batch: Callable[[BatchReport], None] | None,
        on_note: Callable[[str], None] | None,
    ) -> int:
        """``follow`` while the watched folders are the ones in ``folders`` (by identity), and
        the folders below them that the walk enters are the ones it entered when it began."""
        batches = 0
        caught_up = False
        watched = self._os_watched(folders)
        compared = self._walks
        if on_note is not None and not self._limit_told:
            note = _past_watch_limit(len(watched.folders))
            if note is not None:
                self._limit_told = True
                on_note(note)
        next_check = time.monotonic() + INDEX_CHECK_S
        for changes in self._changes(stop, folders, watched):
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + INDEX_CHECK_S
                self._check_index_there()
            if not caught_up:
                caught_up = True
                batches += self._batch(self._catch_up, on_batch)
                if self._folder_roots:
                    self._wanted()  # folders made before the OS watch was set up
            if changes:
                paths = [Path(path) for _, path in changes]
                batches += self._batch(functools.partial(self.apply, paths), on_batch)
            if any(_identity(folder) != was for folder, was in folders.items()):
                break  # a folder went, came back or was replaced: watch what is there now
            if self._walks == compared:  # no walk since: the folders are as watched
                continue
            compared = self._walks  # (compared every 50 ms, 20,000 folders took 12% of a core)
            if PER_FOLDER and self._folder_roots and self._walked_folders != watched.walked:
                # A folder made, moved, or let in by an ignore file: watch it too. Or one
                # deleted and made again, or two swapped (a `git checkout`): its OS watch went
                # with the old folder, or follows it under the other's name.
                self._walk_fresh = True  # the batch's walk: the next watch takes its folders
                break
        return batches

    def _check_index_there(self) -> None:
        """Raise ``IndexNotFoundError`` when the index folder was deleted: the watch (and
        `serve --watch`, answering 503 meanwhile) went on until a file changed, hours later
        maybe, before it stopped with status 2 for a service manager to see."""
        if not self.index.exists():
            named = index_dir_option(self.index.index_dir)
            raise IndexNotFoundError(
                f"no index at {self.index.index_dir} (deleted while watching); run "
                f"`search index PATH{named}` to create one"
            )

    def _os_watched(self, folders: dict[str, tuple[int, int] | None]) -> _Watched:
        """What the OS watches: each of ``folders`` there is (a watched file's folder, a
        watched folder), and every folder below a watched folder that the walk enters. Not
        the trees it leaves out: watching a project watched all of its `node_modules` (21,000
        folders for 5 notes), and past the OS's limit on watches (`fs.inotify.max_user_watches`)
        the folders left over went unwatched without a word."""
        walked: dict[str, tuple[int, int] | None] = {}
        there = {folder for folder, identity in folders.items() if identity}
        if not PER_FOLDER:  # the OS watches a folder's tree as one
            return _Watched(sorted(there), walked)
        if self._folder_roots:
            if not self._walk_fresh:
                self._wanted()
            self._walk_fresh = False
            walked = self._walked_folders
        return _Watched(sorted(there | walked.keys()), walked)

    def _batch(
        self,
        run: Callable[[], BatchReport | None],
        on_batch: Callable[[BatchReport], None] | None,
    ) -> int:
        """Run one batch (``busy`` meanwhile, for Ctrl-C's message); 1 when it changed the
        index (``on_batch`` hears of it), else 0."""
        self._check_index_there()  # `index.add` would make an empty one where it was
        self.busy = True
        try:
            with self._progress_of_batches() as self._progress:
                report = run()
        except IndexInterrupted as stopped:
            if not stopped.asked:
                raise  # Ctrl-C itself, not the stop asked for
            self.stopped_in = stopped.report
            return 0
        finally:
            self.busy, self._progress = False, None
            release_freed_memory()
        if report is None or not report.changed:
            return 0  # files touched, not changed (a git checkout's): nothing to tell
        self._skips_told.update(report.skipped)
        if on_batch is not None:
            on_batch(report)
        return 1

    def _changes(
        self,
        stop: threading.Event,
        folders: dict[str, tuple[int, int] | None],
        watched: _Watched,
    ) -> Iterator[set[tuple[object, str]]]:
        """``watchfiles.watch`` of the ``watched`` folders, each alone; it ends, where it
        raised, when one of them went while the OS watch was set up."""
        import watchfiles

        try:
            yield from watchfiles.watch(
                *watched.folders,
                watch_filter=self._relevant,
                debounce=self.debounce_ms,
                step=self.step_ms,
                stop_event=stop,  # looked at every step
                raise_interrupt=False,
                # A folder this user cannot read ended the watch (`search index` reports it as
                # unreadable and goes on; each batch's walk names it).
                ignore_permission_denied=True,
                # Each folder alone (``_os_watched``) where the OS watches folders one by one;
                # a watched file's folder, not the tree below it, everywhere (`search watch
                # ~/todo.txt` watched every folder of the home folder).
                recursive=not PER_FOLDER and bool(self._folder_roots),
                rust_timeout=CATCH_UP_AFTER_MS,
                yield_on_timeout=True,  # the first yield says the watch is set up
            )
        except FileNotFoundError:
            if all(_identity(folder) == was for folder, was in folders.items()) and all(
                _identity(folder) == was for folder, was in watched.walked.items()
            ):
                raise
        except RuntimeError as exc:  # watchfiles' own error, from its thread
            # A file name that is not UTF-8 (`lat\xe9.md`) ended the watch ("Unable to decode
            # path"): `search watch` died with a traceback, `serve --watch` stopped following.
            # Its batch went with it: the watch is set up again, and caught up with.
            if "decode path" not in str(exc):
                raise
            logger.info("a changed file's name is not UTF-8 (%s): watching again", exc)

    def _catch_up(self) -> BatchReport | None:
        """``index_all`` for the watched paths there are; a missing one's documents are
        removed (it may have gone while no watch was set up). None when nothing changed."""
        started = time.perf_counter()
        present = [root for root in self.roots if root.exists()]
        report, told = BatchReport(), set(self._skips_told)
        try:
            if present:
                report = self.index_all(roots=present)
                report.skipped = [skip for skip in report.skipped if skip not in told]
        except BadInputError:  # "no such file or folder": one went since; ``_follow`` sees it
            if all(root.exists() for root in present):
                raise
        gone = [root for root in self.roots if not root.exists()]
        stale = [path for path in self.index.store.all_paths() if self._under(path, gone)]
        if stale:
            report.removed += self.index.remove(stale, literal=True, keep_roots=True)
        if not report.changed:
            return None
        report.seconds = time.perf_counter() - started
        report.unchanged = None  # a batch's line: what changed alone
        return report

    def apply(self, changed: Iterable[Path]) -> BatchReport | None:
        """Bring the index up to date after ``changed`` paths changed; None when nothing did."""
        changed = {Path(p) for p in changed}
        started = time.perf_counter()
        for attempt in range(1, ATTEMPTS + 1):
            try:
                report = self._apply(changed)
                break
            except BadInputError as exc:  # a file of the batch vanished while it was read
                if attempt == ATTEMPTS:
                    raise
                logger.debug("trying the batch again: %s", exc)
        if report is None:
            return None
        report.seconds = time.perf_counter() - started
        return report

    def _apply(self, changed: set[Path]) -> BatchReport | None:
        plan = self._files_plan(changed)
        if plan is None:
            plan = self._walk_plan(changed)
        to_add, to_remove, unread = plan
        # Told with the batch, as index tells them; once (a folder that cannot be read was
        # told again with every batch after; a link to a file outside the root, alone in its
        # batch, was told by a later one that had nothing to do with it).
        skipped = [skip for skip in unread if skip not in self._skips_told]
        if not to_add and not to_remove and not skipped:
            return None
        report = BatchReport(skipped=skipped)
        # A file that became a folder (`git checkout`) is removed first: removed as a path and
        # all below it, it took the folder's files just added with it. The rest go after the
        # additions, which take their vectors (a renamed file of 26,000 passages embedded 6,000
        # of them again, once removed first: past what the removed chunks' digests keep). The
        # watched roots stay recorded, gone or not: the watch waits for them (a file an editor
        # deletes and writes again was no longer a root for a bare `search index`).
        folders = {str(parent) for p in to_add for parent in Path(p).parents}
        first = to_remove & folders  # one set, not every addition against every removal
        if first:
            report.removed += self.index.remove(sorted(first), literal=True, keep_roots=True)
        if to_add:
            started_ns = time.time_ns()
            self._add(sorted(to_add), report)
            racy = self._stale(sorted(to_add), modified_since_ns=started_ns - RACY_NS)
            if racy:  # rewritten within the clock tick it was read in: read it again
                self.index.remove(racy, literal=True, keep_roots=True)
                again = self.index.add(
                    racy,
                    on_wait=self.on_wait,
                    as_roots=False,
                    default_excludes=self.default_excludes,
                    named=self._named_files(),
                )
                report.updated += again.added
                report.paths += [path for path in again.changed if path not in report.paths]
        if to_remove - first:
            rest = sorted(to_remove - first)
            report.removed += self.index.remove(rest, literal=True, keep_roots=True)
        report.paths += sorted(to_remove)
        return report

    def _walk_plan(self, changed: set[Path]) -> tuple[set[str], set[str], list[tuple[str, str]]]:
        """What to add and remove after ``changed``, and the places that could not be read,
        from a walk of the roots (``_wanted``)."""
        wanted, unread = self._wanted()
        unlisted = unreadable_places(unread)
        indexed = {p for p in self.index.store.all_paths() if self._under_roots(p)}
        to_add = {str(p) for p in changed} & wanted
        # A link is indexed as a file of its own, but a change is seen at its target (inside
        # a root: ``discovery``): the link is read again with it.
        targets = {os.path.realpath(p) for p in changed}
        to_add |= {
            p for p in wanted - to_add if os.path.islink(p) and os.path.realpath(p) in targets
        }
        # A new folder, or an ignore file that changed: what it lets in below its folder (only
        # there: every file skipped anywhere, a scanned PDF each, was read again at each mkdir).
        places = [
            str(p if p.name not in IGNORE_FILES else p.parent)
            for p in changed
            if p.name in IGNORE_FILES or p.is_dir()
        ]
        if places:
            to_add |= {p for p in wanted - indexed if any(_under_or_at(p, at) for at in places)}
        # What the walk skipped among the changed files or in those places (a link to a file
        # outside the root, a secrets file): told with this batch, as `search index` tells it.
        changed_paths = {str(p) for p in changed}
        skips = [
            (path, why)
            for path, why in self._walk_skips
            if path in changed_paths or any(_under_or_at(path, at) for at in places)
        ]
        # As `search index ROOTS` removes: what the roots no longer hold, but not what only the
        # filters leave out, what a root indexed on its own inside them holds, or what lies
        # where they could not be read.
        nested = self._nested_roots()
        unwanted = indexed - wanted
        if unwanted and (self.include or self.exclude):  # a second walk, only when it matters
            unwanted -= self._walked()
        to_remove = {
            p
            for p in unwanted
            if not any(_under_or_at(p, u) for u in unlisted)
            and not (any(_under_or_at(p, r) for r in nested) and os.path.exists(p))
        }
        return to_add, to_remove, unread + skips

    def _files_plan(
        self, changed: set[Path]
    ) -> tuple[set[str], set[str], list[tuple[str, str]]] | None:
        """``_walk_plan`` for a batch of files alone (a save, a new note, a deletion), each
        judged by a walk toward it (``walk_reaches``), not of the whole tree: every save in a
        watched tree of 20,000 files walked all of it, ~1 s, and 100,000 files ~5 s. None (walk
        the tree) for a batch with a folder, an ignore file or a root in it, a folder the last
        walk entered (deleted or replaced), more than ``QUICK_PATHS`` paths, or before any
        walk."""
        if self._last_walk is None or len(changed) > QUICK_PATHS:
            return None
        wanted_before, unread = self._last_walk
        roots = {str(root) for root in self.roots}
        paths = {str(p) for p in changed}
        store = self.index.store
        for path in paths:
            if (
                path in roots
                or os.path.basename(path) in IGNORE_FILES
                or path in self._walked_folders
                or os.path.isdir(path)
                # A folder deleted or replaced that the walk did not enter (--exclude 'sub/'),
                # with what another run indexed in it.
                or store.holds_paths_under(path)
            ):
                return None
        paths = {p for p in paths if self._under_roots(p) and not self._in_index_folder(p)}
        # A link is judged again with the file it points to (``_walk_plan``): it may now point
        # outside the roots, or nowhere.
        targets = {os.path.realpath(p) for p in paths}
        links = self._links()
        paths |= {p for p in links if os.path.realpath(p) in targets}
        indexed = set(store.file_states(sorted(paths)))
        skips: list[tuple[str, str]] = []  # as the walk's: told with the batch, as by `index`
        wanted = {
            p
            for p in paths
            if os.path.lexists(p)
            and self._reaches(
                p, self.include, self.exclude, lambda at, why: skips.append((str(at), why))
            )
        }
        to_add = wanted
        unlisted = unreadable_places(unread)
        nested = self._nested_roots()
        to_remove = {
            p
            for p in indexed - wanted
            if not any(_under_or_at(p, u) for u in unlisted)
            and not (
                os.path.lexists(p)
                and (
                    any(_under_or_at(p, r) for r in nested)
                    # What only --include/--exclude leave out is kept, as by `search index`.
                    or ((self.include or self.exclude) and self._reaches(p, (), ()))
                )
            )
        }
        gone = paths - wanted  # deleted, or left out now
        wanted_before -= gone  # the walk's files as they are now, for the next batch
        wanted_before |= wanted
        links -= gone
        links |= {p for p in wanted if os.path.islink(p)}
        return to_add, to_remove, [skip for skip in skips if skip[0] in paths]

    def _reaches(
        self,
        path: str,
        include: Sequence[str],
        exclude: Sequence[str],
        on_skip: Callable[[Path, str], None] | None = None,
    ) -> bool:
        """Whether the walk of any root with these filters yields ``path`` (``walk_reaches``):
        `search watch notes notes/node_modules/pkg` takes pkg's files, which notes' walk
        leaves out."""
        return any(
            str(root) == path
            or (
                root in self._folder_roots
                and _under(path, str(root))
                and walk_reaches(
                    root,
                    Path(path),
                    include=include,
                    exclude=exclude,
                    default_excludes=self.default_excludes,
                    on_skip=on_skip,
                )
            )
            for root in self.roots
        )

    def _links(self) -> set[str]:
        """The links among the last walk's files, found when a batch first needs them, then
        kept up to date by ``_files_plan``."""
        if self._walk_links is None:
            wanted = self._last_walk[0] if self._last_walk is not None else set()
            self._walk_links = {p for p in wanted if os.path.islink(p)}
        return self._walk_links

    def _named_files(self) -> list[str]:
        """The files this watch was named to watch: their text is not judged, as `search index`
        of them does not (a bundle named to `search watch` went at its first change)."""
        return [str(root) for root in self.roots if root.is_file()]

    def _add(self, paths: list[str], report: BatchReport) -> None:
        """Index ``paths``, less those that went since the walk (a build's temporary files:
        its batches failed, "no such file or folder", until `search watch` ended with it).
        Their deletion is a change of its own, applied by the next batch."""
        while True:
            try:
                result = self.index.add(
                    paths,
                    on_wait=self.on_wait,
                    as_roots=False,
                    progress=self._progress,
                    default_excludes=self.default_excludes,
                    stop=self._stop,
                    named=self._named_files(),
                )
                break
            except BadInputError:
                there = [path for path in paths if os.path.lexists(path)]
                if len(there) == len(paths):
                    raise
                if not there:
                    return
                paths = there
        report.added += result.added
        report.updated += result.updated
        report.removed += result.removed
        # A file that went before it was read is no skip: its removal is its own change.
        report.skipped += [  # told once: a bundle rebuilt is skipped with each rebuild
            skip for skip in result.skipped if not _vanished(skip) and skip not in self._skips_told
        ]
        report.paths += result.changed

    def _wanted(self) -> tuple[set[str], list[tuple[str, str]]]:
        """The files `search index ROOTS` would index now (discovery's rules, ignore files,
        --include and --exclude), and the places it could not read, with why
        (``unreadable_places``: what is indexed there stays)."""
        roots = [root for root in self.roots if root.exists()]
        if not roots:
            self._walked_folders, self._walk_skips = {}, []
            self._walks += 1
            return set(), []
        skipped: list[tuple[Path, str]] = []
        folders: set[str] = set()
        found = iter_files(
            roots,
            include=self.include,
            exclude=self.exclude,
            default_excludes=self.default_excludes,
            on_skip=lambda path, reason: skipped.append((path, reason)),
            on_folder=folders.add,
        )
        try:
            wanted = {str(path) for path in found if not self._in_index_folder(str(path))}
        except BadInputError:
            if all(root.exists() for root in roots):
                raise
            # A root deleted between the look and the walk (`rm -r docs` under load): the
            # watch's thread ended with "no such file or folder". Walked again without it.
            return self._wanted()
        self._walked_folders = {
            folder: _identity(folder)
            for folder in folders
            if not self._in_index_folder(folder) and _utf8(folder)
        }
        self._walks += 1
        unread = [(str(p), why) for p, why in skipped if is_read_error(why)]
        self._walk_skips = [(str(p), why) for p, why in skipped if not is_read_error(why)]
        self._last_walk, self._walk_links = (wanted, unread), None
        return wanted, unread

    def _walked(self) -> set[str]:
        """The files the roots hold without --include/--exclude: what another run's filters
        indexed is kept, as `search index` keeps it."""
        roots = [r for r in self.roots if r.exists()]
        return {str(path) for path in iter_files(roots, default_excludes=self.default_excludes)}

    def _nested_roots(self) -> list[str]:
        """Roots indexed on their own inside the watched ones (`search index A/node_modules`)."""
        roots = {str(root) for root in self.roots}
        return [r for r in under(recorded_roots(self.index.store), self.roots) if r not in roots]

    def _stale(self, paths: list[str], *, modified_since_ns: int) -> list[str]:
        """Indexed files whose size and modification time are the stored ones, but not their
        content: written again within the clock tick in which they were read, so the indexer
        took them for unchanged (git calls them "racily clean")."""
        from searchapp.ingest.decoding import content_digest

        stale = []
        for path in paths:
            rows = self.index.store.rows(
                "SELECT size, mtime_ns, sha256 FROM documents WHERE path = ? LIMIT 1", (path,)
            )
            if not rows or rows[0][2] is None:
                continue  # not indexed (skipped), or not completely
            size, mtime_ns, sha256 = rows[0]
            try:
                info = os.stat(path)
                if (info.st_size, info.st_mtime_ns) != (size, mtime_ns):
                    continue  # changed again since: its own event brings it back
                if info.st_mtime_ns < modified_since_ns:
                    continue  # too old to have been rewritten unnoticed
                if content_digest(Path(path)) != sha256:
                    stale.append(path)
            except (OSError, SearchAppError):  # vanished or unreadable: the next batch sees it
                continue
        return stale

    def _watched_folders(self) -> list[str]:
        """Folders to watch: a watched file's folder (an editor's save replaces the file)."""
        folders = {str(root if root in self._folder_roots else root.parent) for root in self.roots}
        return sorted(folders)

    def _relevant(self, change: object, path: str) -> bool:
        """Whether a change can matter: below a root, not in the index folder, not inside a
        hidden or tool folder that discovery never enters (an ignore file is relevant)."""
        if self._in_index_folder(path):
            return False
        for root in self.roots:  # any of them: `watch notes notes/node_modules/pkg` takes pkg's
            root_text = str(root)
            if path == root_text:
                return True
            if root in self._folder_roots and _under(path, root_text):
                parts = Path(path).relative_to(root).parts
                if any(p.startswith(".") or p in SKIPPED_FOLDERS for p in parts[:-1]):
                    continue
                if not is_hidden(parts[-1]) or parts[-1] in IGNORE_FILES:
                    return True
        return False

    def _in_index_folder(self, path: str) -> bool:
        """Whether ``path`` is the index's: anything in its folder, or where that folder is a
        root (`search watch notes --index-dir notes`), its own files alone, as discovery
        leaves them out: every edit to such notes was ignored."""
        if not _under(path, self._index_dir):
            return False
        if not any(str(root) == self._index_dir for root in self._folder_roots):
            return True
        return os.path.dirname(path) == self._index_dir and (
            os.path.basename(path) in INDEX_OWN_FILES
        )

    def _under_roots(self, path: str) -> bool:
        return self._under(path, self.roots)

    @staticmethod
    def _under(path: str, roots: Sequence[Path]) -> bool:
        return any(_under(path, str(root)) or path == str(root) for root in roots)


# How long the OS watch waits for a first change before the catch-up run (``follow``); the
# idle loop turns this often afterwards (a wake-up every 50 ms costs nothing measurable).
CATCH_UP_AFTER_MS = 50
# How often an idle watch looks whether its index folder is still there.
INDEX_CHECK_S = 1.0


def _utf8(name: str) -> bool:
    """Whether ``name`` is valid UTF-8: a folder's name that is not (``lat\udce9``) cannot be
    given to the OS watch (its error ended `search watch`), and nothing below it is indexed
    (each file is skipped: its name is not UTF-8)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _vanished(skip: tuple[str, str]) -> bool:
    """Whether a skip is of a file that went before it was read (``reading.FileReader``)."""
    return skip[1].startswith("vanished")


class _Watched(NamedTuple):
    """The folders the OS watches, each alone, and which of them a walk entered."""

    folders: list[str]
    walked: dict[str, tuple[int, int] | None]  # by ``_identity``


# Linux's inotify watches folders one by one, each a watch of the user's limited number: there
# a watched folder's tree is watched folder by folder, less the trees the walk leaves out. macOS's
# FSEvents and Windows watch a tree as one, as watchfiles asks them to.
PER_FOLDER = sys.platform.startswith("linux")
# The OS's limits on a user's watches (Linux), by the setting that sets each: the system's, and
# a user namespace's (a container's), which may be lower.
INOTIFY_LIMITS = {
    "/proc/sys/fs/inotify/max_user_watches": "fs.inotify.max_user_watches",
    "/proc/sys/user/max_inotify_watches": "user.max_inotify_watches",
}


def _past_watch_limit(folders: int) -> str | None:
    """What to say when watching ``folders`` passes the OS's limit on watches (Linux alone
    tells it); None within it. Watches other processes hold count too: not known here."""
    limits = []
    for path, setting in INOTIFY_LIMITS.items():
        try:
            with open(path, encoding="ascii") as file:
                limits.append((int(file.read()), setting))
        except (OSError, ValueError):
            continue
    if not limits or folders <= min(limits)[0]:
        return None
    limit, setting = min(limits)
    return (
        f"{folders:,} folders to watch, past the {limit:,} watches the OS allows a user "
        f"({setting}): changes in some are missed until `search index`; "
        f"raise the limit (sudo sysctl {setting}={2 * folders}) or watch less"
    )


def _identity(folder: str) -> tuple[int, int] | None:
    """Which folder is at ``folder`` now (device and inode), or None when none is."""
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None


def _moved_note(
    before: dict[str, tuple[int, int] | None], now: dict[str, tuple[int, int] | None]
) -> str:
    """What happened to the watched folders between ``before`` and ``now`` (``follow``)."""
    from searchapp.interfaces.render import display_path

    notes = []
    for folder, was in before.items():
        shown = display_path(folder)
        if now[folder] == was:
            continue
        if now[folder] is None:
            notes.append(f"{shown} is gone: watching for it to come back")
        elif was is None:
            notes.append(f"{shown} is back: watching it again")
        else:
            notes.append(f"{shown} was replaced: watching the new one")
    return "; ".join(notes)


def _under(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def _under_or_at(path: str, place: Path) -> bool:
    return path == str(place) or _under(path, str(place))


@contextmanager
def stop_on_interrupt(
    stop: threading.Event, on_first: Callable[[], None] | None = None
) -> Iterator[None]:
    """The first Ctrl-C sets ``stop`` (the batch under way stops at its next commit) and calls
    ``on_first``; a second one raises ``KeyboardInterrupt`` (``StopRequest``). Only the main
    thread can install the handler."""
    previous = signal.signal(signal.SIGINT, StopRequest(stop, on_first))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def watch(watcher: Watcher, err: Console, *, verbose: bool = False) -> int:
    """`search watch`: index, then apply each batch of changes with one line on stderr (and its
    skipped files: each with ``verbose``, else counted by reason), until Ctrl-C. Returns the exit
    status (130 after Ctrl-C, what was written committed)."""
    from searchapp.interfaces.cli_app import print_skipped
    from searchapp.interfaces.progress import progress_for

    with progress_for(err) as progress:  # Ctrl-C here stops like `search index`
        report = watcher.index_all(progress)
    print_skipped(err, report.skipped, verbose=verbose)
    report.paths = []  # the first index of a folder: no files named, as `search index`
    err.print(f"indexed: {report.summary()}; watching for changes (Ctrl-C to stop)")

    def on_batch(batch: BatchReport) -> None:
        if not worth_a_line(batch, verbose=verbose):
            return
        now = time.strftime("%H:%M:%S")
        print_skipped(err, batch.skipped, verbose=verbose, prefix=f"{now} ")
        err.print(f"{now} {batch.summary()}")

    stop = threading.Event()
    with stop_on_interrupt(stop, on_first=lambda: _say_stopping(watcher)):
        try:
            batches = watcher.follow(
                stop,
                on_batch,
                lambda note: err.print(f"{time.strftime('%H:%M:%S')} {note}"),
            )
        except KeyboardInterrupt:  # a second Ctrl-C between the batch's writes
            err.print(
                "interrupted: the batch of changes under way stopped between its writes; "
                "`search watch` brings the index up to date when it starts again"
            )
            state["interrupt_said"] = True
            return 130
    err.print(stopped_line(watcher, batches))
    return 130


def worth_a_line(batch: BatchReport, *, verbose: bool = False) -> bool:
    """Whether a batch is told: not one of binary files alone (an image pasted into a notes
    folder, a build's object files: two lines a paste, "0 added, 0 updated, 0 removed, 1
    skipped"), unless ``verbose``; their skips are left out of a batch that changed nothing."""
    if verbose or batch.added or batch.updated or batch.removed:
        return True
    batch.skipped = [skip for skip in batch.skipped if skip[1] != BINARY_FILE]
    return bool(batch.skipped)


def stopped_line(watcher: Watcher, batches: int | None = None) -> str:
    """The last line of a watch told to stop: the batches it applied (``batches``; None for
    `serve --watch`, which told each), and what the one under way had committed if it stopped
    in one (the rest waits for the next run)."""
    report = watcher.stopped_in
    if batches is None:
        done = "stopped" if report else "stopped, every batch of changes committed"
    else:
        done = f"stopped after {counted(batches, 'batch')} of changes"
        done += "" if report else ", all committed"
    if report is None:
        return done
    return (
        f"{done}{' and' if batches is not None else ''} part way through "
        f"{'another' if batches is not None else 'a batch of changes'}: "
        f"of it {committed_chunks(report)} "
        f"({counted(report.added + report.updated, 'file')} complete); "
        + ("`search serve --watch`, " if batches is None else "")
        + "`search watch` or `search index` indexes the rest"
    )


def _say_stopping(watcher: Watcher) -> None:
    """The first Ctrl-C's line while a batch is under way. From the signal handler: if the
    console was writing to ``sys.stderr`` at that moment, a second write raises (reentrant
    call), and the line goes to file descriptor 2 directly."""
    if not watcher.busy:
        return
    line = "stopping where the batch of changes under way next commits (Ctrl-C again to stop now)\n"
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    except (RuntimeError, OSError, ValueError):
        os.write(2, line.encode())
