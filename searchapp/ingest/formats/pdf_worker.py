"""PDF extraction in a child process, so that a PDFium crash or a page that never ends costs one
file, not the run.

PDFium is C++: a malformed file can crash the process or spin on one page, and neither can be
caught or interrupted in-process. ``extract_pdf_isolated`` hands the bytes to one long-lived
worker (``python -m searchapp.ingest.formats.pdf_worker``, started on the first PDF and reused:
some 0.1 s once, then about a millisecond per file), waits at most ``WORKER_SECONDS`` and answers
what ``pdf.extract_pdf`` would. A worker that dies or overruns is killed, the file becomes a skip
reason, and the next PDF starts a new worker. Where no worker can be started (or on Windows, whose
pipes ``select`` cannot wait on), extraction runs in-process.

The protocol: length-prefixed messages over the worker's stdin and stdout (the worker's own fd 1
is pointed at stderr, so nothing PDFium prints can corrupt it): a request is the file's name as
a JSON string and then its bytes; a reply is JSON. Nothing is unpickled: a worker that a hostile
PDF took over can at worst send wrong text.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import BinaryIO

from searchapp.ingest.decoding import NotTextError
from searchapp.ingest.formats.pdf import MAX_PDF_SECONDS, extract_pdf
from searchapp.ingest.formats.spans import LocatedText, Span

logger = logging.getLogger(__name__)

# The worker's own bound (MAX_PDF_SECONDS, between pages) plus time for one slow page and the
# reply; past it the worker is killed.
WORKER_SECONDS = MAX_PDF_SECONDS + 30.0
WORKER_COMMAND = (sys.executable, "-m", "searchapp.ingest.formats.pdf_worker")
START_SECONDS = 30.0  # for the worker to import and say READY (a cold disk is slow)
READY = b"ready"
_LENGTH = struct.Struct("<Q")


class _Overran(Exception):
    pass


class PdfWorker:
    """One child process that extracts PDFs one at a time; thread-safe; restarts after a crash."""

    def __init__(
        self, *, command: Sequence[str] = WORKER_COMMAND, seconds: float = WORKER_SECONDS
    ) -> None:
        self.command = tuple(command)
        self.seconds = seconds
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def extract(self, data: bytes, name: str) -> LocatedText:
        """``extract_pdf(data)`` in the worker; ``NotTextError`` for its skips, a crash or an
        overrun. Raises ``OSError`` when no worker can be started."""
        with self._lock:
            process = self._started()
            deadline = time.monotonic() + self.seconds
            try:
                _write_message(process.stdin, json.dumps(name).encode())
                _write_message(process.stdin, data)
                reply = json.loads(_read_message(process.stdout, deadline))
            except _Overran:
                self._stop()
                raise NotTextError(
                    f"PDF text extraction took over {self.seconds:g} s (WORKER_SECONDS) and was "
                    "stopped; repair the PDF or save it again to index it"
                ) from None
            except (OSError, EOFError, ValueError):  # json's errors are ValueErrors
                code = self._stop()
                raise NotTextError(
                    f"PDFium crashed on this PDF (worker exit code {code}); repair it or save it "
                    "again to index it"
                ) from None
        kind, payload, warnings = reply
        for warning in warnings:
            logger.warning("%s", warning)
        if kind == "skip":
            raise NotTextError(str(payload))
        title, text, spans, *labelled = payload  # a worker of an older version: no labels
        labels = labelled[0] if labelled else ()
        located_spans = tuple(Span(*span) for span in spans)
        return LocatedText(str(title), str(text), located_spans, tuple(map(str, labels)))

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _started(self) -> subprocess.Popen[bytes]:
        """The running worker, started (and its READY read) when there is none. Raises
        ``OSError`` when it cannot start, so that a broken setup is not taken for a crash on
        every PDF."""
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._stop()
        process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
            # Out of the terminal's process group: Ctrl-C while it started up (before it
            # ignores SIGINT) printed its traceback (a helper's trial, once in 13); the
            # indexer stops it, and it ends at its input's end should the indexer die.
            start_new_session=True,
        )
        self._process = process
        try:
            ready = _read_message(process.stdout, time.monotonic() + START_SECONDS)
        except (_Overran, EOFError, OSError) as exc:
            code = self._stop()
            raise OSError(f"the PDF worker did not start (exit code {code}): {exc!r}") from None
        if ready != READY:
            self._stop()
            raise OSError(f"the PDF worker did not start: it said {ready[:40]!r}")
        return process

    def _stop(self) -> int | None:
        """Kill the worker (if any) and return its exit code."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            process.kill()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        return process.wait()


_worker: PdfWorker | None = None
_worker_lock = threading.Lock()
_in_process = os.name == "nt"  # set when no worker can be started


def extract_pdf_isolated(data: bytes, *, name: str = "PDF") -> LocatedText:
    """``pdf.extract_pdf`` in the shared worker process (in-process where none can start)."""
    global _worker, _in_process
    if not _in_process:
        with _worker_lock:
            if _worker is None:
                _worker = PdfWorker()
                atexit.register(_worker.close)
        try:
            return _worker.extract(data, name)
        except OSError as exc:
            _in_process = True
            logger.warning("no PDF worker process (%s); PDFs are read in this process", exc)
    return extract_pdf(data, name=name)


# -- the worker's side -------------------------------------------------------------------------


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Answer ``(name, data)`` requests with ``(kind, payload, warnings)`` until end of input."""
    warnings = _Warnings()
    package_logger = logging.getLogger("searchapp")
    package_logger.addHandler(warnings)
    try:
        while True:
            try:
                name = json.loads(_read_message(requests, None))
                data = _read_message(requests, None)
            except EOFError:
                return
            warnings.messages = []
            try:
                located = extract_pdf(data, name=name)
                spans = [(span.start_char, span.page, span.section) for span in located.spans]
                payload = (located.title, located.text, spans, located.page_labels)
                reply = ("ok", payload, warnings.messages)
            except NotTextError as exc:
                reply = ("skip", exc.reason, warnings.messages)
            except Exception as exc:  # reported as a skip, as the in-process path does
                reason = f"PDF whose text could not be extracted ({type(exc).__name__}: {exc})"
                reply = ("skip", reason, warnings.messages)
            _write_message(replies, json.dumps(reply).encode())
    finally:
        package_logger.removeHandler(warnings)


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _write_message(stream: BinaryIO | None, payload: bytes) -> None:
    if stream is None:
        raise OSError("the worker has no pipe")
    stream.write(_LENGTH.pack(len(payload)) + payload)
    stream.flush()


def _read_message(stream: BinaryIO | None, deadline: float | None) -> bytes:
    if stream is None:
        raise OSError("the worker has no pipe")
    (length,) = _LENGTH.unpack(_read_exactly(stream, _LENGTH.size, deadline))
    return _read_exactly(stream, length, deadline)


def _read_exactly(stream: BinaryIO, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    left = size
    fd = stream.fileno()
    while left:
        if deadline is not None:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise _Overran
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def main() -> None:
    # Ctrl-C reaches the whole process group: the indexer handles it and kills this worker at
    # exit, so the worker must not print a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # PDFium or a library printing to stdout must not corrupt the replies
    _write_message(replies, READY)
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
