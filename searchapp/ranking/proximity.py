"""Word order as evidence: a passage holding three of the query's words in a row, as typed.

BM25 and the cosine read a passage as a bag of words, so a pasted error message, "Error: No such
option: --foo", found the passages that said "option" and "foo" most often, not the line that
raises ``_("No such option: {name}")``: "no" and "such" are function words BM25 does not weigh.
The query's trigrams (``query_words.query_trigrams``) that a candidate holds in a row show it
may be where the text was copied from, but only those few candidates hold: in a question,
"of the boundary layer" is in dozens of passages and says no more than BM25 does (bonuses for
every trigram, or any three words in a row, lost 0.004-0.013 nDCG@10 on Cranfield and CISI).

Hybrid and lexical ranking add ``PROXIMITY_WEIGHT`` times the share of the query's trigrams a
candidate holds that at most ``MAX_HOLDERS`` of the candidates do (``searcher.py``). A value
the message interpolated ("at position 5", "at position {position}" in the source) costs only
the trigrams it is in. See benchmarks/RESULTS.md ("Word order").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from searchapp.ranking.query_words import Trigram, held_trigrams_by_kind

# A passage holding every trigram adds half what one holding all the query's scored words as
# often as BM25 can count does (``fusion.BM25_WEIGHT``).
PROXIMITY_WEIGHT = 0.5
# Of the ~200 candidates (each ranker's ``searcher.FUSION_DEPTH``): a few copies of a message
# (a vendored library's) still count, a phrase of the field does not.
MAX_HOLDERS = 3


def in_order_bonus(trigrams: frozenset[Trigram], texts: Mapping[int, str]) -> dict[int, float]:
    """``{id: what word order adds}`` for the ``texts`` (by candidate id) that hold some of the
    query's ``trigrams`` that at most ``MAX_HOLDERS`` of them hold."""
    if not trigrams:
        return {}
    held = {i: held_trigrams_by_kind(trigrams, text) for i, text in texts.items()}
    written = Counter(trigram for found, _ in held.values() for trigram in found)
    holders = written + Counter(trigram for _, found in held.values() for trigram in found)
    # As written, a trigram tells where at most MAX_HOLDERS candidates write it: the format
    # strings a placeholder lets hold it too ("f'{name} is closed'" for "loop is closed") do
    # not make the line raising "Event loop is closed" one of many. Held with a placeholder,
    # it tells where at most MAX_HOLDERS hold it either way.
    telling_written = {trigram for trigram, count in written.items() if count <= MAX_HOLDERS}
    telling = {trigram for trigram, count in holders.items() if count <= MAX_HOLDERS}
    bonus = {
        i: PROXIMITY_WEIGHT * len((found & telling_written) | (slotted & telling)) / len(trigrams)
        for i, (found, slotted) in held.items()
    }
    return {i: value for i, value in bonus.items() if value > 0}
