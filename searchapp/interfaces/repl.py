"""``search repl``: answer each line as a query, with the model and index loaded once."""

from __future__ import annotations

import os
import re
import sys
import threading
from dataclasses import dataclass, field

from rich.console import Console
from rich.text import Text

from searchapp.errors import SearchAppError
from searchapp.interfaces.cli_app import EXIT_ERROR
from searchapp.interfaces.render import (
    answer_json,
    counted,
    display_path,
    inert,
    json_lines,
    json_text,
    print_hits,
    print_passage,
    print_results,
)
from searchapp.ranking.searcher import (
    MODES,
    REPL_COMMANDS,
    Hit,
    SearchOptions,
    in_parameter_terms,
)
from searchapp.search_index import SearchIndex
from searchapp.storage.paths import user_data_dir

HELP = """\
Type a query and press Enter. Commands:
  :k N         show N hits per query
  :mode M      ranking: hybrid, dense or lexical
  :path GLOB   only documents whose path matches GLOB (:path alone: all documents)
  :per-doc N   passages per document
  :json        toggle JSON output (one line per query: its query and hits)
  :open N      show hit N of the last query in full, with its surrounding lines
  :settings    show the settings above
  :help        this help
  :quit        leave (Ctrl-D too; Ctrl-C cancels the line or the running query)"""


@dataclass
class Repl:
    index: SearchIndex
    out: Console
    err: Console
    k: int = 10
    mode: str = "hybrid"
    as_json: bool = False
    path_glob: str | tuple[str, ...] | None = None
    per_doc: int = 1
    tables: bool | None = None  # answers as tables (None: when ``out`` is a terminal), else lines
    last: list[Hit] = field(default_factory=list)
    last_query: str = ""
    failed: int = 0  # lines answered with an error
    line_number: int = 0  # of the line being answered, when they are read from a pipe or file
    interactive: bool = True  # lines typed at a terminal, not read from a pipe or file
    told: set[tuple] = field(default_factory=set)  # the files said to have changed, as they were

    def __post_init__(self) -> None:
        SearchOptions(k=self.k, mode=self.mode, path_glob=self.path_glob, per_doc=self.per_doc)

    def run(self) -> int:
        """Answer lines until EOF or :quit; the exit status: 2 when input came from a pipe or
        file and some line failed (as sqlite3 does, every line is still answered), else 0."""
        interactive = self.interactive = sys.stdin.isatty()
        loader: threading.Thread | None = None
        load_asked = False
        if interactive:
            self._enable_history()
            self.err.print(f"searching {inert(str(self.index.index_dir))} — :help for commands")
        while True:
            try:
                line = input("search> ") if interactive else sys.stdin.readline()
            except KeyboardInterrupt:
                if not interactive:  # a pipe's reader: Ctrl-C ends it (130), as `query`
                    raise
                # Cancel the line, keep the session; "^C" after it, as bash shows what it
                # dropped (readline's terminal echoes none).
                self.err.print("^C", markup=False, highlight=False)
                continue
            except EOFError:
                if interactive:
                    self.err.print()  # leave the shell's prompt on a line of its own
                break
            if not interactive and line == "":
                break
            if interactive and line and not line.strip():  # readline kept it: Up showed blanks
                _forget_last_line(line)
            if not interactive:  # errors say which line of the file or pipe they answer
                self.line_number += 1
            if not self.handle(line.strip()):
                break
            if interactive and not load_asked and self.last_query:
                # After the first answer (NumPy's, fast from a cold start), while it is read:
                # PyTorch answers the later queries in about half the time. Loaded from the start,
                # its import slowed a first query typed at once from ~0.3 s to ~0.7 s. Piped
                # input stays on NumPy: nothing to wait for at the end.
                load_asked = True
                loader = self.index.load_encoder_in_background()
        if interactive:
            self._save_history()
        if loader is not None and loader.is_alive():  # torch cut off mid-import can abort
            self.err.print("finishing loading the model…", style="dim")
            loader.join()
        return EXIT_ERROR if self.failed and not interactive else 0

    def handle(self, line: str) -> bool:
        """Answer one line; False when the user asked to leave."""
        if not line:
            return True
        answered = not _is_command(line) or _is_open(line)  # on stdout, not stderr
        if answered and not self.as_json and not (self.interactive and self.out.is_terminal):
            # Each answer (none, or an error on stderr, too) under its line as the prompt
            # showed it, so that it is told from the next: `search repl < questions.txt`.
            self.out.file.write(f"search> {inert(line)}\n")
            self.out.file.flush()
        try:
            if _is_command(line):
                return self._command(line)
            setting = _as_setting(line)
            if setting is not None:  # `-k 5` searched for "-k 5"
                raise SearchAppError(
                    f"`search query`'s options are commands here: {setting} (:help)"
                )
            self._query(line)
        except SearchAppError as exc:
            self.failed += 1
            where = f"line {self.line_number}: " if self.line_number else ""
            said = in_parameter_terms(str(exc), REPL_COMMANDS)  # `:path [`, not --path
            self.err.print(Text.assemble(("error:", "red"), f" {where}{inert(said)}"))
            self._answer_json(line, error=said)
        except KeyboardInterrupt:
            if not self.interactive:
                raise
            self.err.print("cancelled")
            self._answer_json(line, error="cancelled")
        return True

    def _query(self, text: str) -> None:
        options = SearchOptions(
            k=self.k, mode=self.mode, path_glob=self.path_glob, per_doc=self.per_doc
        )
        self.last, self.last_query = self.index.search(text, options), text
        if not self.last and self.path_glob and not self.index.any_document_matches(self.path_glob):
            self._said(f"no indexed document matches the path {self._paths_shown()}")
        if self.as_json:
            self._answer_json(text, hits=self.last)
        elif self.out.is_terminal if self.tables is None else self.tables:
            print_hits(self.out, self.last, text, show_cosine=self.mode != "dense")
        else:  # a pipe or a file: one grep-like line per hit, as `search query` writes there
            print_results(self.out, self.last, text, output="lines")
        self._note_changed_files()

    def _note_changed_files(self) -> None:
        """As `search query` does: a note for each hit's file that changed or went since it was
        indexed (its lines may have moved), once a session for each file and state."""
        from searchapp.interfaces.index_thread import changed_file_line

        for path, how in self.index.changed_files(self.last).items():
            try:  # changed again (after a `search index` elsewhere): told again
                stat = os.stat(path)
                state: tuple = (path, how, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
            except OSError:
                state = (path, how)
            if state not in self.told:
                self.told.add(state)
                self._said(changed_file_line(display_path(path), how))

    def _answer_json(
        self, query: str, hits: list[Hit] | None = None, error: str | None = None
    ) -> None:
        """In JSON mode, one line per query: ``{"query", "hits"}``, or ``{"query", "error"}``
        when it failed (its message is on stderr too), so a script reading the answers of
        piped questions pairs each with its question, failed ones included."""
        if not self.as_json or (_is_command(query) and not _is_open(query)):
            return
        text = answer_json(query, hits or [], error)
        self.out.file.write(json_lines(self.out.file, text) + "\n")
        self.out.file.flush()

    def _command(self, line: str) -> bool:
        name, _, arg = line[1:].partition(" ")
        arg = arg.strip()
        if name in ("q", "quit", "exit"):
            return False
        if name in ("h", "help", "?"):
            self.err.print(HELP, markup=False)
        elif name in ("k", "mode", "per-doc") and not arg:  # as `:set` alone in an editor
            self._said(self._setting(name))
        elif name == "k":
            if not arg.isdigit() or int(arg) < 1:
                raise SearchAppError(f":k needs a positive number, not {arg!r}")
            self.k = int(arg)
            self._said(self._setting("k"))
        elif name == "mode":
            arg = arg.lower()
            if arg not in MODES:
                raise SearchAppError(f":mode must be one of {', '.join(MODES)}, not {arg!r}")
            self.mode = arg
            self._said(self._setting("mode"))
        elif name == "path":
            if len(arg) > 1 and arg[0] == arg[-1] and arg[0] in "'\"":  # typed as in a shell
                arg = arg[1:-1]
            SearchOptions(path_glob=arg)  # refuses a glob that cannot match as meant
            self.path_glob = arg or None
            if not arg:
                self._said("all documents")
            elif arg.startswith("!"):  # as --path '!glob' reads it
                self._said(f"leaving out paths matching {arg[1:]}")
            else:
                self._said(f"only paths matching {arg}")
        elif name == "per-doc":
            if not arg.isdigit() or int(arg) < 1:
                raise SearchAppError(f":per-doc needs a positive number, not {arg!r}")
            self.per_doc = int(arg)
            self._said(self._setting("per-doc"))
        elif name == "json":
            self.as_json = not self.as_json
            self._said(f"JSON output {'on' if self.as_json else 'off'}")
        elif name == "settings":
            self._said(
                f"k {self.k}, mode {self.mode}, path {self._paths_shown()}, "
                f"per-doc {self.per_doc}, json {'on' if self.as_json else 'off'}"
            )
        elif name == "open":
            if not self.last_query:
                raise SearchAppError(":open N shows hit N of the last query; there was none yet")
            if not self.last:
                raise SearchAppError(":open shows a hit of the last query, which found none")
            if not arg.isdigit() or not 1 <= int(arg) <= len(self.last):
                raise SearchAppError(f":open needs a hit number from 1 to {len(self.last)}")
            hit = self.last[int(arg) - 1]
            context = self.index.context(hit, 3)
            if context.changed:
                from searchapp.interfaces.index_thread import changed_file_note

                how = self.index.changed_files([hit]).get(hit.path, "changed")
                said = f"{hit.path} changed since it was indexed"
                if how == "too large":  # `search index` keeps its indexed text
                    said = changed_file_note(hit.path, how)
                self._said(f"{said}: the passage alone")
            if self.as_json:  # a line of the answers' JSON, not text among them
                opened = {"query": line, "path": hit.path, "first_line": context.first_line}
                opened |= {"text": context.text, "changed": context.changed}
                self.out.file.write(json_lines(self.out.file, json_text(opened)) + "\n")
                self.out.file.flush()
            else:
                print_passage(self.out, hit, context, self.last_query)
        else:
            raise SearchAppError(f"unknown command :{name}; type :help")
        return True

    def _setting(self, name: str) -> str:
        if name == "k":
            return f"{counted(self.k, 'hit')} per query"
        if name == "mode":
            return f"ranking: {self.mode}"
        return f"{self.per_doc} passages per document at most"

    def _paths_shown(self) -> str:
        if not self.path_glob:
            return "(all)"
        return self.path_glob if isinstance(self.path_glob, str) else " or ".join(self.path_glob)

    def _said(self, setting: str) -> None:
        self.err.print(inert(setting), style="dim")

    def _enable_history(self) -> None:
        try:
            import readline

            self._history = user_data_dir() / "repl_history"
            if self._history.exists():
                readline.read_history_file(self._history)
            self._history_read = readline.get_current_history_length()
        except (ImportError, OSError):
            self._history = None

    def _save_history(self) -> None:
        """This session's lines added to the file, which keeps the last ``HISTORY_LINES``: two
        REPLs at once each wrote the file whole, the last to end losing the other's lines."""
        try:
            import readline

            history = getattr(self, "_history", None)
            if history is None:
                return
            added = readline.get_current_history_length() - self._history_read
            if added <= 0:
                return
            history.parent.mkdir(parents=True, exist_ok=True)
            history.touch()
            readline.append_history_file(added, history)
            if history.stat().st_size > 200 * HISTORY_LINES:  # now and then, cut to the last
                readline.clear_history()
                readline.read_history_file(history)
                readline.set_history_length(HISTORY_LINES)
                readline.write_history_file(history)
        except (ImportError, OSError):
            pass


HISTORY_LINES = 1000

# `search query`'s options typed at the prompt, and the command that sets each here.
_OPTION = re.compile(
    r"(?:-k\s*(?P<k>\d+)|--mode[\s=]+(?P<mode>hybrid|dense|lexical)|--path[\s=]+(?P<path>\S+)"
    r"|--per-doc[\s=]+(?P<per_doc>\d+)|(?P<json>--json))",
    re.IGNORECASE,
)


def _as_setting(line: str) -> str | None:
    """The REPL command that does what ``line``, one of `search query`'s options, asks
    (``-k 5``: ``:k 5``); None for any other line."""
    found = _OPTION.fullmatch(line)
    if found is None:
        return None
    name, value = next((n, v) for n, v in found.groupdict().items() if v is not None)
    return ":json" if name == "json" else f":{name.replace('_', '-')} {value}"


def _forget_last_line(line: str) -> None:
    """Take ``line`` out of readline's history, where it is last unless readline left it out
    (an empty line, or the same line as the one before: then the last item is another's)."""
    try:
        import readline

        length = readline.get_current_history_length()
        if length and readline.get_history_item(length) == line:
            readline.remove_history_item(length - 1)
    except (ImportError, ValueError):
        pass


def _is_command(line: str) -> bool:
    """Whether ``line`` is a command (`:k 5`), not a query: a reStructuredText role begins with
    a colon too (a maintainer's `:func:`skiff.backoff.exponential``, "unknown command")."""
    return line.startswith(":") and _ROLE.match(line) is None


_ROLE = re.compile(r":[\w.+-]+:`")


def _is_open(line: str) -> bool:
    return line.partition(" ")[0] == ":open"
