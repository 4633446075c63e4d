"""What the globs people type mean beyond ``fnmatch``: braces (``*.{md,txt}``, as ripgrep, fd
and shells read them), ``*`` within one folder and ``**`` across them (as in a .gitignore), and
a ``[`` or ``{`` left open, refused rather than matched literally (as ripgrep refuses
``-g '*.{md'``)."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Callable, Sequence

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


def path_glob(glob: str, *, folders: bool = True) -> Callable[[str], bool]:
    """Whether a path matches a glob given for paths (``--path``, `search remove`), read as a
    .gitignore reads it: ``*``, ``?`` and ``[...]`` within one name, ``**`` any number of
    folders (none too: ``a/**/*.txt`` matches ``a/y.txt``); from the start when absolute
    (``/abs/*.md``), else the path's last names (``notes/*.md``, ``*.md``). A glob ending in
    ``/`` matches folders only, so what lies under them; one matching a folder matches what lies
    under it too, unless ``folders`` is False (`search remove`: then only a name without
    wildcards, ``docs`` or ``/r``, does). Braces are expanded before (``expand_braces``).

    Names are compared one at a time (``fnmatch.translate``), each glob name with a path name
    or, for ``**``, with any run of them: no glob takes more than (names x glob names) steps,
    where one regular expression over the whole path backtracked for seconds on
    ``*a*a*a*a*a*a*b``, and a reversed range (``[z-a]``) matches nothing, as fnmatch reads it."""
    return _path_glob(glob, folders)


@functools.lru_cache(maxsize=256)
def _path_glob(glob: str, folders: bool) -> Callable[[str], bool]:
    folder_only = glob.endswith("/") and glob != "/"
    stripped = glob.rstrip("/")
    if not stripped:  # "/": every absolute path
        return lambda path: path.startswith("/")
    anchored = stripped.startswith("/")
    names = [name for name in stripped.split("/") if name]
    matchers = [None if n == "**" else re.compile(fnmatch.translate(n)).match for n in names]
    below = folder_only or folders or not any(map(_has_wildcards, names))
    whole = not folder_only
    end = len(names)

    def closure(states: set[int]) -> set[int]:
        for state in sorted(states):  # "**" matches no name too: the state after it as well
            while state < end and matchers[state] is None:
                state += 1
                states.add(state)
        return states

    def matches(path: str) -> bool:
        parts = [part for part in path.split("/") if part]
        states = closure({0})
        for at, part in enumerate(parts):
            if end in states and below and at > 0:  # a folder it matched holds the path
                return True
            moved = set()
            for state in states:
                if state == end:
                    continue
                matcher = matchers[state]
                if matcher is None:
                    moved.add(state)  # "**" takes this name and may take more
                elif matcher(part):
                    moved.add(state + 1)
            if not anchored:
                moved.add(0)  # the glob may begin at any later name
            states = closure(moved)
        return whole and end in states

    return matches


def any_glob(globs: Sequence[str]) -> Callable[[str], bool]:
    """Whether a path matches any of ``globs`` (``path_glob``'s reading, folders included),
    built once for many paths. Globs without wildcards (a file's path, a folder: what an agent
    sends by the hundred) are one set, looked up by each run of the path's names, whatever their
    number: 300 of them were matched one after another against each candidate's path (34 s).
    A glob with wildcards matches as written too: a path printed by a hit, pasted
    (``odd/[draft] notes.md``), names its file, where its ``[draft]`` alone reads as a class;
    and as written alone where a file or folder is so named from here (a translator's pasted
    `odd/[2024] report.md` also let in `odd/2 report.md`, first)."""
    plain: set[tuple[tuple[str, ...], bool, bool]] = set()  # (names, anchored, folder only)
    others = []
    for glob in globs:
        names = tuple(name for name in glob.split("/") if name)
        wild = any(c in glob for c in "*?[")
        if not names or (wild and not (glob.count("[") and os.path.lexists(glob))):
            others.append(path_glob(glob))
        if names:
            plain.add((names, glob.startswith("/"), glob.endswith("/")))
        if (shown := from_display(glob)) is not None:
            names = tuple(name for name in shown.split("/") if name)
            plain.add((names, shown.startswith("/"), shown.endswith("/")))
    if not plain:
        return lambda path: any(matches(path) for matches in others)
    longest = max(len(names) for names, _, _ in plain)

    def matches(path: str) -> bool:
        parts = tuple(part for part in path.split("/") if part)
        for first in range(len(parts)):
            for end in range(first + 1, min(len(parts), first + longest) + 1):
                run, under = parts[first:end], end < len(parts)  # a folder the path lies under
                if (run, False, False) in plain or (under and (run, False, True) in plain):
                    return True
                if first == 0 and (
                    (run, True, False) in plain or (under and (run, True, True) in plain)
                ):
                    return True
        return any(match(path) for match in others)

    return matches


# What ``display_path`` writes for a character it will not print: "\t", "\n", "\x1b", "\u2028".
_SHOWN_ESCAPE = re.compile(r"\\(?:t|n|x[0-9a-f]{2}|u[0-9a-f]{4})")


def from_display(pattern: str) -> str | None:
    """The path a pattern names as a terminal shows it (``display_path``: a tab in a name as
    "\\t"), pasted; None when it holds no such escape."""
    if "\\" not in pattern:
        return None
    shown = _SHOWN_ESCAPE.sub(_unescaped, pattern)
    return shown if shown != pattern else None


def _unescaped(match: re.Match[str]) -> str:
    code = match.group()[1:]
    return {"t": "\t", "n": "\n"}.get(code) or chr(int(code[1:], 16))


# glob.escape's "[[]", "[*]" and "[?]": a character as it is, no wildcard.
_ESCAPED = re.compile(r"\[[\[*?]\]")


def _has_wildcards(name: str) -> bool:
    return any(c in _ESCAPED.sub("", name) for c in "*?[")
