"""`search serve` and `search mcp`: the index for programs, over HTTP and MCP."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from searchapp.errors import BadInputError, SearchAppError
from searchapp.interfaces.cli_app import (
    Device,
    Exclude,
    Include,
    IndexDir,
    NoDefaultExcludes,
    app,
    err,
    state,
)

WatchPaths = Annotated[
    list[str] | None,
    typer.Option("--watch", help="Index this file or folder and keep it fresh (repeatable)."),
]
Debounce = Annotated[
    int, typer.Option("--debounce", help="With --watch: as for `search watch` (ms).")
]


def check_watch_options(
    watch_paths: list[str] | None,
    include: list[str] | None,
    exclude: list[str] | None,
    no_default_excludes: bool,
    debounce: int,
) -> None:
    """Refuse the options that only --watch uses without it (accepted, nothing was done)."""
    if watch_paths:
        return
    given = [
        name
        for name, value in (
            ("--include", include),
            ("--exclude", exclude),
            ("--no-default-excludes", no_default_excludes),
            ("--debounce", debounce != 1000),
        )
        if value
    ]
    if given:
        verb = "applies" if len(given) == 1 else "apply"
        raise SearchAppError(f"{', '.join(given)} {verb} to --watch PATH; add it or drop it")


@app.command()
def serve(
    index_dir: IndexDir = None,
    host: Annotated[
        str, typer.Option("--host", help="Loopback address to bind (127.0.0.1, ::1, localhost).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port (0: any free one).")
    ] = 8765,
    watch_paths: WatchPaths = None,
    include: Include = None,
    exclude: Exclude = None,
    no_default_excludes: NoDefaultExcludes = False,
    debounce: Debounce = 1000,
    device: Device = "auto",
) -> None:
    """Answer searches over HTTP as JSON: /search?q=, /info, /documents/{doc_id}."""
    from searchapp.interfaces.serve import serve as serve_http
    from searchapp.search_index import SearchIndex

    check_device(device)
    check_watch_options(watch_paths, include, exclude, no_default_excludes, debounce)
    code = serve_http(
        SearchIndex(index_dir, device=device),
        err,
        host=host,
        port=port,
        watch_paths=watch_paths or (),
        include=include or (),
        exclude=exclude or (),
        default_excludes=not no_default_excludes,
        debounce_ms=debounce,
    )
    state["interrupt_said"] = True  # "stopped": 130 after Ctrl-C, 143 after SIGTERM
    raise typer.Exit(code)


@app.command()
def mcp(
    index_dir: IndexDir = None,
    device: Device = "auto",
    watch_paths: WatchPaths = None,
    include: Include = None,
    exclude: Exclude = None,
    no_default_excludes: NoDefaultExcludes = False,
    debounce: Debounce = 1000,
) -> None:
    """Serve the index to AI assistants over stdio (Model Context Protocol)."""
    for stream, name in ((sys.stdin, "input"), (sys.stdout, "output")):
        if not hasattr(stream, "buffer"):  # closed by the shell (`<&-`: cli._Closed)
            raise SearchAppError(
                f"search mcp talks over stdin and stdout; standard {name} is closed"
            )
    try:
        from searchapp.interfaces.mcp_server import serve_stdio
    except ImportError as exc:
        raise SearchAppError(
            f"`search mcp` needs the mcp package ({exc}); pip install 'searchapp[mcp]'"
        ) from None
    from searchapp.search_index import SearchIndex
    from searchapp.storage.indexed_paths import Filters

    check_device(device)
    check_watch_options(watch_paths, include, exclude, no_default_excludes, debounce)
    serve_stdio(
        SearchIndex(index_dir, device=device),
        watch_paths=watch_paths or (),
        filters=Filters(tuple(include or ()), tuple(exclude or ()), not no_default_excludes),
        debounce_ms=debounce,
        err=err,
    )


def check_device(device: str) -> None:
    """Refuse a device this machine lacks before serving: the server started, and each search
    failed with "internal error" (its encoder never loaded). ``auto`` needs no check (nor
    PyTorch imported for it)."""
    if device.strip().lower() == "auto":
        return
    from minilm.devices import resolve_device

    try:
        resolve_device(device)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
