"""Jupyter notebooks (``.ipynb``, nbformat 3 and 4): the source of markdown, code and raw cells,
each located as ``"cell N"`` (1-based, counting every cell as Jupyter shows them). Of a code
cell's outputs, its error (`KeyError: 'churn'`, `OutOfMemoryError: CUDA out of memory...`)
and the first ``MAX_PRINTED_CHARS`` of what it printed (`valid AUC 0.8432`) and of what its
last expression showed as text (a model summary's `psi 0.451`: an ecologist's result was
found by nothing), after its source (a data scientist's pasted error found only a note about
it); never images or HTML. ``data:`` URIs (base64 images pasted into markdown) are
cut out of the sources, as are lines of generated text (a cell holding a 5,000-number list on
one line), left empty: the rest of the notebook was skipped with them as generated."""

from __future__ import annotations

import json
import re
from typing import Any

from searchapp.ingest.decoding import NotTextError, is_generated_line, normalise
from searchapp.ingest.formats.builder import TextBuilder
from searchapp.ingest.formats.markdown import cut_data_uris
from searchapp.ingest.formats.spans import LocatedText

NOTEBOOK_SUFFIX = ".ipynb"
# "heading": nbformat 3; "raw": text written for nbconvert (LaTeX, reStructuredText), the
# author's own words as much as a markdown cell's.
INDEXED_CELL_TYPES = frozenset({"markdown", "code", "heading", "raw"})
_MARKDOWN_TITLE = re.compile(r"^ {0,3}# +(.+?)[ #]*$", re.MULTILINE)


def might_be_notebook(text: str) -> bool:
    """A cheap test before parsing: a JSON object that mentions ``nbformat``."""
    return text.lstrip()[:1] == "{" and '"nbformat"' in text


def extract_notebook(text: str, *, required: bool) -> LocatedText | None:
    """The cells of a notebook; None when ``text`` is not one (``required``: raise
    ``NotTextError`` instead, for a file named ``.ipynb``)."""
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError) as exc:
        if not required:
            return None
        # Python's own advice for a number of over 4,300 digits (set_int_max_str_digits) is
        # none of the reader's: the number is what the notebook holds wrong.
        why = "a number of thousands of digits" if "int_max_str_digits" in str(exc) else exc
        raise NotTextError(f"damaged notebook: not valid JSON ({why}); repair it") from None
    cells = _cells(notebook)
    if cells is None:
        if not required:
            return None
        raise NotTextError(
            "not a Jupyter notebook: no 'cells' list and 'nbformat' number; rename it if it "
            "is other JSON"
        )
    builder = TextBuilder()
    title = ""
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") not in INDEXED_CELL_TYPES:
            continue
        source = cut_data_uris(_source(cell))
        if any(map(is_generated_line, source.split("\n"))):
            source = "\n".join("" if is_generated_line(x) else x for x in source.split("\n"))
        if not title and cell.get("cell_type") == "heading":  # nbformat 3: level, no "#"
            title = " ".join(source.split()) if cell.get("level") == 1 else ""
        elif not title and cell.get("cell_type") == "markdown":
            match = _MARKDOWN_TITLE.search(source)
            title = match.group(1) if match else ""
        printed = _printed(cell) if cell.get("cell_type") == "code" else ""
        builder.add(source + ("\n\n" + printed if printed else ""), section=f"cell {number}")
    metadata = notebook.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("title"), str):
        title = metadata["title"]
    return builder.build(title=title)


MAX_PRINTED_CHARS = 1_000  # of a cell's printed output: a training loop's log is not read whole
# An object shown by its address (`[<matplotlib.lines.Line2D at 0x7f3a2c1d2e50>]`): no text.
_OBJECT_AT = re.compile(r"<[\w.]+(?: object)? at 0x[0-9a-f]+>")


def _printed(cell: dict[str, Any]) -> str:
    """A code cell's error (its name and message) and the start of what it printed to stdout,
    as a terminal shows them (colours and progress bars' redraws gone)."""
    printed, errors = [], []
    outputs = cell.get("outputs")
    for output in outputs if isinstance(outputs, list) else ():
        if not isinstance(output, dict):
            continue
        kind = output.get("output_type")
        text: Any = None
        if kind == "stream" and output.get("name", "stdout") == "stdout":
            text = output.get("text", "")
        elif kind in ("execute_result", "display_data", "pyout"):  # pyout: nbformat 3
            data = output.get("data") if kind != "pyout" else output
            if isinstance(data, dict) and not any(str(key).startswith("image/") for key in data):
                text = data.get("text/plain", data.get("text"))  # a plot's: "<Figure size...>"
        if text is not None:
            if isinstance(text, list):  # one part null: not the whole notebook skipped
                text = "".join(part for part in text if isinstance(part, str))
            printed.append((text if isinstance(text, str) else "") + "\n" * (kind != "stream"))
        elif kind in ("error", "pyerr"):  # pyerr: nbformat 3
            name, value = output.get("ename", ""), output.get("evalue", "")
            errors.append(normalise(f"{name}: {value}" if value else str(name)).strip())
    # A progress bar's redraws: the line as it ended.
    text = "\n".join(line.rsplit("\r", 1)[-1] for line in "".join(printed).split("\n"))
    text = normalise(text).strip()
    if len(text) > MAX_PRINTED_CHARS:
        text = text[:MAX_PRINTED_CHARS].rsplit("\n", 1)[0]
    text = "\n".join(
        "" if is_generated_line(line) or _OBJECT_AT.search(line) else line
        for line in text.split("\n")
    )
    return "\n".join(part for part in (text.strip(), *errors) if part)


def _cells(notebook: Any) -> list[Any] | None:
    if not isinstance(notebook, dict) or not isinstance(notebook.get("nbformat"), int):
        return None
    if isinstance(notebook.get("cells"), list):  # nbformat 4
        return notebook["cells"]
    worksheets = notebook.get("worksheets")  # nbformat 3: cells in worksheets
    if isinstance(worksheets, list):
        return [
            cell
            for sheet in worksheets
            if isinstance(sheet, dict) and isinstance(sheet.get("cells"), list)
            for cell in sheet["cells"]
        ]
    return None


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", cell.get("input", ""))  # "input": code cells in nbformat 3
    if isinstance(source, list):
        return "".join(part for part in source if isinstance(part, str))
    return source if isinstance(source, str) else ""
