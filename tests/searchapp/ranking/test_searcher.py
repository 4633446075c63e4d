"""Searcher on a small real Store with hand-made unit vectors: every chunk's cosine with the
query is chosen by the test, so each expected ranking is computed here from those cosines and
from FTS5's own BM25 list. No model is loaded."""

from __future__ import annotations

import collections
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from searchapp.errors import BadInputError
from searchapp.ranking import definitions, lexical, proximity, query_words
from searchapp.ranking.lexical import K1, Lexicon, idf
from searchapp.ranking.postings import Postings
from searchapp.ranking.searcher import FUSION_DEPTH, Searcher, SearchOptions
from searchapp.storage.schema import Chunk
from searchapp.storage.store import Store
from searchapp.storage.vectors import VectorIndex
from searchapp.storage.vectors_file import build_from_store

DIM = 8
QUERY_VECTOR = np.eye(DIM, dtype=np.float32)[0]  # a chunk's cosine is its vector's first entry


def vector_with_cosine(cosine: float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector whose cosine with QUERY_VECTOR is ``cosine``, in a random other direction."""
    rest = rng.standard_normal(DIM - 1)
    rest *= math.sqrt(1.0 - cosine**2) / np.linalg.norm(rest)
    return np.r_[cosine, rest].astype(np.float32)


@dataclass
class Collection:
    """A store and its vectors, with what the test chose: each chunk's cosine and document."""

    store: Store
    vectors: VectorIndex
    cosine: dict[int, float]  # chunk id -> cosine with QUERY_VECTOR
    doc: dict[int, str]  # chunk id -> doc id (= its path)
    text: dict[int, str]  # chunk id -> text

    def searcher(self, *, postings: bool = True) -> Searcher:
        return Searcher(self.store, self.vectors, Postings.build(self.store) if postings else None)

    def by_cosine(self, ids: Sequence[int] | None = None) -> list[int]:
        """Chunk ids (all, or these) best cosine first."""
        return sorted(self.cosine if ids is None else ids, key=lambda i: -self.cosine[i])

    def bm25(self, query: str) -> list[int]:
        """FTS5's own ranking of every matching chunk, read straight from SQLite."""
        return list(self.bm25_scores(query))

    def bm25_scores(self, query: str) -> dict[int, float]:
        """FTS5's BM25 of every matching chunk, best first."""
        return dict(Lexicon(self.store).search(query, len(self.cosine)))

    def ceiling(self, query: str) -> float:
        """(k1 + 1) * the idfs of the query's words that some chunk holds, counted here."""
        words = [set(re.findall(r"\w+", text.lower())) for text in self.text.values()]
        counts = [sum(w in chunk for chunk in words) for w in dict.fromkeys(query.split())]
        return (K1 + 1) * sum(idf(n, len(words)) for n in counts if n > 0)


def build(root: Path, documents: Sequence[tuple[str, Sequence[tuple[str, float]]]]) -> Collection:
    """Index ``(path, [(chunk text, cosine), ...])`` documents in a new store under ``root``."""
    rng = np.random.default_rng(0)
    store = Store.open(root, create=True)
    cosine: dict[int, float] = {}
    doc: dict[int, str] = {}
    text: dict[int, str] = {}
    with store.transaction():
        for path, chunks in documents:
            document_id = store.upsert_document(doc_id=path, path=path, title=None, size=1)
            # Each passage on its own line, after the one before, as a file's are.
            records = [
                Chunk(text, 1000 * n, 1000 * n + len(text), n + 1, n + 1)
                for n, (text, _) in enumerate(chunks)
            ]
            vectors = np.stack([vector_with_cosine(c, rng) for _, c in chunks])
            for chunk_id, (t, c) in zip(store.add_chunks(document_id, records, vectors), chunks):
                cosine[chunk_id] = c
                doc[chunk_id] = path
                text[chunk_id] = t
    return Collection(store, build_from_store(store, DIM), cosine, doc, text)


@pytest.fixture
def make(tmp_path: Path):
    opened: list[Store] = []

    def _make(documents: Sequence[tuple[str, Sequence[tuple[str, float]]]]) -> Collection:
        collection = build(tmp_path / f"index{len(opened)}", documents)
        opened.append(collection.store)
        return collection

    yield _make
    for store in opened:
        store.close()


def search(collection: Collection, query: str, *, postings: bool = True, **options):
    # The collections repeat passage texts across documents; copies are kept apart here.
    options.setdefault("collapse_copies", False)
    searcher = collection.searcher(postings=postings)
    return searcher.search(query, QUERY_VECTOR, SearchOptions(**options))


def fused_scores(collection: Collection, query: str, depth: int = FUSION_DEPTH) -> dict[int, float]:
    """The hybrid rule from its definition: each chunk of the two top-``depth`` lists scores
    cosine + its BM25 / the query's BM25 ceiling (0 for a chunk holding no query word)."""
    bm25 = collection.bm25_scores(query)
    ceiling = collection.ceiling(query)
    candidates = set(collection.by_cosine()[:depth]) | set(list(bm25)[:depth])
    return {i: collection.cosine[i] + bm25.get(i, 0.0) / ceiling for i in candidates}


def best_first(collection: Collection, scores: dict[int, float]) -> list[int]:
    """Chunk ids by score, ties to the higher cosine, then the lower id."""
    return sorted(scores, key=lambda i: (-scores[i], -collection.cosine[i], i))


def fused_order(collection: Collection, query: str, depth: int = FUSION_DEPTH) -> list[int]:
    return best_first(collection, fused_scores(collection, query, depth))


# Ten one-chunk documents: cosines fall with the list, the word "wing" (in four) is spread so
# that the lexical order differs from the dense one.
SMALL = [
    ("/c/a.txt", [("lift and drag of a slender body", 0.95)]),
    ("/c/b.txt", [("wing lift at low speed", 0.90)]),
    ("/c/c.txt", [("boundary layer on a flat plate", 0.80)]),
    ("/c/d.txt", [("wing wing wing flutter", 0.60)]),
    ("/c/e.txt", [("heat transfer in a nozzle", 0.40)]),
    ("/c/f.txt", [("wing tip vortex wing", 0.30)]),
    ("/c/g.txt", [("shock waves in a channel", 0.10)]),
    ("/c/h.txt", [("delta wing at high incidence", -0.20)]),
    ("/c/i.txt", [("a rotating cylinder in cross flow", -0.30)]),
    ("/c/j.txt", [("supersonic inlet design", -0.40)]),
]


# -- one ranker at a time ---------------------------------------------------------------------


def test_dense_mode_ranks_by_cosine_and_shows_it(make) -> None:
    collection = make(SMALL)
    hits = search(collection, "wing", mode="dense", k=5)
    expected = collection.by_cosine()[:5]
    assert [h.chunk_id for h in hits] == expected
    assert [h.score for h in hits] == pytest.approx([collection.cosine[i] for i in expected])
    assert [h.cosine for h in hits] == [h.score for h in hits]
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("postings", [True, False], ids=["postings", "fts5"])
def test_lexical_mode_ranks_by_bm25_and_scores_its_share_of_the_ceiling(make, postings) -> None:
    collection = make(SMALL)
    hits = search(collection, "wing", mode="lexical", k=20, postings=postings)
    expected = collection.bm25("wing")
    assert [h.chunk_id for h in hits] == expected
    # Only the chunks that hold the word; three "wing"s in four words rank first.
    assert {collection.doc[i] for i in expected} == {"/c/b.txt", "/c/d.txt", "/c/f.txt", "/c/h.txt"}
    assert collection.doc[expected[0]] == "/c/d.txt"
    # The score is the share of the most BM25 the query could reach; the cosine rides along.
    bm25, ceiling = collection.bm25_scores("wing"), collection.ceiling("wing")
    assert [h.score for h in hits] == pytest.approx([bm25[i] / ceiling for i in expected])
    assert all(0 < h.score < 1 for h in hits)
    assert [h.cosine for h in hits] == pytest.approx([collection.cosine[i] for i in expected])


@pytest.mark.parametrize("postings", [True, False], ids=["postings", "fts5"])
def test_a_word_no_passage_holds_as_typed_is_searched_as_the_form_they_hold(make, postings) -> None:
    # A web developer's "hook that debounces input": no passage says "debounces", so only
    # "hook" and "input" scored, and a GraphQL schema's inputs outranked `useDebounce`.
    collection = make(
        [
            ("/r/useDebounce.ts", [("a hook to debounce a value while typing", 0.1)]),
            ("/r/schema.graphql", [("input InvoiceInput input CustomerInput input", 0.1)]),
            ("/r/repairs.md", [("the repairs log", 0.1)]),
            ("/r/shop.md", [("the repair bench", 0.1)]),
        ]
    )
    hits = search(collection, "hook that debounces input", mode="lexical", k=1, postings=postings)
    assert [collection.doc[h.chunk_id] for h in hits] == ["/r/useDebounce.ts"]
    for query in ("debounced", "debouncing", "debounces"):
        hits = search(collection, query, mode="lexical", k=3, postings=postings)
        assert [collection.doc[h.chunk_id] for h in hits] == ["/r/useDebounce.ts"], query
    # A word held as typed is searched as typed alone: no stemming.
    assert search(collection, "typings", mode="lexical", k=3, postings=postings)  # "typing"
    hits = search(collection, "repairs", mode="lexical", k=3, postings=postings)
    assert [collection.doc[h.chunk_id] for h in hits] == ["/r/repairs.md"]
    hits = search(collection, "repaired", mode="lexical", k=3, postings=postings)
    assert [collection.doc[h.chunk_id] for h in hits] == ["/r/shop.md"]


def test_other_forms_of_a_word_are_its_regular_inflections() -> None:
    assert lexical.other_forms("debounces")[0] == "debounce"
    assert lexical.other_forms("policies")[0] == "policy"
    assert "strings" in lexical.other_forms("string")  # a base that looks inflected too
    assert lexical.other_forms("handling")[0] == "handle"
    assert "stop" in lexical.other_forms("stopped") and "copy" in lexical.other_forms("copied")
    assert lexical.other_forms("repair") == ["repairs", "repaired", "repairing"]
    assert "the" not in lexical.other_forms("thing")  # a stem of 2 letters is no word
    assert lexical.other_forms("key") == []


@pytest.mark.parametrize("postings", [True, False], ids=["postings", "fts5"])
def test_lexical_ties_go_to_the_higher_cosine_then_the_lower_id(make, postings) -> None:
    # The same words score the same BM25: the cosine the test gave each chunk orders them.
    cosines = [0.1, 0.7, -0.2, 0.7, 0.4]
    collection = make([(f"/t/{n}.txt", [("glider wing", c)]) for n, c in enumerate(cosines)])
    hits = search(collection, "glider", mode="lexical", k=5, postings=postings)
    assert len(set(collection.bm25_scores("glider").values())) == 1
    expected = best_first(collection, dict.fromkeys(collection.cosine, 1.0))
    assert [h.chunk_id for h in hits] == expected
    assert expected != sorted(collection.cosine)  # the id order alone would fail


@pytest.mark.parametrize("postings", [True, False], ids=["postings", "fts5"])
def test_lexical_ties_past_the_first_fetch_rank_the_same_whatever_k(make, postings) -> None:
    # 300 chunks tie on BM25, more than the first fetch (100) holds: the nearest comes first
    # at every k, and a smaller k's hits are the start of a larger one's.
    cosines = np.random.default_rng(1).uniform(-0.9, 0.9, 300)
    collection = make([(f"/t/{n:03}.txt", [(f"glider word{n}", c)]) for n, c in enumerate(cosines)])
    assert len(set(collection.bm25_scores("glider").values())) == 1
    expected = best_first(collection, dict.fromkeys(collection.cosine, 1.0))
    for k in (1, 5, 30, 100, 300):
        hits = search(collection, "glider", mode="lexical", k=k, postings=postings)
        assert [h.chunk_id for h in hits] == expected[:k], k


def test_lexical_mode_without_a_match_finds_nothing(make) -> None:
    assert search(make(SMALL), "zeppelin", mode="lexical") == []


# -- hybrid -----------------------------------------------------------------------------------


@pytest.mark.parametrize("postings", [True, False], ids=["postings", "fts5"])
def test_hybrid_order_is_the_fusion_of_both_rankings(make, postings) -> None:
    collection = make(SMALL)
    hits = search(collection, "wing", k=10, postings=postings)
    fused = fused_scores(collection, "wing")
    expected = best_first(collection, fused)
    assert [h.chunk_id for h in hits] == expected
    # Each hit shows the score it was ranked by, so scores fall down the list, and its cosine.
    assert [h.score for h in hits] == pytest.approx([fused[i] for i in expected])
    assert [h.cosine for h in hits] == pytest.approx([collection.cosine[i] for i in expected])
    assert [h.score for h in hits] != sorted(h.cosine for h in hits)[::-1]
    # The lexical part moves "wing wing wing flutter" (cosine 0.6) above a chunk of cosine 0.8.
    assert expected != collection.by_cosine()
    assert expected.index(collection.bm25("wing")[0]) < 2


def test_hybrid_ignores_query_words_no_chunk_holds(make) -> None:
    # "zeppelin" matches nothing: it neither scores nor lowers the BM25 ceiling.
    collection = make(SMALL)
    hits = search(collection, "wing zeppelin", k=10)
    assert [h.chunk_id for h in hits] == [h.chunk_id for h in search(collection, "wing", k=10)]
    assert [h.chunk_id for h in hits] != collection.by_cosine()


def test_hybrid_ties_go_to_the_lower_chunk_id(make) -> None:
    # Chunks with the same text and cosine score the same in both rankers.
    texts = {"x": "glider wing", "y": "glider wing", "z": "glider wing"}
    collection = make([(f"/t/{name}.txt", [(text, 0.5)]) for name, text in texts.items()])
    hits = search(collection, "glider", k=3)
    assert [h.chunk_id for h in hits] == sorted(collection.cosine)


def test_hybrid_without_a_lexical_match_is_the_dense_ranking(make) -> None:
    collection = make(SMALL)
    hits = search(collection, "zeppelin", k=10)
    assert [h.chunk_id for h in hits] == collection.by_cosine()
    assert [h.score for h in hits] == [h.cosine for h in hits]


def test_hybrid_continues_with_the_dense_ranking_past_the_fusion_depth(make) -> None:
    # 150 one-chunk documents; only the last ten by cosine hold the query word.
    cosines = np.linspace(0.9, -0.5, 150)
    collection = make(
        [
            (
                f"/deep/{n:03d}.txt",
                [(f"rotor blade {n}" if n >= 140 else f"other text {n}", float(c))],
            )
            for n, c in enumerate(cosines)
        ]
    )
    hits = search(collection, "rotor", k=150)
    fused = fused_scores(collection, "rotor")
    assert len(fused) == FUSION_DEPTH + 10  # the dense top 100 and the ten "rotor" chunks
    # The rest of the chunks score their cosine (a BM25 of 0), merged in by score.
    every = {i: fused.get(i, collection.cosine[i]) for i in collection.cosine}
    assert [h.chunk_id for h in hits] == best_first(collection, every)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert [h.chunk_id for h in hits[:FUSION_DEPTH]] == fused_order(collection, "rotor")[:100]
    # The merge is not the fused list followed by the rest: some of the rest outscore some
    # "rotor" chunks whose cosines are the lowest.
    assert [h.chunk_id for h in hits[: len(fused)]] != best_first(collection, fused)
    # The lexical candidates the dense top 100 lacks show their own cosine, read from FAISS.
    rotor = {h.chunk_id: h.cosine for h in hits if h.chunk_id in set(collection.bm25("rotor"))}
    assert rotor == pytest.approx({i: collection.cosine[i] for i in rotor}) and len(rotor) == 10


@pytest.mark.parametrize("postings", [True, False])
def test_a_dense_candidate_below_bm25s_best_scores_its_own_bm25(make, postings) -> None:
    # 120 short passages hold "rotor" often; the nearest by cosine holds it once in a long one,
    # below BM25's first FUSION_DEPTH. It counted a BM25 of 0 and lost to passages it would
    # tie or beat on its own words.
    long_text = "rotor " + " ".join(f"filler{n}" for n in range(60))
    documents = [("/r/near.txt", [(long_text, 0.9)])]
    documents += [(f"/r/{n:03d}.txt", [(f"rotor rotor blade {n}", 0.2)]) for n in range(120)]
    collection = make(documents)
    near = collection.by_cosine()[0]
    bm25 = collection.bm25_scores("rotor")
    assert near in bm25 and near not in list(bm25)[:FUSION_DEPTH]
    hits = search(collection, "rotor", k=3, postings=postings)
    expected = collection.cosine[near] + bm25[near] / collection.ceiling("rotor")
    assert hits[0].chunk_id == near
    assert hits[0].score == pytest.approx(expected) and hits[0].score > collection.cosine[near]


def test_hybrid_first_hits_do_not_depend_on_k(make) -> None:
    # 300 chunks that all hold "rotor", once to five times, with cosines in another order: a
    # larger k fetches more candidates, but each ranker still brings only its top 100 to fusion.
    rng = np.random.default_rng(1)
    cosines = rng.uniform(-0.5, 0.9, 300)
    collection = make(
        [
            (f"/k/{n:03d}.txt", [(" ".join(["rotor"] * (1 + n % 5) + ["blade"] * 5), float(c))])
            for n, c in enumerate(cosines)
        ]
    )
    first = [h.chunk_id for h in search(collection, "rotor blade", k=10)]
    assert first == fused_order(collection, "rotor blade")[:10]
    for k in (50, 120, 300):
        assert [h.chunk_id for h in search(collection, "rotor blade", k=k)][:10] == first, k


# -- filters ----------------------------------------------------------------------------------


def test_per_doc_keeps_each_documents_best_chunks(make) -> None:
    collection = make(
        [
            ("/p/one.txt", [("alpha", 0.9), ("alpha", 0.8), ("alpha", 0.7)]),
            ("/p/two.txt", [("beta", 0.85), ("beta", 0.5)]),
            ("/p/three.txt", [("gamma", 0.6)]),
        ]
    )
    for per_doc in (1, 2, 3):
        hits = search(collection, "delta", mode="dense", k=10, per_doc=per_doc)
        kept: dict[str, int] = {}
        expected = []
        for chunk_id in collection.by_cosine():
            doc = collection.doc[chunk_id]
            if kept.get(doc, 0) < per_doc:
                kept[doc] = kept.get(doc, 0) + 1
                expected.append(chunk_id)
        assert [h.chunk_id for h in hits] == expected, per_doc
    assert len(search(collection, "delta", mode="dense", per_doc=1)) == 3


@pytest.mark.parametrize("mode", ["dense", "hybrid", "lexical"])
def test_min_score_drops_lower_scores(make, mode) -> None:
    collection = make(SMALL)
    threshold = {"dense": 0.5, "hybrid": 0.9, "lexical": 0.6}[mode]
    hits = search(collection, "wing", mode=mode, k=10, min_score=threshold)
    unfiltered = search(collection, "wing", mode=mode, k=10)
    expected = [h.chunk_id for h in unfiltered if round(h.score, 3) >= threshold]  # as shown
    assert [h.chunk_id for h in hits] == expected
    assert 0 < len(hits) < len(unfiltered)
    # A score as it is shown (3 decimals) passes: 0.917511, shown 0.918, passes 0.918.
    last = hits[-1]
    shown = float(f"{last.score:.3f}")
    again = search(collection, "wing", mode=mode, k=10, min_score=shown)
    assert last.chunk_id in [h.chunk_id for h in again]
    assert last.chunk_id not in [
        h.chunk_id for h in search(collection, "wing", mode=mode, k=10, min_score=shown + 0.001)
    ]
    # More decimals than are shown: a hit shown as 1.448 passed --min-score 1.4486.
    finer = search(collection, "wing", mode=mode, k=10, min_score=shown + 0.0006)
    assert last.chunk_id not in [h.chunk_id for h in finer]
    assert all(round(h.score, 3) >= shown + 0.0006 for h in finer)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.md", {"/r/docs/guide.md", "/r/notes/todo.md"}),  # the file name
        ("guide.md", {"/r/docs/guide.md"}),
        ("/r/docs/*", {"/r/docs/guide.md", "/r/docs/api.txt"}),  # the whole path
        ("notes/*.md", {"/r/notes/todo.md"}),  # the end of the path
        ("*.rst", set()),
        # A folder, as a person types one after ripgrep: under it, at any depth.
        ("docs", {"/r/docs/guide.md", "/r/docs/api.txt"}),
        ("docs/", {"/r/docs/guide.md", "/r/docs/api.txt"}),
        ("/r/docs", {"/r/docs/guide.md", "/r/docs/api.txt"}),
        ("/r", {"/r/docs/guide.md", "/r/docs/api.txt", "/r/notes/todo.md", "/r/src/main.py"}),
        ("r/src", {"/r/src/main.py"}),
        ("/docs", set()),  # absolute: not a folder at any depth
        ("doc", set()),  # a folder's name whole, not its start
    ],
)
def test_path_glob(make, pattern, expected) -> None:
    paths = ["/r/docs/guide.md", "/r/docs/api.txt", "/r/notes/todo.md", "/r/src/main.py"]
    collection = make([(p, [("text", 0.9 - n / 10)]) for n, p in enumerate(paths)])
    hits = search(collection, "text", k=10, path_glob=pattern)
    assert {h.path for h in hits} == expected
    assert [h.chunk_id for h in hits] == collection.by_cosine([h.chunk_id for h in hits])


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # "*" stays within a folder and "**/" is any number of them, none too, as --include
        # and a .gitignore read them ("r/*.md" matched /r/docs/guide.md, "r/**/*.md" did not
        # match /r/guide.md); a folder the glob matches holds what lies under it.
        ("r/*.md", {"/r/guide.md"}),
        ("/r/*", {"/r/guide.md", "/r/docs/guide.md", "/r/docs/api.txt", "/r/notes/todo.md"}),
        ("r/**/*.md", {"/r/guide.md", "/r/docs/guide.md", "/r/notes/todo.md"}),
        ("/r/**", {"/r/guide.md", "/r/docs/guide.md", "/r/docs/api.txt", "/r/notes/todo.md"}),
        ("r/**/api.*", {"/r/docs/api.txt"}),
        ("*/docs/*", {"/r/docs/guide.md", "/r/docs/api.txt"}),
        ("r/?otes/*.md", {"/r/notes/todo.md"}),
        ("r/[!d]*/*", {"/r/notes/todo.md"}),
        ("r/*s/", {"/r/docs/guide.md", "/r/docs/api.txt", "/r/notes/todo.md"}),  # folders
        ("r/*s", {"/r/docs/guide.md", "/r/docs/api.txt", "/r/notes/todo.md"}),
        ("r/*.md/", set()),  # no folder is named so
        ("[z-a]", set()),  # a reversed range matches nothing, as fnmatch reads it
        # Names compared one at a time: a regular expression over the whole path took 25 s
        # to find that this does not match.
        ("*a*a*a*a*a*a*a*a*a*a*b", set()),
    ],
)
def test_path_glob_stars_as_include_reads_them(make, pattern, expected) -> None:
    paths = ["/r/guide.md", "/r/docs/guide.md", "/r/docs/api.txt", "/r/notes/todo.md"]
    paths.append("/x/" + "a" * 40)
    collection = make([(p, [("text", 0.9 - n / 10)]) for n, p in enumerate(paths)])
    assert {h.path for h in search(collection, "text", k=10, path_glob=pattern)} == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # A name's accents may be left out, as -F leaves them (a journalist's '*Nunez*');
        # typed, they are matched as written; case is matched as it is.
        ("*Nunez*", {"/r/Zoom interview Núñez.vtt"}),
        ("*Núñez*", {"/r/Zoom interview Núñez.vtt"}),
        ("*nunez*", set()),
        ("!*Nunez*", {"/r/Nuno.md"}),
    ],
)
def test_path_glob_leaves_accents_out(make, pattern, expected) -> None:
    paths = ["/r/Zoom interview Núñez.vtt", "/r/Nuno.md"]
    collection = make([(p, [("text", 0.9 - n / 10)]) for n, p in enumerate(paths)])
    assert {h.path for h in search(collection, "text", k=10, path_glob=pattern)} == expected


def test_path_from_the_current_folder(make, monkeypatch, tmp_path) -> None:
    here, other = tmp_path / "pro[j]", tmp_path / "other"  # "[j]": the folder's name as it is
    paths = [str(here / "notes" / "a.md"), str(other / "notes" / "b.md"), str(here / "c.md")]
    collection = make([(p, [("text", 0.9 - n / 10)]) for n, p in enumerate(paths)])
    monkeypatch.chdir(tmp_path)
    (here / "notes").mkdir(parents=True)
    monkeypatch.chdir(here)
    for pattern, expected in [
        ("./notes", {paths[0]}),  # this folder's notes, not every notes/ in the index
        ("./notes/", {paths[0]}),
        ("./notes/*", {paths[0]}),
        ("./c.md", {paths[2]}),
        ("./*.md", {paths[2]}),  # "*" within this folder, as --include reads it
        ("./*/", {paths[0]}),  # the folders here (normpath dropped the "/": this one's files)
        ("./**/*.md", {paths[0], paths[2]}),
        ("../other", {paths[1]}),
        (".", {paths[0], paths[2]}),
        ("notes", {paths[0], paths[1]}),  # a bare name: any folder of that name
    ]:
        hits = search(collection, "text", k=10, path_glob=pattern)
        assert {h.path for h in hits} == expected, pattern


# -- widening: filters that drop the first candidates ------------------------------------------


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_widening_finds_k_hits_past_a_path_glob(make, mode) -> None:
    # 300 chunks: the 250 best by cosine are .txt, so the first fetch (100) holds no .md at all.
    cosines = np.linspace(0.95, -0.9, 300)
    collection = make(
        [
            (f"/w/{n:03d}.{'txt' if n < 250 else 'md'}", [(f"chunk {n}", float(c))])
            for n, c in enumerate(cosines)
        ]
    )
    hits = search(collection, "zeppelin", mode=mode, k=10, path_glob="*.md")
    markdown = [i for i in collection.by_cosine() if collection.doc[i].endswith(".md")]
    assert [h.chunk_id for h in hits] == markdown[:10]
    assert [h.rank for h in hits] == list(range(1, 11))


def test_widening_finds_k_documents_past_per_doc(make) -> None:
    # One document's 150 chunks outrank every other document's.
    big = ("/w/big.txt", [(f"part {n}", 0.9 - n / 1000) for n in range(150)])
    small = [(f"/w/s{n:02d}.txt", [(f"small {n}", 0.7 - n / 100)]) for n in range(20)]
    collection = make([big, *small])
    for mode in ("dense", "hybrid"):
        hits = search(collection, "part", mode=mode, k=5, per_doc=1)
        expected = ["/w/big.txt", "/w/s00.txt", "/w/s01.txt", "/w/s02.txt", "/w/s03.txt"]
        assert [h.path for h in hits] == expected, mode
        assert hits[0].chunk_id == collection.by_cosine()[0]


def test_widening_with_min_score_returns_all_that_pass(make) -> None:
    # Fewer than k pass: the search reads every candidate, then returns what passed.
    cosines = np.linspace(0.95, -0.9, 300)
    collection = make([(f"/m/{n:03d}.txt", [("words", float(c))]) for n, c in enumerate(cosines)])
    for mode in ("dense", "hybrid"):
        hits = search(collection, "zeppelin", mode=mode, k=500, min_score=-0.5)
        expected = [i for i in collection.by_cosine() if collection.cosine[i] >= -0.5]
        assert [h.chunk_id for h in hits] == expected, mode
        assert FUSION_DEPTH < len(expected) < 300


@pytest.mark.parametrize("mode", ["dense", "hybrid", "lexical"])
def test_min_score_stops_widening_once_nothing_further_can_pass(make, monkeypatch, mode) -> None:
    # 1,000 chunks, a third of them holding "rotor" (and "blade" 0-6 times), fewer than k of
    # which pass: the first fetch already ends below the threshold, so no wider one is made
    # (it once ranked the whole index).
    cosines = np.linspace(0.95, -0.9, 1000)
    texts = [f"rotor {'blade ' * (n % 7)}{n}" if n % 3 == 0 else f"other {n}" for n in range(1000)]
    collection = make(
        [(f"/s/{n:04d}.txt", [(text, float(c))]) for n, (text, c) in enumerate(zip(texts, cosines))]
    )
    searcher = collection.searcher()
    fetched: list[int] = []
    dense, lexical = searcher.vectors.search, searcher._lexical
    monkeypatch.setattr(searcher.vectors, "search", lambda v, k: fetched.append(k) or dense(v, k))
    monkeypatch.setattr(searcher, "_lexical", lambda q, k: fetched.append(k) or lexical(q, k))
    threshold = {"dense": 0.9, "hybrid": 1.3, "lexical": 0.5125}[mode]
    options = SearchOptions(k=50, mode=mode, min_score=threshold, collapse_copies=False)
    hits = searcher.search("rotor blade", QUERY_VECTOR, options)
    lowest = threshold - 0.0005  # passes as shown, to 3 decimals
    assert 0 < len(hits) < 50 and all(h.score >= lowest for h in hits)
    assert set(fetched) == {200}  # one fetch (4 k), not widened toward the 1,000
    # The same hits as a search that reads every candidate.
    every = searcher.search("rotor blade", QUERY_VECTOR, replace(options, min_score=None, k=1000))
    assert [h.chunk_id for h in hits] == [h.chunk_id for h in every if h.score >= lowest]


def test_widening_stops_when_the_ranker_has_no_more(make, monkeypatch) -> None:
    # Lexical mode: three chunks hold the word; one fetch shows there are no more to find.
    collection = make(
        [
            (f"/x/{n:03d}.txt", [(f"zeppelin {n}" if n < 3 else f"other {n}", 0.5)])
            for n in range(300)
        ]
    )
    searcher = collection.searcher()
    fetched: list[int] = []
    lexical = searcher._lexical
    monkeypatch.setattr(searcher, "_lexical", lambda q, k: fetched.append(k) or lexical(q, k))
    hits = searcher.search("zeppelin", QUERY_VECTOR, SearchOptions(k=10, mode="lexical"))
    assert len(hits) == 3 and fetched == [100]


@pytest.mark.parametrize("mode", ["dense", "hybrid", "lexical"])
def test_widening_stops_once_every_document_gave_its_hits(make, monkeypatch, mode) -> None:
    # A 20 MB log is one document of 38,000 passages: with --per-doc 1 it gives one hit, and
    # k=10 widened to the whole index for hits that could not come (1.1-1.5 s a query).
    lines = [f"payment {'container ' * (n % 7)}line {n}" for n in range(500)]
    log = ("/l/app.log", [(line, 0.9 - n / 1000) for n, line in enumerate(lines)])
    notes = [(f"/l/note{n}.md", [(f"payment note {n}", 0.85)]) for n in range(2)]
    collection = make([log, *notes])
    searcher = collection.searcher()
    fetched: list[int] = []
    dense, lexical = searcher.vectors.search, searcher._lexical
    monkeypatch.setattr(searcher.vectors, "search", lambda v, k: fetched.append(k) or dense(v, k))
    monkeypatch.setattr(searcher, "_lexical", lambda q, k: fetched.append(k) or lexical(q, k))
    read: list[int] = []
    get_chunks = searcher.store.get_chunks
    monkeypatch.setattr(
        searcher.store, "get_chunks", lambda ids: read.extend(ids) or get_chunks(ids)
    )
    options = SearchOptions(k=10, mode=mode, collapse_copies=False)
    hits = searcher.search("payment", QUERY_VECTOR, options)
    assert sorted(h.path for h in hits) == ["/l/app.log", "/l/note0.md", "/l/note1.md"]
    assert max(fetched) < 502  # not widened to the whole index
    assert len(read) == len(set(read))  # and no passage read twice across widenings


@pytest.mark.parametrize("mode", ["dense", "hybrid", "lexical"])
def test_a_rare_phrase_ends_the_widening_once_every_passage_that_may_hold_it_is_seen(
    make, monkeypatch, mode
) -> None:
    # 400 documents; two passages hold the phrase, one of them after an identifier whose
    # parts FTS5 puts between its words ("get_console getconsole now").
    texts = [f"console text {n} {'filler ' * 20}now" for n in range(400)]
    texts[150] = "call get_console now please"
    texts[370] = "CONSOLE: now, at last"
    collection = make([(f"/p/{n:03d}.txt", [(t, 0.9 - n / 1000)]) for n, t in enumerate(texts)])
    searcher = collection.searcher()
    checked: list[str] = []
    found_in = query_words.Phrase.found_in
    monkeypatch.setattr(
        query_words.Phrase, "found_in", lambda p, text: checked.append(text) or found_in(p, text)
    )
    options = SearchOptions(k=10, mode=mode, collapse_copies=False)
    hits = searcher.search('"console now"', QUERY_VECTOR, options)
    assert sorted(h.path for h in hits) == ["/p/150.txt", "/p/370.txt"]
    # Each text checked once (each widening checked the candidates before it again), and of
    # the passages past the first fetch, only those FTS5 finds the words near in.
    assert len(set(checked)) <= 100 + 2
    twice = {text for text, count in collections.Counter(checked).items() if count > 1}
    assert twice <= {h.text for h in hits}  # a hit's text again, for its line


@pytest.mark.parametrize("mode", ["dense", "hybrid", "lexical"])
def test_a_phrase_spelled_otherwise_in_its_one_passage_is_found_not_said_missing(
    make, mode
) -> None:
    # The query's "getConsole" gave the terms get, console and getconsole; the one passage
    # saying "getconsole now" holds only the last, so the phrase was "in no passage" and
    # searched as words, with a warning, though that passage holds it.
    collection = make([("/g/a.txt", [("call getconsole now", 0.5)]), ("/g/b.txt", [("x", 0.1)])])
    hits = search(collection, '"getConsole now"', k=5, mode=mode)
    assert [h.path for h in hits] == ["/g/a.txt"]


@pytest.mark.parametrize("mode", ["dense", "hybrid", "lexical"])
@pytest.mark.parametrize(
    ("phrase", "spellings"),
    [
        ('"getConsole now"', ["call getConsole now", "call getconsole now"]),
        ('"get_console now"', ["call get_console now", "call get console now"]),
    ],
)
def test_past_the_first_fetch_a_phrase_finds_each_spelling_it_matches(
    make, mode, phrase, spellings
) -> None:
    # The passages that may hold a phrase were asked of FTS5 with the query's own terms:
    # "getConsole" gave get, console and getconsole, and "call getconsole now" (no parts) was
    # never looked at past the first fetch.
    texts = [f"filler text {n}" for n in range(400)]
    texts[5], texts[380] = spellings
    collection = make([(f"/g/{n:03d}.txt", [(t, 0.9 - n / 1000)]) for n, t in enumerate(texts)])
    hits = search(collection, phrase, k=10, mode=mode)
    expected = ["/g/005.txt", "/g/380.txt"]
    if mode == "lexical" and "_" in phrase:  # BM25 searches an identifier whole, as grep
        expected = ["/g/005.txt"]  # does (README): "get console" does not hold get_console
    assert sorted(h.path for h in hits) == expected


def test_widening_keeps_a_bounded_number_of_passages_and_finds_the_same(make, monkeypatch) -> None:
    # A --path that keeps none reads the whole index: its passages are not all kept (a
    # million of them are gigabytes), and what is not kept is read again, same hits.
    from searchapp.ranking.selection import Reads

    texts = [f"console {n} now" if n % 50 else f"console now {n}" for n in range(400)]
    collection = make([(f"/b/{n:03d}.txt", [(t, 0.9 - n / 1000)]) for n, t in enumerate(texts)])
    options = {"k": 10, "mode": "hybrid", "path_glob": "/b/3*"}
    unbounded = search(collection, '"console now"', **options)
    kept: list[int] = []
    chunks = Reads.chunks

    def counted(reads, ids):
        found = chunks(reads, ids)
        kept.append(len(reads._kept))
        return found

    monkeypatch.setattr(Reads, "MAX_KEPT", 20)
    monkeypatch.setattr(Reads, "chunks", counted)
    bounded = search(collection, '"console now"', **options)
    assert [h.chunk_id for h in bounded] == [h.chunk_id for h in unbounded]
    assert [h.path for h in bounded] == ["/b/300.txt", "/b/350.txt"]
    assert max(kept) == 20


# -- edges ------------------------------------------------------------------------------------


def test_empty_query_is_refused_and_an_empty_index_finds_nothing(make, tmp_path) -> None:
    with pytest.raises(BadInputError, match="query is empty"):
        search(make(SMALL), "   ")
    store = Store.open(tmp_path / "empty", create=True)
    try:
        searcher = Searcher(store, VectorIndex(DIM))
        assert searcher.search("wing", QUERY_VECTOR, SearchOptions()) == []
    finally:
        store.close()


def test_copies_of_a_passage_show_once_with_their_other_paths(make) -> None:
    collection = make(
        [("/a/ch1.md", [("glider wing", 0.6)]), ("/b/ch1.md", [("glider wing", 0.6)])]
        + [(f"/c/{n}.md", [(f"glider notes {n}", 0.5 - n / 100)]) for n in range(3)]
    )
    hits = search(collection, "glider", k=3, collapse_copies=True)
    assert [h.path for h in hits] == ["/a/ch1.md", "/c/0.md", "/c/1.md"]
    assert hits[0].also == ("/b/ch1.md",) and all(h.also == () for h in hits[1:])
    assert [h.rank for h in hits] == [1, 2, 3]
    apart = search(collection, "glider", k=3)
    assert [h.path for h in apart] == ["/a/ch1.md", "/b/ch1.md", "/c/0.md"]


def test_a_copy_by_its_name_or_folder_is_named_after_its_original(make) -> None:
    # Two helpers' hits named `drafts/chapter3 (copy).docx` and `build/Exception_copy.h`, the
    # paths that sort first, with the files they were copied from under "also".
    from searchapp.ranking.selection import is_derived

    for copy, original in [
        ("/p/drafts/chapter3 (copy).docx", "/p/drafts/chapter3.docx"),
        ("/p/build/Exception_copy.h", "/p/src/Exception.h"),
        ("/p/Copy of notes.md", "/p/notes.md"),
        ("/p/paper (1).pdf", "/p/paper.pdf"),
        # A writer's: Obsidian's "Duplicate file" names, and a note kept in an archive.
        ("/p/Wiki/Writing rules 1.md", "/p/Wiki/Writing rules.md"),
        ("/p/Archive/People/Anna.md", "/p/People/Anna.md"),
        # A product manager's: a Notion export unpacked twice, its copy's folder sorting first.
        ("/p/Export-7c1d (1)/Retro ac29.md", "/p/Export-7c1d/Retro ac29.md"),
        ("/p/site copy/index.md", "/p/site/index.md"),
        ("/p/Notes - Copy/index.md", "/p/Notes/index.md"),
    ]:
        collection = make([(copy, [("glider wing", 0.6)]), (original, [("glider wing", 0.6)])])
        [hit] = search(collection, "glider", k=1, collapse_copies=True)
        assert (hit.path, hit.also) == (original, (copy,))
        assert not is_derived(original)
    for name in (
        "/p/copyright.txt",
        "/p/copy.py",
        "/p/build.py",
        "/p/paper 1.pdf",
        "/p/copy/a.md",
        "/p/Taxes (2023)/a.pdf",
        "/p/hard-copy/a.md",
        "/p/web_copy/a.md",
    ):
        assert not is_derived(name), name
    # `Chapter 1.md` is a copy of `Chapter.md` only where both are.
    collection = make([(f"/p/Chapter {n}.md", [("glider wing", 0.6)]) for n in (2, 1)])
    [hit] = search(collection, "glider", k=1, collapse_copies=True)
    assert (hit.path, hit.also) == ("/p/Chapter 1.md", ("/p/Chapter 2.md",))


def test_a_copy_shown_after_its_twin_was_passed_over_names_the_twin(make) -> None:
    # console.py had its --per-doc hit, so its passage "glider wing" was passed over; the same
    # passage in console_copy.py then showed as a hit with no "also".
    collection = make(
        [
            ("/a/console.py", [("glider flaps", 0.7), ("glider wing", 0.6)]),
            ("/b/copy.py", [("glider rudder", 0.65), ("glider wing", 0.6)]),
            ("/c/notes.md", [("glider notes", 0.4)]),
        ]
    )
    hits = search(collection, "glider", k=3, collapse_copies=True)
    assert [(h.path, h.text) for h in hits] == [
        ("/a/console.py", "glider flaps"),
        ("/b/copy.py", "glider rudder"),
        ("/c/notes.md", "glider notes"),
    ]
    collection = make(
        [
            ("/a/console.py", [("glider flaps", 0.7), ("glider wing", 0.6)]),
            ("/b/copy.py", [("glider wing", 0.6)]),
            ("/c/notes.md", [("glider notes", 0.4)]),
        ]
    )
    hits = search(collection, "glider", k=3, collapse_copies=True)
    assert [(h.path, h.text) for h in hits][:2] == [
        ("/a/console.py", "glider flaps"),
        ("/b/copy.py", "glider wing"),
    ]
    assert hits[1].also == ("/a/console.py",)


def test_a_copied_file_has_no_hits_past_its_twins_per_doc(make) -> None:
    # console_copy.py is console.py copied: its first passage shows as "also" of console.py's
    # hit, and its second, whose twin --per-doc passed over in console.py, was a hit of its own:
    # the same file's content twice in a list meant to show each file once.
    collection = make(
        [
            ("/a/console.py", [("glider flaps", 0.7), ("glider wing", 0.6)]),
            ("/a/console_copy.py", [("glider flaps", 0.7), ("glider wing", 0.6)]),
            ("/c/notes.md", [("glider notes", 0.4)]),
        ]
    )
    hits = search(collection, "glider", k=3, collapse_copies=True)
    assert [(h.path, h.text) for h in hits] == [
        ("/a/console.py", "glider flaps"),
        ("/c/notes.md", "glider notes"),
    ]
    assert hits[0].also == ("/a/console_copy.py",)
    # Only a twin's passed-over passage: B, a copy of A's first passage, keeps its "wing",
    # which D (no twin of B) had passed over, and names D.
    other = make(
        [
            ("/a/A.md", [("intro", 0.91)]),  # ranked first: a tie's order is FAISS's
            ("/b/B.md", [("intro", 0.9), ("wing", 0.49)]),
            ("/d/D.md", [("top", 0.8), ("wing", 0.5)]),
            ("/e/E.md", [("misc", 0.3)]),
        ]
    )
    found = search(other, "x", mode="dense", k=4, collapse_copies=True)
    assert [(h.path, h.text, h.also) for h in found] == [
        ("/a/A.md", "intro", ("/b/B.md",)),
        ("/d/D.md", "top", ()),
        ("/b/B.md", "wing", ("/d/D.md",)),
        ("/e/E.md", "misc", ()),
    ]
    two = search(collection, "glider", k=3, per_doc=2, collapse_copies=True)
    assert [(h.path, h.text, h.also) for h in two][:2] == [
        ("/a/console.py", "glider flaps", ("/a/console_copy.py",)),
        ("/a/console.py", "glider wing", ("/a/console_copy.py",)),
    ]


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_which_copy_is_the_hit_does_not_hang_on_which_was_indexed_first(make, mode) -> None:
    # Copies tie, and a tie went to the lower chunk id: the file indexed first took the hit
    # and its --per-doc, so an index re-built after `search remove`, or resumed after a crash,
    # showed another second hit than a fresh one (a crash-recovery campaign's two failures).
    a = ("/a/a.txt", [("shared glider passage", 0.8), ("glider alpha", 0.41)])
    b = ("/b/b.txt", [("shared glider passage", 0.8), ("glider beta", 0.47)])
    found = [
        [
            (h.path, h.text, h.also)
            for h in search(make(docs), "shared glider", mode=mode, k=3, collapse_copies=True)
        ]
        for docs in ([a, b], [b, a])
    ]
    assert found[0] == found[1]
    assert found[0][0] == ("/a/a.txt", "shared glider passage", ("/b/b.txt",))


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_a_passage_of_more_copies_than_candidates_names_the_first_by_path(make, mode) -> None:
    # 150 copies, past the dense top 100: those left out were the last indexed, so the hit
    # named another copy than in an index built anew, and "also" (and -l) missed 50 of them.
    copies = [(f"/z/z{n:03}.txt", [("shared glider passage", 0.9)]) for n in range(150)]
    collection = make([*copies, ("/a/aaa.txt", [("shared glider passage", 0.9)])])
    (hit,) = search(collection, "glider", mode=mode, k=1, collapse_copies=True)
    assert hit.path == "/a/aaa.txt"
    assert hit.also == tuple(path for path, _ in copies)


@pytest.mark.parametrize("alone", [True, False])
def test_a_filter_that_keeps_few_reads_each_candidate_once(make, monkeypatch, alone) -> None:
    # 300 documents, 3 of them under /keep. Searched among themselves, only their passages are
    # read. Found by widening the whole index's rankings, the candidates are read in growing
    # batches, each once per widening (overlapping batches once read each of them hundreds of
    # times: a --path query took 16 s, not 0.7).
    from searchapp.ranking import searcher

    if not alone:
        monkeypatch.setattr(searcher, "WITHIN_SHARE", 0.0)
    collection = make(
        [
            (f"/{'keep' if n % 100 == 0 else 'other'}/{n:03d}.md", [(f"rotor {n}", 0.9 - n / 400)])
            for n in range(300)
        ]
    )
    read: list[int] = []
    get_chunks = collection.store.get_chunks

    def counting(ids):
        ids = list(ids)
        read.extend(ids)
        return get_chunks(ids)

    monkeypatch.setattr(collection.store, "get_chunks", counting)
    hits = search(collection, "rotor", k=5, path_glob="/keep/*")
    assert [h.path for h in hits] == ["/keep/000.md", "/keep/100.md", "/keep/200.md"]
    assert max(collections.Counter(read).values()) <= 2
    assert len(set(read)) == (3 if alone else 300)


def test_a_filter_that_keeps_few_ranks_their_passages_by_words_too(make, monkeypatch) -> None:
    # 200 passages elsewhere are nearer the query and hold its words: the two under /keep were
    # past both rankings' first 100, so ranked by cosine alone, and the one holding the query's
    # words came second.
    from searchapp.ranking import searcher

    others = [(f"/other/{n:03d}.md", [(f"wing flutter {n}", 0.9 - n / 1000)]) for n in range(200)]
    kept = [
        ("/keep/near.md", [("a passage of other things", 0.5)]),
        ("/keep/words.md", [("wing flutter at speed", 0.4)]),
    ]
    collection = make([*others, *kept])
    for mode, first in (("hybrid", "/keep/words.md"), ("lexical", "/keep/words.md")):
        hits = search(collection, "wing flutter", mode=mode, k=2, path_glob="/keep/")
        assert hits[0].path == first, mode
    # Dense alone: the same hits, in the same order, as widening the whole index finds.
    alone = search(collection, "wing flutter", mode="dense", k=2, path_glob="/keep/")
    monkeypatch.setattr(searcher, "WITHIN_SHARE", 0.0)
    widened = search(collection, "wing flutter", mode="dense", k=2, path_glob="/keep/")
    assert [h.chunk_id for h in alone] == [h.chunk_id for h in widened]
    assert [h.path for h in alone] == ["/keep/near.md", "/keep/words.md"]


def test_a_filter_that_matches_no_document_searches_nothing(make, monkeypatch) -> None:
    collection = make([(f"/d/{n}.md", [(f"wing {n}", 0.5)]) for n in range(20)])
    searched: list[int] = []
    real = collection.vectors.search
    monkeypatch.setattr(collection.vectors, "search", lambda q, k: searched.append(k) or real(q, k))
    assert search(collection, "wing", k=5, path_glob="nothing/") == []
    assert searched == []


def test_a_hit_points_at_the_line_of_the_querys_rarest_words(make) -> None:
    # "how", "do" and "the" are in every chunk, "rotate" and "keys" in one: the line holding
    # those is the hit's, not the first line holding any word of the query.
    passage = "How the service starts\nDo not stop it\nTo rotate the keys run keyctl\nDone"
    common = [(f"/f/{n}.txt", [(f"how do the filler {n}", 0.1)]) for n in range(6)]
    collection = make([("/k.txt", [(passage, 0.9)]), *common])
    for mode in ("lexical", "hybrid", "dense"):
        hit = search(collection, "how do I rotate the keys", mode=mode, k=1)[0]
        assert (hit.path, hit.start_line, hit.line) == ("/k.txt", 1, 3), mode
    # Words of equal weight: the first line holding one.
    hit = search(collection, "how do", mode="lexical", k=1, path_glob="/k.txt")[0]
    assert hit.line == 1


def test_among_equal_words_the_first_line_holding_one(tmp_path: Path) -> None:
    text = "Gliders\nsoar on THERMAL lift;\na thermals map\nthermal again"
    store = Store.open(tmp_path / "idx", create=True)
    with store.transaction():
        document_id = store.upsert_document(doc_id="/n.txt", path="/n.txt", title=None, size=1)
        store.add_chunks(document_id, [Chunk(text, 0, len(text), 7, 10)], QUERY_VECTOR[None])
    searcher = Searcher(store, build_from_store(store, DIM))
    expected = {"thermal": 8, "map thermal": 8, "map": 9, "thermals": 9, "wing": 7, "lift": 8}
    for query, line in expected.items():
        (hit,) = searcher.search(query, QUERY_VECTOR, SearchOptions(k=1))
        assert (hit.line, hit.start_line, hit.end_line) == (line, 7, 10), query
        assert hit.to_json()["line"] == line
    store.close()


@pytest.mark.parametrize("count", [3, 40])
def test_dense_ties_go_to_the_lower_chunk_id(make, count) -> None:
    # Copies share one vector (reused, not embedded again): FAISS returned them in its heap's
    # order, a vendored copy before the file it was copied from; the other modes put the lower
    # chunk id first.
    collection = make([(f"/t/{n:02d}.txt", [("glider wing", 0.5)]) for n in range(count)])
    ids = np.asarray(sorted(collection.cosine), dtype=np.int64)
    same = collection.vectors.vectors_of(ids[:1])
    collection.vectors.remove(ids)
    collection.vectors.add(ids, np.repeat(same, count, axis=0))
    hits = search(collection, "zeppelin", k=count, mode="dense")
    assert [h.chunk_id for h in hits] == sorted(collection.cosine)


def test_of_equal_lines_a_hit_points_at_the_whole_name_then_its_definition(tmp_path) -> None:
    # `cell_len` pointed at `return _cell_len(text)` (grep -w finds no cell_len there), and
    # `get_console` at the `__all__` line naming it, above its `def`.
    text = "\n".join(
        [
            '__all__ = ["get_console", "cell_len"]',
            "def _cell_len(text):",
            "    return _cell_len(text)",
            "def cell_len(text):",
            "    return 1",
            "def get_console():",
            "## Cell_Len and friends",
        ]
    )
    store = Store.open(tmp_path / "idx", create=True)
    with store.transaction():
        document_id = store.upsert_document(doc_id="/c.py", path="/c.py", title=None, size=1)
        store.add_chunks(document_id, [Chunk(text, 0, len(text), 1, 7)], QUERY_VECTOR[None])
    searcher = Searcher(store, build_from_store(store, DIM))
    expected = {"cell_len": 4, "get_console": 6, "get console": 1, "cell len": 1}
    for query, line in expected.items():
        (hit,) = searcher.search(query, QUERY_VECTOR, SearchOptions(k=1))
        assert hit.line == line, query
    store.close()


def test_overlapping_hits_of_a_file_point_at_different_lines(tmp_path) -> None:
    # Two passages sharing lines 4-5 both pointed at line 5: `measure.py:104` printed twice.
    first = "a\nb\nc\nthe console width\nconsole width again"
    second = "the console width\nconsole width again\nthe width of a console\nz"
    store = Store.open(tmp_path / "idx", create=True)
    with store.transaction():
        document_id = store.upsert_document(doc_id="/m.py", path="/m.py", title=None, size=1)
        chunks = [Chunk(first, 0, len(first), 1, 5), Chunk(second, 10, 10 + len(second), 4, 7)]
        vectors = np.stack([QUERY_VECTOR, vector_with_cosine(0.9, np.random.default_rng(1))])
        store.add_chunks(document_id, chunks, vectors)
    searcher = Searcher(store, build_from_store(store, DIM))
    hits = searcher.search("console width", QUERY_VECTOR, SearchOptions(k=2, per_doc=2))
    assert [(h.start_line, h.line) for h in hits] == [(1, 4), (4, 5)]
    # A passage whose only line with the words a hit names already is no hit of its own: the
    # line once, as grep prints it (`parse.py:51` came out twice, with two scores).
    hits = searcher.search("again", QUERY_VECTOR, SearchOptions(k=2, per_doc=2))
    assert [(h.start_line, h.line) for h in hits] == [(1, 5)]
    store.close()


def test_a_hits_line_is_found_in_any_case_and_accent_and_a_def_beats_a_comment() -> None:
    from searchapp.ranking.query_words import BestLine, fold

    def line(query: str, text: str) -> int:
        return BestLine({fold(word): 1.0 for word in query.split()}).line(text, 1)

    # İ lower-cases to two characters: the line with İstanbul was missed, the first one named.
    assert line("istanbul", "Travel notes.\nWe flew.\nİstanbul was bright.") == 3
    assert line("İzmir", "a\nİZMİR at last") == 2
    assert line("cafe", "a\nLe Cafe\u0301 ouvert") == 2  # an accent written as its own mark
    assert fold("Li\u0307th") == "lith" and fold("İstanbul") == "istanbul"
    # A comment naming the function, above it, read as a Markdown heading.
    assert line("cell_len", "import x\n# cell_len: the width\ndef cell_len(text):\n  return 1") == 3
    assert line("install", "intro\n# Install\nto install it, run") == 2  # a heading still counts


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_a_quoted_phrase_must_be_in_the_passage_in_order(make, mode) -> None:
    # `"No such option"`: "no" and "such" are too common to count, so the line raising that
    # error ranked nowhere; in quotes its words must come together, in that order.
    collection = make(
        [
            ("/a.py", [("an option that does not exist\nraise Error('No such option: x')", 0.2)]),
            ("/b.py", [("such a good option, no?", 0.9)]),  # the words, not the phrase
            ("/c.py", [("option no such", 0.8)]),  # out of order
            ("/d.md", [("No-such OPTION is allowed", 0.1)]),  # case and punctuation differ
            ("/e.md", [("東京大学で研究する", 0.5)]),
        ]
    )
    hits = search(collection, 'where "No such option"', k=5, mode=mode)
    assert sorted(h.path for h in hits) == ["/a.py", "/d.md"]
    assert {h.path: h.line for h in hits}["/a.py"] == 2  # the phrase's line, not the first
    assert search(collection, '"such no option"', k=5, mode=mode) == []
    assert [h.path for h in search(collection, '"大学"', k=5, mode=mode)] == ["/e.md"]
    # Quotes as a word processor, German and French write them (a historian's trial).
    for quoted in ("“No such option”", "„No such option“", "« No such option »"):
        assert sorted(h.path for h in search(collection, quoted, k=5, mode=mode)) == [
            "/a.py",
            "/d.md",
        ], quoted
    # An unpaired quote is a character of the query, not a phrase.
    assert len(search(collection, 'option "no', k=5, mode=mode)) >= 3
    # `search eval` reads quotes as characters: CISI's questions quote words in passing.
    assert len(search(collection, '"such no option"', k=5, mode=mode, phrases=False)) >= 3


def test_a_name_alone_is_looked_for_as_written_among_many_folded_alike(make) -> None:
    # The first 64 passages FTS5 found for "class error", "type error"... were taken: in an
    # index whose prose says "type error" often, `class Error` was not among them.
    collection = make(
        [
            *[(f"/notes/n{i}.md", [(f"a type error in step {i}", 0.5)]) for i in range(300)],
            ("/errors.py", [("class Error(Exception):\n    " + "raised when it fails " * 40, 0.1)]),
        ]
    )
    hits = search(collection, "Error", k=3)
    assert hits[0].path == "/errors.py", [(h.path, h.score) for h in hits]


def test_a_flag_alone_finds_where_it_is_declared(make) -> None:
    # `--help` found npm's help commands and every use of the word; click's
    # `param_decls = ("--help",)` was in neither ranker's first 100.
    collection = make(
        [
            ("/cli.py", [('parser.add_argument(\n    "-v", "--verbose", action="count")', 0.1)]),
            *[(f"/log{i}.js", [("log.verbose('verbose output')", 0.5)]) for i in range(150)],
        ]
    )
    hits = search(collection, "--verbose", k=3)
    assert hits[0].path == "/cli.py" and hits[0].line == 2, [(h.path, h.score) for h in hits]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_a_quoted_constant_name_is_found_as_written(make, mode) -> None:
    # `"NO_COLOR"` found every `no_color` parameter (nearer, and more of them) first: a
    # constant or an environment variable is spelled one way.
    collection = make(
        [
            ("/env.py", [('disabled = environ.get("NO_COLOR", "") != ""', 0.2)]),
            ("/bar.py", [("def pulse(self, no_color: bool) -> None:", 0.9)]),
            ("/doc.md", [("Set no color to turn it off.", 0.8)]),
            ("/more.py", [("NO_COLOR_DEFAULT = 1", 0.7)]),  # another name
        ]
    )
    hits = search(collection, '"NO_COLOR" handling', k=5, mode=mode)
    assert [h.path for h in hits] == ["/env.py"]
    # The hit names the line holding it as written, not a `no_color` above it.
    text = 'self.no_color = (\n    environ.get("NO_COLOR")\n)'
    phrases = query_words.quoted_phrases('"NO_COLOR"')
    assert query_words.BestLine({"no": 1.0, "color": 1.0}, phrases).line(text, 10) == 11
    # Unquoted, it is words like any other: each spelling is found.
    assert len(search(collection, "NO_COLOR handling", k=5, mode=mode)) >= 2


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_a_phrase_broken_over_two_lines_names_the_line_it_begins_on(make, mode) -> None:
    # It was in neither line alone, and the hit named the line of its last words, which the
    # snippet printed from: "frees memory too" was not in it.
    text = "xz (5.4.1-1) unstable\n  * The threaded decompressor frees\n    memory too early\n"
    collection = make([("/xz/changelog", [(text + "  * memory early too", 0.5)])])
    [hit] = search(collection, '"frees memory too early"', k=5, mode=mode)
    assert hit.line == 2


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_a_pasted_tracebacks_frame_file_is_not_a_phrase(make, mode) -> None:
    # `File "<stdin>", line 1` read as the phrase "stdin": only passages saying "stdin" were
    # ranked, the line raising the error was not among them, and nothing said so.
    collection = make(
        [
            ("/exceptions.py", [("class NoSuchOption(UsageError):\n    'No such option'", 0.5)]),
            ("/utils.py", [("def open_stream(name):\n    # '-' is stdin", 0.4)]),
        ]
    )
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "<stdin>", line 1, in <module>\n'
        '  File "/app/cli.py", line 12, in main\n'
        "NoSuchOption: No such option: --foo"
    )
    hits = search(collection, traceback, k=5, mode=mode)
    assert hits and hits[0].path == "/exceptions.py"
    # Quotes anywhere else are still a phrase, "File" and all.
    assert [h.path for h in search(collection, 'File "stdin"', k=5, mode=mode)] == ["/utils.py"]


@pytest.mark.parametrize("postings", [True, False])
def test_a_query_of_common_words_alone_is_scored_by_them(make, monkeypatch, postings) -> None:
    # Words in half the chunks or more are skipped from COMMON_TERMS_FROM chunks on; a query
    # of nothing else ("user login failed" in a log saying it on every page) found nothing in
    # lexical mode, and a phrase of them was said to be in no passage.
    monkeypatch.setattr(lexical, "COMMON_TERMS_FROM", 4)
    texts = ["alpha beta gamma", "alpha beta delta", "beta alpha epsilon", "alpha beta zeta"]
    texts += ["beta alpha eta", "alpha beta theta"]
    collection = make([(f"/log/{n}.txt", [(t, 0.1 * n)]) for n, t in enumerate(texts)])
    hits = search(collection, "alpha beta", k=10, mode="lexical", postings=postings)
    assert len(hits) == 6 and all(h.score > 0 for h in hits)
    # A word no chunk holds beside them is no other word: "time" in a log saying "timeout".
    hits = search(collection, "alpha beta omega", k=10, mode="lexical", postings=postings)
    assert len(hits) == 6
    quoted = search(collection, '"beta alpha"', k=10, mode="lexical", postings=postings)
    assert sorted(h.path for h in quoted) == ["/log/2.txt", "/log/4.txt"]
    # With a rarer word beside them, they still weigh nothing: only "gamma" is scored.
    hits = search(collection, "alpha beta gamma", k=10, mode="lexical", postings=postings)
    assert [h.path for h in hits] == ["/log/0.txt"]


# A pasted error message: the passage raising it holds "no such option" in a row; the other
# says "option" and "foo" more often and is nearer, so bags of words rank it first.
PASTED = [
    (
        "/exceptions.py",
        [
            (
                'class NoSuchOption(UsageError):\n    """Raised for an unknown option."""\n'
                '    message = _("No such option: {name}")',
                0.30,
            )
        ],
    ),
    ("/parser.py", [("parse the long option --foo: option foo, option bar", 0.45)]),
    *[(f"/other{i}.md", [(f"note {i} on lift, drag and flow", 0.1)]) for i in range(8)],
]


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_a_pasted_message_finds_the_passage_holding_its_words_in_a_row(
    make, monkeypatch, mode
) -> None:
    collection = make(PASTED)
    query = "Error: No such option: --foo"
    monkeypatch.setattr(proximity, "PROXIMITY_WEIGHT", 0.0)
    without = search(collection, query, k=2, mode=mode)
    assert [h.path for h in without] == ["/parser.py", "/exceptions.py"]  # as bags of words
    monkeypatch.undo()
    hits = search(collection, query, k=2, mode=mode)
    assert [h.path for h in hits] == ["/exceptions.py", "/parser.py"]
    # The query's one trigram (no such option) is all it has: the whole weight is added.
    before = {h.path: h.score for h in without}
    assert hits[0].score == pytest.approx(before["/exceptions.py"] + proximity.PROXIMITY_WEIGHT)
    assert hits[1].score == pytest.approx(before["/parser.py"])
    assert hits[0].line == 3  # the line raising it, not the class that says "Option"


def test_words_in_a_row_that_many_candidates_hold_add_nothing(make, monkeypatch) -> None:
    # "of the boundary layer" in a question says no more than BM25 does: held by more than
    # MAX_HOLDERS candidates, its trigrams are not evidence that one was copied.
    held = "growth of the boundary layer"
    documents = [(f"/d{i}.txt", [(f"{held} case {i}", 0.9 - i / 10)]) for i in range(5)]
    collection = make([*documents, ("/e.txt", [("boundary conditions of the layer", 0.2)])])
    query = "what is the growth of the boundary layer"
    hits = search(collection, query, k=6)
    monkeypatch.setattr(proximity, "PROXIMITY_WEIGHT", 0.0)
    assert [(h.path, h.score) for h in hits] == [
        (h.path, h.score) for h in search(collection, query, k=6)
    ]
    monkeypatch.undo()
    monkeypatch.setattr(proximity, "MAX_HOLDERS", 5)  # five hold them: now they count
    assert search(collection, query, k=6)[0].score > hits[0].score


def test_function_words_left_out_of_bm25_leave_its_share_as_it_was(make) -> None:
    # The ceiling counted "how", "do" and "I", which no passage's BM25 does: the share of the
    # same passage halved when the question was asked in words.
    collection = make(
        [
            ("/keys.md", [("rotate the deploy keys every six months", 0.5)]),
            ("/faq.md", [("how do I ask? I do not know how", 0.1)]),
            ("/x.md", [("unrelated text about lunch", 0.0)]),
        ]
    )
    terse = search(collection, "keys rotate", k=1, mode="lexical")
    asked = search(collection, "keys rotate, how do I", k=1, mode="lexical")
    assert [h.path for h in asked] == [h.path for h in terse] == ["/keys.md"]
    assert asked[0].score == pytest.approx(terse[0].score)


def test_hundreds_of_path_globs_filter_as_one_and_too_many_are_refused(make) -> None:
    # An agent narrowing a query to the files of a diff: 600 paths, two of them indexed.
    collection = make(SMALL)
    given = [f"/elsewhere/module_{i}.py" for i in range(598)] + ["/c/d.txt", "c/f.txt"]
    hits = search(collection, "wing", k=10, path_glob=given)
    assert sorted(h.path for h in hits) == ["/c/d.txt", "/c/f.txt"]
    assert [h.path for h in search(collection, "wing", k=10, path_glob=[*given, "!*d.txt"])] == [
        "/c/f.txt"
    ]
    with pytest.raises(BadInputError, match=r"--path gives 1,001 globs .*the most is 1,000"):
        SearchOptions(path_glob=[f"/x/{i}" for i in range(1001)])


def test_lexical_first_hits_and_min_score_do_not_depend_on_k_with_word_order(make) -> None:
    # The passage holding the pasted words in a row tied in BM25 with the last of the first
    # fetch: ties there are left to a wider fetch, and it went with them, bonus and all (first
    # at k=50, nowhere at k=1, and --min-score 0.8 found nothing at k=1).
    documents = [(f"/high{i}.txt", [(f"option alpha{i}", 0.1)]) for i in range(60)]
    documents.append(("/target.py", [("no such option", 0.1)]))
    documents += [(f"/tie{i}.txt", [(f"option beta{i} gamma{i}", 0.1)]) for i in range(99)]
    collection = make(documents)
    query = "Error: No such option: --foo"
    firsts = {k: search(collection, query, k=k, mode="lexical")[0].path for k in (1, 10, 50)}
    assert set(firsts.values()) == {"/target.py"}, firsts
    for k in (1, 50):
        hits = search(collection, query, k=k, mode="lexical", min_score=0.8)
        assert [h.path for h in hits] == ["/target.py"], k


DEFINED = (
    "def insert_all(self, records):\n"
    '    """Insert many rows at once, in batches of a size chosen for the database."""\n'
    "    return self.x(records)"
)


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_the_passage_defining_a_name_ranks_above_its_uses(make, monkeypatch, mode) -> None:
    # `insert_all` found a call of it (nearer, and saying it twice) above its def.
    collection = make(
        [
            ("/db.py", [(DEFINED, 0.30)]),
            ("/use.py", [("t.insert_all(data)\nt.insert_all(more)\nt.insert_all(rest)", 0.35)]),
            *[(f"/other{i}.py", [(f"def helper{i}(): pass", 0.1)]) for i in range(6)],
        ]
    )
    monkeypatch.setattr(definitions, "DEFINITION_WEIGHT", 0.0)
    assert [h.path for h in search(collection, "insert_all", k=2, mode=mode)] == [
        "/use.py",
        "/db.py",
    ]
    monkeypatch.undo()
    hits = search(collection, "insert_all", k=2, mode=mode)
    assert [h.path for h in hits] == ["/db.py", "/use.py"]
    assert hits[0].line == 1


CLASS_BODY = (
    "class Console:\n"
    '    """A high level console interface, with a colour system chosen from the terminal,\n'
    + "".join(
        f"    the width {n}, the height, the encoding, a theme, markup and emoji.\n"
        for n in range(12)
    )
    + '    """\n'
)


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
@pytest.mark.parametrize("query", ["Console", "class Console"])
def test_a_query_that_is_a_class_name_alone_finds_its_definition(make, query, mode) -> None:
    # rich's `class Console:` (a long docstring) ranked below `class ConsoleDimensions` for
    # "class Console", and for "Console" alone was in neither ranker's first 100: every one of
    # 150 files using the name was nearer and shorter.
    collection = make(
        [
            ("/terminal.py", [(CLASS_BODY, 0.30)]),
            ("/dims.py", [("class ConsoleDimensions(NamedTuple):\n    width: int", 0.58)]),
            *[
                (f"/use{i}.py", [("console = Console()\nconsole.print(x)", 0.40)])
                for i in range(150)
            ],
        ]
    )
    hits = search(collection, query, k=3, mode=mode)
    assert hits[0].path == "/terminal.py" and hits[0].line == 1, [(h.path, h.score) for h in hits]
    # The passage it reads as a candidate is still one the path filter lets in.
    filtered = search(collection, query, k=5, path_glob="/use1*", mode=mode)
    assert "/terminal.py" not in {h.path for h in filtered}
    # A plain word asks for no definition: the nearer, shorter uses come first.
    assert search(collection, query.lower(), k=1, mode=mode)[0].path != "/terminal.py"


@pytest.mark.parametrize(
    ("mode", "least", "most"), [("dense", -1, 1), ("lexical", 0, 2), ("hybrid", -1, 4)]
)
def test_min_score_past_what_the_mode_can_score_is_refused(mode, least, most) -> None:
    # `min_score=3&mode=dense` was taken, and every query found nothing; a lexical score
    # (a BM25 share) is never below 0, though the error said -1.
    SearchOptions(mode=mode, min_score=most)
    SearchOptions(mode=mode, min_score=least)
    for beyond in (most + 0.01, least - 0.01):
        with pytest.raises(BadInputError, match=f"between {least} and {most} in {mode} mode"):
            SearchOptions(mode=mode, min_score=beyond)


def test_a_filter_that_keeps_many_passages_widens_and_a_phrase_reads_its_holders(
    make, monkeypatch
) -> None:
    # Ranking every passage a path keeps costs their vectors and BM25 at each query: past
    # WITHIN_MAX of them the whole index's rankings are widened instead (faster there). With
    # a phrase, only the passages FTS5 finds holding its words are read and checked.
    from searchapp.ranking import searcher

    texts = [f"rotor {n}" if n % 10 else f"rotor blade {n}" for n in range(300)]
    collection = make(
        [
            (f"/{'keep' if n < 60 else 'other'}/{n:03d}.md", [(t, 0.9 - n / 400)])
            for n, t in enumerate(texts)
        ]
    )
    searched: list[int] = []
    real = collection.vectors.search
    monkeypatch.setattr(collection.vectors, "search", lambda q, k: searched.append(k) or real(q, k))
    read: list[int] = []
    get_chunks = collection.store.get_chunks
    monkeypatch.setattr(
        collection.store, "get_chunks", lambda ids: read.extend(ids := list(ids)) or get_chunks(ids)
    )
    alone = search(collection, '"rotor blade"', k=3, path_glob="/keep/")
    assert searched == [] and len(set(read)) == 6  # the 6 of 60 holding "rotor blade"
    monkeypatch.setattr(searcher, "WITHIN_MAX", 59)
    widened = search(collection, '"rotor blade"', k=3, path_glob="/keep/")
    assert searched
    assert [h.path for h in alone] == [h.path for h in widened]
    assert [h.path for h in alone] == ["/keep/000.md", "/keep/010.md", "/keep/020.md"]


def test_a_tag_query_ranks_the_notes_tagged_so_first(tmp_path) -> None:
    # An Obsidian user's `#sleep`: notes that say "sleep" ranked above the notes tagged with it,
    # and a tag in the front matter (`tags: [sleep]`) was no tag at all.
    from searchapp.ranking.query_words import query_tags
    from tests.searchapp.ingest.test_pipeline import make_index

    assert query_tags("#sleep tips") == ["sleep"] and query_tags("issue #123 in C#") == []
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "prose.md").write_text(
        "# Sleep science\n\nSleep and more sleep: sleep cycles, sleep debt, sleep hygiene.\n",
        "utf-8",
    )
    (vault / "inline.md").write_text("# Evening\n\nA walk after dinner. #sleep #habits\n", "utf-8")
    (vault / "front.md").write_text(
        "---\ntags: [sleep, health]\n---\n# Bedtime routine\n\nNo screens after ten.\n", "utf-8"
    )
    (vault / "nested.md").write_text("# Alpha kickoff\n\nScope agreed. #project/alpha\n", "utf-8")
    (vault / "other.md").write_text("# Alpha\n\nThe alpha project of another team.\n", "utf-8")
    index = make_index(tmp_path / "idx")
    index.add([vault])
    for mode in ("hybrid", "lexical"):
        top = [hit.path.rsplit("/", 1)[1] for hit in index.search("#sleep", k=3, mode=mode)]
        assert set(top[:2]) == {"inline.md", "front.md"}, (mode, top)
        top = [hit.path.rsplit("/", 1)[1] for hit in index.search("#project", k=2, mode=mode)]
        assert top[0] == "nested.md", (mode, top)
    # The line a hit names is the tag's, not a heading holding its word (it named "# Sleep log").
    (vault / "log.md").write_text("# Sleep log\n\nBadly, again.\n\nFiled under #sleep\n", "utf-8")
    index.add([vault])
    for mode in ("hybrid", "lexical"):
        [hit] = index.search("#sleep", k=1, mode=mode, path_glob="log.md")
        assert hit.line == 5, mode
    (vault / "cafe.md").write_text("# Café log\n\nGood.\n\nFiled under #café\n", "utf-8")
    index.add([vault])
    for mode in ("hybrid", "lexical"):  # a reviewer's: the heading, with an accented tag
        [hit] = index.search("#café", k=1, mode=mode, path_glob="cafe.md")
        assert hit.line == 5, mode
    # An Org heading's tags, and a file's (a historian's `#lodz` knew Markdown's alone).
    (vault / "log.org").write_text(
        "#+TITLE: Log\n\n* Mills visited :lodz:textiles:\nNotes on the visit.\n", "utf-8"
    )
    (vault / "people.org").write_text("#+FILETAGS: :lodz:\n\n* Scheibler\nOwner.\n", "utf-8")
    (vault / "city.md").write_text("# City\n\nNotes on Lodz in prose.\n", "utf-8")
    index.add([vault])
    for mode in ("hybrid", "lexical"):
        top = [hit.path.rsplit("/", 1)[1] for hit in index.search("#lodz", k=3, mode=mode)]
        assert set(top[:2]) == {"log.org", "people.org"}, (mode, top)


def test_a_date_spelled_with_its_month_finds_that_days_note(tmp_path) -> None:
    # An Obsidian user's "November 3" did not find 2026-11-03.md (its ISO date did).
    from searchapp.ranking.query_words import query_dates
    from tests.searchapp.ingest.test_pipeline import make_index

    assert query_dates("what did I do on Nov 3rd, 2026") == ["2026 11 03"]
    assert query_dates("the 3rd of November") == query_dates("november 3") == ["11 03"]
    assert query_dates("18 March 1871") == query_dates("March 18, 1871") == ["1871 03 18"]
    assert query_dates("May 12") == ["05 12"] and query_dates("I may 3 times") == []
    assert query_dates("march 10:30") == query_dates("version 3 notes") == []
    vault = tmp_path / "vault"
    vault.mkdir()
    for day in ("2026-11-02", "2026-11-03", "2026-03-11", "2025-11-03"):
        (vault / f"{day}.md").write_text(f"# Daily\n\nWorked on the relay ({day}).\n", "utf-8")
    index = make_index(tmp_path / "idx")
    index.add([vault])
    for query, expected in (
        ("November 3", {"2026-11-03.md", "2025-11-03.md"}),
        ("what did I do on Nov 3rd, 2026", {"2026-11-03.md"}),
    ):
        hits = index.search(query, k=4, mode="hybrid")
        named = {hit.path.rsplit("/", 1)[1] for hit in hits[: len(expected)]}
        assert named == expected, (query, [h.path for h in hits])
    # An ISO date's numbers in another order name another day (a journalist's "2024-01-05"
    # ranked 2024-05-01.md first at 2.26); a title naming the day is that day's file.
    (vault / "FOIA request.md").write_text("Sent the request on January 5th, 2024.\n")
    (vault / "2024-05-01.md").write_text("# Daily\n\nCouncil vote on the contract.\n")
    (vault / "Council meeting March 11 2026.md").write_text("# Agenda\n\nThe water contract.\n")
    index.add([vault])
    hits = index.search("2024-01-05", k=3, mode="hybrid")
    assert hits[0].path.endswith("FOIA request.md")
    assert all(not h.path.endswith("2024-05-01.md") for h in hits), [h.path for h in hits]
    hits = index.search("2026-03-11", k=2, mode="hybrid")
    assert {h.path.rsplit("/", 1)[1] for h in hits} == {
        "2026-03-11.md",
        "Council meeting March 11 2026.md",
    }
