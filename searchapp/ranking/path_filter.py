"""``--path``: which documents a query's globs and folders let in."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Sequence

from searchapp.globs import any_glob, expand_braces
from searchapp.storage.indexed_paths import from_current_folder


def path_matches(path: str, pattern: str | Sequence[str] | None) -> bool:
    """Whether ``path`` matches ``pattern`` (``--path``), or any of several: a glob over the
    whole path, its end or the file name (``*.md``, ``notes/*.md``, ``*.{md,txt}``), or a folder
    it lies under (``docs/notes``, ``/abs/``; ``./notes`` and ``../x`` from the current
    folder); and none of those given as ``!glob`` (``!tests/``, ``!*.md``). For many paths,
    build the test once: ``path_filter``."""
    return path_filter(pattern)(path)


def path_filter(pattern: str | Sequence[str] | None) -> Callable[[str], bool]:
    """``path_matches`` for one ``pattern``, its globs read once and each path's answer kept
    (a query tests the path of every candidate passage, many of them one file's)."""
    if not pattern:
        return lambda path: True
    globs = path_globs(pattern)
    # "!glob" leaves out what it matches, as ripgrep's -g '!*.md' does; the others let in.
    wanted = [_from_here(glob) for glob in globs if not glob.startswith("!")]
    unwanted = any_glob([_from_here(glob[1:]) for glob in globs if glob.startswith("!")])
    wanted_any = any_glob(wanted)

    @functools.cache
    def matches(path: str) -> bool:
        # A name's accents may be left out, as -F leaves them ('*Nunez*' lets in
        # `Zoom interview Núñez.vtt`: a journalist's matched nothing).
        paths = (path,) if path.isascii() else (path, unaccented(path))
        return (not wanted or any(map(wanted_any, paths))) and not any(map(unwanted, paths))

    return matches


def unaccented(path: str) -> str:
    """``path`` without its letters' accents (`Núñez` as `Nunez`), their case kept."""
    decomposed = unicodedata.normalize("NFD", path)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def path_globs(pattern: str | Sequence[str] | None) -> tuple[str, ...]:
    """The single globs ``pattern`` stands for: each given, with its braces expanded."""
    if not pattern:
        return ()
    return _expanded((pattern,) if isinstance(pattern, str) else tuple(pattern))


@functools.lru_cache(maxsize=256)
def _expanded(given: tuple[str, ...]) -> tuple[str, ...]:  # once a query, not once a path
    return tuple(glob for one in given for glob in expand_braces(one))


def _from_here(glob: str) -> str:
    if glob.startswith(("./", "../")) or glob in (".", ".."):  # from this folder, as rg
        return from_current_folder(glob)
    return glob
