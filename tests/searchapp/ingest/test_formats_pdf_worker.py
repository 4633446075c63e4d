"""The PDF worker process: same answers as in-process, and a crash or an overrun costs one file."""

from __future__ import annotations

import logging
import os
import sys
import threading

import pytest

from searchapp.ingest.decoding import NotTextError
from searchapp.ingest.formats import pdf as pdf_module
from searchapp.ingest.formats import pdf_worker
from searchapp.ingest.formats.pdf import extract_pdf
from searchapp.ingest.formats.pdf_worker import PdfWorker, extract_pdf_isolated, serve
from tests.searchapp.ingest.test_formats_pdf import PAGES, make_pdf

# Stand-ins for a worker that PDFium brings down: they say READY, read the request's length, then
# crash or hang.
READY = "import sys; sys.stdout.buffer.write(b'\\x05' + bytes(7) + b'ready'); sys.stdout.flush()"
SEGFAULT = f"{READY}; import ctypes; sys.stdin.buffer.read(8); ctypes.string_at(0)"
HANG = f"{READY}; import time; sys.stdin.buffer.read(8); time.sleep(60)"


@pytest.fixture
def worker():
    worker = PdfWorker()
    yield worker
    worker.close()


def test_the_worker_answers_as_in_process_extraction(worker: PdfWorker) -> None:
    data = make_pdf(PAGES, title="Wing")
    assert worker.extract(data, "a.pdf") == extract_pdf(data)
    assert extract_pdf_isolated(data, name="a.pdf") == extract_pdf(data)  # the shared worker


@pytest.mark.skipif(not hasattr(os, "getpgid"), reason="process groups are POSIX's")
def test_ctrl_c_at_the_terminal_does_not_reach_the_worker(worker: PdfWorker) -> None:
    # A helper's trial: Ctrl-C while the worker started (before it ignores SIGINT) printed its
    # traceback, and the PDFs were read in the indexer's process after.
    worker.extract(make_pdf(PAGES), "a.pdf")
    process = worker._process
    assert process is not None and os.getpgid(process.pid) != os.getpgid(0)
    # ...and with its input closed (the indexer gone), it ends by itself.
    process.stdin.close()
    assert process.wait(timeout=10) == 0


def test_skip_reasons_come_back_from_the_worker(worker: PdfWorker) -> None:
    with pytest.raises(NotTextError, match="encrypted PDF"):
        worker.extract(make_pdf(["x"], owner_password="o", user_password="u"), "locked.pdf")
    with pytest.raises(NotTextError, match="damaged PDF"):
        worker.extract(b"%PDF-1.7\n", "cut.pdf")
    assert worker.extract(make_pdf(["still serving"]), "next.pdf").text == "still serving"


def test_a_crashing_worker_costs_one_file() -> None:
    crashing = PdfWorker(command=[sys.executable, "-c", SEGFAULT])
    with pytest.raises(NotTextError, match=r"PDFium crashed on this PDF \(worker exit code -11\)"):
        crashing.extract(make_pdf(["boom"]), "crash.pdf")
    crashing.close()


def test_an_overrunning_worker_is_killed() -> None:
    hanging = PdfWorker(command=[sys.executable, "-c", HANG], seconds=0.5)
    with pytest.raises(NotTextError, match=r"took over 0.5 s \(WORKER_SECONDS\) and was stopped"):
        hanging.extract(make_pdf(["slow"]), "slow.pdf")
    assert hanging._process is None  # killed and forgotten: the next PDF starts a new one
    hanging.close()


def test_a_worker_that_cannot_start_is_an_os_error_and_the_shared_one_reads_in_process(
    monkeypatch,
) -> None:
    broken = PdfWorker(command=[sys.executable, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(OSError, match=r"the PDF worker did not start \(exit code 3\)"):
        broken.extract(make_pdf(["x"]), "x.pdf")
    monkeypatch.setattr(pdf_worker, "_worker", broken)
    monkeypatch.setattr(pdf_worker, "_in_process", False)
    assert extract_pdf_isolated(make_pdf(["read here"])).text == "read here"
    assert pdf_worker._in_process  # from now on, without trying again


def test_a_dead_worker_is_replaced_by_the_next_pdf(worker: PdfWorker) -> None:
    assert worker.extract(make_pdf(["one"]), "1.pdf").text == "one"
    first = worker._process
    assert first is not None
    first.kill()
    first.wait()
    assert worker.extract(make_pdf(["two"]), "2.pdf").text == "two"
    assert worker._process is not first


def test_serve_sends_back_the_warnings_of_each_file(monkeypatch) -> None:
    monkeypatch.setattr(pdf_module, "MAX_PDF_PAGES", 1)
    requests_read, requests_write = os.pipe()
    replies_read, replies_write = os.pipe()
    with (
        os.fdopen(requests_read, "rb") as requests,
        os.fdopen(replies_write, "wb") as replies,
    ):
        server = threading.Thread(target=serve, args=(requests, replies))
        server.start()
        worker = PdfWorker()
        worker._process = _Pipes(os.fdopen(requests_write, "wb"), os.fdopen(replies_read, "rb"))
        logger = logging.getLogger("searchapp.ingest.formats.pdf_worker")
        records: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: records.append(record.getMessage())
        logger.addHandler(handler)
        try:
            located = worker.extract(make_pdf(["kept", "left out"]), "long.pdf")
        finally:
            logger.removeHandler(handler)
            worker._process.stdin.close()  # end of input: serve returns
            server.join(timeout=10)
            worker._process.stdout.close()
    assert located.text == "kept"
    assert records == ["long.pdf: 2 pages; only the first 1 are indexed (MAX_PDF_PAGES)"]


class _Pipes:
    """Enough of ``subprocess.Popen`` for ``PdfWorker`` to talk to a ``serve`` thread."""

    def __init__(self, stdin, stdout) -> None:
        self.stdin, self.stdout = stdin, stdout

    def poll(self) -> None:
        return None
