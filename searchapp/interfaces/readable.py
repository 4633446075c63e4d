"""A Markdown passage as a person reads it in a snippet: without the marks that only format it.

A writer's hits read `> [!tip] Show, don't tell > … Cut **every** adverb.[^adv]`, `![[storm.png]]
<div class="mood">` and `[[Lighthouse Novel|the novel]]`: the marks took the room of the words
a snippet cuts to. Only what is shown is made readable; a hit's JSON ``text`` stays the passage
as indexed. Line for line, so a hit's line is still where it was; code (fenced blocks, `code`
spans) is left as written, its backticks aside.
"""

from __future__ import annotations

import os
import re

from searchapp.ingest.formats.markdown import MARKDOWN_SUFFIXES

# HTML a note holds for its look (not `<branch>`, `Vec<String>` or `a<b and c>d`): these tags,
# with attributes written name="value" or none.
_TAGS = (
    "a|abbr|b|big|blockquote|br|center|cite|code|dd|del|details|div|dl|dt|em|figcaption|figure|"
    "font|h[1-6]|hr|i|img|ins|kbd|li|mark|ol|p|pre|s|section|small|source|span|strong|sub|"
    "summary|sup|table|tbody|td|th|thead|tr|u|ul|video|audio|iframe|picture"
)
# ...in lower case, as HTML in notes is (`Option<U>`, `Box<A>` are generics), their attributes
# name="value" or one of these alone (`<details open>`; not `a<b and c>d`).
_BARE_ATTRIBUTES = "open|controls|markdown|hidden|autoplay|loop|muted|disabled|checked"
_INLINE = [
    # (no "[" inside: a run of them was tried from each, quadratic)
    (re.compile(r"!\[\[[^\[\]\n]*\]\]"), ""),  # an embedded file: ![[storm.png]]
    (re.compile(r"!\[([^\[\]\n]*)\]\([^()\n]*\)"), r"\1"),  # an image: its alt text
    (re.compile(r"\[\[[^\[\]|\n]*\|([^\[\]\n]*)\]\]"), r"\1"),  # [[Note|shown]]: shown
    (re.compile(r"\[\[([^\[\]\n]*)\]\]"), r"\1"),  # [[Note]]
    (re.compile(r"(?<!!)\[([^\[\]\n]+)\]\([^()\n]*\)"), r"\1"),  # [text](url): text
    (re.compile(r"\[\^[^\]\n]+\](?!:)"), ""),  # a footnote's mark: [^adv]
    (
        re.compile(
            rf"</?(?:{_TAGS})(?:\s+(?:[\w:-]+=(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s>]+)"
            rf"|(?:{_BARE_ATTRIBUTES})\b))*\s*/?>"
        ),
        " ",
    ),
    # Emphasis around words, not a glob's `**/*.md` nor `__init__.py`.
    (re.compile(r"(?<![\w*])\*\*(?=[^\s*])(.+?)(?<=[^\s*])\*\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w.])__(?=[^\W_])([^_\n]+?)(?<=[^\W_])__(?![\w.])"), r"\1"),
    (re.compile(r"(?<![\w*/])\*(?=[^\W\d_])([^*\n]+?)(?<=[\w.,!?])\*(?![\w*/])"), r"\1"),
    (re.compile(r"~~(?=\S)([^~\n]+?)(?<=\S)~~"), r"\1"),  # ~~struck~~
    (re.compile(r"(?<![\w=])==(?=\w)([^=\n]+?)(?<=\S)==(?![\w=])"), r"\1"),  # ==highlighted==
]
_CODE_SPAN = re.compile(r"(`{1,3})([^`\n]+?)\1")  # (not a long run of backticks: cubic)
# At a line's start: a heading's "#"s, a quote's ">"s, a code fence.
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+")
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_CALLOUT = re.compile(r"^\[!([\w-]+)\][+-]?[ \t]*")  # > [!tip] Title: "Tip: Title"
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")


def is_markdown(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in MARKDOWN_SUFFIXES


def readable_markdown(text: str) -> str:
    """``text`` with Markdown's formatting marks left out, as many lines as it had; a fenced
    block's lines as written, its fence lines blank."""
    lines = text.split("\n")
    fence = ""
    for n, line in enumerate(lines):
        opening = _FENCE.match(line)
        if fence:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence, lines[n] = "", ""
        elif opening:
            fence, lines[n] = opening.group(1), ""
        else:
            lines[n] = _readable_line(line)
    return "\n".join(lines)


def readable_inline(text: str) -> str:
    """One line of Markdown without its inline marks; `code` spans as written, unquoted."""
    parts, at = [], 0
    for span in _CODE_SPAN.finditer(text):
        parts += [_without_marks(text[at : span.start()]), span.group(2)]
        at = span.end()
    return "".join([*parts, _without_marks(text[at:])])


def _without_marks(text: str) -> str:
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text


def _readable_line(line: str) -> str:
    line = _HEADING.sub("", line)
    quoted = _QUOTE.match(line)
    if quoted:
        line = line[quoted.end() :]
        callout = _CALLOUT.match(line)
        if callout:
            kind = callout.group(1).replace("-", " ").capitalize()
            rest = line[callout.end() :]
            line = f"{kind}: {rest}" if rest.strip() else f"{kind}:"
    return readable_inline(line)
