"""Which indexed paths a command names, and the roots `search index` was given."""

from __future__ import annotations

import dataclasses
import glob
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from searchapp.errors import BadInputError
from searchapp.globs import expand_braces, from_display, path_glob, unclosed, unclosed_class
from searchapp.storage.paths import absolute, refuse_empty

if TYPE_CHECKING:  # the CLI imports Filters at start-up; the store brings numpy
    from searchapp.storage.store import Store

ROOTS_KEY = "roots"  # meta: JSON list of the paths given to `search index`
FILTERS_KEY = "root_filters"  # meta: JSON root -> the Filters it was last indexed with
FILE_ROOTS_KEY = "file_roots"  # meta: JSON list of the roots that were files when given


@dataclass(frozen=True)
class Filters:
    """The ``--include``/``--exclude`` globs and default excludes a root was indexed with."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    default_excludes: bool = True

    def describe(self) -> str:
        """As the options are written: ``--include '*.md' --no-default-excludes``; "" for none."""
        words = [f"--include '{g}'" for g in self.include]
        words += [f"--exclude '{g}'" for g in self.exclude]
        return " ".join(words + ([] if self.default_excludes else ["--no-default-excludes"]))


def matching(paths: Sequence[str], patterns: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The ``paths`` these patterns name, sorted: a path names itself and everything under it
    (the files need not exist: ``under``), one with glob characters too when it is an indexed
    path or folder (``docs/[ab].md``); a glob (``*.md``, ``drafts/*``) as `search query
    --path` reads it (``path_glob``: ``*`` within a folder, ``**/`` across any number), one
    that starts with ``./`` or ``../`` from the current folder."""
    refuse_empty(patterns)
    found: dict[str, None] = {}
    given = [one for raw in patterns for one in expand_braces(os.fspath(raw))]
    # A path as a terminal shows it, pasted (a tab in a name as "\t"), names its file too.
    given += [shown for one in given if (shown := from_display(one)) is not None]
    for pattern in given:
        if not any(c in pattern for c in "*?[") or unclosed_class(pattern):
            # A path; an unclosed "[" is no glob either (`foo[1.txt`): `search remove` says
            # so when it names nothing (``refuse_unclosed``).
            found.update(dict.fromkeys(under(paths, [pattern])))
            continue
        if named := under(paths, [pattern]):  # an indexed path as it is: `docs/[ab].md`
            found.update(dict.fromkeys(named))
            continue
        if pattern.startswith(("./", "../")):
            pattern = from_current_folder(pattern)
        matches = path_glob(pattern, folders=False)  # a glob's own files, never a root's
        found.update(dict.fromkeys(p for p in paths if matches(p)))
    return sorted(found)


def refuse_unclosed(patterns: Sequence[str | os.PathLike[str]]) -> None:
    """Raise ``BadInputError`` for a pattern with a "[" or "{" that never closes: when it named
    nothing, it was more likely a glob typed wrong than a path."""
    for pattern in map(os.fspath, patterns):
        if left_open := unclosed(pattern):
            raise BadInputError(f"{pattern!r} {left_open}")


def from_current_folder(pattern: str) -> str:
    """``./docs/*`` as an absolute glob, the current folder's name matched as it is (``b[1]``),
    a ``/`` ending it kept (``./*/``: the folders here)."""
    here = os.path.normpath(os.path.join(glob.escape(os.getcwd()), pattern))
    return here + "/" if pattern.endswith("/") and not here.endswith("/") else here


def under(paths: Sequence[str], roots: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The ``paths`` that are one of ``roots`` or lie under one, sorted; each root is a path,
    never a glob (a folder may be named ``b[1]``), relative ones from the current folder."""
    found: dict[str, None] = {}
    for raw in roots:
        root = str(absolute(raw))
        prefix = root.rstrip(os.sep) + os.sep
        found.update(dict.fromkeys(p for p in paths if p == root or p.startswith(prefix)))
    return sorted(found)


def recorded_roots(store: Store) -> list[str]:
    """The folders and files given to `search index` (absolute), sorted."""
    return json.loads(store.get_meta().get(ROOTS_KEY, "[]"))


def forget_roots(
    store: Store, patterns: Sequence[str | os.PathLike[str]], *, literal: bool = False
) -> None:
    """After `search remove`: drop the recorded roots that its patterns name (``matching``, or
    ``under`` when ``literal``: paths deleted from disk) and that hold no document any more, so
    that a bare `search index` does not bring them back (a glob can name a folder whose files
    it did not match: that root stays). A glob of what lies below a folder (``notes/**``)
    names its files, not the folder: the root stays, as when its files are named one by one."""
    known = recorded_roots(store)
    gone = emptied_roots(known, store.all_paths(), patterns, literal=literal)
    if gone:
        kept = [root for root in known if root not in gone]
        _save_roots(store, kept, root_filters(store), recorded_file_roots(store))


def emptied_roots(
    roots: Sequence[str],
    paths: Sequence[str],
    patterns: Sequence[str | os.PathLike[str]],
    *,
    literal: bool = False,
) -> list[str]:
    """The ``roots`` that ``forget_roots`` forgets once the index holds ``paths``: those the
    patterns name that hold none of them."""
    if literal:
        named = under(roots, patterns)
    else:
        named = matching(roots, [p for p in map(os.fspath, patterns) if not p.endswith("/**")])
    return [root for root in roots if root in named and not under(paths, [root])]


def record_roots(store: Store, roots: Sequence[Path], filters: Filters = Filters()) -> None:
    """Remember the folders and files given to `search index`, and the filters each was
    indexed with, for `search info` and a bare `search index`. One inside another is a root
    of its own: the outer one's walk may skip it (a ``node_modules`` given by name)."""
    merged = sorted(set(recorded_roots(store)) | {str(root) for root in roots})
    saved = root_filters(store)
    saved.update({str(root): filters for root in roots})
    files = recorded_file_roots(store) - {str(root) for root in roots}
    _save_roots(store, merged, saved, files | {str(root) for root in roots if root.is_file()})


def recorded_file_roots(store: Store) -> set[str]:
    """The recorded roots that were files when given (a file of no documents, binary or empty,
    deleted from its folder, is gone; a folder that is not there may be an unmounted drive)."""
    return set(json.loads(store.get_meta().get(FILE_ROOTS_KEY, "[]")))


def root_filters(store: Store) -> dict[str, Filters]:
    """The filters each recorded root was last indexed with (none for roots indexed before
    they were recorded)."""
    saved = json.loads(store.get_meta().get(FILTERS_KEY, "{}"))
    return {
        root: Filters(tuple(f["include"]), tuple(f["exclude"]), bool(f["default_excludes"]))
        for root, f in saved.items()
    }


def _save_roots(
    store: Store, roots: list[str], filters: dict[str, Filters], files: set[str]
) -> None:
    kept = {root: dataclasses.asdict(filters[root]) for root in roots if root in filters}
    store.set_meta(
        {
            ROOTS_KEY: json.dumps(roots),
            FILTERS_KEY: json.dumps(kept),
            FILE_ROOTS_KEY: json.dumps(sorted(files & set(roots))),
        }
    )


def roots_with_counts(store: Store) -> list[dict[str, Any]]:
    """Each recorded root with the number of documents indexed under it, the filters it was
    last indexed with, as the options are written ("" for none), and the outermost other root
    it lies within (its documents are counted there too), or None."""
    paths = store.all_paths()
    counts = store.document_counts_by_path()
    filters = root_filters(store)
    roots = recorded_roots(store)
    result = []
    for root in roots:
        outer = [other for other in roots if other != root and under([root], [other])]
        result.append(
            {
                "path": root,
                "documents": sum(counts[p] for p in under(paths, [root])),
                "filters": filters.get(root, Filters()).describe(),
                "within": min(outer, key=len) if outer else None,
            }
        )
    return result
