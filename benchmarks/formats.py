"""PDF extraction throughput: pages/s through ``load_documents`` on generated PDFs.

Run by hand from the repository root (not a test; needs the ``test`` extra for fpdf2):

    python benchmarks/formats.py                    # 1,400 PDFs, one Cranfield abstract each
    python benchmarks/formats.py --per-pdf 20 --rounds 5

Each Cranfield abstract (data/cranfield/corpus.jsonl) is written on its own page(s) with fpdf2,
``--per-pdf`` abstracts to a PDF, into a temporary folder. Each round reads every file with
``load_documents`` (read, detect by content, PDFium text per page, spans), timed on one thread as
the indexer's producer thread runs it, PDFs going through the worker process; the median round
is reported as pages/s and files/s, and in-process ``extract_pdf`` on bytes already in memory
beside it (the difference is the file reads and the worker's pipe).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `searchapp` importable

from fpdf import FPDF  # noqa: E402

from searchapp.ingest.decoding import load_documents  # noqa: E402
from searchapp.ingest.formats.pdf import extract_pdf  # noqa: E402

CRANFIELD = REPO_ROOT / "data" / "cranfield" / "corpus.jsonl"


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def write_pdfs(folder: Path, per_pdf: int, limit: int | None) -> int:
    """One PDF per ``per_pdf`` abstracts (the two empty ones left out), each abstract starting a
    page; returns the pages."""
    lines = CRANFIELD.read_text("utf-8").splitlines()
    texts = [text for line in lines if (text := json.loads(line)["text"]).strip()][:limit]
    pages = 0
    for start in range(0, len(texts), per_pdf):
        document = FPDF()
        document.set_font("helvetica", size=11)
        for text in texts[start : start + per_pdf]:
            document.add_page()
            document.multi_cell(0, 5, text.encode("latin-1", "replace").decode("latin-1"))
        pages += document.pages_count
        document.output(str(folder / f"cranfield-{start:04d}.pdf"))
    return pages


def time_round(files: list[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        load_documents(path)
    return time.perf_counter() - start


def time_pdfium(blobs: list[bytes]) -> float:
    start = time.perf_counter()
    for data in blobs:
        extract_pdf(data)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (median reported)")
    parser.add_argument("--per-pdf", type=int, default=1, help="abstracts per PDF")
    parser.add_argument("--limit", type=int, default=None, help="use the first N abstracts")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds ({args.rounds}) must be at least 1")
    if args.per_pdf < 1:
        parser.error(f"--per-pdf ({args.per_pdf}) must be at least 1")

    print(f"CPU: {cpu_model()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        pages = write_pdfs(folder, args.per_pdf, args.limit)
        files = sorted(folder.glob("*.pdf"))
        size = sum(path.stat().st_size for path in files)
        print(
            f"wrote {len(files):,} PDFs, {pages:,} pages, {size / 1024 / 1024:.1f} MB "
            f"in {time.perf_counter() - started:.1f} s"
        )
        time_round(files[:20])  # warm up: PDFium loads, the files enter the page cache
        rounds = [time_round(files) for _ in range(args.rounds)]
        blobs = [path.read_bytes() for path in files]
        pdfium_rounds = [time_pdfium(blobs) for _ in range(args.rounds)]
    for label, seconds in (
        ("load_documents (worker)", rounds),
        ("extract_pdf (in-process)", pdfium_rounds),
    ):
        median = statistics.median(seconds)
        print(
            f"{label:>24}: {pages / median:8,.0f} pages/s  {len(files) / median:8,.0f} files/s  "
            f"(median of {len(seconds)}: {median:.2f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
