"""Finding the files to index: walk folders, honour ignore files, skip what is not a document.

Folders are walked depth first in sorted order, so the same tree always gives the same list.
Hidden entries, version-control and tool folders (``.git``, ``node_modules``, ``__pycache__``) and
virtual environments are left out silently, as is whatever a ``.gitignore`` or ``.searchignore``
(same syntax, at any level of the walk, nested ones applying to their own subtree) excludes.
Entries a person may have expected to be indexed — special files, symbolic links that are not
followed, folders that cannot be read — are reported through ``on_skip`` and never opened.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

from searchapp.errors import BadInputError
from searchapp.globs import expand_braces, unclosed
from searchapp.storage.lock import LOCK_NAME
from searchapp.storage.paths import absolute, not_there

logger = logging.getLogger(__name__)

IGNORE_FILES = (".gitignore", ".ignore", ".searchignore")  # in this order: the later wins
SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__"})
# Experiment trackers' run folders, told by what they hold (a package named `wandb` is code):
# hundreds of near-identical files of one value (a data scientist's `mlruns/` took 12 of the
# first 13 hits for "which notebook trains the xgboost model").
_RUN_FOLDERS = {
    "mlruns": re.compile(r"\.trash|0|[0-9]{6,}|models"),  # MLflow's experiments
    "wandb": re.compile(r"latest-run|(?:offline-)?run-.+"),  # Weights & Biases' runs
    "lightning_logs": re.compile(r"version_[0-9]+"),
}
VENV_NAMES = frozenset({"venv", ".venv", "env"})
INDEX_FILES = ("index.db", LOCK_NAME)  # what every index folder holds (storage/store.py, lock.py)
# Every file an index keeps in its folder: the database and SQLite's files beside it, the lock,
# the derived files (their temporary copies are hidden: ".vectors.faiss.123.tmp").
INDEX_OWN_FILES = frozenset(
    {*INDEX_FILES, "index.db-wal", "index.db-shm", "index.db-journal"}
    | {"vectors.faiss", "postings.bin"}
)

OnSkip = Callable[[Path, str], None]

# Editors' backups (Emacs and vim ``notes.md~``) and swap files (vim's ``notes.md.swp``, hidden
# unless 'directory' puts it elsewhere), files being written: JetBrains' safe write
# (``x___jb_tmp___``, then ``x___jb_old___``), browsers' downloads, temporary copies
# (``notes.md.tmp.1234``: ``TEMPORARY_COPY``). A watched folder indexed each as it came and
# went, with a batch line apiece, and their text was a second hit beside the file they copy or
# become.
_BEING_WRITTEN = (
    "*~",
    "*.sw[po]",
    "*___jb_tmp___",
    "*___jb_old___",
    "*.crdownload",
    "*.part",
    "*.tmp",
)
# Temporary copies: a file name ending in ".tmp." and digits. A glob cannot say "digits only"
# (``*.tmp.[0-9]*`` left out ``report.tmp.2024-notes.md``, a note, and a negated bracket also
# matches "/" in pathspec), so the name is matched here, as a default exclude.
TEMPORARY_COPY = re.compile(r".+\.tmp\.[0-9]+")
# Secrets: passwords and tokens (``prod.env``), keys and certificates, Terraform's state
# (it holds every secret it created). A hit would print them, and `search mcp` hand them
# to an assistant. (``.env`` and ``~/.ssh`` are hidden; private keys inside other files
# are blanked: ``secrets.py``.)
_MAIL_BINS = ("Trash", "Junk", "Spam", "Deleted Messages")
_SECRETS_KIND = "secrets file (passwords, keys)"
_SECRET_PATTERNS = (
    "*.env",
    "*.pem",
    "*.ppk",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "id_ecdsa_sk",
    "id_ed25519_sk",
    "_netrc",
    "*.tfstate",
    "*.tfstate.backup",
    # /etc's password hashes (an SRE's index of /etc printed root's hash for "root
    # password hash"), and their backups
    "shadow",
    "gshadow",
    "shadow-",
    "gshadow-",
)

# Files that are text but not worth searching: lock files, minified or generated code, markup
# that is data (drawings), and editors' backups. Excluded at every level unless
# --no-default-excludes; each kind is named in its skip's reason (an SVG was called "lock
# file, generated, editor backup or temporary").
_EXCLUDED_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "lock file",
        (
            "Cargo.lock",
            "package-lock.json",
            "npm-shrinkwrap.json",
            "yarn.lock",
            "pnpm-lock.yaml",
            "bun.lockb",
            "bun.lock",  # Bun's text lock file since 1.2
            "deno.lock",
            "poetry.lock",
            "uv.lock",
            "Pipfile.lock",
            "pdm.lock",
            "pixi.lock",
            "conda-lock.yml",
            "Gemfile.lock",
            "Podfile.lock",
            "composer.lock",
            "go.sum",
            "flake.lock",
            "mix.lock",
            "pubspec.lock",
            "packages.lock.json",
            "Package.resolved",  # SwiftPM
            "gradle.lockfile",
            "renv.lock",
        ),
    ),
    # ...and a rendered site's search index (Quarto's `_site/search.json`: every page's text
    # as JSON, the first hit of an ecologist's queries, above the pages and their sources)
    (
        "generated code",
        ("*.min.js", "*.min.css", "*.map", "*.pb.go", "*_pb2.py", "**/_site/search.json"),
    ),
    (_SECRETS_KIND, _SECRET_PATTERNS),
    ("SVG drawing", ("*.svg",)),
    # Thunderbird's summary of a mail folder beside it (Mork: `(A2=1)(80=0)...`), its messages
    # read from the folder's file (``formats/mbox.py``)
    ("mail folder summary", ("*.msf",)),
    # A mail client's bins, left out as Gmail's Spam and Trash are (``formats/mbox.py``):
    # Thunderbird's folder files `Trash` and `Junk` (not a folder so named: files only), the
    # folders kept inside its Trash (`Trash.sbd/`), and Apple Mail's exported `Junk.mbox`.
    (
        "mail client's Trash or Junk folder",
        (
            *_MAIL_BINS,
            *(f"!{name}/" for name in _MAIL_BINS),
            "Trash.sbd/",
            *(f"{name}.mbox" for name in _MAIL_BINS),
        ),
    ),
    # Word's and Excel's owner files beside an open document (`~$Lease FINAL.docx`: its
    # owner's name, or the document's first bytes, called "binary file"), and Windows'
    # folder settings (`Desktop.ini`, indexed as a note): a paralegal's trial.
    ("Office lock file or folder settings", ("~$*", "[Dd]esktop.ini")),
    (
        "backup or file being saved or downloaded",
        (
            # Emacs's autosaves (``#notes.md#``): a copy of a file beside it, each passage a
            # second hit.
            "\\#*#",
            *_BEING_WRITTEN,
            # ...files only: a folder so named (``old~/``, ``data.part/``) is read as any other.
            *(f"!{pattern}/" for pattern in _BEING_WRITTEN),
        ),
    ),
)
# Hidden files that are indexed: templates of a project's settings (`.env.example`), which name
# them and hold no secrets (two helpers' trials: an SRE's `-F STRIPE_API_KEY` found nothing,
# and a web developer's git-tracked `.env.example` was left out unsaid).
_SHOWN_HIDDEN = re.compile(r"\.env\.(?:example|sample|template|dist|defaults)", re.IGNORECASE)


def is_hidden(name: str) -> bool:
    """Whether a file or folder named ``name`` is hidden from a walk: its name begins with '.'
    (but for a settings template, ``_SHOWN_HIDDEN``)."""
    return name.startswith(".") and not _SHOWN_HIDDEN.fullmatch(name)


def is_secret_name(name: str) -> bool:
    """Whether a file named ``name`` is a secrets file by its name (``prod.env``, ``id_rsa``,
    ``.env.local``): left out of a walk, and out of the files attached to mail."""
    name = name.lower()  # an attachment's name keeps Windows' case: `PROD.ENV`, `key.PEM`
    return name.startswith(".env") or _kind_globs(_SECRET_PATTERNS).match_file(name)


def _hidden_reason(rel: str, *, folder: bool = False) -> str:
    """Why the hidden ``rel`` is left out; that it holds secrets (`.env`, `.env.local`), where
    a file's name says so: the reason alone named how to index it, and an agent given that
    did."""
    if is_secret_name(rel.rsplit("/", 1)[-1]) and not folder:
        return f"'{rel}' is hidden (its name begins with '.') and a {_SECRETS_KIND}"
    return f"'{rel}' is hidden (its name begins with '.')"


DEFAULT_EXCLUDES = tuple(pattern for _, patterns in _EXCLUDED_KINDS for pattern in patterns)
NO_DEFAULT_EXCLUDES = "--no-default-excludes indexes it"


def default_excluded(rel: str) -> str:
    """The reason a file that ``DEFAULT_EXCLUDES`` (or ``TEMPORARY_COPY``) leaves out is
    skipped, naming its kind."""
    names = (rel, _uncompressed_name(rel))
    kind = _EXCLUDED_KINDS[-1][0]  # a temporary copy (``TEMPORARY_COPY``)
    for what, patterns in _EXCLUDED_KINDS:
        if any(_kind_globs(patterns).match_file(name) for name in names):
            kind = what
            break
    return f"{kind} (excluded by default; {NO_DEFAULT_EXCLUDES})"


@functools.cache
def _kind_globs(patterns: tuple[str, ...]) -> GitIgnoreSpec:
    return GitIgnoreSpec.from_lines(patterns)


@dataclass(frozen=True)
class _IgnoreFile:
    """One ignore file's rules, as git applies them: ``files`` to a file, ``folders`` to a
    folder's own path (its trailing "/" dropped). A pattern that ends in "/" names folders
    only, and a folder's contents follow from the walk, which does not enter an ignored one:
    ``foo/**`` leaves ``foo`` itself to be entered (``!foo/keep.txt`` is then seen), and
    ``!*/`` re-includes folders, not every file below them.

    ``base`` is the ignore file's folder relative to the walked root ("" at the root or above
    it); ``prefix`` the root's path relative to that folder for one above the root, so that a
    path is matched as git matches it from where the file lies."""

    base: str
    prefix: str
    files: GitIgnoreSpec
    folders: GitIgnoreSpec
    source: str = ""  # the ignore file's path, for ``why_left_out``

    def verdict(self, rel: str, *, folder: bool) -> bool | None:
        """True (ignored), False (re-included) or None, from the last pattern that matches
        ``rel`` itself. A match through a folder of its path (pathspec's ``ps_d`` group: ``/*``
        matching ``src/main.py`` by ``src``) does not count: the walk judged that folder, and
        went in (``!/src/`` after ``/*``), as git does."""
        sub = self.prefix + (rel[len(self.base) + 1 :] if self.base else rel)
        found = None
        for pattern in (self.folders if folder else self.files).patterns:
            if pattern.include is None:
                continue
            matched = pattern.match_file(sub)
            if matched is not None and not matched.match.groupdict().get("ps_d"):
                found = pattern.include
        return found


# The ignore files that apply to a folder, outermost first, so that a deeper file overrides a
# shallower one, as git does.
_Chain = tuple[_IgnoreFile, ...]


def iter_files(
    paths: Sequence[Path],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    default_excludes: bool = True,
    on_skip: OnSkip | None = None,
    on_folder: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Yield the regular files under ``paths`` (absolute, each once), in a deterministic order.

    A file named in ``paths`` is always yielded; folders are walked. ``include``/``exclude`` are
    gitignore-style globs matched against the path relative to the folder being walked
    (``*.md``, ``docs/**``); with ``include``, only matching files are kept. ``on_skip(path,
    reason)`` hears about each entry left out for a reason a person may want to know, including
    the files ``DEFAULT_EXCLUDES`` leaves out unless ``default_excludes`` is false.
    ``on_folder(path)`` hears of each folder listed: those the walk enters (``search watch``
    watches them alone, not the ignored trees below them).
    Raises ``BadInputError`` for a path that does not exist or a pattern that cannot be parsed.
    """
    told: set[str] = set()

    def report(path: Path, reason: str) -> None:  # once: a root inside another is walked twice
        if on_skip is not None and str(path) not in told:
            told.add(str(path))
            on_skip(path, reason)

    include_spec = _option_spec("--include", include)
    exclude_spec = _option_spec("--exclude", exclude)
    noise = Globs(GitIgnoreSpec.from_lines(DEFAULT_EXCLUDES)) if default_excludes else None
    roots = [_checked_root(Path(raw)) for raw in paths]  # fail before yielding anything
    seen: set[str] = set()
    for root in roots:
        for path in _files_under(root, include_spec, exclude_spec, noise, report, on_folder):
            key = str(path)
            if key not in seen:
                seen.add(key)
                yield path


def walk_reaches(
    root: Path,
    path: Path,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    default_excludes: bool = True,
    on_skip: OnSkip | None = None,
) -> bool:
    """Whether ``iter_files([root], ...)`` yields ``path`` (a file below the folder ``root``),
    found by walking only the folders on the way to it: hidden, skipped and ignored folders,
    ignore files and filters count as in the whole walk; ``on_skip`` hears what that walk
    skips on the way (as ``iter_files``' does: a link to a file outside the root)."""
    return _walk_toward(root, path, include, exclude, default_excludes, None, on_skip)


def why_left_out(
    root: Path,
    path: Path,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    default_excludes: bool = True,
) -> str | None:
    """Why the walk of the folder ``root`` leaves out ``path`` (a file below it): the first
    entry on the way that is hidden, a tool folder, ignored (naming the ignore file), matched
    by ``exclude`` or not by ``include``, a default exclude or a link not followed; None when
    the walk yields it. What `search get` says of a file that is not indexed."""
    reasons: list[str] = []
    if _walk_toward(root, path, include, exclude, default_excludes, reasons):
        return None
    return reasons[0] if reasons else None


def _walk_toward(
    root: Path,
    path: Path,
    include: Sequence[str],
    exclude: Sequence[str],
    default_excludes: bool,
    reasons: list[str] | None,
    on_skip: OnSkip | None = None,
) -> bool:
    """``walk_reaches``; each reason an entry on the way is left out for, into ``reasons``."""
    toward = str(absolute(path))

    def skipped(entry: Path, reason: str) -> None:
        if reasons is not None:
            reasons.append(reason)
        if on_skip is not None:
            on_skip(entry, reason)

    found = _files_under(
        absolute(root),
        _option_spec("--include", include),
        _option_spec("--exclude", exclude),
        Globs(GitIgnoreSpec.from_lines(DEFAULT_EXCLUDES)) if default_excludes else None,
        skipped,
        toward=toward,
        explain=reasons.append if reasons is not None else None,
    )
    return any(str(found_path) == toward for found_path in found)


def is_read_error(reason: str) -> bool:
    """Whether a skip's reason is a read error (permissions, I/O: "cannot read...", as
    discovery and the decoders word it), not a file left out by design."""
    return reason.startswith("cannot read")


def unreadable_places(skipped: Sequence[tuple[str | Path, str]]) -> list[Path]:
    """Where, among discovery's skips, files could not be listed or their rules read (a folder
    or entry that cannot be read, the folder of an ignore file that cannot be read): what was
    indexed there is not known to be gone, and is kept."""
    places = []
    for path, reason in skipped:
        if reason.startswith("cannot read ignore file:"):
            places.append(Path(path).parent)
        elif is_read_error(reason):  # a folder, or an entry that could not be looked at
            places.append(Path(path))
    return places


def _checked_root(path: Path) -> Path:
    try:
        os.stat(path)
    except FileNotFoundError:
        raise not_there(path) from None
    except OSError as exc:
        raise BadInputError(f"cannot open {path}: {exc.strerror or exc}") from None
    return absolute(path)


def check_filters(include: Sequence[str], exclude: Sequence[str]) -> None:
    """Raise ``BadInputError`` for an ``--include`` or ``--exclude`` pattern that cannot be
    read, before a run records it for the next bare `search index` (which failed on it too)."""
    _option_spec("--include", include)
    _option_spec("--exclude", exclude)


def _option_spec(option: str, patterns: Sequence[str]) -> Globs | None:
    if not patterns:
        return None
    for pattern in patterns:  # as --path: pathspec takes a lone "[" literally, silently
        if left_open := unclosed(pattern):
            raise BadInputError(f"{option} pattern {pattern!r} {left_open}")
    try:  # gitignore has no braces: '*.{md,txt}' is given as '*.md' and '*.txt'
        spec = GitIgnoreSpec.from_lines([glob for p in patterns for glob in expand_braces(p)])
    except (ValueError, re.error) as exc:  # a bad pattern, or a bad range inside one
        raise BadInputError(
            f"{option} pattern could not be parsed ({exc}); use gitignore-style globs "
            "such as '*.md' or 'docs/**'"
        ) from None
    return Globs(spec)


def _files_under(
    root: Path,
    include: Globs | None,
    exclude: Globs | None,
    noise: Globs | None,
    report: OnSkip,
    on_folder: Callable[[str], None] | None = None,
    *,
    toward: str | None = None,
    explain: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """The files ``iter_files`` yields below ``root``; ``toward``: only those entries on the
    way to that path (``walk_reaches``); ``explain`` hears why an entry is left out where
    ``report`` hears nothing (``why_left_out``)."""
    try:
        mode = os.stat(root).st_mode  # a root given by the user is followed even if a link
    except OSError as exc:
        report(root, f"cannot read: {exc.strerror or exc}")
        return
    if stat.S_ISREG(mode):
        yield root
        return
    if not stat.S_ISDIR(mode):
        report(root, f"not a regular file ({_kind(mode)})")
        return

    real_root = os.path.realpath(root)
    links: list[Path] = []
    # A root that is an index folder (`search index notes --index-dir notes`): its notes are
    # indexed, the index's own files are not (a lock file and a WAL changed at every run).
    own = INDEX_OWN_FILES if _is_index_folder(str(root)) else frozenset()
    # (folder, its path relative to root with "/" separators, the ignore files that apply)
    stack: list[tuple[str, str, _Chain]] = [(str(root), "", _ancestors_ignore_files(root, report))]
    while stack:
        folder, rel_folder, chain = stack.pop()
        chain = chain + _read_ignore_files(folder, rel_folder, report)
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except FileNotFoundError:  # deleted while it was walked: nothing of it to index
            continue
        except OSError as exc:
            report(Path(folder), f"cannot read folder: {exc.strerror or exc}")
            continue
        if on_folder is not None:
            on_folder(folder)
        subfolders: list[tuple[str, str, _Chain]] = []
        for entry in entries:
            if toward is not None and not (
                toward == entry.path or toward.startswith(entry.path + os.sep)
            ):
                continue
            rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
            if is_hidden(entry.name) or (not rel_folder and entry.name in own):
                if explain is not None:
                    explain(
                        _hidden_reason(rel, folder=entry.is_dir(follow_symlinks=False))
                        if entry.name[:1] == "."
                        else f"'{rel}' is one of the index's own files"
                    )
                continue
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except FileNotFoundError:  # deleted since the folder was listed
                continue
            except OSError as exc:
                report(Path(entry.path), f"cannot read: {exc.strerror or exc}")
                continue
            if stat.S_ISDIR(mode):
                if _skip_folder(entry):
                    if explain is not None:
                        explain(f"'{rel}/' is a tool folder, a virtual environment or an index")
                    continue
                as_folder = rel + "/"  # --exclude patterns ending in "/" match folders only
                if _ignored(chain, rel, folder=True) or _matches(exclude, as_folder):
                    if explain is not None:
                        explain(_left_out_by(chain, rel, exclude, folder=True))
                    continue
                if os.path.exists(os.path.join(entry.path, ".git")):  # a repository of its own:
                    # the rules of the one around it do not apply there, as for git
                    subfolders.append((entry.path, rel, _repository_rules(entry.path, rel, report)))
                else:
                    subfolders.append((entry.path, rel, chain))
                continue
            if _ignored(chain, rel, folder=False) or _matches(exclude, rel):
                if explain is not None:
                    explain(_left_out_by(chain, rel, exclude, folder=False))
                continue
            if include is not None and not _matches(include, rel):
                if explain is not None:
                    explain(f"'{rel}' matches none of the --include patterns it was indexed with")
                continue
            if noise is not None and (
                _matches(noise, rel)
                or _matches(noise, _uncompressed_name(rel))
                or TEMPORARY_COPY.fullmatch(entry.name)
            ):
                report(Path(entry.path), default_excluded(rel))
                continue
            if stat.S_ISREG(mode):
                yield Path(entry.path)
            elif stat.S_ISLNK(mode):
                reason = _link_problem(entry.path, real_root)
                if reason:
                    report(Path(entry.path), reason)
                else:
                    links.append(Path(entry.path))
            else:
                report(Path(entry.path), f"not a regular file ({_kind(mode)})")
        stack.extend(reversed(subfolders))  # popped in sorted order
    # Links to files inside the root come last: their text is a copy of a file's, and of
    # copies a hit shows the one indexed first (`notes/todo.txt`, not `link_to_todo.txt`).
    yield from links


def _skip_folder(entry: os.DirEntry[str]) -> bool:
    """Tool folders, virtual environments and search indexes: never documents."""
    if entry.name in SKIPPED_FOLDERS:
        return True
    if _is_index_folder(entry.path):
        return True  # an index inside the indexed folder: its lock file changes at every run
    if os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
        return True
    if os.path.isdir(os.path.join(entry.path, "conda-meta")):  # a conda environment
        return True
    marker = _RUN_FOLDERS.get(entry.name)
    if marker is not None and any(marker.fullmatch(name) for name in _names_in(entry.path)):
        return True
    if entry.name == "vendor" and any(
        # Go's vendored modules (`go mod vendor` writes modules.txt) and Composer's packages:
        # others' code, as node_modules is (a Go developer's `retry` found chi's retry.go first)
        os.path.isfile(os.path.join(entry.path, marker))
        for marker in ("modules.txt", "autoload.php")
    ):
        return True
    if entry.name in VENV_NAMES:
        return any(
            os.path.exists(os.path.join(entry.path, scripts, "activate"))
            for scripts in ("bin", "Scripts")
        )
    return False


def _names_in(folder: str) -> list[str]:
    """The names in ``folder`` (none where it cannot be listed: the walk says why)."""
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _is_index_folder(folder: str) -> bool:
    return all(os.path.exists(os.path.join(folder, name)) for name in INDEX_FILES)


def _link_problem(link: str, real_root: str) -> str | None:
    """Why a symbolic link is not indexed, or None when it is a file inside the root."""
    try:
        mode = os.stat(link).st_mode
    except OSError as exc:  # a summary counted a loop among the broken links
        if exc.errno == errno.ELOOP:
            return "symbolic link that loops (through itself or others)"
        return "broken symbolic link"
    if stat.S_ISDIR(mode):
        return "symbolic link to a folder (not followed)"
    if not stat.S_ISREG(mode):
        return f"symbolic link to something that is not a regular file ({_kind(mode)})"
    target = os.path.realpath(link)
    if os.path.commonpath([real_root, target]) != real_root:
        return f"symbolic link to a file outside {real_root} ({target})"
    return None


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "named pipe"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def _read_ignore_files(folder: str, rel_folder: str, report: OnSkip, *, prefix: str = "") -> _Chain:
    found: list[_IgnoreFile] = []
    for name in IGNORE_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            found += _read_rules(path, rel_folder, report, prefix=prefix)
    return tuple(found)


def _read_rules(path: str, rel_folder: str, report: OnSkip, *, prefix: str = "") -> _Chain:
    """One ignore file's rules (none, said to ``report``, when it cannot be read)."""
    try:  # utf-8-sig: git reads a file that begins with a byte-order mark without it
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        report(Path(path), f"cannot read ignore file: {exc.strerror or exc}")
        return ()
    files = [line for line in lines if not _names_folders(line)]
    folders = [line.rstrip()[:-1] if _names_folders(line) else line for line in lines]
    return (
        _IgnoreFile(
            rel_folder,
            prefix,
            _parse_ignore_lines(files, path),
            _parse_ignore_lines(folders, path, warn=False),
            path,
        ),
    )


def _names_folders(line: str) -> bool:
    """Whether a gitignore line is a pattern for folders only (it ends in "/")."""
    pattern = line.rstrip()
    return pattern.endswith("/") and not pattern.startswith("#") and pattern.strip("!/") != ""


def _ancestors_ignore_files(root: Path, report: OnSkip) -> _Chain:
    """The rules of the git repository ``root`` lies in that the walk of ``root`` does not
    read itself, as git and ripgrep apply them: the global excludes file
    (``core.excludesFile``), the repository's ``.git/info/exclude``, and the ignore files of
    the folders above ``root`` up to the repository's top (`search index repo/sub` indexed
    what ``repo/.gitignore`` leaves out); none outside a repository."""
    root = Path(os.path.realpath(root))  # a link to a folder in a repository: the repository's
    above: list[Path] = []
    for folder in [root, *root.parents]:
        if folder != root:
            above.append(folder)
        if (folder / ".git").exists():
            break
    else:
        return ()
    top = above[-1] if above else root
    prefix = root.relative_to(top).as_posix() + "/" if above else ""
    chain = _repository_rules(str(top), "", report, prefix=prefix)
    for folder in reversed(above):  # outermost first
        chain += _read_ignore_files(
            str(folder), "", report, prefix=root.relative_to(folder).as_posix() + "/"
        )
    return chain


def _repository_rules(top: str, rel_folder: str, report: OnSkip, *, prefix: str = "") -> _Chain:
    """The global excludes file and ``.git/info/exclude`` of the repository at ``top``, the
    weakest rules first, as git orders them."""
    found: list[_IgnoreFile] = []
    for path in (_global_excludes(), os.path.join(top, ".git", "info", "exclude")):
        if path is not None and os.path.isfile(path):
            found += _read_rules(path, rel_folder, report, prefix=prefix)
    return tuple(found)


@functools.cache
def _global_excludes() -> str | None:
    """git's ``core.excludesFile``: set in ``~/.gitconfig`` (or git's own config under
    ``$XDG_CONFIG_HOME``), else ``$XDG_CONFIG_HOME/git/ignore`` (``~/.config/git/ignore``)."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    for config in (os.path.join(config_home, "git", "config"), os.path.expanduser("~/.gitconfig")):
        try:
            with open(config, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        core = re.search(r"^\s*\[core\]([^\[]*)", text, re.M | re.I)
        named = core and re.search(r"^\s*excludesfile\s*=\s*(.+?)\s*$", core.group(1), re.M | re.I)
        if named:
            return os.path.expanduser(named.group(1).strip('"'))
    return os.path.join(config_home, "git", "ignore")


def _parse_ignore_lines(lines: list[str], path: str, *, warn: bool = True) -> GitIgnoreSpec:
    try:
        return GitIgnoreSpec.from_lines(lines)
    except (ValueError, re.error):  # keep the lines that parse; warn about the rest
        good = []
        for number, line in enumerate(lines, start=1):
            try:
                GitIgnoreSpec.from_lines([line])
            except (ValueError, re.error) as exc:
                if warn:
                    logger.warning(
                        "%s:%d: ignoring a pattern that cannot be parsed: %s", path, number, exc
                    )
            else:
                good.append(line)
        return GitIgnoreSpec.from_lines(good)


def _ignored(chain: _Chain, rel: str, *, folder: bool) -> bool:
    """Whether the ignore files exclude ``rel`` (a folder's or a file's path, no trailing
    "/"); the deepest match wins."""
    ignored = False
    for ignore_file in chain:
        verdict = ignore_file.verdict(rel, folder=folder)
        if verdict is not None:
            ignored = verdict
    return ignored


def _left_out_by(chain: _Chain, rel: str, exclude: Globs | None, *, folder: bool) -> str:
    """What leaves out ``rel``, which an ignore file or ``exclude`` does: the ignore file whose
    rule decided (the deepest that matches), else the --exclude patterns."""
    shown = rel + "/" if folder else rel
    deciding = None
    for ignore_file in chain:
        verdict = ignore_file.verdict(rel, folder=folder)
        if verdict is not None:
            deciding = ignore_file if verdict else None
    if deciding is not None:
        return f"'{shown}' is ignored by {deciding.source}"
    return f"'{shown}' matches the --exclude patterns it was indexed with"


def _uncompressed_name(rel: str) -> str:
    """The name a gzip file's content has (``app.min.js.gz``: ``app.min.js``; ``a.svgz``:
    ``a.svg``), which the default excludes judge as they would that file."""
    if rel.lower().endswith(".svgz"):
        return rel[:-1]
    return rel[:-3] if rel.lower().endswith(".gz") else rel


def _matches(globs: Globs | None, rel: str) -> bool:
    return globs is not None and globs.matches(rel)


class Globs:
    """Gitignore-style globs (``--include``, ``--exclude``, the default excludes), with one
    regex of all those that can let a path in: a path none of them matches (most, for the
    default excludes' 62) is answered by one search, not one a glob (a bare `search index` of
    80,000 unchanged files spent 2 s of 4 there). Any other is asked of ``spec`` itself."""

    def __init__(self, spec: GitIgnoreSpec) -> None:
        self.spec = spec
        sources = [
            # pathspec's regexes name a group (a match through a folder); once is allowed
            pattern.regex.pattern.replace("(?P<ps_d>", "(?:")
            for pattern in spec.patterns
            if pattern.include and getattr(pattern, "regex", None) is not None
        ]
        try:
            self._any = re.compile("|".join(f"(?:{source})" for source in sources))
        except re.error:  # not as expected: every path is asked of the spec
            self._any = None
        self._none = not sources

    def matches(self, rel: str) -> bool:
        """Whether the globs take ``rel`` in (the last one matching it lets it in)."""
        if self._none or (self._any is not None and self._any.search(rel) is None):
            return False
        return bool(self.spec.check_file(rel).include)
