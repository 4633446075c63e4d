"""Indexing throughput with `--ray`: 1 and 2 local Ray actors against the plain local run.

Run by hand from the repository root (not a test; needs ``pip install 'searchapp[ray]'``):

    python benchmarks/ray_index.py                 # all 1,400 Cranfield files, fp32
    python benchmarks/ray_index.py --docs 400 --rounds 3

The corpus (data/cranfield/corpus.jsonl) is written one file per document into a temporary
folder. Each round indexes it into a new index with ``SearchIndex.add``, the model already loaded
in this process:

- local: the encoder in this process (torch's threads: every core);
- ray x1: one actor with every core of a local Ray cluster as threads;
- ray x2: two actors of half the cores each;
- driver alone: the same run with the embedding replaced by made-up unit vectors, so what is
  timed is the driver's share (discovery, decoding, chunking, tokenizing, SQLite, FAISS): the
  most chunks/s any cluster can be fed by one driver.

The cluster offers this machine's cores; the actors are started, and have loaded the model,
before the clock starts (their start-up is shown apart). Rounds alternate between the contenders
so none gets a quieter machine; medians shown. On a machine of 2 cores, expect no gain: the same
cores embed either way, and the driver (reading, tokenizing, SQLite) competes with the actors.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `searchapp` and `minilm` importable

from benchmarks.machine import cpu_model  # noqa: E402
from searchapp.ingest.ray_embedding import RayConfig, RayEmbedder, import_ray  # noqa: E402
from searchapp.search_index import SearchIndex  # noqa: E402

CRANFIELD = REPO_ROOT / "data" / "cranfield" / "corpus.jsonl"


class MadeUpVectors:
    """An embedding backend that embeds nothing: the same unit vector for every chunk."""

    windows_ahead = 1

    def __init__(self) -> None:
        self.dim = 0

    def start(self, encoder) -> None:
        self.dim = encoder.dim

    def submit(self, ids: list[list[int]], *, batch_size: int) -> MadeUpVectors._Ready:
        vectors = np.full((len(ids), self.dim), self.dim**-0.5, dtype=np.float32)
        return MadeUpVectors._Ready(vectors)

    class _Ready:
        def __init__(self, vectors: np.ndarray) -> None:
            self.vectors = vectors

        def result(self) -> np.ndarray:
            return self.vectors


def write_corpus(folder: Path, limit: int) -> int:
    records = [json.loads(line) for line in CRANFIELD.read_text("utf-8").splitlines()][:limit]
    for record in records:
        (folder / f"doc{record['_id']}.txt").write_text(record["text"] + "\n", encoding="utf-8")
    return len(records)


def index_seconds(folder: Path, index_dir: Path, encoder, embedder=None) -> tuple[float, int]:
    """Seconds of ``SearchIndex.add`` (discovery to FAISS saved) and the chunks it embedded."""
    search_index = SearchIndex(index_dir, encoder=encoder)
    start = time.perf_counter()
    report = search_index.add([folder], embedder=embedder)
    seconds = time.perf_counter() - start
    search_index.close()
    return seconds, report.chunks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1400, help="Cranfield files to index")
    parser.add_argument("--rounds", type=int, default=1, help="timed rounds per contender")
    parser.add_argument("--precision", default="fp32", help="fp32 or auto (bf16 where native)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.docs < 1:
        parser.error(f"--rounds ({args.rounds}) and --docs ({args.docs}) must be at least 1")

    from minilm import SentenceEncoder

    ray = import_ray()
    cores = os.cpu_count() or 1
    encoder = SentenceEncoder.from_pretrained(device="cpu", precision=args.precision)
    encoder.encode(["warm-up: the first forward pass allocates and picks kernels"] * 16)
    ray.init(
        address="local",
        num_cpus=cores,
        include_dashboard=False,
        object_store_memory=256 * 1024**2,
        logging_level=logging.ERROR,
        log_to_driver=False,
    )
    pools = {
        "ray x1": RayConfig(num_actors=1, cpus_per_actor=cores),
        "ray x2": RayConfig(num_actors=2, cpus_per_actor=max(1, cores // 2)),
    }
    seconds: dict[str, list[float]] = {"local": [], **{name: [] for name in pools}, "driver": []}
    startup: dict[str, list[float]] = {name: [] for name in pools}
    chunks = 0
    try:
        with tempfile.TemporaryDirectory(prefix="searchapp-ray-") as tmp:
            folder = Path(tmp) / "cranfield"
            folder.mkdir()
            files = write_corpus(folder, args.docs)
            for round_ in range(args.rounds):
                wall, chunks = index_seconds(folder, Path(tmp) / f"local-{round_}", encoder)
                seconds["local"].append(wall)
                for name, config in pools.items():
                    with RayEmbedder(config) as embedder:
                        start = time.perf_counter()
                        embedder.start(encoder)  # actors up, model loaded: not timed below
                        startup[name].append(time.perf_counter() - start)
                        warm_up = [[101, 2023, 102]] * (64 * len(embedder.actors))
                        embedder.submit(warm_up, batch_size=64).result()  # one batch per actor
                        index_dir = Path(tmp) / f"{name.replace(' ', '')}-{round_}"
                        wall, _ = index_seconds(folder, index_dir, encoder, embedder)
                        seconds[name].append(wall)
                index_dir = Path(tmp) / f"driver-{round_}"
                wall, _ = index_seconds(folder, index_dir, encoder, MadeUpVectors())
                seconds["driver"].append(wall)
    finally:
        ray.shutdown()

    local = chunks / statistics.median(seconds["local"])
    print(
        f"{cpu_model()}, {cores} cores (load average {os.getloadavg()[0]:.1f} at the end); "
        f"Ray {ray.__version__}; {files} Cranfield files, {chunks} chunks, {args.precision}; "
        f"{args.rounds} round(s), medians"
    )
    print(f"  {'local (SearchIndex.add)':<26} {local:7.1f} chunks/s")
    for name in pools:
        rate = chunks / statistics.median(seconds[name])
        print(
            f"  {name + ' (SearchIndex.add)':<26} {rate:7.1f} chunks/s  x{rate / local:.2f} vs "
            f"local; actors started in {statistics.median(startup[name]):.1f} s"
        )
    driver = chunks / statistics.median(seconds["driver"])
    print(
        f"  {'driver alone (no embedding)':<26} {driver:7.1f} chunks/s  "
        f"x{driver / local:.2f} vs local"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
