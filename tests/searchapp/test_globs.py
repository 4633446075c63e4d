"""Brace expansion against bash's own, and the unclosed-class check against fnmatch."""

from __future__ import annotations

import collections
import fnmatch
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from searchapp.globs import any_glob, expand_braces, path_glob, unclosed_class

PATTERNS = [
    "*.{md,txt}",
    "a{b,c{d,e}}f",
    "{a,b}{1,2}",
    "notes/{draft,final}/*.md",
    "{,x}y",
    "plain.md",
    "{single}",
    "open{a,b",
    "x{a,b}y{c}",
]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash as the reference")
@pytest.mark.parametrize("pattern", PATTERNS)
def test_braces_expand_as_bash_expands_them(pattern: str) -> None:
    # set -f: no file name expansion, so "*" stays; printf one word a line.
    script = f"set -f; printf '%s\\n' {pattern}"
    words = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert expand_braces(pattern) == words.stdout.splitlines()


@pytest.mark.parametrize("pattern", ["[", "a[b", "[!]", "[]", "[]]", "[a]", "[[]", "x[!a]y[", "*"])
def test_an_unclosed_class_is_one_fnmatch_takes_literally(pattern: str) -> None:
    literal = fnmatch.translate(pattern).count("\\[") > pattern.count("[[]")
    assert unclosed_class(pattern) == literal


def test_a_glob_of_too_many_expansions_is_refused_before_it_is_built() -> None:
    from searchapp.errors import BadInputError
    from searchapp.globs import MAX_EXPANSIONS

    assert len(expand_braces("{a,b}" * 8)) == 2**8 == MAX_EXPANSIONS
    with pytest.raises(BadInputError, match="expands to more than 256 globs"):
        expand_braces("{a,b}" * 40)  # 2**40 globs: refused at once, not after building them


def test_a_brace_inside_a_class_is_a_literal_one() -> None:
    # "[{]" is how a refused "{" is written literally: it stopped "{md,txt}" from expanding.
    from searchapp.globs import unclosed

    assert expand_braces("[{]*.{md,txt}") == ["[{]*.md", "[{]*.txt"]
    assert expand_braces("{[,]}x") == ["{[,]}x"]  # the comma is the class's
    assert unclosed("[{]*.{md,txt}") is None and unclosed("*[}]") is None
    assert unclosed("*.{md") == "opens a {...} group it never closes; write [{] for a literal {"
    assert unclosed("{a,[}").startswith("opens a [...] class")  # "[" once expanded


def test_globs_as_one_test_match_what_each_glob_alone_matches() -> None:
    # any_glob looks plain globs (paths, folders) up in a set: against path_glob, one by one.
    rng = random.Random(1)
    names = ["a", "b", "c", "x.py", "d.md"]

    def glob() -> str:
        parts = [
            rng.choice([*names, "*", "**", "*.py", "?", "[ab]"])
            if rng.random() < 0.2
            else rng.choice(names)
            for _ in range(rng.randint(1, 3))
        ]
        return (
            ("/" if rng.random() < 0.4 else "")
            + "/".join(parts)
            + ("/" if rng.random() < 0.3 else "")
        )

    seen = collections.Counter()
    for _ in range(20_000):
        globs = [glob() for _ in range(rng.randint(1, 4))]
        path = ("/" if rng.random() < 0.8 else "") + "/".join(
            rng.choice(names) for _ in range(rng.randint(1, 5))
        )
        expected = any(path_glob(g)(path) for g in globs)
        assert any_glob(globs)(path) == expected, (globs, path)
        seen[expected] += 1
    assert min(seen.values()) > 2_000  # both answers were tried often


def test_a_path_with_glob_characters_matches_as_written_too() -> None:
    # A hit's path pasted into --path: its "[draft]" read as a class alone matched nothing
    # ("no indexed document matches --path 'odd/[draft] notes.md'").
    path = "/home/u/odd/[draft] notes.md"
    for glob in ("odd/[draft] notes.md", path, "[draft] notes.md", "/home/u/odd/"):
        assert any_glob([glob])(path), glob
    assert not path_glob("odd/[draft] notes.md")(path)  # as a glob alone it does not
    assert any_glob(["odd/[draft] notes.md"])("/home/u/odd/d notes.md")  # and still a glob
    assert not any_glob(["/odd/[draft] notes.md"])(path)  # anchored: from the root only
    assert any_glob(["odd/*"])("/home/u/odd/*")  # a name holding "*" too
    assert not any_glob(["odd/[draft] notes.md"])("/home/u/odd/[draft] notes.md.bak")


def test_a_path_with_brackets_that_names_a_file_here_is_that_file_alone(
    tmp_path, monkeypatch
) -> None:
    # A translator's pasted `odd/[2024] report.md` let in `odd/2 report.md` too, first.
    (tmp_path / "odd").mkdir()
    for name in ("[2024] report.md", "2 report.md"):
        (tmp_path / "odd" / name).write_text("x")
    monkeypatch.chdir(tmp_path)
    matches = any_glob(["odd/[2024] report.md"])
    assert matches(f"{tmp_path}/odd/[2024] report.md")
    assert not matches(f"{tmp_path}/odd/2 report.md")
    assert any_glob(["odd/[13] report.md"])(f"{tmp_path}/odd/2 report.md") is False
    assert any_glob(["odd/[12] report.md"])(f"{tmp_path}/odd/2 report.md")  # no such file: a glob


def test_a_path_as_a_terminal_shows_it_names_its_file() -> None:
    # A hit in "tab<TAB>here.md" is shown "tab\there.md"; pasted into --path, it matched
    # nothing ("no indexed document matches --path 'notes/tab\\there.md'").
    from searchapp.interfaces.render import display_path

    for name in ("tab\there.md", "new\nline.md", "esc\x1bname.md", "bidi\u202eoverride.md"):
        path = f"/home/u/notes/{name}"
        shown = display_path(path, cwd=Path("/home/u"))
        assert shown != f"notes/{name}"
        assert any_glob([shown])(path), shown
        assert any_glob([f"/home/u/{shown}"])(path), shown
        assert not any_glob([shown])("/home/u/notes/other.md")
    assert any_glob(["notes/back\\tslash.md"])("/home/u/notes/back\\tslash.md")  # as written


def test_from_the_root_a_path_is_shown_absolute() -> None:
    # `search mcp --watch` run by a client from `/` logged `tmp/h21/vault/a.md`.
    from searchapp.interfaces.render import display_path

    assert display_path("/tmp/vault/a.md", cwd=Path("/")) == "/tmp/vault/a.md"
    assert display_path("/home/u/notes/a.md", cwd=Path("/home/u")) == "notes/a.md"
