"""Ctrl-C during indexing: held back while a window is committed, raised as soon as it is."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class DeferredInterrupts:
    """Ctrl-C, held back while a window is committed: SQLite and the FAISS index stay in step,
    and the interrupt is raised as soon as the commit is done. Elsewhere it is raised at once.
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
