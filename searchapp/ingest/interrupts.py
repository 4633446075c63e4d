"""Ctrl-C during indexing: held back while a window is committed, raised as soon as it is."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class StopAsked(KeyboardInterrupt):
    """Raised by an indexing run told to stop (``Indexer.run``'s ``stop``) where a window was
    just committed: the way out Ctrl-C takes, told apart from a Ctrl-C of its own."""


class StopRequest:
    """A SIGINT handler for a loop of indexing runs (`search watch`): the first Ctrl-C sets
    ``event``, and the run under way goes on to its end (``DeferredInterrupts`` passes that
    Ctrl-C here); a second raises ``KeyboardInterrupt``, as Ctrl-C does in a single run."""

    def __init__(self, event: threading.Event, on_first: Callable[[], None] | None = None) -> None:
        self.event = event
        self.on_first = on_first

    def __call__(self, signum: int, frame: object) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()
        if self.on_first is not None:
            self.on_first()


class DeferredInterrupts:
    """Ctrl-C, held back while a window is committed: SQLite and the FAISS index stay in step,
    and the interrupt is raised as soon as the commit is done. Elsewhere it is raised at once,
    except for the first one under a ``StopRequest``, which asks for a stop after this run.
    Only the main thread can install the handler; in other threads this does nothing."""

    def __enter__(self) -> DeferredInterrupts:
        self._critical = self._pending = False
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: object) -> None:
        outer = self._previous
        if isinstance(outer, StopRequest) and not outer.event.is_set():
            outer(signum, frame)  # this run goes on; the loop around it stops after it
            return
        if self._critical:
            self._pending = True
        else:
            raise KeyboardInterrupt

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self._critical = True
        try:
            yield
        finally:
            self._critical = False
        if self._pending:
            raise KeyboardInterrupt
