"""Transcripts and subtitles: WebVTT (``.vtt``: Zoom's, Teams', YouTube's) and SubRip
(``.srt``: Otter's, a video's): what is said, each line on the file's line.

Read as text, a meeting's transcript was half timing: `00:12:31.200 --> 00:12:34.900` lines and
cue numbers between every sentence, in passages and hits alike, and YouTube's captions said
each line twice (a cue repeats the one before it while the next is typed in, with its words'
own times in tags). Here the timing lines, cue numbers and identifiers, the WebVTT header and
its NOTE, STYLE and REGION blocks are blank lines; a voice tag (`<v Ana Ruiz>`) is its speaker's
name before the words ("Ana Ruiz: ..."), other tags go and entities are their characters; in
captions that roll up (their words timed in tags), a line the cue before it ended with is
blank. A hit's line is the file's, the cue's timing just above it; and each cue's first line
said starts a span whose section is the cue's start, so that a hit's JSON ``section`` and its
grep-like line say when it was said (`meeting.vtt:565: 1.107  00:12:04  Ana Ruiz: ...`). Those
spans start no passage (``reading.FileReader``): a cue is a sentence or two.
"""

from __future__ import annotations

import html
import itertools
import re

from searchapp.ingest.formats.spans import LocatedText, Span

SUBTITLE_SUFFIXES = frozenset({".vtt", ".srt"})
# A cue's timing: `00:12:31.200 --> 00:12:34.900` (SubRip: a comma before the milliseconds; the
# hours may be left out), settings after it.
_TIMING = re.compile(
    r"^\s*(?P<start>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->"
    r"\s*(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3}"
)
_CUE_NUMBER = re.compile(r"^\s*\d+\s*$")
_BLOCK_START = re.compile(r"^(?:WEBVTT|NOTE|STYLE|REGION)(?:[ \t].*)?$")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?[ \t]+([^<>]*)>")
_WORD_TIME = re.compile(r"<\d+:\d{2}(?::\d{2})?[.,]\d{1,3}>")
# tags: WebVTT's and HTML's (`<i>`, `<font color=...>`), a word's time, SubRip's position
# (`{\an8}`)
_TAG = re.compile(r"</?[a-zA-Z][^<>]*>|<\d+:\d{2}(?::\d{2})?[.,]\d{1,3}>|\{\\[^{}]*\}")


def is_transcript(path: str) -> bool:
    """Whether ``path`` names a transcript (`.vtt`, `.srt`, gzipped too)."""
    name = path.lower().removesuffix(".gz")
    return name.endswith(tuple(SUBTITLE_SUFFIXES))


def extract_subtitles(text: str) -> LocatedText:
    """The words said in a ``.vtt`` or ``.srt`` file, on its lines (``text``: its text)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    times: list[tuple[int, str]] = []  # each cue's timing line, and when it starts
    # Captions that roll up (YouTube's: its words timed in tags) say a line again in the next
    # cue; in a transcript, two cues alike are two people saying "Yes." (a journalist's).
    rolling = _WORD_TIME.search(text) is not None
    said: list[str] = []
    block = False  # inside the header, a NOTE, STYLE or REGION block: up to a blank line
    previous = ""  # the last line of the cue before
    last = ""
    for at, line in enumerate(lines):
        if not line.strip():
            block = False
            said.append("")
            continue
        if _BLOCK_START.match(line.lstrip("\ufeff")) and (at == 0 or not lines[at - 1].strip()):
            block = True
        if block:
            said.append("")
            continue
        if timing := _TIMING.match(line):
            previous, last = last, ""
            times.append((len(said), _clock(timing.group("start"))))
            said.append("")
            continue
        next_is_timing = at + 1 < len(lines) and _TIMING.match(lines[at + 1])
        if next_is_timing and (_CUE_NUMBER.match(line) or not lines[at - 1].strip()):
            said.append("")  # a cue's number (SubRip) or identifier (WebVTT)
            continue
        words = spoken(line)
        # a caption rolling up: the line the cue before ended with, said again
        said.append("" if rolling and words == previous else words)
        last = words
    return LocatedText("", "\n".join(said), _cue_spans(said, times))


def _cue_spans(said: list[str], times: list[tuple[int, str]]) -> tuple[Span, ...]:
    """A span at each cue's first line said, its section the cue's start (``00:12:04``): a
    hit names when its line was said, as a PDF's names its page."""
    starts = list(itertools.accumulate((len(line) + 1 for line in said), initial=0))
    spans: list[Span] = []
    for number, (timing, clock) in enumerate(times):
        end = times[number + 1][0] if number + 1 < len(times) else len(said)
        first = next((n for n in range(timing + 1, end) if said[n]), None)
        if first is not None and (not spans or spans[-1].section != clock):
            spans.append(Span(starts[first], section=clock))
    return tuple(spans)


def _clock(start: str) -> str:
    """A cue's start as hours, minutes and seconds: `00:12:04` for `00:12:04.572` or
    `12:04,572`."""
    parts = re.split(r"[:.,]", start)[:-1]  # less the milliseconds
    parts = ["00"] * (3 - len(parts)) + parts
    return ":".join(part.zfill(2) for part in parts)


def spoken(line: str) -> str:
    """A cue's line as words: its voice as "Name: ", its tags and timestamps left out."""
    line = _VOICE.sub(lambda voice: f"{voice.group(1).strip()}: ", line, count=1)
    return " ".join(html.unescape(_TAG.sub("", line)).split())
