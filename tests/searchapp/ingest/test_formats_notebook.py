"""Jupyter notebooks: markdown and code cells located as "cell N", of outputs only errors and
the start of what was printed."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from searchapp.ingest.decoding import NotTextError, load_documents
from searchapp.ingest.formats.spans import Span, locate

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4000).decode()  # ~1.4 MB


def notebook(cells: list[dict], **metadata) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": cells}


def markdown(source) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def code(source, outputs: list | None = None) -> dict:
    return {
        "cell_type": "code",
        "metadata": {},
        "execution_count": 1,
        "source": source,
        "outputs": outputs or [],
    }


CELLS = [
    markdown(
        ["# Lift analysis\n", "We fit the *lift curve*.\n", f"![plot](data:image/png;base64,{PNG})"]
    ),
    code(
        ["import numpy as np\n", "lift = np.polyfit(alpha, cl, 1)"],
        outputs=[
            {"output_type": "stream", "name": "stdout", "text": ["printed output\n"]},
            {"output_type": "display_data", "metadata": {}, "data": {"image/png": PNG}},
            {"output_type": "execute_result", "data": {"text/plain": ["array([0.1])"]}},
        ],
    ),
    # Text written for nbconvert: indexed too (a word only there was found by no query).
    {"cell_type": "raw", "metadata": {}, "source": "A raw cell about the okapi."},
    code(""),  # empty: counted, no text, no span
    code("print(lift)"),
]


def load_notebook(tmp_path: Path, content: dict | str, name: str = "analysis.ipynb"):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return load_documents(path)


def test_cells_are_located_units_and_images_are_never_read(tmp_path: Path) -> None:
    [document] = load_notebook(tmp_path, notebook(CELLS))
    assert document.title == "Lift analysis"
    assert document.text == (
        "# Lift analysis\nWe fit the *lift curve*.\n![plot]()"
        # What the last expression showed as text too: an ecologist's `az.summary` result
        # (`psi 0.451`) was found by nothing.
        "\n\nimport numpy as np\nlift = np.polyfit(alpha, cl, 1)\n\nprinted output\narray([0.1])"
        "\n\nA raw cell about the okapi."
        "\n\nprint(lift)"
    )
    assert PNG[:100] not in document.text
    text = document.text
    assert document.spans == (
        Span(0, section="cell 1"),
        Span(text.index("import numpy"), section="cell 2"),
        Span(text.index("A raw cell"), section="cell 3"),
        Span(text.index("print(lift)"), section="cell 5"),  # 1-based over every cell
    )
    assert locate(document.spans, text.index("polyfit")) == (None, "cell 2")


def test_a_notebook_is_told_by_content_and_its_metadata_title_wins(tmp_path: Path) -> None:
    content = notebook([code("x = 1")], title="Set in metadata")
    [document] = load_notebook(tmp_path, content, name="export.json")
    assert (document.title, document.text) == ("Set in metadata", "x = 1")


def test_nbformat_3_worksheets(tmp_path: Path) -> None:
    content = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {"name": ""},
        "worksheets": [
            {
                "cells": [
                    {"cell_type": "heading", "level": 1, "source": ["Old notebook"]},
                    {"cell_type": "code", "input": ["a = 1\n", "b = 2"], "outputs": []},
                ]
            }
        ],
    }
    [document] = load_notebook(tmp_path, content)
    assert document.text == "Old notebook\n\na = 1\nb = 2"
    assert [span.section for span in document.spans] == ["cell 1", "cell 2"]
    assert document.title == "Old notebook"  # its level-1 heading cell, as a "#" line in 4


def test_json_that_only_mentions_nbformat_is_plain_text(tmp_path: Path) -> None:
    text = '{"note": "the key \\"nbformat\\" marks notebooks"}'
    [document] = load_notebook(tmp_path, text, name="config.json")
    assert (document.text, document.spans) == (text, ())


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"cells": [', "damaged notebook: not valid JSON"),
        ('{"cells": []}', "not a Jupyter notebook: no 'cells' list and 'nbformat' number"),
        # Python's advice (sys.set_int_max_str_digits) was the reason given
        ('{"nbformat": ' + "9" * 5000 + ', "cells": []}', r"\(a number of thousands of digits\)"),
    ],
)
def test_a_broken_ipynb_is_a_skip(tmp_path: Path, content: str, reason: str) -> None:
    with pytest.raises(NotTextError, match=reason):
        load_notebook(tmp_path, content)


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_an_empty_ipynb_is_an_empty_document_as_an_empty_pdf_is(tmp_path: Path, content) -> None:
    # A notebook not saved yet: "damaged notebook: not valid JSON", where an empty .pdf, .docx
    # or .md gives one empty document.
    [document] = load_notebook(tmp_path, content)
    assert (document.text.strip(), document.spans) == ("", ())
    (tmp_path / "empty.pdf").write_bytes(b"")
    [pdf] = load_documents(tmp_path / "empty.pdf")
    assert (pdf.text, pdf.spans) == ("", ())


def test_a_cells_error_and_the_start_of_its_printed_output_are_read(tmp_path: Path) -> None:
    # A data scientist's trial: `-F "Tried to allocate"` and `-F "valid AUC 0.8432"` found
    # nothing; a pasted traceback only the note that mentioned it.
    cells = [
        code(
            "train(model)",
            outputs=[
                {"output_type": "stream", "name": "stdout", "text": "epoch 1\rEpoch 1 done\n"},
                {"output_type": "stream", "name": "stdout", "text": ["valid AUC 0.8432\n"]},
                {"output_type": "stream", "name": "stderr", "text": "a warning to stderr\n"},
                {"output_type": "stream", "name": "stdout", "text": "x" * 6000 + "\n"},
                {
                    "output_type": "error",
                    "ename": "OutOfMemoryError",
                    "evalue": "CUDA out of memory. \x1b[31mTried to allocate\x1b[0m 2.00 GiB",
                    "traceback": ["\x1b[0;31m---------\x1b[0m", "frames..."],
                },
            ],
        ),
        code("print('a' * 5000)", outputs=[{"output_type": "stream", "text": "b\n" * 2000}]),
    ]
    [document] = load_notebook(tmp_path, notebook(cells))
    text = document.text
    assert "Epoch 1 done\nvalid AUC 0.8432" in text and "epoch 1" not in text
    assert "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB" in text
    assert "stderr" not in text and "xxxx" not in text  # stderr, a line past the limit: out
    assert "frames" not in text and "\x1b" not in text  # the traceback's frames: out
    assert text.count("b\n") <= 500  # the start of a long output alone


def test_a_plot_s_text_stand_ins_are_not_read(tmp_path: Path) -> None:
    # A reviewer's: `plt.plot(...)` indexed "[<matplotlib.lines.Line2D at 0x7f3a2c1d2e50>]" and
    # "<Figure size 640x480 with 1 Axes>" (an image's stand-in).
    line = {"text/plain": ["[<matplotlib.lines.Line2D at 0x7f3a2c1d2e50>]"]}
    figure = {"image/png": "iVBORw0KGgo=", "text/plain": ["<Figure size 640x480 with 1 Axes>"]}
    cell = code(
        "plt.plot(x, y)\nsummary",
        outputs=[
            {"output_type": "execute_result", "data": line},
            {"output_type": "display_data", "metadata": {}, "data": figure},
            {"output_type": "execute_result", "data": {"text/plain": ["psi 0.451"]}},
        ],
    )
    [document] = load_notebook(tmp_path, notebook([cell]))
    assert document.text == "plt.plot(x, y)\nsummary\n\npsi 0.451"
