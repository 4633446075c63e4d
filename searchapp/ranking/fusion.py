"""Hybrid ranking: one order for the dense and the lexical candidates of a query.

Every candidate (a chunk in either ranker's top ``searcher.FUSION_DEPTH``) scores

    cosine + BM25_WEIGHT * bm25 / ceiling

``ceiling`` is the most BM25 any chunk could score for the query. Each term adds
``idf * tf (k1 + 1) / (tf + k1 (1 - b + b length / average_length))`` (``lexical.py``), and that
factor of the idf stays below ``k1 + 1`` whatever tf and length are, so the ceiling is
``(k1 + 1) * sum(idf)`` over the query's terms that some chunk holds. The lexical part thus lies
in [0, 1): the share of the query's possible BM25 a chunk reached, on the scale of a cosine. A
chunk the dense ranker returned but the lexical one did not has its BM25 computed (it counted 0
before the twentieth session, and lost to pages holding a common word of the query as often);
a chunk only the lexical ranker returned has its cosine read from the vectors.

The lexical part adapts to each query with no constant tuned per collection: a long question
whose best chunk holds a few of its words adds little, a few rare words that one chunk holds all
of add much. Reciprocal-rank fusion (k=60, equal weights), the rule before, did no better than
dense alone on CISI (nDCG@10 0.4160 against 0.4152); dense-weighted RRF wins there but loses
most of what BM25 finds for keyword queries. ``benchmarks/fusion.py`` compares the rules, and
``benchmarks/RESULTS.md`` ("Fusion") holds the table.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence

from searchapp.ranking.lexical import K1

# The lexical part's weight against the cosine: 1 weighs two numbers in [0, 1] alike. From 0.5
# to 1.25 the nDCG@10 gain over dense stays between +0.019 and +0.032 on Cranfield and CISI.
BM25_WEIGHT = 1.0


def bm25_ceiling(idfs: Iterable[float]) -> float:
    """The most BM25 a chunk could score for a query whose terms (those some chunk holds) have
    these idfs: ``(k1 + 1) * sum(idf)``; 0 for a query without such terms."""
    return (K1 + 1.0) * math.fsum(idfs)


def fuse(
    dense: Sequence[int],
    lexical: Sequence[tuple[int, float]],
    cosine: Mapping[int, float],
    ceiling: float,
    *,
    weight: float = BM25_WEIGHT,
    named: Mapping[int, float] | None = None,
    held: Collection[int] = (),
) -> list[tuple[int, float]]:
    """The candidates of both rankers as ``(chunk id, cosine + weight * bm25 / ceiling)``, best
    first, plus ``named``'s chunks with what their file's name adds (``names.py``) to theirs.
    ``held``: chunks of a file whose name holds every word of the query, taken to hold them as
    its name does (the whole BM25 share, ``weight``): `2024-01-17` typed ranked the note of that
    name below `2024-02-17`, whose heading held two of its words.

    ``dense``: chunk ids; ``lexical``: ``(chunk id, BM25)``; ``cosine`` must hold every
    candidate. Ties go to the higher cosine, then to the lower chunk id.
    """
    if ceiling < 0 or weight < 0:
        raise ValueError(f"ceiling ({ceiling}) and weight ({weight}) must not be negative")
    bm25 = dict(lexical)
    named = named or {}
    scale = weight / ceiling if ceiling > 0 else 0.0
    candidates = dict.fromkeys([*dense, *bm25, *named])
    fused = {
        i: cosine[i]
        + (max(scale * bm25.get(i, 0.0), weight) if i in held else scale * bm25.get(i, 0.0))
        + named.get(i, 0.0)
        for i in candidates
    }
    return [(i, fused[i]) for i in sorted(fused, key=lambda i: (-fused[i], -cosine[i], i))]
