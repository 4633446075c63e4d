"""What the globs people type mean beyond ``fnmatch``: braces (``*.{md,txt}``, as ripgrep, fd
and shells read them), ``*`` within one folder and ``**`` across them (as in a .gitignore), and
a ``[`` or ``{`` left open, refused rather than matched literally (as ripgrep refuses
``-g '*.{md'``)."""

from __future__ import annotations

import functools
import re

from searchapp.errors import BadInputError

MAX_EXPANSIONS = 256  # '{a,b}' 18 times over would be 262,144 globs to match every path with


def expand_braces(pattern: str) -> list[str]:
    """``pattern`` with each ``{a,b,...}`` expanded, nested ones too (``*.{md,txt}`` is
    ``*.md`` and ``*.txt``); a brace without a comma, or never closed, is a literal one. A
    pattern of more than ``MAX_EXPANSIONS`` globs is refused (``BadInputError``)."""
    expanded = _expanded(pattern)
    if len(expanded) > MAX_EXPANSIONS:
        raise BadInputError(
            f"the glob {pattern!r} expands to more than {MAX_EXPANSIONS} globs; use fewer braces"
        )
    return expanded


def _expanded(pattern: str) -> list[str]:
    depth, start, commas = 0, -1, []
    at = -1
    while (at := at + 1) < len(pattern):
        char = pattern[at]
        if char == "[" and (end := _class_end(pattern, at)) > 0:  # "[{]" is a literal "{"
            at = end
        elif char == "{":
            if depth == 0:
                start, commas = at, []
            depth += 1
        elif char == "," and depth == 1:
            commas.append(at)
        elif char == "}" and depth > 0:
            depth -= 1
            if depth == 0 and commas:
                head, tail = pattern[:start], pattern[at + 1 :]
                bounds = [start, *commas, at]
                choices = [pattern[a + 1 : b] for a, b in zip(bounds, bounds[1:])]
                found: list[str] = []
                for choice in choices:
                    found += _expanded(head + choice + tail)
                    if len(found) > MAX_EXPANSIONS:  # no need to build them all to refuse
                        break
                return found
    return [pattern]


def unclosed(pattern: str) -> str | None:
    """What a glob leaves open, said for an error after the pattern ("opens a [...] class it
    never closes; ..."), or None: fnmatch would take a lone ``[`` or ``{`` literally, and
    ``--path '*.{md'`` would silently match nothing."""
    if unclosed_class(pattern) or any(map(unclosed_class, expand_braces(pattern))):
        return "opens a [...] class it never closes; write [[] for a literal ["
    depth, at = 0, 0
    while at < len(pattern):
        char = pattern[at]
        if char == "[":  # a class, closed (checked above): "[{]" is a literal "{"
            at = _class_end(pattern, at)
        elif char == "{":
            depth += 1
        elif char == "}" and depth:
            depth -= 1
        at += 1
    if depth:
        return "opens a {...} group it never closes; write [{] for a literal {"
    return None


def _class_end(pattern: str, start: int) -> int:
    """Where the class opened by the "[" at ``start`` closes; -1 when it never does."""
    body = start + 1 + (pattern[start + 1 : start + 2] == "!")
    body += pattern[body : body + 1] == "]"  # a "]" first is part of the class
    return pattern.find("]", body)


def unclosed_class(pattern: str) -> bool:
    """Whether a glob has a ``[`` that no ``]`` closes: fnmatch would take it literally, and
    ``--path '['`` would silently match nothing."""
    at = 0
    while (start := pattern.find("[", at)) >= 0:
        end = _class_end(pattern, start)
        if end < 0:
            return True
        at = end + 1
    return False


def glob_regex(glob: str) -> tuple[str, bool]:
    """One glob (braces expanded) as a regular expression over ``/``-separated paths, as a
    .gitignore reads it: ``*`` and ``?`` never match a ``/``; ``**/`` is any number of folders,
    none too (``a/**/*.txt`` matches ``a/y.txt``); a ``/**`` ending it, everything below. And
    whether it has wildcards: ``[[]`` (``glob.escape``'s ``[``) is none."""
    out: list[str] = []
    wild = False
    at = 0
    while at < len(glob):
        char = glob[at]
        bounded = at == 0 or glob[at - 1] == "/"
        if glob.startswith("**/", at) and bounded:
            out.append("(?:.*/)?")
            at += 3
            wild = True
            continue
        if glob.startswith("**", at) and bounded and at + 2 == len(glob):
            out.append(".*")
            at += 2
            wild = True
            continue
        if char == "*":
            out.append("[^/]*")
            wild = True
        elif char == "?":
            out.append("[^/]")
            wild = True
        elif char == "[" and (end := _class_end(glob, at)) > 0:
            body = glob[at + 1 : end]
            negated = body.startswith("!")
            chars = "".join(c if c == "-" else re.escape(c) for c in body[negated:])
            out.append(f"(?!/)[{'^' if negated else ''}{chars}]")
            wild = wild or negated or len(body) != 1
            at = end
        else:
            out.append(re.escape(char))
        at += 1
    return "".join(out), wild


@functools.lru_cache(maxsize=256)
def path_glob(glob: str) -> re.Pattern[str]:
    """What a glob given for paths (``--path``, `search remove`) matches, whole (``fullmatch``):
    from the start when absolute (``/abs/*.md``), else the path's last names (``notes/*.md``,
    ``*.md``). A name without wildcards (``docs``, ``/r``, ``a/b.md``) matches a folder too,
    so everything under it, as does any glob ending in ``/`` (only folders); a glob's ``*``
    matches files, as ripgrep's ``-g`` does (``notes/*``: the files in notes, ``notes/**``:
    all below it). Braces are expanded before (``expand_braces``)."""
    folder_only = glob.endswith("/") and glob != "/"
    stripped = glob.rstrip("/")
    if not stripped:  # "/": every path
        return re.compile("/.*", re.S)
    body, wild = glob_regex(stripped)
    below = "(?:/.*)" if folder_only else "" if wild else "(?:/.*)?"
    if stripped.startswith("/"):  # absolute: not a folder at any depth
        return re.compile(body + below, re.S)
    return re.compile(f"(?:.*/)?{body}{below}", re.S)
