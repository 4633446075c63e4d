"""Vector search at scale: exact (flat) against ivf and hnsw on up to 1M Cranfield-like vectors.

Run by hand from the repository root (not a test):

    python benchmarks/scale.py                          # 1M vectors: flat, ivf, hnsw
    python benchmarks/scale.py --n 100000 --kinds flat,ivf
    python benchmarks/scale.py --sweep                  # where ivf starts to pay (AUTO_THRESHOLD)

Vectors: the 1,400 Cranfield abstracts embedded with all-MiniLM-L6-v2, then n mixtures of them:
one abstract, up to half of another, and noise drawn from the abstracts' own covariance (so it
follows the embedding space's uneven spread rather than being isotropic), normalised. A vector's
nearest neighbour sits at cosine ~0.8, as a real abstract's does. Queries: the 225 Cranfield
queries, embedded by the same model. Recall@10 is against flat's exact answers from the same run.

Each kind is built in one subprocess (``build_vectors``, the code `search index` runs, with the
parameters ``plan_params`` picks for n) and searched in another (``VectorIndex.load``, then one
query at a time, k=10), so each peak memory (ru_maxrss) belongs to that step alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `searchapp` and `minilm` importable

from searchapp.storage.vector_params import AUTO_THRESHOLD, plan_params  # noqa: E402
from searchapp.storage.vectors import VectorIndex  # noqa: E402
from searchapp.storage.vectors_file import build_vectors  # noqa: E402

CRANFIELD = REPO_ROOT / "data" / "cranfield"
DIM = 384
K = 10
NOISE = 0.7  # noise norm relative to an abstract's spread around the mean
BATCH = 65_536
SWEEP = (5_000, 10_000, 20_000, 30_000, 50_000, 100_000, 300_000)
TUNING = {"ivf": ("nprobe", (16, 32, 64, 128)), "hnsw": ("ef_search", (128, 256, 512))}


# -- data -----------------------------------------------------------------------------------------


def read_jsonl(name: str) -> list[str]:
    """The ``text`` of each record of a Cranfield BEIR file (corpus.jsonl, queries.jsonl)."""
    lines = (CRANFIELD / name).read_text("utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines]


def cranfield_vectors() -> tuple[np.ndarray, np.ndarray]:
    """Abstracts (1400, 384) and queries (225, 384), embedded once and cached in the temp dir."""
    from minilm import SentenceEncoder

    encoder = SentenceEncoder.from_pretrained("all-MiniLM-L6-v2", device="cpu")
    cache = Path(tempfile.gettempdir()) / f"searchapp-cranfield-{encoder.weights_sha256[:12]}.npz"
    if cache.exists():
        saved = np.load(cache)
        return saved["docs"], saved["queries"]
    docs = encoder.encode(read_jsonl("corpus.jsonl"))
    queries = encoder.encode(read_jsonl("queries.jsonl"))
    np.savez(cache, docs=docs, queries=queries)
    return docs, queries


def synthetic_batches(
    base: np.ndarray, n: int, seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``n`` unit vectors, ``BATCH`` at a time: base[i] + u * base[j] + covariance-shaped noise.

    Yields ``(i, vectors)``: which base row each vector is mostly made of, and the vectors.
    """
    rng = np.random.default_rng(seed)
    centered = (base - base.mean(axis=0)).astype(np.float32)
    spread = np.float32(np.sqrt((centered**2).sum(axis=1).mean()))
    for start in range(0, n, BATCH):
        m = min(BATCH, n - start)
        first, second = rng.integers(len(base), size=(2, m))
        share = rng.uniform(0.0, 0.5, size=(m, 1)).astype(np.float32)
        mix = rng.standard_normal((m, len(base)), dtype=np.float32) / len(base) ** 0.5
        vectors = base[first] + share * base[second] + NOISE * (mix @ centered) / spread
        yield first, (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def read_batches(path: Path, n: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(ids, vectors)`` from a raw float32 file, read (not mapped) so RSS holds only a batch."""
    with open(path, "rb") as fh:
        for start in range(0, n, BATCH):
            m = min(BATCH, n - start)
            vectors = np.fromfile(fh, dtype=np.float32, count=m * DIM).reshape(m, DIM)
            yield np.arange(start, start + m, dtype=np.int64), vectors


def peak_gb() -> float:
    """This process's peak resident memory in GiB.

    VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a worker started by a
    parent holding the model would report the parent's peak.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux: ru_maxrss (bytes on macOS)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**30
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kib) / 2**20


def time_queries(vectors: VectorIndex, queries: np.ndarray) -> tuple[float, float, np.ndarray]:
    """p50 and p99 ms of one query at a time, and the ids found (m, K)."""
    for query in queries[:10]:  # warm-up: first calls page in and allocate
        vectors.search(query[None], K)
    seconds, found = [], []
    for query in queries:
        start = time.perf_counter()
        _, ids = vectors.search(query[None], K)
        seconds.append(time.perf_counter() - start)
        found.append(ids[0])
    p50, p99 = np.percentile(seconds, [50, 99]) * 1e3
    return float(p50), float(p99), np.array(found)


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, exact)]))


# -- workers: one subprocess per step, so each peak memory is its own ------------------------------


def worker_build(kind: str, data: Path, n: int, out: Path) -> dict:
    params = plan_params(kind, n)
    start = time.perf_counter()
    vectors = build_vectors(DIM, lambda: read_batches(data, n), n, params=params)
    seconds = time.perf_counter() - start
    vectors.save(out)
    return {"params": params.to_json(), "build_s": seconds, "peak_gb": peak_gb()}


def worker_search(index: Path, queries: Path, out: Path) -> dict:
    start = time.perf_counter()
    vectors = VectorIndex.load(index, DIM)
    load_s = time.perf_counter() - start
    queries = np.load(queries)
    field, values = TUNING.get(vectors.kind, ("", ()))
    planned = getattr(vectors.params, field, None)
    rows = []
    for value in sorted({*values, planned} - {None}) or [None]:
        if value is not None:
            vectors.tune(**{field: value})
        p50, p99, found = time_queries(vectors, queries)
        np.save(out.with_name(f"{out.stem}-{value}.npy"), found)
        rows.append({"setting": value, "planned": value == planned, "p50": p50, "p99": p99})
    return {"load_s": load_s, "peak_gb": peak_gb(), "field": field, "rows": rows}


def run_worker(*args: str) -> dict:
    command = [sys.executable, __file__, "--worker", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"worker {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the two benchmarks ---------------------------------------------------------------------------


def scale(n: int, kinds: list[str]) -> None:
    docs, queries = cranfield_vectors()
    with tempfile.TemporaryDirectory(prefix="searchapp-scale-") as tmp:
        work = Path(tmp)
        data, query_file = work / "vectors.f32", work / "queries.npy"
        start = time.perf_counter()
        with open(data, "wb") as fh:
            for _, batch in synthetic_batches(docs, n):
                batch.tofile(fh)
        np.save(query_file, queries)
        print(
            f"{n:,} synthetic {DIM}-d vectors from 1,400 Cranfield abstracts "
            f"({time.perf_counter() - start:.0f}s to make); {len(queries)} real queries, one at "
            f"a time, k={K}"
        )
        results = {}
        for kind in kinds:
            built = run_worker("build", kind, str(data), str(n), str(work / f"{kind}.faiss"))
            searched = run_worker("search", str(work / f"{kind}.faiss"), str(query_file),
                                  str(work / f"{kind}.npy"))  # fmt: skip
            size = (work / f"{kind}.faiss").stat().st_size / 2**20
            results[kind] = (built, searched, size)
            print(f"  {kind}: built in {built['build_s']:.1f}s, {built['params']}", flush=True)
        exact = np.load(work / "flat-None.npy")
        print_scale_table(results, work, exact)


def print_scale_table(results: dict, work: Path, exact: np.ndarray) -> None:
    flat_build, flat_search, flat_size = results["flat"]
    flat_p50 = flat_search["rows"][0]["p50"]
    header = (
        f"{'kind':<6} {'setting':<15} {'build s':>8} {'file MB':>8} {'build GB':>9} "
        f"{'search GB':>10} {'p50 ms':>8} {'p99 ms':>8} {'recall@10':>10} {'p50 vs flat':>12}"
    )
    print(header)
    print("-" * len(header))
    for kind, (built, searched, size) in results.items():
        for row in searched["rows"]:
            found = np.load(work / f"{kind}-{row['setting']}.npy")
            setting = f"{searched['field']}={row['setting']}" if row["setting"] else "exact"
            mark = "*" if row["planned"] else " "
            print(
                f"{kind:<6} {setting:<14}{mark} {built['build_s']:8.1f} {size:8.0f} "
                f"{built['peak_gb']:9.2f} {searched['peak_gb']:10.2f} {row['p50']:8.2f} "
                f"{row['p99']:8.2f} {recall_at_k(found, exact):10.3f} "
                f"{flat_p50 / row['p50']:11.0f}x"
            )
    print("* = the setting plan_params picks; ratios vs flat:")
    for kind, (built, searched, size) in results.items():
        if kind == "flat":
            continue
        planned = next(r for r in searched["rows"] if r["planned"])
        print(
            f"  {kind}: build x{built['build_s'] / flat_build['build_s']:.1f}, "
            f"search memory x{searched['peak_gb'] / flat_search['peak_gb']:.2f}, "
            f"file x{size / flat_size:.2f}, p50 latency x{planned['p50'] / flat_p50:.4f}"
        )


def embed_p50_ms(texts: list[str]) -> float:
    """p50 ms of embedding one query: what every warm query pays before searching."""
    from minilm import SentenceEncoder

    encoder = SentenceEncoder.from_pretrained("all-MiniLM-L6-v2", device="cpu")
    seconds = []
    for text in texts[:10] + texts:  # the first 10 warm up
        start = time.perf_counter()
        encoder.encode([text])
        seconds.append(time.perf_counter() - start)
    return float(np.percentile(seconds[10:], 50) * 1e3)


def sweep(kinds: list[str]) -> None:
    """Flat and the approximate kinds in one process at growing n: where does approximate pay?

    It pays once flat search alone costs more than half of embedding the query: from there,
    exactness makes every warm query at least a third slower, while ivf costs under 1 ms.
    """
    docs, queries = cranfield_vectors()
    embed_ms = embed_p50_ms(read_jsonl("queries.jsonl"))
    print(f"threshold sweep: {len(queries)} queries one at a time, k={K}; embedding one query "
          f"takes {embed_ms:.1f} ms (p50); auto now switches at {AUTO_THRESHOLD:,}")  # fmt: skip
    print(f"{'n':>8} {'kind':<6} {'params':<42} {'build s':>8} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'recall@10':>9}")  # fmt: skip
    pays = None
    for n in SWEEP:
        data = np.concatenate([batch for _, batch in synthetic_batches(docs, n)])
        ids = np.arange(n, dtype=np.int64)
        exact = None
        for kind in ["flat", *[k for k in kinds if k != "flat"]]:
            params = plan_params(kind, n)
            start = time.perf_counter()
            vectors = build_vectors(DIM, lambda: iter([(ids, data)]), n, params=params)  # noqa: B023
            build_s = time.perf_counter() - start
            p50, p99, found = time_queries(vectors, queries)
            if exact is None:
                exact = found
                pays = pays or (n if p50 > embed_ms / 2 else None)
            print(
                f"{n:8,} {kind:<6} {params.to_json():<42} {build_s:8.2f} {p50:7.2f} {p99:7.2f} "
                f"{recall_at_k(found, exact):9.3f}",
                flush=True,
            )
    print(f"approximate search pays from n = {pays or f'more than {SWEEP[-1]:,}'} "
          f"(flat p50 > {embed_ms / 2:.1f} ms, half of embedding a query)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="how many vectors")
    parser.add_argument("--kinds", default="flat,ivf,hnsw", help="comma-separated; flat always")
    parser.add_argument("--sweep", action="store_true", help="flat vs approximate at 5k..300k")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        step, *rest = args.worker
        if step == "build":
            kind, data, n, out = rest
            result = worker_build(kind, Path(data), int(n), Path(out))
        else:
            index, queries, out = rest
            result = worker_search(Path(index), Path(queries), Path(out))
        print(json.dumps(result))
        return 0
    kinds = ["flat", *[k for k in args.kinds.split(",") if k and k != "flat"]]
    unknown = set(kinds) - {"flat", "ivf", "hnsw"}
    if unknown:
        parser.error(f"--kinds: unknown {sorted(unknown)}; choose from flat, ivf, hnsw")
    if args.n < 1000:
        parser.error(f"--n ({args.n}) must be at least 1000")
    if args.sweep:
        sweep(kinds)
    else:
        scale(args.n, kinds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
