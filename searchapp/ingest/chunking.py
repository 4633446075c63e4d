"""Splitting text into passages (chunks) that fit the model.

The text is cut into *pieces*, each the largest unit that fits in ``max_tokens``: a paragraph if
it fits, else its sentences (or lines), else groups of words, else single words, else runs of
characters. Pieces are packed greedily into chunks; a chunk that has to end mid-paragraph ends at
the strongest boundary that keeps it at least half full, and the next chunk repeats about
``overlap_tokens`` of its trailing pieces. A paragraph that fits is one piece, so it is never
split and there is little overlap across paragraph breaks.

A section start (``breaks``: where a heading, cell or slide begins) ends the chunk before it
once that chunk holds ``SECTION_MIN_TOKENS``, and no overlap reaches back across it, so a
passage holds one section's text: mean pooling over several short sections blurs each of them.
Shorter sections (a heading alone before its first subheading, a one-line cell) join the text
after them.

In source code (``code``), a paragraph that begins a definition (``def``, ``class``, ``fn``,
``func``..., perhaps under its decorators or comments) is a stronger boundary than other blank
lines: a chunk that has to end ends before a definition where it holds ``SECTION_MIN_TOKENS``
(not half the budget, as before a paragraph), and no overlap reaches back across one. A
function's header and docstring were left at the end of the chunk before, its body in the
next, which never named it.

Token counts come from ``count_tokens`` (word pieces without special tokens), called on batches of
texts. A chunk's count is first estimated as the sum of its pieces' counts, then checked on the
chunk's whole text (a chunk of one piece needs no check); a chunk that does not fit after all
gives up pieces until it does.

Offsets are character offsets into the text given (for files: the normalised decoded text), and
``chunk.text == text[chunk.start_char:chunk.end_char]`` always holds.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import NamedTuple

from searchapp.ingest.formats.spans import HEADING_MARKUP
from searchapp.storage.schema import Chunk

logger = logging.getLogger(__name__)

CountTokens = Callable[[Sequence[str]], list[int]]

COUNT_BATCH = 2048  # pieces per count_tokens call
VERIFY_BATCH = 64  # chunks checked per count_tokens call
UNCOUNTED_CHARS_PER_TOKEN = 16  # a piece longer than this many chars per token is split uncounted
SECTION_MIN_TOKENS = 16  # a chunk this long ends where a section starts

# Where a chunk may end, strongest boundary first.
SECTION, DEFINITION, PARAGRAPH, SENTENCE, WORD, CHARACTER = 5, 4, 3, 2, 1, 0

# Source files, by suffix: their paragraphs that begin a definition are DEFINITION boundaries.
CODE_SUFFIXES = frozenset(
    ".py .pyi .js .jsx .mjs .cjs .ts .tsx .go .rs .java .kt .kts .scala .swift .rb .php .cs "
    ".c .h .cc .cpp .hpp .cxx .m .mm .lua .ex .exs .erl .hs .ml .jl .r .pl .pm .sh .bash .zsh "
    ".dart .zig .nim .clj .fs .vb".split()
)
# A paragraph that begins a definition: decorator and comment lines, modifiers, a keyword.
_DEFINITION_START = re.compile(
    r"(?:[ \t]*(?:@|#|//|/\*|\*|--|;;)[^\n]*\n)*[ \t]*(?:"
    r"(?:(?:export|pub(?:\([\w:]+\))?|public|private|protected|internal|static|abstract|final|"
    r"async|unsafe|override|virtual|inline|extern|default|local|defp?)\s+)*"
    r"(?:def|class|fn|func|function|struct|enum|trait|impl|interface|module|type|object|"
    r"record|sub|macro_rules!|defmodule|defn)"
    # ...then a name (or generics: `impl<T>`): `type = 3`, `struct.pack(...)`, `sub = ...` and
    # `module.exports = ...` are statements, not definitions.
    r"(?:\s+[A-Za-z_$]|<)"
    # R assigns a function to its name (`fit_occupancy <- function(data) {`).
    r"|[A-Za-z.][\w.]*[ \t]*<<?-[ \t]*(?:function\b|\\\())"
)

# Levels of a piece: what it is cut into when it does not fit.
_PARAGRAPHS, _SENTENCES, _WORD_GROUPS, _WORDS, _CHARS, _STUCK = 5, 4, 3, 2, 1, 0

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# After . ! ? (perhaps closed by a quote or bracket) and whitespace; after CJK stops; at newlines.
# Only whitespace is ever consumed, so no visible character falls between two pieces.
_SENTENCE_BREAK = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'”’)\]]))\s+|(?<=[。！？])|\n")
_WORD = re.compile(r"\S+")
_NON_SPACE = re.compile(r"\S")
_SPACE = re.compile(r"\s")
_GROUP_END = re.compile(r"[\s\S]*\S(?=\s)")  # the last word end before the end position


@dataclass(frozen=True)
class ChunkingConfig:
    """Chunk size and overlap in word-piece tokens, special tokens not included."""

    max_tokens: int = 254
    overlap_tokens: int = 32

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_tokens, bool)
            or not isinstance(self.max_tokens, int)
            or (self.max_tokens < 8)
        ):
            raise ValueError(
                f"max_tokens ({self.max_tokens!r}) must be an integer >= 8; "
                "use the model's max_length minus 2"
            )
        overlap = self.overlap_tokens
        if (
            isinstance(overlap, bool)
            or not isinstance(overlap, int)
            or not (0 <= overlap < self.max_tokens // 2)
        ):
            raise ValueError(
                f"overlap_tokens ({overlap!r}) must be an integer from 0 to "
                f"{self.max_tokens // 2 - 1} (below half of max_tokens, {self.max_tokens})"
            )


class LineIndex:
    """1-based line numbers of character offsets, by binary search over the newline positions."""

    def __init__(self, text: str) -> None:
        self._newlines = [match.start() for match in re.finditer("\n", text)]

    def line_of(self, offset: int) -> int:
        """The line holding the character at ``offset``."""
        return bisect.bisect_left(self._newlines, offset) + 1


class Resume(NamedTuple):
    """Where chunking picks up a longer text in the middle (an appended file, ``reading``'s
    seam), so that it cuts what follows as chunking the whole text would: ``text`` begins at
    one of that text's chunk starts."""

    in_sentences: bool  # that start lies inside a paragraph, at one of its sentences' starts
    overlap_end: int  # where, in ``text``, the chunk before it ended (0: it shared nothing)


def resume_at(text: str, start: int, previous_end: int | None) -> Resume | None:
    """How chunking ``text[start:]`` picks up from ``start``, a chunk start of the whole
    ``text`` whose chunk before ended at ``previous_end``; None when it cannot (a chunk that
    starts inside a sentence: its words were grouped from the sentence's start)."""
    gap = start  # the whitespace before it: text[gap:start]
    while gap > 0 and text[gap - 1].isspace():
        gap -= 1
    if gap == 0:
        return Resume(False, 0)
    overlap_end = max(0, (previous_end or 0) - start)
    if _PARAGRAPH_BREAK.search(text, gap, start):
        return Resume(False, overlap_end)
    # A sentence break (``_SENTENCE_BREAK``) ends in that whitespace: a line break, or it
    # follows a stop (perhaps closed by a quote or bracket), or a CJK stop.
    stop = text[gap - 1] in ".!?" or (
        gap >= 2 and text[gap - 1] in "\"'”’)]" and text[gap - 2] in ".!?"
    )
    if (gap < start and (stop or "\n" in text[gap:start])) or text[gap - 1] in "。！？":
        return Resume(True, overlap_end)
    return None


def cut_apart(old: str, new: str, count_tokens: CountTokens, config: ChunkingConfig) -> bool:
    """Whether chunking ``new``, which is ``old`` with text after it, could cut what ``old``
    holds otherwise than chunking ``old`` did: the paragraph holding its end goes on in
    ``new`` and no longer fits in one piece (or, in a paragraph too long to be one, its last
    sentence). A fresh cut then packs the part of it that fits into the chunks before: those
    chunks change too, not only the last (``resume_at`` picks up at the last)."""
    limit = config.max_tokens * UNCOUNTED_CHARS_PER_TOKEN

    def fits(start: int, end: int, text: str) -> bool:
        return end - start <= limit and count_tokens([text[start:end]])[0] <= config.max_tokens

    def last_unit(separator: re.Pattern[str], start: int, end: int) -> int | None:
        """Where the last ``separator``-delimited unit of ``old[start:end]`` begins; None
        when it is longer than ``limit``, which no piece is (it was cut)."""
        window = max(start, end - limit - 1)
        begin = None
        for begin_match in separator.finditer(old, window, end):
            begin = begin_match.end()
        if begin is None:
            begin = start if window == start else None
        return begin

    def goes_on(separator: re.Pattern[str], end: int) -> int | None:
        """Where the unit ending at ``end`` in ``old`` ends in ``new``; None: it ends there."""
        match = separator.search(new, end)
        stop = match.start() if match is not None else len(new)
        if not new[end:stop].strip():
            return None
        return len(new[:stop].rstrip())

    end = len(old.rstrip())
    paragraph = last_unit(_PARAGRAPH_BREAK, 0, end)
    if paragraph is not None:
        grown = goes_on(_PARAGRAPH_BREAK, end)
        if grown is None:
            return False
        if fits(paragraph, end, old):
            return not fits(paragraph, grown, new)
        start = paragraph
    else:
        start = 0  # any start before the window: the last sentence is looked for within it
    sentence = last_unit(_SENTENCE_BREAK, start, end)
    if sentence is None or sentence == start:  # too long, or the paragraph's one sentence
        return goes_on(_SENTENCE_BREAK, end) is not None
    grown = goes_on(_SENTENCE_BREAK, end)
    if grown is None:
        return False
    return not (fits(sentence, end, old) and fits(sentence, grown, new))


def chunk_text(
    text: str,
    *,
    count_tokens: CountTokens,
    config: ChunkingConfig,
    breaks: Sequence[int] = (),
    headings: Collection[int] = (),
    code: bool = False,
    resume: Resume | None = None,
) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``config.max_tokens`` tokens; [] for blank text.
    ``breaks`` are the offsets where sections start, in increasing order; ``headings``, those
    of them where a line of the section's heading begins (``spans.heading_starts``: a Word
    file's, an EPUB's; Markdown's are told by their "#"s); ``code``: the text is source code
    (``CODE_SUFFIXES``), its definitions' starts preferred chunk starts; ``resume``: ``text``
    is the rest of a longer one from a chunk start (``resume_at``)."""
    in_sentences = resume is not None and resume.in_sentences
    pieces = _Pieces.of(
        text,
        count_tokens,
        config.max_tokens,
        breaks,
        code=code,
        in_sentences=in_sentences,
        headings=headings,
    )
    if not pieces.counts:
        return []
    previous = None
    if resume is not None and resume.overlap_end > 0:  # its first pieces were the last chunk's
        previous = (-1, sum(1 for s in pieces.starts if s < resume.overlap_end))
    lines = LineIndex(text)
    chunks = []
    for first, end in _pack(text, pieces, count_tokens, config, previous):
        start, stop = pieces.starts[first], pieces.ends[end - 1]
        chunks.append(
            Chunk(text[start:stop], start, stop, lines.line_of(start), lines.line_of(stop - 1))
        )
    return chunks


# -- pieces ------------------------------------------------------------------------------------


@dataclass
class _Pieces:
    """Pieces in text order: span, token count, and strength of the boundary before each."""

    starts: list[int]
    ends: list[int]
    counts: list[int]
    strengths: list[int]
    # Its count where it is text of its section's own, 0 for a line that starts a section
    # alone (a heading): a chunk of headings alone does not end at the next section.
    bodies: list[int]

    @classmethod
    def of(
        cls,
        text: str,
        count_tokens: CountTokens,
        max_tokens: int,
        breaks: Sequence[int] = (),
        *,
        code: bool = False,
        in_sentences: bool = False,
        headings: Collection[int] = (),
    ) -> _Pieces:
        uncounted_limit = max_tokens * UNCOUNTED_CHARS_PER_TOKEN
        # (start, end, strength before, level, count or -1 when not counted yet)
        items = []
        bounds = [0, *(b for b in breaks if 0 < b < len(text)), len(text)]
        for section_start, section_end in zip(bounds, bounds[1:]):
            spans = _spans(text, section_start, section_end, _PARAGRAPH_BREAK)
            for n, (s, e) in enumerate(spans):
                strength = PARAGRAPH
                if n == 0:
                    strength = SECTION
                elif code and _DEFINITION_START.match(text, s, e):
                    strength = DEFINITION
                if n == 0 and in_sentences and section_start == 0:
                    # The rest of a paragraph that was cut into sentences (``Resume``): cut
                    # so here too, though the rest alone might fit whole.
                    sentences = _spans(text, s, e, _SENTENCE_BREAK)
                    items.extend(
                        (a, b, strength if i == 0 else SENTENCE, _SENTENCES, -1)
                        for i, (a, b) in enumerate(sentences)
                    )
                    continue
                items.append((s, e, strength, _PARAGRAPHS, -1))
        stuck = 0
        while True:
            todo = [
                i
                for i, item in enumerate(items)
                if item[4] < 0 and item[1] - item[0] <= uncounted_limit
            ]
            counts = _count(count_tokens, [text[items[i][0] : items[i][1]] for i in todo])
            for i, count in zip(todo, counts):
                items[i] = (*items[i][:4], count)
            refined: list[tuple[int, int, int, int, int]] = []
            changed = False
            for item in items:
                start, end, strength, level, count = item
                if 0 <= count <= max_tokens or level == _STUCK:
                    refined.append(item)
                    continue
                changed = True
                spans, inner, child = _split(text, start, end, level, max_tokens)
                if spans == [(start, end)]:  # one character that does not fit: nothing to cut
                    stuck += 1
                    refined.append((start, end, strength, _STUCK, count))
                    continue
                refined.extend(
                    (s, e, strength if n == 0 else inner, child, -1)
                    for n, (s, e) in enumerate(spans)
                )
            items = refined
            if not changed:
                break
        if stuck:
            logger.warning(
                "%d single characters count more than %d tokens each; each is kept "
                "as a chunk of its own",
                stuck,
                max_tokens,
            )
        return cls(
            starts=[item[0] for item in items],
            ends=[item[1] for item in items],
            counts=[item[4] for item in items],
            strengths=[item[2] for item in items],
            bodies=[
                0
                if strength == SECTION and _heading_alone(text, start, end, count, headings)
                else count
                for start, end, strength, _, count in items
            ],
        )


# A Markdown heading's line (ATX): `## Part 1`.
_ATX_HEADING = re.compile(r"[ \t]{0,3}#{1,6}[ \t]+\S[^\n]*")


def _heading_alone(
    text: str, start: int, end: int, count: int, headings: Collection[int] = ()
) -> bool:
    """Whether the piece ``text[start:end]`` that starts a section is its heading alone, one
    line shorter than ``SECTION_MIN_TOKENS``: a Markdown heading, or a line at one of the
    ``headings`` (a writer's chapter, its front matter's values then "# Chapter 5" and "## Part
    1", was a passage of headings that ranked above its scenes; a notebook's one-line cell or a
    PDF's one-line page is text of its own)."""
    # ...its markup aside: a reStructuredText heading's adornments and labels (a changelog's
    # "2.3.0 (2024-12-05)" over its underline was a passage holding no change)
    lines = [line for line in text[start:end].strip().split("\n") if line.strip()]
    if start in headings and len(lines) > 1:  # the heading's own line alone is counted
        lines = [line for line in lines if not HEADING_MARKUP.fullmatch(line)]
        return len(lines) == 1 and len(lines[0]) <= MARKED_HEADING_CHARS
    if count >= SECTION_MIN_TOKENS or len(lines) != 1:
        return False
    return start in headings or _ATX_HEADING.fullmatch(lines[0].strip()) is not None


MARKED_HEADING_CHARS = 120  # a heading line under its markup: short, as its tokens would be


def _count(count_tokens: CountTokens, texts: list[str]) -> list[int]:
    counts: list[int] = []
    for i in range(0, len(texts), COUNT_BATCH):
        batch = texts[i : i + COUNT_BATCH]
        got = count_tokens(batch)
        if len(got) != len(batch):
            raise ValueError(
                f"count_tokens returned {len(got)} counts for {len(batch)} texts; "
                "it must return one count per text"
            )
        counts.extend(got)
    return counts


def _split(
    text: str, start: int, end: int, level: int, max_tokens: int
) -> tuple[list[tuple[int, int]], int, int]:
    """Cut a piece that does not fit: (spans, strength of the boundaries between them, their
    level). A level that gives only one span is passed over for the next finer one."""
    while True:
        if level == _PARAGRAPHS:
            spans, strength, child = _spans(text, start, end, _SENTENCE_BREAK), SENTENCE, _SENTENCES
        elif level == _SENTENCES:
            spans, strength, child = (
                _word_groups(text, start, end, max_tokens // 2),
                WORD,
                (_WORD_GROUPS),
            )
        elif level == _WORD_GROUPS:
            spans = [match.span() for match in _WORD.finditer(text, start, end)]
            strength, child = WORD, _WORDS
        elif level == _WORDS:
            step = max(1, max_tokens // 2)
            spans = [(s, min(s + step, end)) for s in range(start, end, step)]
            strength, child = CHARACTER, _CHARS
        else:  # halves, down to single characters
            middle = (start + end) // 2
            spans = [(start, middle), (middle, end)] if end - start > 1 else [(start, end)]
            return spans, CHARACTER, _CHARS
        if len(spans) > 1:
            return spans, strength, child
        level = child


def _spans(text: str, start: int, end: int, separator: re.Pattern[str]) -> list[tuple[int, int]]:
    """The non-blank stretches of ``text[start:end]`` between separators, trimmed."""
    spans: list[tuple[int, int]] = []
    position = start
    for match in separator.finditer(text, start, end):
        _add_trimmed(text, position, match.start(), spans)
        position = match.end()
    _add_trimmed(text, position, end, spans)
    return spans


def _add_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    first = _NON_SPACE.search(text, start, end)
    if first is None:
        return
    start = first.start()
    spans.append((start, start + len(text[start:end].rstrip())))


def _word_groups(text: str, start: int, end: int, group_chars: int) -> list[tuple[int, int]]:
    """Runs of whole words of at most ``group_chars`` characters (a longer word alone)."""
    groups: list[tuple[int, int]] = []
    position = start  # always at a non-space character
    while position < end:
        limit = position + max(group_chars, 1)
        if limit >= end:
            groups.append((position, end))
            break
        match = _GROUP_END.match(text, position, limit + 1)
        if match is not None:
            group_end = match.end()
        else:  # the first word alone is longer than a group
            space = _SPACE.search(text, position, end)
            group_end = end if space is None else space.start()
        groups.append((position, group_end))
        following = _NON_SPACE.search(text, group_end, end)
        if following is None:
            break
        position = following.start()
    return groups


# -- packing -----------------------------------------------------------------------------------


def _pack(
    text: str,
    pieces: _Pieces,
    count_tokens: CountTokens,
    config: ChunkingConfig,
    previous: tuple[int, int] | None = None,
) -> list[tuple[int, int]]:
    """Piece ranges [first, end) of the chunks, each checked to fit on its whole text;
    ``previous``: (-1, n) when the first n pieces ended the chunk before (``Resume``)."""
    total = len(pieces.counts)
    prefix = list(accumulate(pieces.counts, initial=0))  # pieces [a, b): prefix[b] - prefix[a]
    body = list(accumulate(pieces.bodies, initial=0))  # ...of the text that is no heading alone
    accepted: list[tuple[int, int]] = []
    retry: tuple[int, int] | None = None  # (first, end limit) for a chunk that did not fit
    while previous is None or previous[1] < total:
        candidates: list[tuple[int, int]] = []
        last = previous
        while len(candidates) < VERIFY_BATCH and (last is None or last[1] < total):
            last = _next_range(
                pieces, prefix, body, last, config, retry if not candidates else None
            )
            candidates.append(last)
        # A chunk of one piece is kept as it is (its count is the piece's): only longer ones
        # are counted again on their whole text.
        several = [(a, b) for a, b in candidates if b - a > 1]
        texts = [text[pieces.starts[a] : pieces.ends[b - 1]] for a, b in several]
        counts = dict(zip(several, _count(count_tokens, texts), strict=True))
        retry = None
        for first, end in candidates:
            if end - first == 1 or counts[first, end] <= config.max_tokens:
                accepted.append((first, end))
                previous = (first, end)
                continue
            fresh = previous[1] if previous else 0  # first piece not in the previous chunk
            retry = (first, end - 1) if end - 1 > fresh else (first + 1, end)
            break
    return accepted


def _next_range(
    pieces: _Pieces,
    prefix: list[int],
    body: list[int],
    previous: tuple[int, int] | None,
    config: ChunkingConfig,
    retry: tuple[int, int] | None,
) -> tuple[int, int]:
    """The piece range of the chunk after ``previous``: some of its trailing pieces again
    (overlap), then as many new pieces as fit, ending at a good boundary."""
    budget = config.max_tokens
    total = len(pieces.counts)
    strengths = pieces.strengths
    fresh = previous[1] if previous else 0
    if retry is not None:
        first, limit = retry
    else:
        first, limit = fresh, total
        if previous is not None:  # step back while that brings the overlap nearer its target
            while (
                first - 1 > previous[0]
                and strengths[first] < DEFINITION
                and (
                    prefix[fresh] - prefix[first] + prefix[fresh] - prefix[first - 1]
                    <= 2 * config.overlap_tokens
                )
            ):
                first -= 1
    while first < fresh and prefix[fresh + 1] - prefix[first] > budget:
        first += 1  # the overlap must leave room for at least one new piece
    end = fresh + 1
    while end < limit and prefix[end + 1] - prefix[first] <= budget:
        if strengths[end] == SECTION and body[end] - body[first] >= SECTION_MIN_TOKENS:
            return first, end
        end += 1
    if end < total:
        end = _best_end(pieces.strengths, prefix, first, fresh + 1, end, budget)
    return first, end


def _best_end(
    strengths: list[int], prefix: list[int], first: int, lowest: int, highest: int, budget: int
) -> int:
    """The end in [lowest, highest] at the strongest boundary (the latest of equals) that keeps
    the chunk at least half full; at a definition, at least ``SECTION_MIN_TOKENS`` full (a
    short function is a chunk of its own rather than the start of the next one's)."""
    half = prefix[first] + budget // 2
    least = prefix[first] + min(budget // 2, SECTION_MIN_TOKENS)
    best, best_strength = highest, strengths[highest]
    for end in range(highest - 1, lowest - 1, -1):
        if prefix[end] < least:
            break
        if prefix[end] < half and strengths[end] != DEFINITION:
            continue
        if strengths[end] > best_strength:
            best, best_strength = end, strengths[end]
    return best
