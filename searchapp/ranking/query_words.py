"""The query's words as they are looked for in a passage's text: to highlight them, to cut a
passage's one-line form around them, and to point a hit at the line that holds one."""

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


def first_match_line(text: str, first_line: int, pattern: re.Pattern[str] | None) -> int:
    """The line of ``text`` (which starts on ``first_line``) holding the first match of
    ``pattern``; ``first_line`` when nothing matches."""
    found = pattern.search(text) if pattern is not None else None
    return first_line if found is None else first_line + text.count("\n", 0, found.start())
