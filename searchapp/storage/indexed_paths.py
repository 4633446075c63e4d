"""Which indexed paths a command names, and the roots `search index` was given."""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from searchapp.storage.store import Store

ROOTS_KEY = "roots"  # meta: JSON list of the paths given to `search index`


def matching(paths: Sequence[str], patterns: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The ``paths`` these patterns name, sorted: a path names itself and everything under it
    (the files need not exist); a glob (``*.md``, ``*/drafts/*``) is matched against the
    absolute path, the path relative to the current folder, and the file name."""
    found: dict[str, None] = {}
    for raw in patterns:
        pattern = os.fspath(raw)
        if any(c in pattern for c in "*?["):
            cwd = os.getcwd()
            for path in paths:
                names = (path, os.path.relpath(path, cwd), os.path.basename(path))
                if any(fnmatch.fnmatchcase(name, pattern) for name in names):
                    found[path] = None
            continue
        root = str(Path(pattern).expanduser().absolute())
        for path in paths:
            if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
                found[path] = None
    return sorted(found)


def recorded_roots(store: Store) -> list[str]:
    """The folders and files given to `search index` (absolute), sorted."""
    return json.loads(store.get_meta().get(ROOTS_KEY, "[]"))


def forget_roots(store: Store, patterns: Sequence[str | os.PathLike[str]]) -> None:
    """After `search remove`: drop the recorded roots that its patterns name (``matching``)
    and that hold no document any more, so that a bare `search index` does not bring them
    back (a glob can name a folder whose files it did not match: that root stays)."""
    known = recorded_roots(store)
    paths = store.all_paths()
    kept = [root for root in known if not matching([root], patterns) or matching(paths, [root])]
    if kept != known:
        store.set_meta({ROOTS_KEY: json.dumps(kept)})


def record_roots(store: Store, roots: Sequence[Path]) -> None:
    """Remember the folders and files indexed, for `search info` and a bare `search index`."""
    known = recorded_roots(store)
    # A file or folder under a recorded root (`search watch` adds files one by one) is not
    # another root.
    new = {str(root) for root in roots if not any(matching([str(root)], [k]) for k in known)}
    merged = sorted(set(known) | new)
    store.set_meta({ROOTS_KEY: json.dumps(merged)})


def roots_with_counts(store: Store) -> list[dict[str, Any]]:
    """Each recorded root with the number of documents indexed under it."""
    paths = store.all_paths()
    counts = store.document_counts_by_path()
    result = []
    for root in recorded_roots(store):
        under = matching(paths, [root])
        result.append({"path": root, "documents": sum(counts[p] for p in under)})
    return result
