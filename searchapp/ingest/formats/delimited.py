"""CSV and TSV files: their text as it is, every row under its header's column names.

A row's values say nothing of what they are ("D1047,Ada Byrne,520.00,2024-03-04"): a hit on
one showed no column names, and `search get` printed five rows without them (a data analyst's
trial). Where the first line reads as a header (names, none a number, a date or empty, no two
alike), the whole file is one section named by its columns ("donor_id, name, amount, date"),
which the hits show beside each row (JSON ``section``). The text is not changed: a hit's line
is the file's line, as `vim -q` and `search get` read it.
"""

from __future__ import annotations

import re

from searchapp.ingest.formats.spans import LocatedText, Span

DELIMITED_SUFFIXES = {".csv": "", ".tsv": "\t", ".tab": "\t", ".psv": "|"}  # "": sniffed
_DELIMITERS = ",;\t|"
MAX_HEADER_CHARS = 2_000  # a longer first line is data (a dump), not names
MAX_NAME_CHARS = 64  # a column's name is a few words
MAX_SECTION_CHARS = 200  # the columns as the hits show them, cut after whole names
SAMPLE_ROWS = 21  # the header and the rows below it read to tell whether it is one
SAMPLE_CHARS = 64 * 1024
# A column's name as exports write them: snake_case or camelCase, or a word that names one.
_COLUMN_NAME = re.compile(
    r"_|[a-z][A-Z]|\b(?i:id|name|e-?mail|date|time|type|status|notes?|description|amount|total"
    r"|count|city|country|phone|address|price|qty|quantity|code|category|comment|title)\b"
)
# A value, not a name: a number (1,250.00, -3, 12%), a date or a time.
_VALUE = re.compile(r"[-+]?[$€£]?\d[\d.,:/ -]*%?|\d{4}-\d\d-\d\d.*")


def is_delimited(path: str) -> bool:
    """Whether ``path`` names a CSV or TSV file (compressed or not), a row a line."""
    name = path.lower()
    for suffix in (".gz", ".bz2", ".xz", ".zst"):
        name = name.removesuffix(suffix)
    return name.endswith(tuple(DELIMITED_SUFFIXES))


def extract_delimited(text: str, suffix: str) -> LocatedText:
    """The file's text, under one section naming its columns where its first line is a
    header; a file whose first line is data has no section."""
    first = text.split("\n", 1)[0].rstrip("\r").lstrip("\ufeff")
    # an open quote: a name running on past its line is no header (`"long⏎name"`: "long")
    if not first.strip() or len(first) > MAX_HEADER_CHARS or first.count('"') % 2:
        return LocatedText("", text)
    import csv  # only when one is read: a query imports this module for ``is_delimited``

    delimiter = DELIMITED_SUFFIXES.get(suffix) or _sniffed(first)
    sample = text.lstrip("\ufeff")[:SAMPLE_CHARS].splitlines(keepends=True)[:SAMPLE_ROWS]
    try:
        names, *rows = list(csv.reader(sample, delimiter=delimiter))
    except (csv.Error, ValueError):  # a NUL, a field over the csv module's limit
        return LocatedText("", text)
    names = [" ".join(name.split()) for name in names]
    if len(text.lstrip("\ufeff")) > sum(map(len, sample)) and rows:
        rows = rows[:-1]  # the last row read may be cut short by the sample's end
    if not _is_header(names, rows):
        return LocatedText("", text)
    return LocatedText("", text, (Span(0, section=_columns(names)),))


def _sniffed(line: str) -> str:
    """The delimiter of a header line: the one of ``_DELIMITERS`` it holds most of (a
    European export's ";" before a "," in a name)."""
    counts = {delimiter: line.count(delimiter) for delimiter in _DELIMITERS}
    return max(counts, key=lambda delimiter: counts[delimiter])


def _is_header(names: list[str], rows: list[list[str]]) -> bool:
    """Whether a first row's cells read as column names: two or more, none empty, a number,
    a date or long, no two alike; and, where rows follow, named as columns are (`donor_id`,
    `email`) or above a column of numbers or dates, or of values of one length, that they
    are not. A list of names and places ("Ada Byrne,London,teacher") names no columns (a
    reviewer's: its first row was the section of every other)."""
    if len(names) < 2 or len({name.casefold() for name in names}) < len(names):
        return False
    if not all(
        name and len(name) <= MAX_NAME_CHARS and not _VALUE.fullmatch(name) for name in names
    ):
        return False
    if len(rows) < 2:  # too few to tell by: its names alone
        return True
    for column, name in enumerate(names):
        if _COLUMN_NAME.search(name):
            return True
        cells = [row[column].strip() for row in rows if column < len(row) and row[column].strip()]
        if not cells:
            continue
        if sum(bool(_VALUE.fullmatch(cell)) for cell in cells) * 2 > len(cells):
            return True  # a column of numbers or dates, under a name
        lengths = {len(cell) for cell in cells}
        if len(cells) > 2 and len(lengths) == 1 and len(name) not in lengths:
            return True  # codes of one length (SKU-3000, DE, Y/N), under a name
    return False


def _columns(names: list[str]) -> str:
    """The columns as a section: their names, ", " between, cut after the last whole name
    that fits in ``MAX_SECTION_CHARS`` ("…" then)."""
    shown = ""
    for name in names:
        joined = f"{shown}, {name}" if shown else name
        if len(joined) > MAX_SECTION_CHARS:
            return f"{shown}, …"
        shown = joined
    return shown
