"""Where code defines a name the query spells as code: "go to definition" as a ranking signal.

`search query DefaultFilter` ranked `class PythonFilter(DefaultFilter)` and the package's
`__init__` above `class DefaultFilter`, `insert_all` a call of it above its `def`, and
`DEFAULT_TIMEOUT_CONFIG` two uses above `DEFAULT_TIMEOUT_CONFIG = Timeout(...)`: BM25 and the
cosine see the name in each alike, and a use has more words around it. A name is spelled as
code when it is snake_case, camelCase or CONSTANT_CASE, the last part of a dotted name
(`Client.send`), written with its opening parenthesis (`send(`) or after a keyword that
declares one (`class Progress`); a plain word is not one (a
question about "filters" asks for no definition), and a query whose names are not half its
words or more asks for none either (``code_names``). A candidate defines it on a line that
declares it (`def`, `class`, `function`, `fn`, `const`, `struct` and the like before it) or
assigns it at the line's start (`NAME = ...`, `NAME: int = ...`; indented, only a
CONSTANT_CASE name: `render = self.render` in a method defines nothing). The hit then names
the defining line (``query_words.BestLine``).

Hybrid and lexical ranking add ``DEFINITION_WEIGHT`` times the share of the query's names a
candidate defines (``searcher.py``): as much as holding all the query's words in a row
(``proximity.PROXIMITY_WEIGHT``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from searchapp.ranking.query_words import DEFINES
from searchapp.storage.schema import is_identifier

DEFINITION_WEIGHT = 0.5
MAX_NAMES = 8  # a pasted file is not a list of names to look up

_WORDS = re.compile(r"\w+")  # a snake_case name is one word here
# A dotted name (its parts), then whether "(" follows it at once.
_CODE_WORD = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(\()?")
_DECLARING = re.compile(r"def|class|function|fn|func|struct|enum|interface|trait|type|const")


def code_names(query: str) -> list[str]:
    """The names ``query`` spells as code, in order, each once; none unless they are half its
    words or more (`Client.send`, `def send(`, `TrustedHostMiddleware allowed_hosts`): in a
    pasted message, `httpx2.TooManyRedirects: Exceeded maximum allowed redirects.`, the class
    is not what was asked for, but the line raising it (its definition took the first place on
    4 of 41 messages)."""
    names: dict[str, None] = {}
    declared = False  # the word before was a keyword that declares: "class Progress"
    for match in _CODE_WORD.finditer(query):
        dotted, called = match.group(1), match.group(2)
        parts = dotted.split(".")
        if len(parts) > 1 and min(map(len, parts)) < 2:  # "e.g", "i.e": prose
            continue
        if is_identifier(parts[-1]) or len(parts) > 1 or called or declared:
            names.setdefault(parts[-1], None)
        declared = _DECLARING.fullmatch(dotted) is not None
    if 2 * len(names) < len(_WORDS.findall(query)):
        return []
    return list(names)[:MAX_NAMES]


@functools.lru_cache(maxsize=256)
def defining(name: str) -> re.Pattern[str]:
    """Where a text defines ``name``: a declaration, or an assignment at a line's start (any
    indentation for a CONSTANT_CASE name; else none, so `render = self.render` in a method
    is no definition of `render`)."""
    word = re.escape(name)
    indent = "[ \t]*" if name.isupper() else ""
    # The keywords BestLine's "defined" reads (``query_words.DEFINES``; `async def` holds
    # `def`), the name after them, or its last part.
    return re.compile(rf"(?m){DEFINES}(?<!\w){word}(?!\w)|^{indent}{word}[ \t]*(?::[^=\n]*)?=(?!=)")


def defined_share(names: list[str], text: str) -> float:
    """The share of ``names`` that ``text`` defines."""
    if not names:
        return 0.0
    return sum(1 for name in names if defining(name).search(text)) / len(names)


def definition_bonus(names: list[str], texts: Mapping[int, str]) -> dict[int, float]:
    """``{id: what defining the query's names adds}`` for the ``texts`` that define some."""
    shares = {i: defined_share(names, text) for i, text in texts.items()} if names else {}
    return {i: DEFINITION_WEIGHT * share for i, share in shares.items() if share > 0}
