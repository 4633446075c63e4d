"""`search query`, `repl`, `eval`, `info` and `models`: the commands that read the index."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Collection, Sequence
from contextlib import closing
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table

from searchapp.errors import BadInputError, SearchAppError
from searchapp.interfaces.cli_app import (
    EXIT_NOTHING_FOUND,
    Color,
    Device,
    Format,
    IndexDir,
    Mode,
    app,
    colored,
    err,
    human_bytes,
    inert_text,
    one_line,
    out,
    state,
)

PathGlob = Annotated[
    list[str] | None,
    typer.Option(
        "--path",
        help="Only documents matching this glob ('*.{md,txt}') or under this folder "
        "(repeatable: any of them); '!glob' leaves out what it matches ('!tests/').",
    ),
]
PerDoc = Annotated[int, typer.Option("--per-doc", help="Passages per document.")]
# The files `-F TEXT -l` lists without -k: every file holding it, as grep -Fl, up to this.
FIXED_FILES_MOST = 1000

if TYPE_CHECKING:
    from searchapp.ranking.searcher import Hit
    from searchapp.search_index import Context, SearchIndex


@app.command()
def query(
    text: Annotated[
        str | None,
        typer.Argument(
            metavar="TEXT",
            help="What to search for; - (or none, from a pipe) reads it from stdin.",
            show_default=False,
        ),
    ] = None,
    index_dir: IndexDir = None,
    top_k: Annotated[
        int | None,
        typer.Option(
            "-k",
            "--top-k",
            help="How many hits [default: 10; -F with -l: every file holding it, up to "
            f"{FIXED_FILES_MOST:,}].",
            show_default=False,
        ),
    ] = None,
    min_score: Annotated[
        float | None,
        typer.Option("--min-score", help="Drop hits whose score (as shown) is below this."),
    ] = None,
    path: PathGlob = None,
    per_doc: Annotated[
        int | None,
        typer.Option(
            "--per-doc",
            help="Passages per document [default: 1; -F: as many as -k, each line holding it].",
            show_default=False,
        ),
    ] = None,
    context: Annotated[
        int | None,
        typer.Option(
            "-C",
            "--context",
            help="Lines of context: around the hit's line (lines output), around its passage "
            "(table).",
        ),
    ] = None,
    mode: Mode = "hybrid",
    device: Device = "auto",
    output: Annotated[
        Format | None,
        typer.Option(
            "--format",
            help="table (default on a terminal), lines (path:line: score text, the default in "
            "a pipe), json (one array) or jsonl (one hit per line).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    files_only: Annotated[
        bool, typer.Option("-l", "--files-with-matches", help="Print only the matching paths.")
    ] = False,
    null: Annotated[
        bool,
        typer.Option(
            "-0",
            "--null",
            help="A NUL after each path: in place of -l's newline (xargs -0), of the ':' after "
            "a hit's path (lines output, as grep -Z: a name holding ':' stays one field).",
        ),
    ] = False,
    fixed: Annotated[
        bool,
        typer.Option(
            "-F",
            "--fixed-strings",
            help="Only passages holding TEXT as written (case and accents aside; whole words at "
            "its ends); exit 1 when none does, as grep -Fw.",
        ),
    ] = False,
    like: Annotated[
        str | None,
        typer.Option(
            "--like",
            metavar="DOCUMENT",
            help="In place of TEXT: passages of other documents nearest in meaning to this "
            "indexed one (a path, a doc_id, a note's name or [[link]]), from its stored "
            "vectors.",
            show_default=False,
        ),
    ] = None,
    color: Color = "auto",
) -> None:
    """Search the index and print ranked passages (exit 1 when nothing matches)."""
    from searchapp.interfaces.render import display_path, print_results
    from searchapp.ranking.searcher import SearchOptions
    from searchapp.search_index import MAX_QUERY_CHARS, SearchIndex
    from searchapp.storage.paths import index_dir_option

    if context is not None and context < 0:
        raise SearchAppError(f"--context ({context}) must be 0 or more")
    if as_json and output not in (None, "json"):
        raise SearchAppError(f"--json means --format json; drop --json or --format {output}")
    if files_only and (as_json or output not in (None, "lines")):
        given = "--json" if as_json else f"--format {output}"
        raise SearchAppError(f"-l prints only paths, one a line; drop {given}")
    if files_only:
        context = None  # as grep -l -C 1 and rg -l -C 1: the paths, no lines around anything
    if null and not files_only and (as_json or output not in (None, "lines")):
        given = "--json" if as_json else f"--format {output}"
        raise SearchAppError(f"-0 puts a NUL after each path of -l or lines output; drop {given}")
    if context is not None and (as_json or output in ("json", "jsonl")):
        raise SearchAppError("-C adds lines to table and lines output, not to JSON; drop -C")
    k_given = top_k is not None
    if top_k is None:  # as grep -Fl: every file holding it (a historian's -F -l listed 10 of 24)
        top_k = FIXED_FILES_MOST if fixed and files_only else 10
    # -F as grep -F: every line holding it (a log's 2,021 gave 1); one more is looked for, to
    # say whether -k stopped it
    lines_of_fixed = fixed and not files_only and per_doc is None
    if per_doc is None:
        per_doc = top_k + 1 if lines_of_fixed else 1
    options = SearchOptions(
        k=top_k + lines_of_fixed,
        mode=mode,
        min_score=min_score,
        path_glob=tuple(path or ()),
        per_doc=per_doc,
        fixed=fixed,
        like=like,
    )
    if like is not None and text is not None:
        raise SearchAppError("give TEXT or --like DOCUMENT, not both")
    # `echo "retry policy" | search query`, as llm reads it; or `-`, as grep reads a file
    # named "-": `xclip -o | search query -`.
    if like is not None:
        text = ""
    elif text is None and sys.stdin.isatty():
        raise typer.TyperException("Missing argument 'TEXT'.")
    if text is None or text == "-":
        try:
            read = sys.stdin.read(MAX_QUERY_CHARS + 1)  # no more: a file piped in by mistake
        except OSError:  # stdin closed (`<&-`): said so when `-` asked for it
            if text == "-":
                raise
            read = ""
        if text is None and not read.strip():  # nothing piped (`< /dev/null`, cron)
            raise typer.TyperException("Missing argument 'TEXT'.")
        text = read
        if len(text) > MAX_QUERY_CHARS:  # its length is not known, only that it is too long
            raise SearchAppError(
                f"the query on stdin is over {MAX_QUERY_CHARS:,} characters, the most a query "
                "may be (the model reads only its first few hundred words): shorten it"
            )
    search_index = SearchIndex(index_dir, device=device)
    # Closed before the command returns, so the process ends without collecting what it made
    # (cli.main): Python's teardown took 64-80 ms of a 400 ms query, 23 ms so.
    state["closed_for_exit"] = True
    with closing(search_index):
        hits = search_index.search(text, options)  # --like: no query words to light up
        stopped = lines_of_fixed and len(hits) > top_k
        hits = hits[:top_k]
        chosen = "json" if as_json else output or ("table" if out.is_terminal else "lines")
        if lines_of_fixed and chosen in ("lines", "table"):
            # as grep -F prints them: a file's lines in their order, each file where its best
            # line ranked (a data analyst's `-F D1047` gave lines 324, 87, 60, ...)
            hits = _in_file_order(hits)
        if null and output is None:
            chosen = "lines"  # on a terminal too, as rg -0 writes its lines
        # As grep -l, -l names files there are: one gone since it was indexed (its note
        # says so) broke `| xargs -0 ls`.
        listed = [p for hit in hits for p in (hit.path, *hit.also)] if files_only else []
        gone = {path for path in listed if not os.path.isfile(path)}
        print_results(
            colored(color),
            hits,
            text,
            output=chosen,
            files_only=files_only,
            left_out=gone,
            null=null,
            show_cosine=mode != "dense" and like is None,  # --like: the cosine is its score
            # -C 0 too, as grep's: the hit's line alone, groups apart by "--"
            context=_context_of(search_index, context) if context is not None else None,
            own_lines=lines_of_fixed,
        )
        if not context:  # -C N reads the files, and says so for each changed one; -C 0 not
            _note_changed_files(search_index, hits, gone - {hit.path for hit in hits})
        if files_only and not k_given and len(hits) == options.k:  # grep -l lists all
            err.print(
                f"note: the files of the first {options.k} hits; -k {options.k * 10} lists more",
                style="dim",
            )
        if stopped:
            err.print(
                f"note: {top_k} of the lines holding it; -k {top_k * 10} shows more",
                style="dim",
            )
        if listed and not set(listed) - gone:
            raise typer.Exit(EXIT_NOTHING_FOUND)  # each file gone: nothing listed
        if not hits:
            if not search_index.store.count_documents():  # not a miss: there is nothing to find
                command = f"search index PATH{index_dir_option(search_index.index_dir)}"
                err.print(f"the index holds no documents; `{command}` adds some")
            elif path and not search_index.any_document_matches(options.path_glob):
                shown = " or ".join(f"'{glob}'" for glob in path)  # repr doubled a backslash
                alike, found = search_index.named_alike(path[0]) if len(path) == 1 else ("", [])
                hint = ""
                if found:
                    names = ", ".join(display_path(p) for p in found[:3])
                    more = ", ..." if len(found) > 3 else ""
                    hint = f"; --path '{alike}' matches {names}{more}"
                err.print(f"no indexed document matches --path {one_line(shown)}{one_line(hint)}")
            raise typer.Exit(EXIT_NOTHING_FOUND)


def _in_file_order(hits: Sequence[Hit]) -> list[Hit]:
    """``hits`` with each file's together, in line order (a JSONL file's records as ranked),
    the files in their best hits' order, numbered so."""
    from dataclasses import replace

    first = {hit.path: None for hit in hits}
    order = {path: n for n, path in enumerate(first)}

    def place(hit: Hit) -> tuple[int, int, int]:
        return order[hit.path], hit.line if hit.doc_id == hit.path else 0, hit.rank

    return [replace(hit, rank=n) for n, hit in enumerate(sorted(hits, key=place), start=1)]


def _note_changed_files(
    search_index: SearchIndex, hits: Sequence[Hit], gone_copies: Collection[str] = ()
) -> None:
    """A line on stderr for each hit's file that changed or went since it was indexed: its
    `path:line` may no longer be that line (`vim -q` lands elsewhere); and for each copy that
    went (``gone_copies``: -l leaves them out)."""
    from searchapp.interfaces.index_thread import changed_file_line
    from searchapp.interfaces.render import display_path

    changed = search_index.changed_files(hits) | dict.fromkeys(sorted(gone_copies), "gone")
    for path, how in changed.items():
        err.print(changed_file_line(display_path(path), how), style="dim")


def _context_of(search_index: SearchIndex, lines: int) -> Callable[[Hit], Context]:
    """A hit's context, saying once per file on stderr when the file changed since indexing
    (its passage is then shown alone)."""
    from searchapp.interfaces.index_thread import changed_file_note
    from searchapp.interfaces.render import display_path

    told: set[str] = set()

    def context(hit: Hit) -> Context:
        found = search_index.context(hit, lines)
        if found.changed and hit.path not in told:
            told.add(hit.path)
            shown = display_path(hit.path)  # as the hits and the other notes name it
            if search_index.changed_files([hit]).get(hit.path) == "too large":  # kept as is
                note = changed_file_note(shown, "too large")
                err.print(f"note: {note}; no context around its passages", style="dim")
                return found
            what = "changed" if os.path.isfile(hit.path) else "is gone"  # a folder there too
            fix = "run `search index`"  # it drops a deleted file, and finds a renamed one
            if not os.path.isdir(os.path.dirname(hit.path)):
                # a bare `search index` keeps what lies in a folder that is not there
                fix = f"`search remove {shown}` drops it"
            err.print(
                f"note: {shown} {what} since it was indexed: no context around its passages "
                f"({fix})",
                style="dim",
            )
        return found

    return context


@app.command()
def repl(
    index_dir: IndexDir = None,
    top_k: Annotated[int, typer.Option("-k", "--top-k", help="How many hits.")] = 10,
    path: PathGlob = None,
    per_doc: PerDoc = 1,
    mode: Mode = "hybrid",
    device: Device = "auto",
    output: Annotated[
        Literal["table", "lines", "json", "jsonl"] | None,
        typer.Option(
            "--format",
            help="table (default on a terminal), lines (path:line: score text, the default in "
            "a pipe) or json (one line per query: {query, hits}, or {query, error}; jsonl is "
            "the same).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    color: Color = "auto",
) -> None:
    """Interactive prompt: the model and index stay loaded between queries (:help lists its
    commands). Lines piped in are answered in turn; exit 2 when one of them failed."""
    from searchapp.interfaces.repl import Repl
    from searchapp.search_index import SearchIndex

    if output == "jsonl":  # the REPL's json is one line per query already
        output = "json"
    if as_json and output not in (None, "json"):
        raise SearchAppError(f"--json means --format json; drop --json or --format {output}")
    session = Repl(
        SearchIndex(index_dir, device=device),
        out=colored(color),
        tables=out.is_terminal if output in (None, "json") else output == "table",
        err=err,
        k=top_k,
        mode=mode,
        as_json=as_json or output == "json",
        path_glob=tuple(path) if path else None,
        per_doc=per_doc,
    )
    session.index.stats()  # fail now, not at the first query, when there is no index
    raise typer.Exit(session.run())


@app.command()
def get(
    path_or_doc_id: Annotated[
        str,
        typer.Argument(
            help="An indexed file's path (PATH:LINE: the function or passage there), a doc_id "
            "from the results (a JSONL record's or a mailbox message's 'PATH #ID', or its "
            "bare ID while one file has it), a note's name (any case, no .md), or an Obsidian "
            "link: [[Note]], [[Note#Heading]] (that section).",
            show_default=False,
        ),
    ],
    index_dir: IndexDir = None,
    lines: Annotated[
        str | None,
        typer.Option(
            "--lines",
            help="Only these lines: 10-20, 10- (to the end), -20 (from the start) or 12.",
            metavar="A-B",
            show_default=False,
        ),
    ] = None,
    pages: Annotated[
        str | None,
        typer.Option(
            "--page",
            help="Only the lines of these pages of a PDF (as hits name them: p.12, as the PDF "
            "prints them): 12, 12-14, iv.",
            metavar="A-B",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON, as `search serve`'s /documents gives it.")
    ] = False,
    line_numbers: Annotated[
        bool,
        typer.Option("-n", "--line-number", help="Each line after its number: 634:text (grep -n)."),
    ] = False,
) -> None:
    """Print an indexed document's text as indexed: a PDF's or Word file's extracted text, a
    JSONL record, a mailbox's message (exit 2 when it is not an indexed document). FILE:LINE
    (a hit as printed) prints the function or class holding that line in source code, else its
    passage."""
    from searchapp.interfaces.index_thread import changed_file_line
    from searchapp.interfaces.render import display_path, json_lines, json_text
    from searchapp.search_index import SearchIndex
    from searchapp.storage.documents import line_range, page_range

    if lines is not None and pages is not None:
        raise BadInputError("give --lines or --page, not both")
    wanted = line_range(lines) if lines is not None else None
    pages_wanted = page_range(pages) if pages is not None else None
    search_index = SearchIndex(index_dir)
    with closing(search_index):
        document = search_index.get_document(
            path_or_doc_id, wanted, pages=pages_wanted, labelled=True
        )
        for path, how in search_index.changed_files([document]).items():
            err.print(changed_file_line(display_path(path), how), style="dim")
    if as_json:
        sys.stdout.write(json_lines(sys.stdout, json_text(document.to_json())) + "\n")
    elif line_numbers and (document.text or document.line_count):
        numbered = enumerate(document.text.split("\n"), start=document.start_line)
        sys.stdout.write("".join(f"{number}:{line}\n" for number, line in numbered))
    elif document.text or document.line_count:
        sys.stdout.write(document.text + "\n")


@app.command("eval")
def evaluate(
    queries: Annotated[
        str, typer.Option("--queries", help="Queries: BEIR queries.jsonl (_id, text) or TSV.")
    ],
    qrels: Annotated[
        str,
        typer.Option(
            "--qrels",
            help="Judgments: BEIR qrels TSV (or its qrels folder: test.tsv) or TREC qrels.",
        ),
    ],
    index_dir: IndexDir = None,
    mode: Annotated[
        list[str] | None,
        typer.Option(
            "--mode",
            help="hybrid, dense, lexical or all (repeatable; default: all three side by side).",
        ),
    ] = None,
    top_k: Annotated[int, typer.Option("-k", help="Cutoff for nDCG and MRR.")] = 10,
    depth: Annotated[int, typer.Option("--depth", help="Cutoff for recall and MAP.")] = 100,
    path: Annotated[
        str | None,
        typer.Option("--path", help="Rank only files matching this glob or under this folder."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Measure ranking quality on judged queries: nDCG, MRR, recall and MAP per mode."""
    from searchapp.interfaces.render import counted, json_lines, json_text
    from searchapp.ranking.evaluation import evaluate_modes, read_qrels, read_queries
    from searchapp.ranking.path_filter import path_filter
    from searchapp.ranking.searcher import MODES, SearchOptions
    from searchapp.search_index import SearchIndex

    asked = [name for m in (mode or ["all"]) for name in (MODES if m == "all" else [m])]
    modes = list(dict.fromkeys(asked))
    for name in modes:
        SearchOptions(mode=name)  # validates the name
    if top_k < 1 or depth < 1:
        raise SearchAppError(f"-k ({top_k}) and --depth ({depth}) must be positive")
    query_texts = read_queries(queries)
    judgments = read_qrels(qrels)
    search_index = SearchIndex(index_dir)
    judgments = _judged_as_indexed(search_index, judgments, query_texts, path)

    def search_many(texts: list[str], options: SearchOptions) -> list[list[Hit]]:
        # A terminal sees which mode it waits for (Cranfield's three: a minute, said nothing).
        which = f"{modes.index(options.mode) + 1} of {len(modes)}"
        status.update(f"ranking {len(texts)} queries, {options.mode} ({which})…")
        return search_index.search_many(texts, options)

    with err.status("ranking…") as status:  # nothing where stderr is not a terminal
        results = evaluate_modes(
            search_many,
            query_texts,
            judgments,
            modes,
            k=top_k,
            depth=depth,
            path_glob=path,
        )
    metric_names = [k for k in next(iter(results.values())) if "@" in k]
    if not any(row[m] for row in results.values() for m in metric_names):
        err.print(
            "warning: no ranking found a single relevant document: are the judged documents in "
            "this index (`search info`), and do the qrels' ids and --path name them?"
        )
    if as_json:
        sys.stdout.write(json_lines(sys.stdout, json_text(results)) + "\n")
        return
    counts = search_index.store.document_counts_by_path()
    matches = path_filter(path)
    documents = sum(n for doc_path, n in counts.items() if matches(doc_path))
    corpus = counted(documents, "document") + (f" matching --path {path}" if path else "")
    table = Table(title=f"{len(query_texts)} queries, {corpus}")
    table.add_column("mode")
    for metric in metric_names:
        name, _, cutoff = metric.partition("@")
        label = {"ndcg": "nDCG", "mrr": "MRR", "recall": "Recall", "map": "MAP"}[name]
        table.add_column(f"{label}@{cutoff}", justify="right")
    table.add_column("queries", justify="right")
    for name, row in results.items():
        table.add_row(name, *(f"{row[m]:.4f}" for m in metric_names), str(row["queries"]))
    out.print(table)
    skipped = next(iter(results.values()))["skipped"]
    if skipped:
        reasons: dict[str, list[str]] = {}
        for item in skipped:
            reasons.setdefault(item["reason"], []).append(item["query"])
        for reason, qids in reasons.items():
            shown = ", ".join(qids[:10]) + (" …" if len(qids) > 10 else "")
            err.print(f"skipped {len(qids)} queries ({reason}): {inert_text(shown)}")


def _judged_as_indexed(
    search_index: SearchIndex,
    judgments: dict[str, dict[str, int]],
    queries: dict[str, str],
    path: str | None,
) -> dict[str, dict[str, int]]:
    """The judgments, a relative path among their ids read from the current folder (as --path
    and `search remove` read one) where that names an indexed file; a warning names the
    relevant documents of the scored queries the index still lacks: they count as misses."""
    from searchapp.ranking.path_filter import path_filter
    from searchapp.storage.paths import absolute
    from searchapp.storage.schema import record_id

    matches = path_filter(path)
    indexed = {
        record_id(row.doc_id, doc_path)
        for doc_path, rows in search_index.store.documents_by_path().items()
        if matches(doc_path)
        for row in rows
    }

    def as_indexed(doc: str) -> str:
        if doc in indexed or doc.startswith("/"):
            return doc
        found = str(absolute(doc))
        return found if found in indexed else doc

    resolved = {
        qid: {as_indexed(doc): gain for doc, gain in docs.items()}
        for qid, docs in judgments.items()
    }
    judged = {
        doc
        for qid, docs in resolved.items()
        if qid in queries
        for doc, gain in docs.items()
        if gain > 0
    }
    missing = sorted(judged - indexed)
    if missing:
        shown = ", ".join(repr(doc) for doc in missing[:3]) + (" …" if len(missing) > 3 else "")
        err.print(
            f"warning: {len(missing)} of {len(judged)} relevant documents in the qrels are not "
            f"in this index{' under --path' * bool(path)} ({one_line(shown)}); they "
            "count as misses in every score"
        )
    return resolved


@app.command()
def info(
    index_dir: IndexDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the index: model, indexed folders, documents, chunks, sizes on disk."""
    from searchapp.interfaces.render import counted, display_path, json_lines, json_text
    from searchapp.search_index import SearchIndex

    stats = SearchIndex(index_dir).stats()
    if as_json:
        sys.stdout.write(json_lines(sys.stdout, json_text(stats)) + "\n")
        return
    rows: list[tuple[str, str]] = []
    for key, value in stats.items():
        if key == "roots":
            for n, root in enumerate(value):
                count = root["documents"]
                shown = f"{root['path']} ({counted(count, 'document')})"
                if root["within"]:  # its documents are counted in the outer root's too
                    shown = f"{shown[:-1]}, within {root['within']})"
                if root["filters"]:
                    shown = f"{shown[:-1]}; {root['filters']})"
                rows.append(("indexed" if n == 0 else "", shown))
            continue
        if key == "incomplete_documents":
            if value:  # searched as far as they go; said, as a hit from one looked whole
                named = ", ".join(display_path(path) for path in stats["incomplete_paths"])
                files = stats["incomplete_files"]
                # A mailbox stopped part way: one file of many messages, each a document.
                what = counted(files, "file")
                if value != files:
                    what += f" ({counted(value, 'document')})"
                rows.append(
                    (
                        "incomplete",
                        f"{what} stored in part by a "
                        "run that was stopped (searched; `search index` finishes them): "
                        + named
                        + ", …" * (files > len(stats["incomplete_paths"])),
                    )
                )
            continue
        if key in ("incomplete_paths", "incomplete_files") or (
            key in ("db_free_bytes", "rebuild_bytes") and not value
        ):
            continue
        shown = human_bytes(value) if key.endswith("_bytes") else str(value)
        if key == "db_free_bytes":
            shown += " (left by removals; reused as the index grows)"
        if key == "rebuild_bytes":
            shown += (
                " in .rebuild-in-progress: a --rebuild under way, or stopped part way (the next "
                "`search index` removes what a stopped one left)"
            )
        if isinstance(value, dict):  # vectors_params: "kind flat", "kind ivf, nlist 4096, ..."
            shown = ", ".join(f"{name} {setting}" for name, setting in value.items())
        if key == "precision" and value is None:
            shown = "not yet known (the first run that loads PyTorch sets it)"
        elif key == "last_indexed_at" and value is None:
            shown = "never (no `search index` has finished on it yet)"
        elif value is None:
            shown = "not recorded"
        rows.append((key.replace("_", " "), shown))
    if not out.is_terminal:  # a pipe: "key: value" lines, never cut; each root "indexed: "
        last = ""
        for key, shown in rows:
            last = key or last
            sys.stdout.write(f"{last}: {one_line(shown)}\n")
        return
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, shown in rows:
        table.add_row(key, inert_text(shown))
    out.print(table)


@app.command()
def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the known models and where each was found (or how to get it). In a pipe: one line
    per model, tab-separated: name, layers, max tokens, where found, location."""
    from minilm import DEFAULT_MODEL, VARIANTS, ModelFilesError, ModelNotFoundError, locate_model
    from searchapp.interfaces.render import json_lines, json_text

    table = Table()
    table.add_column("model", no_wrap=True)
    table.add_column("layers", justify="right")
    table.add_column("max tokens", justify="right")
    table.add_column("found in", overflow="fold")
    table.add_column("location", overflow="fold")
    rows = []
    for variant in VARIANTS.values():
        try:
            files = locate_model(variant.name)
            source, where = files.source, str(files.weights_path)
        except (ModelNotFoundError, ModelFilesError):
            source = "not found"
            where = f"downloaded from {variant.hf_id} on first use when online"
        rows.append(
            {
                "model": variant.name,
                "hf_id": variant.hf_id,
                "layers": variant.num_hidden_layers,
                "max_tokens": variant.max_seq_length,
                "default": variant.name == DEFAULT_MODEL,
                "source": source,
                "location": where,
            }
        )
        table.add_row(
            variant.name + (" (default)" if variant.name == DEFAULT_MODEL else ""),
            str(variant.num_hidden_layers),
            str(variant.max_seq_length),
            source,
            where,
        )
    if as_json:
        sys.stdout.write(json_lines(sys.stdout, json_text(rows)) + "\n")
        return
    if not out.is_terminal:  # a pipe: one tab-separated line per model, never cut
        for row in rows:
            fields = [row[key] for key in ("model", "layers", "max_tokens", "source", "location")]
            sys.stdout.write("\t".join(one_line(str(field)) for field in fields) + "\n")
        return
    out.print(table)
