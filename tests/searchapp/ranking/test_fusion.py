"""The hybrid fusion rule: cosine + weight * BM25 / the query's BM25 ceiling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from searchapp.ranking.fusion import BM25_WEIGHT, bm25_ceiling, fuse
from searchapp.ranking.lexical import K1, idf, term_weights


def test_ceiling_is_k1_plus_one_times_the_idfs() -> None:
    idfs = [idf(3, 100), idf(40, 100), idf(1, 100)]
    assert bm25_ceiling(idfs) == pytest.approx((K1 + 1) * sum(idfs))
    assert bm25_ceiling([]) == 0.0


@given(
    terms=st.lists(
        st.tuples(st.integers(1, 50), st.integers(1, 10_000)),  # (df, tf) per query term
        min_size=1,
        max_size=8,
    ),
    length=st.integers(1, 5000),
    average=st.floats(1.0, 2000.0),
)
def test_no_chunk_reaches_the_ceiling(terms, length, average) -> None:
    """Whatever its term counts and length, a chunk's BM25 stays below the ceiling."""
    rows = 100
    idfs = [idf(df, rows) for df, _ in terms]
    tf = np.array([t for _, t in terms])
    weights = term_weights(tf, np.full(len(terms), length), average)
    score = float(np.dot(idfs, weights))
    assert 0.0 < score < bm25_ceiling(idfs)


def order(fused: list[tuple[int, float]]) -> list[int]:
    return [i for i, _ in fused]


def test_fuse_adds_the_share_of_the_ceiling_to_the_cosine() -> None:
    cosine = {1: 0.9, 2: 0.6, 3: 0.5, 4: 0.2}
    lexical = [(3, 4.4), (4, 2.2)]  # chunk 4 only the lexical ranker found
    # fused: 1 -> 0.9, 2 -> 0.6, 3 -> 0.5 + 4.4/4.4 = 1.5, 4 -> 0.2 + 2.2/4.4 = 0.7
    fused = fuse([1, 2, 3], lexical, cosine, ceiling=4.4)
    assert order(fused) == [3, 1, 4, 2]
    assert [s for _, s in fused] == pytest.approx([1.5, 0.9, 0.7, 0.6])
    # Half the weight: 3 -> 1.0, 1 -> 0.9, 2 -> 0.6, 4 -> 0.45.
    assert order(fuse([1, 2, 3], lexical, cosine, ceiling=4.4, weight=0.5)) == [3, 1, 2, 4]
    assert BM25_WEIGHT == 1.0  # the first call is the default rule


def test_fuse_without_lexical_evidence_is_the_cosine_order() -> None:
    cosine = {5: 0.1, 6: 0.7, 7: 0.4}
    assert fuse([6, 7, 5], [], cosine, ceiling=0.0) == [(6, 0.7), (7, 0.4), (5, 0.1)]
    # A ceiling of 0 (no query word in the index) leaves every candidate its cosine.
    assert fuse([6, 7], [(5, 3.0)], cosine, ceiling=0.0) == [(6, 0.7), (7, 0.4), (5, 0.1)]
    assert order(fuse([6, 7], [(5, 3.0)], cosine, ceiling=1.0, weight=0.0)) == [6, 7, 5]


def test_fuse_ties_go_to_the_higher_cosine_then_the_lower_id() -> None:
    # 0.5 + 0 == 0.25 + 0.25 exactly in binary floating point.
    cosine = {1: 0.25, 2: 0.5, 3: 0.25, 4: 0.25}
    lexical = [(1, 0.25), (3, 0.25), (4, 0.25)]
    assert order(fuse([2, 4, 3, 1], lexical, cosine, ceiling=1.0)) == [2, 1, 3, 4]
    assert order(fuse([1, 3, 4, 2], lexical[::-1], cosine, ceiling=1.0)) == [2, 1, 3, 4]


def test_fuse_keeps_each_candidate_once() -> None:
    cosine = {1: 0.3, 2: 0.2}
    fused = fuse([1, 2], [(2, 1.0), (1, 0.5)], cosine, ceiling=2.0)
    assert order(fused) == [2, 1] and [s for _, s in fused] == pytest.approx([0.7, 0.55])


@given(
    cosines=st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=30),
    fractions=st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 0.999)), max_size=30),
    exponent=st.integers(-20, 20),
)
def test_fuse_does_not_depend_on_the_scale_of_bm25(cosines, fractions, exponent) -> None:
    """BM25 scores grow with the collection and the query; only their share of the ceiling
    counts, so scaling every score and the ceiling alike (by a power of two, exactly) changes
    nothing, and the order is by cosine + share."""
    scale = 2.0**exponent
    cosine = dict(enumerate(cosines))
    lexical = list(zip(cosine, fractions))
    at_one = fuse(list(cosine), lexical, cosine, ceiling=1.0)
    scaled = fuse(list(cosine), [(i, s * scale) for i, s in lexical], cosine, ceiling=scale)
    assert scaled == at_one
    fused = {i: cosine[i] + dict(lexical).get(i, 0.0) for i in cosine}
    assert at_one == [(i, fused[i]) for i in order(at_one)]
    assert [s for _, s in at_one] == sorted(fused.values(), reverse=True)


@pytest.mark.parametrize(("ceiling", "weight"), [(-1.0, 1.0), (1.0, -0.5)])
def test_fuse_rejects_negative_ceiling_or_weight(ceiling, weight) -> None:
    with pytest.raises(ValueError, match=rf"ceiling \({ceiling}\) and weight \({weight}\)"):
        fuse([1], [], {1: 0.5}, ceiling, weight=weight)
