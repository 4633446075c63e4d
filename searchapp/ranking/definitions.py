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
(``proximity.PROXIMITY_WEIGHT``). A query that is one name and nothing else (``whole_name``:
`Console`, `class Console`, `def send(`) asks where it is defined: in hybrid ranking a
candidate defining it holds the query as a whole, and scores the whole BM25 share
(``fusion.fuse``'s ``held``). A class's passage is its docstring's many words, which BM25's
length norm and the cosine weigh against it: `class Console` ranked `class ConsoleDimensions`
first (1.658, `class Console:` 1.455), and `Console` alone every other passage of
`console.py` above it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from searchapp.ranking.outline import FUNCTION_TYPE, js_function, js_method
from searchapp.ranking.query_words import DEFINES
from searchapp.storage.schema import is_identifier

DEFINITION_WEIGHT = 0.5
MAX_NAMES = 8  # a pasted file is not a list of names to look up
# Passages that may define a name the query is alone (``whole_name``), read as candidates
# besides the rankers' (``searcher.py``): `Console` alone, `class Console:`'s passage was in
# neither ranker's first 100 of rich's 1,703 passages (every file uses the name).
MAX_DEFINERS = 64
# The words before a name in the declarations ``DEFINES`` reads, as FTS5 phrases take them.
DECLARING_WORDS = (
    "def class function fn func struct enum interface trait type impl module macro const let var "
    "sub"
).split()

# What may come before a constructor's name (no type: it is its class's).
_MODIFIERS = "explicit|inline|constexpr|virtual|friend|static|public|private|protected"
# The keywords of a class a C++ export macro may follow (`struct TORCH_API IValue final {`).
MACRO_DECLARING_WORDS = ("class", "struct", "union", "enum")

_WORDS = re.compile(r"\w+")  # a snake_case name is one word here
# A dotted name (its parts), then whether "(" follows it at once.
# C++'s `IValue::toTensor` as `IValue.toTensor` (the method was second to its class's struct).
# A Rust macro's `!` as a call's "(" (`entry!`).
_CODE_WORD = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:(?:\.|::)[A-Za-z_]\w*)*)(\(|!(?=[(\[{]))?")
_QUALIFIER = re.compile(r"\.|::")
_DECLARING = re.compile(r"def|class|function|fn|func|struct|enum|interface|trait|type|const")
# A query of one name: a declaring keyword or two before it (`async def`, `pub fn`), "(" or
# "()" after it.
_WHOLE_NAME = re.compile(
    r"\s*(?:(?:async|pub|export|static|abstract|final)\s+)?"
    rf"(?:(?:{_DECLARING.pattern})\s+)?"
    r"([A-Za-z_]\w*(?:(?:\.|::)[A-Za-z_]\w*)*)\s*(\(\s*\)?|!)?\s*"
)
# An agent's question for a definition, of one name (a Go and Rust developer's trial: "where
# is LedgerStore defined" ranked the trait's passage below its uses); for a setting, where it is
# set (an SRE's "where is client_max_body_size set" ranked a runbook's "set by nginx" first).
_ASKING_WHERE = re.compile(
    r"(?i)\s*(?:where\s+(?:is|are|do\s+we\s+define)\s+(?:the\s+)?`?(?P<a>[^\s`?]+)`?"
    r"(?:\s+(?:defined|declared|implemented|set|configured|assigned|initiali[sz]ed|created))?"
    r"|(?:find\s+|show\s+(?:me\s+)?)?(?:the\s+)?(?:definition|declaration)\s+of\s+`?(?P<b>[^\s`?]+)`?)"
    r"\s*\??\s*"
)
_DEFINITION_ASKED = re.compile(r"(?i)\b(?:defined|declared|implemented|definition|declaration)\b")
# ``query_words.DEFINES`` but for variables (``defining`` reads those at the margin only).
_DECLARES = DEFINES.replace("|const|let|var", "")
assert _DECLARES != DEFINES, "query_words.DEFINES changed: update _DECLARES"
# A text that begins by declaring a variable (``defining`` reads those at the margin only).
VARIABLE_START = re.compile(r"(?:export[ \t]+)?(?:const|let|var)[ \t]")
# What a name assigned an import is followed by: no definition of it.
_NOT_IMPORTED = r"(?![ \t]*=?[ \t]*(?:await[ \t]+)?(?:require|import)[ \t]*\()"
# Words after which a name is used, not asked about as a definition: `raise ConnectTimeout`
# wants where it is raised, `new Client(` where one is made (the class came first).
_USING = re.compile(r"raise|throw|new|import|from|except|catch|extends|instanceof|isinstance")
# A command-line flag alone: `--verbose`, `-v`, `--per-doc`.
_FLAG_QUERY = re.compile(r"\s*(--?[A-Za-z][\w-]*)\s*")
# A capitalised word with lower-case letters after (`Console`, `Table`): as a query alone, the
# name of a class (a plain word, "console", or an acronym, "NASA", is no name).
_CAPITALISED = re.compile(r"[A-Z][a-z0-9]+")


def whole_name(query: str) -> str | None:
    """The name a query asks for when it is that name and nothing else: spelled as code
    (``code_names``) or capitalised (`Console`, `class Console`, `def send(`, `Client.send`,
    `insert_all`), or a command-line flag (`--verbose`: declared where it is a string, as
    `add_argument("--verbose")` or `click.option("-v", "--verbose")` write it); None for
    anything else ("console", "how do filters work", `Console width`)."""
    asked = _ASKING_WHERE.fullmatch(query)
    # Asked for its definition in so many words: a name in lower case too (a Go developer's
    # "where is backoff defined" ranked a comment's "exponential backoff" above `func (p
    # RetryPolicy) backoff(`)
    explicit = asked is not None and _DEFINITION_ASKED.search(query) is not None
    if asked is not None:
        query = asked.group("a") or asked.group("b")
    flag = _FLAG_QUERY.fullmatch(query)
    if flag is not None:
        return flag.group(1)
    match = _WHOLE_NAME.fullmatch(query)
    if match is None:
        return None
    parts = _QUALIFIER.split(match.group(1))
    module = "::" not in match.group(1) and not parts[-2][:1].isupper() if len(parts) > 1 else False
    if len(parts) > 1 and (min(map(len, parts)) < 2 or module):
        # "e.g"; a module's path (`rich.console`, `os.path.join`): the module is asked for,
        # not any definition of its last part (`console = Console()` in a docstring came
        # first). A class's method (`Client.send`) is one name, and so is C++'s name in its
        # namespace (`c10::hash_combine`: a call of it ranked above its definition).
        return None
    name = parts[-1]
    if match.group(2) == "!" and not name.islower():  # "Help!": prose; a Rust macro: `entry!`
        return None
    declared = match.group(0).strip() != match.group(1) and not match.group(2)
    if (
        is_identifier(name)
        or len(parts) > 1
        or match.group(2)
        or declared
        or explicit
        or _CAPITALISED.fullmatch(name)
    ):
        return name
    return None


def code_names(query: str) -> list[str]:
    """The names ``query`` spells as code, in order, each once; none unless they are half its
    words or more (`Client.send`, `def send(`, `TrustedHostMiddleware allowed_hosts`): in a
    pasted message, `httpx2.TooManyRedirects: Exceeded maximum allowed redirects.`, the class
    is not what was asked for, but the line raising it (its definition took the first place on
    4 of 41 messages)."""
    names: dict[str, None] = {}
    declared = False  # the word before was a keyword that declares: "class Progress"
    using = False  # ...or one that uses it: "raise ConnectTimeout"
    for match in _CODE_WORD.finditer(query):
        dotted, called = match.group(1), match.group(2)
        parts = _QUALIFIER.split(dotted)
        if len(parts) > 1 and min(map(len, parts)) < 2:  # "e.g", "i.e": prose
            continue
        if using:
            pass
        elif is_identifier(parts[-1]) or len(parts) > 1 or called or declared:
            names.setdefault(parts[-1], None)
        declared = _DECLARING.fullmatch(dotted) is not None
        using = _USING.fullmatch(dotted) is not None
    if 2 * len(names) < len(_WORDS.findall(query)):
        return [whole] if (whole := whole_name(query)) else []
    return list(names)[:MAX_NAMES]


@functools.lru_cache(maxsize=256)
def defining(name: str, syntax: str = "") -> re.Pattern[str]:
    """Where a text defines ``name``: a declaration, or an assignment at a line's start (any
    indentation for a CONSTANT_CASE name; else none, so `render = self.render` in a method
    is no definition of `render`). ``syntax`` (``outline.syntax_of``): "javascript" or
    "config" for those files' other shapes of a definition."""
    word = re.escape(name)
    if name.startswith("-"):  # a flag: a string of it, an option declared (`"--verbose"`)
        return re.compile(rf"(['\"]){word}\1")
    indent = "[ \t]*" if name.isupper() else ""
    # The keywords BestLine's "defined" reads (``query_words.DEFINES``; `async def` holds
    # `def`), the name after them, or its last part; not an import (`const BaseCommand =
    # require('./base-cmd.js')`: three of them ranked above `class BaseCommand`).
    # A variable declared (`const`, `let`, `var`) defines it at the margin, as an assignment
    # does: `const json = await response.json()` in a method is a local (`Request.json` found
    # one first).
    variable = rf"^{indent}(?:export[ \t]+)?(?:const|let|var)[ \t]+"
    # A C-like function's header defines it too (`static inline void Py_INCREF(`: a type
    # before it, ``outline.FUNCTION_TYPE``), but not a constructor (`explicit IValue(`,
    # `IValue::IValue(`: `struct TORCH_API IValue` is the class); `class SymInt;` declares it
    # ahead, and does not either.
    # A prototype (`int parse(char *s);`) declares it: the `.c` file's body defines it.
    constructor = rf"(?:(?:{_MODIFIERS})[ \t]+)+(?:\w+::)*{word}[ \t]*\("
    function = (
        rf"^[ \t]*(?!{constructor}){FUNCTION_TYPE}(?:\w+::)*(?<!{word}::){word}[ \t]*\("
        r"(?![^\n]*;[ \t]*(?://.*)?$)"
    )
    # Rust's unit struct (`pub struct Marker;`) is a definition, where C's `struct X;` is not.
    unit = rf"^[ \t]*pub(?:\([\w:]+\))?[ \t]+struct[ \t]+{word}[ \t]*;"
    # In a JavaScript or TypeScript file, functions without a keyword: a
    # method (`async hash(pw) {`; not a capitalised name, a constructor's: the class is asked
    # for) and one held by a name at any indentation (`handle = async (req) => {`, `save:
    # (doc) => {`): `placeOrder` ranked its tests and callers above the method. Elsewhere the
    # shapes are calls (`withContext(Dispatchers.IO) {`, `list_for_each_entry(pos, h, l) {`).
    script = ""
    if syntax == "javascript":
        script = rf"|^[ \t]*{js_function(word)}"
        script += rf"|^{js_method(word)}" if not name[:1].isupper() else ""
    elif syntax == "config":
        # A settings file's key at a line's start, at any indentation (YAML nests them),
        # then its value: `PermitRootLogin no`, `key = value`, `MAX_UPLOAD_SIZE: 10m`. A
        # commented one (`#PermitRootLogin yes`, a default) is none: a runbook naming the
        # key ranked above sshd_config's line setting it.
        script = rf"|^[ \t]*(?:-[ \t]+)?{word}(?=[ \t]*[=:]|[ \t]+[^\s=:])"  # `- KEY=1` too
    # R assigns its functions (`fit_occupancy <- function(data) {`): an ecologist's search
    # for one ranked its calls above it.
    assigned = rf"^[ \t]*{word}[ \t]*<<?-[ \t]*(?:function\b|\\\()"
    return re.compile(
        rf"(?m)(?:{_DECLARES}|{variable})(?<!\w){word}(?!\w){_NOT_IMPORTED}(?![ \t]*;)"
        rf"|^{indent}{word}[ \t]*(?::[^=\n]*)?=(?!=){_NOT_IMPORTED}|{function}|{unit}|{assigned}"
        rf"{script}"
    )


@functools.lru_cache(maxsize=64)
def macro_declared(name: str) -> re.Pattern[str]:
    """Where a class ``name`` is declared with a macro before its name, not ahead of it (`class
    SymInt;`): `class C10_API SymInt {`."""
    keyword = "|".join(MACRO_DECLARING_WORDS)
    return re.compile(
        rf"\b(?:{keyword})[ \t]+[A-Z][A-Z0-9_]*[A-Z0-9][ \t]+{re.escape(name)}(?!\w)(?![ \t]*;)"
    )


def qualifiers(query: str) -> dict[str, str]:
    """``{name: the part before it}`` for the dotted names ``query`` spells (`ParamType.convert`:
    ``{"convert": "ParamType"}``)."""
    found: dict[str, str] = {}
    for match in _CODE_WORD.finditer(query):
        parts = _QUALIFIER.split(match.group(1))
        if len(parts) > 1 and min(map(len, parts)) >= 2:
            found.setdefault(parts[-1], parts[-2])
    return found


def defined_share(
    names: list[str],
    text: str,
    qualified: Mapping[str, str] | None = None,
    before: str = "",
    syntax: str = "",
) -> float:
    """The share of ``names`` that ``text`` defines; a name the query qualifies (``qualified``:
    `ParamType.convert`) only where it is not defined in another class (read in ``text`` above
    the definition, then in ``before``, the document's text before it: ``Store.texts_before``):
    `UnprocessedParamType.convert` took the first place from `ParamType.convert`."""
    if not names:
        return 0.0
    defined = 0
    for name in names:
        owner = qualified.get(name) if qualified else None
        if any(
            owner is None or _in_class(text, before, found.start(), owner)
            for found in defining(name, syntax).finditer(text)  # a subclass's, then its own
        ):
            defined += 1
    return defined / len(names)


def defined_elsewhere(qualified: Mapping[str, str], text: str, syntax: str = "") -> set[int]:
    """The lines of ``text`` (from 0) that define a name the query qualifies (``qualified``:
    `CsvParser.total`) in another class than its own: the hit named `BaseParser.total`'s line
    in a passage holding both."""
    return {
        text.count("\n", 0, found.start())
        for name, owner in qualified.items()
        for found in defining(name, syntax).finditer(text)
        if not _in_class(text, "", found.start(), owner)
    }


def _in_class(text: str, before: str, at: int, owner: str) -> bool:
    """Whether the definition at ``at`` in ``text`` may be one of class ``owner``: no other
    class (or function) holds it, as far as the text above it tells."""
    # The definition's line, and the text above it: a passage's text begins at its first
    # word, so a definition on its first line has its indentation in ``before``.
    # Its whole line: a match may begin with the indentation (`^[ \t]+async hash(`).
    line_start = text.rfind("\n", 0, at) + 1
    line_end = text.find("\n", at) % (len(text) + 1)  # -1: the text's last line
    if line_start:
        head, above = text[line_start:line_end], before + text[:line_start]
    else:
        cut = before.rfind("\n") + 1
        head, above = before[cut:] + text[:line_end], before[:cut]
    enclosing = enclosing_class(above, len(head) - len(head.lstrip(" \t")))
    return enclosing is None or enclosing == owner


# `export class`, `export default class`, `abstract class` (TypeScript) too.
_CLASS_LINE = re.compile(
    r"(?:(?:export|default|abstract|public|final)[ \t]+)*class[ \t]+([A-Za-z_]\w*)"
)
_FUNCTION_LINE = re.compile(r"(?:async[ \t]+)?def[ \t]")


def enclosing_class(above: str, indent: int) -> str | None:
    """The class whose body holds a line indented ``indent`` that follows ``above``: the
    nearest line above it indented less, when that line declares a class; "" when it declares
    a function (a function nested in a method is no method of its class); None at the top
    level, or when ``above`` does not reach that line."""
    if indent == 0:
        return None
    lines = above.split("\n")
    for number in range(len(lines) - 1, -1, -1):
        line = lines[number]
        body = line.lstrip(" \t")
        # A header's closing line (`):` of a class whose bases take lines) and a comment at
        # the margin are not what holds the line; the first line's indentation is unknown (a
        # passage's text begins at its first word): only a class it declares is taken.
        if not body or body[0] in ")]}#" or (number and len(line) - len(body) >= indent):
            continue
        declared = _CLASS_LINE.match(body)
        if declared:
            return declared.group(1)
        if not number:
            return None
        return "" if _FUNCTION_LINE.match(body) else None  # "": a function's, no class's
    return None


def definition_bonus(
    names: list[str],
    texts: Mapping[int, str],
    qualified: Mapping[str, str] | None = None,
    before: Mapping[int, str] | None = None,
    syntaxes: Mapping[int, str] | None = None,
) -> dict[int, float]:
    """``{id: what defining the query's names adds}`` for the ``texts`` that define some
    (``defined_share``; ``before``: each text's text before it, for ``qualified`` names;
    ``syntaxes``: the syntax of those in JavaScript, TypeScript or settings files)."""
    syntaxes = syntaxes or {}
    shares = (
        {
            i: defined_share(names, text, qualified, (before or {}).get(i, ""), syntaxes.get(i, ""))
            for i, text in texts.items()
        }
        if names
        else {}
    )
    return {i: DEFINITION_WEIGHT * share for i, share in shares.items() if share > 0}
