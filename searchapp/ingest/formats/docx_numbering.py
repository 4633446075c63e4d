"""The numbers Word writes before its numbered paragraphs ("1.", "12.3", "(a)", "iv.").

A contract's clauses are numbered by Word, not typed: the number is in no ``w:t`` of the
paragraph but made from ``word/numbering.xml`` as the document is shown. Read as text alone,
"12.3 Termination" was "Termination", and `-F 12.3` or "clause 12.3" found no clause of most
firms' templates (a paralegal's trial). A paragraph is numbered by its own ``w:numPr`` or its
style's (a heading style linked to a list, inherited through ``basedOn``); each list keeps a
counter per level, as Word does for the abstract list that numbering instances share, a
level's counter starting again after a higher level's paragraph and where an instance says
``w:startOverride``. Bullets and unnumbered levels give nothing.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from searchapp.ingest.decoding import NotTextError
from searchapp.ingest.formats.ooxml import paragraph_styles, relationships
from searchapp.ingest.formats.safe_zip import SafeZip

logger = logging.getLogger(__name__)

LEVELS = 9  # w:ilvl 0-8
# The most a list counts to, as Word's own "Set numbering value" takes it: a start of 10**9
# written as letters was 1.9 GB of text from a 2 kB document (a reviewer's).
MAX_COUNT = 32_767
_ROMAN = (
    (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
    (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
)  # fmt: skip
# Formats that write no number (a bullet's lvlText is its glyph, often a Symbol font's
# private-use character).
_NO_NUMBER = frozenset({"bullet", "none", ""})


@dataclass(frozen=True)
class _Level:
    start: int
    fmt: str  # w:numFmt: decimal, lowerLetter, upperRoman...
    text: str  # w:lvlText: "%1.%2."
    legal: bool  # w:isLgl: every level's number in decimal ("1.1", not "I.a")


@dataclass
class ListNumbers:
    """The number of each numbered paragraph, in document order (``label``)."""

    w: str
    levels: dict[str, dict[int, _Level]]  # abstractNumId -> its levels
    instances: dict[str, tuple[str, dict[int, int]]]  # numId -> (abstractNumId, starts)
    styles: dict[str, tuple[str, int]]  # paragraph style id -> (numId, ilvl)
    # abstractNumId -> each level's count (None: not begun, or begun again after a higher level)
    counters: dict[str, list[int | None]] = field(default_factory=dict)
    restarted: set[str] = field(default_factory=set)  # numIds whose starts were applied
    # abstractNumId -> {level: the number its next count begins at}: a restart's (startOverride)
    firsts: dict[str, dict[int, int]] = field(default_factory=dict)

    def label(self, paragraph: Element) -> str:
        """The number Word shows before ``paragraph`` ("12.3"), "" for none; counts it."""
        found = self._numbering(paragraph)
        if found is None:
            return ""
        num_id, level = found
        if num_id not in self.instances:
            return ""
        abstract, starts = self.instances[num_id]
        levels = self.levels.get(abstract, {})
        if level not in levels:
            return ""
        counts = self.counters.setdefault(abstract, [None] * LEVELS)
        firsts = self.firsts.setdefault(abstract, {})
        if num_id not in self.restarted:
            self.restarted.add(num_id)
            for overridden, start in sorted(starts.items()):
                counts[overridden:] = [None] * (LEVELS - overridden)
                firsts.update({overridden: start})
        this = levels[level]
        count = counts[level]
        first = firsts.pop(level, this.start)
        counts[level] = first if count is None else min(count + 1, MAX_COUNT)
        counts[level + 1 :] = [None] * (LEVELS - level - 1)
        if this.fmt in _NO_NUMBER:
            return ""
        text = this.text
        for shown in range(level + 1):
            if f"%{shown + 1}" in text:
                of = levels.get(shown, this)
                count = counts[shown]
                fmt = "decimal" if this.legal else of.fmt
                # a level not begun shows its first number: a restart's, else its start
                begun = firsts.get(shown, of.start) if count is None else count
                text = text.replace(f"%{shown + 1}", _formatted(begun, fmt))
        return text.strip()

    def _numbering(self, paragraph: Element) -> tuple[str, int] | None:
        w = self.w
        properties = paragraph.find(f"{w}pPr")
        if properties is None:
            return None
        own = properties.find(f"{w}numPr")
        style = properties.find(f"{w}pStyle")
        styled = self.styles.get(style.get(f"{w}val", "")) if style is not None else None
        if own is None:
            return styled
        num = own.find(f"{w}numId")
        level = own.find(f"{w}ilvl")
        num_id = num.get(f"{w}val", "") if num is not None else (styled or ("", 0))[0]
        if num_id in ("", "0"):  # "0": numbering taken off a styled paragraph
            return None
        return num_id, _level(level, w) if level is not None else (styled or ("", 0))[1]


def list_numbers(archive: SafeZip, main_part: str, w: str) -> ListNumbers:
    """The numbering of the document whose main part is ``main_part``; one without numbering
    part, or whose numbering or styles part cannot be read (damaged XML), numbers nothing: its
    text is read all the same, as Word opens it."""
    try:
        return _list_numbers(archive, main_part, w)
    except NotTextError:
        logger.debug("the numbering of %s could not be read", main_part, exc_info=True)
        return ListNumbers(w, {}, {}, {})


def _list_numbers(archive: SafeZip, main_part: str, w: str) -> ListNumbers:
    parts = {kind: target for kind, target in relationships(archive, main_part).values()}
    folder = posixpath.dirname(main_part)
    numbering = parts.get("numbering", posixpath.join(folder, "numbering.xml"))
    styles = parts.get("styles", posixpath.join(folder, "styles.xml"))
    levels: dict[str, dict[int, _Level]] = {}
    instances: dict[str, tuple[str, dict[int, int]]] = {}
    links: dict[str, str] = {}  # abstractNumId -> the style it is a list of
    if archive.has(numbering):
        root = archive.read_xml(numbering)
        for abstract in root.iter(f"{w}abstractNum"):
            list_id = abstract.get(f"{w}abstractNumId", "")
            levels[list_id] = {
                _level(lvl, w): _read_level(lvl, w) for lvl in abstract.iter(f"{w}lvl")
            }
            link = abstract.find(f"{w}numStyleLink")
            if link is not None:
                links[list_id] = link.get(f"{w}val", "")
        for num in root.iter(f"{w}num"):
            abstract_id = num.find(f"{w}abstractNumId")
            if abstract_id is None:
                continue
            starts = {}
            for override in num.iter(f"{w}lvlOverride"):
                start = override.find(f"{w}startOverride")
                if start is not None:
                    starts[_level(override, w)] = _integer(start.get(f"{w}val"), 1)
            instances[num.get(f"{w}numId", "")] = (abstract_id.get(f"{w}val", ""), starts)
    styled = _style_numbering(archive, styles, w)
    # A list defined by a style (`w:numStyleLink`, as law firms' templates write them): the
    # list that style numbers by.
    for list_id, link in links.items():
        linked = styled.get(link)
        target = instances.get(linked[0]) if linked else None
        if target is not None and levels.get(target[0]):
            # ...counted as that list: it is the one the style numbers
            instances = {
                num: (target[0], starts) if abstract == list_id else (abstract, starts)
                for num, (abstract, starts) in instances.items()
            }
    return ListNumbers(w, levels, instances, styled)


def _style_numbering(archive: SafeZip, part: str, w: str) -> dict[str, tuple[str, int]]:
    """{paragraph style id: (numId, ilvl)} of the styles numbered, their own or inherited."""

    def numbering(style: Element) -> tuple[str, int] | None:
        found = style.find(f"{w}pPr/{w}numPr")
        if found is None:
            return None
        num = found.find(f"{w}numId")
        level = found.find(f"{w}ilvl")
        num_id = num.get(f"{w}val", "") if num is not None else ""
        return num_id, _level(level, w) if level is not None else 0

    return {
        style_id: found
        for style_id, found in paragraph_styles(archive, part, w, numbering).items()
        if found is not None and found[0] not in ("", "0")
    }


def _read_level(lvl: Element, w: str) -> _Level:
    def value(tag: str, default: str) -> str:
        element = lvl.find(f"{w}{tag}")
        return element.get(f"{w}val", default) if element is not None else default

    legal = lvl.find(f"{w}isLgl")
    return _Level(
        start=_integer(value("start", "1"), 1),
        fmt=value("numFmt", "decimal"),
        text=value("lvlText", ""),
        legal=legal is not None and legal.get(f"{w}val", "true") not in ("0", "false", "off"),
    )


def _level(element: Element, w: str) -> int:
    level = _integer(element.get(f"{w}ilvl", element.get(f"{w}val")), 0)
    return level if 0 <= level < LEVELS else 0


def _integer(text: str | None, default: int) -> int:
    """``text`` as a number from 0 to ``MAX_COUNT``; ``default`` for none or another."""
    try:
        number = int(text) if text is not None else default
    except ValueError:
        return default
    return min(max(number, 0), MAX_COUNT)


def _formatted(count: int, fmt: str) -> str:
    """``count`` as a list level of format ``fmt`` writes it; decimal for any other."""
    if fmt in ("lowerLetter", "upperLetter"):
        # Word's letters after z: aa, bb, ... (the letter repeated)
        letter = chr(ord("a") + (count - 1) % 26) * ((count - 1) // 26 + 1)
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt in ("lowerRoman", "upperRoman") and 0 < count < 4000:
        roman = ""
        for value, numeral in _ROMAN:
            while count >= value:
                roman, count = roman + numeral, count - value
        return roman.upper() if fmt == "upperRoman" else roman
    if fmt == "decimalZero":
        return f"{count:02d}"
    return str(count)
