"""An indexed document read back from the store: its text, stitched from its stored passages.

The servers give out document text only through here, so they can return nothing that is not
indexed: a name that is no indexed document (``../../etc/passwd``) is refused before anything
is read. Passages hold the document's text exactly and only whitespace falls between two of
them (``ingest/chunking.py``); a gap is filled with the newlines the line numbers call for,
then spaces, so offsets and line numbers are the indexed ones. Where the file is as indexed,
its own whitespace is taken instead (``as_written``), and its YAML front matter as written,
keys and all (the index holds some of its values alone), and nothing else of it.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from searchapp.errors import BadInputError
from searchapp.globs import from_display
from searchapp.ingest.formats.builder import HeadingPath
from searchapp.ingest.formats.markdown import front_matter_end, heading_sections
from searchapp.storage.indexed_paths import Filters, recorded_roots, root_filters, under
from searchapp.storage.schema import PENDING, record_id
from searchapp.storage.store import Store, places

LAST_LINE = 2**31 - 1  # "to the end" for a range without an end


class DocumentNotFoundError(BadInputError):
    """No indexed document has this doc_id or path."""


@dataclass(frozen=True)
class StoredDocument:
    """An indexed document's text, or the lines ``start_line..end_line`` of it."""

    doc_id: str
    path: str
    title: str | None
    text: str
    start_line: int
    end_line: int
    line_count: int  # lines in the whole document

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "path": self.path,
            "title": self.title,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "line_count": self.line_count,
            "text": self.text,
        }


def line_range(text: str, *, what: str = "line") -> tuple[int, int]:
    """``A-B``, ``A`` (one line), ``A-`` (to the end) or ``-B`` (from the start), 1-based and
    inclusive, as `serve`'s ``lines=`` and `search get --lines` take it (``what="page"``: as
    `search get --page` takes pages)."""
    first, dash, last = text.partition("-")
    if not dash:  # one line: "9" is 9-9
        last = first
    digits = (first, last)
    if not (first or last) or not all(
        not part or (part.isascii() and part.isdigit() and len(part) <= 18) for part in digits
    ):
        raise BadInputError(f"{_named(what)} ({text!r}) must be a {what} or a range such as 10-20")
    start = int(first) if first else 1
    end = int(last) if last else LAST_LINE
    if not 1 <= start <= end:  # named as given: "lines=0" was told "lines (0-0)"
        raise BadInputError(
            f"{_named(what)} ({text!r}) must be a range of {what} numbers from 1, first <= last"
        )
    return start, end


# A page as a PDF labels it, where it is no number: front matter's "iv", an appendix's "A-3".
_PAGE_LABEL = re.compile(r"[0-9A-Za-z][0-9A-Za-z.]{0,11}")

PageRange = tuple[int | str, int | str]
FIRST_PAGE = 0  # `--page -B`: from the first page, whatever it is labelled


def page_range(text: str) -> PageRange:
    """``A-B``, ``A``, ``A-`` or ``-B`` of pages, as `search get --page` takes them: numbers
    (``line_range``'s), or labels a PDF prints on its pages ("iv-vii"), matched in
    ``page_lines``."""
    first, dash, last = text.partition("-")
    if all(not part or part.isdigit() for part in (first, last)):
        start, end = line_range(text, what="page")
        return (FIRST_PAGE if dash and not first else start), end
    if not all(not part or _PAGE_LABEL.fullmatch(part) for part in (first, last)):
        raise BadInputError(f"page ({text!r}) must be a page or a range such as 10-20")
    return (first or FIRST_PAGE, (last if dash else first) or LAST_LINE)


def _named(what: str) -> str:
    """The option or parameter that takes them: lines (--lines, lines=), page (--page)."""
    return "lines" if what == "line" else what


_SLIDE = re.compile(r"slide ([0-9]+)")


def page_lines(
    store: Store, path_or_doc_id: str, pages: PageRange, *, labelled: bool = False
) -> tuple[int, int]:
    """The lines (1-based, inclusive) that pages ``first..last`` of a PDF, or slides of a deck,
    take in its indexed text: hits name a page (``p.300``) or a slide (``slide 3``), and
    ``--lines`` alone left it to be found by hand. ``labelled``: asked for as a PDF that labels
    its pages prints them, as a terminal's hits name them (``p.33`` of its 43rd page), not by
    their numbers from 1 (JSON's ``page``). Raises
    ``BadInputError`` for a document without pages, or pages it has no text on."""
    (document_id, doc_id, _, _), at_line, heading = _find_as_given(store, path_or_doc_id)
    if at_line is not None or heading:
        raise BadInputError(f"give {path_or_doc_id} or --page, not both")
    labels = store.page_labels([doc_id]).get(doc_id, ()) if labelled else ()
    first, last = (_page_of(doc_id, page, labels) for page in pages)
    starts: dict[int, int] = {}  # page -> its first line
    slides: dict[int, int] = {}  # a deck's slide (its section, "slide 3") -> its first line
    for start_line, page, section, stored in store.chunk_places(document_id):
        located = [
            (start_line, page, section),
            *((place.line, place.page, place.section) for place in places(stored)),
        ]
        for line, at, named in located:
            if at is not None and line < starts.get(at, LAST_LINE):
                starts[at] = line
            slide = _SLIDE.fullmatch(named or "")
            if slide and line < slides.get(int(slide.group(1)), LAST_LINE):
                slides[int(slide.group(1))] = line
    starts = starts or slides  # a student's `--page 3` of a deck whose hit said "slide 3"
    if not starts:
        raise BadInputError(
            f"{doc_id} has no pages (only PDFs and slide decks have); give --lines instead"
        )
    within = sorted(page for page in starts if first <= page <= last)
    if not within:
        asked, until = pages  # as given: labels where the PDF has them
        start = "" if asked == FIRST_PAGE else asked
        shown = f"{start}" if asked == until else f"{start}-{until if until != LAST_LINE else ''}"
        low, high = min(starts), max(starts)
        if labels:
            low, high = (labels[page - 1] if page <= len(labels) else page for page in (low, high))
        raise BadInputError(
            f"{doc_id} has no text on page {shown}; its pages with text are {low}-{high}"
        )
    after = [line for page, line in starts.items() if page > last]
    return starts[within[0]], min(after) - 1 if after else LAST_LINE


def _page_of(doc_id: str, page: int | str, labels: Sequence[str]) -> int:
    """The page (from 1) that ``page`` names: the one labelled so, else its number."""
    if page in (FIRST_PAGE, LAST_LINE):
        return max(page, 1)
    if labels and str(page) in labels:
        return labels.index(str(page)) + 1
    if isinstance(page, int):
        return page
    if labels:
        raise BadInputError(
            f"{doc_id} has no page labelled {page!r}; its pages are {labels[0]}-{labels[-1]}"
        )
    raise BadInputError(f"{doc_id} has no page labelled {page!r}; its pages are numbered")


def read_document(
    store: Store,
    path_or_doc_id: str,
    lines: tuple[int, int] | None = None,
    *,
    as_written: Callable[[str, str], str | None] | None = None,
) -> StoredDocument:
    """The document with this doc_id, else the one document at this path (made absolute).

    ``lines`` is a 1-based inclusive range; its end may pass the last line. Raises
    ``DocumentNotFoundError`` for anything that is not an indexed document. ``as_written(path,
    stitched)``: for a whole file without pages, its text with the whitespace between passages
    as the file has it (a leading tab, blank lines at its end), or None; taken only where it
    differs from the stitched text in whitespace alone.
    """
    if lines is not None:
        first, last = lines
        if first < 1 or last < first:
            shown = f"{first}-" if last == LAST_LINE else f"{first}-{last}"  # "to the end"
            raise BadInputError(
                f"lines ({shown}) must be a range of line numbers from 1, first <= last"
            )
    (document_id, doc_id, path, title), at_line, heading = _find_as_given(store, path_or_doc_id)
    if at_line is not None and lines is not None:
        raise BadInputError(f"give {path_or_doc_id} or --lines, not both")
    if at_line is not None:  # FILE:LINE: that line's definition, or passage
        lines = _passage_at(store, document_id, at_line)
    rows = store.rows(
        "SELECT start_char, end_char, start_line, text, page FROM chunks "
        "WHERE document_id = ? ORDER BY ordinal, id",
        (document_id,),
    )
    text = stitch([row[:4] for row in rows])
    if as_written is not None and doc_id == path and all(row[4] is None for row in rows):
        written = as_written(path, text)
        if written is not None and (
            written.split() == text.split() or _front_matter_apart(written, text)
        ):
            text = written
    all_lines = text.split("\n") if text else []  # an empty file has no lines, as wc -l says
    if len(all_lines) > 1 and all_lines[-1] == "":  # the last newline ends a line, as wc -l
        all_lines.pop()
    if at_line is not None and at_line <= len(all_lines):
        lines = _definition_at(path, all_lines, at_line) or lines
    if heading:  # its section, or the lines asked for within it (the rest of a long one)
        start, end = _section_lines(text, heading, f"{path_or_doc_id}: {doc_id}")
        if lines is not None and (lines[0] > end or lines[1] < start):
            raise BadInputError(
                f"lines {lines[0]}-{lines[1] if lines[1] != LAST_LINE else ''} are outside "
                f"the section {path_or_doc_id} names (lines {start}-{end})"
            )
        lines = (max(start, lines[0]), min(end, lines[1])) if lines else (start, end)
    first, last = lines or (1, len(all_lines))
    if lines and first > len(all_lines):
        raise BadInputError(f"line {first} is past the end of {doc_id} ({len(all_lines)} lines)")
    last = min(last, len(all_lines))
    return StoredDocument(
        doc_id=doc_id,
        path=path,
        title=title,
        text="\n".join(all_lines[first - 1 : last]),
        start_line=first,
        end_line=last,
        line_count=len(all_lines),
    )


def _front_matter_apart(written: str, stitched: str) -> bool:
    """Whether ``written`` is ``stitched`` but for its YAML front matter, which the index holds
    on as many lines as some of its values, without their keys (``formats.markdown``): `date:`,
    `attendees:` and `status:` were gone from `search get` of a note."""
    end = front_matter_end(written)
    if not end:
        return False
    cut = 0
    for _ in range(written.count("\n", 0, end)):
        cut = stitched.find("\n", cut) + 1
        if not cut:  # the stitched text ends in it: a note of front matter alone
            cut = len(stitched)
            break
    return written[end:].split() == stitched[cut:].split()


# An Obsidian wiki link as a note writes it: [[Note]], ![[Note]], [[Folder/Note|shown]],
# [[Note#Heading#Subheading]], [[Note#^block]] (the block is not looked for: the whole note).
_WIKI_LINK = re.compile(
    r"!?\[\[([^\[\]|#^]*)((?:#[^\[\]|#^]+)*)(?:#\^[^\[\]|]*)?(?:\|[^\[\]]*)?\]\]"
)


def find_document(store: Store, key: str) -> tuple[int, str, str, str | None]:
    """(row id, doc_id, path, title) of the document ``key`` names, as `search get` takes it
    (a path, `path:LINE`, a doc_id, a note's name or an Obsidian link); raises
    ``DocumentNotFoundError``."""
    return _find_as_given(store, key)[0]


def _find_as_given(
    store: Store, key: str
) -> tuple[tuple[int, str, str, str | None], int | None, list[str]]:
    """``_find``'s document for ``key`` as a hit prints it, the line it names: `path:LINE`
    (`:LINE:COLUMN` as rg's, and the `:` after it that a double click selects), or a JSONL
    record's `corpus.jsonl #id:`; None for a key that names no line; and the headings an
    Obsidian link names (`[[Note#Heading]]`), else []."""
    link = _WIKI_LINK.fullmatch(key.strip())
    if link:
        target = link.group(1).strip()
        if not target:
            raise BadInputError(f"{key} names no note, only a heading; give it: [[Note#Heading]]")
        headings = [part.strip() for part in link.group(2).split("#") if part.strip()]
        if len(headings) == 1 and headings[0].startswith("page="):  # a PDF's page, as Obsidian
            raise BadInputError(f"{key}: for a page of a PDF, give --page (MCP: page)")
        found = _find(store, target, link=True)
        return found, None, headings
    for whole in dict.fromkeys([key, key.removesuffix(":")]):  # a record's id may hold ":"
        try:
            return _find(store, whole), None, []
        except DocumentNotFoundError:
            pass
    named = _AT_LINE.fullmatch(key)
    try:
        if named is None:
            raise DocumentNotFoundError(key)
        found = _find(store, named.group(1))
    except DocumentNotFoundError:
        raise DocumentNotFoundError(_not_found(store, key)) from None
    at_line = int(named.group(2))
    if at_line < 1:
        raise BadInputError(f"{key}: lines are counted from 1, as a hit names them")
    return found, at_line, []


def _section_lines(text: str, headings: list[str], key: str) -> tuple[int, int]:
    """The lines (1-based, inclusive) of the section of ``text`` under the heading that
    ``headings`` end its path with, as Obsidian matches them (in any case; `A#C` is C anywhere
    below A), up to the next heading not below it, less the blank lines before that."""
    wanted = [_link_form(part) for part in headings]
    matter = front_matter_end(text)  # its closing "---" read as a heading's underline
    sections = heading_sections(re.sub(r"[^\n]", " ", text[:matter]) + text[matter:])
    for n, (start, section) in enumerate(sections):
        parts = [_link_form(part) for part in section.split(HeadingPath.SEPARATOR)]
        if parts[-1] != wanted[-1] or not _in_order(wanted[:-1], parts[:-1]):
            continue
        end = len(text)
        for later, below in sections[n + 1 :]:
            if not below.startswith(section + HeadingPath.SEPARATOR):
                end = later
                break
        end = start + len(text[start:end].rstrip())  # not the blank lines before the next
        return text.count("\n", 0, start) + 1, text.count("\n", 0, end) + 1
    raise BadInputError(f"{key} has no heading {' > '.join(headings)!r}")


# What Obsidian leaves out of a heading in a link to it: "## Q&A: notes" is [[Note#Q&A notes]].
_NOT_IN_LINKS = re.compile(r"[:#|^\[\]%\\]")


def _link_form(heading: str) -> str:
    """``heading`` as a link's part and a note's heading are compared: without what links
    leave out, blanks as one, in any case."""
    return " ".join(_NOT_IN_LINKS.sub(" ", heading).split()).casefold()


def _in_order(wanted: list[str], parts: list[str]) -> bool:
    """Whether ``wanted`` are among ``parts`` in that order (not necessarily adjacent)."""
    remaining = iter(parts)
    return all(part in remaining for part in wanted)


def _not_found(store: Store, key: str) -> str:
    """Why ``key`` names no indexed document, as far as it can be told (quoted as given: repr
    doubled a backslash). Only a file below an indexed folder is said to be one: a server's
    client learns nothing of other files (`/etc/passwd`)."""
    # Where it lies, links followed, as isfile follows them: through a link to /etc in an
    # indexed folder, the two answers told a client which of its files exist.
    real = os.path.realpath(os.path.expanduser(key)) if key else key
    roots = [os.path.realpath(root) for root in recorded_roots(store)]
    if key and under([real], roots) and os.path.isfile(real):  # a damaged PDF, said so
        reason = _left_out_by_walk(store, roots, real)
        # A default exclude's reason says how to index it; a secret's is not told how (an
        # agent given `search index .env` indexed live keys).
        if reason is not None and ("excluded by default" in reason or "secrets" in reason):
            return f"'{key}' is not indexed: {reason}"
        if reason is not None:
            return f"'{key}' is not indexed: {reason}; `search index {shlex.quote(key)}` indexes it"
        return (
            f"'{key}' is a file that is not indexed: `search index` skipped it (binary, "
            "damaged, generated) or has not run since it was made; `search index -v` names "
            "each file it skips, and why"
        )
    if key and under([real], roots) and os.path.isdir(real):  # a historian's `get notes`
        return (
            f"'{key}' is a folder; give one of its files (`search query --path "
            f"{shlex.quote(key.rstrip('/') + '/')}` searches those indexed)"
        )
    said = f"'{key}' is not an indexed document; give a doc_id or path from the search results"
    if key and not os.path.isabs(os.path.expanduser(key)) and ("/" in key or "." in key):
        # The server's folder, not the agent's; then each indexed folder.
        said += f" (a relative path is read from {os.getcwd()} and from each indexed folder)"
    return said


def _left_out_by_walk(store: Store, roots: list[str], real: str) -> str | None:
    """Why the walk of the indexed folder above ``real`` leaves it out, with the filters that
    folder was indexed with (``discovery.why_left_out``); None when it does not."""
    from searchapp.ingest.discovery import why_left_out  # the walk: only for this answer

    filters = {os.path.realpath(root): used for root, used in root_filters(store).items()}
    for root in sorted(roots, key=len, reverse=True):  # the innermost folder first
        if root == real or not os.path.isdir(root) or not under([real], [root]):
            continue
        used = filters.get(root, Filters())
        return why_left_out(
            Path(root),
            Path(real),
            include=used.include,
            exclude=used.exclude,
            default_excludes=used.default_excludes,
        )
    return None


# A path with a line number after it, and perhaps a column: what hits and grep print.
_AT_LINE = re.compile(r"(.+?):([0-9]+)(?::[0-9]+)?:?")  # `:LINE:` as a hit's line prints it


# A definition longer than this is not printed for FILE:LINE (a class of 2,000 lines around
# an attribute): the passage is.
MAX_DEFINITION_LINES = 400


def _definition_at(path: str, lines: list[str], line: int) -> tuple[int, int] | None:
    """The lines (1-based) of the innermost definition holding ``line`` in a source file, as
    `search get FILE:LINE` prints it: the passage holding a line inside a function was its
    signature and the first line of its docstring ("go to definition" gave 10 lines of it)."""
    from searchapp.ranking.outline import definition_span, is_code, is_javascript

    if not is_code(path):
        return None
    javascript = is_javascript(path)
    span = _documented(lines, line - 1, javascript) or definition_span(
        lines, line - 1, javascript=javascript
    )
    if span is None or span[1] - span[0] >= MAX_DEFINITION_LINES:
        return None
    return span[0] + 1, span[1] + 1


# A comment's line: what a definition's doc comment is written in (`// WithTx runs...`,
# `# Retries...`, `/** ... */`, `--`).
_COMMENT_LINE = re.compile(r"\s*(?://|#|/\*|\*|--|;)")


def _documented(lines: list[str], at: int, javascript: bool) -> tuple[int, int] | None:
    """Where ``at`` (0-based) is a line of the comment right above a definition, the comment
    and the definition: a Go developer's `search get tx.go:12` on the doc comment of `func
    WithTx` printed the file from its copyright line."""
    from searchapp.ranking.outline import definition_span

    if at >= len(lines) or not _COMMENT_LINE.match(lines[at]):
        return None
    below = at
    while below < len(lines) and _COMMENT_LINE.match(lines[below]):
        below += 1
    if below == len(lines) or not lines[below].strip():
        return None
    span = definition_span(lines, below, javascript=javascript)
    if span is None or span[0] != below:
        return None
    first = at
    while first > 0 and _COMMENT_LINE.match(lines[first - 1]):
        first -= 1
    return first, span[1]


def _passage_at(store: Store, document_id: int, line: int) -> tuple[int, int]:
    """The lines of the passage that holds ``line`` (the first of them, where passages
    overlap there), or that line alone between passages."""
    rows = store.rows(
        "SELECT start_line, end_line FROM chunks WHERE document_id = ? AND start_line <= ? "
        "ORDER BY start_line DESC, ordinal LIMIT 1",
        (document_id, line),
    )
    if not rows or None in rows[0] or rows[0][1] < line:
        return line, line
    return rows[0][0], rows[0][1]


def _find(store: Store, key: str, *, link: bool = False) -> tuple[int, str, str, str | None]:
    """(row id, doc_id, path, title) of the document ``key`` names: its doc_id, its path (a
    file, or a JSONL file of one record), or a record's own id that one file alone gives;
    else a relative path or a name (``_found_by_name``), as an Obsidian ``link`` names a note
    when it is one."""
    select = "SELECT id, doc_id, path, title FROM documents WHERE "
    rows = store.rows(select + "doc_id = ?", (key,))
    path, mark, record = key.rpartition("#")
    # A record named from here: `corpus.jsonl#12`, or `corpus.jsonl #12` as a hit prints it.
    for named in dict.fromkeys([path, path.rstrip(" ")]) if mark and path.strip() else ():
        doc_id = os.path.abspath(os.path.expanduser(named)) + "#" + record
        rows = rows or store.rows(select + "doc_id = ?", (doc_id,))
    if not rows and mark and path.strip() and not os.path.isabs(os.path.expanduser(path)):
        # `Work Log.enex #421` from another folder: the one file so named that has it
        end = "/" + path.strip().removeprefix("./") + "#" + record
        found = store.rows(select + "substr(doc_id, -?) = ? LIMIT 2", (len(end), end))
        rows = found if len(found) == 1 else rows
    if not rows and (shown := from_display(key)) is not None:
        return _find(store, shown)  # a name as a terminal shows it (a tab as "\t"), pasted
    if not rows:
        absolute = os.path.abspath(os.path.expanduser(key)) if key else key
        rows = store.rows(  # not a version still being stored beside it (schema.PENDING)
            select + "path = ? AND substr(doc_id, -?) != ? ORDER BY id LIMIT 2",
            (absolute, len(PENDING), PENDING),
        )
        if len(rows) > 1:
            raise BadInputError(
                f"{key!r} holds several indexed documents (a JSONL file's records, a "
                f"mailbox's messages); give one as the search results name it, '{key} #ID' "
                "(in a URL, '#' as %23)"
            )
    if not rows:  # a scan of the documents, only for an id that is no doc_id or path
        rows = store.rows(select + "doc_id = path || '#' || ? ORDER BY id LIMIT 3", (key,))
        if len(rows) > 1:
            paths = ", ".join(row[2] for row in rows[:2])
            raise BadInputError(
                f"records of several files have the id {key!r} ({paths}"
                f"{', ...' if len(rows) > 2 else ''}); give the doc_id of one: PATH#{key}"
            )
    if not rows and "…" in key and key.strip("…/"):
        rows = _found_by_end(store, key)
    if not rows and key.strip(" ./") and not os.path.isabs(os.path.expanduser(key)):
        rows = _found_by_name(store, key, link=link)
    if not rows:
        raise DocumentNotFoundError(_not_found(store, key))
    document_id, doc_id, path, title = rows[0]
    return int(document_id), doc_id, path, title


def _found_by_end(store: Store, key: str) -> list[tuple[Any, ...]]:
    """The one document whose path ends as ``key`` after its "…" and, where ``key`` has a
    start before it, begins as that start from here or holds it as folders (a path the hits
    table cut to fit, `…/Services_Agreement.docx`, `Clients/…/Lease v1.docx`, pasted: a
    paralegal's was "not an indexed document"); raises for one that several paths fit."""
    start, _, end = key.rpartition("…")
    start = start.replace("…", "")
    rows = store.rows(
        "SELECT id, doc_id, path, title FROM documents WHERE doc_id = path "
        "AND substr(path, -?) = ? ORDER BY path",
        (len(end), end),
    )
    if start:
        here = os.path.abspath(os.path.expanduser(start))
        rows = [row for row in rows if row[2].startswith(here) or f"/{start.strip('/')}/" in row[2]]
    if len(rows) > 1:
        paths = ", ".join(row[2] for row in rows[:2])
        raise BadInputError(
            f"{key!r} is the end of several indexed paths ({paths}"
            f"{', ...' if len(rows) > 2 else ''}); give more of the path"
        )
    return rows


def _folded(text: str) -> str:
    """``text`` as a name is typed: in any case, without accents, its dashes as hyphens."""
    from searchapp.ranking.query_words import fold

    return _dashed(fold(text))


def _dashed(text: str) -> str:
    """``text`` with its dashes as hyphens: `Interview – Globex` is typed `Interview - Globex`."""
    return text.translate(_DASHES)


_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-"})


def _titled(store: Store, key: str) -> list[tuple[Any, ...]]:
    """The documents (up to 6) whose title is ``key`` (in any case, accents and dashes
    aside); only those of about its length whose title holds its longest plain word are read
    (100,000 titles folded took a second)."""
    wanted = _folded(" ".join(key.split()))
    words = sorted(re.findall(r"[A-Za-z0-9]{3,}", key), key=len)
    held = f"%{words[-1]}%" if words else "%"
    titled = store.rows(
        "SELECT id, doc_id, path, title FROM documents WHERE title LIKE ? "
        "AND length(title) BETWEEN ? AND ? ORDER BY id",
        (held, len(key) - 4, len(key) + 4),  # accents and blanks aside, as long as typed
    )
    return [row for row in titled if _folded(" ".join(row[3].split())) == wanted][:6]


# What Notion adds to a page's title in an export's file names: `Q3 Roadmap 3f2a…60.md`.
_NOTION_ID = r" [0-9a-f]{32}(?:\.md|\.csv)?"


def _found_by_name(store: Store, key: str, *, link: bool = False) -> list[tuple[Any, ...]]:
    """The one document a relative ``key`` names from an indexed folder (`People/Anna.md` in a
    vault indexed whole), else by its name alone where one document has it (`Anna Weber.md`,
    or a note's `Anna Weber`): an agent's client runs the server from its own folder (`/`
    under a desktop client), where a relative path named nothing. A note may be named without
    its `.md`, and in another case where nothing has the name as given (as Obsidian's links
    name them), a Notion export's page by its title (`[[Q3 Roadmap]]`: its file is named
    `Q3 Roadmap 3f2a…60.md`), else any document by its title (an Evernote note's, a Keep
    note's, a message's subject; dashes as hyphens); an Obsidian ``link``'s `Folder/Note` is
    also the end of a path.
    Where several documents have the name, the same content, and all but one are copies by
    their paths (``selection.is_derived``), the one that is not; raises for a name several
    others have."""
    select = "SELECT id, doc_id, path, title FROM documents WHERE doc_id = path"
    relative = key[2:] if key.startswith("./") else key
    names = (relative, relative + ".md")  # a note's name (`Dr. Smith`) is its file's
    roots = recorded_roots(store)
    by_end = (link or "/" not in relative) and ".." not in relative.split("/")
    rows: list[tuple[Any, ...]] = []
    for name in names:  # `README` before `README.md`
        places = dict.fromkeys(os.path.normpath(os.path.join(root, name)) for root in roots)
        rows = [row for place in places for row in store.rows(select + " AND path = ?", (place,))]
        if rows:
            break
    for name in names if by_end and not rows else ():
        rows = store.rows(
            select + " AND substr(path, -?) = ? ORDER BY id LIMIT 6", (len(name) + 1, "/" + name)
        )
        if rows:
            break
    if not rows:  # in another case, else without accents, as Obsidian's links name notes
        every = store.rows(select + " ORDER BY id")
        for folding in (str.casefold, _folded):  # `Resume` and `Résumé` apart while they can be
            folded = [(row, folding(row[2])) for row in every]
            for name in names:
                places = {folding(os.path.normpath(os.path.join(root, name))) for root in roots}
                rows = [row for row, path in folded if path in places]
                end = "/" + folding(name)
                rows = rows or (
                    [row for row, path in folded if path.endswith(end)][:6] if by_end else []
                )
                if rows:
                    break
            if rows:
                break
        if not rows and by_end:  # a Notion export's page, named by its title alone
            page = re.compile(re.escape(_folded(relative)) + _NOTION_ID)
            rows = [row for row, path in folded if page.fullmatch(path.rsplit("/", 1)[-1])][:6]
        if not rows and by_end:  # a note, a message or a record by its title (`[[Bike lock]]`)
            rows = _titled(store, relative)
    if 1 < len(rows) < 6:  # all of them: copies (`Export (1)/`) left to their original
        from searchapp.ranking.selection import is_derived

        originals = [row for row in rows if not is_derived(row[2])]
        ids = [row[0] for row in rows]
        digests = store.rows(  # copies, not other documents whose folders read as copies'
            "SELECT DISTINCT sha256 FROM documents WHERE id IN (?, ?, ?, ?, ?)",
            tuple(ids + ids[:1] * (5 - len(ids))),
        )
        if len(originals) == 1 and len(digests) == 1 and digests[0][0]:
            rows = originals
    if len(rows) > 1:  # a record (two messages of one subject) as `NAME #N` names it
        shown = ", ".join(
            row[2] if row[1] == row[2] else f"{row[2]} #{record_id(row[1], row[2])}"
            for row in rows[:5]
        )
        raise BadInputError(
            f"{len(rows) if len(rows) < 6 else 'several'} indexed documents are named "
            f"{key!r} ({shown}{', ...' if len(rows) > 5 else ''}); give one as named here"
        )
    return rows


def stitch(chunks: list[tuple[int, int, int, str]], *, position: int = 0, line: int = 1) -> str:
    """The text that ``(start_char, end_char, start_line, text)`` passages, in order, were cut
    from, from offset ``position`` (on ``line``) on: overlaps joined once, gaps (whitespace)
    refilled with newlines, then spaces."""
    parts: list[str] = []  # ``position``: the offset reached, ``line``: the line it lies on
    for start, end, start_line, text in chunks:
        if end <= position:  # held within the passage before
            continue
        if start >= position:
            gap = start - position
            newlines = min(gap, max(0, start_line - line))
            piece = "\n" * newlines + " " * (gap - newlines) + text
        else:
            piece = text[position - start :]
        parts.append(piece)
        position, line = end, line + piece.count("\n")
    return "".join(parts)
