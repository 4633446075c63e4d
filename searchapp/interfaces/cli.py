"""The ``search`` command: a thin typer layer over ``SearchIndex``.

Results go to stdout; progress, warnings and errors to stderr. Every error a user can cause is one
line on stderr and a non-zero exit; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from searchapp.errors import SearchAppError

if TYPE_CHECKING:
    from searchapp.ingest.pipeline import EmbeddingBackend

app = typer.Typer(
    name="search",
    help="Index folders of documents and search them by meaning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# No emoji codes: ":skull:" in a file name stays text. Messages are never wrapped: one per line.
out = Console(highlight=False, soft_wrap=False, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)
_state = {"debug": False}

IndexDir = Annotated[
    str | None,
    typer.Option(
        "--index-dir",
        help="Index folder (default: $SEARCH_INDEX_DIR, else a per-user data folder).",
        show_default=False,
    ),
]
Device = Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps.")]
Mode = Annotated[str, typer.Option("--mode", help="Ranking: hybrid, dense or lexical.")]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
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
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Start the index over.")] = False,
    model: Annotated[
        str | None, typer.Option("--model", help="Model name or folder (new index only).")
    ] = None,
    device: Device = "auto",
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            help="auto (bf16 where the CPU or GPU computes it natively, else fp32), fp32, "
            "bf16, fp16.",
        ),
    ] = "auto",
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Fail at once if another index run holds the lock.")
    ] = False,
    index_type: Annotated[
        str | None,
        typer.Option(
            "--index-type",
            help="Vector index: flat (exact), ivf, hnsw, or auto (flat for small indexes, ivf "
            "for large ones). Default: what the index has, auto for a new one.",
            show_default=False,
        ),
    ] = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Embed on a Ray cluster: local (start one on this machine), auto, HOST:PORT or "
            "ray://HOST:PORT. Needs pip install 'searchapp\\[ray]'.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Index files and folders (incrementally: only changed files are embedded again)."""
    from searchapp.interfaces.progress import progress_bar
    from searchapp.search_index import SearchIndex

    search_index = SearchIndex(index_dir, model=model, device=device, precision=precision)
    with _ray_embedder(ray) as embedder, progress_bar(err) as progress:
        report = search_index.add(
            paths,
            include=include or (),
            exclude=exclude or (),
            rebuild=rebuild,
            wait=not no_wait,
            on_wait=lambda: err.print("waiting for another `search index` to finish…"),
            progress=progress,
            index_type=index_type,
            embedder=embedder,
        )
    for path, reason in report.skipped:
        err.print(f"[yellow]skipped[/] {escape(_one_line(path))}: {escape(_one_line(reason))}")
    err.print(
        f"{report.added} added, {report.updated} updated, {report.removed} removed, "
        f"{report.unchanged} unchanged, {len(report.skipped)} skipped; "
        f"{report.chunks} chunks embedded in {report.seconds:.1f}s"
    )


@contextmanager
def _ray_embedder(address: str | None) -> Iterator[EmbeddingBackend | None]:
    """For `index --ray`: a pool of Ray actors (Ray imported only then), ended afterwards."""
    if address is None:
        yield None
        return
    from searchapp.ingest.ray_embedding import RayConfig, RayEmbedder

    with RayEmbedder(RayConfig(address=address)) as embedder:
        yield embedder


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
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON array of hits.")] = False,
) -> None:
    """Search the index and print ranked passages."""
    from searchapp.interfaces.render import hits_json, print_hits, print_passage
    from searchapp.ranking.searcher import SearchOptions
    from searchapp.search_index import SearchIndex

    if context < 0:
        raise SearchAppError(f"--context ({context}) must be 0 or more")
    options = SearchOptions(
        k=top_k, mode=mode, min_score=min_score, path_glob=path, per_doc=per_doc
    )
    search_index = SearchIndex(index_dir, device=device)
    hits = search_index.search(text, options)
    if as_json:
        sys.stdout.write(hits_json(hits) + "\n")
        return
    print_hits(out, hits, text, show_fused=mode == "hybrid")
    if context > 0:
        for hit in hits:
            print_passage(out, hit, search_index.context(hit, context), text)


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
        typer.Option("--mode", help="hybrid, dense or lexical (repeatable; default: all three)."),
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

    modes = list(dict.fromkeys(mode or MODES))
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
    table = Table(
        title=f"{len(query_texts)} queries, {search_index.stats()['documents']} documents"
    )
    table.add_column("mode")
    metric_names = [k for k in next(iter(results.values())) if "@" in k]
    for metric in metric_names:
        table.add_column(
            metric.replace("ndcg", "nDCG")
            .replace("mrr", "MRR")
            .replace("recall", "Recall")
            .replace("map", "MAP"),
            justify="right",
        )
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
    """Show the index: model, documents, chunks, sizes on disk, last indexed."""
    import json

    from searchapp.search_index import SearchIndex

    stats = SearchIndex(index_dir).stats()
    if as_json:
        sys.stdout.write(json.dumps(stats) + "\n")
        return
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key, value in stats.items():
        shown = _human_bytes(value) if key.endswith("_bytes") else str(value)
        table.add_row(key.replace("_", " "), escape(_inert(shown)))
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
    debug = "--debug" in args or bool(os.environ.get("SEARCH_DEBUG"))
    try:
        command.main(args=args, prog_name="search", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: bad option values, unknown commands
        if type(exc).__name__ == "NoArgsIsHelpError":
            command.main(args=["--help"], prog_name="search", standalone_mode=False)
            sys.exit(0)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        sys.stderr.write(f"error: {' '.join(message.split())}\n")
        sys.exit(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except (SearchAppError, ValueError, OSError) as exc:
        if debug:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        sys.stderr.write(f"error: {_inert(message)}\n")
        sys.exit(1)
