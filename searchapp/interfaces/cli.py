"""The ``search`` command: a thin typer layer over ``SearchIndex``.

``cli_app.py`` holds the app and its shared options, ``commands_index.py`` the commands that write
the index (index, remove, watch), ``commands_search.py`` those that read it (query, repl, eval,
info, models) and ``commands_serve.py`` the servers (serve, mcp). Every error a user can cause is
one line on stderr; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import copy
import errno
import gc
import io
import os
import shlex
import signal
import sys
import traceback
from typing import NoReturn

import typer

from searchapp.errors import IndexInterrupted, SearchAppError
from searchapp.interfaces import commands_index, commands_search, commands_serve  # noqa: F401
from searchapp.interfaces.cli_app import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    app,
    inert_text,
    out,  # noqa: F401 - tests set its width
    state,
    stop_cause,
    stopped_status,
)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every user error into one line on stderr."""
    if argv is None:
        _guard_closed_streams()
        _print_what_can_be_printed()
    try:
        _main(argv)
    finally:
        if argv is None:
            _end_at_once_on_a_signal()
        if argv is None and state.get("closed_for_exit"):  # the `search` process ends now
            # Python's last collection at exit walks every object torch created: 0.35 s after
            # `search index`, none with them frozen first. Frozen objects are never collected,
            # so only a command that has closed what it opened (its SQLite connection: its
            # WAL is checkpointed on close) asks for it.
            gc.freeze()


def _end_at_once_on_a_signal() -> None:
    """The command is done: a Ctrl-C or SIGTERM while the interpreter ends (joining threads,
    running exit hooks) ends the process now, with the signal's status, rather than raising
    into those hooks (a second SIGTERM to `serve --watch` printed "Exception ignored in
    atexit callback" and a traceback). One that is ignored stays ignored."""
    for signum in _STOPPING_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _exit_now)


def _exit_now(signum: int, frame: object) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
            pass
    os._exit(128 + signum)


def _guard_closed_streams() -> None:
    """A standard stream the shell closed (`search query x >&-`, `<&-`): its descriptor is
    opened on /dev/null, so that no file opened later (the index's database) takes its number
    and what is meant for the stream; writing to stdout, or reading stdin, is then an error
    (status 2), as grep reports "write error": the hits were lost with status 0, and `repl`
    ended in a traceback. Writing to a closed stderr is silent, as nothing could say it."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is not None:  # Python found it open
            continue
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        setattr(sys, name, open(os.devnull, "w") if name == "stderr" else _Closed(name))


def _error_message(exc: Exception) -> str:
    """``exc`` as one line; an OS error without its "[Errno N]" (grep's "write error: No space
    left on device", not Python's "[Errno 28] No space left on device")."""
    message = str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        names = [
            os.fsdecode(name)
            for name in (exc.filename, exc.filename2)
            if isinstance(name, (str, bytes, os.PathLike))  # not a descriptor's number
        ]
        message = ": ".join([" -> ".join(names), exc.strerror] if names else [exc.strerror])
        if names and exc.errno in (errno.ENOSPC, errno.EDQUOT):  # a file of the index, told
            # as SQLite's full disk is (not standard output: `> /dev/full` says grep's words)
            message += "; free some space and run the command again"
    return " ".join(message.split()) or type(exc).__name__


class _Closed(io.TextIOBase):
    """A standard stream that was closed: using it raises ``OSError`` (EBADF), which the
    command reports as its error."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def encoding(self) -> str:
        return "utf-8"

    def _closed(self, *args: object) -> NoReturn:
        what = "output" if self.name == "stdout" else "input"
        raise OSError(errno.EBADF, f"standard {what} is closed")

    write = read = readline = _closed

    def readable(self) -> bool:
        return self.name == "stdin"

    def writable(self) -> bool:
        return self.name == "stdout"

    def isatty(self) -> bool:
        return False


def _print_what_can_be_printed() -> None:
    """On a terminal or pipe whose encoding is not UTF-8 (LANG=C, PYTHONIOENCODING=latin-1),
    a character it cannot write becomes "?" (JSON output escapes it: ``render.json_lines``):
    the "…" that ends a cut passage stopped every query there with an error."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="replace")


# Ctrl-C, and the signals a writer takes as Ctrl-C (``_terminate_as_interrupt``).
_STOPPING_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    """SIGTERM (`timeout 60 search index`, `kill`, a service stopping) or SIGHUP (the terminal
    or SSH session of `search watch` closed) stops a writer as Ctrl-C does: the batch under way
    commits, a line says what was kept, and the status is 128 + the signal's number (143,
    129). It was killed silently (committed work was kept, but nothing said so)."""
    state["terminated"] = signum
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):  # the run's own (commits first), or Python's (KeyboardInterrupt)
        handler(signal.SIGINT, frame)
    else:  # Ctrl-C ignored (started with `&` from a script): SIGTERM still stops it
        raise KeyboardInterrupt


# How other tools ask for N results; here it is -k.
_COUNT_OPTIONS = frozenset({"-n", "-m", "--max-count", "--limit", "--top", "--count"})
_CONTEXT_OPTIONS = frozenset({"-A", "-B", "--after-context", "--before-context"})
# grep's and ripgrep's flags that have no match here, with what does the job (a Go
# developer's `search query -i retry` was told the query goes after --).
_GREP_FLAGS = {
    **dict.fromkeys(("-i", "--ignore-case", "-S", "--smart-case"), "case is always aside"),
    **dict.fromkeys(("-w", "--word-regexp"), "-F holds whole words, as grep -Fw"),
    **dict.fromkeys(("-r", "-R", "--recursive"), "search index DIR takes in a folder's files"),
    **dict.fromkeys(("-e", "--regexp", "-E", "-P"), "no patterns; -F holds the query as written"),
    **dict.fromkeys(("-v", "--invert-match"), "no inverted matches; --path '!GLOB' leaves out"),
}


_COMMANDS = (
    "index",
    "remove",
    "watch",
    "query",
    "repl",
    "get",
    "eval",
    "info",
    "models",
    "serve",
    "mcp",
)


def _usage_hint(args: list[str], message: str) -> str:
    """What a query's usage mistake most likely was, as ripgrep users make it."""
    if message.startswith("No such option: ") and args[:1] and args[0].startswith("-"):
        command = next((a for a in args if a in _COMMANDS), "query")
        return f" (options go after the command: search {command} {args[0].split('=')[0]} ...)"
    # A file whose name begins with "-" (`search get -notes.md`: "No such option: -o").
    named = [arg for arg in args[1:] if arg.startswith("-") and os.path.lexists(arg.split(":")[0])]
    if message.startswith("No such option: ") and named and args[:1] in (["get"], ["remove"]):
        return f" (a file named {named[0]!r} goes after --: search {args[0]} -- {named[0]})"
    if message.startswith("No such command") and "Did you mean" not in message and args:
        return f" (to search for it: search query {shlex.quote(args[0])})"  # `search "x y"`
    if message.startswith("Missing argument") and args[:1] == ["query"]:
        return ' (search query "what to find"; - reads it from stdin; search query --help)'
    if (
        message.startswith(("Missing argument", "Missing option"))
        and args[:1]
        and args[0] in _COMMANDS
    ):
        return f" (search {args[0]} --help tells what it takes)"
    if args[:1] != ["query"]:
        return ""
    if message.startswith("Got unexpected extra argument"):
        after = args[args.index("--") + 1 :] if "--" in args else []
        if any(arg.startswith("-") for arg in after[1:]):
            return ' (options go before --: search query -k 3 -- "-x flag")'
        return ' (quote a query of several words: search query "retry policy"; --path DIR narrows)'
    option = message.removeprefix("No such option: ").split()[0] if "option:" in message else ""
    if option.split("=")[0] in _COUNT_OPTIONS:  # qmd's -n, ripgrep's -m, llm's --limit
        return ' (-k N sets how many hits: search query -k 3 "retry policy")'
    if option[:2] in _CONTEXT_OPTIONS or option.split("=")[0] in _CONTEXT_OPTIONS:  # grep's
        return ' (-C N prints N lines before and after each hit: search query -C 2 "retry")'
    if option.split("=")[0] in _GREP_FLAGS:
        return f" ({_GREP_FLAGS[option.split('=')[0]]}: search query --help)"
    given = message.removeprefix("No such option: ").split(" (")[0]
    # "-x flag", or "--verbose flag": a long option has no space in it, a query may.
    if message.startswith("No such option: -") and (not given.startswith("--") or " " in given):
        return ' (a query that begins with "-" goes after --: search query -k 3 -- "-x flag")'
    if message.startswith("No such option: --"):  # "--dry-run": an option, or the query, as
        # ripgrep tells of an unknown flag
        return f" (to search for it: search query -- {shlex.quote(given)})"
    return ""


def _command_first(args: list[str]) -> list[str]:
    """``args`` with the command first: `--index-dir D` before it (`search --index-dir D query
    x`, as `git -C D log` takes it) was "No such option". Only that option is moved, read by
    position: a value is never taken for the command (`--index-dir index`). `search help
    [COMMAND]` is `search [COMMAND] --help`, as git's and cargo's."""
    if args[:1] == ["help"]:
        return [args[1], "--help"] if len(args) == 2 and args[1] in _COMMANDS else ["--help"]
    moved = 0
    while args[moved:] and (
        args[moved].startswith("--index-dir=")
        or (args[moved] == "--index-dir" and args[moved + 1 :])
    ):
        moved += 1 if "=" in args[moved] else 2
    if not moved:
        return args
    if moved >= len(args):  # options and no command: the usage, as `search` alone
        return []
    return [args[moved], *args[:moved], *args[moved + 1 :]]


def _app_for(args: list[str]) -> typer.Typer:
    """``app``, with only the command ``args`` name when they begin with one: typer builds a
    click command from every command's signature, ~9 ms for all ten against ~2 ms for one, on
    every run. Anything else (an option first, a mistyped name) gets the whole app, whose usage
    and "No such command" errors name them all."""
    if not args or args[0] not in _COMMANDS:
        return app
    named = [info for info in app.registered_commands if _command_name(info) == args[0]]
    if len(named) != 1:
        return app
    only = copy.copy(app)  # the same callback and settings; app itself is left as it is
    only.registered_commands = named
    return only


def _command_name(info: typer.models.CommandInfo) -> str | None:
    if info.name:
        return info.name
    return info.callback.__name__.lower().replace("_", "-") if info.callback else None


def _tell(line: str) -> None:
    """Write a line on stderr; one that cannot be written (`2>/dev/full`) is lost, and the
    status stays the command's (it was Python's 1: an error looked like "nothing found")."""
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _main(argv: list[str] | None) -> None:
    args = sys.argv[1:] if argv is None else argv
    # --debug is the app's option, but people put it anywhere: `search query x --debug`.
    end = args.index("--") if "--" in args else len(args)
    debug = "--debug" in args[:end] or bool(os.environ.get("SEARCH_DEBUG"))
    args = [arg for arg in args[:end] if arg != "--debug"] + args[end:]
    args = _command_first(args)
    if argv is None and hasattr(signal, "SIGPIPE") and args[:1] != ["serve"]:
        # `search query ... | head -1`: end quietly when the reader has gone, as grep does
        # (killed by SIGPIPE, status 141), not with an error or a "nothing found" status.
        # Not a server: a client that hangs up before its answer must not end it.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if "OPENBLAS_CORETYPE" not in os.environ:
        # NumPy's OpenBLAS takes AVX2 kernels on AMD CPUs with AVX-512: half the speed of its
        # AVX-512 ones for the NumPy encoder (queries, small index runs). Before NumPy loads.
        from minilm.cpuinfo import openblas_coretype

        core = openblas_coretype()
        if core is not None:
            os.environ["OPENBLAS_CORETYPE"] = core
    if args[:1] in (["query"], ["repl"], ["serve"], ["mcp"]):
        # Queries embed one at a time with NumPy: one BLAS thread is fastest for one short text
        # and steady on a busy machine (benchmarks/RESULTS.md, "NumPy encoder"). NumPy reads
        # this when it loads, which it has not yet.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if args[:1] in (["index"], ["watch"], ["serve"]):
        # Indexing tokenizes beside the encoder, which keeps every core busy: the tokenizers
        # library's own thread pool only takes turns from it (the Cranfield files took 2.30 s
        # of CPU to read and tokenize with it, 1.93-2.02 s without; `search index` ~0.5 s
        # faster). Set before any thread starts: the library reads it on every call.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    state["interrupt_said"], state["terminated"] = False, 0
    if argv is None and args[:1] in (["index"], ["watch"], ["serve"]):
        for signum in _STOPPING_SIGNALS[1:]:
            if signal.getsignal(signum) is not signal.SIG_IGN:  # `nohup search watch`: ignored
                signal.signal(signum, _terminate_as_interrupt)
    try:  # building the command is inside: Ctrl-C in the first 0.1 s is "interrupted" too
        command = typer.main.get_command(_app_for(args))
        code = command.main(
            args=["--debug", *args] if debug else args, prog_name="search", standalone_mode=False
        )
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:  # Ctrl-D at a prompt
        code = EXIT_INTERRUPTED
    except typer.TyperException as exc:  # usage errors: bad option values, unknown commands
        if type(exc).__name__ == "NoArgsIsHelpError":  # `search` alone: usage, as grep's
            _tell(exc.format_message().rstrip("\n") + "\n")
            sys.exit(EXIT_ERROR)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        message = " ".join(message.split())
        _tell(f"error: {message}{_usage_hint(args, message)}\n")
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except IndexInterrupted as stopped:  # Ctrl-C while `watch` or `serve --watch` indexed
        from searchapp.interfaces.render import interrupted_line

        _tell(interrupted_line(stopped.report, cause=stop_cause()) + "\n")
        sys.exit(stopped_status())
    except (SearchAppError, ValueError, OSError) as exc:
        if debug:  # the traceback, and still the status of an error (2), not Python's 1
            traceback.print_exc()
            sys.exit(EXIT_ERROR)
        _tell(f"error: {inert_text(_error_message(exc))}\n")
        sys.exit(EXIT_ERROR)
    if code == EXIT_INTERRUPTED and not state.get("interrupt_said"):
        _tell(f"terminated by {stop_cause()}\n" if state["terminated"] else "interrupted\n")
    if code == EXIT_INTERRUPTED:
        code = stopped_status()  # 128 + SIGTERM's number (143), as a process killed by it
    if isinstance(code, int) and code:
        sys.exit(code)
