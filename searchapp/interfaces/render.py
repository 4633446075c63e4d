"""What a person sees: rich tables of hits, JSON for scripts, and inert document text."""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from searchapp.ranking.searcher import Hit

_WORD = re.compile(r"\w+", re.UNICODE)
# Control characters (C0 except tab/newline, DEL, C1) and bidi/format characters that could
# move the cursor, recolour the terminal or reorder what is shown; and lone surrogates (the bytes
# of a file name that are not UTF-8), which cannot be printed at all.
_UNSAFE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def inert(text: str) -> str:
    """Make text from a document or a file name safe to print: controls become visible escapes."""
    return _UNSAFE.sub(_visible_escape, text)


def _visible_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as os.fsdecode keeps it
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


def display_path(path: str, cwd: Path | None = None) -> str:
    """``path`` relative to the current folder where it lies below it, else absolute."""
    cwd = cwd or Path.cwd()
    try:
        return os.path.relpath(path, cwd) if Path(path).is_relative_to(cwd) else path
    except ValueError:
        return path


def query_words(query: str) -> list[str]:
    """Words of the query worth highlighting (two characters or more, unique)."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query):
        if len(word) > 1:
            seen.setdefault(unicodedata.normalize("NFC", word).lower(), None)
    return list(seen)


def passage_text(text: str, query: str, *, max_chars: int | None = 600) -> Text:
    """The passage as rich ``Text`` (never parsed as markup) with the query's words highlighted."""
    if max_chars is not None and len(text) > max_chars:
        text = text[:max_chars].rstrip() + " …"
    rendered = Text(inert(text))
    words = query_words(query)
    if words:
        rendered.highlight_regex(
            r"(?i)\b(" + "|".join(re.escape(w) for w in words) + r")\b", style="bold yellow"
        )
    return rendered


def hits_table(hits: Sequence[Hit], query: str, *, show_fused: bool = False) -> Table:
    table = Table(show_lines=True, expand=True)
    table.add_column("#", justify="right", style="bold", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    if show_fused:
        table.add_column("fused", justify="right", no_wrap=True)
    table.add_column("where", style="cyan", overflow="fold", max_width=40)
    table.add_column("passage", ratio=1)
    for hit in hits:
        if hit.doc_id == hit.path:
            where = Text(inert(f"{display_path(hit.path)}:{hit.start_line}"))
        else:  # a record of a JSONL corpus: its id says where; line numbers are the record's
            where = Text(inert(display_path(hit.path)))
            where.append(f" #{inert(hit.doc_id)}", style="bold")
        row = [str(hit.rank), f"{hit.score:.3f}"]
        if show_fused:
            row.append("" if hit.fused_rank is None else str(hit.fused_rank))
        table.add_row(*row, where, passage_text(hit.text, query))
    return table


def print_hits(
    console: Console, hits: Sequence[Hit], query: str, *, show_fused: bool = False
) -> None:
    if not hits:
        console.print(Text("no matches", style="dim"))
        return
    console.print(hits_table(hits, query, show_fused=show_fused))


def hits_json(hits: Sequence[Hit]) -> str:
    """One JSON array of hits with the documented keys, nothing else.

    Characters a terminal could act on are written as ``\\uXXXX`` escapes (JSON leaves DEL, C1
    controls and bidi overrides raw), so the output is inert and parses to the same strings.
    """
    text = json.dumps([hit.to_json() for hit in hits], ensure_ascii=False)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def print_passage(console: Console, hit: Hit, context: str, query: str) -> None:
    """A whole passage with its surrounding lines, headed by ``path:line``."""
    where = f"{display_path(hit.path)}:{hit.start_line}-{hit.end_line}"
    if hit.doc_id != hit.path:
        where = f"{display_path(hit.path)} #{hit.doc_id}"
    console.print(Text(inert(where), style="bold cyan"))
    console.print(passage_text(context, query, max_chars=None))
