"""BM25 exactly as SQLite FTS5's ``bm25()`` computes it, so the postings file and FTS5 agree.

FTS5 (``fts5_aux.c``) scores a row as the sum, over the query's phrases in query order, of

    idf * (tf * (k1 + 1)) / (tf + k1 * (1 - b + b * length / average_length))

with k1 = 1.2, b = 0.75, ``idf = log((rows - df + 0.5) / (df + 0.5))`` floored at 1e-6, lengths
in tokens, and returns it negated. The functions below do the same operations in the same order
on float64, so their scores equal FTS5's bit for bit (``tests/searchapp/ranking/test_postings.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

K1 = 1.2
B = 0.75
IDF_FLOOR = 1e-6  # FTS5's idf for a term in half the rows or more
# Below this many chunks every term is scored: matching common words is cheap there, and in a
# handful of files "the" may be all a query shares with them.
COMMON_TERMS_FROM = 1000


def idf(df: int, rows: int) -> float:
    """The inverse document frequency of a term found in ``df`` of ``rows`` rows."""
    value = math.log((rows - df + 0.5) / (df + 0.5))
    return value if value > 0.0 else IDF_FLOOR


def term_weights(tf: np.ndarray, lengths: np.ndarray, average_length: float) -> np.ndarray:
    """Each posting's BM25 factor after the idf: ``tf`` and the row's ``lengths``, float64."""
    tf = np.asarray(tf, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.float64)
    return (tf * (K1 + 1.0)) / (tf + K1 * ((1 - B) + B * lengths / average_length))


def informative_terms(terms: Sequence[str], df: Callable[[str], int], rows: int) -> list[str]:
    """Drop the terms in half the rows or more ("the", "of"), from ``COMMON_TERMS_FROM`` rows on.

    FTS5 weighs such a term 1e-6 (``IDF_FLOOR``), next to 1-10 for a useful one: it moves no
    ranking but for ties, yet scoring it visits most of the index (at 100k chunks, 150 ms of
    FTS5 or 2 ms of postings per query).
    """
    if rows < COMMON_TERMS_FROM:
        return list(terms)
    return [term for term in terms if 2 * df(term) < rows]
