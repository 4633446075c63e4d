"""PDF extraction throughput (pages/s through ``load_documents``), and `search index` on a PDF
folder against a text folder holding the same text.

Run by hand from the repository root (not a test; needs the ``test`` extra for fpdf2):

    python benchmarks/formats.py                    # 1,400 PDFs, one Cranfield abstract each
    python benchmarks/formats.py --per-pdf 20 --rounds 5

Each Cranfield abstract (data/cranfield/corpus.jsonl) is written on its own page(s) with fpdf2,
``--per-pdf`` abstracts to a PDF, into a temporary folder. Each round reads every file with
``load_documents`` (read, detect by content, PDFium text per page, spans), timed on one thread as
the indexer's producer thread runs it, PDFs going through the worker process; the median round
is reported as pages/s and files/s, and in-process ``extract_pdf`` on bytes already in memory
beside it (the difference is the file reads and the worker's pipe). With ``--index``, the same
abstracts as .txt files and as the PDFs are each indexed by `search index` in a new process
(bundled model, --precision auto), alternately, and chunks/s and files/s are printed for both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `searchapp` importable

from fpdf import FPDF  # noqa: E402

from benchmarks.machine import describe  # noqa: E402
from searchapp.ingest.decoding import load_documents  # noqa: E402
from searchapp.ingest.formats.pdf import extract_pdf  # noqa: E402

CRANFIELD = REPO_ROOT / "data" / "cranfield" / "corpus.jsonl"


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


def write_texts(folder: Path, limit: int | None) -> None:
    lines = CRANFIELD.read_text("utf-8").splitlines()
    texts = [text for line in lines if (text := json.loads(line)["text"]).strip()][:limit]
    for n, text in enumerate(texts):
        (folder / f"cranfield-{n:04d}.txt").write_text(text + "\n", "utf-8")


def time_index(folder: Path, index_dir: Path) -> tuple[float, int, int]:
    """Seconds of `search index FOLDER` in a new process, with the chunks and files it made."""
    import shutil
    import subprocess

    shutil.rmtree(index_dir, ignore_errors=True)
    search = str(Path(sys.executable).with_name("search"))
    start = time.perf_counter()
    subprocess.run(
        [search, "index", str(folder), "--index-dir", str(index_dir), "--quiet"], check=True
    )
    seconds = time.perf_counter() - start
    info = subprocess.run(
        [search, "info", "--json", "--index-dir", str(index_dir)], check=True, capture_output=True
    )
    stats = json.loads(info.stdout)
    return seconds, stats["chunks"], stats["documents"]


def main(argv: list[str] | None = None) -> int:
    print(describe(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (median reported)")
    parser.add_argument("--per-pdf", type=int, default=1, help="abstracts per PDF")
    parser.add_argument("--limit", type=int, default=None, help="use the first N abstracts")
    parser.add_argument(
        "--index", action="store_true", help="also time `search index` on PDFs against text"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds ({args.rounds}) must be at least 1")
    if args.per_pdf < 1:
        parser.error(f"--per-pdf ({args.per_pdf}) must be at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pdf"
        folder.mkdir()
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
        if args.index:
            texts = Path(tmp) / "text"
            texts.mkdir()
            write_texts(texts, args.limit)
            runs: dict[str, list[tuple[float, int, int]]] = {"text": [], "pdf": []}
            for _ in range(args.rounds):
                runs["text"].append(time_index(texts, Path(tmp) / "index-text"))
                runs["pdf"].append(time_index(folder, Path(tmp) / "index-pdf"))
    for label, seconds in (
        ("load_documents (worker)", rounds),
        ("extract_pdf (in-process)", pdfium_rounds),
    ):
        median = statistics.median(seconds)
        print(
            f"{label:>24}: {pages / median:8,.0f} pages/s  {len(files) / median:8,.0f} files/s  "
            f"(median of {len(seconds)}: {median:.2f} s)"
        )
    if args.index:
        medians = {}
        for label, timed in runs.items():
            seconds = statistics.median(run[0] for run in timed)
            chunks, documents = timed[0][1], timed[0][2]
            medians[label] = chunks / seconds
            print(
                f"{'search index, ' + label:>24}: {chunks / seconds:8,.1f} chunks/s "
                f"{documents / seconds:8,.1f} files/s  ({chunks} chunks, median {seconds:.1f} s, "
                "process start and model load included)"
            )
        print(f"{'PDF / text':>24}: x{medians['pdf'] / medians['text']:.2f} chunks/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
