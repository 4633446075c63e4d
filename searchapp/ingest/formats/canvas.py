"""Obsidian canvases (``.canvas``, JSON Canvas 1.0): the words on the board, not its JSON.

A canvas is a JSON object of ``nodes`` (cards: ``text`` holds Markdown, ``file`` names a note
or an attachment, ``link`` a web page, ``group`` a labelled frame around others) and ``edges``
(arrows, perhaps labelled). Each card's text (less its ``data:`` URIs, as a note's), a file
card's path and a link card's address is a unit, in reading order (top to bottom, then left to
right), then each arrow's label, each located as the label of the group frame its card lies in;
the JSON itself (ids, coordinates, colours) was indexed as text, so a query found `"x": -340`
before any card. A card of the wrong shape (a list for its id, a coordinate past a float) is
read as far as it can be: one bad card does not cost the board.
"""

from __future__ import annotations

import json
import math
from typing import Any

from searchapp.ingest.decoding import NotTextError
from searchapp.ingest.formats.builder import TextBuilder
from searchapp.ingest.formats.markdown import cut_data_uris
from searchapp.ingest.formats.spans import LocatedText

CANVAS_SUFFIX = ".canvas"


def extract_canvas(text: str) -> LocatedText:
    """The cards' and arrows' words of a canvas; raises ``NotTextError`` for a file that is no
    canvas (not JSON, or no ``nodes`` list)."""
    try:
        canvas = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise NotTextError(f"damaged canvas: not valid JSON ({exc}); repair it") from None
    nodes = canvas.get("nodes") if isinstance(canvas, dict) else None
    if not isinstance(nodes, list):
        raise NotTextError("not an Obsidian canvas: no 'nodes' list; rename it if it is other JSON")
    cards = [node for node in nodes if isinstance(node, dict)]
    groups = [
        node for node in cards if node.get("type") == "group" and isinstance(node.get("label"), str)
    ]
    builder = TextBuilder()
    for card in sorted(cards, key=_reading_order):
        words = _words(card)
        if words:
            builder.add(words, section=_frame(card, groups))
    named = {card["id"]: card for card in cards if isinstance(card.get("id"), str)}
    edges = canvas.get("edges")
    for edge in edges if isinstance(edges, list) else ():
        if isinstance(edge, dict) and isinstance(edge.get("label"), str):
            start = named.get(edge["fromNode"]) if isinstance(edge.get("fromNode"), str) else None
            builder.add(edge["label"], section=_frame(start, groups) if start else None)
    return builder.build()


def _words(card: dict[str, Any]) -> str:
    """What a card shows: a text card's Markdown, a group's label, a file card's path (its
    note's name is what the board shows), a link card's address."""
    kind = card.get("type")
    field = _SHOWN.get(kind) if isinstance(kind, str) else None
    value = card.get(field) if field else None
    return cut_data_uris(value) if isinstance(value, str) else ""


_SHOWN = {"text": "text", "group": "label", "file": "file", "link": "url"}


def _number(card: dict[str, Any], key: str) -> float:
    """A card's coordinate or size; 0 for anything but a finite number (NaN sorted anywhere)."""
    value = card.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return 0.0
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        return 0.0
    return number if math.isfinite(number) else 0.0


def _reading_order(card: dict[str, Any]) -> tuple[float, float]:
    return _number(card, "y"), _number(card, "x")


def _frame(card: dict[str, Any], groups: list[dict[str, Any]]) -> str | None:
    """The label of the smallest group frame that holds ``card``'s centre (not itself)."""
    x = _number(card, "x") + _number(card, "width") / 2
    y = _number(card, "y") + _number(card, "height") / 2
    holding = [
        group
        for group in groups
        if group is not card
        and isinstance(group.get("label"), str)
        and _number(group, "x") <= x <= _number(group, "x") + _number(group, "width")
        and _number(group, "y") <= y <= _number(group, "y") + _number(group, "height")
    ]
    if not holding:
        return None
    smallest = min(holding, key=lambda g: _number(g, "width") * _number(g, "height"))
    return " ".join(smallest["label"].split()) or None
