"""Where in its code a hit lies: the definitions that hold its line, as the hit's section.

A hit in a Markdown file names its heading path (`Install > Linux`); one in source code named
nothing, so an agent given `rich/segment.py:160` had to read the file to learn it was in
`Segment.split_cells`. Code has no headings; its definitions are read from the lines above the
hit instead, by indentation: each line above, indented less than the lines below it, that
declares a class or a function, named as a query names a method (`Segment.split_cells`: what
`search query Segment.split_cells` finds). Languages written with
braces are indented the same way by every formatter; a C function is named by its type before
its name, a JavaScript method (`async hash(pw) {`) and a function held by a variable or a
property (`export const rateLimit = (opts) => {`) by their shape, and a hit at the top level
has no section.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from searchapp.ingest.chunking import CODE_SUFFIXES

if TYPE_CHECKING:
    from searchapp.ranking.selection import Hit
    from searchapp.storage.store import Store

# Chunks read above a hit: its class may begin far above (rich's `class Console:` is 2,000
# lines above its last methods, ~120 passages). Past this, the section is what was found.
OUTLINE_CHUNKS = 160
# Rust's `impl Trait for Type` implements the trait for the type: it defines no trait (`impl
# LedgerStore for MemoryStore` ranked above `pub trait LedgerStore`), but the type's methods,
# as `impl Type` does, and its lines are the type's (a Go and Rust developer's trial).
# Its generics and words read deterministically (possessive, atomic): a line of `impl` and 3,000
# blanks took 25 s a query (a reviewer's); `impl<'de> Deserialize<'de> for Money` is Money's.
IMPL = (
    r"impl(?:<(?:[^<>\n]|<(?:[^<>\n]|<[^<>\n]*>)*>)*>)?"
    r"(?:[ \t]++(?>[^\s{]+[ \t]+)+?for(?=[ \t])|(?![ \t][^\n{]*[ \t]for[ \t]))"
)
# A line that declares: modifiers, then the keyword and the name (`async def run`,
# `pub(crate) fn parse`, `export default class App`, `func (s *Server) Serve`).
# A C++ export macro between a class's keyword and its name (`class C10_API SymInt {`) is
# passed over; a forward declaration (`class SymInt;`) and a variable of a struct's type
# (`struct stat st = {`) declare nothing that holds lines.
_DECLARES = re.compile(
    r"(?:(?:export|pub(?:\([\w:]+\))?|public|private|protected|internal|static|abstract|final|"
    r"async|unsafe|override|virtual|inline|default|local|open|sealed|data|typedef|suspend)\s+)*"
    r"(?:class|def|fn|fun|func|function|struct|union|enum|trait|interface|module|object|record|"
    rf"defmodule|defn|defp|macro_rules!|{IMPL})\s*(?<=[\s!])(?:\([^)]*\)\s*)?(?:[A-Z][A-Z0-9_]*[A-Z0-9]\s+(?=[A-Za-z_]))?"
    r"((?>[A-Za-z_$][\w$]*(?:(?:\.|::)[A-Za-z_$][\w$]*)*))"  # atomic: `SymIn` is no name
    r"(?![ \t]*;)(?![ \t]+\**[A-Za-z_]\w*[ \t]*[=;\[,)])"
)
# A C, C++, Java or C# function's header, which no keyword declares: its type before its name,
# made of a language's keywords (`static`, `void`, `const`), types spelled as types (`size_t`,
# `PyObject`, `at::Tensor`, `std::vector<int>`), a macro before one of those (`C10_API`), and
# one lower-case type with its `*` (`my_struct *`); not a sentence (`int values are passed to
# parse(x)`), nor SQL (`SELECT count(*)`: a macro right before the name).
_KEYWORD = (
    r"(?:void|int|char|short|long|float|double|bool|signed|unsigned|static|inline|extern|const|"
    r"constexpr|volatile|virtual|explicit|auto|friend|public|private|protected|final|"
    r"synchronized|abstract|override|typename|(?:struct|enum|union)[ \t]+\w+)"
)
_TYPE_LIKE = r"(?:\w+_t|[A-Z][a-z0-9]+[A-Z]\w*|\w+(?:::\w+)+(?:<[^<>\n]*>)?|\w+<[^<>\n]*>)"
_MACRO = r"[A-Z][A-Z0-9_]*[A-Z0-9]"
_TYPE = rf"(?:{_KEYWORD}|{_TYPE_LIKE})(?![\w:<])"
_ANY_TYPE = rf"(?:{_TYPE}|[A-Z]\w*[a-z]\w*)"  # after the first: `static Tensor`, not `INTO`
# The type before a function's name: a keyword or a type first (a capitalised word only before
# `*` or `&`: `Use memcpy(` begins a sentence), a macro only before a type.
FUNCTION_TYPE = (
    rf"(?:{_TYPE}[ \t*&]+|[A-Z]\w*[ \t]*[*&][ \t*&]*|{_MACRO}[ \t]+(?={_ANY_TYPE}[ \t*&]))"
    rf"(?:{_ANY_TYPE}[ \t*&]+|{_MACRO}[ \t]+(?={_ANY_TYPE}[ \t*&]))*"
    r"(?:[a-z_]\w*[ \t]*[*&][ \t*&]*)?"
)
# Such a header (not a prototype, which ends with ";"): `static inline void Py_INCREF(`,
# `inline at::Tensor IValue::toTensor() && {`, `public int add(int a) {`.
_FUNCTION = re.compile(
    rf"{FUNCTION_TYPE}((?:\w+::)*~?[A-Za-z_]\w*)[ \t]*\((?![^\n]*;[ \t]*(?://.*)?$)"
)
# JavaScript and TypeScript declare a method without a keyword (`async hash(password) {`,
# `private needsRehash(hash: string): boolean {`, `constructor(db) {`, an object literal's
# `save(doc) {`), and a function as a value (``js_function``). A method's header is indented
# and ends with its `{`; it is no statement that takes parentheses (`if (x) {`, `catch (e) {`)
# and no call passing a callback (`it('works', () => {`: a string, a parenthesis left open).
_JS_MODIFIERS = (
    r"(?:(?:public|private|protected|static|async|readonly|override|abstract|declare|get|set)"
    r"[ \t]+)*"
)
_NOT_A_METHOD = (
    r"(?:if|for|foreach|while|switch|catch|with|return|function|do|else|typeof|await|new|super|"
    r"this|synchronized|using|lock|fixed|checked|unchecked|elif|until|unless|when|match|guard|"
    r"sizeof|assert|throw|yield|delete|void|in|of)(?![\w$])"
)
_PARAMETERS = r"\((?:[^()'\"`\n]|\([^()'\"`\n]*\))*\)"
JS_NAME = r"[A-Za-z_$][\w$]*"


def js_method(name: str) -> str:
    """A method's header as JavaScript and TypeScript write it, indentation and all, ``name``
    (a pattern) its name."""
    return (
        rf"[ \t]+{_JS_MODIFIERS}\*?(?!{_NOT_A_METHOD}){name}[ \t]*+(?:<[^<>\n]*>[ \t]*+)?"
        rf"{_PARAMETERS}[ \t]*+(?::[^{{;=\n]+)?\{{[ \t]*$"
    )


# A function as a value: after `=` (`export const rateLimit = (opts) => {`, a class's field
# `handle = async (req) => {`, `exports.parse = function (text) {`) or `:` (an object's
# `save: (doc) => {`), an arrow function or a function expression.
_FUNCTION_VALUE = (
    r"(?:async[ \t]+)?(?:function(?![\w$])|(?:<[^<>\n]*>)?(?:\((?:[^()\n]|\([^()\n]*\))*\)"
    rf"|{JS_NAME})[ \t]*+(?::[^=\n]+?)?=>)"
)


def js_function(name: str) -> str:
    """A function declared as a value (``_FUNCTION_VALUE``) from the start of a line's text,
    ``name`` (a pattern) its name; `module.exports = function errorHandler(` names its
    function."""
    declared = (
        rf"(?:export[ \t]+)?{_JS_MODIFIERS}(?:(?:const|let|var)[ \t]+)?"
        rf"(?:(?:module\.)?exports\.|this\.)?{name}"
        rf"(?:[ \t]*+(?::[^=\n]*)?=(?![=>])[ \t]*+{_FUNCTION_VALUE}"
        # An object's property, its body to follow: not an interface's member (`onClick:
        # (e: MouseEvent) => void;`), a type.
        rf"|[ \t]*+:[ \t]*+{_FUNCTION_VALUE}[^\n;]*\{{[ \t]*$)"
    )
    exported = rf"(?:module\.)?exports[ \t]*=[ \t]*(?:async[ \t]+)?function[ \t]*\*?[ \t]*{name}"
    return rf"(?:{declared}|{exported})(?![\w$])"


_JS_METHOD = re.compile(js_method(f"({JS_NAME})"))
_JS_FUNCTION = re.compile(js_function(f"({JS_NAME})"))
# GNU style puts the type on the line above, the name at the margin: `static int\nmain (void)`.
_TYPE_LINE = re.compile(rf"(?:(?:{_ANY_TYPE}|{_MACRO})[ \t*&]*)+")
_NAME_AT_MARGIN = re.compile(r"([A-Za-z_]\w*)[ \t]*\((?![^\n]*;[ \t]*$)")
_NOT_A_STATEMENT = re.compile(r"[@#)\]{}]|//|/\*|\*|--")  # `{` alone: a C function's body


def is_code(path: str) -> bool:
    return Path(path).suffix.lower() in CODE_SUFFIXES


# Where a method needs no keyword and a function is a value (``js_method``, ``js_function``):
# elsewhere the same shapes are calls (C's `list_for_each_entry(pos, &head, list) {`, Kotlin's
# `withContext(Dispatchers.IO) {`, Java's `try (InputStream in = open()) {`).
JAVASCRIPT_SUFFIXES = frozenset(".js .jsx .mjs .cjs .ts .tsx .mts .cts .vue .svelte".split())


def is_javascript(path: str) -> bool:
    return Path(path).suffix.lower() in JAVASCRIPT_SUFFIXES


# Files of settings, a key at a line's start (`PermitRootLogin no`, `key = value`, `key:
# value`): that line defines the key (``definitions.defining``'s config syntax).
CONFIG_SUFFIXES = frozenset(
    ".conf .cfg .cnf .ini .toml .yaml .yml .properties .env .service .socket .timer".split()
)


def is_config(path: str) -> bool:
    """A settings file: by its suffix, or a name without one ending in "config" (sshd_config,
    .gitconfig) or beginning ".env" (.env.local)."""
    name = Path(path).name.lower()
    suffix = Path(name).suffix
    if name.startswith(".env"):
        return True
    return suffix in CONFIG_SUFFIXES or (not suffix and name.endswith("config"))


def syntax_of(path: str) -> str:
    """How definitions are written in the file at ``path`` (``definitions.defining``):
    "javascript", "config", or "" for any other."""
    if is_javascript(path):
        return "javascript"
    return "config" if is_config(path) else ""


def outline(above: str, line: str, *, javascript: bool = False) -> str | None:
    """The names of the definitions holding ``line`` (one line of code), outermost first and
    dotted, from ``above`` (the text before it, each line with its indentation):
    `Segment.split_cells`; ``line``'s own when it declares one. None when none does."""
    lines = [*above.split("\n"), line] if above else [line]
    names = [name for _, name in holding(lines, len(lines) - 1, javascript=javascript)]
    return ".".join(reversed(names)) or None


def holding(lines: list[str], at: int, *, javascript: bool = False) -> list[tuple[int, str]]:
    """(index, name) of the lines declaring the definitions that hold ``lines[at]``, innermost
    first (``lines[at]`` itself when it declares one). A line inside a decorator (a
    multi-line `@click.option(`) belongs to the definition below it."""
    found: list[tuple[int, str]] = []
    line = lines[at]
    limit = _indent(line) if line.strip() else None
    declared = _declared(lines, at, javascript)
    if declared:
        found.append((at, declared))
    for number in range(at - 1, -1, -1):
        if limit == 0:
            break
        text = lines[number]
        body = text.lstrip()
        if not body:
            continue
        indent = len(text) - len(body)
        if limit is not None and indent >= limit:
            continue
        if body.startswith("@") and not found:  # a decorator's argument: what it decorates
            below = _decorated(lines, number, javascript)
            if below is not None:
                found.append(below)
                limit = indent
            continue
        if _NOT_A_STATEMENT.match(body):
            continue
        limit = indent
        declared = _declared(lines, number, javascript)
        if declared:
            found.append((number, declared))
    return found


def _declared(lines: list[str], at: int, javascript: bool = False) -> str | None:
    """The name ``lines[at]`` declares a definition of: after a keyword (`def`, `class`), or a
    C-like function's header (``_FUNCTION``; GNU style, its name at the margin below its type)."""
    body = lines[at].lstrip()
    found = _DECLARES.match(body) or _FUNCTION.match(body) or _ASSIGNED_FUNCTION.match(body)
    if found:
        return found.group(1)
    if javascript and (function := _JS_FUNCTION.match(body)):
        return function.group(1) or function.group(2)
    if javascript and body is not lines[at] and (method := _JS_METHOD.match(lines[at])):
        return method.group(1)
    if at and body is lines[at] and (named := _NAME_AT_MARGIN.match(body)):
        if _TYPE_LINE.fullmatch(lines[at - 1].rstrip()):
            return named.group(1)
    return None


# A function assigned to its name, as R defines them (`fit_occupancy <- function(data) {`).
_ASSIGNED_FUNCTION = re.compile(r"([A-Za-z.][\w.]*)[ \t]*<<?-[ \t]*(?:function\b|\\\()")


def _decorated(lines: list[str], at: int, javascript: bool = False) -> tuple[int, str] | None:
    """(index, name) of the definition the decorator on ``lines[at]`` decorates: the first line
    below at its indentation that is not a decorator's."""
    indent = _indent(lines[at])
    for number in range(at + 1, len(lines)):
        body = lines[number].lstrip()
        if not body or _indent(lines[number]) > indent or _NOT_A_STATEMENT.match(body):
            continue
        declared = _declared(lines, number, javascript)
        return (number, declared) if declared else None
    return None


# Definitions that hold others (a method is no statement of theirs): a line of a method such
# languages declare without a keyword (`public int add() {`) is not printed as its class.
_CONTAINERS = re.compile(
    r"(?:[\w()]+\s+)*(?:class|struct|enum|trait|impl|interface|module|object|record|defmodule)\s"
)
# What ends a block at its header's indentation (`end` in Ruby, Lua, Elixir, Julia).
_END = re.compile(r"end\b")


def definition_span(
    lines: list[str], at: int, *, javascript: bool = False
) -> tuple[int, int] | None:
    """The first and last index of the innermost definition holding ``lines[at]``: from its
    decorators (or attributes) to the last line indented below its header, and the bracket
    (or `end`) that closes it; it always holds ``lines[at]``. None when no definition holds
    it, or when the one found is a class whose line there is inside something it does not
    name (a Java method: the class of 400 lines is not what was asked for)."""
    if lines[at].lstrip().startswith("@"):  # a decorator: the definition it decorates
        decorated = _decorated(lines, at, javascript)
        found = holding(lines, decorated[0], javascript=javascript) if decorated else []
    else:
        found = holding(lines, at, javascript=javascript)
    if not found:
        return None
    header = found[0][0]
    indent = _indent(lines[header])
    if header != at and _CONTAINERS.match(lines[header].lstrip()) and _between(lines, header, at):
        return None
    first = header
    if header and not indent and _TYPE_LINE.fullmatch(lines[header - 1].rstrip()):
        first = header - 1  # GNU style: its type on the line above (`static int`)
    for number in range(first - 1, -1, -1):  # its decorators, their arguments over lines
        body = lines[number].lstrip()
        if not body:
            break
        if _indent(lines[number]) == indent and body.startswith(("@", "#[")):
            first = number
        elif not (_indent(lines[number]) > indent or body[0] in ")]"):
            break
    last = header
    for number in range(header + 1, len(lines)):
        body = lines[number].lstrip()
        if not body or (_NOT_A_STATEMENT.match(body) and body[0] not in ")]}"):
            continue  # a blank line or a comment (at the margin, commented-out code)
        if _indent(lines[number]) > indent:
            last = number
        elif body[0] in ")]}":  # `) -> None:` ends a header, `}` the block
            last = number
            if body[0] == "}":
                break
        elif _END.match(body):
            last = number
            break
        elif number < at:  # a string at the margin inside it (SQL, dedented text)
            last = number
        else:
            break
    return min(first, at), max(last, at)


def _between(lines: list[str], header: int, at: int) -> bool:
    """Whether a statement less indented than ``lines[at]`` but more than the header lies
    between them: ``lines[at]`` is inside a block of its own (a method's body)."""
    indent, limit = _indent(lines[header]), _indent(lines[at])
    for number in range(at - 1, header, -1):
        body = lines[number].lstrip()
        if body and not _NOT_A_STATEMENT.match(body) and indent < _indent(lines[number]) < limit:
            return True
    return False


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def outlined(store: Store, hits: list[Hit]) -> list[Hit]:
    """``hits``, those in source files without a section given the definitions holding their
    line (``outline``), read from the passages before them."""
    wanted = [hit for hit in hits if hit.section is None and is_code(hit.path)]
    if not wanted:
        return hits
    before = store.texts_before([hit.chunk_id for hit in wanted], chunks=OUTLINE_CHUNKS)
    sections = {}
    for hit in wanted:
        # The text before a passage ends where it begins, its first line's indentation
        # included (the passage's text begins at its first word).
        head = before.get(hit.chunk_id, "")
        lines = (head + hit.text).split("\n")
        at = min(head.count("\n") + max(hit.line - hit.start_line, 0), len(lines) - 1)
        names = [name for _, name in holding(lines, at, javascript=is_javascript(hit.path))]
        sections[hit.chunk_id, hit.line] = ".".join(reversed(names)) or None
    return [
        replace(hit, section=sections[hit.chunk_id, hit.line])
        if (hit.chunk_id, hit.line) in sections
        else hit
        for hit in hits
    ]
