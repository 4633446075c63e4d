"""The ``search`` command's app, consoles, shared options and exit codes.

The commands live in ``commands_*.py`` beside this file, registered on ``app`` when ``cli.py``
imports them; ``cli.main`` is the entry point. Results go to stdout; progress, warnings and errors
to stderr. Exit status, as grep's: 0 when something was found (or done), 1 when a query or removal
found nothing, 2 for errors and usage mistakes, 130 after Ctrl-C (with what was committed kept).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import traceback
from typing import TYPE_CHECKING, Annotated, Literal

import typer
import typer.core
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:  # typer has its own copy of click: importing this one cost ~4 ms a command
    import click


class _Command(typer.core.TyperCommand):
    """A command whose usage line writes a required argument bare, as grep's and ripgrep's do
    (`search query [OPTIONS] TEXT`); typer writes it in braces, ``{TEXT}``."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]


class _App(typer.Typer):
    def command(self, *args, cls: type[click.Command] | None = None, **kwargs):  # type: ignore[override]
        return super().command(*args, cls=cls or _Command, **kwargs)


app = _App(
    name="search",
    help="Index folders of documents and search them by meaning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class _Stderr:
    """``sys.stderr`` as it is at each write (tests swap it). A message it cannot take
    (`2>/dev/full`) is lost: a query that found its hits ended with status 2 when a note
    ("a.txt changed since it was indexed") could not be written, and no error could be either."""

    def write(self, text: str) -> int:
        try:
            return sys.stderr.write(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self) -> None:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str) -> object:  # isatty, encoding, fileno: the stream's own
        return getattr(sys.stderr, name)


# No markup nor emoji codes: "[/]" or ":skull:" in a file name stays text (a folder named
# "x[/]y" ended `search index` in a traceback). Messages are never wrapped: one per line.
out = Console(highlight=False, soft_wrap=False, emoji=False, markup=False)
err = Console(file=_Stderr(), highlight=False, emoji=False, soft_wrap=True, markup=False)
# "terminated": the signal that stopped a writer as Ctrl-C does (SIGTERM, SIGHUP), else 0.
state = {"debug": False, "interrupt_said": False, "terminated": 0}

EXIT_NOTHING_FOUND, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED = 1, 2, 130, 143
EXIT_UNREADABLE = 3  # `search index` did its work, but some files or folders could not be read


def stop_cause() -> str:
    """What stopped a writer: Ctrl-C, or SIGTERM (`timeout`, `kill`) or SIGHUP (its terminal
    closed), which stop it alike."""
    signum = state.get("terminated")
    return signal.Signals(signum).name if signum else "Ctrl-C"


def stopped_status() -> int:
    """The exit status of a writer stopped as Ctrl-C stops it: 130, or 128 + the signal's
    number (143 for SIGTERM, 129 for SIGHUP), as a process killed by it reports."""
    signum = state.get("terminated")
    return 128 + int(signum) if signum else EXIT_INTERRUPTED


IndexDir = Annotated[
    str | None,
    typer.Option(
        "--index-dir",
        metavar="DIR",
        help="Index folder (default: $SEARCH_INDEX_DIR, else a per-user data folder).",
        show_default=False,
    ),
]
Device = Annotated[
    str, typer.Option("--device", metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps.")
]
Mode = Annotated[
    Literal["hybrid", "dense", "lexical"],
    typer.Option(
        "--mode",
        case_sensitive=False,
        help="Ranking: meaning, words and file names fused (hybrid), meaning (dense) or words "
        "(lexical: BM25).",
    ),
]
Format = Literal["table", "lines", "json", "jsonl"]
Color = Annotated[
    Literal["auto", "always", "never"],
    typer.Option(
        "--color",
        case_sensitive=False,
        help="auto (colours on a terminal, unless NO_COLOR is set), always (in a pipe too: "
        "| less -R) or never.",
    ),
]


def colored(choice: str) -> Console:
    """The console that prints results as ``--color`` says: ``out`` itself for auto; for
    always, one that writes ripgrep's basic ANSI colours wherever stdout goes (NO_COLOR and
    TERM=dumb too, as ``rg --color always`` does); for never, one that writes no escape codes,
    though it still measures a terminal's width."""
    if choice == "auto":
        return out
    return Console(
        highlight=False,
        soft_wrap=False,
        emoji=False,
        markup=False,
        force_terminal=True if choice == "always" else out.is_terminal,
        color_system="standard" if choice == "always" else None,
        no_color=choice == "never",
    )


def package_version() -> str:
    """searchapp's installed version; "unknown" in a source tree that was never installed."""
    from importlib.metadata import PackageNotFoundError, version  # ~10 ms: only here

    try:
        return version("searchapp")
    except PackageNotFoundError:
        return "unknown"


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"search (searchapp) {package_version()}\n")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    _show_version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_version),
    ] = False,
) -> None:
    state["debug"] = debug or bool(os.environ.get("SEARCH_DEBUG"))
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if state["debug"] else logging.WARNING)


class _StderrHandler(logging.StreamHandler):
    """Log records to whatever ``sys.stderr`` is at the time (tests swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass

    def format(self, record: logging.LogRecord) -> str:
        """One line; for an error logged with its exception (a server's failed request), what
        the exception said, and with --debug its traceback below."""
        line = one_line(f"{record.levelname.lower()}: {record.getMessage()}")
        if not record.exc_info or record.exc_info[1] is None:
            return line
        error = record.exc_info[1]
        line += one_line(f" ({type(error).__name__}: {error})")
        if state["debug"]:
            line += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return line


Include = Annotated[
    list[str] | None, typer.Option("--include", help="Only files matching this glob.")
]
Exclude = Annotated[
    list[str] | None, typer.Option("--exclude", help="Skip files matching this glob.")
]
NoDefaultExcludes = Annotated[
    bool,
    typer.Option(
        "--no-default-excludes",
        help="Also index lock files, secrets files, minified and generated text, SVG (see README).",
    ),
]


def inert_text(text: str) -> str:
    from searchapp.interfaces.render import inert

    return inert(text)


def one_line(text: str) -> str:
    """``inert_text`` for a message line: a newline in a file name must not start a new message."""
    return inert_text(text).replace("\n", "\\n")


def human_bytes(value: object) -> str:
    size = float(value)  # type: ignore[arg-type]
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


NAMED_READ_ERRORS = 20  # files or folders that could not be read, named without --verbose
# Files skipped with a reason that says what to do (OCR a scan, save a .doc as .docx), named
# without --verbose when there are this few: counted, they had to be looked for with -v.
NAMED_FIXABLE = 5


def _says_what_to_do(reason: str) -> bool:
    """Whether a skip reason says what to do about the file: not a default exclusion's (a lock
    file, minified text), which says how to index such files, and is told again each run."""
    return "; " in reason and "by default" not in reason and "--no-default-excludes" not in reason


def _kind(reason: str) -> str:
    """A skip's reason less its details: "larger than the 50.0 MiB limit (63.1 MiB)" is
    "larger than the 50.0 MiB limit"."""
    return reason.split(";")[0].split(" (")[0]


def print_skipped(
    console: Console, skipped: list[tuple[str, str]], *, verbose: bool, prefix: str = ""
) -> None:
    """Each skipped file with its reason (``verbose``), else those that could not be read (as
    ripgrep names each, up to ``NAMED_READ_ERRORS``), those whose reason says what to do (up to
    ``NAMED_FIXABLE``) and one line counting the others by reason; each line after ``prefix``
    (`search watch`'s time)."""
    from searchapp.ingest.discovery import is_read_error
    from searchapp.interfaces.render import counted

    def named(path: str, reason: str) -> None:
        console.print(
            Text.assemble(prefix, ("skipped", "yellow"), f" {one_line(path)}: {one_line(reason)}")
        )

    if verbose:
        for path, reason in skipped:
            named(path, reason)
        return
    errors = [(path, reason) for path, reason in skipped if is_read_error(reason)]
    for path, reason in errors[:NAMED_READ_ERRORS]:  # an exit status 3 names its cause
        named(path, reason)
    if len(errors) <= NAMED_READ_ERRORS:
        skipped = [(path, reason) for path, reason in skipped if not is_read_error(reason)]
    fixable = [(path, reason) for path, reason in skipped if _says_what_to_do(reason)]
    # One of each reason before a second of any: five damaged .docx files (a walk's order)
    # kept "review.pdf: needs a password" from ever being named.
    turns: dict[str, int] = {}  # a reason's skips met so far
    order = []
    for position, (_, reason) in enumerate(fixable):
        turns[_kind(reason)] = turns.get(_kind(reason), 0) + 1
        order.append((turns[_kind(reason)], position))
    fixable = [fixable[position] for _, position in sorted(order)]
    for path, reason in fixable[:NAMED_FIXABLE]:  # "scan.pdf: no text layer; run OCR first"
        named(path, reason)
    if len(fixable) <= NAMED_FIXABLE:  # else all are counted below, as read errors are
        skipped = [(path, reason) for path, reason in skipped if not _says_what_to_do(reason)]
    if not skipped:
        return
    reasons: dict[str, int] = {}
    for _, reason in skipped:
        reasons[_kind(reason)] = reasons.get(_kind(reason), 0) + 1
    counts = ", ".join(f"{kind}: {n}" for kind, n in sorted(reasons.items(), key=lambda r: -r[1]))
    folders = sum(reason.startswith("cannot read folder") for _, reason in skipped)
    what = [counted(n, noun) for n, noun in ((len(skipped) - folders, "file"), (folders, "folder"))]
    # After the skips named above: "1 more file", not "1 file" beside the two just named (a
    # student read it as the run's count).
    told_apart = (errors and len(errors) <= NAMED_READ_ERRORS) or (
        fixable and len(fixable) <= NAMED_FIXABLE
    )  # named above and not counted here (a flood of them is counted whole)
    more = " more" if told_apart else ""
    counted_what = " and ".join(w for w in what if not w.startswith("0 "))
    console.print(
        f"{prefix}{counted_what.replace(' ', more + ' ', 1)} skipped ({one_line(counts)}); "
        "--verbose lists them"
    )
