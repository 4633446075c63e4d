"""What file names add to hybrid ranking (``searchapp/ranking/names.py``), on an index you have.

For each query: the top hits with names read and without (``Searcher._named`` returning
nothing), and the median time of ranking (embedding excluded) both ways, in the same run.

    search index /usr/share/doc --index-dir /tmp/doc-idx
    python benchmarks/names.py --index-dir /tmp/doc-idx "sources.list entries" copyright
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script

from benchmarks.machine import describe  # noqa: E402
from searchapp.ranking.searcher import Searcher, SearchOptions  # noqa: E402
from searchapp.search_index import SearchIndex  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queries", nargs="+")
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("-k", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    index = SearchIndex(args.index_dir)
    vectors = {q: index._embed_queries([q])[0] for q in args.queries}
    options = SearchOptions(k=args.k)
    stats = index.stats()
    print(f"{describe()}; {stats['documents']} documents, {stats['chunks']} passages")

    def ranked() -> tuple[dict[str, list[str]], dict[str, float]]:
        tops, seconds = {}, {}
        for query in args.queries:
            times = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                hits = index._rank(query, vectors[query], options)
                times.append(time.perf_counter() - start)
            tops[query] = [f"{hit.path} {hit.score:.3f}" for hit in hits[: args.k]]
            seconds[query] = statistics.median(times)
        return tops, seconds

    with_names, with_time = ranked()
    named = Searcher._named
    Searcher._named = lambda self, query, candidates: ({}, False)  # type: ignore[method-assign]
    try:
        without, without_time = ranked()
    finally:
        Searcher._named = named  # type: ignore[method-assign]
    for query in args.queries:
        ms, base = with_time[query] * 1e3, without_time[query] * 1e3
        print(
            f"\n{query!r}: ranking {ms:.1f} ms with names, {base:.1f} ms without (x{ms / base:.2f})"
        )
        for label, tops in (("names", with_names), ("plain", without)):
            for n, line in enumerate(tops[query], 1):
                print(f"  {label} {n}. {line}")
    index.close()


if __name__ == "__main__":
    main()
