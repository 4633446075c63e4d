"""Turning ranked candidates into hits: filters (``--path``, quoted phrases, ``--min-score``),
at most ``--per-doc`` passages of a document, and copies of a passage folded into one hit."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from searchapp.ingest.formats.delimited import is_delimited
from searchapp.ranking.outline import syntax_of
from searchapp.ranking.path_filter import path_filter
from searchapp.ranking.query_words import BestLine, Phrase
from searchapp.storage.schema import is_pending, record_id

if TYPE_CHECKING:
    from searchapp.ranking.searcher import SearchOptions
    from searchapp.storage.store import Store, StoredChunk


@dataclass(frozen=True)
class Hit:
    """One ranked passage. ``score`` is what its mode ranked it by, so it never rises down a list
    of hits: the ``cosine`` of query and passage (dense), the share of the most BM25 the query's
    words could score plus what its text adds (lexical, in [0, 2): word order, ``proximity.py``,
    and definitions, ``definitions.py``), or the cosine plus those plus the share of the query
    its file's name carries (hybrid, ``fusion.py``, ``names.py``)."""

    rank: int
    score: float
    cosine: float
    path: str
    doc_id: str
    chunk_id: int
    start_line: int
    end_line: int
    text: str
    title: str | None = None
    start_char: int = 0
    end_char: int = 0
    line: int = 0  # the line holding the query's rarest words (BestLine); 0: start_line
    page: int | None = None  # the page of its ``line``, for formats with pages (PDF)
    page_label: str | None = None  # ...as printed, where the PDF labels its pages ("iv", "33")
    section: str | None = None  # the heading path, notebook cell or chapter of its ``line``
    also: tuple[str, ...] = ()  # other files holding the same passage text (copies)

    def __post_init__(self) -> None:
        if not self.line:
            object.__setattr__(self, "line", self.start_line)

    @property
    def message(self) -> bool:
        """Whether it is a mailbox's message or an Evernote export's note: a record whose lines
        are told as a file's are (``Inbox #61:4``), not a JSONL corpus's (a line or two)."""
        return self.doc_id != self.path and not self.path.lower().endswith((".jsonl", ".jsonl.gz"))

    @property
    def record_id(self) -> str:
        """The id its file gives it: a JSONL record's ``_id`` (its ``doc_id`` is ``path#id``),
        else the file's path."""
        return record_id(self.doc_id, self.path)

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "cosine": round(float(self.cosine), 6),
            "path": self.path,
            "doc_id": self.doc_id,
            "record_id": self.record_id if self.doc_id != self.path else None,
            "title": self.title,
            "chunk_id": self.chunk_id,
            "line": self.line,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "page": self.page,
            "page_label": self.page_label,
            "section": self.section,
            "also": list(self.also),
            "text": self.text,
        }


def select(
    ranked: list[tuple[int, float, float]],
    options: SearchOptions,
    lines: BestLine,
    reads: Reads,
    holders: set[int] | None = None,
) -> list[Hit]:
    """The hits among ``ranked``: its passages that pass the filters and hold the search's
    phrases (``reads``), (when known) of the ``holders`` alone, copies folded into one."""
    # Each candidate's own score, before the filters: a copy --min-score left out is no tie
    # of one that passes (hybrid: a name holding the query's words scores more).
    scores = {row[0]: row[1] for row in ranked} if options.collapse_copies else {}
    if options.min_score is not None:
        lowest = lowest_passing(options.min_score)
        ranked = [r for r in ranked if r[1] >= lowest]
    if holders is not None:
        ranked = [r for r in ranked if r[0] in holders]
    per_doc: dict[str, int] = {}
    hits: list[Hit] = []
    by_text: dict[str, int] = {}  # passage text -> its hit's position: copies show once
    also: dict[int, dict[str, None]] = {}
    # Passages left out as their file had its --per-doc hits: a copy in another file shown
    # later names them (it showed with no "also", as if no other file held it).
    passed_over: dict[str, dict[str, None]] = {}
    twins: dict[str, set[str]] = {}  # a document named by a hit's "also": the hits' paths
    named: dict[str, set[int]] = {}  # a document's lines its hits point at
    wanted = path_filter(options.path_glob)

    def full_in(doc_id: str, text: str) -> bool:
        # A copy of a file already shown as one: its passage passed over in that twin,
        # which had its --per-doc hits, is not a hit of its own here either.
        twin_of = twins.get(doc_id)
        return per_doc.get(doc_id, 0) >= options.per_doc or bool(
            twin_of and twin_of & passed_over.get(text, {}).keys()
        )

    # Rows are read a batch at a time in rank order: filters rarely drop many, so the first
    # batch usually holds the k hits and the rest of the candidates are never read.
    first, batch = 0, 2 * options.k
    while first < len(ranked):
        end = first + batch
        while 0 < end < len(ranked) and ranked[end][1:] == ranked[end - 1][1:]:
            end += 1  # a run of equal scores is read whole: ``by_path`` orders it
        part = ranked[first:end]
        first = end
        chunks = reads.chunks([r[0] for r in part])
        # Every stored copy of these passages, candidates or not: past the dense top 100 the
        # copies left out were those indexed last, and a hit named another copy than in an
        # index built anew (and `-l` listed 100 of 301 copies).
        copies = reads.copies([c.text for c in chunks.values()]) if options.collapse_copies else {}
        for chunk_id, score, cosine in by_path(part, chunks):
            chunk = chunks.get(chunk_id)
            if chunk is None or not wanted(chunk.path) or is_pending(chunk.doc_id):
                continue
            if not reads.holds_phrases(chunk):
                continue
            copy_of = by_text.get(chunk.text) if options.collapse_copies else None
            if copy_of is not None:
                if chunk.path != hits[copy_of].path:
                    also.setdefault(copy_of, {})[chunk.path] = None
                    twins.setdefault(chunk.doc_id, set()).add(hits[copy_of].path)
                continue

            full = full_in(chunk.doc_id, chunk.text)
            if not full and copies.get(chunk.text):  # the copy a hit names: first with room
                room = [
                    copy
                    for copy in copies[chunk.text]
                    # a candidate that does not tie is placed by its own rank (hybrid: a name
                    # holding the query's words); any other copy ties (the same vector, text)
                    if scores.get(copy[0], score) == score
                    and wanted(copy[1])
                    and not full_in(copy[2], chunk.text)
                ]
                # A file before a link to it (indexed as a copy of it), then by path; links are
                # looked at until a file is found (13,500 copies took a stat each)
                pick = next((copy for copy in room if not os.path.islink(copy[1])), None)
                pick = pick or (room[0] if room else None)
                if pick is not None and pick[0] != chunk.id:
                    chunk = reads.chunks([pick[0]]).get(pick[0], chunk)
            if len(hits) == options.k or full:
                if len(hits) < options.k:  # its file is full: a copy elsewhere names it
                    passed_over.setdefault(chunk.text, {})[chunk.path] = None
                continue  # full: the rest of this batch is read for copies only
            taken = named.setdefault(chunk.doc_id, set())
            hit = hit_of(len(hits) + 1, score, cosine, chunk, lines, taken)
            if chunk.start_line and hit.line in taken:  # a line a hit of its file names already
                continue  # (an overlapping passage: `parse.py:51` came out twice)
            per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
            by_text[chunk.text] = len(hits)
            for path in passed_over.get(chunk.text, {}):
                if path != chunk.path:
                    also.setdefault(len(hits), {})[path] = None
            for _, path, _ in copies.get(chunk.text, ()):
                if path != chunk.path and wanted(path):
                    also.setdefault(len(hits), {})[path] = None
            hits.append(hit)
            taken.add(hit.line)
            if options.fixed:  # as grep -F: each line holding it (a log's passage holds many)
                for line in lines.phrase_lines(chunk.text, hit.start_line):
                    if len(hits) == options.k or full_in(chunk.doc_id, chunk.text):
                        break
                    if line not in taken:
                        page, section = chunk.location_of(line)
                        hits.append(
                            replace(hit, rank=len(hits) + 1, line=line, page=page, section=section)
                        )
                        per_doc[chunk.doc_id] += 1
                        taken.add(line)
        if len(hits) == options.k:
            break
        batch = min(4 * batch, 4096)
    if options.collapse_copies and first < len(ranked):
        # Copies ranked past the rows read (other files' passages came between them, or
        # --per-doc skipped many): a copy has the same vector, so the same cosine.
        cosines = {hit.cosine for hit in hits}
        rest = [chunk_id for chunk_id, _, cosine in ranked[first:] if cosine in cosines]
        read = reads.chunks(rest)
        for chunk in (read[i] for i in rest if i in read):
            copy_of = by_text.get(chunk.text)
            if copy_of is not None and chunk.path != hits[copy_of].path:
                if wanted(chunk.path):
                    also.setdefault(copy_of, {})[chunk.path] = None
    return with_copies(hits, also)


def by_path(
    part: list[tuple[int, float, float]], chunks: dict[int, StoredChunk]
) -> list[tuple[int, float, float]]:
    """``part`` with each run of equal scores and cosines by path (then doc_id and id). Copies
    of a passage tie: the lower chunk id (the copy indexed first) took the hit and its file's
    --per-doc, so an index that had a file removed and indexed again, or that resumed after a
    crash, answered otherwise than one built anew (``select`` then names a file before a link
    to it)."""
    ordered: list[tuple[int, float, float]] = []
    start = 0
    while start < len(part):
        end = start + 1
        while end < len(part) and part[end][1:] == part[start][1:]:
            end += 1
        run = part[start:end]
        if len(run) > 1:
            named = [_copy_of(row[0], chunks.get(row[0])) for row in run]
            order = {copy[0]: n for n, copy in enumerate(in_copy_order(named))}
            run = sorted(run, key=lambda row: order[row[0]])
        ordered += run
        start = end
    return ordered


def in_copy_order(copies: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """``(chunk id, path, doc_id)`` copies in order of which a hit names: one that is no build
    output or copy by its name (``is_derived``), nor the name of another numbered (Obsidian's
    "Duplicate file": `Writing rules 1.md` of `Writing rules.md`), first; then by path."""
    names = {os.path.splitext(path)[0] for _, path, _ in copies}

    def numbered(path: str) -> bool:
        stem = _NUMBERED.fullmatch(os.path.splitext(path)[0])
        return stem is not None and stem.group(1) in names

    return sorted(copies, key=lambda c: (is_derived(c[1]) or numbered(c[1]), c[1], c[2], c[0]))


_NUMBERED = re.compile(r"(.+) \d{1,3}", re.DOTALL)  # `Name 1`: of `Name`, when both are there


# Folders that hold what a build or a tool made from files elsewhere, and names a copy is
# given ("report (copy).docx", "Copy of notes.md", "paper (1).pdf", "main.c.orig"): two
# helpers' hits named `build/Exception_copy.h` and `drafts/chapter3 (copy).docx`, the path
# sorting first, with the file copied under "also".
_DERIVED_FOLDERS = frozenset(
    {"build", "_build", "dist", "out", "target", "obj", "site-packages", ".venv", "venv"}
    | {"__pycache__", ".tox", ".cache", "backup", "backups", ".trash", "trash", "archive"}
    | {"_site"}  # a static site rendered from its sources (Jekyll, Quarto)
    | {"archives", ".archive"}
)
_COPY_NAME = re.compile(
    r"(?i)^copy of |[ _-]copy(?: \d+)?(?=\.[^.]+$|$)|\(copy(?: \d+)?\)|\(\d+\)(?=\.[^.]+$|$)"
    r"|\.(?:bak|orig|old)$|~$"
)


# A folder copied whole, as Finder, Explorer and unzipping twice name it: `Export (1)`,
# `site copy`, `site copy 2`, `Notes - Copy`, `Copy of notes`; not `Taxes (2023)`, `hard-copy`.
_COPY_FOLDER = re.compile(r"(?i)^copy of | \(\d{1,2}\)$| copy(?: \d+)?$| - copy(?: \(\d+\))?$")


def is_derived(path: str) -> bool:
    """Whether ``path`` is, by its name or a folder's, a copy or a build's output rather than
    the file it was made from (a Notion export unpacked twice named every hit in its `(1)`
    copy, the original under "also": a product manager's trial)."""
    *folders, name = path.split("/")
    return bool(_COPY_NAME.search(name)) or any(
        folder.lower() in _DERIVED_FOLDERS
        or folder.startswith("cmake-build-")
        or _COPY_FOLDER.search(folder)  # a folder copied whole: `Export-7c1d (1)/`, `site copy/`
        for folder in folders
    )


def _copy_of(chunk_id: int, chunk: StoredChunk | None) -> tuple[int, str, str]:
    return (chunk_id, "", "") if chunk is None else (chunk_id, chunk.path, chunk.doc_id)


class Reads:
    """What one search read of its candidates, across its widenings (each ranks the candidates
    of the one before again): each passage read at most once while ``MAX_KEPT`` are kept, and
    checked against the phrases once."""

    MAX_KEPT = 8192  # passages kept (their text, ~1-2 KB each): a --path that keeps none reads
    # the whole index, which is not kept

    def __init__(self, store: Store, phrases: Sequence[Phrase]) -> None:
        self._store, self._phrases = store, phrases
        self._kept: dict[int, StoredChunk] = {}
        self._copies: dict[str, list[tuple[int, str, str]]] = {}
        self._holding: dict[int, bool] = {}

    def copies(self, texts: list[str]) -> dict[str, list[tuple[int, str, str]]]:
        """The stored copies of those of ``texts`` that several chunks hold (``Store.copies_of``),
        each text looked up once."""
        wanted = [text for text in dict.fromkeys(texts) if text not in self._copies]
        if wanted:
            found = self._store.copies_of(wanted)
            by_name = {text: in_copy_order(found.get(text, [])) for text in wanted}
            self._copies.update(by_name)
        return {text: self._copies[text] for text in texts if len(self._copies[text]) > 1}

    def chunks(self, ids: list[int]) -> dict[int, StoredChunk]:
        """The stored chunks of ``ids`` (those still stored)."""
        found = {i: self._kept[i] for i in ids if i in self._kept}
        missing = [i for i in ids if i not in found]
        if missing:
            for chunk in self._store.get_chunks(missing):
                found[chunk.id] = chunk
                if len(self._kept) < self.MAX_KEPT:
                    self._kept[chunk.id] = chunk
        return found

    def holds_phrases(self, chunk: StoredChunk) -> bool:
        """Whether ``chunk`` holds every phrase of the search (True without any)."""
        if not self._phrases:
            return True
        if chunk.id not in self._holding:
            self._holding[chunk.id] = all(p.found_in(chunk.text) for p in self._phrases)
        return self._holding[chunk.id]


def labelled(store: Store, hits: list[Hit]) -> list[Hit]:
    """``hits`` with the printed number of their page, where their PDF labels its pages (a
    book's 43rd page is its "33": its index and a reader's citation say 33)."""
    paged = [hit.doc_id for hit in hits if hit.page is not None]
    labels = store.page_labels(dict.fromkeys(paged)) if paged else {}
    return [
        replace(hit, page_label=labels[hit.doc_id][hit.page - 1])
        if hit.doc_id in labels and hit.page is not None and hit.page <= len(labels[hit.doc_id])
        else hit
        for hit in hits
    ]


def lowest_passing(min_score: float) -> float:
    """The least score that passes ``min_score`` as scores are shown, to 3 decimals: a hit shown
    as 0.918 (0.917511) passes --min-score 0.918, and a hit shown as 1.448 does not pass 1.4486
    (the shown scores that do are 1.449 and up)."""
    shown = math.ceil(round(min_score * 1000, 6)) / 1000  # the least 3-decimal score passing
    return shown - 0.0005


def with_copies(hits: list[Hit], also: dict[int, dict[str, None]]) -> list[Hit]:
    return [replace(hit, also=tuple(also[n])) if n in also else hit for n, hit in enumerate(hits)]


def hit_of(
    rank: int,
    score: float,
    cosine: float,
    chunk: StoredChunk,
    lines: BestLine,
    taken: set[int],
) -> Hit:
    """The hit of ``chunk``; its line one no hit before of its document points at (``taken``),
    where another line holds the query's words: overlapping passages named one line twice."""
    start_line = chunk.start_line or 1
    # A CSV's header names its columns (the hit's section): a row holding the query's words
    # is the hit's line before it (a data analyst's hits named line 1 for a column's name).
    header = start_line == 1 and is_delimited(chunk.path) and chunk.location_of(1)[1]
    line = lines.line(
        chunk.text, start_line, taken | {1} if header else taken, syntax_of(chunk.path)
    )
    page, section = chunk.location_of(line)
    return Hit(
        rank=rank,
        score=score,
        cosine=cosine,
        path=chunk.path,
        doc_id=chunk.doc_id,
        chunk_id=chunk.id,
        start_line=start_line,
        end_line=chunk.end_line or start_line,
        line=line,
        text=chunk.text,
        title=chunk.title,
        start_char=chunk.start_char or 0,
        end_char=chunk.end_char or 0,
        page=page,
        section=section,
    )
