"""Markdown: the text as written, every heading starting a span located by its heading path
(``"Install > Linux"``); of YAML front matter, the values of its keys but those a site
generator or a plugin reads (``_UNSEARCHED_KEYS``), and its ``title`` is the title.
``data:`` URIs (images pasted in as base64, as Typora or Obsidian write them) are cut out: a
note with a screenshot was a file of base64, skipped whole as generated text.

The front matter's keys and other lines become empty, so line numbers still match the file.
Headings are ATX (``## Linux``) and one-line setext (a line underlined with ``===`` or
``---``); lines in fenced code blocks are never headings, so a ``# comment`` in a shell snippet
is not one.
"""

from __future__ import annotations

import re

from searchapp.ingest.formats.builder import HeadingPath
from searchapp.ingest.formats.spans import LocatedText, Span

# R Markdown and Quarto too: Markdown with code chunks (```{r}), an ecologist's reports (their
# front matter, headings and **marks** were read as plain text).
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdx", ".rmd", ".qmd"})
# An image pasted as a ``data:`` URI: its base64 on one line, or wrapped (``<img src="data:...``
# at 76 columns: 174 passages of noise for one 30 kB image), a line of at least 60 of its
# characters followed by more, the last closed by a quote or a parenthesis. Cut out with
# ``cut_data_uris``, which keeps the lines it spans.
DATA_URI = re.compile(
    r"data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,"
    r"(?:(?:[A-Za-z0-9+/=]{60,}[ \t]*\r?\n[ \t]*)+[A-Za-z0-9+/=]+(?=[\"')])|[A-Za-z0-9+/=]+)"
)

# Front matter: "---" on the first line, up to a line of "---" or "...", holding a "key:" line.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE)
_YAML_KEY = re.compile(r"^[A-Za-z_][\w-]*[ \t]*:", re.MULTILINE)
# The blanks around a title and a heading are stripped after the match: a lazy group before
# "[ \t]*$" tried every split of a long run of spaces (a heading line of 5,000: 0.4 s each).
_YAML_TITLE = re.compile(r"^title[ \t]*:(.*)$", re.MULTILINE)
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*))?")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
# An HTML comment block (CommonMark's HTML block 2): from a line that begins "<!--" to the line
# holding "-->". A heading commented out in it was taken for the section of all that followed.
_COMMENT = re.compile(r" {0,3}<!--")
# A line holding only HTML anchors (``<a id="ERR_X"></a>``), as Node's docs put before each
# heading: it belongs to the heading after it, not to the end of the section before.
_ANCHORS = re.compile(r" {0,3}(?:<a\s+(?:id|name)=[^>]*>\s*</a>\s*)+")
# Lines that cannot be a setext heading's text: blank, indented code, or other block starts.
_NOT_SETEXT_TEXT = re.compile(r"\s*$| {4}|\t| {0,3}(?:[#>|]|[-+*][ \t]|\d+[.)][ \t])")


def front_matter_end(text: str) -> int:
    """Where ``text``'s YAML front matter ends (after its closing "---" line); 0 when it has
    none."""
    match = _FRONT_MATTER.match(text)
    return match.end() if match and _YAML_KEY.search(match.group(1)) else 0


def extract_markdown(text: str, *, mdx: bool = False, rendered: bool = False) -> LocatedText:
    """Title, text (front matter blanked, ``data:`` URIs cut) and heading-path spans of a
    Markdown document; ``mdx``: an MDX file's, its leading `import`/`export` lines blank;
    ``rendered``: an R Markdown or Quarto file's, its rendering options not searched."""
    title = ""
    text = cut_data_uris(text)
    match = _FRONT_MATTER.match(text)
    front = ""
    if match and _YAML_KEY.search(match.group(1)):
        title = _front_matter_title(match.group(1))
        unsearched = _UNSEARCHED_KEYS | (_RENDERING_KEYS if rendered else frozenset())
        front, text = _searched_front_matter(match.group(0), unsearched), text[match.end() :]
        if _EXCALIDRAW.search(match.group(1)):
            text = _without_drawing(text)
    if mdx:
        text = _without_leading_modules(text)
    # Headings of the body alone: a block scalar's line kept from the front matter ("  ## x")
    # read as one.
    spans, first_heading = _heading_spans(text)
    spans = [Span(span.start_char + len(front), span.page, span.section) for span in spans]
    # No `title:`: the first top-level heading, as a notebook's (an agent's get_document gave
    # `"title": null` for every note without front matter).
    drawing = bool(match) and _EXCALIDRAW.search(match.group(1)) is not None
    title = title or ("" if drawing else first_heading)  # not every drawing's "Text Elements"
    return LocatedText(title=title, text=front + text, spans=tuple(spans))


# An MDX page's JavaScript module lines (`import Tabs from '@theme/Tabs';`) before its text:
# a Docusaurus page's first passage began with them.
_MODULE_LINE = re.compile(r"(?:import|export)\s[^\n]*")


def _without_leading_modules(text: str) -> str:
    """``text`` with the `import` and `export` statements before its first other line blank,
    each to its last line (`import {` ... `} from '@theme/Tabs';`: its brackets closed)."""
    lines = text.split("\n")
    depth = 0  # brackets open in the statement under way (a blank line ends it whatever)
    for n, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            depth = 0
            continue
        if not depth and not _MODULE_LINE.fullmatch(stripped):
            break
        lines[n] = ""
        code = _STRING_OR_COMMENT.sub("", stripped)  # `'a{b'`, `// see [docs`: no brackets
        depth = max(0, depth + sum(map(code.count, "{([")) - sum(map(code.count, "})]")))
    return "\n".join(lines)


_STRING_OR_COMMENT = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`|//.*|/\*.*?\*/")


# An Obsidian Excalidraw drawing: its words under "## Text Elements", then the drawing itself as
# JSON under "## Drawing" (a 215 kB drawing was 402 passages of `"seed": 1234,`, ranked first).
_EXCALIDRAW = re.compile(r"^excalidraw-plugin[ \t]*:", re.MULTILINE)
_DRAWING = re.compile(r"^#{1,6}[ \t]+Drawing[ \t]*$", re.MULTILINE)


# What the plugin writes around the words: its notice to switch views ("==⚠  Switch to
# EXCALIDRAW VIEW in the MORE OPTIONS menu of this document. ⚠==", a hit's line for "switch
# view"), the "%%" lines hiding the drawing, and a block id after each element's words (" ^a1b2"
# in every snippet).
_PLUGIN_NOTICE = re.compile(r"^==⚠.*$", re.MULTILINE)
_HIDDEN_MARK = re.compile(r"^%%[ \t]*$", re.MULTILINE)
_BLOCK_ID = re.compile(r"[ \t]+\^[A-Za-z0-9-]+[ \t]*$", re.MULTILINE)


def _without_drawing(text: str) -> str:
    """``text`` with an Excalidraw file's drawing data, from its "## Drawing" heading on, as
    blank lines, and without the plugin's notice, "%%" marks and block ids."""
    found = _DRAWING.search(text)
    if found is not None:
        text = text[: found.start()] + "\n" * text.count("\n", found.start())
    for mark in (_PLUGIN_NOTICE, _HIDDEN_MARK, _BLOCK_ID):
        text = mark.sub("", text)
    return text


# Front matter is searched as the note's text, values without their keys: a note's title,
# aliases and tags (Obsidian, Hugo, Jekyll) were found by none of their words, a note of front
# matter alone (a book's, a person's) had no passage at all, and a meeting's `attendees: [Tom]`
# was found by no name in it. Keys that hold what a site generator or a plugin reads (layout,
# dates, ids, templates) are blank lines.
_UNSEARCHED_KEYS = frozenset(
    {"layout", "permalink", "slug", "url", "uid", "id", "uuid", "date", "created", "updated"}
    | {"modified", "lastmod", "draft", "publish", "published", "weight", "template", "type"}
    | {"cssclass", "cssclasses", "excalidraw-plugin", "kanban-plugin", "banner", "cover"}
    | {"image", "icon", "sticker", "redirect_from", "comments", "sidebar", "toc", "math"}
    | {"sidebar_position", "nav_order", "hide", "hide_title"}
)
# ...and of R Markdown and Quarto, their output and execution options (`format: html: toc:
# true`); in a note, `format: audiobook` and `editor: Maria Popova` are its own.
_RENDERING_KEYS = frozenset(
    {"format", "output", "execute", "editor", "jupyter", "knitr", "engine", "params"}
    | {"bibliography", "csl", "filters", "freeze", "runtime", "vignette"}
)
RENDERED_SUFFIXES = frozenset({".rmd", ".qmd"})


def _searched_front_matter(block: str, unsearched: frozenset[str] = _UNSEARCHED_KEYS) -> str:
    """``block`` (the front matter, its "---" lines included) with the values of its keys
    but ``_UNSEARCHED_KEYS`` kept, not the keys (in a vault whose every note has `tags:`, a
    query for "tags" found every note's front matter before the note about tags), and every
    other line blank, so line numbers still match."""
    kept, keeping, tags, named = [], False, False, False
    lines = block.split("\n")
    for number, line in enumerate(lines):
        key = _YAML_KEY.match(line)
        if key:
            name = key.group(0).rstrip(": \t").lower()
            keeping, tags = name not in unsearched, name in _TAG_KEYS
            named = name in _NAMING_KEYS
            line = line[key.end() :].strip(" \t")
        elif not line[:1].isspace() and not line.startswith("-"):  # "---", "...": no value
            keeping = False
        edge = number == 0 or number == len(lines) - 1 - (lines[-1] == "")
        value = _plain_value(line, bare=named) if keeping and not edge else ""
        kept.append(_as_tags(value) if tags else value)
    return "\n".join(kept)


_TAG_KEYS = frozenset({"tags", "tag"})
_TAG = re.compile(r"[^\s,#]+")


def _as_tags(value: str) -> str:
    """A `tags:` value as Obsidian writes tags in a note's text (`#meeting, #q4`): a tag
    search (`#meeting`) finds it as it finds `#meeting` in the body, and a hit's text reads as
    tags, not as words run together."""
    return ", ".join(f"#{tag}" for tag in _TAG.findall(value))


# Keys whose value names the note: a number there is its name (`title: 1984`), kept.
_NAMING_KEYS = frozenset({"title", "aliases", "alias", "name"})


def _plain_value(value: str, *, bare: bool = False) -> str:
    """A front matter value as words: a flow list's items (``[postfix, "smtp relay"]``) or a
    block list's item (``  - postfix``) without YAML's brackets, quotes and dashes, which a
    passage showed as they were; "" for a number or a boolean alone, unless ``bare``."""
    value = value.strip(" \t")
    if value.startswith("- "):
        value = value[2:].strip(" \t")
    if not bare and _BARE_SCALAR.fullmatch(value):  # `words_target: 10000` in every snippet
        return ""
    if value.startswith("[") and value.endswith("]"):
        items = (item.strip(" \t") for item in _FLOW_ITEM.findall(value[1:-1]))
        return ", ".join(_unquoted(item) for item in items if item)
    return _unquoted(value)


# A number or a boolean alone, which says nothing without its key (not searched).
_BARE_SCALAR = re.compile(r"[-+]?\d+(?:\.\d+)?|true|false|yes|no|null|~", re.IGNORECASE)
_FLOW_ITEM = re.compile(r"\s*(?:\"[^\"]*\"|'[^']*'|[^,]+)")  # a flow list's items, quoted or not


def _unquoted(value: str) -> str:
    """``value`` without the quotes around it, when they are around all of it."""
    if (
        len(value) >= 2
        and value[0] == value[-1]
        and value[0] in "\"'"
        and value[0] not in value[1:-1]
    ):
        return value[1:-1]
    return value


def cut_data_uris(text: str) -> str:
    """``text`` without its ``data:`` URIs (``DATA_URI``), each line break in one kept."""
    return DATA_URI.sub(lambda found: "\n" * found.group().count("\n"), text)


def _heading_text(rest: str) -> str:
    """An ATX heading's text: what follows its "#"s and blanks, less a closing sequence of "#"s
    after a blank, and blanks at its end."""
    text = rest.rstrip(" \t")
    bare = text.rstrip("#")
    if bare != text and bare[-1:] in (" ", "\t"):
        return bare.rstrip(" \t")
    return text


def _front_matter_title(front_matter: str) -> str:
    match = _YAML_TITLE.search(front_matter)
    if not match:
        return ""
    value = match.group(1).strip(" \t")
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    elif value.startswith(("|", ">")):  # a block scalar: not worth a YAML parser
        return ""
    return " ".join(value.split())


def heading_sections(text: str) -> list[tuple[int, str]]:
    """Where each heading of ``text`` starts (a character offset) and the heading path it
    starts (``"Install > Linux"``), in order."""
    return [(span.start_char, span.section or "") for span in _heading_spans(text)[0]]


def _heading_spans(text: str) -> tuple[list[Span], str]:
    """The spans each heading starts, and the first level-1 heading's text ("" for none)."""
    spans: list[Span] = []
    first = ""
    headings = HeadingPath()
    fence = ""  # the opening fence while inside a fenced code block
    previous_start = -1  # start of the previous line when it could be setext heading text
    anchors = -1  # start of the anchor lines just before this one, if any
    comment = False  # inside an HTML comment block
    start = 0
    for line in text.split("\n"):
        line_start, start = start, start + len(line) + 1
        before, anchors = anchors, -1
        if comment:
            comment = "-->" not in line
            continue
        fence_match = _FENCE.match(line)
        if fence:
            if fence_match and _closes(fence, fence_match.group(1), line[fence_match.end() :]):
                fence = ""
            continue
        if fence_match:
            fence, previous_start = fence_match.group(1), -1
            continue
        opened = _COMMENT.match(line)
        if opened and "-->" not in line[opened.end() :]:
            comment, previous_start = True, -1
            continue
        atx = _ATX.fullmatch(line)
        setext = _SETEXT.fullmatch(line) if previous_start >= 0 else None
        heading = ""
        if atx:
            at = before if before >= 0 else line_start
            heading = _heading_text(atx.group(2) or "")
            _add(spans, headings, at, len(atx.group(1)), heading)
            heading = heading if len(atx.group(1)) == 1 else ""
        elif setext:
            level = 1 if setext.group(1)[0] == "=" else 2
            _add(spans, headings, previous_start, level, text[previous_start : line_start - 1])
            heading = text[previous_start : line_start - 1] if level == 1 else ""
        first = first or " ".join(heading.split())
        previous_start = -1 if atx or setext or _NOT_SETEXT_TEXT.match(line) else line_start
        if _ANCHORS.fullmatch(line) or (before >= 0 and not line.strip()):
            anchors = before if before >= 0 else line_start  # a blank line between: still so
    return spans, first


def _closes(fence: str, candidate: str, rest: str) -> bool:
    """Whether a fence line closes the block ``fence`` opened: same character, at least as
    long, nothing after it."""
    return candidate[0] == fence[0] and len(candidate) >= len(fence) and not rest.strip()


def _add(spans: list[Span], headings: HeadingPath, start: int, level: int, title: str) -> None:
    if title.strip():  # "#" alone is an empty heading: it changes nothing here
        spans.append(Span(start, section=headings.enter(level, title)))
