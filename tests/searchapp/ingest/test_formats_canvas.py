"""Obsidian canvases: the cards' words in reading order, located by their group frame."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from searchapp.ingest.decoding import NotTextError, load_documents
from searchapp.ingest.formats.spans import locate

BOARD = {
    "nodes": [
        {"id": "g1", "type": "group", "x": 0, "y": 0, "width": 800, "height": 600,
         "label": "Project Alpha"},
        # Listed out of reading order: read top to bottom, then left to right.
        {"id": "t2", "type": "text", "x": 40, "y": 300, "width": 300, "height": 100,
         "text": "Ship the **relay** by Friday", "color": "4"},
        {"id": "t1", "type": "text", "x": 40, "y": 60, "width": 300, "height": 100,
         "text": "# Goals\n\nCut mail latency in half"},
        {"id": "f1", "type": "file", "x": 400, "y": 60, "width": 300, "height": 200,
         "file": "People/Anna Weber.md"},
        {"id": "l1", "type": "link", "x": 900, "y": 900, "width": 300, "height": 200,
         "url": "https://example.org/postfix-relay"},
    ],
    "edges": [
        {"id": "e1", "fromNode": "t1", "toNode": "t2", "label": "blocks the launch"},
        {"id": "e2", "fromNode": "t2", "toNode": "f1"},
    ],
}  # fmt: skip


def load_canvas(tmp_path: Path, content: dict | str, name: str = "board.canvas"):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return load_documents(path)


def test_a_canvas_is_its_cards_words_not_its_json(tmp_path: Path) -> None:
    # An Obsidian user's canvas was indexed as its JSON: ids, coordinates and colours.
    [document] = load_canvas(tmp_path, BOARD)
    units = document.text.split("\n\n")
    assert units == [
        "Project Alpha",
        "# Goals",
        "Cut mail latency in half",
        "People/Anna Weber.md",
        "Ship the **relay** by Friday",
        "https://example.org/postfix-relay",
        "blocks the launch",
    ]
    for noise in ('"x"', "color", "g1", "fromNode"):
        assert noise not in document.text
    at = document.text.index
    assert locate(document.spans, at("Cut mail")).section == "Project Alpha"
    assert locate(document.spans, at("blocks the")).section == "Project Alpha"
    assert locate(document.spans, at("https://")).section is None  # outside the frame


def test_other_json_named_canvas_is_a_skip_and_an_empty_one_empty(tmp_path: Path) -> None:
    with pytest.raises(NotTextError, match="damaged canvas: not valid JSON"):
        load_canvas(tmp_path, '{"nodes": [')
    with pytest.raises(NotTextError, match="not an Obsidian canvas: no 'nodes' list"):
        load_canvas(tmp_path, {"cards": []})
    [document] = load_canvas(tmp_path, "")
    assert document.text == ""
    [document] = load_canvas(tmp_path, {"nodes": [], "edges": []})
    assert document.text == ""
    # JSON not named .canvas stays text.
    [document] = load_canvas(tmp_path, BOARD, name="board.json")
    assert '"fromNode"' in document.text


def test_a_card_of_the_wrong_shape_does_not_cost_the_board(tmp_path: Path) -> None:
    # A reviewer's: a list for an id, a 400-digit coordinate and NaN skipped the whole file.
    text = (
        '{"nodes": ['
        '{"id": ["x"], "type": "text", "text": "first card", "x": 0, "y": NaN},'
        '{"id": "b", "type": ["text"], "text": "no type"},'
        '{"id": "c", "type": "text", "text": "huge card", "x": 0, "y": ' + "9" * 400 + "},"
        '{"id": "d", "type": "text", "text": "last card ![i](data:image/png;base64,'
        + "A"
        * 80
        + ')", "x": 0, "y": 50}'
        '], "edges": [{"fromNode": {"id": 1}, "toNode": "d", "label": "an arrow"}]}'
    )
    [document] = load_canvas(tmp_path, text)
    assert document.text.split("\n\n") == [
        "first card",
        "huge card",
        "last card ![i]()",
        "an arrow",
    ]
