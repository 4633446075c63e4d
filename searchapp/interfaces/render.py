"""What a person sees: rich tables of hits, JSON for scripts, and inert document text."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from searchapp.ingest.formats.delimited import is_delimited
from searchapp.ingest.formats.maildir import is_maildir_name
from searchapp.ingest.limits import GENERATED_LINE_CHARS
from searchapp.interfaces.readable import is_markdown, readable_inline, readable_markdown
from searchapp.ranking.query_words import fold, held_phrases, words_pattern
from searchapp.ranking.searcher import Hit

if TYPE_CHECKING:  # the index (faiss, SQLite) is not imported to draw hits
    from searchapp.ingest.pipeline import IndexReport
    from searchapp.search_index import Context

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


def counted(count: int, noun: str) -> str:
    """``1 chunk``, ``2 chunks``, ``2 batches``: a count and its noun, plural unless the count
    is 1."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun}{'es' if noun.endswith(('s', 'sh', 'ch', 'x')) else 's'}"


def committed_chunks(report: IndexReport) -> str:
    """``3 chunks embedded and committed``, with those stored again with the vectors they had
    (``, 480 reused``) apart: counted as one, a run that embedded nothing after one that was
    stopped said "480 chunks committed"."""
    reused = f", {report.reused} reused" if report.reused else ""
    return f"{counted(report.chunks, 'chunk')} embedded{reused} and committed"


def interrupted_line(report: IndexReport, *, cause: str = "Ctrl-C") -> str:
    """What an indexing run stopped by ``cause`` committed, and how to go on."""
    return (
        f"interrupted: {committed_chunks(report)} "
        f"({counted(report.added + report.updated, 'file')} complete) before {cause}; run the "
        "same command again to continue (committed chunks are not embedded again)"
    )


def _relative(path: str, cwd: Path | None = None) -> str:
    """``path`` from the current folder where it lies below it, else absolute; as it is. From
    `/` (where an MCP client starts its server, and a service runs) every path is absolute:
    `tmp/notes/a.md` read as a path from somewhere else."""
    cwd = cwd or Path.cwd()
    if cwd.parent == cwd:  # the root
        return path
    try:
        return os.path.relpath(path, cwd) if Path(path).is_relative_to(cwd) else path
    except ValueError:
        return path


def display_path(path: str, cwd: Path | None = None) -> str:
    """``path`` relative to the current folder where it lies below it, else absolute, safe to
    print (``inert``); a newline in a file name written ``\\n``, so that one hit or message stays
    one line, and a tab ``\\t``, so that a line's fields stay where `cut` and `awk` find them. An
    escape code in a name reached the terminal from `search remove` and `search watch`, which
    printed it with this alone."""
    return inert(_relative(path, cwd)).replace("\n", "\\n").replace("\t", "\\t")


def listed_path(path: str, stream: IO[str]) -> str:
    """A path in a list of paths (`-l`, `search remove`): on a terminal as ``display_path``
    shows it; in a pipe or a file as it is, as grep -l and find print it (a tab in a name,
    printed ``\\t``, named no file for ``xargs -d '\\n'`` or ``while read``, and could not be
    told from a backslash and a t); -0 keeps a name holding a newline whole."""
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError, OSError):
        terminal = False
    return display_path(path) if terminal else _relative(path)


def passage_text(text: str, query: str) -> Text:
    """The passage as rich ``Text`` (never parsed as markup) with the query's words highlighted."""
    rendered = Text(inert(text))
    pattern = words_pattern(query)
    if pattern is not None:
        rendered.highlight_regex(pattern, style="bold yellow")
    return rendered


SNIPPET_CHARS = 320  # what a table row shows of a passage: about 6 lines of a 55-column cell


def _names_a_unit(section: str) -> bool:
    """A section that is the unit itself (a notebook cell, a slide, a transcript's cue by its
    time: ``00:12:04``) rather than a heading."""
    kind, _, number = section.partition(" ")
    if kind in ("cell", "slide") and number.isdigit():
        return True
    return _CUE_TIME.fullmatch(section) is not None


_CUE_TIME = re.compile(r"\d{2,}:\d{2}:\d{2}")


def _section(hit: Hit) -> str:
    """A hit's section as shown: a Markdown heading's text without its marks (`Notes on
    [[Lighthouse Novel]] and *pacing*`)."""
    section = hit.section or ""
    return readable_inline(section) if is_markdown(hit.path) else section


def _unit(hit: Hit) -> str | None:
    """The page, cell or slide of a hit's line (``p.12``, ``cell 7``); None for plain text."""
    if hit.page is not None:
        return f"p.{hit.page_label or hit.page}"
    if hit.section and _names_a_unit(hit.section):
        return hit.section
    return None


def location(hit: Hit) -> str:
    """Where a hit is, as a person looks it up: ``path:line`` for text, ``paper.pdf p.12`` for
    a page, ``nb.ipynb cell 7`` for a cell or slide, ``corpus.jsonl #id`` for a record of a
    JSONL corpus (whose lines are the record's), ``Inbox #61:4`` for a line of a mailbox's
    message (``Hit.message``: two hits on one message looked like one twice)."""
    path = display_path(hit.path)
    if hit.doc_id != hit.path:  # an id holding a newline split a hit's line in two
        record = hit.record_id.replace("\n", "\\n").replace("\t", "\\t")
        return f"{path} #{record}:{hit.line}" if hit.message else f"{path} #{record}"
    unit = _unit(hit)
    return f"{path} {unit}" if unit else f"{path}:{hit.line}"


MIN_PASSAGE = 32  # a passage column narrower than this: hits are listed, each under its location
WHERE_MIN = 24  # what a location is cut to at the least (its file name is always kept whole)


def hits_table(
    hits: Sequence[Hit], query: str, *, show_cosine: bool = False, width: int = 100
) -> Table | None:
    """The hits as a table ``width`` columns wide, or None when the passage column would be
    narrower than ``MIN_PASSAGE``. The ``where`` column is never wrapped and is as wide as its
    longest location, up to half the room the two share (``WHERE_MIN`` at the least); a path
    too long for that loses folders between its first and those nearest the file
    (``shortened_path``)."""
    columns = 5 if show_cosine else 4
    # Borders and padding, then the fixed columns: rank, score (5) and cosine (6).
    fixed = columns + 1 + 2 * columns + len(str(max(hit.rank for hit in hits))) + 5
    room = width - fixed - (6 if show_cosine else 0)  # for "where" and the passage
    locations = [inert(location(hit)) for hit in hits]
    # as wide as the longest location or heading path, up to the cap (a paralegal's
    # "§ …t > Deadlines" was cut to its path:line's width)
    sections = [len(_marked(inert(_section(hit)))) for hit in hits if _shows_section(hit)]
    subjects = [len(subject) for hit in hits if (subject := _subject(hit))]
    widest = max([*map(len, locations), *sections, *subjects])
    fit = min(widest, max(WHERE_MIN, min(room - MIN_PASSAGE, room // 2)))
    cells = [_where_cell(hit, where, fit) for hit, where in zip(hits, locations, strict=True)]
    where_width = max(len(line) for cell in cells for line in cell.plain.split("\n"))
    if room - where_width < MIN_PASSAGE:
        return None
    table = Table(show_lines=True, expand=True)
    table.add_column("#", justify="right", style="bold", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    if show_cosine:
        table.add_column("cosine", justify="right", no_wrap=True)
    # path:line is never broken
    table.add_column("where", style="cyan", no_wrap=True, min_width=where_width)
    table.add_column("passage", ratio=1, overflow="fold")  # a long URL or CJK run: folded
    for hit, where in zip(hits, cells, strict=True):
        row = [str(hit.rank), f"{hit.score:.3f}"]
        if show_cosine:
            row.append(f"{hit.cosine:.3f}")
        table.add_row(*row, where, passage_text(snippet(hit, query, SNIPPET_CHARS), query))
    return table


def _where_cell(hit: Hit, where: str, fit: int) -> Text:
    """A hit's location cut to ``fit`` columns, its heading path and its copies below it."""
    cell = Text(shortened_path(where, fit))
    if subject := _subject(hit):
        cell.append(f"\n{subject if len(subject) <= fit else subject[: fit - 1] + '…'}")
    if _shows_section(hit):  # "§ " and "also in " are kept
        section = inert(_section(hit))
        shown = _shortened(section, fit if section.startswith("§") else fit - 2)
        if shown != section and section.startswith("§"):
            shown = "§ " + _shortened(section, fit - 2)  # its own "§" cut off: ours
        cell.append(f"\n{_marked(shown)}", style="dim")
    for other in hit.also[:3]:
        shown = _copy_path(display_path(other), display_path(hit.path), fit - 8)
        cell.append(f"\nalso in {shown}", style="dim")
    if len(hit.also) > 3:
        cell.append(f"\nand {len(hit.also) - 3} more copies", style="dim")
    return cell


def _copy_path(copy: str, original: str, limit: int) -> str:
    """A copy's path in ``limit`` characters (``shortened_path``), keeping the folder where it
    parts from the hit's path, its name too where that fits or differs: a Notion export
    unpacked twice showed `export/…/Retro ac29….md` and "also in" the same (its `Export (1)/`
    cut out); now "also in …/Export (1)/…"."""
    shown = shortened_path(copy, limit)
    parts, others = copy.split("/"), original.split("/")
    apart = next((n for n, (a, b) in enumerate(zip(parts, others)) if a != b), len(parts) - 1)
    if apart >= len(parts) - 1 or f"/{parts[apart]}/" in f"/{shown}":
        return shown  # the name differs, or the folder that does is shown
    rest = "/".join(parts[apart:])
    if len(rest) + 2 <= limit:
        return f"…/{rest}"
    skipped = f"{parts[apart]}/…/{parts[-1]}"
    if len(skipped) + 2 <= limit:
        return f"…/{skipped}"
    if parts[-1] == others[-1] and len(parts[apart]) + 4 <= limit:
        return f"…/{parts[apart]}/…"  # the rest as the hit's: where they part says which
    return shown


def _shows_section(hit: Hit) -> bool:
    """Whether the hits show ``hit``'s section below its location (a heading path, not the
    cell or slide its location names)."""
    return bool(hit.section) and not _names_a_unit(hit.section or "")


def _subject(hit: Hit) -> str | None:
    """A message's subject (a mailbox's, an ``.eml`` or ``.msg`` file's, a Maildir's) as the
    hits show it below its location (``✉ Party wall award``): `All mail.mbox #1978:9` alone
    named no mail a person knows; an Evernote note's title so (``✎ Offboarding checklist``);
    None for others."""
    if not hit.title:
        return None
    if hit.message and hit.path.lower().endswith((".enex", ".enex.gz")):
        return f"✎ {inert(hit.title)}"
    mail = (
        hit.message
        or hit.path.lower().endswith((".eml", ".eml.gz", ".msg"))
        or is_maildir_name(hit.path)
    )
    return f"✉ {inert(hit.title)}" if mail else None


def _marked(section: str) -> str:
    """A section as the hits show it, after "§ ", unless it begins with its own (a German
    contract's "§ 4 Kündigung" was "§ § 4 Kündigung")."""
    return section if section.startswith("§") else f"§ {section}"


def _shortened(text: str, limit: int) -> str:
    """``text`` in ``limit`` characters, its end kept; a heading path without its first
    headings, whole (`… > Deadlines`, not `…t > Deadlines`); a code section
    (`Console.render_lines`) cut between its names (`…render_lines`, not
    `…sole.render_lines`)."""
    if len(text) <= limit:
        return text
    headings = text.split(" > ")
    while len(headings) > 1:
        headings.pop(0)
        shown = " > ".join(["…", *headings])
        if len(shown) <= limit:
            return shown
    kept = text[-(limit - 1) :]
    if " " not in text and "." in kept:
        kept = kept[kept.index(".") + 1 :]
    return "…" + kept


def shortened_path(where: str, limit: int) -> str:
    """``where`` in ``limit`` characters by dropping folders between its first and the ones
    nearest the file, whole (``Clients/…/Lease 1420 Harbor St/Lease v1.docx:57``): the first
    names the client or ``vendor/`` that a cut of the start lost (a paralegal's and a Go
    developer's trials). Where that does not fit, from the end (``…/file.md:12``); the file
    name and what follows it are always kept whole, however long."""
    if len(where) <= limit or "/" not in where:
        return where
    folders, _, name = where.rpartition("/")
    parts = folders.split("/")
    first = 2 if parts[0] in ("", "~", ".", "..") else 1  # `/home`, `~/notes`: no name alone
    head, rest = "/".join(parts[:first]), parts[first:]
    kept: list[str] = []  # the folders nearest the file that fit, whole
    while len(kept) < len(rest):
        tail = "/".join([rest[-len(kept) - 1], *kept, name])
        if len(head) + len("/…/") + len(tail) > limit:
            break
        kept.insert(0, rest[-len(kept) - 1])
    if rest and len(kept) < len(rest) and len(head) + len("/…/") + len(name) <= limit:
        return f"{head}/…/{'/'.join([*kept, name])}"
    keep = limit - len(name) - 2  # room for "…/"
    return f"…{folders[-keep:]}/{name}" if keep > 0 else f"…/{name}"


def snippet(hit: Hit, query: str, max_chars: int, *, from_line: bool = False) -> str:
    """The hit's passage on one line (its whitespace runs as single spaces), cut to
    ``max_chars`` where the most of the query's different words are seen together, from its
    ``line`` (the line of its rarest words) on, when the start does not show them; "…" where
    text is left out. ``from_line``: from ``line`` on, whatever the words, as grep's
    ``path:line: text`` shows that line (the lines output). `-C` and the REPL's :open show a
    passage whole."""
    raw = readable_markdown(hit.text) if is_markdown(hit.path) else hit.text
    text = " ".join(raw.split())
    skipped = raw.split("\n")[: max(0, hit.line - hit.start_line)]
    line_at = len(" ".join(" ".join(skipped).split()))  # where ``line`` begins in ``text``
    line_at += 1 if line_at else 0
    if from_line:  # the line itself first, wherever the query's words gather after it;
        # within it when it is longer than the cut (a paragraph or a minified line)
        rest = text[line_at:] if 0 < line_at < len(text) else text
        lines = raw.split("\n")
        own = lines[min(max(0, hit.line - hit.start_line), len(lines) - 1)]
        if len(" ".join(own.split())) > max_chars:
            return _snippet(rest, 0, query, max_chars)
        return _cut(rest, 0, max_chars)
    return _snippet(text, line_at, query, max_chars)


def _snippet(text: str, line_at: int, query: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    # A quoted phrase is what was asked for: the cut shows it, not where more of the other
    # words gather (`"flat plate" heat transfer` showed the heat transfer, never the plate).
    # Found in the text's lower case, whose places are the text's (ASCII).
    for phrase in held_phrases(query) if text.isascii() else ():
        found_phrase = next(
            (
                found
                for found in phrase.pattern.finditer(text.lower(), line_at)
                # its names as written there (`"NO_COLOR"`, not `no_color`; a flag's dashes
                # lie before the words the match begins with)
                if all(n.search(text, max(found.start() - 2, 0), found.end()) for n in phrase.names)
            ),
            None,
        )
        if found_phrase is not None:
            if found_phrase.end() <= max_chars - 20:
                return _cut(text, 0, max_chars)
            return _cut_before(text, found_phrase.start(), max_chars)
    pattern = words_pattern(query)
    found = list(pattern.finditer(text, line_at)) if pattern is not None else []
    if not found:  # the line alone
        if line_at <= max_chars - 20:
            return _cut(text, 0, max_chars)
        return _cut_before(text, line_at, max_chars)
    # What a cut starting a quarter before a word shows after it, its "… " and " …" aside
    seen = (max_chars - 4) * 3 // 4 - 2
    best, most = 0, 0
    for i, first in enumerate(found):
        together = {fold(m.group()) for m in found[i:] if m.end() <= first.start() + seen}
        if len(together) > most:
            best, most = i, len(together)
    window = [m for m in found[best:] if m.end() <= found[best].start() + seen]
    if window[-1].end() <= max_chars - 20:  # the start shows them
        return _cut(text, 0, max_chars)
    return _cut_before(text, found[best].start(), max_chars)


def _cut_before(text: str, at: int, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` from a word about a quarter of them before ``at``."""
    target = max(0, at - max_chars // 4)  # some words before it
    space = text.rfind(" ", max(0, target - max_chars // 4), target)
    return _cut(text, space + 1 if space >= 0 else target, max_chars)


def _cut(text: str, begin: int, max_chars: int) -> str:
    """``text`` from ``begin``, at most ``max_chars`` with the "… " and " …" marking what is left
    out (they came on top: 242-247 characters of a 240 cut)."""
    head = "… " if begin else ""
    room = max_chars - len(head)
    if begin + room < len(text):
        room -= 2  # " …" ends it
    cut = text[begin : begin + room]
    if begin + room < len(text) and " " in cut[room // 2 :]:
        cut = cut[: cut.rfind(" ")]  # end at a word's end
    return head + cut.rstrip() + (" …" if begin + len(cut) < len(text) else "")


# ripgrep's colours for grep-like lines: paths magenta, line numbers green, matches bold red.
_PATH, _LINE, _MATCH, _RESET = "\x1b[35m", "\x1b[32m", "\x1b[1;31m", "\x1b[0m"


def _painted(text: str, colour: str, color: bool) -> str:
    return f"{colour}{text}{_RESET}" if color and text else text


def hit_line(
    hit: Hit,
    query: str = "",
    *,
    max_chars: int = 240,
    color: bool = False,
    whole: bool = False,
    null: bool = False,
    own_line: bool = False,
) -> str:
    """One hit as one grep-like line: ``path:line: score  text`` (``snippet``). A hit on a page,
    cell or slide has it before the text (``p.12  text``), its line being one of the extracted
    text, as -C numbers them; a JSONL record is ``corpus.jsonl #id: score  text``. ``color``:
    in ripgrep's colours, the query's words as matches. ``whole``: the text as it is (a line of
    the file, under -C: spaces and indentation kept, as grep -C prints it). ``null``: the
    path as it is and a NUL in place of the ":" after it, as grep -Z and rg -0 write it.
    ``own_line``: a file's hit line alone, as it is (-F's lines, as grep -F prints them)."""
    # From its line when the line is shown (a file's, a message's); a JSONL record's passage
    # as the table cuts it.
    from_line = hit.doc_id == hit.path or hit.message
    if (own_line or is_delimited(hit.path)) and from_line:  # a CSV's row alone, as grep
        text = inert(_cut_long(hit_line_text(hit)))
    else:
        text = inert(hit.text if whole else snippet(hit, query, max_chars, from_line=from_line))
    pattern = words_pattern(query) if color else None
    if pattern is not None:
        text = pattern.sub(lambda m: _painted(m.group(), _MATCH, True), text)
    if hit.doc_id != hit.path:
        if null:  # `corpus.jsonl` NUL `#id: score  text`
            where = _painted(_relative(hit.path), _PATH, color) + "\0"
            return f"{where}{inert(location(hit))[len(display_path(hit.path)) + 1 :]}: " + (
                f"{hit.score:.3f}  {text}"
            )
        where = _painted(inert(location(hit)), _PATH, color)
        return f"{where}: {hit.score:.3f}  {text}"
    unit = _unit(hit)
    line = _painted(str(hit.line), _LINE, color)
    return f"{_where(hit.path, color, null, ':')}{line}: {hit.score:.3f}  " + (
        f"{unit + '  ' if unit else ''}{text}"
    )


def hit_line_text(hit: Hit) -> str:
    """The text of the hit's line, as the passage holds it."""
    lines = hit.text.split("\n")
    return lines[min(max(0, hit.line - hit.start_line), len(lines) - 1)]


def _where(path: str, color: bool, null: bool, separator: str) -> str:
    """A grep-like line's path and the separator after it (``:`` for a hit, ``-`` for a line
    around it); with ``null`` the path as it is and NUL (grep -Z, rg -0: a name holding ":" or
    a newline stays one field)."""
    if null:
        return _painted(_relative(path), _PATH, color) + "\0"
    return _painted(display_path(path), _PATH, color) + separator


def uses_color(console: Console) -> bool:
    """Whether lines written straight to ``console.file`` (grep-like lines, -l paths) are
    coloured: on a terminal, or with --color always, unless NO_COLOR, --color never or TERM=dumb."""
    return console.is_terminal and console.color_system is not None and not console.no_color


# A line of -C output longer than any person writes (``decoding.GENERATED_LINE_CHARS``: a log or
# a dump of one line) is cut: a hit's own line is then its passage's snippet, as without -C,
# and a line around it its start. Shorter lines are printed whole, as grep -C prints them.
MAX_CONTEXT_CHARS = GENERATED_LINE_CHARS


def _cut_long(line: str) -> str:
    if len(line) <= MAX_CONTEXT_CHARS:
        return line
    return f"{line[:MAX_CONTEXT_CHARS]} [... {len(line) - MAX_CONTEXT_CHARS:,} more characters]"


def context_lines(
    hit: Hit, context: Context, *, color: bool = False, null: bool = False
) -> tuple[dict[int, str], str | None]:
    """The ``context.around`` lines of a hit's file before and after its ``line`` (the line
    ``path:line`` names), by line number, as grep -C writes context: ``path-LINE-text``, and
    that line's own text. Nothing and None for a JSONL record, or a file that changed since it
    was indexed. ``color``: path and line number in ripgrep's colours."""
    if (hit.doc_id != hit.path and not hit.message) or context.changed:
        return {}, None
    lines = context.text.split("\n")
    at = hit.line - context.first_line
    if not 0 <= at < len(lines):
        return {}, None
    path = _where(hit.path, color, null, "-")
    if hit.message:  # `Inbox #61-3-`: its message's lines
        path = path[:-1] + ("\0" if null else " ") + inert(f"#{hit.record_id}") + "-"
    first, last = max(0, at - context.around), min(len(lines), at + 1 + context.around)
    return {
        context.first_line + i: (
            f"{path}{_painted(str(context.first_line + i), _LINE, color)}-"
            + inert(_cut_long(lines[i]))
        )
        for i in range(first, last)
        if i != at
    }, lines[at]


def _context_groups(
    hits: Sequence[Hit],
    context: Callable[[Hit], Context],
    query: str,
    color: bool,
    null: bool = False,
) -> list[dict[int, str]]:
    """The hits' rows with their -C lines, by line number, in groups as grep -C prints them:
    a hit whose lines touch or overlap a group of the same file's joins it (each line once, a
    hit's row in place of a line of context), else it starts a group after the others."""
    groups: list[tuple[str | None, dict[int, str], set[int]]] = []
    for hit in hits:
        rows, own = context_lines(hit, context(hit), color=color, null=null)
        whole = bool(own and own.strip()) and len(own or "") <= MAX_CONTEXT_CHARS
        if whole:  # as grep -C: the hit's row is its line as written, between the others
            hit = replace(hit, text=own, start_line=hit.line, end_line=hit.line)
        row = hit_line(hit, query, color=color, whole=whole, null=null)
        if own is None:  # a record, a changed file: the hit's row alone
            groups.append((None, {hit.line: row}, {hit.line}))
            continue
        rows[hit.line] = row
        low, high = min(rows), max(rows)
        touching = [
            group
            for group in groups
            if group[0] == hit.doc_id and min(group[1]) <= high + 1 and low - 1 <= max(group[1])
        ]
        if not touching:
            groups.append((hit.doc_id, rows, {hit.line}))
            continue
        _, joined, hit_lines = touching[0]
        for _, other, other_hits in touching[1:]:  # this hit joins two groups before it
            _join(joined, hit_lines, other, other_hits)
        _join(joined, hit_lines, rows, {hit.line})
        groups = [group for group in groups if not any(group is t for t in touching[1:])]
    return [dict(sorted(rows.items())) for _, rows, _ in groups]


def _join(
    rows: dict[int, str], hit_lines: set[int], more: dict[int, str], more_hits: set[int]
) -> None:
    """``more`` rows into ``rows``: a hit's row in place of a line of context, never in place
    of an earlier hit's (two passages of one long line)."""
    for n, text in more.items():
        if n not in rows or (n in more_hits and n not in hit_lines):
            rows[n] = text
    hit_lines |= more_hits


def _context_parts(hit: Hit, context: Context) -> tuple[int, list[str], list[str], list[str]]:
    """The context's first line number, its lines before the passage's lines (``start_line``
    to ``end_line``), those lines, and the lines after them."""
    lines = context.text.split("\n")
    start = hit.start_line - context.first_line
    end = hit.end_line - context.first_line + 1
    if not 0 <= start < end <= len(lines):  # the passage alone (a changed file, a record)
        return context.first_line, [], lines, []
    return context.first_line, lines[:start], lines[start:end], lines[end:]


def print_results(
    console: Console,
    hits: Sequence[Hit],
    query: str,
    *,
    output: str,
    files_only: bool = False,
    left_out: Collection[str] = (),
    null: bool = False,
    show_cosine: bool = False,
    context: Callable[[Hit], Context] | None = None,
    own_lines: bool = False,
) -> None:
    """Hits on stdout as ``output`` says (table, lines, json or jsonl), or only their paths
    (less those ``left_out``); ``own_lines``: each line of lines output its hit's line alone."""
    stream = console.file
    color = uses_color(console)
    if files_only:
        # Every file that holds a match, copies of a passage too, as grep -l lists them.
        for path in dict.fromkeys(path for hit in hits for path in (hit.path, *hit.also)):
            if path in left_out:
                continue
            if null:  # the name as it is, newline and all, for xargs -0
                stream.write(_painted(_relative(path), _PATH, color) + "\0")
            else:
                stream.write(_painted(listed_path(path, stream), _PATH, color) + "\n")
    elif output == "json":
        stream.write(json_lines(stream, hits_json(hits)) + "\n")
    elif output == "jsonl":
        for hit in hits:
            stream.write(json_lines(stream, hits_json([hit])[1:-1]) + "\n")
    elif output == "lines":
        if context is None:
            for hit in hits:
                line = hit_line(hit, query, color=color, null=null, own_line=own_lines)
                stream.write(line + "\n")
        groups = _context_groups(hits, context, query, color, null) if context else ()
        for n, group in enumerate(groups):
            if n:
                stream.write("--\n")  # between groups of lines, as grep -C
            stream.write("".join(row + "\n" for row in group.values()))
    else:
        print_hits(console, hits, query, show_cosine=show_cosine)
        for hit in hits if context is not None else ():
            console.print()  # a blank line before each: a block ran into the next one's head
            print_passage(console, hit, context(hit), query)
    stream.flush()


def print_hits(
    console: Console, hits: Sequence[Hit], query: str, *, show_cosine: bool = False
) -> None:
    if not hits:
        console.print(Text("no matches", style="dim"))
        return
    table = hits_table(hits, query, show_cosine=show_cosine, width=console.width)
    if table is None:  # a table's passage column would be a few words wide
        for n, hit in enumerate(hits):
            if n:
                console.print()
            head = Text(f"{hit.rank}. {hit.score:.3f}", style="bold")
            if show_cosine:
                head.append(f" (cosine {hit.cosine:.3f})", style="dim")
            where = inert(location(hit))  # whole, on one line: on the next when it is long
            fits = len(head) + 2 + len(where) <= console.width
            head.append(("  " if fits else "\n") + where, style="cyan")
            if subject := _subject(hit):
                head.append(f"\n{subject}")
            if _shows_section(hit):
                head.append(f"\n{_marked(inert(_section(hit)))}", style="dim")
            for other in hit.also:
                head.append(f"\n   also in {display_path(other)}", style="dim")
            console.print(head, soft_wrap=True)
            console.print(passage_text(snippet(hit, query, SNIPPET_CHARS), query))
        return
    console.print(table)


def hits_json(hits: Sequence[Hit]) -> str:
    """One JSON array of hits with the documented keys, nothing else (``json_text``)."""
    return json_text([hit.to_json() for hit in hits])


def answer_json(query: str, hits: Sequence[Hit], error: str | None = None) -> str:
    """One REPL answer as a JSON object: the query and its hits (the keys of ``hits_json``),
    or the query and the error it met."""
    if error is not None:
        return json_text({"query": query, "error": error})
    return json_text({"query": query, "hits": [hit.to_json() for hit in hits]})


def json_text(value: object) -> str:
    """``value`` as JSON, UTF-8 text as it is; characters a terminal could act on are written as
    ``\\uXXXX`` escapes (JSON leaves DEL, C1 controls and bidi overrides raw), so the output is
    inert and parses to the same strings."""
    text = json.dumps(value, ensure_ascii=False)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_lines(stream: object, text: str) -> str:
    """JSON ``text`` as ``stream`` can write it: with \\uXXXX escapes for what its encoding
    lacks (LANG=C), parsing to the same strings, rather than "?" in their place."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return json.dumps(json.loads(text), ensure_ascii=True)
    return text


def print_passage(console: Console, hit: Hit, context: Context, query: str) -> None:
    """A whole passage with its surrounding lines, headed by ``path:line``."""
    # The file's lines as they are: never broken by rich (in a pipe, at 80 columns), a
    # terminal wraps what is longer than it.
    if hit.doc_id != hit.path and (not hit.message or context.changed):
        where = inert(f"{display_path(hit.path)} #{hit.record_id}")
        console.print(Text(where, style="bold cyan"), soft_wrap=True)
        console.print(passage_text(context.text, query), soft_wrap=True)
        return
    first, before, passage, after = _context_parts(hit, context)
    last = first + len(before) + len(passage) + len(after) - 1
    record = f" #{hit.record_id}" if hit.message else ""
    where = f"{display_path(hit.path)}{record}:{first}-{last}"
    console.print(Text(inert(where), style="bold cyan"), soft_wrap=True)
    for lines, style in ((before, "dim"), (passage, None), (after, "dim")):
        if not lines:
            continue
        shown = passage_text("\n".join(lines), query)
        if style:
            shown.stylize(style)
        console.print(shown, soft_wrap=True)
