"""A rich progress bar for `search index` on a terminal; silent when stderr is not a TTY."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from searchapp.ingest.pipeline import Progress as IndexProgress


@contextmanager
def progress_bar(console: Console) -> Iterator[IndexProgress | None]:
    if not console.is_terminal:
        yield None
        return
    bar = Progress(
        TextColumn("[bold]indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[chunks]} chunks · {task.fields[rate]} chunks/s"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task("files", total=None, chunks=0, rate="–")
    state = {"chunks": 0}

    def on_chunks(count: int) -> None:
        state["chunks"] += count
        elapsed = bar.tasks[0].elapsed or 0.0
        rate = f"{state['chunks'] / elapsed:.0f}" if elapsed > 0 else "–"
        bar.update(task, chunks=state["chunks"], rate=rate)

    with bar:
        yield IndexProgress(
            on_files=lambda total: bar.update(task, total=total),
            on_file_done=lambda: bar.advance(task),
            on_chunks=on_chunks,
        )
