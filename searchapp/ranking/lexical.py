"""Lexical ranking: BM25 exactly as SQLite FTS5's ``bm25()`` computes it, and FTS5 as a ranker.

FTS5 (``fts5_aux.c``) scores a row as the sum, over the query's phrases in query order, of

    idf * (tf * (k1 + 1)) / (tf + k1 * (1 - b + b * length / average_length))

with k1 = 1.2, b = 0.75, ``idf = log((rows - df + 0.5) / (df + 0.5))`` floored at 1e-6, lengths
in tokens, and returns it negated. The functions below do the same operations in the same order
on float64, so their scores equal FTS5's bit for bit (``tests/searchapp/ranking/test_postings.py``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from searchapp.errors import BadInputError
from searchapp.ranking.query_words import content_terms
from searchapp.storage.schema import (
    CJK_WORDS_FROM,
    FTS_TOKENIZER,
    FTS_WORDS_FROM,
    IDENTIFIER_WORDS_FROM,
    LATIN_FOLDS_FROM,
    cjk_spaced,
    fts_text,
    identifier_words,
    is_identifier,
    latin_fts_text,
)
from searchapp.storage.store import Store

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


def term_weights(
    tf: np.ndarray, lengths: np.ndarray, average_length: float, rows: np.ndarray | None = None
) -> np.ndarray:
    """Each posting's BM25 factor after the idf, float64, from its ``tf`` and its row's length:
    ``lengths[rows]`` (chunks' lengths and each posting's chunk), or ``lengths`` itself.

    ``(tf * (k1 + 1)) / (tf + k1 * ((1 - b) + b * length / average_length))``, FTS5's steps in
    its order: the length's part once a chunk, the rest in place on one array (float addition
    commutes exactly): at millions of postings 10x faster than an array for each step."""
    below = K1 * ((1 - B) + B * np.asarray(lengths, dtype=np.float64) / average_length)
    if rows is not None:
        below = below[rows]
    below += tf
    weights = np.multiply(tf, K1 + 1.0, dtype=np.float64)
    weights /= below
    return weights


def informative_terms(terms: Sequence[str], df: Callable[[str], int], rows: int) -> list[str]:
    """The terms BM25 scores: English function words dropped (``content_terms``), and the
    terms in half the rows or more ("the", "of") from ``COMMON_TERMS_FROM`` rows on, unless
    the query has no others.

    FTS5 weighs such a term 1e-6 (``IDF_FLOOR``), next to 1-10 for a useful one: it moves no
    ranking but for ties, yet scoring it visits most of the index (benchmarks/RESULTS.md).
    A query of such terms alone is scored by them: "user login failed" in a log that says it
    on every page, or the phrase '"of the"', found nothing in lexical mode, though grep did.
    """
    terms = content_terms(terms)
    if rows < COMMON_TERMS_FROM:
        return terms
    rare = [term for term in terms if 2 * df(term) < rows]
    # Rare ones that no chunk holds ("time" in a log that says "timeout") are no others.
    return rare if any(df(term) > 0 for term in rare) else terms


def inflected(terms: Sequence[str], df: Callable[[str], int]) -> list[str]:
    """``terms``, each that no chunk holds in the form the index holds it in as another
    inflection of the word (``other_forms``: "debounces" as "debounce", "policy" as
    "policies"), where one is held. FTS5 matches words as written: "hook that debounces input"
    scored only "hook" and "input", and a GraphQL schema's inputs outranked `useDebounce`.
    A word held as typed is kept as typed (no stemming: "repairs" finds no "repair" there)."""
    found = []
    for term in terms:
        if df(term) == 0 and term.isascii() and term.isalpha():
            term = next((form for form in other_forms(term) if df(form) > 0), term)
        found.append(term)
    return list(dict.fromkeys(found))


def other_forms(word: str) -> list[str]:
    """An English word's regular inflections, nearest first: a plural's or a verb form's base
    ("debounces", "handling", "stopped", "policies", "coded"), then its own plural and verb
    forms, as a base ("string": "strings"; "repair": "repairs"). A stem left shorter than 4
    letters is no word of its own ("thing" is not "the")."""
    if len(word) < 4:
        return []
    forms = []
    if word.endswith(("ies", "ied")):
        forms.append(word[:-3] + "y")
    elif word.endswith("es"):
        forms += [word[:-1], word[:-2]]  # "debounces", "boxes"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        forms.append(word[:-1])
    for ending in ("ed", "ing"):
        stem = word[: -len(ending)]
        if word.endswith(ending) and len(stem) >= 3:
            forms.append(stem + "e")  # "handled", "coded"
            if len(stem) >= 4:
                forms.append(stem)  # "repaired"
            if len(stem) >= 4 and stem[-1] == stem[-2] and stem[-1] not in "aeiouls":
                forms.append(stem[:-1])  # "stopped", "running"
    # As a base too, its plural and verb forms (a word may look inflected: "string").
    consonant_y = word.endswith("y") and word[-2] not in "aeiou"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        forms.append(word + "es")
    else:
        forms.append(word[:-1] + "ies" if consonant_y else word + "s")
    if word.endswith("e"):
        forms += [word + "d", word[:-1] + "ing"]
    else:
        forms += [word[:-1] + "ied" if consonant_y else word + "ed", word + "ing"]
    return [form for form in dict.fromkeys(forms) if len(form) >= 3 and form != word]


MAX_QUERY_TOKENS = 64  # bounds the cost of a pasted paragraph used as a lexical query
_WORD = re.compile(r"\w+")


def fts_query(text: str | Sequence[str], join: str = "OR") -> str:
    """Any user text (or its terms) as a safe FTS5 query: each word quoted, joined by OR (or
    ``join``: AND)."""
    if isinstance(text, str):
        text = list(dict.fromkeys(_WORD.findall(text)))[:MAX_QUERY_TOKENS]
    return f" {join} ".join('"' + token.replace('"', '""') + '"' for token in text)


def _words_of(version: int) -> Callable[[str], str]:
    """What an index of schema ``version`` gave FTS5 of a text (``schema.fts_text``)."""
    if version >= FTS_WORDS_FROM:
        return fts_text
    if version >= LATIN_FOLDS_FROM:
        return latin_fts_text
    if version >= IDENTIFIER_WORDS_FROM:
        return identifier_words
    if version >= CJK_WORDS_FROM:
        return cjk_spaced
    return str


class Lexicon:
    """The store's FTS5 index as a ranker: query terms, term counts and BM25 ranking.

    The postings file (``postings.py``) answers the same queries faster; this is the source it
    is built from and the ranker used while it is stale. Keep one per store: it caches term
    counts per store generation and creates its temporary tables once per connection.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._counted: tuple[int, int] | None = None  # (generation, chunk count)
        self._term_counts: dict[str, int] = {}  # chunks holding each term, this generation
        self._query_tables = False  # query_tokens' temp tables exist in this connection
        self._words: Callable[[str], str] | None = None  # what FTS5 was given of a text

    def query_tokens(self, text: str) -> list[str]:
        """The distinct terms FTS5 makes of ``text`` (folded, accents removed), in order, at most
        ``MAX_QUERY_TOKENS``: what a lexical query can match, whatever the text holds.

        FTS5's own tokenizer does it, on a one-row table in the connection's temp schema, so a
        query's terms are spelled exactly as the index's (a Chinese or Japanese character is a
        term of its own: ``fts_text``).
        """
        if not text.strip():
            return []
        if not self._query_tables:
            self.store.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_text "
                f"USING fts5(text, tokenize='{FTS_TOKENIZER}')"
            )
            self.store.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_terms "
                "USING fts5vocab(temp, query_text, 'instance')"
            )
            self._query_tables = True
        if self._words is None:  # as the index read its text: one read as it is (read-only)
            self._words = _words_of(self.store.schema_version())
        self.store.execute(
            "INSERT INTO temp.query_text (rowid, text) VALUES (1, ?)", (self._words(text),)
        )
        try:
            rows = self.store.rows("SELECT term FROM temp.query_terms ORDER BY offset")
            return list(dict.fromkeys(row[0] for row in rows))[:MAX_QUERY_TOKENS]
        finally:
            self.store.execute("DELETE FROM temp.query_text")

    def search_terms(self, text: str, df: Callable[[str], int]) -> list[str]:
        """The terms BM25 scores for a query: ``query_tokens``, less the parts of each
        identifier it holds (``CircuitBreaker``, ``get_console``) that the index holds whole, as
        grep finds it: a passage of prose that said "circuit breaker" in 20 words outranked the
        class, its length weighing more than the rarer whole term. Parts also typed as words of
        their own stay; an identifier no chunk holds is searched by its parts."""
        terms = inflected(self.query_tokens(text), df)
        text = cjk_spaced(text)  # "東京CircuitBreaker": two words, as FTS5 reads them
        identifiers = [w for w in dict.fromkeys(_WORD.findall(text)) if is_identifier(w)]
        if not identifiers:
            return terms
        parts: set[str] = set()
        wholes: list[str] = []
        for word in identifiers:
            whole = self.query_tokens(word.replace("_", ""))[:1]
            if whole and df(whole[0]) > 0:
                wholes += whole
                parts.update(self.query_tokens(word))
            else:  # searched by its parts, but not by a lone letter: "zzqxvbC" found every
                # passage holding "c", scored as if it held all the query's words
                parts.update(t for t in self.query_tokens(word) if len(t) == 1 and t.isascii())
        if not parts:
            return terms
        typed = set(
            self.query_tokens(
                _WORD.sub(lambda m: " " if m.group() in identifiers else m.group(), text)
            )
        )
        kept = [term for term in terms if term not in parts or term in typed or term in wholes]
        # A word both camelCase and snake_case (QQwing_Z_Z) has its parts split before they
        # are joined, so its whole may be no term of the query's own: it is added.
        return list(dict.fromkeys([*kept, *wholes]))

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Chunks matching any term of ``query``, best BM25 first, as ``(chunk_id, score)``.

        FTS5 scores every chunk that matches; ``Postings.search`` gives the same list from a
        file, faster. ``score`` is ``-bm25()``, so higher is better, like vector scores.
        """
        if k < 1:
            raise BadInputError(f"k ({k}) must be at least 1")
        terms = self.search_terms(query, self.document_frequency)
        if terms:
            terms = informative_terms(terms, self.document_frequency, self._chunk_count_now())
        if not terms:
            return []
        rows = self.store.rows(
            "SELECT rowid, bm25(chunks_fts) AS bm25_score FROM chunks_fts "
            "WHERE chunks_fts MATCH ? ORDER BY bm25_score, rowid LIMIT ?",
            (fts_query(terms), k),
        )
        return [(int(chunk_id), -float(bm25)) for chunk_id, bm25 in rows]

    def scores_of(self, query: str, chunk_ids: Sequence[int]) -> dict[int, float]:
        """``{chunk id: score}`` of those of ``chunk_ids`` matching some term of ``query``,
        scored as ``search`` scores them (FTS5's BM25 counts the whole index, whatever rows
        the query reads)."""
        terms = self.search_terms(query, self.document_frequency)
        if terms:
            terms = informative_terms(terms, self.document_frequency, self._chunk_count_now())
        if not terms or not chunk_ids:
            return {}
        # Scored as ``search`` scores them, then picked: SQLite does not hand a rowid list to
        # FTS5, and bm25() beside it cost 5x the search itself (1.1 s at 300k rows).
        rows = self.store.rows(
            "WITH scored AS MATERIALIZED (SELECT rowid AS id, bm25(chunks_fts) AS bm25_score "
            "FROM chunks_fts WHERE chunks_fts MATCH ?) "
            "SELECT id, bm25_score FROM scored WHERE id IN (SELECT value FROM json_each(?))",
            (fts_query(terms), json.dumps([int(i) for i in chunk_ids])),
        )
        return {int(chunk_id): -float(bm25) for chunk_id, bm25 in rows}

    def document_frequency(self, term: str) -> int:
        """How many chunks hold ``term`` (an FTS5 term, as ``query_tokens`` spells it)."""
        self._chunk_count_now()
        if term not in self._term_counts:
            rows = self.store.rows("SELECT doc FROM chunks_vocab WHERE term = ?", (term,))
            self._term_counts[term] = rows[0][0] if rows else 0
        return self._term_counts[term]

    def _chunk_count_now(self) -> int:
        """The number of chunks, counted once per generation (count(*) reads the whole table);
        a new generation also forgets the term counts of the one before."""
        generation = self.store.generation()
        if self._counted is None or self._counted[0] != generation:
            self._counted = (generation, self.store.count_chunks())
            self._term_counts = {}
        return self._counted[1]

    def term_instances(self) -> Iterator[tuple[str, np.ndarray]]:
        """Every FTS5 term with the chunk id of each of its occurrences (ascending, int64).

        Read inside ``Store.snapshot`` to see one state. The postings file is built from this.
        """
        self.store.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunk_terms "
            "USING fts5vocab(main, chunks_fts, 'instance')"
        )
        # One text per term, joined in C: 10x faster than a Python row per occurrence.
        return _by_term(
            self.store.iter_rows(
                "SELECT term, group_concat(doc, ' ') FROM temp.chunk_terms GROUP BY term"
            )
        )

    def added_term_instances(self, after_id: int) -> Iterator[tuple[str, np.ndarray]]:
        """``term_instances`` of the chunks whose id is above ``after_id`` alone: their text given
        again to FTS5's tokenizer, in a table of the connection's temp schema, as the index's
        triggers gave it (the same terms, counted the same). Read inside ``Store.snapshot``."""
        if self._words is None:
            self._words = _words_of(self.store.schema_version())
        words = self._words
        self.store.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.added_text "
            f"USING fts5(text, tokenize='{FTS_TOKENIZER}')"
        )
        self.store.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.added_terms "
            "USING fts5vocab(temp, added_text, 'instance')"
        )
        self.store.execute("DELETE FROM temp.added_text")
        try:
            for chunk_id, text in self.store.rows(
                "SELECT id, text FROM chunks WHERE id > ? ORDER BY id", (after_id,)
            ):
                self.store.execute(
                    "INSERT INTO temp.added_text (rowid, text) VALUES (?, ?)",
                    (chunk_id, words(text)),
                )
            yield from _by_term(
                self.store.iter_rows(
                    "SELECT term, group_concat(doc, ' ') FROM temp.added_terms GROUP BY term"
                )
            )
        finally:
            self.store.execute("DELETE FROM temp.added_text")


def _by_term(rows: Iterator[tuple[str, str]]) -> Iterator[tuple[str, np.ndarray]]:
    """Each term with its occurrences' chunk ids, from rows of the term and the ids joined."""
    for term, joined in rows:
        yield term, np.fromstring(joined, dtype=np.int64, sep=" ")
