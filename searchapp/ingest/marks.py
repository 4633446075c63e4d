"""Marks in text that are not seen: taken out of what is indexed.

A left-to-right or right-to-left mark (an iPhone's WhatsApp export begins lines with one: hits
printed `\\u200e`), a zero-width space or word joiner (which split a word for search:
"pass\\u200bword"), a byte-order mark inside a text. Not the zero-width joiner and non-joiner:
they shape emoji and Persian words.
"""

from __future__ import annotations

import re

INVISIBLE_MARKS = "\u200b\u200e\u200f\u2060\ufeff"
_MARKS = re.compile(f"[{INVISIBLE_MARKS}]")


def without_marks(text: str) -> str:
    """``text`` without its invisible marks."""
    return _MARKS.sub("", text) if _MARKS.search(text) else text
