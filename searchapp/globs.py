"""What the globs people type mean beyond ``fnmatch``: braces (``*.{md,txt}``, as ripgrep, fd
and shells read them), and a ``[`` or ``{`` left open, refused rather than matched literally
(as ripgrep refuses ``-g '*.{md'``)."""

from __future__ import annotations

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
