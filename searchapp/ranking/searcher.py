"""Answering a query: dense (FAISS), lexical (FTS5 BM25) or hybrid (both, ``fusion.py``)."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from searchapp.errors import BadInputError, DamagedVectorsError
from searchapp.globs import unclosed
from searchapp.ranking.definitions import (
    DECLARING_WORDS,
    DEFINITION_WEIGHT,
    MACRO_DECLARING_WORDS,
    MAX_DEFINERS,
    VARIABLE_START,
    code_names,
    defined_elsewhere,
    defining,
    definition_bonus,
    macro_declared,
    qualifiers,
    whole_name,
)
from searchapp.ranking.fusion import BM25_WEIGHT, bm25_ceiling, fuse
from searchapp.ranking.lexical import Lexicon, fts_query, idf, informative_terms
from searchapp.ranking.listings import is_book, is_listing
from searchapp.ranking.names import (
    MAX_FILES,
    NAME_WEIGHT,
    dated,
    documents_of,
    first_passages,
    name_shares,
    near_names,
)
from searchapp.ranking.outline import OUTLINE_CHUNKS, outlined, syntax_of
from searchapp.ranking.path_filter import path_filter, path_globs
from searchapp.ranking.proximity import PROXIMITY_WEIGHT, in_order_bonus
from searchapp.ranking.query_words import (
    DATE_WEIGHT,
    REFERENCE_WEIGHT,
    TAG_WEIGHT,
    BestLine,
    DatePatterns,
    Phrase,
    amount_words,
    content_terms,
    day_words,
    fixed_phrase,
    held_phrases,
    month_words,
    name_dates,
    plain,
    query_date_patterns,
    query_days,
    query_tags,
    query_trigrams,
    query_words,
    tag_pattern,
    traceback_sources,
    without_dates,
)
from searchapp.ranking.selection import Hit, Reads, labelled, lowest_passing, select
from searchapp.storage.flat_vectors import COSINE_MAX

if TYPE_CHECKING:
    from searchapp.ranking.postings import Postings
    from searchapp.storage.flat_vectors import MappedFlat
    from searchapp.storage.store import Store
    from searchapp.storage.vectors import VectorIndex

MODES = ("hybrid", "dense", "lexical")
# A --path whose documents hold at most this many passages, and this share of them, is
# searched among them alone: widening the whole index's rankings for them took 0.7-0.9 s at 26k
# passages (to find the passages of 3 files, most of them outside both rankings' first 100, so
# ranked by cosine alone), and a path matching nothing widened to the end to return nothing.
# More, and widening is the faster (a review: 44% of 23.5k passages, 39 ms alone against 15
# widening; 200k passages' vectors alone are 300 MB).
WITHIN_MAX = 10_000
WITHIN_SHARE = 0.5
# Passages holding a date the query names, in numbers, brought to the fusion besides (a bank
# export's rows all hold the year: ``_date_holders``).
DATE_HOLDERS = 200
DATE_HOLDERS_READ = 4  # times DATE_HOLDERS: passages FTS5 finds, their text read for the date
# Candidates each ranker brings to the fusion (fusion.py); past them the dense ranking goes on.
FUSION_DEPTH = 100
# Tokens a phrase's FTS5 terms may spread over, per term: an identifier in a passage is
# followed by its parts ("getConsole get console"), which FTS5 counts between the words.
PHRASE_SLACK = 8
MAX_GLOBS = 1000  # --path globs of one query (each path is tested against the wildcard ones)
# The most a hybrid score can be: a cosine, the BM25 share, the file name's share, what the
# query's words in a row add (``proximity.py``) and what defining its names adds
# (``definitions.py``), each at its most.
MAX_SCORE = 1.0 + BM25_WEIGHT + NAME_WEIGHT + PROXIMITY_WEIGHT + DEFINITION_WEIGHT
MAX_LEXICAL_SCORE = 1.0 + PROXIMITY_WEIGHT + DEFINITION_WEIGHT
# The passages holding a name after a declaring word (an FTS5 phrase for each), one of them
# as written, case and all (``Searcher._may_define``).
DECLARED_NAMES = (
    "SELECT id FROM chunks WHERE id IN (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?) "
    "AND (" + " OR ".join(["instr(text, ?) > 0"] * len(DECLARING_WORDS)) + ") LIMIT ?"
)
# The passages where a class's keyword and its name have a few words between them (C++'s export
# macro: `struct TORCH_API IValue final {`), read for ``MACRO_DECLARED`` (``_may_define``).
NEAR_KEYWORD = (
    "SELECT id, text FROM chunks WHERE id IN (SELECT rowid FROM chunks_fts WHERE chunks_fts "
    "MATCH ? LIMIT ?) AND instr(text, ?) > 0"
)
MAX_NEAR_READS = 2_000
# The passages holding a flag's words (an FTS5 phrase) and the flag as a string, in double or
# single quotes (``Searcher._may_define``).
FLAG_STRINGS = (
    "SELECT id FROM chunks WHERE id IN (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? "
    "LIMIT ?) AND (instr(text, ?) > 0 OR instr(text, ?) > 0) LIMIT ?"
)
# The passages holding a flag's words read for it at most: a common word's (`--path`) are
# most of a large index (200,000 of them: 0.78 s a query).
MAX_FLAG_READS = 20_000


# Files named with the query's every word whose passages count as holding it (``fusion.fuse``'s
# ``held``): a daily note's date names one; "index" names every `index.md` of a site, whose
# text need not say it.
FULL_NAMES_HELD = 3


@dataclass(frozen=True)
class SearchOptions:
    """How to rank and filter; validated at construction."""

    k: int = 10
    mode: str = "hybrid"
    min_score: float | None = None
    path_glob: str | tuple[str, ...] | None = None  # several: a path matching any of them
    per_doc: int = 1
    collapse_copies: bool = True  # a passage found in several files is one hit (Hit.also)
    # "quoted words" must be in a passage, in order (query_words.Phrase); False: quotes are
    # characters (`search eval`: CISI's questions quote words in passing, "training" phase).
    phrases: bool = True
    # The whole query is a phrase every hit holds as written, case aside (`search query -F`);
    # none holding it: no hits (not its words in any order).
    fixed: bool = False
    # In place of a query: an indexed document, whose nearest passages elsewhere are asked for
    # (`search query --like`, ``SearchIndex.related``).
    like: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise BadInputError(f"--top-k ({self.k}) must be a positive integer")
        if self.mode not in MODES:
            raise BadInputError(f"--mode ({self.mode!r}) must be one of {', '.join(MODES)}")
        most = {"dense": 1.0, "lexical": MAX_LEXICAL_SCORE}.get(self.mode, MAX_SCORE)
        least = 0.0 if self.mode == "lexical" else -1.0  # a BM25 share is never negative
        if self.min_score is not None and not least <= self.min_score <= most:
            # A bound no score can reach was taken, and every query found nothing.
            raise BadInputError(
                f"--min-score ({self.min_score}) must be between {least:g} and {most:g} in "
                f"{self.mode} "
                "mode (a score as shown: hybrid cosine + BM25 share + name share + word order "
                "+ definitions, dense cosine, lexical BM25 share + word order + definitions)"
            )
        if isinstance(self.per_doc, bool) or not isinstance(self.per_doc, int) or self.per_doc < 1:
            raise BadInputError(f"--per-doc ({self.per_doc}) must be a positive integer")
        if self.like is not None and not self.like.strip():
            raise BadInputError("--like is empty; give an indexed document's path or doc_id")
        if self.like is not None and self.fixed:
            raise BadInputError("-F holds a query as written; --like gives none: drop -F")
        if isinstance(self.path_glob, list):  # --path given more than once: any of them
            object.__setattr__(self, "path_glob", tuple(self.path_glob))
        globs = path_globs(self.path_glob)
        if len(globs) > MAX_GLOBS:
            raise BadInputError(
                f"--path gives {len(globs):,} globs (braces expanded); the most is {MAX_GLOBS:,}: "
                "name the folders that hold those files instead"
            )
        for glob in globs:
            if glob == "":  # a path= or --path "" (an unset variable): it filters nothing
                raise BadInputError("--path is empty; leave it out to search every document")
            if glob == "!":
                raise BadInputError(f"--path ({glob!r}) names nothing; '!*.md' leaves out .md")
            if left_open := unclosed(glob):
                raise BadInputError(f"--path ({glob!r}) {left_open}")


# The CLI's option names in ``SearchOptions``' errors, as HTTP and MCP name those parameters.
_OPTION_NAMES = re.compile(r"--(min-score|path|top-k|per-doc|mode|like)\b")
_PARAMETERS = {"min-score": "min_score", "path": "path", "top-k": "k", "per-doc": "per_doc"}
_PARAMETERS |= {"like": "like"}
REPL_COMMANDS = {"path": ":path", "top-k": ":k", "per-doc": ":per-doc", "mode": ":mode"}


def in_parameter_terms(message: str, names: Mapping[str, str] = _PARAMETERS) -> str:
    """An error of ``SearchOptions`` with the parameters named as HTTP and MCP take them (or
    as ``names`` does: the REPL's commands): an agent was told of "--path ('[')", an option it
    cannot give."""
    if names is _PARAMETERS:  # `-F`: the parameter `fixed`
        message = re.sub(r"(?<![\w-])-F\b", "fixed", message)
    return _OPTION_NAMES.sub(lambda m: names.get(m.group(1), m.group(1)), message)


class Searcher:
    """Ranks stored chunks for a query vector and its text."""

    def __init__(
        self,
        store: Store,
        vectors: VectorIndex | MappedFlat,
        postings: Postings | None = None,
        lexicon: Lexicon | None = None,
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.postings = postings  # FTS5 ranks lexically without them, the same but slower
        self.lexicon = lexicon or Lexicon(store)  # keep one per store: it caches term counts

    def search(
        self,
        query: str,
        query_vector: np.ndarray,
        options: SearchOptions,
        left_out: frozenset[int] = frozenset(),
    ) -> list[Hit]:
        """The hits; those in source code named by the definitions holding their line
        (``outline.py``), as a Markdown hit is by its headings. ``left_out``: chunk ids that
        are no candidates (`--like`'s document and its copies: another document's next
        passage is ranked in their place)."""
        hits = outlined(self.store, self._search(query, query_vector, options, left_out))
        return labelled(self.store, hits)

    def _search(
        self,
        query: str,
        query_vector: np.ndarray,
        options: SearchOptions,
        left_out: frozenset[int] = frozenset(),
    ) -> list[Hit]:
        if not query.strip():
            raise BadInputError("the query is empty; type some words to search for")
        total = self.vectors.ntotal
        if total == 0:
            return []
        phrases = held_phrases(query) if options.phrases else []
        if options.fixed:
            fixed = fixed_phrase(query)
            if fixed is None:
                raise BadInputError("-F needs a query with a letter or digit to look for")
            phrases = [fixed]
        if phrases and not self._may_hold(phrases):
            return []  # no passage holds all their words: nothing to widen for
        within = self._within(options.path_glob)
        if within is not None:
            holders = self._phrase_holders(phrases) if phrases else None
            if holders is not None:  # the others are dropped unread
                within = [i for i in within if i in holders]
            within = [i for i in within if i not in left_out]
            ranked, _ = self._rank(query, query_vector, options.mode, len(within) + 1, within)
            reads = Reads(self.store, phrases)
            return select(ranked, options, self._best_line(query, phrases), reads)
        # Filters drop candidates, so fetch more than k and widen until k survive or all are seen.
        fetch = min(total, max(options.k * options.per_doc * 4, FUSION_DEPTH))
        holders: set[int] | None = None  # with phrases, once a first fetch fell short
        reads = Reads(self.store, phrases)  # each widening ranks the candidates before it again
        most = None  # hits all documents can give: a big log alone gives --per-doc of them
        while True:
            ranked, frontier = self._rank(query, query_vector, options.mode, fetch)
            if left_out:
                ranked = [row for row in ranked if row[0] not in left_out]
            lines = self._best_line(query, phrases)
            hits = select(ranked, options, lines, reads, holders)
            if len(hits) >= options.k or fetch >= total or frontier is None:
                return hits
            if most is None:  # not --like's document, nor its copies: no hits of theirs
                documents = self.store.count_documents()
                documents -= self.store.count_documents_within(left_out)
                most = documents * options.per_doc
            if len(hits) >= most:
                return hits
            if options.min_score is not None and frontier < lowest_passing(options.min_score):
                return hits  # every candidate a wider fetch adds scores below it
            if phrases:
                # Rare phrases: every widening read and checked each candidate's text again (1 s
                # for a phrase in a 12,000-passage log). The passages that may hold them are
                # few; once all are ranked, a wider fetch finds no more.
                holders = self._phrase_holders(phrases) if holders is None else holders
                if holders is not None and holders <= {chunk_id for chunk_id, _, _ in ranked}:
                    return hits
            fetch = min(total, fetch * 4)

    def _within(self, path_glob: str | tuple[str, ...] | None) -> list[int] | None:
        """The ids of the passages ``--path`` lets in, when they are at most ``WITHIN_MAX`` and
        ``WITHIN_SHARE`` of the index (ranked among themselves: scores that depend on the
        candidates, what word order adds, are theirs); None without one, or when it lets in
        more."""
        if not path_glob:
            return None
        wanted = path_filter(path_glob)
        paths = self.store.all_paths()
        matched = [path for path in paths if wanted(path)]
        if not matched:
            return []
        if len(matched) > len(paths) * 0.9:  # most files: most passages too, likely
            return None
        most = min(WITHIN_MAX, int(WITHIN_SHARE * self.vectors.ntotal))
        ids = self.store.chunk_ids_at(matched, limit=most + 1)
        return ids if len(ids) <= most else None

    def _rank(
        self,
        query: str,
        query_vector: np.ndarray,
        mode: str,
        fetch: int,
        within: list[int] | None = None,
    ) -> tuple[list[tuple[int, float, float]], float | None]:
        """(chunk id, score, cosine), best first, the score the mode's (``Hit``); and the most
        any candidate a wider fetch would add could score, None when there are no more (the
        ranker that widens, dense or lexical, returned fewer than ``fetch``). ``within``: the
        only passages ranked (``_within``), every one of them at once."""
        query_vector = np.asarray(query_vector, dtype=np.float32).reshape(1, -1)
        dense: list[tuple[int, float]] = []
        if mode in ("dense", "hybrid"):
            # The vector index finds them; the first FUSION_DEPTH's cosines are computed again
            # as every other candidate's (``_cosines``), so a passage scores the same whichever
            # ranker found it and whichever index (FAISS's or NumPy's sums) was searched. Past
            # them the index's own (all of them: 162 ms for 16,000 of an hnsw index).
            if within is None:
                scores, ids = self.vectors.search(query_vector, fetch)
                dense = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
                exact = self._cosines([i for i, _ in dense[:FUSION_DEPTH]], query_vector[0])
                dense = [(i, exact.get(i, s)) for i, s in dense]
            else:
                dense = list(self._cosines(within, query_vector[0]).items())
            if dense and not all(-COSINE_MAX <= s <= COSINE_MAX for _, s in dense):
                worst = max((s for _, s in dense), key=lambda s: abs(s) if s == s else np.inf)
                raise DamagedVectorsError(f"a stored vector scores {worst:.3g} as a cosine")
            # Copies share one vector: FAISS leaves their order to chance, the other modes put
            # the lower chunk id (the one indexed first) first.
            dense.sort(key=lambda r: (-r[1], r[0]))
        frontier = dense[-1][1] if len(dense) == fetch else None
        if mode == "dense":
            return [(i, s, s) for i, s in dense], frontier
        # BM25 without the date's numbers, which the date's patterns find as a whole: "4" and
        # "2024" of "4 October 2024" were any amount's and every row's of a bank export.
        words = amount_words(without_dates(query))
        # A date alone, but for punctuation or a one-letter word ("4 October 2024?")
        date_alone = words != query and not query_words(words)
        if not words.strip() or date_alone:
            lexical = []
        elif within is None:
            lexical = self._lexical(words, fetch)
        else:
            lexical = sorted(self._lexical_of(words, within).items(), key=lambda r: (-r[1], r[0]))
        # The candidates the fusion takes: the same whatever ``fetch`` is, so a query's first
        # hits do not depend on k.
        candidates = [i for i, _ in [*dense[:FUSION_DEPTH], *lexical[:FUSION_DEPTH]]]
        whole = whole_name(query) if mode != "dense" else None
        may_define = self._may_define(whole, within) if whole else []
        dated = self._date_holders(query) if within is None and mode != "dense" else []
        candidates = list(dict.fromkeys([*candidates, *may_define, *dated]))
        named, few_named = self._named(query, candidates) if mode == "hybrid" else ({}, False)
        cosine = dict(dense)
        wanted = dict.fromkeys([*dict(lexical), *candidates, *named])
        missing = [i for i in wanted if i not in cosine]
        if missing:
            cosine.update(self._cosines(missing, query_vector[0]))
        ceiling = self._bm25_ceiling(words) if lexical else 0.0
        if named:
            best = max((cosine[i] for i, _ in dense[:FUSION_DEPTH]), default=0.0)
            named = near_names({i: v for i, v in named.items() if i in cosine}, cosine, best)
        text_bonus, definers, headings = self._from_texts(
            query, [i for i in candidates if i in cosine]
        )
        if mode == "lexical":
            scale = 1.0 / ceiling if ceiling > 0 else 0.0
            frontier = None
            if len(lexical) == fetch and fetch < self.vectors.ntotal:
                # More may score what the last one does: that tie is left to a wider fetch,
                # so the order within every tie shown is the same whatever k is.
                # A tie with its text's bonus stays: that bonus goes only to the first
                # FUSION_DEPTH, which any wider fetch holds too, so it scores so there as well.
                last = lexical[-1][1]
                lexical = [(i, s) for i, s in lexical if s != last or i in text_bonus]
                frontier = last * scale
            # The passages defining a name asked for alone, wherever BM25 put them (starlette's
            # `class Response:` was past the first 100 for "class Response"): they hold the
            # query whole, as in hybrid ranking.
            listed = dict(lexical)
            extra = [i for i in may_define if i not in listed]
            if extra and ceiling > 0:
                lexical += sorted(self._lexical_of(words, extra).items())
            # A query that is a date alone: the passages holding it, by what their text adds.
            lexical += [(i, 0.0) for i in dated if i not in listed] if date_alone else []
            held = (definers if whole else set()) | headings
            ranked = [
                (i, max(s * scale, 1.0 if i in held else 0.0) + text_bonus.get(i, 0.0), cosine[i])
                for i, s in lexical
                if i in cosine
            ]
            ranked.sort(key=lambda r: (-r[1], -r[2], r[0]))  # equal BM25: the nearer first
            return ranked, frontier
        bonus = {i: named.get(i, 0.0) + text_bonus.get(i, 0.0) for i in [*named, *text_bonus]}
        # A dense candidate below BM25's best still holds what words it holds: scored as they
        # are, not as 0 ("keep a command running after I log out": nohup's page, the nearest
        # by cosine, lost to pages holding "command" as often as it does).
        scored = dict(lexical[:FUSION_DEPTH])
        unscored = [i for i in candidates if i not in scored]
        scored.update(self._lexical_of(words, unscored) if unscored and ceiling > 0 else {})
        # A file named with the query's every word, one of few so named (a daily note's date,
        # not the many `index.md` of a site for "index"): its passages hold them, as it does.
        held = {i for i, v in named.items() if v >= NAME_WEIGHT} if few_named else set()
        # A query that is a name alone (`class Console`): its definitions hold it as a whole.
        held |= definers if whole else set()
        # A clause's own heading holds what the query asks, as a definition does.
        held |= headings
        # A book's index or contents page holds the query's words as a list does: it scores
        # by its cosine alone (``listings.py``).
        for i in self._listings(candidates):
            scored[i] = 0.0
            bonus.pop(i, None)
            held.discard(i)
        fused = fuse(
            [i for i, _ in dense[:FUSION_DEPTH]],
            [(i, s) for i, s in scored.items() if i in cosine],
            cosine,
            ceiling,
            named={i: b for i, b in bonus.items() if i in cosine},
            held=held,
        )
        # Past the fusion depth the dense ranking goes on, by cosine alone (a BM25 of 0, even
        # for a chunk further down the lexical list), so widening still finds more; merged by
        # score, so scores never rise down the list. The rest's cosines are below the dense top
        # 100's, and each of those scores at least its cosine: the first 100 hits stay as fused.
        seen = {i for i, _ in fused}
        ranked = fused + [(i, s) for i, s in dense if i not in seen]
        ranked.sort(key=lambda r: (-r[1], -cosine[r[0]], r[0]))
        return [(i, s, cosine[i]) for i, s in ranked], frontier

    def _date_holders(self, query: str) -> list[int]:
        """Up to ``DATE_HOLDERS`` passages holding a day the query names, however they write
        it (04/10/2024, 2024-10-04, 4.10.2024, "October 4th, 2024"): each row of a bank's
        export holds its year, and the row of the day asked for was no candidate of BM25's,
        nor ranked first (a bookkeeper's "4 October 2024"). FTS5 finds the passages holding
        the day's words near each other; those the date's patterns find in are kept."""
        groups = []
        for year, month, day in query_days(query):
            for d in day_words(day):
                for m in month_words(month):
                    if year is None:
                        groups.append(f'NEAR("{m}" "{d}", 1)')
                    else:
                        groups.append(f'NEAR("{year}" "{m}" "{d}", 2)')
        dates = DatePatterns(query)
        if not groups or not dates.any:
            return []
        rows = self.store.rows(
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?",
            (" OR ".join(groups), DATE_HOLDERS * DATE_HOLDERS_READ),
        )
        texts = self.store.chunk_texts([row[0] for row in rows])
        held = [i for i, text in texts.items() if dates.found_in(plain(text))]
        return sorted(held)[:DATE_HOLDERS]

    def _listings(self, candidates: list[int]) -> set[int]:
        """The ``candidates`` that are a book's index or contents (``listings.is_listing``)."""
        books = [i for i, path in self.store.chunk_paths(candidates).items() if is_book(path)]
        texts = self.store.chunk_texts(books) if books else {}
        return {i for i, text in texts.items() if is_listing(text)}

    def _from_texts(
        self, query: str, candidates: list[int]
    ) -> tuple[dict[int, float], set[int], set[int]]:
        """``{chunk id: what its text adds}`` for the ``candidates`` holding some of the
        query's words in a row, as few others do (``proximity.py``), the tags it names
        (``query_words.query_tags``), a line its clause or section begins, or defining names
        it spells as code (``definitions.py``); those defining all of them; and those where
        each clause or section the query names begins a line."""
        trigrams, names, tags = query_trigrams(query), code_names(query), query_tags(query)
        dates = DatePatterns(query)
        # A clause or section the query names: its own heading before the passages citing it
        # (a journalist's "clause 12.3": the contract's "12.3 Penalties" was 4th, after a
        # letter, a log and an e-mail that cite it).
        headed = [phrase for phrase in held_phrases(query) if phrase.heads]
        if not (trigrams or names or tags or dates.any or headed) or not candidates:
            return {}, set(), set()
        texts = self.store.chunk_texts(candidates)
        bonus = in_order_bonus(trigrams, texts)
        paths = self.store.chunk_paths(texts) if dates.any else {}
        for chunk_id, text in texts.items() if dates.any else ():
            # however written: "2025-04-28" for "April 28, 2025" (12/03/2023 as the passage's
            # other slashed dates read it); or named so (a daily note: 2024-01-17.md)
            name = os.path.basename(paths.get(chunk_id, ""))
            named = {n for n, date in enumerate(dates.any) if date.search(name)}
            if held := dates.found_in(plain(text)) | named:
                share = len(held) / len(dates.any)
                bonus[chunk_id] = bonus.get(chunk_id, 0.0) + DATE_WEIGHT * share
        headings = set(texts) if headed else set()
        for phrase in headed:
            for chunk_id, text in texts.items():
                if phrase.begins_a_line(text):
                    bonus[chunk_id] = bonus.get(chunk_id, 0.0) + REFERENCE_WEIGHT / len(headed)
                else:
                    headings.discard(chunk_id)
        for tag in tags:  # `#sleep`: the notes tagged so, above those that say "sleep"
            found = tag_pattern(tag)
            for chunk_id, text in texts.items():
                if found.search(text):
                    bonus[chunk_id] = bonus.get(chunk_id, 0.0) + TAG_WEIGHT / len(tags)
        if names:  # a passage's text begins at its first word: a local's indentation is lost
            texts = self._indented(texts)
        qualified = qualifiers(query) if names else {}
        # JavaScript or TypeScript (methods need no keyword) and settings files (a key at a
        # line's start): ``outline.syntax_of``.
        syntaxes = {}
        if names:
            paths = self.store.chunk_paths(texts)
            syntaxes = {i: syntax for i, path in paths.items() if (syntax := syntax_of(path))}
        before = {}
        if qualified:  # where a definition of a qualified name may need its class read
            defining_ones = [
                i
                for i, text in texts.items()
                if any(defining(name, syntaxes.get(i, "")).search(text) for name in qualified)
            ]
            # As far up as a hit's section is read (``outline.py``): requests' `class Session`
            # is 350 lines above its `def send`, past what two passages reach, and
            # `Session.send` ranked `HTTPAdapter.send` first.
            before = (
                self.store.texts_before(defining_ones, chunks=OUTLINE_CHUNKS)
                if defining_ones
                else {}
            )
        definers = set()
        for chunk_id, value in definition_bonus(names, texts, qualified, before, syntaxes).items():
            bonus[chunk_id] = bonus.get(chunk_id, 0.0) + value
            if value >= DEFINITION_WEIGHT:
                definers.add(chunk_id)
        return bonus, definers, headings

    def _indented(self, texts: dict[int, str]) -> dict[int, str]:
        """``texts``, those beginning with a variable declared (`const json = ...`) given back
        their first line's indentation: a local declared in a method read as a definition at
        the margin (`Request.json` ranked npm's `const json = this.npm.config.get('json')`
        first)."""
        starts = [i for i, text in texts.items() if VARIABLE_START.match(text)]
        if not starts:
            return texts
        heads = self.store.texts_before(starts, chunks=1)
        indented = dict(texts)
        for i in starts:
            head = heads.get(i, "")
            indent = head[head.rfind("\n") + 1 :]
            if indent and not indent.strip():
                indented[i] = indent + texts[i]
        return indented

    def _may_define(self, name: str, within: list[int] | None) -> list[int]:
        """Passages that may define ``name`` (at most ``MAX_DEFINERS``, of those ``within`` lets
        in): FTS5 finds a declaring word before it (`class console`), or a flag as a string
        (`"--help"`); ``definitions.py`` reads their text."""
        terms = self.lexicon.query_tokens(name)
        if not terms:
            return []
        limit = MAX_DEFINERS if within is None else -1  # -1: no limit (filtered below)
        if name.startswith("-"):
            # A flag's words are its uses' as well (`--verbose`, `log.verbose(`): those holding
            # it as a string (`"--verbose"`, an option declared), read by SQLite.
            phrase = '"' + " ".join(terms).replace('"', '""') + '"'
            quoted = (f'"{name}"', f"'{name}'")
            rows = self.store.rows(FLAG_STRINGS, (phrase, MAX_FLAG_READS, *quoted, limit))
        else:
            phrases = " OR ".join(
                '"' + " ".join([word, *terms]).replace('"', '""') + '"' for word in DECLARING_WORDS
            )
            # As written (FTS5 folds case): the first 64 of "type error" in prose were taken,
            # and `class Error` was not among them.
            declared = [f"{word} {name}" for word in DECLARING_WORDS]
            rows = self.store.rows(DECLARED_NAMES, (phrases, *declared, limit))
            if name[:1].isupper():  # a class's name, its keyword a macro away: first
                near = " OR ".join(
                    f'NEAR("{word}" "{" ".join(terms)}", 3)' for word in MACRO_DECLARING_WORDS
                )
                found = macro_declared(name)
                read = self.store.rows(NEAR_KEYWORD, (near, MAX_NEAR_READS, name))
                rows = [(i,) for i, text in read if found.search(text)] + rows
        if within is None:
            return list(dict.fromkeys(chunk_id for (chunk_id,) in rows))[:MAX_DEFINERS]
        allowed = set(within)
        return [i for i in dict.fromkeys(i for (i,) in rows) if i in allowed][:MAX_DEFINERS]

    def _may_hold(self, phrases: list[Phrase]) -> bool:
        """Whether some passage holds every word of the quoted phrases (FTS5: each word, not yet
        in order; ``selection.select`` checks each passage's text)."""
        terms = [term for phrase in phrases for term in self._phrase_terms(phrase)]
        groups = [phrase.fts for phrase in phrases if phrase.fts]
        if terms:
            groups.insert(0, fts_query(list(dict.fromkeys(terms)), join="AND"))
        if not groups:
            return True
        rows = self.store.rows(
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT 1", (" AND ".join(groups),)
        )
        return bool(rows)

    def _phrase_terms(self, phrase: Phrase) -> list[str]:
        """The FTS5 terms a passage holding ``phrase`` holds: each word's whole term, as the
        phrase reads it. The query's "getConsole" also gave "get" and "console", which
        "getconsole" elsewhere does not hold: it was said to be in no passage."""
        if phrase.fts:  # its own expression (``_may_hold``, ``_phrase_holders``)
            return []
        terms = [t for word in phrase.written_words for t in self.lexicon.query_tokens(word)[:1]]
        return list(dict.fromkeys(terms))

    def _phrase_holders(self, phrases: list[Phrase]) -> set[int] | None:
        """The passages that may hold every phrase: FTS5 finds each phrase's words near one
        another (a NEAR group, with room for the parts ``schema.fts_text`` adds after an
        identifier); ``selection.select`` checks each one's text. None: no telling (no FTS5
        terms)."""
        groups = []
        for phrase in phrases:
            if phrase.fts:
                groups.append(phrase.fts)
                continue
            terms = self._phrase_terms(phrase)
            quoted = " ".join('"' + term.replace('"', '""') + '"' for term in terms)
            if len(terms) > 1:
                groups.append(f"NEAR({quoted}, {PHRASE_SLACK * len(terms)})")
            elif terms:
                groups.append(quoted)
        if not groups:
            return None
        rows = self.store.rows(
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", (" AND ".join(groups),)
        )
        return {chunk_id for (chunk_id,) in rows}

    def _lexical(self, query: str, k: int) -> list[tuple[int, float]]:
        """BM25's best ``k``: from the postings when they match the store's state, else FTS5."""
        postings = self.postings
        if postings is not None and postings.generation == self.store.generation():
            return postings.search(self.lexicon.search_terms(query, postings.document_frequency), k)
        return self.lexicon.search(query, k)

    def _lexical_of(self, query: str, chunk_ids: list[int]) -> dict[int, float]:
        """BM25 of those of ``chunk_ids`` holding some of the query's terms, as ``_lexical``
        scores them."""
        postings = self.postings
        if postings is not None and postings.generation == self.store.generation():
            terms = self.lexicon.search_terms(query, postings.document_frequency)
            return postings.scores_of(terms, chunk_ids)
        return self.lexicon.scores_of(query, chunk_ids)

    def _named(self, query: str, candidates: list[int]) -> tuple[dict[int, float], bool]:
        """``{chunk id: what its file's name adds}`` for the ``candidates`` in files whose names
        hold the query's words, and the first passages of the best-named such files none of
        whose passages are candidates (``names.py``); and whether few files
        (``FULL_NAMES_HELD``) have a name holding every word."""
        frequency, rows = self._frequencies()
        # A date's numbers are no words of a name: "2024-01-05" named `2024-05-01.md` as well
        # as any file named with its numbers in any order (a journalist's trial).
        words = without_dates(query)
        terms = content_terms(self.lexicon.search_terms(words, frequency)) if words.strip() else []
        shares = name_shares(
            self.store,
            terms,
            frequency,
            rows,
            lambda name: content_terms(self.lexicon.query_tokens(name)),
        )
        # A day's note for a date the query names ("November 3", "2026-11-03": `2026-11-03.md`,
        # `Council November 3 2026.vtt`) is named with all the query asks of a name; with
        # the query's other words, half of it and its share of them: every passage of a
        # Slack day, named by its date, was taken to hold "root cause of the checkout outage"
        # too, and the one that did fell past fifty (a product manager's second trial).
        for document in dated(self.store, name_dates(query)):
            share = 1.0 if not terms else (1.0 + shares.get(document, 0.0)) / 2
            shares = {document: share, **{d: v for d, v in shares.items() if d != document}}
        if not shares:
            return {}, False
        few = sum(share >= 1 for share in shares.values()) <= FULL_NAMES_HELD
        found = {c: d for c, d in documents_of(self.store, candidates).items() if d in shares}
        represented = set(found.values())
        best = list(shares)[:MAX_FILES]
        found.update(first_passages(self.store, [d for d in best if d not in represented]))
        return {chunk: NAME_WEIGHT * shares[document] for chunk, document in found.items()}, few

    def _bm25_ceiling(self, query: str) -> float:
        """The most BM25 a chunk could score for ``query`` (``fusion.bm25_ceiling``), from the
        document frequencies the lexical ranker used."""
        frequency, rows = self._frequencies()
        # The terms BM25 scores: "how do I rotate the keys" counted "how", "do" and "I" here
        # but not in a passage's score, which halved every passage's share in a small index.
        terms = informative_terms(self.lexicon.search_terms(query, frequency), frequency, rows)
        return bm25_ceiling(idf(df, rows) for df in map(frequency, terms) if df > 0)

    def _frequencies(self) -> tuple[Callable[[str], int], int]:
        """(the document frequency of a term, the number of chunks), from the postings when
        they match the store's state, else from FTS5."""
        postings = self.postings
        if postings is not None and postings.generation == self.store.generation():
            return postings.document_frequency, postings.rows
        return self.lexicon.document_frequency, self.store.count_chunks()

    def _best_line(self, query: str, phrases: Sequence[Phrase] = ()) -> BestLine:
        """Each of the query's words weighed by the idf of the terms FTS5 makes of it."""
        frequency, rows = self._frequencies()
        weights = {}
        for word in query_words(query):
            counts = [frequency(term) for term in self.lexicon.query_tokens(word)]
            weights[word] = sum(idf(df, rows) for df in counts if df > 0)
        names = code_names(query)
        definitions = [defining(name) for name in names]
        syntaxes = {
            syntax: [defining(name, syntax) for name in names]
            for syntax in ("javascript", "config")
        }
        qualified = qualifiers(query)
        elsewhere = functools.partial(defined_elsewhere, qualified) if qualified else None
        # A pasted traceback's source lines name the lines to show (not passages to keep).
        phrases = [*phrases, *traceback_sources(query)]
        return BestLine(
            weights,
            phrases,
            query_trigrams(query),
            definitions,
            elsewhere,
            syntaxes,
            tags=query_tags(query),
            dates=query_date_patterns(query),
        )

    def _cosines(self, ids: list[int], query_vector: np.ndarray) -> dict[int, float]:
        """``{chunk id: cosine}``, each the float32 nearest the exact product (summed in
        float64): the same whatever order a matrix product sums in, so whatever found it."""
        query = np.asarray(query_vector, dtype=np.float64)
        try:
            vectors = self.vectors.vectors_of(np.asarray(ids, dtype=np.int64))
        except ValueError:  # a chunk the vectors do not hold yet: read what SQLite stores
            stored = self.store.embeddings(ids)
            ids, vectors = list(stored), np.array(list(stored.values()), dtype=np.float32)
            vectors = vectors.reshape(len(ids), len(query))
        with np.errstate(invalid="ignore", over="ignore"):  # damaged vectors: said below
            cosines = (vectors.astype(np.float64) @ query).astype(np.float32)
        # A stored vector no unit vector can be (NaN, huge): FAISS drops a NaN one unranked,
        # but a passage another ranker found was scored "nan".
        worst = float(np.max(np.abs(cosines))) if cosines.size else 0.0
        if not worst <= COSINE_MAX:
            raise DamagedVectorsError(f"a stored vector scores {worst:.3g} as a cosine")
        return dict(zip(ids, cosines.tolist(), strict=True))
