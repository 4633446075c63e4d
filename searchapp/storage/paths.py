"""Where an index lives: ``--index-dir``, else ``$SEARCH_INDEX_DIR``, else a per-user data
folder."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from searchapp.errors import BadInputError

APP_NAME = "searchapp"
ENV_INDEX_DIR = "SEARCH_INDEX_DIR"


def user_data_dir() -> Path:
    """The platform's per-user data folder for this app (XDG on Linux)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~/AppData/Local")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Application Support")
    else:
        base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(base) / APP_NAME


def index_dir_option(index_dir: Path) -> str:
    """`` --index-dir DIR`` for a command a message suggests, or nothing for the default one:
    pasted without it, the command would act on another index."""
    if Path(index_dir) == resolve_index_dir():
        return ""
    return f" --index-dir {shlex.quote(str(index_dir))}"


def rebuild_hint(index_file: Path, *, roots_readable: bool = True) -> str:
    """How to recreate the index that ``index_file`` belongs to. Where the store is what is
    damaged, it cannot list the folders it indexed, and the command must name them."""
    option = index_dir_option(Path(index_file).parent)
    if roots_readable:
        return f"run `search index --rebuild{option}` to recreate it"
    return (
        f"run `search index PATH... --rebuild{option}` to recreate it, naming the folders it "
        "indexed (a damaged index cannot list them)"
    )


def absolute(path: str | os.PathLike[str]) -> Path:
    """``path`` from the current folder, ``~`` expanded and ``..`` folded (by name, as a shell
    names it: a link is kept, not resolved), so one file always has one name in the index."""
    return Path(os.path.abspath(os.path.expanduser(path)))


def not_there(raw: str | os.PathLike[str]) -> BadInputError:
    """The error for a file or folder given that is not there; a link to nothing (or one that
    loops) is named as one, since ``ls`` shows it."""
    if os.path.islink(absolute(raw)):
        return BadInputError(
            f"{os.fspath(raw)} is a symbolic link to nothing (or one that loops); give the file "
            "or folder it should point to"
        )
    return BadInputError(f"no such file or folder: {os.fspath(raw)}")


def refuse_empty(paths: Sequence[str | os.PathLike[str]]) -> None:
    """Refuse an empty path: it would mean the current folder, and one comes from an unset shell
    variable (`search remove "$OLD"`) far more often than from a person meaning ``.``."""
    if any(not os.fspath(raw) for raw in paths):
        raise BadInputError(
            "an empty path was given (an unset shell variable?); write . for the current folder"
        )


def resolve_index_dir(option: str | os.PathLike[str] | None = None) -> Path:
    """The index folder to use, absolute, from the option, the environment or the default. An
    option given empty is refused: `--index-dir "$UNSET"` in a script used the default index."""
    if option is not None:
        if not os.fspath(option).strip():
            raise BadInputError(
                "--index-dir is empty; give the index folder, or leave the option out for the "
                "default"
            )
        return absolute(option)
    env = os.environ.get(ENV_INDEX_DIR, "").strip()
    if env:
        return absolute(env)
    return user_data_dir() / "index"


def created_as_private_as(path: str | os.PathLike[str], database: str | os.PathLike[str]) -> None:
    """Create the empty file ``path`` with the permissions of ``database`` (0600 without one)
    before anything is written to it: made with the umask's and changed after, another user
    could open it meanwhile and go on reading it."""
    try:
        mode = os.stat(database).st_mode & 0o777
    except OSError:
        mode = 0o600
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode))
    as_private_as(path, database)  # a mode the umask took bits from


def as_private_as(path: str | os.PathLike[str], database: str | os.PathLike[str]) -> None:
    """Give the file at ``path`` (one an index writes: its vectors, its postings, a rebuilt
    database) the permissions of the index's ``database``, where there is one: `postings.bin`
    held the words of files only root could read, readable by any user, beside a private
    `index.db`; and a rebuild made an index shared by `chmod` private again."""
    try:
        mode = os.stat(database).st_mode & 0o777
        os.chmod(path, mode)
    except OSError:  # no database yet, or a file system without modes: as it was made
        pass
