"""HTML reduced to its visible text: paragraphs and block elements become blank-line-separated
paragraphs, list items and table rows lines, scripts and styles vanish; the title is kept."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

logger = logging.getLogger(__name__)

_INVISIBLE_TAGS = frozenset({"script", "style", "head", "template", "noscript"})
_PARAGRAPH_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "details",
        "dialog",
        "div",
        "dl",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "ul",
    }
)
_LINE_TAGS = frozenset({"dd", "dt", "li", "option", "tr", "caption"})
_CELL_TAGS = frozenset({"td", "th"})
_BLANK_LINES = re.compile(r"\n{3,}")


def looks_like_html(text: str) -> bool:
    """Whether text starts like an HTML page (``<!doctype html`` or ``<html``)."""
    head = text[:512].lstrip().lower()
    return head.startswith(("<!doctype html", "<html"))


def html_to_text(html: str) -> tuple[str, str]:
    """(title, visible text) of an HTML page: no scripts, styles or head; block elements on
    their own lines (blank lines between paragraphs); entities decoded; spaces collapsed."""
    parser = _VisibleText()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError) as exc:  # its few hard failures: keep what it read
        logger.warning("HTML parsing stopped early (%s); keeping the text read so far", exc)
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return " ".join("".join(parser.title_parts).split()), text


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._hidden: dict[str, int] = {}  # open invisible elements by tag
        self._in_title = 0
        self._in_pre = 0
        self._seen_title = False
        self._pending = ""  # the strongest break asked for since the last text: "", " ", "\n"...

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._hidden.pop("head", None)  # <head> is often left open
        if tag in _INVISIBLE_TAGS:
            self._hidden[tag] = self._hidden.get(tag, 0) + 1
        elif tag == "title":
            self._in_title += 1
        elif tag == "pre":
            self._in_pre += 1
        self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._hidden.get(tag):
            self._hidden[tag] -= 1
            if not self._hidden[tag]:
                del self._hidden[tag]
        elif tag == "title" and self._in_title:
            self._in_title -= 1
            self._seen_title = True
        elif tag == "pre" and self._in_pre:
            self._in_pre -= 1
        if tag != "br":  # </br> is read as <br> by browsers, but one is enough here
            self._break(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)  # <br/>; a self-closed <script/> hides nothing

    def handle_data(self, data: str) -> None:
        if self._in_title and not self._seen_title:
            self.title_parts.append(data)
            return
        if self._hidden:
            return
        if not self._in_pre:
            data = data.replace("\n", " ")
        if data.strip():
            self.parts.append(self._pending)
            self._pending = ""
        self.parts.append(data)

    def _break(self, tag: str) -> None:
        if self._hidden:
            return
        if tag == "br":  # each <br> counts
            self.parts.append(self._pending + "\n")
            self._pending = ""
        elif tag in _PARAGRAPH_TAGS:
            self._pending = "\n\n"
        elif tag in _LINE_TAGS:
            self._pending = max(self._pending, "\n", key=len)
        elif tag in _CELL_TAGS:
            self._pending = max(self._pending, " ", key=len)


# -- JSONL corpora ---------------------------------------------------------------------------
