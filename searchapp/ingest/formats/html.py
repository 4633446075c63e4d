"""HTML reduced to its visible text: paragraphs and block elements become blank-line-separated
paragraphs, list items and table rows lines, scripts and styles vanish; the title is kept."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

from searchapp.ingest.marks import without_marks

logger = logging.getLogger(__name__)

_INVISIBLE_TAGS = frozenset({"script", "style", "head", "template", "noscript"})
# A site's menus and its footer, on every page it has: a saved Wikipedia page's passages began
# "Main page Contents Current events", and every page of a docs site matched its menu's words.
# Read only inside an <article> or <main> (an article's footer holds its byline and tags), and
# for a page that has no other text (a page of links).
_BOILERPLATE_TAGS = frozenset({"nav", "footer"})
_BOILERPLATE_ROLES = frozenset({"navigation", "banner", "contentinfo", "search"})
# Elements whose end tag may not be left out: a menu marked by its role is one of them.
_CLOSED_TAGS = frozenset(
    {"div", "nav", "header", "footer", "aside", "section", "ul", "ol", "table", "form", "menu"}
)
# Elements that have no end tag: never open.
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
    | {"track", "wbr", "param", "keygen"}
)
_CONTENT_TAGS = frozenset({"article", "main"})
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
# Items of a row that CSS lays out apart (a menu's links, a form's buttons): one that follows
# another with no text between is a word apart ("Home" "Pricing", read "HomePricing").
_ITEM_TAGS = frozenset({"a", "button"})
_BLANK_LINES = re.compile(r"\n{3,}")
_BREAK_RANK = ("", " ", "\n", "\n\n")  # the breaks asked for between texts, weakest first
_NEWLINE_REFERENCE = re.compile(r"&(?:#0*10|#[xX]0*[aA]|NewLine);?")


def looks_like_html(text: str) -> bool:
    """Whether text starts like an HTML page (``<!doctype html`` or ``<html``)."""
    head = text[:512].lstrip().lower()
    return head.startswith(("<!doctype html", "<html"))


UNCLOSED_TAGS = 64  # more "<" than this that nothing closes: they are made text


def unclosed_as_text(html: str) -> str:
    """``html`` with the "<" that nothing after them can close written ``&lt;`` (text), where
    there are many: those after the last ">", and the "<!--" after the last "-->". Python's
    parser read the rest of the page again at each one (80,000 "<a " in a 240 KB page took 9
    minutes). Any "<" that something closes is left as it was."""
    end = html.rfind(">") + 1
    if html.count("<", end) > UNCLOSED_TAGS:
        html = html[:end] + html[end:].replace("<", "&lt;")
    end = html.rfind("-->") + 3 if "-->" in html else 0
    if html.count("<!--", end) > UNCLOSED_TAGS:
        html = html[:end] + html[end:].replace("<!--", "&lt;!--")
    return html


def html_to_text(html: str, *, source_lines: bool = False) -> tuple[str, str]:
    """(title, visible text) of an HTML page: no scripts, styles or head; block elements on
    their own lines (blank lines between paragraphs); entities decoded; spaces collapsed.

    ``source_lines``: each line of the text is the visible text of the same line of ``html``
    (hidden lines empty; elements that start on the line of another are kept on it), so that
    a hit's ``path:line`` is the file's line, as grep and ``vim -q`` count them."""
    if source_lines:  # a newline written as a reference is not a line of the file
        html = _NEWLINE_REFERENCE.sub(" ", html)
    html = unclosed_as_text(html)
    parser = _parsed(html, source_lines, _BOILERPLATE_TAGS)
    if not "".join(parser.parts).strip():
        parser = _parsed(html, source_lines, frozenset())
    visible = without_marks("".join(parser.parts))  # `&#8203;` read as a mark
    lines = (" ".join(line.split()) for line in visible.split("\n"))
    if source_lines:
        text = "\n".join(lines).rstrip()
    else:
        text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return " ".join("".join(parser.title_parts).split()), text


def _parsed(html: str, source_lines: bool, hidden: frozenset[str]) -> _VisibleText:
    """``html`` read, elements of the ``hidden`` tags and ``_INVISIBLE_TAGS`` left out."""
    parser = _VisibleText(source_lines=source_lines, hidden=hidden)
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError) as exc:  # its few hard failures: keep what it read
        logger.warning("HTML parsing stopped early (%s); keeping the text read so far", exc)
    return parser


# What <head> may hold; any other element closes a <head> left open (HTML5 lets </head> and
# <body> out, and the page's text was all taken for the head's).
_HEAD_TAGS = frozenset(
    {"head", "html", "title", "meta", "link", "style", "script", "base", "noscript", "template"}
)


class _VisibleText(HTMLParser):
    def __init__(self, *, source_lines: bool = False, hidden: frozenset[str] = frozenset()) -> None:
        super().__init__(convert_charrefs=True)
        self._invisible = _INVISIBLE_TAGS | hidden
        self._content = 0  # open <article> and <main> elements
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._hidden: dict[str, int] = {}  # open invisible elements by tag
        self._in_title = 0
        self._in_pre = 0
        self._seen_title = False
        self._pending = ""  # the strongest break asked for since the last text: "", " ", "\n"...
        self._source_lines = source_lines
        self._line = 1  # the line of the source the text written so far ends on
        self._item_ended = False  # an _ITEM_TAGS element ended, and no text came since
        # Menus marked by their role, not their tag (Sphinx's `<div class="sphinxsidebar"
        # role="navigation">`, on every page of a docs site), and a heading's permalink mark
        # (`<a class="headerlink">¶</a>`): the open elements of their tag, where one began.
        self._roles_hidden = hidden == _BOILERPLATE_TAGS
        self._open: list[str] = []  # the elements open, outermost first
        self._hiding: int | None = None  # where in ``_open`` the hidden element is

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID_TAGS:
            if self._hiding is None and self._boilerplate(tag, dict(attrs)):
                self._hiding = len(self._open)
            self._open.append(tag)
        if tag == "body" or (tag not in _HEAD_TAGS and "head" in self._hidden):
            self._hidden.pop("head", None)  # <head> is often left open
        if tag in _CONTENT_TAGS:
            self._content += 1
        if tag in self._invisible and not (self._content and tag in _BOILERPLATE_TAGS):
            self._hidden[tag] = self._hidden.get(tag, 0) + 1
        elif tag == "title":
            self._in_title += 1
        elif tag == "pre":
            self._in_pre += 1
        if tag in _ITEM_TAGS and self._item_ended and not self._hidden:
            self._pending = self._pending or " "
        self._break(tag)

    def _boilerplate(self, tag: str, attrs: dict[str, str | None]) -> bool:
        """Whether an element is a menu by its role, or a permalink's mark."""
        if tag == "a" and "headerlink" in (attrs.get("class") or "").split():
            return True
        roles = (attrs.get("role") or "").lower().split()
        # ...of an element closed by its end tag alone: a <li> or <p> left open would hide
        # the rest of the page (a reviewer's)
        return (
            self._roles_hidden
            and not self._content
            and tag in _CLOSED_TAGS
            and any(role in _BOILERPLATE_ROLES for role in roles)
        )

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:  # it closes those left open inside it too
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag) :]
            if self._hiding is not None and len(self._open) <= self._hiding:
                self._hiding = None
        if tag in _CONTENT_TAGS and self._content:
            self._content -= 1
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
        self._item_ended = tag in _ITEM_TAGS

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._break(tag)  # <br/>; a self-closed <script/> hides nothing

    def handle_data(self, data: str) -> None:
        if self._in_title and not self._seen_title:
            self.title_parts.append(data)
            return
        if self._hidden or self._hiding is not None:
            return
        if data.strip():
            self._item_ended = False
        if self._source_lines:
            self._add_on_its_line(data)
            return
        if not self._in_pre:
            data = data.replace("\n", " ")
        if data.strip():
            self.parts.append(self._pending)
            self._pending = ""
        self.parts.append(data)

    def _add_on_its_line(self, data: str) -> None:
        """``data`` on the line of the source it starts on: the lines between are written
        empty, and a break asked for within a line is a space."""
        if not data.strip():
            return
        line = self.getpos()[0]
        if line > self._line:
            self.parts.append("\n" * (line - self._line))
            self._line = line
        elif self._pending:
            self.parts.append(" ")
        self._pending = ""
        self.parts.append(data)
        self._line += data.count("\n")

    def _break(self, tag: str) -> None:
        if self._hidden:
            return
        if tag == "br" and not self._source_lines:  # each <br> counts
            self.parts.append(self._pending + "\n")
            self._pending = ""
        elif tag in _PARAGRAPH_TAGS or tag == "br":
            self._pending = "\n\n"
        elif tag in _LINE_TAGS:  # a row's end after a cell's: "\n", not the " " (a tie by length)
            self._pending = max(self._pending, "\n", key=_BREAK_RANK.index)
        elif tag in _CELL_TAGS:
            self._pending = max(self._pending, " ", key=_BREAK_RANK.index)


# -- JSONL corpora ---------------------------------------------------------------------------
