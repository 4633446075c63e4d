"""A rich progress bar for `search index` on a terminal; silent when stderr is not a TTY.

Work is counted in bytes of the files to read and embed (files unchanged since the last run cost
nothing), so the time left follows what costs time; the rate shown is chunks embedded a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from searchapp.ingest.pipeline import Progress as IndexProgress


@contextmanager
def progress_bar(console: Console, *, enabled: bool = True) -> Iterator[IndexProgress | None]:
    if not enabled or not console.is_terminal:
        yield None
        return
    bar = Progress(
        TextColumn("[bold]indexing"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("· {task.fields[chunks]} chunks · {task.fields[rate]} chunks/s"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task("bytes", total=None, chunks=0, rate="–")
    state = {"chunks": 0}

    def on_chunks(count: int) -> None:
        state["chunks"] += count
        elapsed = bar.tasks[0].elapsed or 0.0
        rate = f"{state['chunks'] / elapsed:.0f}" if elapsed > 0 else "–"
        bar.update(task, chunks=state["chunks"], rate=rate)

    with bar:
        yield IndexProgress(
            # A bare `search index` may run once per set of filters: their work adds up.
            on_start=lambda total: bar.update(task, total=(bar.tasks[0].total or 0) + total),
            on_bytes=lambda done: bar.advance(task, done),
            on_chunks=on_chunks,
        )
