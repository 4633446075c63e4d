"""File names as evidence: a query's words in a file's name lift that file's passages.

``search query "sources.list entries"`` should find ``apt/examples/sources.list`` even where
its text never says "sources". The store keeps each file's name less its type, and the name of
its folder, in the FTS5 table ``documents_names`` (``schema.file_name``), split into words as
passages are. A file whose name or folder holds some of the query's words scores the share of
the query they carry: each word weighs its idf in the passages (as BM25 and
``query_words.BestLine`` weigh it), a word of the name the lesser of that and its idf among the
names, so that a word many files are named with ("readme", "test", "index") lifts them little;
a file named exactly what was typed (its name's words are the query's) scores 1. Hybrid
ranking adds ``NAME_WEIGHT`` times that share to each of the file's passages among its
candidates (``fusion.fuse``); of the ``MAX_FILES`` files with the best shares, one none of whose
passages the rankers found brings its first ones.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence

from searchapp.ranking.lexical import fts_query, idf
from searchapp.storage.schema import NAMES_FROM
from searchapp.storage.store import Store

# A name carrying the whole query counts as much as a passage holding all its words could
# (``fusion.BM25_WEIGHT``): both are the share of the query's idf a document shows.
NAME_WEIGHT = 1.0
_WORD = re.compile(r"[^\W_]+")
MAX_FILES = 100  # the files with the best shares that bring passages no ranker found
MAX_NAMED = 1000  # a word in more file names than this is a kind of file, not a subject
# A file found by its name alone brings its first passages (a long file's later ones come when
# the rankers find them): 100 files bring 800 passages at most.
PASSAGES_PER_FILE = 8


def near_names(
    named: dict[int, float], cosine: Mapping[int, float], best: float
) -> dict[int, float]:
    """``named`` (chunk id: what its file's name adds) with what a name carrying part of the
    query adds taken in proportion to the chunk's cosine over the ``best`` one: a file named by
    an everyday word the query uses in passing ("make a shortcut that points to another file":
    make(1), cosine 0.18 against ln(1)'s 0.38) was lifted over the answer. A name carrying the
    whole query (``NAME_WEIGHT``: "preferences", "README.Debian") adds all of it, however far
    its file's text is from the words (benchmarks/RESULTS.md, "Man pages")."""
    if best <= 0:
        return named
    return {
        chunk: added if added >= NAME_WEIGHT else added * min(1.0, max(0.0, cosine[chunk] / best))
        for chunk, added in named.items()
    }


def name_shares(
    store: Store,
    terms: Sequence[str],
    frequency: Callable[[str], int],
    rows: int,
    words: Callable[[str], Sequence[str]],
) -> dict[int, float]:
    """``{document row id: the share of the query its name carries}`` for every file whose name
    holds some of the query's ``terms`` (FTS5 terms, as ``Lexicon.query_tokens`` spells them),
    best first (ties: the shorter name); ``frequency`` and ``rows`` count passages, and
    ``words`` gives a name's FTS5 terms (``Lexicon.query_tokens``: a file named exactly what
    was typed, "İstanbul" or "straße", carries all of it)."""
    if not terms or store.schema_version() < NAMES_FROM:  # an index too old to name files
        return {}
    weights = {term: idf(frequency(term), rows) for term in terms}
    total = math.fsum(weights.values())
    if total <= 0:
        return {}
    # Files, not documents: a JSONL file's records have no names of their own. FTS5 keeps a
    # row per named document in its docsize table: counted without reading a name.
    files = store.rows("SELECT count(*) FROM documents_names_docsize")[0][0]
    carried: dict[int, float] = {}
    names: dict[int, str] = {}
    for term, weight in weights.items():
        named = store.rows(
            "SELECT rowid, name FROM documents_names WHERE documents_names MATCH ? LIMIT ?",
            (fts_query([term]), MAX_NAMED + 1),
        )
        if not named or len(named) > MAX_NAMED:
            continue
        weight = min(weight, idf(len(named), files))
        for document, name in named:
            carried[document] = carried.get(document, 0.0) + weight
            names[document] = name
    asked = set(terms)
    shares = {
        # A file named exactly what was typed ("README.Debian", "preferences") is what was asked
        # for, however many files share its name.
        document: 1.0 if set(words(names[document])) == asked else min(1.0, share / total)
        for document, share in carried.items()
    }
    best = sorted(shares, key=lambda d: (-shares[d], len(names[d]), d))
    return {document: shares[document] for document in best}


def dated(store: Store, dates: Sequence[str]) -> list[int]:
    """The row ids of the files whose names hold one of ``dates`` (``query_words.query_dates``:
    `2026 11 03`) as words in a row: `2026-11-03.md`, `notes/11-03 standup.md`."""
    if not dates or store.schema_version() < NAMES_FROM:
        return []
    phrases = " OR ".join('"' + date + '"' for date in dates)  # digits and spaces alone
    rows = store.rows(
        "SELECT rowid FROM documents_names WHERE documents_names MATCH ? LIMIT ?",
        (phrases, MAX_NAMED + 1),
    )
    return [] if len(rows) > MAX_NAMED else [row[0] for row in rows]


def documents_of(store: Store, chunks: Sequence[int]) -> dict[int, int]:
    """``{chunk id: its document's row id}`` for ``chunks`` (those still stored)."""
    found = store.rows(
        "SELECT id, document_id FROM chunks WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(chunks)),),
    )
    return dict(found)


def first_passages(store: Store, documents: Sequence[int]) -> dict[int, int]:
    """``{chunk id: document row id}`` for the first ``PASSAGES_PER_FILE`` passages of each of
    ``documents``: what a file found by its name alone brings to the fusion."""
    found: dict[int, int] = {}
    for document in documents:  # each an index range read: no sort, however long the file
        rows = store.rows(
            "SELECT id FROM chunks WHERE document_id = ? ORDER BY id LIMIT ?",
            (document, PASSAGES_PER_FILE),
        )
        found.update((chunk, document) for (chunk,) in rows)
    return found
