"""`search index`, `search remove` and `search watch`: the commands that write the index."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from searchapp.errors import IndexInterrupted, SearchAppError
from searchapp.interfaces.cli_app import (
    EXIT_INTERRUPTED,
    EXIT_NOTHING_FOUND,
    EXIT_UNREADABLE,
    Device,
    Exclude,
    Include,
    IndexDir,
    NoDefaultExcludes,
    app,
    err,
    one_line,
    print_skipped,
    state,
    stop_cause,
)

if TYPE_CHECKING:
    from searchapp.encoding import EmbeddingBackend
    from searchapp.ingest.pipeline import IndexReport, Progress
    from searchapp.search_index import SearchIndex
    from searchapp.storage.indexed_paths import Filters


@app.command()
def index(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[PATH]...",
            help="Files and folders to index; none: those indexed before (`search info`), "
            "each with the --include/--exclude it was indexed with unless new ones are given.",
            show_default=False,
        ),
    ] = None,
    index_dir: IndexDir = None,
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Only files matching this glob.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Skip files matching this glob.")
    ] = None,
    no_default_excludes: NoDefaultExcludes = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Start the index over.")] = False,
    model: Annotated[
        str | None, typer.Option("--model", help="Model name or folder (new index only).")
    ] = None,
    device: Device = "auto",
    precision: Annotated[
        Literal["auto", "fp32", "bf16", "fp16"] | None,
        typer.Option(
            "--precision",
            help="auto: bf16 where the CPU or GPU computes it natively, else fp32 "
            "(default: the index's own; auto for a new one).",
            show_default=False,
        ),
    ] = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Fail at once if another index run holds the lock.")
    ] = False,
    index_type: Annotated[
        Literal["auto", "flat", "ivf", "hnsw"] | None,
        typer.Option(
            "--index-type",
            help="Vector index: flat (exact), ivf, hnsw, or auto (flat for small indexes, ivf "
            "for large ones). Default: what the index has, auto for a new one.",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress and no summary; errors only.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="List every skipped file with its reason (not those --include, --exclude or "
            "an ignore file leave out).",
        ),
    ] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Embed on a Ray cluster: local (start one on this machine), auto, HOST:PORT or "
            "ray://HOST:PORT. Needs pip install 'searchapp[ray]'.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Index files and folders (incrementally: only changed passages are embedded again); with no
    PATH, update those indexed before.

    Documents whose files are gone, or that ignore files now exclude, are removed; those that
    only this run's --include/--exclude leave out are kept (`search remove` drops them).
    """
    from searchapp.ingest.discovery import is_read_error
    from searchapp.interfaces.progress import progress_for
    from searchapp.interfaces.render import counted, display_path, interrupted_line
    from searchapp.search_index import SearchIndex
    from searchapp.storage.indexed_paths import Filters

    search_index = SearchIndex(index_dir, model=model, device=device, precision=precision)
    given = Filters(tuple(include or ()), tuple(exclude or ()), not no_default_excludes)
    rebuild = rebuild and search_index.exists()  # a new index is built as it is anyway
    replaced = _documents_in(search_index) if rebuild else None
    rebuilt: int | None = None
    runs = (
        [(paths, given)]
        if paths
        else _update_runs(search_index, given, quiet=quiet, rebuild=rebuild)
    )
    if paths and not quiet and not rebuild:
        for note in root_notes(search_index, paths, given):
            err.print(note)
    state["closed_for_exit"] = True  # closed below, before the command returns (cli.main)
    unreadable: list[tuple[str, str]] = []
    nothing_taken = False  # files named, each skipped: `search index scan.pdf` indexed nothing
    on_wait = None if quiet else _say_waiting
    try:
        with (
            closing(search_index),
            _ray_embedder(ray) as embedder,
            progress_for(err, enabled=not quiet) as progress,
            # --rebuild: every run adds to one new index, swapped in once all are done.
            search_index.rebuilding(wait=not no_wait, on_wait=on_wait)
            if rebuild
            else nullcontext(search_index) as target,
        ):
            for run_paths, filters in runs:
                told = _telling_heavy_files(progress, run_paths)
                if not paths and not quiet:
                    shown = ", ".join(display_path(p) for p in run_paths)
                    described = filters.describe()
                    err.print(f"updating {shown}" + f" ({described})" * bool(described))
                report = target.add(
                    run_paths,
                    include=filters.include,
                    exclude=filters.exclude,
                    wait=not no_wait,
                    on_wait=on_wait,
                    progress=told,
                    index_type=index_type,
                    default_excludes=filters.default_excludes,
                    embedder=embedder,
                )
                if not quiet:
                    _print_report(report, verbose=verbose, roots=run_paths)
                unreadable += [(path, why) for path, why in report.skipped if is_read_error(why)]
                named = [os.path.abspath(p) for p in run_paths]
                skipped = {path for path, _ in report.skipped}
                if paths and all(os.path.isfile(p) and p in skipped for p in named):
                    nothing_taken = True
            rebuilt = target.store.count_documents() if rebuild else None
    except IndexInterrupted as stopped:
        if rebuild:
            err.print(
                f"interrupted by {stop_cause()}: the unfinished rebuild was deleted and the "
                "index is as it was before it (--rebuild starts over)"
            )
        else:
            err.print(interrupted_line(stopped.report, cause=stop_cause()))
        state["interrupt_said"] = True
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if rebuilt is not None and replaced is not None and not quiet:  # "removed" counts none
        err.print(
            f"the rebuilt index holds {counted(rebuilt, 'document')}; the index it replaced "
            f"held {replaced}"
        )
    if unreadable:  # as restic's 3: the run did its work, but not on everything it was given
        if quiet:  # errors, which -q still prints
            for path, why in unreadable:
                err.print(f"skipped {one_line(path)}: {one_line(why)}")  # as without -q
        raise typer.Exit(EXIT_UNREADABLE)
    if nothing_taken:  # as grep's 1 (a paralegal's trial: a scan named alone exited 0)
        raise typer.Exit(EXIT_NOTHING_FOUND)


def _documents_in(search_index: SearchIndex) -> int | None:
    """How many documents the index holds; None where it cannot be read (damaged)."""
    try:
        return search_index.store.count_documents()
    except SearchAppError:
        return None


def root_notes(search_index: SearchIndex, paths: Sequence[str], given: Filters) -> list[str]:
    """Notes on the roots given (`search index`, `search watch`, `serve --watch`): one indexed
    before that now gets other filters (a bare `search index` goes on with these, and what they
    leave out is kept but no longer updated), and one that is, through a link, a folder indexed
    under another path (its files are then indexed under both). Raises ``BadInputError`` for
    filters that cannot be read: no note says they will be used."""
    from searchapp.ingest.discovery import check_filters
    from searchapp.interfaces.render import display_path
    from searchapp.storage.indexed_paths import under
    from searchapp.storage.paths import absolute

    check_filters(given.include, given.exclude)
    try:
        roots = search_index.roots() if search_index.exists() else []
    except SearchAppError:  # a damaged index: the run itself says what to do
        return []
    before = {root["path"]: root["filters"] for root in roots}
    notes = []
    for raw in paths:
        old = before.get(str(absolute(raw)))
        if old is not None and old != given.describe():
            notes.append(
                f"note: {display_path(str(absolute(raw)))} was indexed with "
                f"{old or 'no filters'}; a bare `search index` now updates it with "
                f"{given.describe() or 'no filters'}"
            )
    # Named by a root that is no link first: "lies in ~/notes", not in another link to it.
    real = {root: os.path.realpath(root) for root in before}
    real = dict(sorted(real.items(), key=lambda item: item[0] != item[1]))
    for raw in paths:
        path = str(absolute(raw))
        at = os.path.realpath(path)
        if at == path:  # no link on the way: a link given before was told of then
            continue
        for root, root_at in real.items():
            if under([path], [root]) or under([root], [path]):
                continue  # the same names: not two paths to one folder
            if under([at], [root_at]):
                how = "is" if at == root_at else "lies in"
                notes.append(
                    f"note: {display_path(path)} {how} {display_path(root)} through a link: "
                    "its files are indexed under both paths (a hit names one, the other under "
                    f"`also`); `search remove {display_path(path)}` drops these"
                )
                break
    return notes


def _update_runs(
    search_index: SearchIndex, given: Filters, *, quiet: bool = False, rebuild: bool = False
) -> list[tuple[list[str], Filters]]:
    """What a bare `search index` walks: the roots indexed before, each with the filters it
    was last indexed with, or all with the ones given now. A root that is not on disk is left
    as it is, with a note: an unmounted drive is not a deleted folder. A file given by name
    that is gone from a folder still there is taken for deleted."""
    from searchapp.interfaces.render import counted, display_path
    from searchapp.storage.indexed_paths import Filters, recorded_file_roots

    groups = search_index.roots_by_filters()
    if not groups:
        done = "no file or folder left to update" if search_index.exists() else "nothing indexed"
        raise SearchAppError(
            f"{done} in {search_index.index_dir}; give the files or folders to index: "
            "search index PATH..."
        )
    counts = {root["path"]: root["documents"] for root in search_index.roots()}
    missing = [r for roots in groups.values() for r in roots if not os.path.exists(r)]
    indexed = set(search_index.store.all_paths()) if missing else set()
    # A file given by name whose folder is there was deleted, not unmounted: the run drops it,
    # one of no documents too (binary, given by name). A folder may be an unmounted drive's.
    files = recorded_file_roots(search_index.store) if missing else set()
    deleted = {
        r for r in missing if (r in indexed or r in files) and os.path.isdir(os.path.dirname(r))
    }
    if rebuild:  # a new index has nothing of them to drop
        missing, deleted = [r for r in missing if r not in deleted], set()
    for root in [r for r in missing if r not in deleted]:
        if rebuild:  # a new index has no documents to keep
            err.print(
                f"{display_path(root)} is not there (unmounted, moved or deleted?): "
                "the rebuilt index leaves it out"
            )
        elif not quiet and not counts.get(root):  # a folder of nothing indexed (scans)
            err.print(
                f"{display_path(root)} is not there (unmounted, moved or deleted?): nothing "
                f"was indexed under it; `search remove {display_path(root)}` forgets it"
            )
        elif not quiet:
            err.print(
                f"{display_path(root)} is not there (unmounted, moved or deleted?): "
                f"{counted(counts.get(root, 0), 'document')} kept; give its path to `search "
                f"index` or `search remove` to drop {'it' if counts.get(root) == 1 else 'them'}"
            )
    groups = {
        f: [r for r in roots if os.path.exists(r) or r in deleted] for f, roots in groups.items()
    }
    groups = {filters: roots for filters, roots in groups.items() if roots}
    if given != Filters():
        return [([root for roots in groups.values() for root in roots], given)]
    return [(roots, filters) for filters, roots in groups.items()]


def _print_report(report: IndexReport, *, verbose: bool, roots: Sequence[str] = ()) -> None:
    from searchapp.interfaces.render import counted, display_path

    print_skipped(err, report.skipped, verbose=verbose)
    if report.filtered_out and not report.found:
        err.print(
            f"warning: --include/--exclude left out all {counted(report.filtered_out, 'file')} "
            "under these paths; each glob is matched against the path below the folder given "
            "(in notes/, 'sub/*.md', not 'notes/sub/*.md')"
        )
    if report.outside_filters:
        one = report.outside_filters == 1
        err.print(
            f"{counted(report.outside_filters, 'indexed document')} under these paths "
            f"{'does' if one else 'do'} not match --include/--exclude: kept as "
            f"{'it was' if one else 'they were'}, not updated; `search remove PATH|GLOB` "
            f"removes {'it' if one else 'them'}"
        )
    heaviest = report.heaviest()
    if heaviest is not None:
        from searchapp.ingest.decoding import is_mailbox_file

        path, count = heaviest
        # a mailbox is the mail it holds: not one to leave out (a helper's Gmail export was)
        hint = "" if is_mailbox_file(Path(path)) else _ignore_hint(path, roots)
        err.print(
            f"note: {one_line(display_path(path))} gave {count:,} of the "
            f"{sum(report.stored.values()):,} chunks stored" + hint
        )
    err.print(
        f"{report.added} added, {report.updated} updated, {report.removed} removed, "
        f"{report.unchanged} unchanged, {len(report.skipped)} skipped; "
        f"{counted(report.chunks, 'chunk')} embedded"
        + (f", {report.reused} reused" if report.reused else "")
        + f" in {report.seconds:.1f}s"
    )


def _telling_heavy_files(progress: Progress | None, roots: Sequence[str]) -> Progress | None:
    """``progress``, telling before the work starts of a file that is most of it: a 20 MB log
    was an hour of a home folder's first index, and nothing said so until its end."""
    from searchapp.interfaces.progress import size_text
    from searchapp.interfaces.render import display_path

    if progress is None:
        return None

    def tell(path: str, size: int, total: int) -> None:
        err.print(
            f"note: {one_line(display_path(path))} is {size_text(size)} of the "
            f"{size_text(total)} this run reads and embeds" + _ignore_hint(path, roots)
        )

    return replace(progress, on_heavy=tell)


def _ignore_hint(path: str, roots: Sequence[str]) -> str:
    """How to leave ``path`` out: the line for the .searchignore of the folder indexed that
    holds it, anchored there (a bare name matched that name in every folder) and with glob
    characters escaped; "" for a file indexed by name."""
    from searchapp.interfaces.render import display_path
    from searchapp.storage.paths import absolute

    folders = [
        str(absolute(root))
        for root in roots
        if os.path.isdir(root) and path.startswith(str(absolute(root)).rstrip(os.sep) + os.sep)
    ]
    if not folders:
        return ""
    folder = max(folders, key=len)
    rule = "/" + re.sub(r"([\\*?\[])", r"\\\1", os.path.relpath(path, folder).replace(os.sep, "/"))
    where = display_path(os.path.join(folder, ".searchignore"))
    return f"; the line '{one_line(rule)}' in {one_line(where)} leaves it out"


@contextmanager
def _ray_embedder(address: str | None) -> Iterator[EmbeddingBackend | None]:
    """For `index --ray`: a pool of Ray actors (Ray imported only then), ended afterwards."""
    if address is None:
        yield None
        return
    from searchapp.ingest.ray_embedding import RayConfig, RayEmbedder

    with RayEmbedder(RayConfig(address=address)) as embedder:
        yield embedder


def _name_hint(search_index: SearchIndex, pattern: str) -> str:
    """For a relative path that matched nothing (`search remove notes.md` or `notes/` reads
    it as a path from here, where `--path` finds the name anywhere): the glob that would match
    it, when one would."""
    if (
        os.path.isabs(pattern)
        or any(c in pattern for c in "*?[{")
        or pattern.startswith(("./", "../", "~"))
        or pattern.strip("/") in ("", ".", "..")
    ):
        return ""
    folder = pattern.endswith("/")
    glob = f"**/{pattern.rstrip('/')}/**" if folder else f"**/{pattern}"
    if not search_index.matching([glob]):
        return ""
    shown = one_line(pattern)
    what = "folders" if folder else "files"
    return f"{shown} is read as ./{shown}; {what} of that name anywhere: '{one_line(glob)}'"


@app.command()
def remove(
    patterns: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH|GLOB...",
            help="Indexed paths (a folder removes what lies under it; the files need not "
            "exist) or globs matched against paths and file names ('*.lock', '*/drafts/*').",
        ),
    ],
    index_dir: IndexDir = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Print what would be removed; change nothing.")
    ] = False,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Fail at once if an index run holds the lock.")
    ] = False,
) -> None:
    """Remove documents from the index (exit 1 when nothing matched)."""
    from searchapp.interfaces.render import display_path, listed_path
    from searchapp.search_index import SearchIndex
    from searchapp.storage.indexed_paths import emptied_roots, matching, refuse_unclosed, under

    search_index = SearchIndex(index_dir)
    paths = search_index.matching(patterns)
    # A folder given to `search index` that holds no documents (emptied, or deleted from disk)
    # is still listed by `search info` and walked by a bare `search index` until removed.
    empty = [root["path"] for root in search_index.roots() if not root["documents"]]
    empty = matching(empty, patterns)
    if not paths and not empty:
        refuse_unclosed(patterns)
        hints = [hint for pattern in patterns if (hint := _name_hint(search_index, pattern))]
        if hints:  # they name the patterns
            err.print("nothing indexed matches; " + "; ".join(hints))
        else:
            named = ", ".join(one_line(str(pattern)) for pattern in patterns)
            err.print(f"nothing indexed matches {named}; `search info` lists what is indexed")
        raise typer.Exit(EXIT_NOTHING_FOUND)
    for pattern in patterns:  # as rm names an operand it could not remove, and goes on
        if len(patterns) > 1 and not search_index.matching([pattern]) + matching(empty, [pattern]):
            hint = _name_hint(search_index, pattern)
            err.print(
                f"{one_line(str(pattern))}: nothing indexed matches it"
                + (f" ({hint})" if hint else "")
            )
    # The roots it empties and names (`search remove notes`): forgotten, which was not said.
    left = sorted(set(search_index.store.all_paths()) - set(paths))
    forgotten = emptied_roots(search_index.indexed_roots(), left, patterns)
    forgotten = [root for root in forgotten if root not in empty]
    if not dry_run:  # as `search index`, it says when it waits for another writer
        search_index.remove(patterns, wait=not no_wait, on_wait=_say_waiting)
    for removed in paths:  # as `search query -l` lists them: relative below this folder
        sys.stdout.write(listed_path(removed, sys.stdout) + "\n")
    verb = "would remove" if dry_run else "removed"
    if paths or not empty:
        err.print(f"{verb} {len(paths)} {'path' if len(paths) == 1 else 'paths'}")
    if empty:
        shown = ", ".join(display_path(root) for root in empty)
        err.print(f"{'would forget' if dry_run else 'forgot'} {shown}: no documents under it")
    on_disk = [path for path in paths if os.path.exists(path)]
    within = [
        root
        for root in search_index.indexed_roots()
        if root not in forgotten
        and os.path.isdir(root)
        and _walk_brings_back(search_index, root, under(on_disk, [root]))
    ]
    # A root inside another whose walk brings its files back: that line says what happens.
    forgotten = [root for root in forgotten if not under([root], within)]
    if forgotten:
        shown = ", ".join(display_path(root) for root in forgotten)
        verb = "would forget" if dry_run else "forgot"
        err.print(f"{verb} {shown}: a bare `search index` no longer updates it")
    if within:
        err.print(
            f"{'it lies' if len(paths) == 1 else 'they lie'} under the indexed folder "
            f"{display_path(within[0])}: the next `search index` adds "
            f"{'it' if len(paths) == 1 else 'them'} back unless a .searchignore (or --exclude) "
            f"leaves {'it' if len(paths) == 1 else 'them'} out"
        )


def _walk_brings_back(search_index: SearchIndex, root: str, paths: list[str]) -> bool:
    """Whether a bare `search index` of ``root``, with its filters, indexes one of ``paths``
    again (of their first ``BACK_CHECKED``): not what its walk leaves out (a `node_modules`
    indexed as a root of its own, a file its --exclude leaves out), of which `search remove`
    said the next run would add it back."""
    from pathlib import Path

    from searchapp.ingest.discovery import walk_reaches
    from searchapp.storage.indexed_paths import Filters, root_filters

    filters = root_filters(search_index.store).get(root, Filters())
    return any(
        walk_reaches(
            Path(root),
            Path(path),
            include=filters.include,
            exclude=filters.exclude,
            default_excludes=filters.default_excludes,
        )
        for path in paths[:BACK_CHECKED]
    )


BACK_CHECKED = 50  # paths of a removal looked at for `search remove`'s "adds it back" line


@app.command()
def watch(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[PATH]...",
            help="Files and folders to index and watch (default: those indexed before).",
            show_default=False,
        ),
    ] = None,
    index_dir: IndexDir = None,
    include: Include = None,
    exclude: Exclude = None,
    no_default_excludes: NoDefaultExcludes = False,
    device: Device = "auto",
    precision: Annotated[
        Literal["auto", "fp32", "bf16", "fp16"] | None,
        typer.Option("--precision", help="As for `search index`.", show_default=False),
    ] = None,
    debounce: Annotated[
        int, typer.Option("--debounce", help="Apply changes at least this often (ms).")
    ] = 1000,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every skipped file with its reason.")
    ] = False,
) -> None:
    """Index files and folders, then keep the index fresh as they change (Ctrl-C to stop); with
    no PATH, the ones indexed before, as a bare `search index` updates them."""
    from searchapp.interfaces.progress import progress_for
    from searchapp.interfaces.watch import BAR_AFTER_S, Watcher
    from searchapp.interfaces.watch import watch as follow_changes
    from searchapp.search_index import SearchIndex

    search_index = SearchIndex(index_dir, device=device, precision=precision)
    if paths:
        from searchapp.storage.indexed_paths import Filters

        given = Filters(tuple(include or ()), tuple(exclude or ()), not no_default_excludes)
        for note in root_notes(search_index, paths, given):
            err.print(note)
    else:
        paths, include, exclude, default_excludes = _watched_before(
            search_index, include or [], exclude or [], not no_default_excludes
        )
        no_default_excludes = not default_excludes
        from searchapp.interfaces.render import display_path
        from searchapp.storage.indexed_paths import Filters

        described = Filters(tuple(include), tuple(exclude), default_excludes).describe()
        shown = ", ".join(display_path(p) for p in paths)
        err.print(f"watching {shown}" + f" ({described})" * bool(described))
    watcher = Watcher(
        search_index,
        paths,
        include=include or (),
        exclude=exclude or (),
        default_excludes=not no_default_excludes,
        debounce_ms=debounce,
        # Timestamped, as the batch lines: a wait that ended with nothing left to do (another
        # watch had done it) left the line as the last word, as if it were still waiting.
        on_wait=lambda: err.print(f"{time.strftime('%H:%M:%S')} {WAITING}"),
        # On a batch that takes long: a bar on a terminal, else a line now and then.
        progress=lambda: progress_for(err, after_s=BAR_AFTER_S),
    )
    code = follow_changes(watcher, err, verbose=verbose)  # 130 (143 once main maps SIGTERM)
    state["interrupt_said"] = True  # its own line said why it stopped
    raise typer.Exit(code)


def _watched_before(
    search_index: SearchIndex, include: list[str], exclude: list[str], default_excludes: bool
) -> tuple[list[str], list[str], list[str], bool]:
    """What a bare `search watch` watches: the roots a bare `search index` updates, with the
    filters they were indexed with (or the ones given now: ``default_excludes`` False for
    --no-default-excludes), and whether the default excludes apply; they must share them, as
    one watch applies one set."""
    from searchapp.interfaces.render import display_path
    from searchapp.storage.indexed_paths import Filters

    recorded = search_index.roots_by_filters()
    groups = {
        filters: there
        for filters, found in recorded.items()
        if (there := [root for root in found if os.path.exists(root)])
    }  # an unmounted folder is not watched, and its filters do not count
    if not groups:
        done = "no folder indexed before is there" if recorded else "nothing indexed"
        raise SearchAppError(
            f"{done} in {search_index.index_dir}; give the files or folders to watch: "
            "search watch PATH..."
        )
    roots = [root for found in groups.values() for root in found]
    if include or exclude or not default_excludes:
        return roots, include, exclude, default_excludes
    if len(groups) > 1:
        shown = "; ".join(
            f"{', '.join(display_path(r) for r in found)}: {f.describe() or 'no filters'}"
            for f, found in groups.items()
        )
        raise SearchAppError(
            f"the folders indexed before have different filters ({shown}); one watch applies "
            "one set: search watch PATH... [--include GLOB] [--exclude GLOB]"
        )
    [filters] = groups
    assert isinstance(filters, Filters)
    return roots, list(filters.include), list(filters.exclude), filters.default_excludes


WAITING = "waiting for another `search index` or `search watch` to finish…"


def _say_waiting() -> None:
    err.print(WAITING)
