"""A Markdown passage as a person reads it in a snippet: without the marks that only format it.

A writer's hits read `> [!tip] Show, don't tell > … Cut **every** adverb.[^adv]`, `![[storm.png]]
<div class="mood">` and `[[Lighthouse Novel|the novel]]`: the marks took the room of the words
a snippet cuts to. Only what is shown is made readable; a hit's JSON ``text`` stays the passage
as indexed. Line for line, so a hit's line is still where it was.
"""

from __future__ import annotations

import os
import re

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx")

_INLINE = [
    (re.compile(r"!\[\[[^\]\n]*\]\]"), ""),  # an embedded file: ![[storm.png]]
    (re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)"), r"\1"),  # an image: its alt text
    (re.compile(r"\[\[[^\]|\n]*\|([^\]\n]*)\]\]"), r"\1"),  # [[Note|shown]]: shown
    (re.compile(r"\[\[([^\]\n]*)\]\]"), r"\1"),  # [[Note]]
    (re.compile(r"(?<!!)\[([^\]\n]+)\]\([^)\n]*\)"), r"\1"),  # [text](url): text
    (re.compile(r"\[\^[^\]\n]+\](?!:)"), ""),  # a footnote's mark: [^adv]
    (re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>\n]*)?/?>"), " "),  # an HTML tag
    (re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*"), r"\1"),  # **bold**
    (re.compile(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)"), r"\1"),  # __bold__
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),  # *italic*
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),  # ~~struck~~
    (re.compile(r"==(?=\S)(.+?)(?<=\S)=="), r"\1"),  # ==highlighted== (Obsidian)
]
# At a line's start: a heading's "#"s, a quote's ">"s, a code fence.
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+")
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_CALLOUT = re.compile(r"^\[!([\w-]+)\][+-]?[ \t]*")  # > [!tip] Title: "Tip: Title"
_FENCE = re.compile(r"^[ \t]*(?:`{3,}|~{3,})[^\n]*$")


def is_markdown(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in MARKDOWN_SUFFIXES


def readable_markdown(text: str) -> str:
    """``text`` with Markdown's formatting marks left out, as many lines as it had."""
    return "\n".join(_readable_line(line) for line in text.split("\n"))


def readable_inline(text: str) -> str:
    """One line of Markdown (a heading's text: a hit's section) without its inline marks."""
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text


def _readable_line(line: str) -> str:
    if _FENCE.match(line):
        return ""
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
