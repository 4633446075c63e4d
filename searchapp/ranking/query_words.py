"""The query's words as they are looked for in a passage's text: to highlight them, to cut a
passage's one-line form around them, and to point a hit at the line that holds the rarest."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"\w+", re.UNICODE)


def query_words(query: str) -> list[str]:
    """Words of the query worth looking for (two characters or more, unique, lower case)."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query):
        if len(word) > 1:
            seen.setdefault(unicodedata.normalize("NFC", word).lower(), None)
    return list(seen)


def words_pattern(query: str) -> re.Pattern[str] | None:
    """A whole-word, case-blind pattern for any of ``query_words(query)``; None for none."""
    words = query_words(query)
    if not words:
        return None
    return re.compile(r"(?i)\b(" + "|".join(re.escape(w) for w in words) + r")\b")


class BestLine:
    """Finds the line of a passage that holds the query's words of most weight (their idf in
    the index: "rotate" and "keys" outweigh "how", "do" and "the"), each word counted once a
    line; the first of equal lines, and the passage's first when none holds a word."""

    def __init__(self, weights: dict[str, float]) -> None:
        self._words = [
            (re.compile(r"(?i)\b" + re.escape(word) + r"\b"), weight)
            for word, weight in weights.items()
            if weight > 0
        ]

    def line(self, text: str, first_line: int) -> int:
        best, most = first_line, 0.0
        if not self._words:
            return best
        for number, line in enumerate(text.split("\n"), start=first_line):
            weight = sum(weight for word, weight in self._words if word.search(line))
            if weight > most:
                best, most = number, weight
        return best
