"""The query's words as they are looked for in a passage's text: to highlight them, to cut a
passage's one-line form around them, and to point a hit at the line that holds the rarest."""

from __future__ import annotations

import datetime
import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, replace

from searchapp.ranking.outline import IMPL
from searchapp.storage.schema import (
    CAMEL_JOIN,
    CJK,
    LETTER_FOLDS,
    cjk_spaced,
    fts_text,
    letters_folded,
)

# Words as FTS5's unicode61 tokenizer makes them: runs of letters and digits ("_" parts
# ``rotate_api_key``), looked for without case or accents ("creme" finds "Crème").
_WORD = re.compile(r"[^\W_]+")
_CJK_CHAR = re.compile(f"[{CJK}]")
# From a word's start only: unanchored, a long word without "_" was tried from each of its
# characters (a 40,000-character query word took 22 s).
_SNAKE = re.compile(r"(?<![^\W_])[^\W_]+(?:_+[^\W_]+)+")
_CAMEL_JOINS = re.compile(CAMEL_JOIN)
_COMBINING = "[\u0300-\u036f]*"  # accents written as separate marks (NFD text)
_COMBINING_MARKS = re.compile(_COMBINING[:-1])


MAX_WORDS = 64  # a pasted page looks for its first words only (as its lexical query does)


def fold(word: str) -> str:
    """``word`` in lower case, its Latin letters without accents, as FTS5's
    ``remove_diacritics 2`` reads it, and its letters of ``LETTER_FOLDS`` plain, as
    ``fts_text`` writes them (Greek without accents, ё as е; Cyrillic й and Hangul stay)."""
    lower = word.lower()
    if lower.isascii():  # nothing to unaccent: a passage's text, read for each query
        return lower
    unaccented = _unaccented()
    folded = "".join(unaccented.get(c, c) for c in unicodedata.normalize("NFC", lower))
    folded = letters_folded(folded)  # ß, œ: two letters each (the one-letter ones are above)
    return _COMBINING_MARKS.sub("", folded) if not folded.isascii() else folded


def query_words(query: str) -> list[str]:
    """Words of the query worth looking for (two characters or more, or one Chinese or
    Japanese character, as FTS5 reads them: ``fts_text``; unique, folded), at most
    ``MAX_WORDS``; English function words ("how do we") only when the query has no other.
    In a small index "do" can be rarer than "retry": it chose the hit's line (`vim -q` went to
    "What do I do on Fridays?") and was highlighted as a match."""
    seen: dict[str, None] = {}
    query = unicodedata.normalize("NFC", query)
    # A snake_case identifier is looked for as written ("get_console"), not as the parts
    # joined that FTS5 is also given (``fts_text``), which no text holds.
    identifiers = [fold(word) for word in _SNAKE.findall(query)]
    joined = {word.replace("_", "") for word in identifiers}
    # A camelCase one is looked for in its snake_case spelling too: "richConsole" names the
    # line holding ``__rich_console__``, as FTS5 found it there ("richconsole").
    for word in _WORD.findall(query):
        parts = _CAMEL_JOINS.split(word)
        if len(parts) > 1:
            identifiers.append(fold("_".join(parts)))
    for word in [*identifiers, *_WORD.findall(fts_text(query))]:
        if (len(word) > 1 or _CJK_CHAR.match(word)) and fold(word) not in joined:
            seen.setdefault(fold(word), None)
            if len(seen) == MAX_WORDS:
                break
    content = [word for word in seen if word not in FUNCTION_WORDS]
    return content or list(seen)


# English words that carry no topic: looked for only in a query made of nothing else.
FUNCTION_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before i
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves""".split()
)


def content_terms(terms: Sequence[str]) -> list[str]:
    """``terms`` (folded) less English function words, unless they are all such words ("to
    be or not to be"): what BM25 and file names weigh. In a small index "how", "do" and "I"
    are rare, and outweighed the words that say what was asked ("how do I rotate the keys"
    ranked a file with `for i in range` over the note on key rotation)."""
    content = [term for term in terms if term not in FUNCTION_WORDS]
    return content or list(terms)


@functools.lru_cache(maxsize=64)  # once a query, not once a hit
def words_pattern(query: str) -> re.Pattern[str] | None:
    """A whole-word, case- and accent-blind pattern for any of ``query_words(query)``; None
    for none."""
    words = query_words(query)
    if not words:
        return None
    # The longest first: "parseConfig" is one match, not its part "parse" then nothing.
    longest = sorted(words, key=len, reverse=True)
    return re.compile(_whole("|".join(_spelled(w) for w in longest)))


@functools.lru_cache(maxsize=1024)
def word_pattern(word: str) -> re.Pattern[str]:
    """``word`` (folded) as a whole word, however its letters are accented or cased."""
    return re.compile(_whole(_spelled(word)))


# A word ends where letters and digits do: "api" is whole in "rotate_api_key", as for FTS5;
# next to a Chinese or Japanese character, each of which is a word; and where a camelCase
# word's parts meet, in its case as written: "config" in "parseConfig" (``fts_text``).
# The bounds' classes are case-sensitive: compiled case-blind, their ranges took ~8 ms a word
# to fold (each query word's pattern is compiled once, `search eval`'s thousand too).
_START_BOUND = rf"(?:(?<!(?-i:[^\W_{CJK}]))|(?-i:{CAMEL_JOIN}))"
_END_BOUND = rf"(?:(?!(?-i:[^\W_{CJK}]))|(?-i:{CAMEL_JOIN}))"


def _whole(alternatives: str) -> str:
    return rf"(?i){_START_BOUND}({alternatives}){_END_BOUND}"


# Longer words (a hash, base64, a minified line) are matched as written, only case-blind: a
# class per letter made a 40,000-character word's pattern take 10 s to compile.
MAX_ACCENT_BLIND_CHARS = 64


def _spelled(word: str) -> str:
    if len(word) > MAX_ACCENT_BLIND_CHARS:
        return re.escape(word)
    spelled, at = [], 0
    while at < len(word):
        pair = word[at : at + 2]
        if pair in _FOLDED_PAIRS:  # "strasse" holds "Straße"; "oeuvre", "œuvre"
            spelled.append(f"(?:{_letter(pair[0])}{_letter(pair[1])}|{_FOLDED_PAIRS[pair]})")
            at += 2
        else:
            spelled.append(_letter(word[at]))
            at += 1
    return "".join(spelled)


# The letters ``schema.LETTER_FOLDS`` writes as two: ``{"ss": "[ßẞ]", ...}``.
_FOLDED_PAIRS = {
    base.lower(): "["
    + "".join(c for c, b in LETTER_FOLDS.items() if b.lower() == base.lower())
    + "]"
    for base in LETTER_FOLDS.values()
    if len(base) == 2
}


def _letter(c: str) -> str:
    accented = _accented().get(c)
    if not accented:
        return re.escape(c)
    return "[" + re.escape(c + accented) + "]" + _COMBINING


@functools.cache
def _accented() -> dict[str, str]:
    """Each ASCII letter's precomposed accented forms (Latin-1 to Latin Extended Additional),
    and the letters ``schema.LETTER_FOLDS`` writes as it (ł as l)."""
    forms: dict[str, str] = {}
    for code in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        char = chr(code)
        base = unicodedata.normalize("NFD", char)[0].lower()
        if base != char.lower() and base.isascii() and base.isalpha():
            forms[base] = forms.get(base, "") + char
    for char, base in LETTER_FOLDS.items():
        if len(base) == 1 and char not in forms.get(base.lower(), ""):
            forms[base.lower()] = forms.get(base.lower(), "") + char
    return forms


# Where code defines a name (a keyword before it; C++'s export macro between a class's keyword
# and its name, `class C10_API SymInt`; C's `#define NAME`), and a Markdown heading holding it
# (or a comment in Python or shell, which reads the same: it counts for less).
# Keywords that are English words too ("of type DispatchKeySet" in a C++ comment was read as
# declaring it, and ranked above `class DispatchKeySet final {`) declare at a line's start
# alone, after the modifiers a declaration may have (`export type`, `pub(crate) trait`).
_LEADING_DECLARATION = (
    r"^[ \t]*(?:(?:export|pub(?:\([\w:]+\))?|declare|default|public|(?:private|protected)"
    r"(?:\[\w+\])?|internal|abstract|sealed|static|final|partial|unsafe|async|our|my)[ \t]+)*"
    r"(?:@?interface|trait|type|module|macro|sub|(?:{IMPL}))\s+"
)
_LEADING_DECLARATION = _LEADING_DECLARATION.replace("{IMPL}", IMPL)
DEFINES = (
    r"(?:\b(?:class|struct|union|enum)\s+(?-i:[A-Z][A-Z0-9_]*[A-Z0-9]\s+)?"
    r"|\b(?:def|function|fn|func|const|let|var)\s+"
    # Go's method, its receiver first (`func (s *Service) CancelOrder(`: a call of it ranked
    # first); Rust's macro (`macro_rules! entry`).
    r"|\bfunc[ \t]+\([^()\n]*\)[ \t]*|\bmacro_rules![ \t]*"
    rf"|{_LEADING_DECLARATION}"
    r"|#[ \t]*define[ \t]+)[\w.]*?"
)
_HEADING = r"^\s*#{1,6}\s.*?"


@dataclass(frozen=True)
class Phrase:
    """A part of the query in double quotes: its words must come in that order, next to each
    other (anything but a letter or digit between them), as FTS5 reads a phrase; case- and
    accent-blind. `search query '"No such option"'` finds the error message whose words,
    all but "option" too common to count, ranked it nowhere. A CONSTANT_CASE name in it
    (`NO_COLOR`, `MAX_PATH`: a constant or an environment variable, spelled one way) must be
    there as written, as grep finds it: `"NO_COLOR"` was found in every `no_color` parameter;
    so must a command-line flag (`"--verbose"`: every `log.verbose(` came first). Other
    names match each spelling: `"getConsole now"` finds "getconsole now" too."""

    text: str
    pattern: re.Pattern[str]
    names: tuple[re.Pattern[str], ...] = ()
    # Its first and last words may be glued to letters in a passage (`v2.13.0`, an ISO time's
    # `T16:41:07Z`): they are no words of the index's own, only the ones between are looked for.
    glued: bool = False
    # The words FTS5 looks for where its own are not every passage's (a timestamp's "T" glues
    # its date to its hour: "01t11" in one passage, "01" and "11" in another).
    terms: tuple[str, ...] | None = None
    # A line it begins is the hit's line before one it stands in: a clause's own heading
    # ("4.2. Invoices are payable") before a reference to it ("5.2. Clause 4.2 survives").
    heads: bool = False
    # An FTS5 expression every passage holding it matches, where its words may be written
    # more than one way (an amount: "4400" is `4,400`, FTS5's "4" and "400"); else its terms.
    fts: str | None = None

    def begins_a_line(self, text: str) -> bool:
        """Whether it begins a line of ``text`` (blanks before it): a clause's own heading
        ("12.3 Penalties"), not a sentence citing it."""
        folded = cjk_spaced(fold(text))
        return any(
            not folded[folded.rfind("\n", 0, m.start()) + 1 : m.start()].strip()
            for m in self.pattern.finditer(folded)
        )

    def found_in(self, text: str) -> bool:
        if not all(name.search(text) for name in self.names):
            return False
        return self.pattern.search(cjk_spaced(fold(text))) is not None

    @property
    def written_words(self) -> list[str]:
        """Its words as typed, in lower case (``words`` but not folded): the FTS5 terms of an
        index are made of them as its schema version reads them (``Lexicon.query_tokens``;
        before version 20 Greek kept its accents, which ``fold`` drops)."""
        if self.terms is not None:
            return list(self.terms)
        # Split, then lowered: "İ" lowers to "i" and a combining dot, where it would split.
        text = unicodedata.normalize("NFC", self.text)
        words = [word.lower() for word in _PHRASE_WORD.findall(cjk_spaced(text))]
        return words[1:-1] if self.glued else words

    @property
    def words(self) -> list[str]:
        """Its words as ``pattern`` reads them: folded, split at anything but a letter or
        digit ("get_console" is two), each Chinese or Japanese character one."""
        if self.terms is not None:
            return list(self.terms)
        words = _PHRASE_WORD.findall(cjk_spaced(fold(self.text)))
        return words[1:-1] if self.glued else words


# Double quotes as a keyboard, a word processor, German („…“) and French (« … ») write them
# (a historian's trial: a German quotation in „…“ was searched as loose words).
_QUOTED = re.compile(r'"([^"]*)"|“([^“”"]*)”|„([^„“”"]*)[“”]|«([^«»"]*)»')
QUOTE_MARKS = '"“„«'


def _quoted_text(match: re.Match[str]) -> str:
    return next(group for group in match.groups() if group is not None).strip()


_CONSTANT = re.compile(r"\w+_\w+")
_PHRASE_WORD = re.compile(r"[^\W_]+")


_FLAG = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")


# A Python traceback's frame: `File "<stdin>", line 1, in <module>` names a file, not a phrase
# (a pasted traceback ranked only the passages that say "stdin", and nothing said so).
_FRAME_BEFORE = re.compile(r"\bFile\s+$")
_FRAME_AFTER = re.compile(r",\s*line\s+\d")
# A pasted traceback: the source lines of its frames quote strings (`requests.get("http://
# example.com")`), which are code, not phrases asked for ("no passage holds ... as written").
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s*File \"[^\"\n]*\", line \d", re.M)


# A frame's line in a traceback, and the line of source it quotes below it.
_FRAME_SOURCE = re.compile(r"^\s*File \"[^\"\n]*\", line \d+[^\n]*\n[ \t]*(\S[^\n]*)", re.M)


def traceback_sources(query: str) -> list[Phrase]:
    """The source lines a pasted Python traceback quotes (`raise ConnectTimeout(e, ...)`), the
    last frame's first, as phrases a hit's line is chosen by (not passages filtered): the hit
    in `adapters.py` named a line three above the `raise` the traceback quotes."""
    if not _TRACEBACK.search(query):
        return []
    sources = [match.group(1) for match in _FRAME_SOURCE.finditer(query)]
    return [phrase for source in reversed(sources) for phrase in _phrases_of([source])]


# A query with more words than this outside its quotes is pasted prose: its quotes are
# dialogue or a quoted value, not phrases to filter by (a writer's pasted paragraph, `"Nobody
# locked their doors," Søren said. Later Mara found the letter...`, lost its best hit).
MAX_WORDS_AROUND_PHRASES = 12


def quoted_phrases(query: str) -> list[Phrase]:
    """The phrases in double quotes in ``query`` (an unpaired quote is only a character, and a
    traceback frame's file name none, nor anything a pasted traceback quotes, nor the quotes of
    a query of more than ``MAX_WORDS_AROUND_PHRASES`` other words)."""
    if _TRACEBACK.search(query):
        return []
    if len(_QUOTED.sub(" ", query).split()) > MAX_WORDS_AROUND_PHRASES:
        return []
    quoted = [
        _quoted_text(match)
        for match in _QUOTED.finditer(query)
        if not (
            _FRAME_BEFORE.search(query, 0, match.start()) and _FRAME_AFTER.match(query, match.end())
        )
    ]
    return _phrases_of(quoted)


def fixed_phrase(query: str) -> Phrase | None:
    """The whole ``query`` as a phrase held as written, case and accents aside (`search query
    -F`), whole words at its ends as grep -Fw reads them: its words in order, and its text
    itself, runs of blanks as any blanks (`parse_config` found
    "parse config" and "parse-config" as a quoted phrase does), a quote mark or a dash as
    any of its kind (``_TYPESET``); None when it has no word."""
    [phrase] = _phrases_of([query]) or [None]
    if phrase is None:
        return None
    body = r"\s+".join(map(_written, query.split()))
    # Whole words at its ends as grep -Fw reads them, "_" a letter: `-F Open` found
    # `max_open_conns` and `DB_MAX_OPEN_CONNS` (a Go developer's trial).
    ends = query.strip()
    before = r"(?<!\w)" if re.match(r"\w", ends) else ""
    after = r"(?!\w)" if re.search(r"\w\Z", ends) else ""
    written = _LettersFolded(re.compile(rf"(?i){before}{body}{after}"))
    # Its text as written, case aside: a CONSTANT_CASE name too (a quoted phrase holds one as
    # written; `-F IBAN_NUMBER` found none of the `iban_number`s grep -Fwi finds).
    return Phrase(query, phrase.pattern, (written,))  # type: ignore[arg-type]


class _LettersFolded:
    """A pattern searched in a text with its letters of ``LETTER_FOLDS`` plain, as the query's
    are (a translator's `-F STRASSE` missed "Straße", which a quoted phrase found)."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self._pattern = pattern

    def search(self, text: str, *bounds: int) -> re.Match[str] | None:
        if text.isascii():
            return self._pattern.search(text, *bounds)
        if not unicodedata.is_normalized("NFC", text):  # a Mac's decomposed й, as FTS5 reads it
            text = unicodedata.normalize("NFC", text)
        return self._pattern.search(letters_folded(text))  # its places shift: found or not


# The marks a word processor types for a keyboard's ' " and - (a paralegal's trial: `-F
# "Landlord's prior written consent"` missed every Word document, which wrote "Landlord’s").
_TYPESET = {
    **dict.fromkeys("'‘’", "['‘’]"),
    **dict.fromkeys('"“”„', '["“”„]'),
    **dict.fromkeys("-‐‑–—", "[-‐‑–—]"),
}


def _typeset(char: str) -> str:
    return _TYPESET.get(char) or re.escape(char)


def _written(part: str) -> str:
    """A blank-free part of a ``fixed_phrase`` as a pattern: its quote marks and dashes as
    any of their kind, its letters however accented (`-F Kundigung` missed "Kündigung", which
    a quoted phrase found: a paralegal's and a data analyst's trials), as the text it is
    searched in has the letters of ``LETTER_FOLDS`` plain."""
    if len(part) > MAX_ACCENT_BLIND_CHARS:  # as ``_spelled``: compiled in time, as written
        return "".join(map(_typeset, letters_folded(part)))
    return "".join(_TYPESET.get(c) or _letter(c) for c in fold(part))


# What a log or a config names exactly, that its words in any order do not find: an IPv4
# address (and port), a time of day to the second, a version of three parts. `10.20.30.51` found
# lines of 10.20.30.205 first, and `16:41:07` a changelog's "07:28:41" (an SRE's trial).
# Not a date written day.month.year (`25.05.1871`): a historian's query held it as a version,
# and left out the passages saying "25 May 1871".
_DOTTED_DATE = r"(?:0?[1-9]|[12]\d|3[01])\.(?:0?[1-9]|1[0-2])\.(?:1\d|20)\d\d(?![\w.:])"
_EXACT_TOKEN = re.compile(
    r"(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?|\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?"
    rf"|(?!{_DOTTED_DATE})v?\d+\.\d+\.\d+(?:[-+.][\w.]+)?)(?![\w.:])"
)
# An amount a contract or an invoice names exactly: money (`$4,400`, `€1.250,00`), a number
# with thousands (`187,400`), a section (`§11.2`, `§ 9`). A paralegal's `$4,400` ranked
# `$187,400` first, and `§11.2` a heading `11. Term` (its numbers as words in any order).
_AMOUNT = re.compile(
    # not after a number and a blank: "111 111 111 ..." tried from each number was quadratic
    r"(?<![\w.,])(?<!\d[ \u00a0\u202f])"
    # (possessive: giving a group back never lets the end's lookahead pass, and "$1.1.1..."
    # tried every way took seconds)
    r"(?:[$€£¥][ \t]?\d++(?:[.,]\d+)*+|\d{1,3}(?:,\d{3})+(?:\.\d+)?|§[ \t]*\d++(?:\.\d+)*+"
    # ...as Europe writes it: "1.250,00", its currency after ("2 500 €", "250,00 €"): a
    # bookkeeper's "1.250,00 €" ranked an invoice's "250,00 €" first
    r"|\d{1,3}(?:\.\d{3})+,\d{1,2}"
    r"|(?:\d{1,3}(?:[., \u00a0\u202f]\d{3})+|\d+)(?:[.,]\d{1,2})?[ \t\u00a0]?"
    r"(?:[€£$¥]|(?:EUR|USD|GBP|CHF|JPY)(?![\w])))"
    r"(?![\w.,]*\d)"
)
# An amount with its scale in words: "$2.4 million", "€1,5 Mio.", "$300k", "1.2bn USD": a
# journalist's "$2.4 million" found a contract's section "2.4", not its "USD 2,400,000".
_SCALES = {
    "thousand": 3,
    "k": 3,
    "million": 6,
    "millionen": 6,
    "mio": 6,
    "mn": 6,
    "m": 6,
    "billion": 9,
    "milliarde": 9,
    "milliarden": 9,
    "mrd": 9,
    "bn": 9,
}
_SCALED_AMOUNT = re.compile(
    r"(?i)(?<![\w.,])(?P<before>[$€£¥][ \t]?|(?:USD|EUR|GBP|CHF)[ \t]?)?"
    r"(?P<whole>\d{1,4})(?:[.,](?P<fraction>\d{1,3}))?[ \t]?"
    r"(?P<scale>thousand|millionen|million|milliarden|milliarde|billion|mio|mrd|mn|bn|m|k)\.?"
    r"(?![\w])(?P<after>[ \t]?(?:[€£$¥]|(?:EUR|USD|GBP|CHF|dollars?|euros?|pounds?)(?![\w])))?"
)
_SCALE_LETTERS = frozenset({"k", "m", "mn", "bn"})  # an amount's only with its currency: "2 m"
# A timestamp as data and logs write it, its date and time joined (`2024-01-01T11:06:38`, with a
# fraction or a zone after): a data scientist's pasted one found another row (the time alone is
# held by ``_EXACT_TOKEN``; with a "T" before it, it was no token).
_TIMESTAMP = re.compile(
    r"(?<![\w.:-])(?P<date>(?:1[0-9]|20)[0-9]{2}-[0-9]{2}-[0-9]{2})[T ]"
    r"(?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?)(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
    r"(?![\w.:])"
)
# A numbered thing a document refers to: `Question 3`, `Q3`, `Figure 8.3`, `Example 7.36`. A
# student's "Question 3" ranked Question 1's passage first (its "[3 marks]"), and named its
# line; not a chapter or a lecture, which a file's name may hold alone.
_NUMBERED = re.compile(
    r"(?i)(?<![\w.])(?:question|q|problem|exercise|example|figure|fig|table|theorem|lemma"
    r"|equation|eq)\.?[ \t]*[0-9]+(?:\.[0-9]+)*(?![\w.]*[0-9])"
)
# A clause, section or article a contract or a statute names: `clause 12.3`, `Section 4`,
# `Article 7`, `Art. 7`, `§ 573c`, `Ziffer 3.1`, `άρθρο 4`. A paralegal's "clause 12.3" ranked
# passages without it first, "Article 7" the "Article 9" holding "7 500 €", and `§ 573c` was
# held as "§ 573", which no passage holds as a word ("573c" is one). Held where a reference
# word stands before its number (any of them: "Section 12.3" finds "clause 12.3") or where a
# line begins with it ("12.3 Termination", "7. Term"); a number of two parts or more anywhere.
_REFERENCE_WORDS = (
    "clause|section|article|art\\.|paragraph|para\\.|§§?|¶|artikel|ziffer|ziff\\.|abschnitt"
    "|absatz|abs\\."
    "|articolo|art[ií]culo|cl[aá]usula|clausola|αρθρο|άρθρο|ορος|όρος|παραγραφος|παράγραφος"
    "|παρ\\.|статья|пункт|раздел"
)
# A number's suffix: a letter (`§ 573c`, `статья 5а`) or Latin's bis, ter... (`Article 12bis`,
# `article 5 ter`); a number followed by other letters (`section 5th`) is no reference.
_REFERENCE_SUFFIX = r"(?:[ \t]?(?:bis|ter|quater|quinquies|sexies)|[^\W\d_])(?![^\W\d_])"
_REFERENCE = re.compile(
    rf"(?i)(?<!\w)(?:{_REFERENCE_WORDS})\.?[ \t\u00a0]*"
    rf"(?P<number>\d++(?:\.\d+)*+(?:{_REFERENCE_SUFFIX})?)(?![^\W\d_])"
    r"(?![\w.]*\d)"
)
# An id a log or a trace writes: a UUID, or a run of 12 or more hex digits holding a digit and a
# letter (a request or trace id, a commit). An SRE's pasted request id printed unrelated access
# log lines, exit 0; held, nothing else is a hit.
_HEX_ID = re.compile(
    r"(?i)(?<![\w-])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|(?=[a-f]*[0-9])(?=[0-9]*[a-f])[0-9a-f]{12,})(?![\w-])"
)
# A name of capitalised parts joined by hyphens: an HTTP header (`Retry-After`, `X-Request-ID`,
# `Content-Type`), a double name (`Jean-Paul`). A Go developer's `Retry-After` ranked the retry
# code's "backoff" and tests first, its parts being common words there, and the two places
# sending the header nowhere.
_HYPHENATED_NAME = re.compile(r"(?<![\w-])[A-Z][A-Za-z0-9]*(?:-[A-Z][A-Za-z0-9]*)+(?![\w-])")
# ...held as a phrase in a query of at most this many other words: a pasted log line asks for
# its cause (a runbook), not for the line again.
MAX_WORDS_AROUND_EXACT = 4
# An amount of more digits than this is no money (a pasted id after "$"): its pattern of
# thousands took a second to compile at 20,000 digits.
MAX_AMOUNT_DIGITS = 18
# A query of more words than this holds no phrase but its quoted ones, read no further.
MAX_HELD_QUERY_WORDS = 64


def held_phrases(query: str) -> list[Phrase]:
    """``_held_phrases``, read once a query (ranking asks twice)."""
    return list(_held_once(query))


@functools.lru_cache(maxsize=64)
def _held_once(query: str) -> tuple[Phrase, ...]:
    return tuple(_held_phrases(query))


def _held_phrases(query: str) -> list[Phrase]:
    """The phrases every hit of ``query`` holds: its quoted ones (``quoted_phrases``), else, in
    a short query, the clauses, sections and articles it names (``_REFERENCE``), the
    addresses, times and versions (``_EXACT_TOKEN``), hyphenated names (``_HYPHENATED_NAME``:
    `Retry-After`), its amounts
    and sections (``_AMOUNT``), numbered questions, figures and the like (``_NUMBERED``) and
    the hex ids of logs and traces (``_HEX_ID``)."""
    quoted = quoted_phrases(query)
    if quoted or any(mark in query for mark in QUOTE_MARKS):
        return quoted
    if len(query.split()) > MAX_HELD_QUERY_WORDS:  # a pasted page: no short query's
        return []
    stamps = list(_TIMESTAMP.finditer(query))
    query = _TIMESTAMP.sub(" ", query)
    references = list(_REFERENCE.finditer(query))
    query = _REFERENCE.sub(" ", query)
    numbered = _NUMBERED.findall(query)
    query = _NUMBERED.sub(" ", query)
    ids = _HEX_ID.findall(query)
    query = _HEX_ID.sub(" ", query)
    names = _HYPHENATED_NAME.findall(query)
    query = _HYPHENATED_NAME.sub(" ", query)
    scaled = [found for found in _SCALED_AMOUNT.finditer(query) if _is_money(found)]
    for found in reversed(scaled):
        query = query[: found.start()] + " " + query[found.end() :]
    # Amounts first: "1.250.000 €" is no version 1.250.000 as well (which no "1,250,000" is)
    amounts = [a for a in _AMOUNT.findall(query) if sum(map(str.isdigit, a)) <= MAX_AMOUNT_DIGITS]
    query = _AMOUNT.sub(" ", query)
    exact = _EXACT_TOKEN.findall(query)
    others = _EXACT_TOKEN.sub(" ", query).split()
    held = exact or amounts or scaled or numbered or stamps or ids or references or names
    if not held or len(others) > MAX_WORDS_AROUND_EXACT:
        return []
    phrases = [_timestamp_phrase(stamp) for stamp in stamps]
    phrases += [_reference_phrase(reference) for reference in references]
    # A number ends where a longer one does not go on: "Figure 6" is not "Figure 6.1".
    phrases += [
        replace(phrase, pattern=re.compile(phrase.pattern.pattern + r"(?![.,:]\d)"))
        for phrase in _phrases_of(list(dict.fromkeys(numbered)))
    ]
    phrases += _phrases_of(list(dict.fromkeys(ids)))
    phrases += [_hyphenated_phrase(name) for name in dict.fromkeys(names)]
    phrases += [_amount_phrase(amount) for amount in dict.fromkeys(amounts)]
    phrases += [_scaled_phrase(found) for found in scaled]
    for token in dict.fromkeys(exact):
        core = re.match(r"[vV]?(\d+(?:[.:,]\d+)+)", token).group(1)  # not `-beta.4` after it
        numbers = re.findall(r"\d+", core)
        # Its numbers in order, not inside longer ones; letters may stand next to it (`v2.13.0`,
        # `2024-05-03T16:41:07Z`): an SRE's changelog headed "## v2.13.0" was left out.
        body = r"[.:,]".join(numbers[:-1]) + (r"[.:,]" if len(numbers) > 1 else "") + numbers[-1]
        last = re.escape(re.findall(r"[.:]", core)[-1])  # a port or a fraction may follow
        # `nginx:1.25.3`, `host:10.0.0.1`: only a number before it makes it another one
        pattern = re.compile(rf"(?<!\d)(?<!\d[.:]){body}(?!\d)(?!{last}\d)")
        phrases.append(Phrase(token, pattern, glued=True))
    return phrases


def _timestamp_phrase(stamp: re.Match[str]) -> Phrase:
    """A timestamp (``_TIMESTAMP``) as a phrase: its date, "T" or a blank, its time, not inside
    a longer number (`11:06:38` is not `11:06:381`); a fraction or zone may follow."""
    date, time = (re.escape(stamp.group(part)) for part in ("date", "time"))
    pattern = re.compile(rf"(?<![0-9]){date}[t ]{time}(?![0-9]|[:][0-9])")  # folded: "t"
    minutes = stamp.group("time").split(":")[1:]  # words of their own however it is joined
    return Phrase(stamp.group(0), pattern, terms=tuple(part[:2] for part in minutes))


def _hyphenated_phrase(name: str) -> Phrase:
    """A hyphenated name (``_HYPHENATED_NAME``) as a phrase: its parts joined by a hyphen (or
    a dash of its kind) or by nothing, not by a space ("retry after a failure" is no
    `Retry-After`)."""
    [phrase] = _phrases_of([name])
    parts = _PHRASE_WORD.findall(fold(name))
    body = "[-‐‑–]?".join(re.escape(part) for part in parts)  # "WiFi" is `Wi-Fi` too
    return replace(phrase, pattern=re.compile(rf"(?<![^\W_]){body}(?![^\W_])"))


def _reference_phrase(reference: re.Match[str]) -> Phrase:
    """A reference (``_REFERENCE``) as a phrase: its number after any reference word, or
    beginning a line (an integer followed by "." or ")": "7. Term", not "7 500 €"), or, of two
    parts or more, anywhere; not inside a longer number ("12.3" is not "12.30" nor "12.3.1")."""
    number = fold(reference.group("number"))
    parts = re.findall(r"\d+|[^\W\d_]+", number)
    suffix = parts[-1] if not parts[-1].isdigit() else ""
    body = r"\.".join(re.findall(r"\d+", number)) + (rf"\s?{suffix}" if len(suffix) > 1 else suffix)
    end = r"(?![\w])(?![.,]\d)"
    words = fold(_REFERENCE_WORDS)
    starts = rf"(?<![\w.,])(?:{words})\.?\s*{body}{end}"
    if "." in number:
        starts += rf"|(?<![\w.,]){body}{end}"
    else:
        starts += rf"|^[ \t#*>(\[]*{body}(?:[.)\]])(?!\d)"
    terms = tuple(_PHRASE_WORD.findall(number))  # "12", "3"; "573c"
    return Phrase(reference.group(), re.compile(starts, re.MULTILINE), terms=terms, heads=True)


def _amount_phrase(amount: str) -> Phrase:
    """An amount (``_AMOUNT``) as a phrase: its numbers in order, "." or "," between them (as
    countries write them), not inside longer numbers; cents may follow (`$4,400` holds
    "$4,400.00"); the currency or `§` need not stand before it ("Section 11.2")."""
    numbers = re.findall(r"\d+", amount)
    zero_cents = len(numbers) > 1 and numbers[-1] == "00"  # "1.250,00" is `€1,250` too
    if zero_cents:
        numbers = numbers[:-1]
    # A group of thousands after ".", "," or a space as French writes it ("2 500 €" is
    # `€2,500`: a paralegal's found one way only), or none (a bank's "2500,00": a
    # bookkeeper's); cents after "." or ",".
    # A number written without them may be written with them: "2500 €" is "2.500,00 €".
    first = numbers[0].lstrip("0") or "0"
    lead = len(first) % 3 or 3
    thousands = [first[:lead]] + [first[at : at + 3] for at in range(lead, len(first), 3)]
    body = r"[.,\s\u202f]?".join(thousands) + "".join(
        (r"[.,\s\u202f]?" if len(group) == 3 else r"[.,]") + group for group in numbers[1:]
    )
    if len(numbers) > 1 and len(numbers[-1]) == 1:  # "1,5 €" is "1,50 €"
        body += "0?"
    two_digits = len(numbers[-1]) == 2 and len(numbers) > 1
    cents = r"(?:[.,]\d{1,2})?" if amount[:1] not in "§" and not two_digits else ""
    if zero_cents:
        cents = r"(?:[.,]00?)?"
    # not the end of a longer one: "1.250", "1 250" (a French 1,250) hold no `250`
    pattern = re.compile(rf"(?<!\d)(?<!\d[.,\s\u202f]){body}{cents}(?!\d)(?![.,]\d)")
    forms = dict.fromkeys(f'"{form}"' for form in _amount_words(amount))
    return Phrase(amount, pattern, fts="(" + " OR ".join(forms) + ")")


def _is_money(found: re.Match[str]) -> bool:
    """Whether a number and a scale (``_SCALED_AMOUNT``) are an amount: its scale a word, or
    a currency with it ("$2m", not "2 m of pipe")."""
    scale = found.group("scale").lower().rstrip(".")
    return scale not in _SCALE_LETTERS or bool(found.group("before") or found.group("after"))


def _scaled_phrase(found: re.Match[str]) -> Phrase:
    """An amount with its scale in words (``_SCALED_AMOUNT``) as a phrase: written so, with
    any word of its scale ("2.4 million", "2,4 Mio.", "2.4m"), or as its whole number with or
    without thousands' separators ("2,400,000", "2.400.000 €", "2400000")."""
    whole, fraction = found.group("whole"), found.group("fraction") or ""
    scale = found.group("scale").lower().rstrip(".")
    words = [word for word, power in _SCALES.items() if power == _SCALES[scale]]
    as_said = rf"{whole}[.,]{fraction}" if fraction.strip("0") else rf"{whole}(?:[.,]0+)?"
    said = rf"(?<![\d.,]){as_said}[ \t]?(?:{'|'.join(words)})\.?(?![a-z])"
    digits = _scaled_digits(found)
    lead = len(digits) % 3 or 3
    thousands = [digits[:lead]] + [digits[at : at + 3] for at in range(lead, len(digits), 3)]
    number = r"[.,\s\u202f]?".join(thousands)
    written = rf"(?<!\d)(?<!\d[.,\s\u202f]){number}(?:[.,]\d{{1,2}})?(?!\d)(?![.,]\d)"
    pattern = re.compile(f"{said}|{written}")
    spoken = f"{whole} {fraction}".strip()
    forms = dict.fromkeys([digits, " ".join(thousands), spoken, *(f"{spoken}{w}" for w in words)])
    return Phrase(found.group(), pattern, fts="(" + " OR ".join(f'"{f}"' for f in forms) + ")")


def _scaled_digits(found: re.Match[str]) -> str:
    """The whole number an amount with its scale in words stands for: "2.4 million" 2400000."""
    fraction = found.group("fraction") or ""
    power = _SCALES[found.group("scale").lower().rstrip(".")]
    digits = (found.group("whole") + fraction.ljust(power, "0")[:power]).lstrip("0")
    return digits or "0"


def _amount_words(amount: str) -> tuple[str, str]:
    """FTS5's words of an amount's whole number (``_AMOUNT``), joined ("4400,00": "4400") and
    in thousands ("$4,400", "4 400 €": "4 400"); its cents may not be written ("€1,250" is
    1.250,00 €)."""
    numbers = re.findall(r"\d+", amount)
    groups = list(itertools.takewhile(lambda group: len(group) == 3, numbers[1:]))
    first = numbers[0] + "".join(groups)
    first = first.lstrip("0") or "0"
    lead = len(first) % 3 or 3
    thousands = [first[:lead]] + [first[at : at + 3] for at in range(lead, len(first), 3)]
    return first, " ".join(thousands)


def amount_words(query: str) -> str:
    """``query`` with its held amounts' numbers in both ways FTS5 may hold them
    (``_amount_words``), for BM25: "$4400" found no "$4,400" (its words "4" and "400")."""
    held = {phrase.text for phrase in held_phrases(query)}  # a short query's, as phrases are
    forms = [
        form
        for found in _AMOUNT.finditer(query)
        if found.group() in held
        for form in _amount_words(found.group())
    ]
    forms += [_scaled_digits(m) for m in _SCALED_AMOUNT.finditer(query) if m.group() in held]
    return " ".join([query, *dict.fromkeys(forms)])


def _phrases_of(texts: list[str]) -> list[Phrase]:
    """A phrase of each of ``texts`` that holds a word."""
    phrases: list[Phrase] = []
    for quoted in texts:
        words = _PHRASE_WORD.findall(cjk_spaced(fold(quoted)))  # 東京: two words, as FTS5's
        if words:
            body = r"[\W_]+".join(re.escape(word) for word in words)
            pattern = re.compile(rf"(?<![^\W_]){body}(?![^\W_])")
            names = dict.fromkeys(n for n in _CONSTANT.findall(quoted) if n.isupper())
            literal = tuple(re.compile(rf"(?<!\w){re.escape(n)}(?!\w)") for n in names)
            flags = dict.fromkeys(_FLAG.findall(quoted))
            literal += tuple(re.compile(rf"(?<![\w-]){re.escape(f)}(?![\w-])") for f in flags)
            phrases.append(Phrase(quoted, pattern, literal))
    return phrases


# What parts two words of a query, so that no trigram spans it: punctuation other than a word's
# own ("don't", "high-speed", "os.path", "a/b"), or a full stop before a space.
_PARTING = re.compile(r"""[,;:!?()\[\]{}<>"|=`]|\.\s""")
# A word of word order: as ``_PHRASE_WORD``'s, but a snake_case name is one (``is_closed``;
# ``_loop`` is "loop"): "loop is closed", pasted from "Event loop is closed", was held by every
# ``self._loop.is_closed()``, so the line raising it no longer counted as one of few holders.
_ORDER_WORD = re.compile(r"[^\W_]+(?:_+[^\W_]+)*")
MAX_TRIGRAMS = 64  # a pasted page is weighed by its first ones, as its lexical query is
Trigram = tuple[str, str, str]


# A date a query spells with its month's name: "November 3", "Nov 3rd, 2026", "3 November",
# "the 3rd of Nov". Daily notes are named by the ISO date (`2026-11-03.md`), which no word of
# it matched.
_MONTHS = (
    "january february march april may june july august september october november december"
).split()
_MONTH = (
    r"(?P<{}>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?P<{}>[12][0-9]|3[01]|0?[1-9])(?:st|nd|rd|th)?"
# Any year of four digits: a historian's "18 March 1871", its year not read, named the daily
# note 2024-03-18.md.
_YEAR = r"(?:,?[ \t]+(?P<{}>(?:1[0-9]|20)[0-9]{{2}}))?"
_DATE = re.compile(
    rf"(?i)\b(?:{_MONTH.format('m1')}[ \t]+{_DAY.format('d1')}{_YEAR.format('y1')}"
    rf"|{_DAY.format('d2')}[ \t]+(?:of[ \t]+)?{_MONTH.format('m2')}{_YEAR.format('y2')})(?![\w:])"
)


# A whole date, its year too: a passage holding that date however it writes it ranks above
# those sharing some of its numbers (a paralegal's "April 28, 2025" ranked "February 28, 2025"
# first, and `2025-04-28` a timesheet's "2025-04-14" line, not the notes saying "April 28,
# 2025"). Not a filter: a daily note named 2024-01-17.md holds its date in its name alone.
_FULL_DATE = re.compile(
    r"(?i)(?<![\w.:/-])(?:"
    + _MONTH.format("m1")
    + r"[ \t]+"
    + _DAY.format("d1")
    + r",?[ \t]+(?P<y1>(?:1[0-9]|20)[0-9]{2})|"
    + _DAY.format("d2")
    + r"\.?[ \t]+(?:of[ \t]+)?"
    + _MONTH.format("m2")
    + r",?[ \t]+(?P<y2>(?:1[0-9]|20)[0-9]{2})"
    r"|(?P<y3>(?:1[0-9]|20)[0-9]{2})-(?P<m3>0?[1-9]|1[0-2])-(?P<d3>0?[1-9]|[12][0-9]|3[01])"
    r"|(?P<d4>0?[1-9]|[12][0-9]|3[01])\.(?P<m4>0?[1-9]|1[0-2])\.(?P<y4>(?:1[0-9]|20)[0-9]{2})"
    r"|(?P<a5>[0-9]{1,2})/(?P<b5>[0-9]{1,2})/(?P<y5>(?:1[0-9]|20)[0-9]{2})"
    r")(?![\w.:/-]*[0-9])"
)


DATE_WEIGHT = 0.5  # times the share of the query's dates a passage holds, as tags add
REFERENCE_WEIGHT = 0.5  # times the share of the query's clauses whose heading a passage holds


def query_date_patterns(query: str, order: str | None = None) -> list[re.Pattern[str]]:
    """A pattern for each whole date ``query`` names (``_FULL_DATE``), that finds it however
    a passage writes it (case-blind, in a text less its accents: ``plain``); and for each day
    it names by its month without a year ("March 11"), in any year (an ecologist's "what did I
    do on March 11" ranked a CSV row of 2020-04-11 above the notebook's "## 2024-03-11").
    ``order``: how the passage writes a date with slashes (``slash_order``), "dmy" or "mdy";
    None where it does not tell (both are found)."""
    found = [_date_pattern(match, order) for match in _FULL_DATE.finditer(query)]
    for match in _DATE.finditer(query):
        month = match.group("m1") or match.group("m2")
        if match.group("y1") or match.group("y2") or month == "may":  # "I may 3 times"
            continue
        day = int(match.group("d1") or match.group("d2"))
        forms = _date_forms(_ANY_YEAR, _month_number(month), day, yearless=True, order=order)
        found.append(re.compile("(?i)" + "|".join(forms)) if forms else None)
    return [pattern for pattern in found if pattern is not None]


_SLASHED = re.compile(r"(?<![0-9/])([0-9]{1,2})/([0-9]{1,2})/(?:1[0-9]|20)[0-9]{2}(?![0-9])")


def slash_order(text: str) -> str | None:
    """How ``text`` writes dates with slashes, where one of them tells: "dmy" (24/11/2023, as
    a WhatsApp chat exported in Europe has them), "mdy" (11/24/2023); None where none tells,
    or they disagree. "12/03/2023" of a chat holding "24/11/2023" is March 12th, and was
    found for "December 3 2023" (a product manager's trial)."""
    day_first = month_first = False
    for first, second in _SLASHED.findall(text):
        day_first |= int(first) > 12 >= int(second)
        month_first |= int(second) > 12 >= int(first)
    if day_first == month_first:
        return None
    return "dmy" if day_first else "mdy"


class DatePatterns:
    """The query's dates (``query_date_patterns``) for each way a passage may order slashed
    dates, made once a query."""

    def __init__(self, query: str) -> None:
        self._query = query
        self._made: dict[str | None, list[re.Pattern[str]]] = {}
        self.any = self.of_order(None)

    def of_order(self, order: str | None) -> list[re.Pattern[str]]:
        if order not in self._made:
            self._made[order] = query_date_patterns(self._query, order)
        return self._made[order]

    def found_in(self, text: str) -> set[int]:
        """Which of the query's dates (their places in ``any``) ``text`` (plain) holds, read
        as its slashed dates are."""
        if not self.any:
            return set()
        patterns = self.of_order(slash_order(text)) if "/" in text else self.any
        return {n for n, pattern in enumerate(patterns) if pattern.search(text)}


def without_dates(query: str) -> str:
    """``query`` less the dates ``query_date_patterns`` finds whole, for BM25: their numbers
    as loose words ("4", "2024") are any amount's and every dated row's."""
    if not query_date_patterns(query):
        return query
    query = _FULL_DATE.sub(" ", query)
    return _DATE.sub(
        lambda m: m.group() if (m.group("m1") or m.group("m2")) == "may" else " ", query
    )


_ANY_YEAR = "(?:1[0-9]|20)[0-9]{2}"


def _date_pattern(found: re.Match[str], order: str | None = None) -> re.Pattern[str] | None:
    """The date ``found`` (``_FULL_DATE``) in any of the ways it is written: "April 28, 2025",
    "Apr. 28th, 2025", "28 April 2025" (and in German, French, Spanish, Italian), "2025-04-28",
    "28.04.2025", "04/28/2025"; None for a day no month has. 3/4/2025 is March 4th or April
    3rd."""
    days = _days_of(found)
    forms = [
        form for year, month, day in days for form in _date_forms(year, month, day, order=order)
    ]
    return re.compile("(?i)" + "|".join(forms)) if forms else None


def _days_of(found: re.Match[str]) -> list[tuple[str, int, int]]:
    """The days a whole date (``_FULL_DATE``) may be, each ``(year, month, day)``: 3/4/2025
    both ways round."""
    year = next(found.group(f"y{n}") for n in range(1, 6) if found.group(f"y{n}"))
    named = found.group("m1") or found.group("m2")
    if named:
        days = [(_month_number(named), int(found.group("d1") or found.group("d2")))]
    elif found.group("y3"):
        days = [(int(found.group("m3")), int(found.group("d3")))]
    elif found.group("y4"):
        days = [(int(found.group("m4")), int(found.group("d4")))]
    else:
        first, second = int(found.group("a5")), int(found.group("b5"))
        days = [(first, second), (second, first)]
    return [(year, month, day) for month, day in dict.fromkeys(days)]


def _date_forms(
    year: str, month: int, day: int, *, yearless: bool = False, order: str | None = None
) -> list[str]:
    """The ways a day is written, each a pattern: with its month's name (in English, German,
    French, Spanish, Italian), and in numbers with ``year`` (a year's digits, or a pattern of
    any year); ``yearless``: its name's forms need no year after them; ``order``: "dmy" or
    "mdy", the one way slashed dates are read (``slash_order``). [] for a day its month does
    not have (February 30th)."""
    try:
        datetime.date(2024 if yearless else int(year), month, day)  # a leap year: Feb. 29th
    except ValueError:
        return []
    full = _MONTHS[month - 1]
    sept = r"|sept\.?" if month == 9 else ""
    name = rf"(?:{full}|{full[:3]}\.?{sept}|{_MONTHS_ABROAD[month - 1]})"
    d, m, nth = f"0?{day}", f"0?{month}", r"(?:st|nd|rd|th|er)?"
    then = "(?![0-9])" if yearless else rf",?[ \t]+{year}(?![0-9])"
    written = "(?![a-z])" if yearless else rf",?[ \t]+(?:de[ \t]+)?{year}(?![0-9])"
    apart = "[.-]" if order == "mdy" else "[./-]"  # 24.11.2023 is day first, whatever order
    return [
        rf"(?<![a-z]){name}[ \t]+{d}{nth}{then}",
        rf"(?<![0-9]){d}{nth}\.?[ \t]+(?:(?:of|de)[ \t]+)?{name}{written}",
        rf"(?<![0-9])(?<![0-9][./-]){year}[-/.]{m}[-/.]{d}(?![0-9])(?![./-][0-9])",
        rf"(?<![0-9])(?<![0-9][./-]){d}{apart}{m}{apart}{year}(?![0-9])(?![./-][0-9])",
        *(
            [rf"(?<![0-9])(?<![0-9][./-]){m}/{d}/{year}(?![0-9])(?![./-][0-9])"]
            if order != "dmy"
            else []
        ),
    ]


# The months in German, French, Spanish and Italian, as a passage folded reads them (`März`,
# `août`): a historian's "25.05.1871" is "am 25. Mai 1871" in a German source.
_MONTHS_ABROAD = (
    "januar|janvier|enero|gennaio",
    "februar|fevrier|febrero|febbraio",
    "marz|mars|marzo",
    "avril|abril|aprile",
    "mai|mayo|maggio",
    "juni|juin|junio|giugno",
    "juli|juillet|julio|luglio",
    "aout|agosto",
    "septembre|septiembre|settembre",
    "oktober|octobre|octubre|ottobre",
    "novembre|noviembre",
    "dezember|decembre|diciembre|dicembre",
)


def _month_number(name: str) -> int:
    return next(n for n, full in enumerate(_MONTHS, 1) if full.startswith(name.lower()[:3]))


def query_days(query: str) -> list[tuple[str | None, int, int]]:
    """The days ``query`` names as ``query_date_patterns`` finds them, each ``(year, month,
    day)``: a whole date's year, or None for a day named by its month alone ("March 11");
    03/04/2025 both ways round."""
    days: list[tuple[str | None, int, int]] = []
    for found in _FULL_DATE.finditer(query):
        days += _days_of(found)
    for found in _DATE.finditer(query):
        month = found.group("m1") or found.group("m2")
        if found.group("y1") or found.group("y2") or month == "may":  # "I may 3 times"
            continue
        days.append((None, _month_number(month), int(found.group("d1") or found.group("d2"))))
    return [day for day in dict.fromkeys(days) if 1 <= day[1] <= 12 and 1 <= day[2] <= 31]


def month_words(month: int) -> list[str]:
    """The words a passage (folded, as FTS5 holds it) may name ``month`` (1-12) by: its
    number, with and without a leading 0, its English name and abbreviation, its names in
    German, French, Spanish and Italian."""
    full = _MONTHS[month - 1]
    sept = ["sept"] if month == 9 else []
    names = [full, full[:3], *sept, *_MONTHS_ABROAD[month - 1].split("|")]
    return list(dict.fromkeys([f"{month:02d}", str(month), *names]))


def day_words(day: int) -> list[str]:
    """The words a passage (as FTS5 holds it) may name a month's ``day`` by: 04, 4, 4th
    (1st, 2nd, 3rd; French 1er)."""
    nth = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return list(
        dict.fromkeys([f"{day:02d}", str(day), f"{day}{nth}", *(["1er"] if day == 1 else [])])
    )


def name_dates(query: str) -> list[str]:
    """The days ``query`` names (``query_days``, and those ``query_dates`` reads) as the words
    a file's name holds them in a row: `2026 11 03` (or `11 03` without a year) as ISO writes
    them, and `november 3 2026`, `3 november 2026`, `nov 3 2026` as a title writes them."""
    names = list(query_dates(query))
    for year, month, day in query_days(query):
        if year is None:
            continue
        names.append(f"{year} {month:02d} {day:02d}")
        for word in (_MONTHS[month - 1], _MONTHS[month - 1][:3]):
            names += [f"{word} {day} {year}", f"{day} {word} {year}"]
    return list(dict.fromkeys(names))


def query_dates(query: str) -> list[str]:
    """The dates ``query`` spells with a month's name, as the words of their ISO form
    (`2026 11 03`, or `11 03` without a year): a file name holding those in a row is that
    day's note."""
    dates = []
    for found in _DATE.finditer(query):
        month = found.group("m1") or found.group("m2")
        if month == "may":  # "I may 3 times": the month is written "May"
            continue
        day = int(found.group("d1") or found.group("d2"))
        year = found.group("y1") or found.group("y2")
        number = next(n for n, name in enumerate(_MONTHS, 1) if name.startswith(month.lower()[:3]))
        dates.append(" ".join(filter(None, (year, f"{number:02d}", f"{day:02d}"))))
    return list(dict.fromkeys(dates))


# An Obsidian tag in a query (`#sleep`, `#project/alpha`): a letter first, then letters, digits,
# `_`, `-` and `/` (nested tags); not an issue's `#123`, nor `C#`.
_QUERY_TAG = re.compile(r"(?<![\w&#])#([^\W\d][\w/-]*)")
TAG_WEIGHT = 0.5  # times the share of the query's tags a passage holds, as definitions add


def query_tags(query: str) -> list[str]:
    """The tags ``query`` names (`#sleep`), each once, without their "#"."""
    return list(dict.fromkeys(tag.rstrip("/-") for tag in _QUERY_TAG.findall(query)))


@functools.lru_cache(maxsize=64)
def tag_pattern(tag: str) -> re.Pattern[str]:
    """``#tag`` in a text as a tag, case-blind: itself or a tag nested in it (`#project` in
    `#project/alpha`), not a longer one (`#sleepy`) nor part of a word or a URL's fragment;
    or an Org heading's or file's tag (`* Mills :lodz:textiles:`, `#+FILETAGS: :lodz:`: a
    historian's `#lodz` knew Markdown's tags alone)."""
    word = re.escape(tag)
    org = rf"^(?:\*+[ \t].*?[ \t]|#\+FILETAGS:[ \t]*):(?:[\w@#%]+:)*?{word}:(?:[\w@#%]+:)*[ \t]*$"
    return re.compile(rf"(?im)(?<![\w&#/])#{word}(?![\w-])|{org}")


def query_trigrams(query: str) -> frozenset[Trigram]:
    """The query's words three in a row (folded, as ``Phrase`` compares them), not across
    punctuation that parts them ("Error: No such option: --foo" has one: no such option), nor
    three function words ("out of the")."""
    found: dict[Trigram, None] = {}
    # Folded whole, as a passage's text is: Σ lower-cases to σ or ς by what follows it.
    for part in _PARTING.split(fold(query)):
        words = _ORDER_WORD.findall(cjk_spaced(part))
        for trigram in zip(words, words[1:], words[2:]):
            if not all(word in FUNCTION_WORDS for word in trigram):
                found.setdefault(trigram, None)
    return frozenset(list(found)[:MAX_TRIGRAMS])


def held_trigrams(trigrams: frozenset[Trigram], text: str) -> set[Trigram]:
    """Those of ``trigrams`` whose words ``text`` holds in a row (anything but a letter or digit
    between them: "option: {name}" holds "option" then "name"). A placeholder of a format
    string in ``text`` (``{key}``, ``{0.url}``, ``%s``, ``%(name)d``) stands for any one word
    of a trigram (``_with_slots``), so the message pasted with its values, "Config 'PORT' has
    value", is held by the line that prints f"Config '{key}' has value"."""
    written, slotted = held_trigrams_by_kind(trigrams, text)
    return written | slotted


def held_trigrams_by_kind(
    trigrams: frozenset[Trigram], text: str
) -> tuple[set[Trigram], set[Trigram]]:
    """``held_trigrams``, as (those ``text`` holds as written, those it holds only with a
    placeholder standing for a word)."""
    if not trigrams:
        return set(), set()
    slotted = _PLACEHOLDER.sub(_SLOT_SPACED, text)
    words = _phrase_words(slotted)
    found = set(zip(words, words[1:], words[2:]))
    written = trigrams & found
    if slotted is text or _SLOT not in words:
        return written, set()
    others = trigrams - written
    return written, {t for t in others if not found.isdisjoint(_with_slots(t))}


# Placeholders of format strings: Python's str.format and f-strings ("{}", "{key}",
# "{0.url!r}"; no spaces inside, which a dict or a code block has), and printf's ("%s", "%d",
# "%(name)s", "%-10.3f").
_PLACEHOLDER = re.compile(
    r"\{[^{}\s]{0,40}\}"  # str.format, f-strings
    r"|%(?:\([\w.]{1,40}\))?[-+#0]?\d*(?:\.\d+)?[sdrifgxXc]"  # printf ("5% speed": no)
)
_SLOT = "qqslotqq"  # a word no query holds
_SLOT_SPACED = f" {_SLOT} "


def _with_slots(trigram: Trigram) -> list[Trigram]:
    """``trigram`` with one of its words a placeholder's, where the two left are not both
    function words. Two placeholders and one word, or "%s of the", is held by any format
    string near that word: "tar exclude directory" was held by tar's manual page for its
    "%s: Directory has been renamed from %s" and came first for a query it does not answer."""
    a, b, c = trigram
    s = _SLOT
    slotted = [(s, b, c), (a, s, c), (a, b, s)]
    return [t for t in slotted if not all(w in FUNCTION_WORDS or w == s for w in t)]


# ASCII's letters, digits and "_", everything else a space: ``_ORDER_WORD``'s words of ASCII
# text, split 3.7x faster (the candidates of every hybrid query are read so: 7.7 -> 2.1 ms for
# 200), less the underscores around them.
_ASCII_WORD_BYTES = bytes(
    c if (chr(c).isalnum() or chr(c) == "_") and c < 128 else 32 for c in range(256)
)


def _phrase_words(text: str) -> list[str]:
    folded = fold(text)
    if folded.isascii():
        words = folded.encode().translate(_ASCII_WORD_BYTES).decode().split()
        if "_" not in folded:
            return words
        return [bare for word in words if (bare := word.strip("_"))]
    return _ORDER_WORD.findall(cjk_spaced(folded))


class BestLine:
    """Finds the line of a passage that holds the query's words of most weight (their idf in
    the index: "rotate" and "keys" outweigh "how", "do" and "the"), each word counted once a
    line; the passage's first when none holds a word. Of lines of equal weight: the one
    holding more of it as whole names (``cell_len`` in ``def cell_len(``, not in
    ``_cell_len(``, a word's whole to grep -w), then the one defining them (``def``, ``class``),
    then the one heading a section with them, then the first. A line holding more of the quoted
    phrases comes before all, then one holding more of the query's words three in a row
    (``trigrams``: the line raising "No such option", not the docstring above it saying
    "option"), then one defining more of the names it spells as code (``definitions``,
    ``definitions.defining``: `def print(` for "Console.print", not its docstring's "Print to
    the console")."""

    def __init__(
        self,
        weights: dict[str, float],
        phrases: Sequence[Phrase] = (),
        trigrams: frozenset[Trigram] = frozenset(),
        definitions: Sequence[re.Pattern[str]] = (),
        elsewhere: Callable[..., set[int]] | None = None,
        syntax_definitions: Mapping[str, Sequence[re.Pattern[str]]] | None = None,
        tags: Sequence[str] = (),
        dates: Sequence[re.Pattern[str]] = (),
    ) -> None:
        """``elsewhere``: a text's lines (from 0) whose definitions are not the ones asked for
        (``definitions.defined_elsewhere``: a method of another class);
        ``syntax_definitions``: ``definitions`` as a JavaScript, TypeScript or settings file
        has them (``line``'s ``syntax``); ``tags``: the query's (``query_tags``), a line holding
        one counted as one holding a quoted phrase (a `#sleep` query named a note's heading,
        "Sleep", not the line tagging it), and so is one holding a date of ``dates``
        (``query_date_patterns``: the timesheet's "2025-04-28" line, not its "2025-04-14")."""
        self._phrases = phrases
        self._tags = [tag_pattern(plain(tag)) for tag in tags]  # lines are plain's: "#café"
        self._tags += list(dates)
        self._trigrams = trigrams
        self._definitions = definitions
        self._syntax_definitions = syntax_definitions or {}
        self._elsewhere = elsewhere
        # Matched in the passage's text less its accents (``plain``), not by a class of its
        # accented forms per letter: compiling those took 10 ms a word, half of `search eval`.
        self._words = [
            (word.casefold(), _plain_patterns(word), weight)
            for word, weight in weights.items()
            if weight > 0
        ]

    def line(self, text: str, first_line: int, taken: Container[int] = (), syntax: str = "") -> int:
        """The line; one not in ``taken`` (named by a hit before, of an overlapping passage of
        the same file) where one of those holds a word: `path:line` came out twice.
        ``syntax``: the file's (``outline.syntax_of``), "" for most."""
        lines = plain(text).split("\n")
        definitions = self._syntax_definitions.get(syntax, self._definitions)
        elsewhere = set()
        if self._elsewhere and definitions:
            elsewhere = self._elsewhere(text, syntax)
        best = self._best(lines, first_line, (), elsewhere, definitions)
        if best is None:
            return first_line
        if best in taken:
            other = self._best(lines, first_line, taken, elsewhere, definitions)
            starts = self._phrase_starts(lines) if other is not None and self._phrases else {}
            if best - first_line in starts and other - first_line not in starts:
                # No other line holds the phrase: this passage holds the one a hit named (an
                # overlapping passage named a line without it: a data scientist's -F).
                return best
            return other or best
        return best

    def _best(
        self,
        lines: list[str],
        first_line: int,
        taken: Container[int],
        elsewhere: Container[int] = (),
        definitions: Sequence[re.Pattern[str]] = (),
    ) -> int | None:
        best, most = None, (0, 0, 0, 0.0, 0.0, 0.0, 0.0)
        starts = self._phrase_starts(lines)
        for number, line in enumerate(lines, start=first_line):
            if number in taken:
                continue
            quoted = starts.get(number - first_line, 0)
            quoted += sum(1 for tag in self._tags if tag.search(line))
            in_order = len(held_trigrams(self._trigrams, line))
            defines = 0
            if number - first_line not in elsewhere:
                defines = sum(1 for pattern in definitions if pattern.search(line))
            weight = whole = defined = headed = 0.0
            folded_line = line.casefold()  # a first look: ß, ſ and ς as (?i) reads them
            for folded, (word, name, definition, heading), word_weight in self._words:
                if folded in folded_line and word.search(line):
                    weight += word_weight
                    if name.search(line):
                        whole += word_weight
                        defined += word_weight if definition.search(line) else 0.0
                        headed += word_weight if heading.search(line) else 0.0
            if (quoted, in_order, defines, weight, whole, defined, headed) > most:
                best, most = number, (quoted, in_order, defines, weight, whole, defined, headed)
        return best

    def phrase_lines(self, text: str, first_line: int) -> list[int]:
        """The lines of ``text`` (numbered from ``first_line``) where a match of one of the
        phrases begins, in order."""
        starts = self._phrase_starts(plain(text).split("\n"))
        return [first_line + index for index in sorted(starts)]

    def _phrase_starts(self, lines: list[str]) -> dict[int, int]:
        """{line index: how many of the phrases a match of begins on it}: a phrase broken
        over two lines counts at its first (it was in neither alone, and the hit named the
        line of its last words)."""
        if not self._phrases:
            return {}
        text = cjk_spaced(fold("\n".join(lines)))  # both keep the line ends
        starts: dict[int, int] = {}
        for phrase in self._phrases:
            found = {
                (text.count("\n", 0, m.start()), m.group().count("\n") + 1)
                for m in phrase.pattern.finditer(text)
            }
            # Its names as written there (`"NO_COLOR"` named `self.no_color = (` above it).
            holding = {
                index
                for index, spans in found
                if all(n.search("\n".join(lines[index : index + spans])) for n in phrase.names)
            }
            begun = set()
            if phrase.heads:
                begun = {
                    text.count("\n", 0, m.start())
                    for m in phrase.pattern.finditer(text)
                    if not text[text.rfind("\n", 0, m.start()) + 1 : m.start()].strip()
                }
            for index in holding:
                starts[index] = starts.get(index, 0) + (2 if index in begun else 1)
        return starts


# ``_whole``'s bounds, compiled once: its classes of CJK ranges took ~2 ms to compile in each
# word's pattern, 13 ms of a 67 ms warm REPL query on Cranfield's many words.
_STARTS, _ENDS = re.compile(_START_BOUND), re.compile(_END_BOUND)


class _WholeWord:
    """``word_pattern(word).search`` in ``plain`` text: the word found case-blind, each place
    checked against the bounds of ``_whole``."""

    def __init__(self, word: str) -> None:
        self._find = re.compile("(?i)" + re.escape(word))

    def search(self, line: str) -> bool:
        at = 0
        while (found := self._find.search(line, at)) is not None:
            if _STARTS.match(line, found.start()) and _ENDS.match(line, found.end()):
                return True
            at = found.start() + 1
        return False


@functools.lru_cache(maxsize=1024)
def _plain_patterns(word: str) -> tuple[re.Pattern[str], ...]:
    """``word`` (folded) in ``plain`` text: as a whole word (``word_pattern``'s bounds), as a
    whole name (no letter, digit or ``_`` next to it), as a name code defines there, and in a
    heading."""
    name = rf"(?<!\w){re.escape(word)}(?!\w)"
    return (
        _WholeWord(word),
        re.compile(f"(?i){name}"),
        re.compile(f"(?i){DEFINES}{name}|{name}[ \t]*<<?-[ \t]*function\\b"),  # R's too
        re.compile(f"(?i){_HEADING}{name}"),
    )


def plain(text: str) -> str:
    """``text`` with its Latin and Greek letters' accents dropped, in their case (camelCase
    joins stay)."""
    text = unicodedata.normalize("NFC", text)
    if text.isascii():
        return text
    return _COMBINING_MARKS.sub("", letters_folded(text.translate(_unaccenting())))


@functools.cache
def _unaccenting() -> dict[int, str]:
    """``str.translate``'s table: each accented letter of ``_accented`` -> its ASCII letter, in
    its case."""
    return {
        ord(char): base.upper() if char.isupper() else base
        for base, chars in _accented().items()
        for char in chars
    }


@functools.cache
def _unaccented() -> dict[str, str]:
    """Each accented Latin letter of ``_accented``, lower-cased, -> its ASCII letter. İ's lower
    case is two characters, i and a combining dot (U+0307), which ``fold`` drops."""
    return {
        char.lower(): base
        for base, chars in _accented().items()
        for char in chars
        if len(char.lower()) == 1
    }
