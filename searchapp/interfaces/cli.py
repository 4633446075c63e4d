"""The ``search`` command: a thin typer layer over ``SearchIndex``.

Results go to stdout; progress, warnings and errors to stderr. Exit status, as grep's: 0 when
something was found (or done), 1 when a query or removal found nothing, 2 for errors and usage
mistakes, 130 after Ctrl-C (with what was committed kept). ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import logging
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from searchapp.errors import IndexInterrupted, SearchAppError

app = typer.Typer(
    name="search",
    help="Index folders of documents and search them by meaning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
# No emoji codes: ":skull:" in a file name stays text. Messages are never wrapped: one per line.
out = Console(highlight=False, soft_wrap=False, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)
_state = {"debug": False, "interrupt_said": False}

EXIT_NOTHING_FOUND, EXIT_ERROR, EXIT_INTERRUPTED = 1, 2, 130

IndexDir = Annotated[
    str | None,
    typer.Option(
        "--index-dir",
        help="Index folder (default: $SEARCH_INDEX_DIR, else a per-user data folder).",
        show_default=False,
    ),
]
Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps.")]
Mode = Annotated[
    Literal["hybrid", "dense", "lexical"],
    typer.Option("--mode", help="Ranking: fused (hybrid), by meaning (dense) or by words (BM25)."),
]
Format = Literal["table", "lines", "json", "jsonl"]


def _version(value: bool) -> None:
    if value:
        try:
            number = version("searchapp")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "unknown"
        sys.stdout.write(f"search (searchapp) {number}\n")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    _show_version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_version),
    ] = False,
) -> None:
    _state["debug"] = debug or bool(os.environ.get("SEARCH_DEBUG"))
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if _state["debug"] else logging.WARNING)


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
        return _one_line(f"{record.levelname.lower()}: {record.getMessage()}")


@app.command()
def index(
    paths: Annotated[list[str], typer.Argument(help="Files and folders to index.")],
    index_dir: IndexDir = None,
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Only files matching this glob.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Skip files matching this glob.")
    ] = None,
    no_default_excludes: Annotated[
        bool,
        typer.Option(
            "--no-default-excludes",
            help="Also index lock files, minified and generated text, SVG (see README).",
        ),
    ] = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Start the index over.")] = False,
    model: Annotated[
        str | None, typer.Option("--model", help="Model name or folder (new index only).")
    ] = None,
    device: Device = "auto",
    precision: Annotated[
        Literal["auto", "fp32", "bf16", "fp16"],
        typer.Option(
            "--precision",
            help="auto: bf16 where the CPU or GPU computes it natively, else fp32.",
        ),
    ] = "auto",
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
        bool, typer.Option("--verbose", "-v", help="List every skipped file with its reason.")
    ] = False,
) -> None:
    """Index files and folders (incrementally: only changed files are embedded again).

    Documents whose files are gone, or that ignore files now exclude, are removed; those that
    only this run's --include/--exclude leave out are kept (`search remove` drops them).
    """
    from searchapp.interfaces.progress import progress_bar
    from searchapp.search_index import SearchIndex

    search_index = SearchIndex(index_dir, model=model, device=device, precision=precision)
    with progress_bar(err, enabled=not quiet) as progress:
        try:
            report = search_index.add(
                paths,
                include=include or (),
                exclude=exclude or (),
                rebuild=rebuild,
                wait=not no_wait,
                on_wait=lambda: err.print("waiting for another `search index` to finish…"),
                progress=progress,
                index_type=index_type,
                default_excludes=not no_default_excludes,
            )
        except IndexInterrupted as stopped:
            done = stopped.report
            err.print(
                f"interrupted: {done.added + done.updated} files ({done.chunks} chunks) were "
                "committed before Ctrl-C; run the same command again to continue"
            )
            _state["interrupt_said"] = True
            raise typer.Exit(EXIT_INTERRUPTED) from None
    if quiet:
        return
    _print_skipped(report.skipped, verbose=verbose)
    if report.outside_filters:
        err.print(
            f"{report.outside_filters} indexed documents under these paths do not match "
            "--include/--exclude and were kept; `search remove PATH|GLOB` removes them"
        )
    err.print(
        f"{report.added} added, {report.updated} updated, {report.removed} removed, "
        f"{report.unchanged} unchanged, {len(report.skipped)} skipped; "
        f"{report.chunks} chunks embedded in {report.seconds:.1f}s"
    )


def _print_skipped(skipped: list[tuple[str, str]], *, verbose: bool) -> None:
    """Each skipped file with --verbose; otherwise one line counting them by reason."""
    if verbose:
        for path, reason in skipped:
            err.print(f"[yellow]skipped[/] {escape(_one_line(path))}: {escape(_one_line(reason))}")
        return
    if not skipped:
        return
    reasons: dict[str, int] = {}
    for _, reason in skipped:
        kind = reason.split(";")[0].split(" (")[0]
        reasons[kind] = reasons.get(kind, 0) + 1
    counts = ", ".join(f"{kind}: {n}" for kind, n in sorted(reasons.items(), key=lambda r: -r[1]))
    err.print(f"{len(skipped)} files skipped ({escape(_one_line(counts))}); --verbose lists them")


@app.command()
def query(
    text: Annotated[str, typer.Argument(help="What to search for.")],
    index_dir: IndexDir = None,
    top_k: Annotated[int, typer.Option("-k", "--top-k", help="How many hits.")] = 10,
    min_score: Annotated[
        float | None, typer.Option("--min-score", help="Drop hits below this cosine.")
    ] = None,
    path: Annotated[
        str | None, typer.Option("--path", help="Only documents whose path matches this glob.")
    ] = None,
    per_doc: Annotated[int, typer.Option("--per-doc", help="Passages per document.")] = 1,
    context: Annotated[
        int, typer.Option("-C", "--context", help="Lines of context around each passage.")
    ] = 0,
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
) -> None:
    """Search the index and print ranked passages (exit 1 when nothing matches)."""
    from searchapp.interfaces.render import print_results
    from searchapp.ranking.searcher import SearchOptions
    from searchapp.search_index import SearchIndex

    if context < 0:
        raise SearchAppError(f"--context ({context}) must be 0 or more")
    options = SearchOptions(
        k=top_k, mode=mode, min_score=min_score, path_glob=path, per_doc=per_doc
    )
    search_index = SearchIndex(index_dir, device=device)
    hits = search_index.search(text, options)
    chosen = "json" if as_json else output or ("table" if out.is_terminal else "lines")
    print_results(
        out,
        hits,
        text,
        output=chosen,
        files_only=files_only,
        show_fused=mode == "hybrid",
        context=(lambda hit: search_index.context(hit, context)) if context > 0 else None,
    )
    if not hits:
        raise typer.Exit(EXIT_NOTHING_FOUND)


@app.command()
def remove(
    patterns: Annotated[
        list[str],
        typer.Argument(
            help="Indexed paths (a folder removes what lies under it; the files need not "
            "exist) or globs matched against paths and file names ('*.lock', '*/drafts/*')."
        ),
    ],
    index_dir: IndexDir = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Print what would be removed; change nothing.")
    ] = False,
) -> None:
    """Remove documents from the index (exit 1 when nothing matched)."""
    from searchapp.search_index import SearchIndex

    search_index = SearchIndex(index_dir)
    paths = search_index.matching(patterns)
    if not paths:
        err.print("nothing indexed matches; `search info` lists what is indexed")
        raise typer.Exit(EXIT_NOTHING_FOUND)
    if not dry_run:
        search_index.remove(paths)
    for removed in paths:
        sys.stdout.write(_one_line(removed) + "\n")
    verb = "would remove" if dry_run else "removed"
    err.print(f"{verb} {len(paths)} {'path' if len(paths) == 1 else 'paths'}")


@app.command()
def repl(
    index_dir: IndexDir = None,
    top_k: Annotated[int, typer.Option("-k", "--top-k", help="How many hits.")] = 10,
    mode: Mode = "hybrid",
    device: Device = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Answer each query in JSON.")] = False,
) -> None:
    """Interactive prompt: the model and index stay loaded between queries."""
    from searchapp.interfaces.repl import Repl
    from searchapp.search_index import SearchIndex

    search_index = SearchIndex(index_dir, device=device)
    search_index.stats()  # fail now, not at the first query, when there is no index
    Repl(search_index, out=out, err=err, k=top_k, mode=mode, as_json=as_json).run()


@app.command("eval")
def evaluate(
    queries: Annotated[
        str, typer.Option("--queries", help="Queries: BEIR queries.jsonl (_id, text) or TSV.")
    ],
    qrels: Annotated[str, typer.Option("--qrels", help="Judgments: BEIR qrels TSV or TREC qrels.")],
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
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Measure ranking quality on judged queries: nDCG, MRR, recall and MAP per mode."""
    import json

    from searchapp.ranking.evaluation import evaluate_modes, read_qrels, read_queries
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
    results = evaluate_modes(
        search_index.search_many, query_texts, judgments, modes, k=top_k, depth=depth
    )
    if as_json:
        sys.stdout.write(json.dumps(results) + "\n")
        return
    documents = search_index.stats()["documents"]
    table = Table(title=f"{len(query_texts)} queries, {documents} documents")
    table.add_column("mode")
    metric_names = [k for k in next(iter(results.values())) if "@" in k]
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
            err.print(f"skipped {len(qids)} queries ({escape(reason)}): {escape(_inert(shown))}")


@app.command()
def info(
    index_dir: IndexDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the index: model, indexed folders, documents, chunks, sizes on disk."""
    import json

    from searchapp.search_index import SearchIndex

    stats = SearchIndex(index_dir).stats()
    if as_json:
        sys.stdout.write(json.dumps(stats) + "\n")
        return
    rows: list[tuple[str, str]] = []
    for key, value in stats.items():
        if key == "roots":
            for n, root in enumerate(value):
                shown = f"{root['path']} ({root['documents']} documents)"
                rows.append(("indexed" if n == 0 else "", shown))
            continue
        shown = _human_bytes(value) if key.endswith("_bytes") else str(value)
        rows.append((key.replace("_", " "), shown))
    if not out.is_terminal:  # a pipe: "key: value" lines, never cut
        for key, shown in rows:
            sys.stdout.write(f"{key or ' ' * 7}: {_one_line(shown)}\n")
        return
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, shown in rows:
        table.add_row(key, escape(_inert(shown)))
    out.print(table)


@app.command()
def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the known models and where each was found (or how to get it)."""
    import json

    from minilm import VARIANTS, ModelFilesError, ModelNotFoundError, locate_model

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
            {"model": variant.name, "hf_id": variant.hf_id, "source": source, "location": where}
        )
        table.add_row(
            variant.name,
            str(variant.num_hidden_layers),
            str(variant.max_seq_length),
            escape(source),
            escape(where),
        )
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    out.print(table)


# -- keeping the index fresh and reachable (watch, serve, mcp) ------------------------------------

Include = Annotated[
    list[str] | None, typer.Option("--include", help="Only files matching this glob.")
]
Exclude = Annotated[
    list[str] | None, typer.Option("--exclude", help="Skip files matching this glob.")
]


@app.command()
def watch(
    paths: Annotated[list[str], typer.Argument(help="Files and folders to index and watch.")],
    index_dir: IndexDir = None,
    include: Include = None,
    exclude: Exclude = None,
    device: Device = "auto",
    precision: Annotated[
        Literal["auto", "fp32", "bf16", "fp16"],
        typer.Option("--precision", help="As for `search index`."),
    ] = "auto",
    debounce: Annotated[
        int, typer.Option("--debounce", help="Apply changes at least this often (ms).")
    ] = 1000,
) -> None:
    """Index files and folders, then keep the index fresh as they change (Ctrl-C to stop)."""
    from searchapp.interfaces.watch import Watcher
    from searchapp.interfaces.watch import watch as follow_changes
    from searchapp.search_index import SearchIndex

    search_index = SearchIndex(index_dir, device=device, precision=precision)
    watcher = Watcher(
        search_index,
        paths,
        include=include or (),
        exclude=exclude or (),
        debounce_ms=debounce,
        on_wait=lambda: err.print("waiting for another `search index` to finish…"),
    )
    sys.exit(follow_changes(watcher, err))  # 130 after Ctrl-C, its own line already said


@app.command()
def serve(
    index_dir: IndexDir = None,
    host: Annotated[
        str, typer.Option("--host", help="Loopback address to bind (127.0.0.1, ::1, localhost).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: any free one).")] = 8765,
    watch_paths: Annotated[
        list[str] | None,
        typer.Option("--watch", help="Index this file or folder and keep it fresh (repeatable)."),
    ] = None,
    include: Include = None,
    exclude: Exclude = None,
    device: Device = "auto",
) -> None:
    """Answer searches over HTTP as JSON: /search?q=, /info, /documents/{doc_id}."""
    from searchapp.interfaces.serve import serve as serve_http
    from searchapp.search_index import SearchIndex

    code = serve_http(
        SearchIndex(index_dir, device=device),
        err,
        host=host,
        port=port,
        watch_paths=watch_paths or (),
        include=include or (),
        exclude=exclude or (),
    )
    sys.exit(code)


@app.command()
def mcp(index_dir: IndexDir = None, device: Device = "auto") -> None:
    """Serve the index to AI assistants over stdio (Model Context Protocol)."""
    try:
        from searchapp.interfaces.mcp_server import serve_stdio
    except ImportError as exc:
        raise SearchAppError(
            f"`search mcp` needs the mcp package ({exc}); pip install 'searchapp[mcp]'"
        ) from None
    from searchapp.search_index import SearchIndex

    serve_stdio(SearchIndex(index_dir, device=device))


def _inert(text: str) -> str:
    from searchapp.interfaces.render import inert

    return inert(text)


def _one_line(text: str) -> str:
    """``_inert`` for a message line: a newline in a file name must not start a new message."""
    return _inert(text).replace("\n", "\\n")


def _human_bytes(value: object) -> str:
    size = float(value)  # type: ignore[arg-type]
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every user error into one line on stderr."""
    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else argv
    _state["interrupt_said"] = False
    debug = "--debug" in args or bool(os.environ.get("SEARCH_DEBUG"))
    try:
        code = command.main(args=args, prog_name="search", standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:  # Ctrl-D at a prompt
        code = EXIT_INTERRUPTED
    except typer.TyperException as exc:  # usage errors: bad option values, unknown commands
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.stdout.write(exc.format_message().rstrip("\n") + "\n")
            sys.exit(0)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        sys.stderr.write(f"error: {' '.join(message.split())}\n")
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except (SearchAppError, ValueError, OSError) as exc:
        if debug:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        sys.stderr.write(f"error: {_inert(message)}\n")
        sys.exit(EXIT_ERROR)
    if code == EXIT_INTERRUPTED and not _state.get("interrupt_said"):
        sys.stderr.write("interrupted\n")
    sys.exit(code if isinstance(code, int) else 0)
