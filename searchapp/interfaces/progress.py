"""A rich progress bar for `search index` on a terminal; elsewhere, for work that takes long, a
line now and then (``progress_lines``).

Work is counted in bytes of the files to read and embed (files unchanged since the last run cost
nothing), so the time left follows what costs time; the rate shown is chunks embedded a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Column
from rich.text import Text

from searchapp.ingest.pipeline import Progress as IndexProgress
from searchapp.interfaces.render import display_path, shortened_path

# What the bar's other columns take on a line at the least (the spinner, a bar of 10, the
# sizes, the counts and the time left): the file's name gets the rest.
OTHER_COLUMNS = 60
NAME_MIN = 10  # a name cut shorter than this is not shown at all
_LEAD = "indexing · "


class _Reading(ProgressColumn):
    """ "indexing", and the file being chunked, else the one being embedded, as it is named:
    never read as markup (a name ending in a backslash was shown with two), on one line, cut
    at its start to fit (`…/notes/cabin wifi.txt`: it was wrapped over four lines on an
    80-column terminal, or cut to `home/logs/app-2…`, and a long one took the numbers' room);
    on a narrow terminal the name alone, or "indexing" alone."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self.shown = len("indexing")  # the width of what it last showed: the bar takes the rest

    def get_table_column(self) -> Column:
        return Column(no_wrap=True, min_width=self.shown)

    def render(self, task: Task) -> Text:
        room = self.console.width - OTHER_COLUMNS
        doing, path = task.fields["reading"] or task.fields["embedding"] or ("", "")
        if not path or room < NAME_MIN:
            text = Text("indexing", style="bold")
        elif len(_LEAD) + len(doing) + len(path) <= room:
            text = Text.assemble(("indexing", "bold"), f" · {doing}{path}")
        elif len(_LEAD) + len(path) <= room:  # "chunking" makes room for the name
            text = Text.assemble(("indexing", "bold"), f" · {path}")
        elif room - len(_LEAD) >= 24:
            text = Text.assemble(("indexing", "bold"), f" · {_cut(path, room - len(_LEAD))}")
        else:
            text = Text(_cut(path, room))
        text.no_wrap, text.overflow = True, "ellipsis"
        self.shown = len(text)
        return text


def _cut(path: str, room: int) -> str:
    """``path`` in ``room`` characters: its leading folders dropped, then its name's start."""
    shown = shortened_path(path, room)
    return shown if len(shown) <= room else "…" + shown[-(room - 1) :]


@contextmanager
def progress_bar(
    console: Console, *, enabled: bool = True, after_s: float = 0.0
) -> Iterator[IndexProgress | None]:
    """The bar, shown from the start or, with ``after_s``, only once the work has taken that
    long (`search watch`: most batches of changes take milliseconds and show none)."""
    if not enabled or not console.is_terminal:
        yield None
        return
    bar = Progress(
        SpinnerColumn(),  # turns while one window of long passages embeds for half a minute
        _Reading(console),
        BarColumn(),  # what narrows on a narrow terminal: the numbers stay on one line
        DownloadColumn(table_column=Column(no_wrap=True)),
        TextColumn(
            "· {task.fields[chunks]} chunks · {task.fields[rate]} chunks/s",
            table_column=Column(no_wrap=True),
        ),
        TimeRemainingColumn(table_column=Column(no_wrap=True)),
        console=console,
        transient=True,
    )
    task = bar.add_task("bytes", total=None, chunks=0, rate="–", reading=None, embedding=None)
    state = {"chunks": 0}
    shown_from = time.monotonic() + after_s
    drawing = threading.Lock()  # the timer's thread and this one
    ended = False

    def show() -> None:
        with drawing:
            if not ended and not bar.live.is_started and time.monotonic() >= shown_from:
                bar.start()

    def on_start(total: int) -> None:
        # A bare `search index` may run once per set of filters: their work adds up.
        bar.update(task, total=(bar.tasks[0].total or 0) + total)
        show()

    def on_bytes(done: int) -> None:
        bar.advance(task, done)
        show()

    def on_reading(path: str | None) -> None:
        bar.update(task, reading=None if path is None else ("chunking ", display_path(path)))
        show()

    def on_embedding(path: str) -> None:
        bar.update(task, embedding=("", display_path(path)))

    def on_free(free: int) -> None:
        bar.update(task, total=max((bar.tasks[0].total or 0) - free, bar.tasks[0].completed))

    def on_chunks(count: int) -> None:
        state["chunks"] += count
        elapsed = bar.tasks[0].elapsed or 0.0
        rate = f"{state['chunks'] / elapsed:.0f}" if elapsed > 0 else "–"
        bar.update(task, chunks=state["chunks"], rate=rate)
        show()

    show()
    # Also shown by time alone: a batch may spend its first seconds loading the model, or
    # embedding one long file's first window, before any callback comes.
    timer = threading.Timer(after_s, show) if after_s > 0 else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        yield IndexProgress(
            on_start=on_start,
            on_bytes=on_bytes,
            on_free=on_free,
            on_chunks=on_chunks,
            on_reading=on_reading,
            on_embedding=on_embedding,
        )
    finally:
        if timer is not None:
            timer.cancel()
        with drawing:
            ended = True
            bar.stop()  # nothing to do if it never showed


def progress_for(
    console: Console, *, enabled: bool = True, after_s: float = 0.0
) -> AbstractContextManager[IndexProgress | None]:
    """The bar on a terminal (``progress_bar``), lines elsewhere (``progress_lines``: a log
    file, a service's journal), nothing unless ``enabled``."""
    if not enabled:
        return nullcontext(None)
    if console.is_terminal:
        return progress_bar(console, after_s=after_s)
    return progress_lines(console)


# Off a terminal (a log file, a service's journal), work that takes this long says how far it
# has come, and again at every LINES_EVERY_S: a `git checkout` of thousands of files was
# minutes without a word until its batch line, and `search index ~ > log` hours.
LINES_AFTER_S = 10.0
LINES_EVERY_S = 30.0


@contextmanager
def progress_lines(
    console: Console, *, after_s: float | None = None, every_s: float | None = None
) -> Iterator[IndexProgress]:
    """Progress as lines on ``console``, from ``after_s`` on (``LINES_AFTER_S``), one every
    ``every_s`` (``LINES_EVERY_S``)."""
    after_s = LINES_AFTER_S if after_s is None else after_s
    every_s = LINES_EVERY_S if every_s is None else every_s
    counts = {"total": 0, "done": 0, "chunks": 0}
    embedding = {"path": ""}  # the file most of the latest window came from
    lock = threading.Lock()
    ended, started = threading.Event(), threading.Event()

    def add(key: str, amount: int) -> None:
        with lock:
            counts[key] += amount

    def start(total: int) -> None:
        add("total", total)
        started.set()

    def tell() -> None:
        # From the start of the work: not while the batch waits for another writer's lock,
        # or walks the folders ("still indexing: 0 bytes" while it waited).
        while not started.wait(0.1):
            if ended.is_set():
                return
        wait = after_s
        while not ended.wait(wait):
            with lock:
                total, done, chunks = counts["total"], counts["done"], counts["chunks"]
            of = f" of {size_text(total)}" if total else ""
            now = f"; now {display_path(embedding['path'])}" if embedding["path"] else ""
            console.print(
                f"{time.strftime('%H:%M:%S')} still indexing: {size_text(done)}{of} read and "
                f"embedded, {chunks:,} chunks{now}",
                markup=False,
                highlight=False,
            )
            wait = every_s

    teller = threading.Thread(target=tell, name="progress-lines", daemon=True)
    teller.start()
    try:
        yield IndexProgress(
            on_start=start,
            on_bytes=lambda done: add("done", done),
            on_free=lambda free: add("total", -free),
            on_chunks=lambda count: add("chunks", count),
            on_embedding=lambda path: embedding.update(path=path),
        )
    finally:
        ended.set()
        teller.join()


def size_text(count: int) -> str:
    """Bytes as a person reads them: 980 bytes, 12.3 kB, 4.5 MB (decimal, as the bar's)."""
    if count < 1000:
        return f"{count} bytes"
    value, unit = count / 1000, "kB"
    for bigger in ("MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}"
