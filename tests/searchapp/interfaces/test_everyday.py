"""Everyday use: removal, pipes and exit codes, noise, progress, REPL and help details.

The CLI runs in-process with the fake encoder (``fake_model``): these tests are about what the
command does with files, streams and exit codes, not about ranking quality.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from searchapp.ingest import pipeline
from searchapp.ingest.pipeline import Progress
from searchapp.interfaces.render import SNIPPET_CHARS, counted, hit_line, print_results
from searchapp.interfaces.repl import Repl
from searchapp.ranking.searcher import Hit, SearchOptions
from searchapp.search_index import SearchIndex
from searchapp.storage.store import Store
from tests.searchapp.cli_runner import run_cli as run
from tests.searchapp.conftest import FakeEncoder, use_encoder

REPO = Path(__file__).resolve().parents[3]
LINE = re.compile(r"^(?P<path>[^:\n]+):(?P<line>\d+): (?P<score>-?\d\.\d{3})  (?P<text>.+)$")
LINE_OF_RECORD = re.compile(
    r"^(?P<path>[^:\n]+) #(?P<id>[^:]+): (?P<score>-?\d\.\d{3})  (?P<text>.+)$"
)


@pytest.fixture()
def fake_model(monkeypatch) -> FakeEncoder:
    """`search` commands in this process embed with a fake 64-token word encoder."""

    encoder = FakeEncoder(dim=32, max_length=64)
    use_encoder(monkeypatch, encoder)
    return encoder


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, "utf-8")
    return root


DOCS = {
    "notes/wings.md": "Wing lift grows with the angle of attack until the flow separates.\n",
    "notes/heat.md": "Heat transfer at hypersonic speed heats the leading edge.\n",
    "drafts/plan.txt": "A plan for the wind tunnel tests of the new wing.\n",
    "old/archive.txt": "Archived minutes of the meeting about boundary layers.\n",
}


@pytest.fixture()
def indexed(tmp_path: Path, fake_model, capsys) -> tuple[Path, Path]:
    docs = write(tmp_path / "docs", DOCS)
    index_dir = tmp_path / "idx"
    code, _, err = run(capsys, "index", str(docs), "--index-dir", str(index_dir))
    assert code == 0, err
    return docs, index_dir


def indexed_paths(index_dir: Path) -> list[str]:
    search_index = SearchIndex(index_dir)
    try:
        return search_index.store.all_paths()
    finally:
        search_index.close()


def test_a_filter_that_cannot_be_read_is_not_recorded(indexed, capsys) -> None:
    # A historian's trial: `search index notes --include '*.{md'` failed, yet recorded the
    # glob, so every bare `search index` and `search watch` after failed on it too.
    docs, index_dir = indexed
    for option in ("--include", "--exclude"):
        code, _, err = run(
            capsys, "index", str(docs), option, "*.{md", "--index-dir", str(index_dir)
        )
        assert code == 2 and "opens a {...} group it never closes" in err, err
        assert "now updates it with" not in err  # no note that the next run will use it
    code, out, err = run(capsys, "info", "--index-dir", str(index_dir))
    assert code == 0 and "*.{md" not in out
    code, _, err = run(capsys, "index", "--index-dir", str(index_dir))
    assert code == 0, err


def test_a_file_named_alone_and_skipped_exits_1_and_is_no_indexed_root(
    tmp_path, fake_model, capsys
) -> None:
    # A paralegal's trial: `search index "scan.pdf"` (no text layer) exited 0, and `search
    # info` listed the scan as an indexed root of 0 documents.
    docs = write(tmp_path / "docs", {"note.md": "a note\n"})
    (docs / "scan.bin").write_bytes(bytes(range(256)) * 8)
    index = ["--index-dir", str(tmp_path / "idx")]
    code, _, err = run(capsys, "index", str(docs / "scan.bin"), *index)
    assert code == 1 and "skipped" in err and "binary file" in err, err
    code, out, _ = run(capsys, "info", *index)
    assert "scan.bin" not in out
    code, _, err = run(capsys, "index", str(docs / "scan.bin"), str(docs / "note.md"), *index)
    assert code == 0, err  # one of them was indexed
    code, out, _ = run(capsys, "info", *index)
    assert "note.md" in out and "scan.bin" not in out


def test_filters_that_leave_out_every_file_say_so(tmp_path, fake_model, capsys) -> None:
    # `search index notes --include 'notes/sub/*'` said "0 added, ..., 0 skipped", and the
    # next query that the index holds no documents, with no word of the glob.
    docs = write(tmp_path / "notes", {"sub/a.md": "hello\n", "b.txt": "world\n"})
    index_dir = tmp_path / "idx"
    code, _, err = run(
        capsys, "index", str(docs), "--include", "notes/sub/*", "--index-dir", str(index_dir)
    )
    assert code == 0
    assert "warning: --include/--exclude left out all 2 files under these paths" in err
    code, _, err = run(
        capsys, "index", str(docs), "--include", "sub/*", "--index-dir", str(index_dir)
    )
    assert code == 0 and "warning" not in err and "1 added" in err


def test_an_index_folder_that_cannot_be_made_is_one_clear_line(tmp_path, fake_model, capsys):
    # "error: [Errno 20] Not a directory: '/tmp/r/somefile/idx'"
    docs = write(tmp_path / "docs", {"a.txt": "hello\n"})
    (tmp_path / "somefile").write_text("x", "utf-8")
    code, _, err = run(capsys, "index", str(docs), "--index-dir", str(tmp_path / "somefile/idx"))
    assert code == 2
    assert err == (
        f"error: cannot create the index folder {tmp_path / 'somefile/idx'} (Not a directory: "
        f"{tmp_path / 'somefile'} is a file); choose another --index-dir\n"
    )


def test_l_with_0_ends_each_path_with_nul_for_xargs(tmp_path, fake_model, capsys) -> None:
    # -l wrote a newline in a name as "\\n": xargs could not use it, and there was no -0.
    docs = write(tmp_path / "docs", {"new\nline.txt": "wing lift\n", "b.txt": "wing lift too\n"})
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    query = ("query", "wing lift", "--index-dir", str(index_dir))
    code, out, _ = run(capsys, *query, "-l", "-0")
    assert code == 0 and out.endswith("\0")
    assert sorted(out[:-1].split("\0")) == sorted(str(p) for p in docs.iterdir())
    code, lines, _ = run(capsys, *query, "-l", "--format", "lines")  # harmless: allowed
    assert code == 0 and lines == run(capsys, *query, "-l")[1]
    # Lines output: a NUL in place of the ":" after the path, as grep -Z and rg -0 write it
    # (it was refused: a name holding ":" or a newline could not be told from the line after).
    code, out, _ = run(capsys, *query, "-0", "--mode", "lexical")
    rows = [row for row in out.split("\n") if row]
    assert code == 0 and len(rows) == 2 + 1  # a newline in a name: one more row
    assert f"{docs / 'b.txt'}\x001: " in out and f"{docs / 'new'}\nline.txt\x001: " in out
    code, out, _ = run(capsys, *query, "-0", "-C", "0")
    assert code == 0 and out.count("\0") == 2 and f"{docs / 'b.txt'}\x001: " in out
    code, _, err = run(capsys, *query, "-0", "--json")
    assert code == 2 and "-0 puts a NUL after each path of -l or lines output" in err


def test_context_reads_a_file_once_for_all_its_hits_and_again_once_it_changes(
    tmp_path, monkeypatch
) -> None:
    # -C read and decoded a 5 MB log again for each of its 100 hits: 4.96 s against 0.34 s.
    from searchapp.ingest import decoding

    docs = tmp_path / "docs"
    docs.mkdir()
    text = "\n\n".join(f"wing lift note {n}\n" + "x " * 300 for n in range(12))
    (docs / "log.txt").write_text(text, "utf-8")
    search_index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    search_index.add([docs])
    reads: list[str] = []
    read_bytes = decoding.read_bytes
    monkeypatch.setattr(
        decoding, "read_bytes", lambda path, **kw: reads.append(path) or read_bytes(path, **kw)
    )
    hits = search_index.search("wing lift", k=10, per_doc=10, mode="lexical")
    contexts = [search_index.context(hit, 1) for hit in hits]
    assert len(hits) >= 5 and len(reads) == 1
    assert all(not c.changed and hit.text in c.text for hit, c in zip(hits, contexts))
    (docs / "log.txt").write_text(text.replace("note 0", "memo 0"), "utf-8")  # same size
    os.utime(docs / "log.txt", ns=(1, 1))
    assert search_index.context(hits[0], 1).changed == (hits[0].text.startswith("wing lift note 0"))
    assert len(reads) == 2
    search_index.close()


def test_context_of_a_file_gone_since_it_was_indexed_says_it_is_gone(
    indexed, capsys, monkeypatch
) -> None:
    docs, index_dir = indexed
    (docs / "notes/wings.md").unlink()
    code, _, err = run(capsys, "query", "wing lift", "-C", "1", "--index-dir", str(index_dir))
    gone = docs / "notes/wings.md"
    assert code == 0 and f"note: {gone} is gone since it was indexed" in err
    with monkeypatch.context() as here:  # named from here, as the hits are (it was absolute)
        here.chdir(docs)
        code, _, err = run(capsys, "query", "wing lift", "-C", "1", "--index-dir", str(index_dir))
        assert code == 0 and "note: notes/wings.md is gone since it was indexed: no context" in err
    # Its folder is there: `search index` drops it (and finds it again if it was renamed).
    assert "no context around its passages (run `search index`)" in err
    # A folder of its name in its place (a `git checkout`): gone too, not "changed".
    gone.mkdir()
    code, _, err = run(capsys, "query", "wing lift", "-C", "1", "--index-dir", str(index_dir))
    assert code == 0 and f"note: {gone} is gone since it was indexed" in err, err
    code, _, err = run(capsys, "query", "wing lift", "--index-dir", str(index_dir))
    assert code == 0 and f"note: {gone} is gone since it was indexed" in err, err
    gone.rmdir()
    # Its folder gone too (unmounted?): a bare `search index` keeps what lay there.
    shutil.rmtree(docs / "notes")
    code, _, err = run(capsys, "query", "wing lift", "-C", "1", "--index-dir", str(index_dir))
    assert code == 0 and f"(`search remove {gone}` drops it)" in err


# -- removal ----------------------------------------------------------------------------------


def test_remove_by_path_glob_and_dry_run(indexed, capsys, monkeypatch) -> None:
    docs, index_dir = indexed
    # A "[" that never closes matched nothing (exit 1) where --path refuses it (exit 2);
    # unless it names an indexed path, which it removes (`foo[1.txt`).
    code, _, err = run(capsys, "remove", "-n", "[", "--index-dir", str(index_dir))
    assert code == 2 and "opens a [...] class it never closes" in err
    odd = write(docs, {"foo[1.txt": "an odd name\n"}) / "foo[1.txt"
    code, _, err = run(capsys, "index", str(odd), "--index-dir", str(index_dir))
    assert code == 0, err
    code, out, _ = run(capsys, "remove", str(odd), "--index-dir", str(index_dir))
    assert code == 0 and str(odd) not in indexed_paths(index_dir)
    # An indexed path with glob characters names itself, not the files it would match: as a
    # glob, "[ab].md" named a.md and b.md and left the file of that name indexed.
    files = write(docs / "odd", {"[ab].md": "brackets\n", "a.md": "an a\n", "b.md": "a b\n"})
    assert run(capsys, "index", str(files), "--index-dir", str(index_dir))[0] == 0
    code, out, err = run(capsys, "remove", str(files / "[ab].md"), "--index-dir", str(index_dir))
    assert (code, out.split()) == (0, [str(files / "[ab].md")]), err
    left = indexed_paths(index_dir)
    assert str(files / "a.md") in left and str(files / "b.md") in left
    code, out, _ = run(
        capsys, "remove", "-n", str(files / "[ab].md"), "--index-dir", str(index_dir)
    )  # indexed no more, it is the glob it looks like
    assert (code, sorted(out.split())) == (0, [str(files / "a.md"), str(files / "b.md")])
    assert run(capsys, "remove", str(files), "--index-dir", str(index_dir))[0] == 0
    before = indexed_paths(index_dir)
    code, out, err = run(capsys, "remove", "*.md", "--dry-run", "--index-dir", str(index_dir))
    assert code == 0 and "would remove 2 paths" in err
    assert sorted(out.split()) == sorted(p for p in before if p.endswith(".md"))
    assert indexed_paths(index_dir) == before  # a dry run changes nothing
    # A glob with a folder in it names what `query --path` names with it, wherever the folder.
    assert not str(docs).startswith(os.getcwd())
    code, out, err = run(capsys, "remove", "notes/*", "-n", "--index-dir", str(index_dir))
    assert code == 0 and sorted(out.split()) == [
        str(docs / "notes/heat.md"),
        str(docs / "notes/wings.md"),
    ]
    args = ["query", "wing", "--path", "notes/*", "-l", "-k", "10", "--index-dir", str(index_dir)]
    assert sorted(run(capsys, *args)[1].split()) == sorted(out.split())
    monkeypatch.chdir(docs / "notes")  # ./ and ../ name paths from the current folder only
    for glob, names in [("./w*", ["wings.md"]), ("../drafts/*", ["plan.txt"]), ("./*.txt", [])]:
        code, out, _ = run(capsys, "remove", glob, "-n", "--index-dir", str(index_dir))
        assert [Path(p).name for p in out.split()] == names and code == (0 if names else 1)

    code, out, err = run(capsys, "remove", str(docs / "drafts"), "--index-dir", str(index_dir))
    assert code == 0 and out.split() == [str(docs / "drafts" / "plan.txt")]
    assert indexed_paths(index_dir) == [p for p in before if "/drafts/" not in p]

    code, out, err = run(capsys, "remove", "nothing-like-this", "--index-dir", str(index_dir))
    assert code == 1 and out == ""
    assert err == "nothing indexed matches nothing-like-this; `search info` lists what is indexed\n"
    # Of several, one that matches nothing is named (a typo went unseen), as rm names one.
    args = ("remove", "-n", str(docs / "old"), "olt/", "--index-dir", str(index_dir))
    code, out, err = run(capsys, *args)
    assert code == 0 and out.split() == [str(docs / "old" / "archive.txt")]
    assert err.splitlines()[0] == "olt/: nothing indexed matches it"


def test_a_path_through_dot_dot_names_the_same_files(indexed, capsys, monkeypatch) -> None:
    # "../docs" from a sibling folder and the absolute path are one folder: no second copy.
    docs, index_dir = indexed
    (docs.parent / "elsewhere").mkdir()
    monkeypatch.chdir(docs.parent / "elsewhere")
    code, _, err = run(capsys, "index", "../docs", "--index-dir", str(index_dir))
    assert code == 0 and f"0 added, 0 updated, 0 removed, {len(DOCS)} unchanged" in err
    assert indexed_paths(index_dir) == sorted(str(docs / name) for name in DOCS)
    code, out, _ = run(capsys, "remove", "../docs/notes", "-n", "--index-dir", str(index_dir))
    assert code == 0 and len(out.split()) == 2
    monkeypatch.chdir(docs)  # listed as `search query -l` lists them: relative below here
    code, out, _ = run(capsys, "remove", "notes/", "-n", "--index-dir", str(index_dir))
    assert code == 0 and sorted(out.split()) == sorted(n for n in DOCS if n.startswith("notes/"))
    code, out, _ = run(capsys, "info", "--json", "--index-dir", str(index_dir))
    assert [root["path"] for root in json.loads(out)["roots"]] == [str(docs)]


def test_a_bare_index_updates_what_was_indexed_and_not_what_was_removed(
    tmp_path, fake_model, capsys
) -> None:
    docs = write(tmp_path / "docs", DOCS)
    other = write(tmp_path / "other", {"c.txt": "Another folder on gliders.\n"})
    index_dir = str(tmp_path / "idx")
    code, _, err = run(capsys, "index", "--index-dir", index_dir)
    assert code == 2 and "nothing indexed in" in err and "search index PATH" in err
    assert run(capsys, "index", str(docs), str(other), "--index-dir", index_dir)[0] == 0
    (docs / "notes/new.md").write_text("A new note on wing flutter.\n", "utf-8")
    code, _, err = run(capsys, "index", "--index-dir", index_dir)
    assert code == 0 and "1 added, 0 updated, 0 removed, 5 unchanged" in err
    # A removed root is forgotten; a removed folder inside a root comes back, and it says so.
    code, _, err = run(capsys, "remove", str(other), "--index-dir", index_dir)
    assert code == 0 and "the next `search index` adds" not in err
    assert f"forgot {other}: a bare `search index` no longer updates it" in err  # was silent
    code, _, err = run(capsys, "remove", str(docs / "old"), "--index-dir", index_dir)
    assert code == 0 and "it lies under the indexed folder" in err  # old/ held one file
    assert "the next `search index` adds it back" in err
    code, _, err = run(capsys, "index", "--index-dir", index_dir)
    assert code == 0 and "1 added, 0 updated, 0 removed, 4 unchanged" in err
    assert not any(p.startswith(str(other)) for p in indexed_paths(Path(index_dir)))
    assert str(docs / "old/archive.txt") in indexed_paths(Path(index_dir))
    # A glob of all that lies below a root names its files, not the root: they come back, as
    # when they are named one by one (the root was forgotten, and the bare run failed).
    code, _, err = run(capsys, "remove", f"{docs}/**", "--index-dir", index_dir)
    assert code == 0 and "forgot" not in err and "adds them back" in err, err
    code, _, err = run(capsys, "index", "--index-dir", index_dir)
    assert code == 0 and "5 added, 0 updated, 0 removed" in err, err


def test_remove_says_a_file_comes_back_only_when_the_folders_walk_brings_it(
    tmp_path, fake_model, capsys
) -> None:
    # A node_modules indexed on its own, or a file the folder's --exclude leaves out, was said
    # to come back with the next `search index`: it did not.
    proj = write(
        tmp_path / "proj",
        {"a.md": "Notes.\n", "b.log": "A log.\n", "node_modules/x/i.js": "Bundler code.\n"},
    )
    index_dir = str(tmp_path / "idx")
    run(capsys, "index", str(proj), "--exclude", "*.log", "--index-dir", index_dir)
    run(capsys, "index", str(proj / "node_modules"), str(proj / "b.log"), "--index-dir", index_dir)
    for gone in (proj / "node_modules", proj / "b.log"):
        code, _, err = run(capsys, "remove", str(gone), "--index-dir", index_dir)
        assert code == 0 and "adds it back" not in err, err
        assert f"forgot {gone}" in err
    code, _, err = run(capsys, "remove", str(proj / "a.md"), "--index-dir", index_dir)
    assert code == 0 and "the next `search index` adds it back" in err
    code, _, err = run(capsys, "index", "--index-dir", index_dir)
    assert code == 0 and "1 added, 0 updated, 0 removed" in err, err  # a.md alone


def test_remove_dry_run_says_what_it_would_forget_and_a_root_inside_another_comes_back(
    tmp_path, fake_model, capsys
) -> None:
    notes = write(tmp_path / "notes", {"a.md": "Notes.\n", "sub/b.md": "More notes.\n"})
    other = write(tmp_path / "other", {"c.md": "Other notes.\n"})
    index_dir = str(tmp_path / "idx")
    run(capsys, "index", str(notes), str(notes / "sub"), str(other), "--index-dir", index_dir)
    code, _, err = run(capsys, "remove", "-n", str(other), "--index-dir", index_dir)
    assert code == 0 and f"would forget {other}: a bare `search index` no longer" in err, err
    # Forgotten as a root of its own, but the folder around it indexes it again: said so alone
    # (it said both "forgot notes/sub" and "the next search index adds it back").
    code, _, err = run(capsys, "remove", "-n", str(notes / "sub"), "--index-dir", index_dir)
    assert code == 0 and "forget" not in err and "adds it back" in err, err  # as it would do
    code, _, err = run(capsys, "remove", str(notes / "sub"), "--index-dir", index_dir)
    assert code == 0 and "forgot" not in err and "adds it back" in err, err
    code, _, err = run(capsys, "index", "--index-dir", index_dir)
    assert code == 0 and "1 added, 0 updated, 0 removed" in err, err


def test_a_bare_index_walks_each_root_with_its_filters(tmp_path, fake_model, capsys) -> None:
    notes = write(tmp_path / "notes", {"a.md": "Wing notes.\n", "b.py": "print('wing')\n"})
    code_dir = write(tmp_path / "code", {"c.py": "print('lift')\n"})
    index_dir = str(tmp_path / "idx")
    run(capsys, "index", str(notes), "--include", "*.md", "--index-dir", index_dir)
    run(capsys, "index", str(code_dir), "--index-dir", index_dir)
    write(notes, {"d.md": "More wing notes.\n", "e.py": "print(2)\n"})
    write(code_dir, {"f.txt": "Lift notes.\n"})
    code, _, err = run(capsys, "index", "--index-dir", index_dir)
    assert code == 0, err
    assert f"updating {notes} (--include '*.md')" in err and f"updating {code_dir}\n" in err
    paths = indexed_paths(Path(index_dir))
    assert str(notes / "d.md") in paths and str(code_dir / "f.txt") in paths
    assert str(notes / "b.py") not in paths and str(notes / "e.py") not in paths
    # Filters given to a bare run replace the remembered ones, for every root.
    code, _, err = run(capsys, "index", "--include", "*.py", "--index-dir", index_dir)
    assert code == 0 and "--include '*.py'" in err
    assert str(notes / "e.py") in indexed_paths(Path(index_dir))


def test_remove_reads_stars_as_include_does(tmp_path, fake_model, capsys) -> None:
    # "a/*.txt" would remove a/b/z.txt too ("*" crossed folders) and "a/**/*.txt" missed
    # a/y.txt ("**/" wanted a folder); `index --include 'a/*.txt'` indexes a/y.txt alone.
    tree = write(tmp_path / "t", {"x.txt": "alpha\n", "a/y.txt": "alpha\n", "a/b/z.txt": "alpha\n"})
    index_dir = str(tmp_path / "idx")
    assert run(capsys, "index", str(tree), "--index-dir", index_dir)[0] == 0
    for glob, names in [("a/*.txt", ["y.txt"]), ("a/**/*.txt", ["y.txt", "z.txt"])]:
        code, out, _ = run(capsys, "remove", "-n", glob, "--index-dir", index_dir)
        assert code == 0 and sorted(Path(p).name for p in out.split()) == names, glob
        args = ["query", "alpha", "-l", "-k", "9", "--path", glob, "--index-dir", index_dir]
        assert sorted(Path(p).name for p in run(capsys, *args)[1].split()) == names, glob
    other = str(tmp_path / "other")
    assert run(capsys, "index", str(tree), "--include", "a/*.txt", "--index-dir", other)[0] == 0
    assert [Path(p).name for p in indexed_paths(Path(other))] == ["y.txt"]


def test_a_bare_name_that_matched_nothing_is_told_the_glob_that_would(
    tmp_path, fake_model, capsys, monkeypatch
) -> None:
    # `--path notes.md` finds the name anywhere; `search remove notes.md` reads a path from
    # here, and said only "nothing indexed matches".
    tree = write(tmp_path / "t", {"a/-dash.md": "alpha\n", "b/notes.md": "alpha\n"})
    index_dir = str(tmp_path / "idx")
    assert run(capsys, "index", str(tree), "--index-dir", index_dir)[0] == 0
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "remove", "-n", "--index-dir", index_dir, "--", "-dash.md")
    assert code == 1 and out == ""
    assert err.strip() == (
        "nothing indexed matches; -dash.md is read as ./-dash.md; files of that name anywhere: "
        "'**/-dash.md'"
    )
    code, out, err = run(
        capsys, "remove", "-n", "notes.md", "gone.md", "*.md", "--index-dir", index_dir
    )
    assert code == 0 and len(out.split()) == 2
    assert "notes.md: nothing indexed matches it (notes.md is read as ./notes.md;" in err
    assert "gone.md: nothing indexed matches it\n" in err  # no file of that name: no hint
    code, out, _ = run(capsys, "remove", "-n", "**/-dash.md", "--index-dir", index_dir)
    assert code == 0 and out.strip() == "t/a/-dash.md"  # the glob it named (from here)
    # A folder's name, as `--path b/` finds it anywhere, and a relative path below one.
    code, out, err = run(capsys, "remove", "-n", "b/", "--index-dir", index_dir)
    assert code == 1 and err.strip() == (
        "nothing indexed matches; b/ is read as ./b/; folders of that name anywhere: '**/b/**'"
    )
    code, out, err = run(capsys, "remove", "-n", "b/notes.md", "--index-dir", index_dir)
    assert code == 1 and "files of that name anywhere: '**/b/notes.md'" in err
    assert run(capsys, "remove", "-n", "**/b/**", "--index-dir", index_dir)[1].strip() == (
        "t/b/notes.md"
    )


def test_a_glob_that_names_a_root_but_not_its_files_keeps_the_root(
    tmp_path, fake_model, capsys
) -> None:
    drafts = write(tmp_path / "drafts", {"plan.txt": "A plan for the tunnel tests.\n"})
    notes = write(tmp_path / "notes", {"draft1.md": "A first draft on wings.\n"})
    index_dir = str(tmp_path / "idx")
    assert run(capsys, "index", str(drafts), str(notes), "--index-dir", index_dir)[0] == 0
    code, out, _ = run(capsys, "remove", "draft*", "--index-dir", index_dir)
    assert code == 0 and out.strip() == str(notes / "draft1.md")  # plan.txt's name differs
    code, out, _ = run(capsys, "info", "--index-dir", index_dir)
    # In a pipe, each indexed folder on a line of its own, named (it was "       : /notes").
    assert f"\nindexed: {drafts} (1 document)\n" in out
    assert f"\nindexed: {notes} (0 documents)\n" in out


def test_a_deleted_folder_can_be_removed_or_reindexed_away(indexed, capsys) -> None:
    docs, index_dir = indexed
    for path in (docs / "old").iterdir():
        path.unlink()
    (docs / "old").rmdir()
    code, _, err = run(capsys, "index", str(docs / "old"), "--index-dir", str(index_dir))
    assert code == 0, err
    assert "1 removed" in err
    assert not any("/old/" in p for p in indexed_paths(index_dir))
    code, _, err = run(capsys, "index", str(docs / "old"), "--index-dir", str(index_dir))
    assert code == 2 and "no such file or folder" in err  # nothing indexed there any more


@pytest.mark.parametrize("inner_first", [True, False], ids=["inner-first", "outer-first"])
@pytest.mark.parametrize("folder", ["proj", "proj[1]"])  # a name that reads as a glob
def test_a_root_inside_a_root_keeps_what_the_outer_walk_skips(
    tmp_path, fake_model, capsys, inner_first, folder
) -> None:
    proj = write(
        tmp_path / folder,
        {"notes.md": "Release notes.\n", "node_modules/pkg/README.md": "How the bundler works.\n"},
    )
    index_dir = str(tmp_path / "idx")
    module = proj / "node_modules" / "pkg" / "README.md"
    # Other filters for the outer root: a bare run walks the two roots one after the other.
    inner = ["index", str(proj / "node_modules"), "--index-dir", index_dir]
    outer = ["index", str(proj), "--no-default-excludes", "--index-dir", index_dir]
    for args in [inner, outer] if inner_first else [outer, inner]:
        code, _, err = run(capsys, *args)
        assert code == 0 and "1 added, 0 updated, 0 removed" in err  # node_modules: by name
    assert indexed_paths(Path(index_dir)) == [str(module), str(proj / "notes.md")]
    for _ in range(2):  # nothing goes back and forth between the two roots
        code, _, err = run(capsys, "index", "--index-dir", index_dir)
        assert code == 0 and err.count("0 added, 0 updated, 0 removed, 1 unchanged") == 2, err
    module.unlink()  # a file gone is gone, whichever root walks first
    code, _, err = run(capsys, "index", "--index-dir", index_dir)
    assert code == 0 and "1 removed" in err
    assert indexed_paths(Path(index_dir)) == [str(proj / "notes.md")]
    # The outer folder deleted and given again: both roots go with their documents.
    (proj / "notes.md").unlink()
    for path in sorted(proj.rglob("*"), reverse=True):
        path.rmdir()
    proj.rmdir()
    code, _, err = run(capsys, "index", str(proj), "--index-dir", index_dir)
    assert code == 0 and "1 removed" in err
    code, out, _ = run(capsys, "info", "--index-dir", index_dir)
    assert folder not in out


def test_a_root_not_on_disk_is_kept_until_named_then_forgotten(indexed, tmp_path, capsys) -> None:
    # A bare run leaves a root that is not there as it is (an unmounted drive is not a deleted
    # folder) and says so; naming it, to index or to remove, drops it and forgets it.
    docs, index_dir = indexed
    gone = write(tmp_path / "gone", {"a.txt": "A folder about to be deleted.\n"})
    empty = write(tmp_path / "emptied", {"b.txt": "A folder about to be emptied.\n"})
    other = write(tmp_path / "other", {"c.txt": "A folder about to be unmounted.\n"})
    args = ["index", str(gone), str(empty), str(other), "--index-dir", str(index_dir)]
    assert run(capsys, *args)[0] == 0
    for folder in (gone, other):
        next(folder.iterdir()).unlink()
        folder.rmdir()
    code, _, err = run(capsys, "index", "--index-dir", str(index_dir))
    assert code == 0 and "0 removed" in err
    assert f"{gone} is not there (unmounted, moved or deleted?): 1 document kept; give" in err
    assert "`search remove` to drop it\n" in err
    assert str(gone / "a.txt") in indexed_paths(index_dir)
    code, _, err = run(capsys, "index", "-q", "--index-dir", str(index_dir))
    assert code == 0 and err == ""
    # A hit there: not "(run `search index`)", which keeps it (it said so all the same).
    code, _, err = run(capsys, "query", "folder deleted", "-k", "20", "--index-dir", str(index_dir))
    assert code == 0 and f"note: {gone / 'a.txt'} is not there: the folder it was indexed" in err
    assert "(run `search index`)" not in err, err
    code, _, err = run(capsys, "index", str(gone), "--index-dir", str(index_dir))
    assert code == 0 and "1 removed" in err
    code, out, err = run(capsys, "remove", str(other), "--index-dir", str(index_dir))
    assert code == 0 and out.split() == [str(other / "c.txt")]
    code, out, _ = run(capsys, "info", "--index-dir", str(index_dir))
    assert str(gone) not in out and str(other) not in out and f"{empty} (1 document)" in out
    # An emptied root stays on disk and in `search info` until `search remove` forgets it.
    (empty / "b.txt").unlink()
    assert run(capsys, "index", str(empty), "--index-dir", str(index_dir))[0] == 0
    code, out, _ = run(capsys, "info", "--index-dir", str(index_dir))
    assert f"{empty} (0 documents)" in out
    code, out, err = run(capsys, "remove", str(empty), "--index-dir", str(index_dir))
    assert code == 0 and out == "" and "forgot" in err and "no documents under it" in err
    code, out, _ = run(capsys, "info", "--index-dir", str(index_dir))
    assert str(empty) not in out and f"{docs} (4 documents)" in out
    code, _, err = run(capsys, "remove", str(empty), "--index-dir", str(index_dir))
    assert code == 1 and "nothing indexed matches" in err


def test_a_hit_in_a_folder_not_there_is_told_so_and_a_deleted_file_root_as_gone(
    tmp_path, fake_model, capsys
) -> None:
    # A file given by name and deleted was said to lie in a folder "not there"; a link to an
    # unmounted drive's folder got "(run `search index`)", which keeps what lies there.
    notes = write(tmp_path / "notes", {"a.md": "The zebra crossing manual.\n"})
    write(tmp_path / "drive" / "notes", {"b.md": "Penguin migration facts.\n"})
    (tmp_path / "usb").symlink_to(tmp_path / "drive" / "notes")
    index_dir = str(tmp_path / "idx")
    args = ["index", str(notes / "a.md"), str(tmp_path / "usb"), "--index-dir", index_dir]
    assert run(capsys, *args)[0] == 0
    (notes / "a.md").unlink()
    (tmp_path / "drive").rename(tmp_path / "drive.unmounted")
    code, _, err = run(capsys, "query", "zebra penguin", "-k", "2", "--index-dir", index_dir)
    assert code == 0, err
    assert f"note: {notes / 'a.md'} is gone since it was indexed (run `search index`)" in err
    assert f"note: {tmp_path / 'usb' / 'b.md'} is not there: the folder it was indexed" in err


def test_a_file_root_deleted_from_its_folder_is_dropped_by_a_bare_run(
    indexed, tmp_path, capsys
) -> None:
    # A file given by name, deleted while its folder stays, was kept as if unmounted, and
    # queries went on finding it.
    _, index_dir = indexed
    folder = write(tmp_path / "tiny", {"w.txt": "The walrus naps on the ice.\n", "k.txt": "x\n"})
    assert run(capsys, "index", str(folder / "w.txt"), "--index-dir", str(index_dir))[0] == 0
    (folder / "w.txt").unlink()
    code, _, err = run(capsys, "index", "--index-dir", str(index_dir))
    assert code == 0 and "1 removed" in err and "is not there" not in err
    assert str(folder / "w.txt") not in indexed_paths(index_dir)
    code, out, _ = run(capsys, "info", "--index-dir", str(index_dir))
    assert "w.txt" not in out  # and forgotten as a root


def test_a_skipped_file_given_by_name_is_no_root_forever(indexed, tmp_path, capsys) -> None:
    # A binary file given by name and deleted stayed a root of 0 documents: a bare run failed
    # with "no file or folder left to update" while `search info` listed it. A FIFO or
    # /dev/null given by name was a root for good.
    _, index_dir = indexed
    folder = write(tmp_path / "odd", {"k.txt": "x\n"})
    (folder / "bin.txt").write_bytes(b"x\0\1\2")
    os.mkfifo(folder / "pipe")
    args = [str(folder / "bin.txt"), str(folder / "pipe"), os.devnull]
    code, _, err = run(capsys, "index", *args, "--index-dir", str(index_dir))
    assert code == 0 and "3 skipped" in err
    code, out, _ = run(capsys, "info", "--index-dir", str(index_dir))
    # A file skipped is no root either (a paralegal's scan was listed as a root of nothing).
    assert "bin.txt" not in out and "pipe" not in out and os.devnull not in out
    (folder / "bin.txt").unlink()
    code, _, err = run(capsys, "index", "--index-dir", str(index_dir))
    assert code == 0 and "is not there" not in err, err
    code, out, _ = run(capsys, "info", "--index-dir", str(index_dir))
    assert "bin.txt" not in out
    # A folder of no documents that is not there (an unmounted drive's scans) is kept.
    empty = tmp_path / "scans"
    empty.mkdir()
    assert run(capsys, "index", str(empty), "--index-dir", str(index_dir))[0] == 0
    empty.rmdir()
    code, _, err = run(capsys, "index", "--index-dir", str(index_dir))
    assert (
        code == 0
        and (
            f"{empty} is not there (unmounted, moved or deleted?): nothing was indexed under it; "
            f"`search remove {empty}` forgets it"
        )
        in err
    )
    code, out, _ = run(capsys, "info", "--index-dir", str(index_dir))
    assert f"{empty} (0 documents)" in out
    # Alone, it is said so too, not "no file or folder left to update".
    alone = ["--index-dir", str(tmp_path / "alone")]
    (tmp_path / "mnt").mkdir()
    assert run(capsys, "index", str(tmp_path / "mnt"), *alone)[0] == 0
    (tmp_path / "mnt").rmdir()
    code, _, err = run(capsys, "index", *alone)
    assert code == 0 and "mnt is not there" in err and "left to update" not in err
    write(empty, {"scan.txt": "a page of text once mounted\n"})
    code, _, err = run(capsys, "index", "--index-dir", str(index_dir))
    assert code == 0 and "1 added" in err


def test_filters_of_a_later_run_keep_what_they_leave_out(indexed, capsys) -> None:
    docs, index_dir = indexed
    before = indexed_paths(index_dir)
    args = ["index", str(docs), "--include", "*.md", "--index-dir", str(index_dir)]
    code, _, err = run(capsys, *args)
    assert code == 0
    assert indexed_paths(index_dir) == before
    assert (
        "2 indexed documents under these paths do not match --include/--exclude: kept as "
        "they were, not updated" in err
    )
    # The root's filters change for later bare runs too: it says so, once.
    assert (
        f"note: {docs} was indexed with no filters; a bare `search index` now updates it "
        "with --include '*.md'" in err
    )
    assert "note:" not in run(capsys, *args)[2]
    (docs / ".searchignore").write_text("drafts/\n", "utf-8")  # an ignore file does remove
    code, _, err = run(capsys, "index", str(docs), "--index-dir", str(index_dir))
    assert code == 0 and "1 removed" in err
    assert str(docs / "drafts" / "plan.txt") not in indexed_paths(index_dir)


def test_info_lists_the_indexed_roots(indexed, capsys, tmp_path) -> None:
    docs, index_dir = indexed
    other = write(tmp_path / "more", {"a.txt": "another folder of notes\n", "b.md": "skip\n"})
    args = ["index", str(other), "--exclude", "*.md", "--index-dir", str(index_dir)]
    assert run(capsys, *args)[0] == 0
    code, out, _ = run(capsys, "info", "--json", "--index-dir", str(index_dir))
    stats = json.loads(out)
    roots = {r["path"]: (r["documents"], r["filters"]) for r in stats["roots"]}
    assert roots == {str(docs): (len(DOCS), ""), str(other): (1, "--exclude '*.md'")}
    assert stats["vectors_params"]["kind"] == "flat"  # an object, not JSON in a string
    code, out, _ = run(capsys, "info", "--index-dir", str(index_dir))
    assert f"{other} (1 document; --exclude '*.md')" in out and f"{docs} (4 documents)" in out
    assert "vectors params: kind flat\n" in out


def test_a_query_of_long_words_is_answered_and_an_overlong_one_refused(indexed, capsys) -> None:
    # Long words (a hash, base64) are matched as written, case-blind; a class for each letter
    # made a 40,000-character word's pattern take 10 s to compile, and 22 s went to a regex
    # tried from each of its letters. A query past 10,000 characters is refused.
    docs, index_dir = indexed
    token = "Q" * 40 + "wing" * 10 + "_Z" * 20  # 100 characters, camelCase and snake_case
    (docs / "token.txt").write_text(f"the key is {token.lower()} here\n", "utf-8")
    args = ("--index-dir", str(index_dir))
    assert run(capsys, "index", str(docs), *args)[0] == 0
    code, out, _ = run(
        capsys, "query", token, "-k", "1", "--mode", "lexical", "--color", "always", *args
    )
    assert code == 0 and "token.txt" in out
    assert f"\x1b[1;31m{token.lower()}\x1b[0m here" in out  # highlighted as a match
    longest = "x" * 10_000
    assert run(capsys, "query", longest, *args)[0] == 0
    code, out, err = run(capsys, "query", longest + "x", *args)
    assert code == 2 and out == ""
    assert "the query is 10,001 characters; the most is 10,000" in err
    # From stdin only 10,001 characters are read: its length is not known, and not made up.
    code, out, err = run(capsys, "query", "-", *args, stdin="retry " * 3500)
    assert code == 2 and out == ""
    assert err.startswith("error: the query on stdin is over 10,000 characters,"), err
    # A benchmark's query may be a whole document: `search eval` ranks it, as it did.
    answers = SearchIndex(index_dir).search_many(["wing", longest + "x"], SearchOptions(k=2))
    assert [len(hits) for hits in answers] == [2, 2]


def test_info_marks_a_root_within_another(indexed, capsys) -> None:
    # `search index docs/notes/` after `search index docs/` listed both as if they held 4 + 2
    # documents; the index holds 4.
    docs, index_dir = indexed
    assert run(capsys, "index", str(docs / "notes"), "--index-dir", str(index_dir))[0] == 0
    code, out, _ = run(capsys, "info", "--json", "--index-dir", str(index_dir))
    roots = {r["path"]: (r["documents"], r["within"]) for r in json.loads(out)["roots"]}
    assert roots == {str(docs): (4, None), str(docs / "notes"): (2, str(docs))}
    code, out, _ = run(capsys, "info", "--index-dir", str(index_dir))
    assert f"{docs / 'notes'} (2 documents, within {docs})" in out
    assert f"{docs} (4 documents)" in out


# -- pipes and exit codes ---------------------------------------------------------------------


def test_piped_output_is_one_grep_like_line_per_hit(indexed, capsys) -> None:
    docs, index_dir = indexed
    code, out, _ = run(capsys, "query", "wing lift", "-k", "3", "--index-dir", str(index_dir))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    code, json_out, _ = run(
        capsys, "query", "wing lift", "-k", "3", "--json", "--index-dir", str(index_dir)
    )
    hits = json.loads(json_out)
    for match, hit in zip(parsed, hits, strict=True):
        assert (docs.parent / match["path"]).resolve() == Path(hit["path"]) or Path(
            match["path"]
        ) == Path(hit["path"])
        assert int(match["line"]) == hit["line"]
        assert float(match["score"]) == pytest.approx(hit["score"], abs=5e-4)


def test_a_hit_points_at_its_first_line_holding_a_query_word(tmp_path, fake_model, capsys):
    # One paragraph of short lines: one passage (the fake model takes 64 tokens), the word
    # looked for on its fifth line, as grep -n finds it.
    text = "\n".join(
        ["Notes", "on birds", "that wade", "in lakes", "a Flamingo stands", "on one leg"]
    )
    docs = write(tmp_path / "docs", {"birds.txt": text + "\n"})
    index_dir = str(tmp_path / "idx")
    assert run(capsys, "index", str(docs), "--index-dir", index_dir)[0] == 0
    expected = next(n for n, line in enumerate(text.split("\n"), 1) if "flamingo" in line.lower())
    for mode in ("lexical", "hybrid", "dense"):
        code, out, _ = run(capsys, "query", "flamingo", "--mode", mode, "--index-dir", index_dir)
        assert code == 0 and int(LINE.match(out.splitlines()[0])["line"]) == expected
        code, out, _ = run(capsys, "query", "flamingo", "--json", "--index-dir", index_dir)
        hit = json.loads(out)[0]
        assert (hit["start_line"], hit["line"], hit["end_line"]) == (1, expected, 6)
    # No word of the query in the passage: its first line; "flamingos" is another word.
    for query in ("pink wader", "flamingos"):
        code, out, _ = run(capsys, "query", query, "--json", "--index-dir", index_dir)
        assert json.loads(out)[0]["line"] == 1


def test_context_lines_are_the_files_own_as_grep_c_prints_them(tmp_path, fake_model, capsys):
    # Three paragraphs of 40 words: a chunk each (the fake model takes 64 tokens).
    words = [" ".join(f"{w}{i}" for i in range(40)) for w in ("alpha", "glider", "omega")]
    docs = write(
        tmp_path / "docs",
        {
            "post.md": "---\ntitle: Flight\ntags: [glider]\n---\nThe glider stalls.\n\nLanding.\n",
            "long.txt": "\n".join(["intro", "", words[0], "", words[1], "", words[2], "end"])
            + "\n",
        },
    )
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    args = ["query", "glider1 glider2 stalls", "-C", "2", "--mode", "lexical"]
    code, out, _ = run(capsys, *args, "--index-dir", str(index_dir))
    assert code == 0
    groups: list[list[str]] = [[]]
    for line in out.splitlines():  # groups separated by "--" lines, as grep -C
        groups.append([]) if line == "--" else groups[-1].append(line)
    hit_lines = [[LINE.match(line) for line in group] for group in groups]
    assert all(sum(bool(m) for m in matches) == 1 for matches in hit_lines)  # one hit a group
    by_file = {
        Path(m["path"]).name: (group, m)
        for group, matches in zip(groups, hit_lines, strict=True)
        for m in matches
        if m
    }
    assert set(by_file) == {"post.md", "long.txt"}
    # Before the hit's line, as grep -C: the two lines before line 5 are the front matter's as
    # the file has them (it is indexed as blank lines); the passage runs to the file's end.
    (post, match) = by_file["post.md"]
    path = match["path"]
    assert match["line"] == "5" and match["text"] == "The glider stalls."
    assert post == [f"{path}-3-tags: [glider]", f"{path}-4----", match.group(0)] + [
        f"{path}-6-",
        f"{path}-7-Landing.",
    ]
    # The middle paragraph (line 5): two lines before it and two after, none of its own again.
    (long, match) = by_file["long.txt"]
    path = match["path"]
    assert match["line"] == "5" and match["text"].startswith("glider0 glider1")
    assert long == [f"{path}-3-{words[0]}", f"{path}-4-", match.group(0)] + [
        f"{path}-6-",
        f"{path}-7-{words[2]}",
    ]


def test_context_of_nearby_hits_is_one_group_each_line_once(tmp_path, fake_model, capsys):
    # Paragraphs of 40 words, a passage each (the fake model takes 64 tokens), "glider" in
    # those on lines 3, 7 and 15: with -C 2 the first two hits' lines overlap (line 5), and
    # grep -C prints such lines once, in one group; the third is a group of its own.
    def paragraph(word: str, glider: bool) -> str:
        return " ".join([f"{word}{i}" for i in range(39)] + (["glider"] if glider else []))

    names = ["alpha", "bravo", "omega", "kilo", "beta", "gamma", "delta", "tango"]
    lines: list[str] = []
    for n, name in enumerate(names):
        lines += [paragraph(name, glider=n in (1, 3, 7)), ""]
    docs = write(tmp_path / "docs", {"long.txt": "\n".join(lines[:-1]) + "\n"})
    index_dir = str(tmp_path / "idx")
    assert run(capsys, "index", str(docs), "--index-dir", index_dir)[0] == 0
    args = ["query", "glider", "-C", "2", "-k", "3", "--per-doc", "3", "--mode", "lexical"]
    code, out, _ = run(capsys, *args, "--index-dir", index_dir)
    assert code == 0
    groups: list[list[str]] = [[]]
    for line in out.splitlines():
        groups.append([]) if line == "--" else groups[-1].append(line)
    numbers = {
        tuple(int(re.match(r"^[^:\n]+?[-:](\d+)[-:]", row)[1]) for row in group) for group in groups
    }
    assert numbers == {tuple(range(1, 10)), (13, 14, 15)}, out
    hits = [LINE.match(row) for group in groups for row in group]
    assert sorted(int(m["line"]) for m in hits if m) == [3, 7, 15]
    assert all(row.endswith("glider") for group in groups for row in group if LINE.match(row))
    # -C 0 as grep's: each hit's line alone, groups apart by "--" (it was lines output).
    args[args.index("2")] = "0"
    code, out, _ = run(capsys, *args, "--index-dir", index_dir)
    rows = out.splitlines()
    assert code == 0 and rows[1::2] == ["--", "--"] and len(rows) == 5
    assert sorted(int(LINE.match(row)["line"]) for row in rows[::2]) == [3, 7, 15]
    assert all(row.endswith(" glider") for row in rows[::2])


def test_context_0_prints_a_long_lines_hit_as_its_whole_line(tmp_path, fake_model, capsys):
    # A line of several passages: -C 0 printed the passage's part of it, from inside the line
    # to inside it, where -C 1 (and grep -C 0) print the line.
    long_line = " ".join(f"astronomy telescope galaxy nebula{i}" for i in range(120))
    docs = write(tmp_path / "docs", {"l.txt": f"Short first line.\n{long_line}\nlast\n"})
    index_dir = str(tmp_path / "idx")
    assert run(capsys, "index", str(docs), "--index-dir", index_dir)[0] == 0
    args = ["query", "nebula100", "-k", "1", "--mode", "lexical", "--index-dir", index_dir]
    for around in ("0", "1"):
        code, out, _ = run(capsys, *args, "-C", around)
        [row] = [row for row in out.splitlines() if LINE.match(row)]
        assert code == 0 and row.startswith(f"{docs / 'l.txt'}:2: ")
        assert row.endswith("  " + long_line), (around, row[:120])


def test_the_hit_row_under_context_is_its_line_as_written(tmp_path, fake_model, capsys) -> None:
    # Its indentation and spaces were collapsed (and a long line cut) while the lines around
    # it were printed as the file has them: grep -C prints the line verbatim.
    code_lines = ["def verify(secret, message, signature):", "    # constant-time  comparison"]
    code_lines += ["    return hmac.compare_digest(a, b)"]
    docs = write(tmp_path / "src", {"auth.py": "\n".join(code_lines) + "\n"})
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    args = ("query", "constant-time comparison", "-C", "1", "--mode", "lexical")
    code, out, _ = run(capsys, *args, "--index-dir", str(index_dir))
    assert code == 0
    row = out.splitlines()[1]
    assert row.endswith("  " + code_lines[1]) and row.startswith(f"{docs / 'auth.py'}:2: ")


def test_context_cuts_a_line_of_thousands_of_characters(tmp_path, fake_model, capsys) -> None:
    # A log of one huge line: -C 1 printed all 216 kB of it. Lines a person writes (under
    # GENERATED_LINE_CHARS) are printed whole, as grep -C prints them.
    from searchapp.interfaces.render import MAX_CONTEXT_CHARS

    huge = " ".join(["lorem ipsum dolor sit amet"] * 800)  # ~21,600 characters of prose
    docs = write(tmp_path / "docs", {"log.txt": f"{huge}\nthe flamingo line\n{huge} zebra\n"})
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    args = ["query", "flamingo", "-C", "1", "--mode", "lexical", "--index-dir", str(index_dir)]
    code, out, _ = run(capsys, *args)
    rows = out.splitlines()
    assert code == 0 and len(rows) == 3, out
    path = docs / "log.txt"
    cut = f"{huge[:MAX_CONTEXT_CHARS]} [... {len(huge) - MAX_CONTEXT_CHARS:,} more characters]"
    assert rows[0] == f"{path}-1-{cut}" and rows[2].startswith(f"{path}-3-{huge[:100]}")
    assert rows[1].startswith(f"{path}:2: ") and rows[1].endswith("  the flamingo line")
    # The hit on a huge line: its passage's snippet, as without -C.
    code, out, _ = run(capsys, "query", "zebra", "-k", "1", "-C", "1", *args[4:])
    assert code == 0 and "zebra" in out and len(out) < 3 * MAX_CONTEXT_CHARS, out[:300]
    assert re.search(rf"^{re.escape(str(path))}:3: .*zebra", out, re.M), out[:300]


def test_jsonl_and_files_with_matches(indexed, capsys) -> None:
    _, index_dir = indexed
    args = ["query", "wing", "-k", "4", "--index-dir", str(index_dir)]
    code, out, _ = run(capsys, *args, "--format", "jsonl")
    objects = [json.loads(line) for line in out.splitlines()]
    code, array, _ = run(capsys, *args, "--format", "json")
    assert objects == json.loads(array) and len(objects) == 4
    code, out, _ = run(capsys, *args, "-l")
    paths = out.splitlines()
    assert len(paths) == len(set(paths)) == 4
    assert all(Path(p).name in {Path(o["path"]).name for o in objects} for p in paths)


def test_files_with_matches_names_no_file_gone_since_indexing(indexed, tmp_path, capsys) -> None:
    # As grep -l: a file deleted since it was indexed was listed (its note said it was gone),
    # and `| xargs -0 ls` failed on it.
    _, index_dir = indexed
    folder = write(tmp_path / "more", {"a.txt": "kumquat jam\n", "b.txt": "kumquat pie\n"})
    assert run(capsys, "index", str(folder), "--index-dir", str(index_dir))[0] == 0
    args = ["query", "kumquat", "--mode", "lexical", "-l", "--index-dir", str(index_dir)]
    code, out, _ = run(capsys, *args)
    assert code == 0 and sorted(out.split()) == [str(folder / "a.txt"), str(folder / "b.txt")]
    (folder / "a.txt").unlink()
    code, out, err = run(capsys, *args)
    assert code == 0 and out.split() == [str(folder / "b.txt")]
    assert f"{folder / 'a.txt'} is gone since it was indexed" in err
    # -C 0 notes it too.
    code, _, err = run(capsys, *args[:-3], "-C", "0", *args[-2:])
    assert code == 0 and f"{folder / 'a.txt'} is gone since it was indexed" in err
    # A copy (named under "also") that went gets its note as it is left out.
    (folder / "c.txt").write_text("kumquat pie\n")
    assert run(capsys, "index", str(folder), "--index-dir", str(index_dir))[0] == 0
    (folder / "c.txt").unlink()
    code, out, err = run(capsys, *args)
    assert code == 0 and out.split() == [str(folder / "b.txt")]
    assert f"{folder / 'c.txt'} is gone since it was indexed" in err
    (folder / "b.txt").unlink()
    code, out, _ = run(capsys, *args)
    assert (code, out) == (1, "")


def test_get_prints_an_indexed_document_as_indexed(tmp_path, fake_model, capsys, monkeypatch):
    # What serve's /documents and mcp's get_document give, from the shell: a JSONL record, a
    # file's lines, as indexed.
    monkeypatch.chdir(tmp_path)
    docs = write(tmp_path / "docs", {"a.md": "# Title\n\nfirst line\nsecond line\nthird\n"})
    records = [{"_id": f"r{n}", "text": f"record {n}\nits second line"} for n in range(3)]
    (docs / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", "docs", *index)[0] == 0
    assert run(capsys, "get", "docs/a.md", *index)[1:] == (
        "# Title\n\nfirst line\nsecond line\nthird\n",
        "",
    )
    assert run(capsys, "get", "docs/a.md", "--lines", "3-4", *index)[1] == (
        "first line\nsecond line\n"
    )
    assert run(capsys, "get", "r1", *index)[1] == "record 1\nits second line\n"
    # As a hit shows it, from here (`docs/corpus.jsonl #r1`), and a name a terminal escapes.
    assert run(capsys, "get", "docs/corpus.jsonl#r1", *index)[1] == "record 1\nits second line\n"
    (docs / "tab\there.md").write_text("tabbed name\n")
    assert run(capsys, "index", "docs", *index)[0] == 0
    assert run(capsys, "get", "docs/tab\\there.md", *index)[1] == "tabbed name\n"
    code, out, _ = run(capsys, "get", f"{docs / 'corpus.jsonl'}#r2", "--json", *index)
    got = json.loads(out)
    assert code == 0 and (got["doc_id"], got["line_count"]) == (f"{docs}/corpus.jsonl#r2", 2)
    code, out, err = run(capsys, "get", "docs/nope.md", *index)
    assert (code, out) == (2, "") and "'docs/nope.md' is not an indexed document" in err
    # A server's folder, not yours; then the indexed folders.
    assert f"(a relative path is read from {tmp_path} and from each indexed folder)" in err
    # A file the index skipped: said so (a damaged PDF was "not an indexed document" alone).
    (docs / "blob.bin").write_bytes(b"\x00\x01binary" * 100)
    assert run(capsys, "index", "docs", *index)[0] == 0
    code, out, err = run(capsys, "get", "docs/blob.bin", *index)
    assert (code, out) == (2, "")
    assert "'docs/blob.bin' is a file that is not indexed: `search index` skipped it" in err
    # A folder of the index (a historian's `get notes`: "not an indexed document").
    code, out, err = run(capsys, "get", "docs", *index)
    assert (code, out) == (2, "") and "'docs' is a folder; give one of its files" in err
    # A file the walk leaves out: what did (a helper was sent to `search index -v`, which
    # names none of these).
    (docs / "build").mkdir()
    (docs / "build" / "out.txt").write_text("built\n")
    (docs / ".gitignore").write_text("build/\n")
    (docs / ".drafts").mkdir()
    (docs / ".drafts" / "d.md").write_text("draft\n")
    (docs / "node_modules" / "x").mkdir(parents=True)
    (docs / "node_modules" / "x" / "i.js").write_text("code\n")
    (docs / "prod.env").write_text("SMTP_PASSWORD=hunter2\n")
    (docs / ".env").write_text("STRIPE_SECRET_KEY=sk_live_1\n")
    assert run(capsys, "index", "docs", *index)[0] == 0
    said = {
        # A web developer's trial: `.env`'s reason named the command that indexes it.
        "docs/.env": "'.env' is hidden (its name begins with '.') and a secrets file",
        "docs/build/out.txt": f"'build/' is ignored by {docs / '.gitignore'}",
        "docs/.drafts/d.md": "'.drafts' is hidden",
        "docs/node_modules/x/i.js": "'node_modules/' is a tool folder",
        "docs/prod.env": "secrets file (passwords, keys) (excluded by default;",
    }
    for name, reason in said.items():
        code, out, err = run(capsys, "get", name, *index)
        assert (code, out) == (2, "") and f"'{name}' is not indexed: {reason}" in err, err
        # A default exclude says how to index such files; a secrets file is not offered.
        offered = "excluded by default" not in reason and "secrets" not in reason
        assert (f"`search index {name}` indexes it" in err) is offered, err
    code, _, err = run(capsys, "get", "docs/a.md", "--lines", "0", *index)
    assert code == 2 and "must be a range of line numbers from 1" in err
    (docs / "a.md").write_text("# Title\n\nrewritten\n")
    code, out, err = run(capsys, "get", "docs/a.md", *index)
    assert code == 0 and "second line" in out  # as indexed, and said to have changed
    # Named as the hits name it, from here (it was absolute beside relative hits).
    assert "note: docs/a.md changed since it was indexed" in err


def test_a_book_s_pages_are_named_and_asked_for_as_it_prints_them(
    tmp_path, fake_model, capsys, monkeypatch
) -> None:
    # A researcher's textbook: 10 roman front-matter pages, so its index's "hysteresis, 33"
    # was the hits' p.43, and `get --page 33` gave the page printed 23.
    from tests.searchapp.ingest.test_formats_pdf import make_labelled_pdf

    docs = tmp_path / "books"
    docs.mkdir()
    front = ["Catchment Hydrology, a title page.", "Contents: Rating curves 2."]
    body = ["Chapter one on rain gauges.", "Hysteresis of the rating curve.", "The end."]
    (docs / "book.pdf").write_bytes(make_labelled_pdf(front, body))
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "query", "-F", "hysteresis", *index)
    assert code == 0 and out.startswith("books/book.pdf:") and "  p.2  Hysteresis" in out
    code, out, _ = run(capsys, "query", "-F", "hysteresis", "--json", *index)
    [hit] = json.loads(out)
    assert (hit["page"], hit["page_label"]) == (4, "2")  # JSON: its number from 1 too
    assert run(capsys, "get", "books/book.pdf", "--page", "2", *index)[1] == (
        "Hysteresis of the rating curve.\n"
    )
    assert run(capsys, "get", "books/book.pdf p.2", *index)[1] == (
        "Hysteresis of the rating curve.\n"
    )
    assert run(capsys, "get", "books/book.pdf", "--page", "ii", *index)[1] == (
        "Contents: Rating curves 2.\n"
    )
    assert run(capsys, "get", "books/book.pdf", "--page", "ii-1", *index)[1] == (
        "Contents: Rating curves 2.\n\nChapter one on rain gauges.\n"
    )
    for pages in ("-1", "-ii"):  # from the first page, whatever its label (a reviewer's)
        code, out, _ = run(capsys, "get", "books/book.pdf", f"--page={pages}", *index)
        assert code == 0 and out.startswith("Catchment Hydrology, a title page."), pages
    code, out, err = run(capsys, "get", "books/book.pdf", "--page", "xx", *index)
    assert (code, out) == (2, "") and "has no page labelled 'xx'; its pages are i-3" in err
    code, out, err = run(capsys, "get", "books/book.pdf", "--page", "9", *index)
    assert code == 2 and "has no text on page 9; its pages with text are i-3" in err


def test_get_page_prints_the_lines_of_a_pdf_page(tmp_path, fake_model, capsys) -> None:
    # Hits name a page (p.3); `get` took only --lines, so a page was found by hand.
    from tests.searchapp.ingest.test_formats_pdf import make_pdf

    pages = ["Intro text.", "", "Third page one.\nThird page two.", "Fourth page."]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "paper.pdf").write_bytes(make_pdf(pages))
    (docs / "notes.md").write_text("no pages here\n")
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    paper = str(docs / "paper.pdf")
    assert run(capsys, "get", paper, "--page", "3", *index)[:2] == (
        0,
        "Third page one.\nThird page two.\n",
    )
    assert run(capsys, "get", paper, "--page", "3-", *index)[1] == (
        "Third page one.\nThird page two.\n\nFourth page.\n"
    )
    assert run(capsys, "get", paper, "--page", "1-2", *index)[1] == "Intro text.\n"
    # As a table's hit names it, copied whole (a paralegal's trial: "not an indexed document").
    assert run(capsys, "get", f"{paper} p.3", *index)[:2] == (
        0,
        "Third page one.\nThird page two.\n",
    )
    for args, said in [
        (["--page", "2"], "has no text on page 2; its pages with text are 1-4"),
        (["--page", "9"], "has no text on page 9"),
        (["--page", "0"], "must be a range of page numbers from 1"),
        (["--page", "2", "--lines", "1"], "give --lines or --page, not both"),
    ]:
        code, out, err = run(capsys, "get", paper, *args, *index)
        assert (code, out) == (2, "") and said in err, err
    code, _, err = run(capsys, "get", str(docs / "notes.md"), "--page", "1", *index)
    assert (
        code == 2 and "has no pages (only PDFs and slide decks have); give --lines instead" in err
    )
    # A deck's slide, as its hits name it ("slide 2"): a student's `--page` was refused.
    from tests.searchapp.ingest.test_formats_office import pptx_file

    (docs / "deck.pptx").write_bytes(pptx_file())
    assert run(capsys, "index", str(docs), *index)[0] == 0
    code, out, _ = run(capsys, "get", str(docs / "deck.pptx"), "--page", "2", *index)
    assert (code, out) == (0, "Results\nRevenue grew\nonce\nonly\n")


def test_shell_habits_get_what_they_mean_or_one_clear_line(indexed, capsys) -> None:
    # From a helper at a shell: `query -` searched for "-" (status 0), a query of punctuation
    # ranked passages nearest to nothing (status 0), `--index-dir "$UNSET"` used the default
    # index, grep's -A got no hint and `-l --format table` named the wrong culprit.
    _, index_dir = indexed
    args = ["--index-dir", str(index_dir), "--json"]
    piped = run(capsys, "query", "-", *args, stdin="wing\n")
    assert piped[0] == 0 and json.loads(piped[1]) == json.loads(
        run(capsys, "query", "wing", *args)[1]
    )
    code, _, err = run(capsys, "query", "***", *args)
    assert code == 2 and err == "error: the query '***' has no letters or digits to search for\n"
    code, _, err = run(capsys, "query", "wing", "--index-dir", "")
    assert code == 2 and "--index-dir is empty" in err
    code, _, err = run(capsys, "query", "wing", "-A", "2", "--index-dir", str(index_dir))
    assert code == 2 and "(-C N prints N lines before and after each hit" in err
    code, _, err = run(capsys, "query", "wing", "-l", "--format", "table", *args[:2])
    assert code == 2 and err == "error: -l prints only paths, one a line; drop --format table\n"
    # -l with -C was refused; grep -l -C 1 and rg -l -C 1 print the paths.
    listed = run(capsys, "query", "wing", "-l", *args[:2])
    assert listed[0] == 0 and listed[1]
    assert run(capsys, "query", "wing", "-l", "-C", "1", *args[:2]) == listed


def test_exit_status_follows_grep(indexed, capsys) -> None:
    _, index_dir = indexed
    found = run(capsys, "query", "wing", "--index-dir", str(index_dir))
    nothing = run(
        capsys, "query", "zebra", "--mode", "lexical", "--index-dir", str(index_dir), "--json"
    )
    usage = run(capsys, "query", "wing", "-k", "many", "--index-dir", str(index_dir))
    bad_mode = run(capsys, "query", "wing", "--mode", "fuzzy", "--index-dir", str(index_dir))
    assert (found[0], nothing[0], usage[0], bad_mode[0]) == (0, 1, 2, 2)
    assert json.loads(nothing[1]) == []
    assert "'fuzzy' is not one of 'hybrid', 'dense', 'lexical'" in bad_mode[2]


def test_the_table_shows_the_score_ranked_by_and_the_cosine(indexed, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")  # room for a table beside the test's long paths
    _, index_dir = indexed
    args = ["query", "wing lift", "-k", "4", "--index-dir", str(index_dir)]
    hits = json.loads(run(capsys, *args, "--json")[1])
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert any(h["score"] > h["cosine"] for h in hits)  # the BM25 share shows in hybrid mode
    table = run(capsys, *args, "--format", "table")[1]
    header = next(line for line in table.splitlines() if "score" in line)
    assert header.index("score") < header.index("cosine")
    rows = [line for line in table.splitlines() if re.match(r"^│ +\d+ │", line)]
    shown = [re.findall(r"-?\d\.\d{3}", row)[:2] for row in rows]
    assert shown == [[f"{h['score']:.3f}", f"{h['cosine']:.3f}"] for h in hits]
    dense = run(capsys, *args, "--mode", "dense", "--format", "table")[1]
    assert "cosine" not in dense and "score" in dense  # the score is the cosine


def render(tmp_path: Path, hits: list[Hit], width: int, **kwargs) -> list[str]:
    console = Console(file=open(tmp_path / f"{width}.txt", "w"), width=width, emoji=False)
    print_results(console, hits, "word", output="table", **kwargs)
    console.file.close()
    return (tmp_path / f"{width}.txt").read_text().splitlines()


def test_the_table_uses_the_width_and_never_breaks_the_location(tmp_path) -> None:
    deep = "/".join(["folder"] * 12) + "/a_rather_long_file_name.md"
    hit = Hit(1, 0.5, 0.5, f"/{deep}", f"/{deep}", 1, 12345, 12346, "word " * 200, section="A > B")
    for width in (100, 160):
        rendered = render(tmp_path, [hit], width)
        assert max(len(line) for line in rendered) == width
        assert any("a_rather_long_file_name.md:12345" in line for line in rendered)
        assert rendered[0].startswith("┏")  # a table


def test_a_location_is_cut_only_when_the_passage_needs_the_room(tmp_path) -> None:
    # The helper's case: a short path beside a long one, 80 and 120 columns.
    short = "/docs/git/copyright"
    deep = "/docs/git/contrib/credential/gnome-keyring/git-credential-gnome-keyring.c"
    hits = [
        Hit(1, 0.9, 0.9, short, short, 1, 216, 216, "word " * 100),
        Hit(2, 0.8, 0.8, deep, deep, 2, 305, 305, "word " * 100),
    ]
    for width in (80, 120):
        rendered = "\n".join(render(tmp_path, hits, width, show_cosine=True))
        assert re.search(r" /docs/git/copyright:216( |$)", rendered, re.M)  # whole, not cut
    wide = render(tmp_path, hits, 200, show_cosine=True)
    assert any(f"{deep}:305" in line for line in wide)
    passage = max(
        len(cell) for line in wide if line.startswith("│") for cell in [line.split("│")[-2]]
    )
    assert passage >= 85  # the passage keeps half the room (170 columns) or more
    # At 80 columns the deep path would leave the passage a few words a line: listed instead,
    # each location whole.
    narrow = render(tmp_path, hits, 80, show_cosine=True)
    assert not narrow[0].startswith("┏")
    assert narrow[0].endswith("  /docs/git/copyright:216")
    assert f"{deep}:305" in narrow  # on a line of its own when it does not fit beside the score
    # One short location at 80 columns (no cosine column): a table, the path whole.
    alone = render(tmp_path, hits[:1], 80)
    assert alone[0].startswith("┏") and any("/docs/git/copyright:216 " in line for line in alone)


def test_a_long_passage_line_shows_the_query_word_it_holds() -> None:
    words = " ".join(f"filler{i}" for i in range(300))
    hit = Hit(1, 0.5, 0.5, "/a.txt", "/a.txt", 1, 1, 1, f"{words} the zanzibar clause {words}")
    line = hit_line(hit, "Zanzibar treaty")
    text = LINE.match(line)["text"]
    assert "zanzibar clause" in text and text.startswith("… ") and text.endswith(" …")
    assert len(text) <= 240 and text.index("zanzibar") > 20  # some words before it, "…" within
    # A word near the start: the line begins with the passage, as before.
    assert LINE.match(hit_line(hit, "filler3"))["text"].startswith("filler0 filler1")
    assert LINE.match(hit_line(hit, ""))["text"].startswith("filler0 filler1")


def test_a_grep_like_line_shows_the_hits_line_first(tmp_path) -> None:
    # `path:12: text` showed the passage from its first line ("# March planning ## Attendees
    # ..."), though short enough to show whole: grep and `vim -q` show line 12 there.
    text = "# March planning\n\n## Decisions\n- Key rotation every 30 days.\n- Ship the beta."
    hit = Hit(1, 0.5, 0.5, "/m.md", "/m.md", 1, 1, 5, text, line=4)
    line = LINE.match(hit_line(hit, "key rotation"))
    assert line["line"] == "4"
    assert line["text"] == "- Key rotation every 30 days. - Ship the beta."
    # (a Markdown heading's "#"s left out of what is shown)
    assert LINE.match(hit_line(replace(hit, line=1), "key rotation"))["text"].startswith("March")
    # Longer than the cut, the words gathered two lines on: still from the hit's line.
    filler = " ".join(f"filler{i}" for i in range(60))
    long_text = f"intro\nstyle_name = 'markdown.item'\n{filler}\nthe key rotation runbook\n"
    far = Hit(1, 0.5, 0.5, "/m.md", "/m.md", 1, 1, 4, long_text, line=2)
    assert LINE.match(hit_line(far, "key rotation"))["text"].startswith("style_name = ")
    # A JSONL record's line is not shown (corpus.jsonl #id): its passage shows from its start.
    record = replace(hit, path="/c.jsonl", doc_id="/c.jsonl#7")
    assert LINE_OF_RECORD.match(hit_line(record, "key rotation"))["text"].startswith("# March")
    # The table is no grep line: its cell shows the passage from its start when it fits.
    console = Console(file=open(tmp_path / "t.txt", "w"), width=200, emoji=False)
    print_results(console, [hit], "key rotation", output="table")
    console.file.close()
    assert "March planning Decisions - Key rotation" in (tmp_path / "t.txt").read_text()


def test_a_table_row_shows_a_snippet_of_the_passage_around_the_query_word(tmp_path) -> None:
    # A passage of 40 lines, the word looked for on line 31: the row shows a few lines' worth
    # around it, not the whole passage, so a screen holds several hits.
    # The hit's line (that of the query's rarest word, as the searcher found it) is shown, not
    # the first line holding one of its words ("the", on line 1).
    lines = [f"line{i} " + " ".join(f"filler{i}x{j}" for j in range(8)) for i in range(1, 41)]
    lines[0] = "line1 the start"
    lines[30] = "line31 where the zanzibar clause is"
    text = "\n".join(lines)
    hit = Hit(1, 0.5, 0.5, "/a.txt", "/a.txt", 1, 1, 40, text, line=31)
    line = LINE.match(hit_line(hit, "the zanzibar"))
    assert line["line"] == "31" and line["text"].startswith("line31 where the zanzibar")
    console = Console(file=open(tmp_path / "t.txt", "w"), width=100, emoji=False)
    print_results(console, [hit], "the zanzibar", output="table")
    console.file.close()
    rendered = (tmp_path / "t.txt").read_text()
    cells = re.findall(r"│ ([^│]*?) *│$", rendered, flags=re.M)
    shown = " ".join(cells)
    assert "zanzibar clause" in shown and shown.startswith("… ") and shown.endswith(" …")
    assert len(" ".join(shown.split())) <= SNIPPET_CHARS
    assert len(rendered.splitlines()) < 15  # the whole passage would take over 40
    assert "/a.txt:31" in rendered


def test_a_newline_in_a_record_id_keeps_one_hit_on_one_line() -> None:
    # A JSONL record's id holding a newline split its hit's line in two.
    hit = Hit(1, 0.5, 0.5, "/c.jsonl", "/c.jsonl#a\nb\tc", 1, 1, 1, "text")
    assert hit_line(hit) == "/c.jsonl #a\\nb\\tc: 0.500  text"


def test_a_newline_in_a_file_name_keeps_one_hit_on_one_line(tmp_path) -> None:
    # A tab was printed as it is, where a newline was escaped: a field more for cut and awk.
    path = "/notes/new\nline\tand tab.txt"
    hits = [
        Hit(1, 0.5, 0.5, path, path, 1, 2, 2, "first"),
        Hit(2, 0.4, 0.4, "/b", "/b", 2, 1, 1, "x"),
    ]
    console = Console(file=open(tmp_path / "out.txt", "w"), width=120, emoji=False)
    print_results(console, hits, "first", output="lines")
    console.file.close()
    lines = (tmp_path / "out.txt").read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("/notes/new\\nline\\tand tab.txt")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_listed_paths_are_the_names_in_a_pipe_and_escaped_on_a_terminal() -> None:
    # `-l` in a pipe printed a tab in a name as "\t": `while read -r f` and `xargs -d '\n'`
    # named no file, and a name holding a backslash and a t printed the same.
    hits = [
        Hit(1, 0.5, 0.5, "/n/ta\tb.txt", "/n/ta\tb.txt", 1, 1, 1, "x"),
        Hit(2, 0.4, 0.4, "/n/back\\tslash.txt", "/n/back\\tslash.txt", 2, 1, 1, "x"),
    ]
    for stream, expected in [
        (io.StringIO(), "/n/ta\tb.txt\n/n/back\\tslash.txt\n"),
        (_Terminal(), "/n/ta\\tb.txt\n/n/back\\tslash.txt\n"),
    ]:
        console = Console(file=stream, width=120, color_system=None)
        print_results(console, hits, "x", output="lines", files_only=True)
        assert stream.getvalue() == expected


def test_folder_names_in_brackets_are_printed_as_they_are(
    tmp_path, fake_model, capsys, monkeypatch
) -> None:
    # Messages were rich markup: a bare `search index` over a folder named "x[/]y" ended in a
    # traceback (status 1), and "notes [draft]" was printed as "notes ".
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "x[/]y", {"a.md": "about lighthouses\n"})
    write(tmp_path / "notes [draft]", {"b.md": "about harbours\n"})
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", "x[/]y", "notes [draft]", *index)[0] == 0
    code, _, said = run(capsys, "index", *index)
    assert code == 0 and "updating notes [draft], x[/]y\n" in said
    code, _, said = run(capsys, "remove", "notes [draft]/b.md", *index)
    assert code == 0 and "it lies under the indexed folder notes [draft]: the next" in said


def test_control_characters_in_names_are_shown_escaped_by_every_command(
    tmp_path, fake_model, capsys, monkeypatch
) -> None:
    # `search query` showed "esc\x1b[31mred.md"; `search remove` wrote the escape code itself.
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "odd", {"esc\x1b[31mred.md": "about marmots\n"})
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", "odd", *index)[0] == 0
    code, listed, _ = run(capsys, "remove", "-n", "odd/*", *index)
    assert code == 0 and listed == "odd/esc\x1b[31mred.md\n"  # a pipe's: the name, as ls -1
    code, found, _ = run(capsys, "query", "marmots", "-l", *index)
    assert found == listed
    code, found, _ = run(capsys, "query", "marmots", *index)  # lines: escaped, as a message
    assert found.startswith("odd/esc\\x1b[31mred.md:1:")
    # The name as shown, pasted, names the file to `search remove` as to --path.
    code, removed, _ = run(capsys, "remove", "-n", "odd/esc\\x1b[31mred.md", *index)
    assert (code, removed) == (0, listed)


def test_a_narrow_terminal_lists_each_passage_under_its_location(tmp_path) -> None:
    hits = [
        Hit(1, 1.25, 0.5, "/notes/wings.md", "/notes/wings.md", 1, 3, 4, "The glider stalls."),
        Hit(2, 0.75, 0.75, "/notes/plan.txt", "/notes/plan.txt", 2, 9, 9, "wind tunnel plan"),
    ]
    console = Console(file=open(tmp_path / "narrow.txt", "w"), width=50, emoji=False)
    print_results(console, hits, "glider", output="table", show_cosine=True)
    console.file.close()
    shown = (tmp_path / "narrow.txt").read_text().splitlines()
    assert max(len(line) for line in shown) <= 50
    assert shown == [
        "1. 1.250 (cosine 0.500)  /notes/wings.md:3",
        "The glider stalls.",
        "",
        "2. 0.750 (cosine 0.750)  /notes/plan.txt:9",
        "wind tunnel plan",
    ]


def test_narrow_lists_keep_a_path_with_spaces_whole_and_name_the_section(tmp_path) -> None:
    # "home/odd names/budget review" on one line and "Q3.md:1" on the next; and the section
    # the wide table shows was left out.
    path = "/home/someone/odd names/budget review Q3.md"
    hit = Hit(1, 1.935, 0.759, path, path, 1, 1, 1, "the quarterly budget", section="Plans > Q3")
    for width in (40, 60):
        shown = render(tmp_path, [hit], width, show_cosine=True)
        assert f"{path}:1" in shown and "§ Plans > Q3" in shown, shown


def test_the_table_folds_a_long_word_and_keeps_what_names_a_copy(tmp_path) -> None:
    # A CJK run or a URL was one word, cut with "…" to a line of its cell; "also in" and the
    # start of a copy's path were cut off a long location.
    run_of_han = "今天学习了如何使用向量数据库进行语义搜索嵌入模型把句子变成向量" * 2
    url = "https://wiki.example.com/engineering/operations/runbooks/failover-procedure-v2"
    deep = "/notes/" + "/".join(["folder"] * 8) + "/retry-policy.md"
    hits = [
        Hit(1, 0.9, 0.9, "/a/zh.txt", "/a/zh.txt", 1, 1, 1, run_of_han),
        Hit(2, 0.8, 0.8, "/a/run.md", "/a/run.md", 2, 1, 1, f"See {url} now", also=(deep,)),
    ]
    rendered = render(tmp_path, hits, 100)
    cells = "".join(line.split("│")[-2].strip() for line in rendered if line.startswith("│"))
    assert run_of_han in cells and url in cells
    assert any("also in …" in line and "/retry-policy.md" in line for line in rendered)


def test_a_copy_in_a_folder_copied_whole_is_shown_by_that_folder(tmp_path) -> None:
    # A product manager's trial: a Notion export unpacked twice showed its hit as
    # `export/…/Retro ac29….md` and "also in export/…/Retro ac29….md", the `(1)` cut out.
    name = "Retro - Checkout incident ac29d1e4.md"
    original = f"/exports/Notion/Export-7c1d2e3f/Acme Product Team 6513/{name}"
    copy = original.replace("Export-7c1d2e3f/", "Export-7c1d2e3f (1)/")
    hit = Hit(1, 0.9, 0.9, original, original, 1, 1, 1, "root cause: a bad deploy", also=(copy,))
    rendered = "\n".join(render(tmp_path, [hit], 120))
    assert "also in …/Export-7c1d2e3f (1)/…" in rendered, rendered
    rendered = "\n".join(render(tmp_path, [hit], 200))  # room for its name too
    assert f"also in …/Export-7c1d2e3f (1)/Acme Product Team 6513/{name}" in rendered


def test_a_passage_in_a_pipe_keeps_the_files_long_lines_whole(tmp_path) -> None:
    # -C in a pipe (and the REPL's :open) broke the file's lines at 80 columns.
    from searchapp.interfaces.render import print_passage
    from searchapp.search_index import Context

    long_line = "x " * 30 + "The telescope mirror must be collimated with a laser tonight."
    hit = Hit(1, 0.5, 0.5, "/a.txt", "/a.txt", 1, 2, 2, long_line)
    console = Console(file=open(tmp_path / "out.txt", "w"), width=80, emoji=False)
    print_passage(console, hit, Context(1, f"before\n{long_line}\nafter", around=1), "mirror")
    console.file.close()
    assert (tmp_path / "out.txt").read_text().splitlines() == [
        "/a.txt:1-3",
        "before",
        long_line,
        "after",
    ]


def test_a_record_is_named_by_the_id_its_file_gives_it(tmp_path) -> None:
    # A record stored as "path#7" (another file's record holds id 7) reads "#7" in every format.
    from searchapp.interfaces.render import location
    from searchapp.storage.schema import qualified_id

    path = str(tmp_path / "cisi" / "corpus.jsonl")
    hit = Hit(1, 0.5, 0.5, path, qualified_id(path, "7"), 1, 1, 1, "reading habits")
    assert location(hit).endswith("corpus.jsonl #7")
    console = Console(file=open(tmp_path / "out.txt", "w"), width=120, emoji=False)
    print_results(console, [hit], "reading", output="lines")
    console.file.close()
    assert "corpus.jsonl #7: 0.500  reading habits" in (tmp_path / "out.txt").read_text()
    own = Hit(1, 0.5, 0.5, path, "path#with#hashes", 1, 1, 1, "x")  # an id of its own, kept whole
    assert own.record_id == "path#with#hashes"


# -- colour -----------------------------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_color_always_paints_grep_lines_as_ripgrep_and_nothing_else(indexed, capsys, monkeypatch):
    docs, index_dir = indexed
    monkeypatch.setenv("NO_COLOR", "1")  # as rg --color always: the flag wins over NO_COLOR
    for extra in ([], ["-C", "1"], ["-l"]):
        args = ("query", "wing lift", "--index-dir", str(index_dir), *extra)
        code, plain, _ = run(capsys, *args)
        assert code == 0 and "\x1b" not in plain  # a pipe, --color auto: no escape codes
        code, painted, _ = run(capsys, *args, "--color", "always")
        assert code == 0 and ANSI.sub("", painted) == plain  # colours added, not one char more
        wings = str(docs / "notes/wings.md")
        assert f"\x1b[35m{wings}\x1b[0m" in painted  # paths magenta
        if extra != ["-l"]:
            assert f"{wings}\x1b[0m:\x1b[32m1\x1b[0m: " in painted  # line numbers green
            assert "\x1b[1;31mlift\x1b[0m" in painted  # the query's words bold red
    code, never, _ = run(
        capsys,
        "query",
        "wing",
        "--format",
        "table",
        "--color",
        "never",
        "--index-dir",
        str(index_dir),
    )
    assert code == 0 and "Wing lift" in never and "\x1b" not in never
    code, _, err = run(capsys, "query", "wing", "--color", "red", "--index-dir", str(index_dir))
    assert code == 2 and "'red' is not one of 'auto', 'always', 'never'" in err


def test_color_always_in_a_piped_repl_keeps_its_lines(indexed, capsys):
    _, index_dir = indexed
    args = ("repl", "--index-dir", str(index_dir))
    code, plain, _ = run(capsys, *args, stdin="wing lift\n")
    assert code == 0 and plain.startswith("search> wing lift\n") and "\x1b" not in plain
    code, painted, _ = run(capsys, *args, "--color", "always", stdin="wing lift\n")
    assert code == 0 and ANSI.sub("", painted) == plain and "\x1b[1;31mlift\x1b[0m" in painted


def test_lines_are_coloured_only_where_colour_is_on() -> None:
    from searchapp.interfaces.render import uses_color

    def console(**kwargs) -> Console:
        return Console(file=io.StringIO(), **kwargs)

    assert uses_color(console(force_terminal=True, color_system="standard"))
    assert not uses_color(console(force_terminal=True, color_system="standard", no_color=True))
    assert not uses_color(console(force_terminal=True, color_system=None))  # TERM=dumb
    assert not uses_color(console(force_terminal=False, color_system="standard"))  # a pipe


# -- noise ------------------------------------------------------------------------------------


NOISE = {
    "Cargo.lock": "[[package]]\nname = 'serde'\n",
    "web/package-lock.json": '{"lockfileVersion": 3}\n',
    "web/app.min.js": "var a=1;\n",
    "web/logo.svg": "<svg><path d='M0 0'/></svg>\n",
    "web/bundle.js": ("x" * 6000 + "\n") * 5,
    "README.md": "The project explains wing lift.\n",
    "README.md~": "The project explains wing lift.\n",  # an editor's backup: a second hit
    "#README.md#": "The project explains wing lift.\n",  # Emacs's autosave
    "README.md___jb_tmp___": "The project explains wing lift.\n",  # being saved (JetBrains)
    "README.md.tmp.4242": "The project explains wing lift.\n",  # being saved elsewise
    "paper.pdf.crdownload": "The project explains wing lift.\n",  # being downloaded
    "notes#1.md": "Not a backup: kept.\n",
}


def test_lock_files_and_generated_text_are_left_out_by_default(
    tmp_path, fake_model, capsys
) -> None:
    docs = write(tmp_path / "repo", NOISE)
    index_dir = tmp_path / "idx"
    code, _, err = run(capsys, "index", str(docs), "--index-dir", str(index_dir))
    assert code == 0
    assert indexed_paths(index_dir) == [str(docs / "README.md"), str(docs / "notes#1.md")]
    summary = [line for line in err.splitlines() if "skipped (" in line]
    assert summary == [
        "10 files skipped (backup or file being saved or downloaded: 5, lock file: 2, "
        "generated code: 1, SVG drawing: 1, minified or generated text: 1); --verbose lists them"
    ]
    code, _, err = run(
        capsys, "index", str(docs), "--index-dir", str(index_dir), "--no-default-excludes", "-v"
    )
    assert code == 0 and not [line for line in err.splitlines() if line.startswith("skipped")]
    assert len(indexed_paths(index_dir)) == len(NOISE)
    one = write(tmp_path / "one", {"a.txt": "A note.\n", "Cargo.lock": "[[package]]\n"})
    code, _, err = run(capsys, "index", str(one), "--index-dir", str(index_dir))
    assert code == 0 and "\n1 file skipped (lock file: 1)" in "\n" + err
    # Each kind named (an SVG was "lock file, generated, editor backup or temporary"), and
    # the lock files of Bun 1.2, Deno, SwiftPM, Gradle, conda-lock, CocoaPods, pixi and renv.
    locks = ["bun.lock", "deno.lock", "Package.resolved", "gradle.lockfile", "conda-lock.yml"]
    locks += ["Podfile.lock", "pixi.lock", "renv.lock"]
    more = write(tmp_path / "more", {"a.txt": "A note.\n", **{name: "{}\n" for name in locks}})
    code, _, err = run(capsys, "index", str(more), "--index-dir", str(index_dir), "-v")
    skips = [line for line in err.splitlines() if line.startswith("skipped")]
    assert code == 0 and len(skips) == len(locks)
    assert all(
        line.endswith(": lock file (excluded by default; --no-default-excludes indexes it)")
        for line in skips
    ), skips


def test_a_pasted_image_or_a_long_cell_line_does_not_make_a_note_generated(
    tmp_path, fake_model, capsys
) -> None:
    # A Markdown note with a screenshot pasted as a data: URI, a notebook with a cell of 5,000
    # numbers on one line: both were skipped whole as "minified or generated text", their prose
    # lost. The base64 and the long line are cut out; the rest is indexed.
    image = base64.b64encode(bytes(range(256)) * 120).decode()
    numbers = "readings = [" + ", ".join(f"{n / 7:.4f}" for n in range(5000)) + "]"
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "# Greenhouse humidity study"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "source": f"x = 1\n{numbers}"},
        {"cell_type": "markdown", "metadata": {}, "source": "Ventilation halves mould risk."},
    ]
    notes = {
        "notes.md": "# Meeting\n\nThe hinge supplier is late.\n\n"
        f"![whiteboard](data:image/png;base64,{image})\n\nCall the supplier.\n",
        "humidity.ipynb": json.dumps({"nbformat": 4, "metadata": {}, "cells": cells}),
        "bundle.js": ("x" * 6000 + "\n") * 5,  # still generated
    }
    docs = write(tmp_path / "docs", notes)
    index_dir = str(tmp_path / "idx")
    code, _, err = run(capsys, "index", str(docs), "--index-dir", index_dir, "-v")
    assert code == 0 and indexed_paths(Path(index_dir)) == [
        str(docs / "humidity.ipynb"),
        str(docs / "notes.md"),
    ], err
    args = ["query", "supplier mould", "--mode", "lexical", "--json", "--per-doc", "9"]
    hits = json.loads(run(capsys, *args, "--index-dir", index_dir)[1])
    texts = {Path(h["path"]).name: h["text"] for h in hits}
    assert "Call the supplier." in texts["notes.md"] and "Ventilation" in texts["humidity.ipynb"]
    assert all(image[:40] not in h["text"] and "0.1429" not in h["text"] for h in hits)
    # The note's lines are where they were: "supplier" first on line 3, the last line 7.
    hit = next(h for h in hits if h["text"].endswith("Call the supplier."))
    assert (hit["start_line"], hit["line"], hit["end_line"]) == (1, 3, 7)


def test_a_link_to_a_file_shows_as_its_copy_not_in_its_place(tmp_path, fake_model, capsys):
    # A link sorting before its target ("link_to_todo.txt", "notes/todo.txt") was indexed
    # first, and of copies a hit shows the first: the link, the file under "also".
    docs = write(tmp_path / "home", {"notes/todo.txt": "Renew the passport before Lisbon.\n"})
    (docs / "link_to_todo.txt").symlink_to(docs / "notes/todo.txt")
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    code, out, _ = run(capsys, "query", "passport", "--json", "--index-dir", str(index_dir))
    [hit] = json.loads(out)
    assert (hit["path"], hit["also"]) == (
        str(docs / "notes/todo.txt"),
        [str(docs / "link_to_todo.txt")],
    )


def test_min_score_never_names_a_copy_it_left_out(tmp_path, fake_model, capsys) -> None:
    # In hybrid mode a copy whose name holds the query's word scores more than its twin; with
    # --min-score the twin that failed it was taken for a tie, and named by the hit.
    text = "Permission is hereby granted to use this software freely.\n"
    docs = write(tmp_path / "c", {"zebra.txt": text, "a.txt": text})
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    plain = json.loads(run(capsys, "query", "zebra", "--json", *index)[1])[0]
    assert plain["path"] == str(docs / "zebra.txt")
    cut = plain["score"] - 0.001
    passing = json.loads(
        run(capsys, "query", "zebra", "--json", "--min-score", str(cut), *index)[1]
    )
    assert [(h["path"], h["score"]) for h in passing] == [(plain["path"], plain["score"])]


def test_copies_of_a_passage_show_once(tmp_path, fake_model, capsys) -> None:
    text = "Chapter one: the wing and its lift in a slipstream.\n"
    docs = write(tmp_path / "book", {"a/ch1.md": text, "b/ch1.md": text, "c.md": "other\n"})
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    code, out, _ = run(capsys, "query", "wing lift", "--json", "--index-dir", str(index_dir))
    hits = json.loads(out)
    assert [h["text"] for h in hits].count(text.strip()) == 1
    first = next(h for h in hits if h["text"] == text.strip())
    assert {first["path"], *first["also"]} == {str(docs / "a/ch1.md"), str(docs / "b/ch1.md")}
    # -l lists every file that holds a match, as grep -l: the copies too.
    code, out, _ = run(capsys, "query", "wing lift", "-l", "--index-dir", str(index_dir))
    listed = [str((Path.cwd() / p).resolve()) for p in out.splitlines()]
    assert len(listed) == len(set(listed)) == 3
    assert set(listed) == {str(docs / name) for name in ("a/ch1.md", "b/ch1.md", "c.md")}


def test_quiet_and_verbose(tmp_path, fake_model, capsys) -> None:
    docs = write(tmp_path / "repo", NOISE)
    (docs / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)
    index_dir = tmp_path / "idx"
    code, out, err = run(capsys, "index", str(docs), "--index-dir", str(index_dir), "--quiet")
    assert code == 0 and out == "" and err == ""
    code, _, err = run(
        capsys, "index", str(docs), "--index-dir", str(index_dir), "--rebuild", "--verbose"
    )
    listed = [line for line in err.splitlines() if line.startswith("skipped ")]
    kept = {"README.md", "notes#1.md"}
    assert len(listed) == len(NOISE) - len(kept) + 1  # and blob.bin
    assert any("blob.bin: binary file" in line for line in listed)


def test_progress_counts_the_bytes_that_need_embedding(tmp_path) -> None:
    docs = write(tmp_path / "docs", DOCS)
    events: dict[str, list[int]] = {"start": [], "done": []}
    progress = Progress(
        on_start=events["start"].append,
        on_bytes=events["done"].append,
        on_chunks=lambda count: None,
    )
    search_index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    search_index.add([docs], progress=progress)
    total = sum(len(text.encode()) for text in DOCS.values())
    assert events["start"] == [total] and sum(events["done"]) == total
    events["start"].clear()
    events["done"].clear()
    (docs / "notes/heat.md").write_text("Changed text about heat.\n", "utf-8")
    search_index.add([docs], progress=progress)
    assert events["start"] == [len(b"Changed text about heat.\n")]
    assert sum(events["done"]) == events["start"][0]


def test_progress_counts_what_a_gzip_file_holds_not_its_size(tmp_path) -> None:
    import gzip

    docs = tmp_path / "docs"
    docs.mkdir()
    text = "".join(f"Entry {n}: the retry policy changed again.\n" for n in range(300))
    (docs / "changelog.gz").write_bytes(gzip.compress(text.encode()))
    (docs / "fake.gz").write_bytes(b"not gzip at all, only named so\n")  # skipped: no text
    (docs / "plain.txt").write_text("Plain words.\n", "utf-8")
    starts: list[int] = []
    done: list[int] = []
    progress = Progress(on_start=starts.append, on_bytes=done.append)
    search_index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    search_index.add([docs], progress=progress)
    size = len(text.encode()) + len(b"not gzip at all, only named so\n") + len(b"Plain words.\n")
    assert (docs / "changelog.gz").stat().st_size * 4 < len(text.encode())  # it compresses
    assert starts == [size] and sum(done) == size
    search_index.close()


def test_a_long_file_moves_the_progress_as_its_parts_commit(tmp_path, monkeypatch) -> None:
    from searchapp.ingest import pipeline, reading

    monkeypatch.setattr(reading, "PART_CHUNKS", 4)
    monkeypatch.setattr(pipeline, "WINDOW_CHUNKS", 4)
    docs = tmp_path / "docs"
    docs.mkdir()
    long_text = "\n\n".join(" ".join(f"w{p}_{i}" for i in range(10)) for p in range(20))
    (docs / "long.txt").write_text(long_text, "utf-8")
    (docs / "touched.txt").write_text("same words", "utf-8")
    (docs / "blob.bin").write_bytes(b"\x00\x01" * 50)  # read, then skipped: counted as read
    (docs / "bundle.js").write_text(("x" * 6000 + "\n") * 5, "utf-8")  # generated: skipped
    done: list[int] = []
    starts: list[int] = []
    progress = Progress(on_start=starts.append, on_bytes=done.append)
    search_index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    report = search_index.add([docs], progress=progress)
    assert len(report.skipped) == 2
    size = len(long_text.encode()) + len(b"same words") + 100 + 30005
    assert starts == [size] and sum(done) == size
    assert len([d for d in done if 0 < d < len(long_text)]) >= 4  # 20 chunks, windows of 4
    # A file whose time changed but not its text is read and hashed: its bytes count done.
    done.clear()
    starts.clear()
    os.utime(docs / "touched.txt", ns=(1, 1))
    search_index.add([docs], progress=progress)
    assert starts == [len(b"same words") + 100 + 30005] and sum(done) == starts[0]


def test_a_long_file_is_named_while_it_is_chunked(tmp_path, monkeypatch) -> None:
    # Its first part comes once all of it is chunked: a 20 MB log left the bar at 0 for 30 s.
    from searchapp.ingest import reading

    monkeypatch.setattr(reading, "LONG_READ_BYTES", 1000)
    docs = write(tmp_path / "docs", {"big.log": "a line of the log\n" * 100, "small.md": "hi\n"})
    events: list[object] = []
    progress = Progress(on_reading=events.append, on_bytes=lambda n: events.append(n))
    search_index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    search_index.add([docs], progress=progress)
    named = [e for e in events if not isinstance(e, int)]
    assert named == [str(docs / "big.log"), None]  # the small file is not named
    assert events.index(None) < next(i for i, e in enumerate(events) if isinstance(e, int))
    search_index.close()


def test_each_window_names_the_file_most_of_it_comes_from(tmp_path, monkeypatch) -> None:
    # Nothing named the file a slow run spent its minutes on.
    from searchapp.ingest import pipeline

    monkeypatch.setattr(pipeline, "WINDOW_CHUNKS", 8)
    monkeypatch.setattr(pipeline, "FIRST_WINDOW_CHUNKS", 8)
    big = "\n\n".join(f"paragraph {n} " + "word " * 200 for n in range(20))
    docs = write(tmp_path / "docs", {"a.md": "one small note\n", "big.txt": big})
    named: list[str] = []
    search_index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    search_index.add([docs], progress=Progress(on_embedding=named.append))
    assert named and set(named) <= {str(docs / "a.md"), str(docs / "big.txt")}
    assert named.count(str(docs / "big.txt")) >= len(named) - 1  # one window may be a.md's
    named.clear()
    search_index.add([docs], progress=Progress(on_embedding=named.append))
    assert named == []  # nothing embedded: nothing named
    search_index.close()


def test_passages_whose_vectors_are_reused_leave_the_work_not_count_done(
    tmp_path, monkeypatch
) -> None:
    # A run resumed after Ctrl-C reuses the vectors its first part committed: counted done,
    # they raced the bar at first, and its time left jumped (0:19, then 8:46, then 4:56).
    from searchapp.ingest import pipeline, reading

    monkeypatch.setattr(reading, "PART_CHUNKS", 4)
    monkeypatch.setattr(pipeline, "WINDOW_CHUNKS", 4)
    docs = tmp_path / "docs"
    docs.mkdir()
    paragraphs = [" ".join(f"w{p}_{i}" for i in range(10)) for p in range(20)]
    (docs / "long.txt").write_text("\n\n".join(paragraphs), "utf-8")
    search_index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    search_index.add([docs])
    paragraphs[19] = "an edited last paragraph"
    (docs / "long.txt").write_text("\n\n".join(paragraphs), "utf-8")
    starts: list[int] = []
    done: list[int] = []
    free: list[int] = []
    progress = Progress(on_start=starts.append, on_bytes=done.append, on_free=free.append)
    report = search_index.add([docs], progress=progress)
    assert report.reused >= 15 and 1 <= report.chunks <= 2
    size = (docs / "long.txt").stat().st_size
    assert starts == [size] and sum(done) + sum(free) == size
    assert sum(free) >= size * 0.8 and sum(done) > 0
    search_index.close()


# -- the REPL ---------------------------------------------------------------------------------


def test_repl_settings_are_confirmed_and_shown(indexed, capsys) -> None:
    _, index_dir = indexed
    commands = ":path *.md\n:per-doc 2\n:k 3\n:settings\nwing\n:path\n:settings\n"
    code, out, err = run(capsys, "repl", "--index-dir", str(index_dir), stdin=commands)
    assert code == 0
    assert "only paths matching *.md" in err and "2 passages per document at most" in err
    assert "k 3, mode hybrid, path *.md, per-doc 2, json off" in err
    assert "k 3, mode hybrid, path (all), per-doc 2, json off" in err
    assert "wings.md" in out and "plan.txt" not in out
    # A command without its value says the value (":k" said "needs a positive number, not
    # ''"); a path typed in quotes, as in a shell, is the path (the quotes were its glob's);
    # ":open" before any query said that query "found none".
    commands = ':open 1\n:k\n:mode\n:per-doc\n:path "notes/wings.md"\n:settings\n'
    code, out, err = run(capsys, "repl", "--index-dir", str(index_dir), stdin=commands)
    assert code == 2 and out == "search> :open 1\n"  # its answer's line: the error
    assert "error: line 1: :open N shows hit N of the last query; there was none yet" in err
    assert "10 hits per query\nranking: hybrid\n1 passages per document at most\n" in err
    assert "k 10, mode hybrid, path notes/wings.md, per-doc 1, json off" in err


def test_piped_repl_answers_each_query_under_its_prompt_line(indexed, capsys) -> None:
    # `:open` and a failed query had no line of their own: the passage opened came out under
    # the question before it.
    _, index_dir = indexed
    commands = ":mode lexical\nwing\nzeppelin\n***\nheat\n:open 1\n:k 0\n:path [\n"
    code, out, err = run(capsys, "repl", "--index-dir", str(index_dir), stdin=commands)
    assert code == 2 and "error: line 4:" in err and "error: line 7:" in err
    # Named as the REPL's command, not the CLI's option (--path).
    assert "error: line 8: :path ('[') opens a [...] class" in err and "--" not in err
    answers = re.split(r"^search> (.*)\n", out, flags=re.MULTILINE)
    assert answers[0] == ""  # nothing before the first query's line
    queries, bodies = answers[1::2], answers[2::2]
    assert queries == ["wing", "zeppelin", "***", "heat", ":open 1"]  # settings: on stderr
    assert "wings.md" in bodies[0] and bodies[1] == bodies[2] == "" and "heat.md" in bodies[3]
    assert "heat.md" not in bodies[0] and "heat.md" in bodies[4] and "heat" in bodies[4]


def test_repl_points_query_options_typed_at_its_prompt_to_its_commands(indexed, capsys):
    # `-k 5` at the prompt searched for "-k 5".
    _, index_dir = indexed
    lines = "-k 5\n--mode=lexical\n--path notes/\n--per-doc 2\n--json\n-kite wing\n"
    code, out, err = run(capsys, "repl", "--index-dir", str(index_dir), stdin=lines)
    assert code == 2
    commands = [":k 5", ":mode lexical", ":path notes/", ":per-doc 2", ":json"]
    for n, command in enumerate(commands, start=1):
        said = f"error: line {n}: `search query`'s options are commands here: {command} (:help)"
        assert said in err, err
    answers = re.split(r"^search> (.*)\n", out, flags=re.MULTILINE)
    assert answers[1::2][-1] == "-kite wing" and "wings.md" in answers[-1]  # a query


def test_repl_history_keeps_each_sessions_lines_not_blanks(tmp_path, monkeypatch) -> None:
    # Two REPLs at once each wrote the whole file as it read it: the last to end lost the
    # other's lines. A line of spaces was kept too.
    readline = pytest.importorskip("readline")
    from searchapp.interfaces import repl as repl_module

    monkeypatch.setattr(repl_module, "user_data_dir", lambda: tmp_path)

    def session(*typed: str) -> repl_module.Repl:  # readline's history is the process's
        started = repl_module.Repl.__new__(repl_module.Repl)
        readline.clear_history()
        started._enable_history()
        for line in typed:
            length = readline.get_current_history_length()
            if line and readline.get_history_item(length) != line:  # as input() adds lines
                readline.add_history(line)
            if line and not line.strip():
                repl_module._forget_last_line(line)
        return started

    # An empty line after a query: readline keeps nothing of it (it took the query out).
    first = session("wing lift", "   ", "", "   ")
    other = tmp_path / "repl_history"  # another REPL, started later, ends first
    other.write_text("heat transfer\n", "utf-8")
    first._save_history()
    readline.clear_history()
    readline.read_history_file(tmp_path / "repl_history")
    length = readline.get_current_history_length()
    assert [readline.get_history_item(i) for i in range(1, length + 1)] == [
        "heat transfer",
        "wing lift",
    ]
    readline.clear_history()


def test_repl_path_with_a_bang_says_what_it_leaves_out(indexed, capsys) -> None:
    # ":path !notes/" answered "only paths matching !notes/".
    _, index_dir = indexed
    code, out, err = run(
        capsys, "repl", "--index-dir", str(index_dir), stdin=":path !notes/\nwing\n"
    )
    assert code == 0 and "leaving out paths matching notes/" in err
    assert "wings.md" not in out  # notes/wings.md is left out


def test_repl_takes_format_as_query_does(indexed, capsys) -> None:
    # `search repl --format json` was "No such option", though query takes it.
    _, index_dir = indexed
    args = ("repl", "--index-dir", str(index_dir))
    code, out, err = run(capsys, *args, "--format", "json", stdin="wing\n")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["query"] == "wing"
    assert "wings.md" in {Path(hit["path"]).name for hit in answer["hits"]}
    code, out, err = run(capsys, *args, "--format", "table", stdin="wing\nheat\n")
    assert code == 0 and "wings.md" in out
    assert "┃" in out or "│" in out or "1." in out  # a table, or its narrow list: no grep lines
    # Piped, each answer under its question, as in lines: the tables came one after another.
    assert out.startswith("search> wing\n") and "\nsearch> heat\n" in out
    code, _, err = run(capsys, *args, "--format", "lines", "--json", stdin="")
    assert code == 2 and "--json means --format json" in err


@pytest.mark.parametrize("asked", [["--json"], ["--format", "jsonl"]])  # as `query` takes
def test_piped_json_answers_name_their_query_failed_ones_too(indexed, capsys, asked) -> None:
    # Piped `search repl --format json` wrote one bare array per answer and nothing for a line
    # that failed, so a script pairing answers with its questions by order went one off.
    _, index_dir = indexed
    questions = "wing\n:k 1\nbad \udcff bytes\n\nheat\n"
    code, out, err = run(capsys, "repl", "--index-dir", str(index_dir), *asked, stdin=questions)
    answers = [json.loads(line) for line in out.splitlines()]
    assert code == 2 and "line 3: the query holds bytes that are not UTF-8" in err
    assert [a["query"] for a in answers] == ["wing", "bad \udcff bytes", "heat"]
    assert "not UTF-8" in answers[1]["error"] and "hits" not in answers[1]
    assert len(answers[0]["hits"]) > 1 and len(answers[2]["hits"]) == 1  # :k 1 took effect
    assert Path(answers[2]["hits"][0]["path"]).name == "heat.md"


def test_repl_open_in_json_mode_is_a_json_line(indexed, capsys) -> None:
    # `:open 1` wrote the passage as text among the JSON lines: a reader of them failed there.
    _, index_dir = indexed
    questions = "wing\n:open 1\n:open 9\n"
    code, out, err = run(capsys, "repl", "--index-dir", str(index_dir), "--json", stdin=questions)
    answers = [json.loads(line) for line in out.splitlines()]
    assert code == 2 and [a["query"] for a in answers] == ["wing", ":open 1", ":open 9"]
    hit, opened = answers[0]["hits"][0], answers[1]
    assert opened["path"] == hit["path"] and opened["changed"] is False
    lines = Path(hit["path"]).read_text("utf-8").split("\n")
    shown = opened["text"].split("\n")
    assert shown == lines[opened["first_line"] - 1 : opened["first_line"] - 1 + len(shown)]
    assert hit["text"].split("\n")[0] in shown
    assert answers[2]["error"].startswith(":open needs a hit number")


def test_repl_open_after_a_query_that_found_nothing_says_so(indexed, capsys) -> None:
    _, index_dir = indexed
    commands = ":mode lexical\nzeppelin\n:open 1\nwing\n:open 9\n"
    code, out, err = run(capsys, "repl", "--index-dir", str(index_dir), stdin=commands)
    assert code == 2
    assert ":open shows a hit of the last query, which found none" in err
    assert ":open needs a hit number from 1 to 2" in err  # "wing": in two documents


def test_ctrl_c_cancels_a_repl_query_and_the_session_goes_on(indexed, capsys, monkeypatch) -> None:
    _, index_dir = indexed
    calls = []
    search = SearchIndex.search

    def interrupted_once(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return search(self, *args, **kwargs)

    monkeypatch.setattr(SearchIndex, "search", interrupted_once)
    # Typed at a terminal: the query is cancelled, the next one answered.
    out, err = io.StringIO(), io.StringIO()
    repl = Repl(SearchIndex(index_dir), Console(file=out), Console(file=err), interactive=True)
    assert repl.handle("wing") and repl.handle("heat")
    assert "cancelled" in err.getvalue() and "heat.md" in out.getvalue() and len(calls) == 2
    repl.index.close()
    # Read from a pipe or file: Ctrl-C ends the session, as it ends `search query` (it was
    # taken as "cancel this line", and the rest of the file was still answered, status 0).
    calls.clear()
    code, out, err = run(capsys, "repl", "--index-dir", str(index_dir), stdin="wing\nheat\n")
    assert code == 130 and "heat.md" not in out and len(calls) == 1


def test_ctrl_c_at_the_repl_prompt_shows_the_line_dropped(indexed, monkeypatch) -> None:
    # bash shows "^C" after a line Ctrl-C cancels; the prompt came back with nothing said.
    _, index_dir = indexed
    typed = iter([KeyboardInterrupt, "wing", EOFError])

    def typing(prompt: str) -> str:
        line = next(typed)
        if isinstance(line, type):
            raise line
        return line

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("builtins.input", typing)
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(Repl, "_enable_history", lambda self: None)
    out, err = io.StringIO(), io.StringIO()
    repl = Repl(SearchIndex(index_dir), Console(file=out), Console(file=err))
    assert repl.run() == 0
    assert "\n^C\n" in err.getvalue() and "wings.md" in out.getvalue(), err.getvalue()
    repl.index.close()


def test_ctrl_c_while_the_command_loads_is_one_line_not_a_traceback(capsys, monkeypatch) -> None:
    # `timeout -s INT 0.1 search query x`, or Ctrl-C right after Enter: the import of the
    # command (0.1 s) was cut and Python printed its traceback.
    from searchapp.__main__ import run

    class Interrupted:
        def find_spec(self, name, path=None, target=None):
            if name == "searchapp.interfaces.cli":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "searchapp.interfaces.cli")
    monkeypatch.setattr(sys, "meta_path", [Interrupted(), *sys.meta_path])
    with pytest.raises(SystemExit) as exited:
        run()
    assert exited.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_a_stdout_that_cannot_write_unicode_gets_what_it_can(tmp_path) -> None:
    # PYTHONIOENCODING=ascii (or latin-1): the "…" of a cut passage ended every query with
    # "error: 'ascii' codec can't encode character", status 2, and nothing printed.
    docs = write(tmp_path / "docs", {"cafe.txt": "Café crème brûlée " + "and more " * 60 + "\n"})
    index_dir = tmp_path / "idx"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYTHONIOENCODING": "ascii",
        "HF_HUB_OFFLINE": "1",
    }
    search = [sys.executable, "-m", "searchapp"]
    indexed = subprocess.run(
        [
            *search,
            "index",
            str(docs),
            "--model",
            "paraphrase-MiniLM-L3-v2",
            "--index-dir",
            str(index_dir),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert indexed.returncode == 0, indexed.stderr
    args = [*search, "query", "creme brulee", "-k", "1", "--index-dir", str(index_dir)]
    lines = subprocess.run(args, capture_output=True, text=True, env=env)
    assert lines.returncode == 0, lines.stderr
    assert lines.stdout.startswith(f"{docs / 'cafe.txt'}:1: ") and "Caf? cr?me" in lines.stdout
    as_json = subprocess.run([*args, "--json"], capture_output=True, text=True, env=env)
    assert as_json.returncode == 0 and as_json.stdout.isascii()
    assert json.loads(as_json.stdout)[0]["text"].startswith("Café crème brûlée")


def test_copies_are_all_named_whatever_k(tmp_path, fake_model, capsys) -> None:
    # `also` and -l named the copy of a hit only when it came within the first 2k ranked
    # passages: with -k 2 the passages of keys.md that --per-doc skipped pushed it out.
    # Three passages of one file rank first, then the copies: the first batch of 2k = 4 rows
    # held one copy, and the hits were complete before the other was read.
    filler = " ".join(f"w{i}" for i in range(10))
    part = f"revoke the old key {filler} revoke the old key"
    keys = "".join(f"## Part {n}\n\n{part}\n\n" for n in range(3))
    retry = "Requests are retried with backoff; " + " ".join(f"v{i}" for i in range(30)) + " key\n"
    docs = write(
        tmp_path / "docs",
        {"keys.md": keys, "retry.md": retry, "z/retry-copy.md": retry, "other.md": "x\n"},
    )
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    copies = {str(docs / "retry.md"), str(docs / "z/retry-copy.md")}
    for k in (2, 3, 10):
        query = ("query", "revoke the old key", "-k", str(k), "--index-dir", str(index_dir))
        code, out, _ = run(capsys, *query, "--json")
        assert code == 0
        hits = json.loads(out)
        [copy] = [hit for hit in hits if hit["path"] in copies]
        assert {copy["path"], *copy["also"]} == copies, k
        code, out, _ = run(capsys, *query, "-l")
        assert copies <= set(out.split()), k


def test_ctrl_c_in_eval_exits_130_with_one_line(indexed, capsys, monkeypatch, tmp_path) -> None:
    docs, index_dir = indexed
    import searchapp.ranking.evaluation as evaluation

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluation, "evaluate_modes", interrupted)
    judged = f"1\t{docs / 'notes/wings.md'}\t1\n"  # an indexed document: no warning
    queries = write(tmp_path, {"q.tsv": "1\twing\n", "qrels.tsv": judged})
    code, out, err = run(
        capsys,
        "eval",
        "--queries",
        str(queries / "q.tsv"),
        "--qrels",
        str(queries / "qrels.tsv"),
        "--index-dir",
        str(index_dir),
    )
    assert (code, out, err) == (130, "", "interrupted\n")


# -- small things -----------------------------------------------------------------------------


def test_bare_search_prints_the_help_once_and_version_works(capsys) -> None:
    code, out, err = run(capsys)
    # As grep's: a usage mistake (2), its usage on stderr, nothing for a pipe to read.
    assert code == 2 and out == "" and err.count("Usage:") == 1 and "Commands:" in err
    code, out, _ = run(capsys, "--version")
    assert code == 0 and re.fullmatch(r"search \(searchapp\) \S+\n", out)


def test_help_lists_choices_without_type_tags(capsys) -> None:
    for command, choices in (
        ("query", "hybrid|dense|lexical"),
        ("index", "auto|fp32|bf16|fp16"),
        ("index", "auto|flat|ivf|hnsw"),
    ):
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and choices in out, out
        assert "<bool>" not in out


def test_usage_lines_write_arguments_as_grep_does(capsys) -> None:
    usages = {}
    for command in ("query", "index", "remove", "watch"):
        code, out, _ = run(capsys, command, "--help")
        assert code == 0
        usages[command] = out.splitlines()[0]
    assert usages == {
        "query": "Usage: search query [OPTIONS] [TEXT]",  # typer wrote {TEXT}; piped: none
        "index": "Usage: search index [OPTIONS] [PATH]...",
        "remove": "Usage: search remove [OPTIONS] PATH|GLOB...",
        "watch": "Usage: search watch [OPTIONS] [PATH]...",
    }


def test_index_dir_that_is_a_file_is_one_clear_line(tmp_path, capsys) -> None:
    plain = tmp_path / "file.txt"
    plain.write_text("x", "utf-8")
    for args in (["info"], ["query", "x"], ["index", str(tmp_path)]):
        code, out, err = run(capsys, *args, "--index-dir", str(plain))
        assert code == 2 and out == ""
        assert err == f"error: the index folder {plain} is a file; give --index-dir a folder\n"


def test_new_index_precision_is_auto_as_for_search_index(tmp_path, monkeypatch) -> None:
    import searchapp.encoding
    from minilm import SentenceEncoder

    # About PyTorch's encoder: it embeds from the first token (no NumPy for small runs).
    monkeypatch.setattr(pipeline, "QUICK_TOKENS", 0)
    asked = []

    def load(cls, name, **options):
        asked.append(options["precision"])
        return FakeEncoder()

    monkeypatch.setattr(SentenceEncoder, "from_pretrained", classmethod(load))
    # The model's name, size and tokenizer come from the NumPy encoder, without torch.
    monkeypatch.setattr(searchapp.encoding, "numpy_query_encoder", lambda *a, **k: FakeEncoder())
    SearchIndex(tmp_path / "idx").add([write(tmp_path / "docs", DOCS)])
    SearchIndex(tmp_path / "fp32", precision="fp32").add([tmp_path / "docs"])
    assert asked == ["auto", "fp32"]


def test_an_index_keeps_its_precision_and_refuses_another(tmp_path, monkeypatch, capsys) -> None:
    import searchapp.encoding
    from minilm import SentenceEncoder

    # About PyTorch's encoder: it embeds from the first token (no NumPy for small runs).
    monkeypatch.setattr(pipeline, "QUICK_TOKENS", 0)
    asked = []

    def load(cls, name, **options):
        asked.append(options["precision"])
        encoder = FakeEncoder()
        encoder.precision = "bf16" if options["precision"] == "auto" else options["precision"]
        return encoder

    monkeypatch.setattr(SentenceEncoder, "from_pretrained", classmethod(load))
    monkeypatch.setattr(searchapp.encoding, "numpy_query_encoder", lambda *a, **k: FakeEncoder())
    docs = write(tmp_path / "docs", DOCS)
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), "--precision", "fp32", *index)[0] == 0
    # Refused when nothing needs embedding too (it was accepted then, and refused later).
    code, _, err = run(capsys, "index", str(docs), "--precision", "bf16", *index)
    assert code == 2 and "holds fp32 vectors and --precision bf16 embeds in bf16 here" in err
    assert asked == ["fp32"]  # nothing loaded for the refused run
    (docs / "notes/wings.md").write_text("Wing lift, edited.\n", "utf-8")
    assert run(capsys, "index", *index)[0] == 0  # a bare update: the index's own fp32
    assert asked == ["fp32", "fp32"]
    (docs / "notes/heat.md").write_text("Heat, edited.\n", "utf-8")
    code, _, err = run(capsys, "index", str(docs), "--precision", "auto", *index)
    assert code == 2 and asked[-1] == "auto"
    assert "holds fp32 vectors and --precision auto embeds in bf16 here" in err
    stats = json.loads(run(capsys, "info", "--json", *index)[1])
    assert stats["precision"] == "fp32"
    hit = json.loads(run(capsys, "query", "Heat", "--json", "-k", "1", *index)[1])[0]
    assert hit["text"].startswith("Heat transfer")  # the refused run stored nothing


@pytest.mark.slow
def test_the_readme_python_snippet_runs_as_written(tmp_path) -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    snippet = readme.split("### Python API\n\n```python\n", 1)[1].split("```", 1)[0]
    snippet = snippet.replace("/tmp/my-index", str(tmp_path / "index"))
    result = subprocess.run(
        [sys.executable, "-c", snippet], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert "'documents': 1" in result.stdout and "README.md" in result.stdout


def test_counts_are_written_with_their_plurals() -> None:
    assert [counted(n, "chunk") for n in (0, 1, 2)] == ["0 chunks", "1 chunk", "2 chunks"]
    assert [counted(n, "batch") for n in (1, 4)] == ["1 batch", "4 batches"]
    assert counted(3, "match") == "3 matches" and counted(2, "document") == "2 documents"


def test_context_surrounds_passages_that_start_indented_or_inside_a_line(
    tmp_path, fake_model, capsys
) -> None:
    # Chunks of indented code begin without their indentation, and a long line is split inside
    # it: the context still comes from the hit's line numbers, lines of the file as they are.
    code = "class K:\n" + "".join(
        f"    def m{i}(self):\n        return 'value {i} of many'\n\n" for i in range(30)
    )
    long_line = " ".join(f"Sentence {i} says little." for i in range(80))
    docs = write(tmp_path / "src", {"k.py": code, "long.txt": f"title\n{long_line}\nlast\n"})
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    args = [
        "query",
        "value 15 Sentence 40",
        "-k",
        "4",
        "--per-doc",
        "3",
        "--index-dir",
        str(index_dir),
    ]
    hits = json.loads(run(capsys, *args, "--json")[1])
    code_out = run(capsys, *args, "-C", "2")[1]
    groups: list[list[str]] = [[]]
    for line in code_out.splitlines():
        groups.append([]) if line == "--" else groups[-1].append(line)
    assert len(hits) == 4 and {Path(h["path"]).name for h in hits} == {"k.py", "long.txt"}
    rows = {}  # (file name, line number): the row; a line shown twice would be lost here
    for group in groups:
        numbers = []
        for row in group:
            match = LINE.match(row) or re.match(r"^(?P<path>.+?)-(?P<line>\d+)-(?P<text>.*)$", row)
            numbers.append(int(match["line"]))
            rows[Path(match["path"]).name, int(match["line"])] = row, match
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # lines in order
    assert len(rows) == sum(map(len, groups))
    for hit in hits:
        lines = Path(hit["path"]).read_text("utf-8").split("\n")[:-1]
        name, line = Path(hit["path"]).name, hit["line"]
        assert hit["start_line"] <= line <= hit["end_line"]
        # grep -C: the lines around the line shown, not the passage, as the file has them
        for n in range(max(1, line - 2), min(len(lines), line + 2) + 1):
            row, match = rows[name, n]
            assert match["text"] == lines[n - 1] or (n != line and LINE.match(row))
        own = lines[line - 1]  # the hit's row: its line as written, as grep prints it
        assert LINE.match(rows[name, line][0])["text"] == own


def test_context_of_a_file_whose_lines_moved_is_the_passage_alone(
    tmp_path, fake_model, capsys
) -> None:
    words = [" ".join(f"{w}{i}" for i in range(40)) for w in ("alpha", "glider", "omega")]
    docs = write(tmp_path / "docs", {"a.txt": "ab\n\n" + "\n\n".join(words) + "\n"})
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    # The same length and the same characters where the passage was, but a line more before it.
    (docs / "a.txt").write_text("a\n\n\n" + "\n\n".join(words) + "\n", "utf-8")
    args = ["query", "glider1 glider2", "-k", "1", "--mode", "lexical", "-C", "2"]
    code, out, err = run(capsys, *args, "--index-dir", str(index_dir))
    assert len(out.splitlines()) == 1 and LINE.match(out.splitlines()[0])  # no wrong context
    assert err.count("changed since it was indexed") == 1 and "a.txt" in err


def test_a_file_grown_past_the_size_limit_is_not_sent_to_search_index(
    tmp_path, fake_model, capsys
) -> None:
    # A log grown past 50 MB: every query said "run `search index`", which skips it (its
    # indexed text kept), so the note never went.
    from searchapp.ingest.decoding import DEFAULT_MAX_BYTES

    docs = write(tmp_path / "docs", {"app.log": "glacier vault backup failed\n"})
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    os.truncate(docs / "app.log", DEFAULT_MAX_BYTES + 1)  # sparse: nothing written
    assert run(capsys, "index", str(docs), *index)[0] == 0  # skipped: its text kept
    code, out, err = run(capsys, "query", "glacier vault", "-k", "1", *index)
    assert code == 0 and "app.log:1:" in out
    assert "app.log grew past the 50 MiB size limit since it was indexed" in err
    assert "run `search index`" not in err
    code, out, err = run(capsys, "query", "glacier vault", "-k", "1", "-C", "1", *index)
    assert code == 0 and "app.log:1:" in out
    assert "app.log grew past the 50 MiB size limit since it was indexed" in err
    assert "run `search index`" not in err


def test_a_coloured_log_indexed_before_escape_codes_went_is_read_again(
    tmp_path, fake_model, capsys
) -> None:
    # Indexed when an ESC became a space and the rest of its code stayed, the log's passage
    # no longer matched its file as read now: `-C` said "changed" at every query, and `search
    # index` found the file unchanged.
    from searchapp.ingest import decoding
    from searchapp.storage import schema

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "build.log").write_bytes(b"\x1b[1;31mERROR\x1b[0m disk full\nbuild stopped\n")
    (docs / "notes.md").write_text("[1] a note on [2B] pencils\n", "utf-8")
    index = ["--index-dir", str(tmp_path / "idx")]
    with pytest.MonkeyPatch.context() as before:
        before.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:13])
        before.setattr(decoding, "_TERMINAL_CODES", re.compile("(?!)"))  # as it was read
        assert run(capsys, "index", str(docs), *index)[0] == 0
    code, _, said = run(capsys, "index", str(docs), *index)
    assert code == 0 and "1 updated" in said and "1 unchanged" in said, said
    code, out, err = run(capsys, "query", "disk full", "-k", "1", "-C", "1", *index)
    assert code == 0 and "build.log:1: " in out and "ERROR disk full" in out
    assert "[31m" not in out and "changed" not in err


def test_a_gzip_file_grown_past_the_limit_decompressed_is_told_so(tmp_path, fake_model, capsys):
    import gzip

    from searchapp.ingest.decoding import DEFAULT_MAX_BYTES

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "app.log.gz").write_bytes(gzip.compress(b"glacier vault backup failed\n"))
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    grown = b"glacier vault backup failed\n" + b"x" * DEFAULT_MAX_BYTES
    (docs / "app.log.gz").write_bytes(gzip.compress(grown, compresslevel=1))
    assert run(capsys, "index", str(docs), *index)[0] == 0  # skipped: its text kept
    code, out, err = run(capsys, "query", "glacier vault", "-k", "1", *index)
    assert code == 0 and "app.log.gz:1:" in out
    assert "app.log.gz grew past the 50 MiB size limit since it was indexed" in err


def test_a_note_that_cannot_be_written_leaves_the_status_as_found(
    tmp_path, fake_model, capsys, monkeypatch
) -> None:
    # `search query hedgehogs 2>/dev/full`: the hits were printed, then status 2, as the note
    # that the file changed could not be written (nor could any error).
    docs = write(tmp_path / "docs", {"a.txt": "hedgehogs live in gardens\n"})
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    (docs / "a.txt").write_text("hedgehogs live in gardens\nand hedges\n", "utf-8")

    class Full(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(sys, "stderr", Full())
    code, out, _ = run(capsys, "query", "hedgehogs", "-k", "1", *index)
    assert code == 0 and "a.txt:1:" in out


@pytest.mark.parametrize(
    "extra",
    [["-l", "--json"], ["-l", "--format", "table"], ["-C", "1", "--json"]]
    + [["-C", "1", "--format", "jsonl"]],
)
def test_options_that_cannot_combine_are_refused(indexed, capsys, extra) -> None:
    _, index_dir = indexed
    code, out, err = run(capsys, "query", "wing", *extra, "--index-dir", str(index_dir))
    assert (code, out) == (2, "") and err.startswith("error: ") and "drop" in err


def test_a_long_passage_line_shows_where_most_query_words_are_together() -> None:
    # "server" all over the line, "listen directive" once near its end: the cut shows the three
    # words together, not the first "server" (a newcomer saw the rare words cut away).
    words = " ".join(f"filler{i}" for i in range(60))
    text = f"The server config lives in the server folder; {words} the server starts. " * 3
    text += f"{words} edit the listen directive of the server in nginx.conf. {words}"
    hit = Hit(1, 0.5, 0.5, "/a.txt", "/a.txt", 1, 1, 1, text)
    shown = LINE.match(hit_line(hit, "server listen directive"))["text"]
    assert "edit the listen directive of the server" in shown and shown.startswith("… ")
    assert LINE.match(hit_line(hit, "server"))["text"].startswith("The server config")


def refuse_to_open(monkeypatch, name: str) -> None:
    """Opening the file called ``name`` fails as a file without read permission does (tests
    run as root here, which chmod cannot keep out)."""
    import searchapp.ingest.decoding as decoding

    real_open = os.open

    def fake_open(path, flags, *args):
        if Path(path).name == name:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(decoding.os, "open", fake_open)


def test_files_that_cannot_be_read_make_index_exit_3_and_keep_their_text(
    indexed, capsys, monkeypatch
) -> None:
    docs, index_dir = indexed
    (docs / "notes/wings.md").write_text("Wing flutter at high speed.\n", "utf-8")
    (docs / "notes/new.md").write_text("A new note about propellers.\n", "utf-8")
    refuse_to_open(monkeypatch, "wings.md")
    refuse_to_open(monkeypatch, "new.md")
    code, _, err = run(capsys, "index", str(docs), "--index-dir", str(index_dir), "--verbose")
    assert code == 3, err
    assert f"skipped {docs / 'notes/wings.md'}: cannot read: Permission denied; its indexed " in err
    assert f"skipped {docs / 'notes/new.md'}: cannot read: Permission denied\n" in err
    # wings.md was indexed before: its old text stays searchable, not taken for deleted.
    code, out, _ = run(capsys, "query", "angle of attack", "--index-dir", str(index_dir), "-l")
    assert code == 0 and "wings.md" in out
    code, out, err = run(capsys, "index", "--index-dir", str(index_dir), "--quiet")
    assert (code, out) == (3, "")
    assert sorted(err.splitlines()) == [  # worded as without --quiet (an SRE's cron mail)
        f"skipped {docs / 'notes/new.md'}: cannot read: Permission denied",
        f"skipped {docs / 'notes/wings.md'}: cannot read: Permission denied; its indexed text "
        "is kept",
    ]
    monkeypatch.undo()
    use_encoder(monkeypatch, FakeEncoder(dim=32, max_length=64))
    code, _, err = run(capsys, "index", "--index-dir", str(index_dir))
    assert code == 0 and "1 added, 1 updated" in err


def test_a_file_left_out_by_design_is_no_error(indexed, capsys) -> None:
    docs, index_dir = indexed
    (docs / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)
    code, _, err = run(capsys, "index", str(docs), "--index-dir", str(index_dir))
    assert code == 0 and "1 file skipped (binary file: 1)" in err


def test_repl_takes_the_filters_of_query_and_a_piped_error_sets_the_status(indexed, capsys) -> None:
    _, index_dir = indexed
    args = ("--index-dir", str(index_dir), "--mode", "lexical")
    code, out, err = run(
        capsys, "repl", *args, "--path", "notes", "--per-doc", "2", stdin=":settings\nwing\n"
    )
    assert code == 0, err
    assert "path notes, per-doc 2" in err
    assert "wings.md" in out and "plan.txt" not in out  # plan.txt holds "wing" too
    code, _, err = run(capsys, "repl", *args, "--path", "*.nothing", stdin="wing\n")
    assert code == 0 and "no indexed document matches the path *.nothing" in err
    code, out, err = run(capsys, "repl", *args, stdin="wing\n\n:k 0\nheat\n")
    assert code == 2 and "heat.md" in out  # the line after the error is still answered
    assert err.count("error:") == 1
    assert "error: line 3: :k needs a positive number, not '0'" in err  # which line failed


@pytest.mark.parametrize("glob", ["[", "notes/[ab", "*[!]"])
def test_a_path_glob_with_an_unclosed_class_is_refused(indexed, capsys, glob) -> None:
    _, index_dir = indexed
    code, out, err = run(capsys, "query", "wing", "--path", glob, "--index-dir", str(index_dir))
    assert (code, out) == (2, "")
    assert (
        f"--path ({glob!r}) opens a [...] class it never closes; write [[] for a literal [" in err
    )
    code, _, err = run(capsys, "repl", "--index-dir", str(index_dir), "--path", glob, stdin="")
    assert code == 2 and "never closes" in err
    code, _, err = run(capsys, "repl", "--index-dir", str(index_dir), stdin=f":path {glob}\n")
    assert code == 2 and "never closes" in err


@pytest.mark.parametrize("glob", ["*.{md", "notes/{a,b", "{*.md,{x,y}"])
def test_a_path_glob_with_an_unclosed_brace_is_refused(indexed, capsys, glob) -> None:
    # ripgrep refuses -g '*.{md' (unclosed alternate group); it matched nothing here, exit 1.
    docs, index_dir = indexed
    code, out, err = run(capsys, "query", "wing", "--path", glob, "--index-dir", str(index_dir))
    assert (code, out) == (2, "")
    assert f"--path ({glob!r}) opens a {{...}} group it never closes; write [{{] for a " in err
    code, _, err = run(capsys, "index", str(docs), "--include", glob, "--index-dir", str(index_dir))
    assert code == 2 and f"--include pattern {glob!r} opens a {{...}} group" in err
    code, _, err = run(capsys, "remove", glob, "--index-dir", str(index_dir))
    assert code == 2 and "opens a {...} group it never closes" in err
    # A literal "{" is written [{], and a "}" with no "{" is no group: both are accepted.
    for fine in ("*[{]*", "*}*", "*.{md,txt}"):
        code, _, err = run(capsys, "query", "wing", "--path", fine, "--index-dir", str(index_dir))
        assert code in (0, 1) and "never closes" not in err


def test_a_path_glob_with_a_closed_class_matches_as_fnmatch_does(indexed, capsys) -> None:
    _, index_dir = indexed
    code, out, _ = run(
        capsys, "query", "wing", "--path", "[pw][il]*", "-l", "--index-dir", str(index_dir)
    )
    assert code == 0 and {Path(p).name for p in out.split()} == {"wings.md", "plan.txt"}


def test_an_empty_path_is_refused_not_taken_for_the_current_folder(
    indexed, capsys, monkeypatch
) -> None:
    # `search remove "$OLD"` with OLD unset removed everything under the current folder.
    docs, index_dir = indexed
    monkeypatch.chdir(docs)
    before = sorted(SearchIndex(index_dir).store.all_paths())
    for args in (["remove", ""], ["index", ""], ["index", "notes", ""], ["watch", ""]):
        code, out, err = run(capsys, *args, "--index-dir", str(index_dir))
        assert (code, out) == (2, ""), args
        assert err == (
            "error: an empty path was given (an unset shell variable?); write . for the "
            "current folder\n"
        )
    assert sorted(SearchIndex(index_dir).store.all_paths()) == before


def lines_fts5_matches(text: str, words: list[str]) -> list[int]:
    """The lines (1-based) on which SQLite's FTS5, with the index's tokenizer, finds every
    one of ``words``: the reference for where a lexical hit points."""
    import sqlite3

    from searchapp.storage.schema import FTS_TOKENIZER

    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE t USING fts5(line, tokenize='{FTS_TOKENIZER}')")
    db.executemany("INSERT INTO t(rowid, line) VALUES (?, ?)", enumerate(text.split("\n"), 1))
    query = " AND ".join(f'"{w}"' for w in words)
    return sorted(row[0] for row in db.execute("SELECT rowid FROM t WHERE t MATCH ?", (query,)))


@pytest.mark.parametrize(
    ("name", "text", "query"),
    [
        (
            "config.py",
            'import vault\n\n\ndef save(key):\n    vault.put("api", key)\n\n\n'
            "def rotate_api_key(old):\n    return save(old[::-1])\n",
            "rotate api",
        ),
        (
            "cafe.md",
            "# Menu\n\nApple tart\nLemon pie\nCrème brûlée with vanilla\n",
            "creme brulee",
        ),
        # Accents FTS5 keeps (Greek tonos, Cyrillic й): folding them lost the line.
        ("greek.txt", "Πρόλογος\n\nΗ σοφία του Σωκράτη\n", "σοφία"),
        ("russian.txt", "Заметки\n\nЗимой мой сад спит\n", "Зимой мой"),
        ("korean.txt", "메모\n\n서울은 크다\n", "서울은"),
        ("nfd.md", "Menu\n\nCre\u0301me caramel\n", "cre\u0301me"),
    ],
)
def test_a_hit_points_at_the_line_where_fts5_finds_its_words(
    tmp_path, fake_model, capsys, name, text, query
) -> None:
    # The line finder took "_" for a letter and accents as different letters: the hit pointed
    # at `vault.put("api"` and at line 1, while FTS5 matched `rotate_api_key` and "Crème".
    docs = write(tmp_path / "docs", {name: text})
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    code, out, _ = run(
        capsys, "query", query, "--mode", "lexical", "--json", "--index-dir", str(index_dir)
    )
    assert code == 0
    [hit] = json.loads(out)
    expected = lines_fts5_matches(text, query.split())
    assert len(expected) == 1 and hit["line"] == expected[0]


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("笔记\n\n上海是一个大城市。\n北京是中国的首都，人口很多。\n", "首都"),
        ("メモ\n\n東京都に住んでいます。\n明日は研究室に行きます。\n", "研究"),
        ("メモ\n\n東京都に住んでいます。\n明日は研究室に行きます。\n", "東京 研究室"),
    ],
)
def test_a_word_inside_a_chinese_or_japanese_run_is_found_on_its_line(
    tmp_path, fake_model, capsys, text, query
) -> None:
    # A run of Han or kana was one FTS5 word: a lexical query for a word inside it found
    # nothing, and hybrid hits pointed at the passage's first line.
    docs = write(tmp_path / "docs", {"notes.txt": text, "other.txt": "nothing of the kind\n"})
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    for mode in ("lexical", "hybrid"):
        code, out, _ = run(
            capsys, "query", query, "--mode", mode, "--json", "--index-dir", str(index_dir)
        )
        assert code == 0
        hit = json.loads(out)[0]
        lines = text.split("\n")
        last = query.split()[-1]
        assert hit["path"] == str(docs / "notes.txt")
        assert hit["line"] == next(n for n, line in enumerate(lines, 1) if last in line)
    code, painted, _ = run(
        capsys, "query", query, "--color", "always", "--index-dir", str(index_dir)
    )
    assert all(f"\x1b[1;31m{c}\x1b[0m" in painted for c in query.split()[-1])


def painted_lines(capsys, query: str, index_dir: Path) -> str:
    """``search query`` in lines output, coloured as on a terminal."""
    args = ("--color", "always", "--format", "lines", "--index-dir", str(index_dir))
    code, painted, err = run(capsys, "query", query, *args)
    assert code == 0, err
    return painted


def test_a_camel_case_name_is_found_by_its_parts_on_its_line(tmp_path, fake_model, capsys) -> None:
    # "parseConfig" was one FTS5 word: "config" found it by no lexical means, and the hit
    # pointed at the passage's first line, nothing highlighted.
    text = "import os\n\n\ndef parseConfig(path):\n    return os.environ\n"
    docs = write(tmp_path / "docs", {"settings.py": text, "other.txt": "nothing of the kind\n"})
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    for query in ("config", "parse_config"):
        code, out, _ = run(
            capsys, "query", query, "--mode", "lexical", "--json", "--index-dir", str(index_dir)
        )
        assert code == 0
        hit = json.loads(out)[0]
        assert (hit["path"], hit["line"]) == (str(docs / "settings.py"), 4)
    painted = painted_lines(capsys, "config", index_dir)
    assert "parse\x1b[1;31mConfig\x1b[0m(path)" in painted


def test_a_snake_case_identifier_chooses_its_line_and_lights_up_whole(
    tmp_path, fake_model, capsys
) -> None:
    # Any line with "rich" and "console" counted as much as the one that names the identifier.
    text = (
        "from rich.console import Console\n\n\nclass Panel:\n"
        "    def __rich_console__(self, console):\n        yield self.renderable\n"
    )
    docs = write(tmp_path / "docs", {"panel.py": text, "other.txt": "nothing of the kind\n"})
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    for query in ("__rich_console__", "rich_console", "richConsole"):
        code, out, _ = run(
            capsys, "query", query, "--mode", "lexical", "--json", "--index-dir", str(index_dir)
        )
        hit = json.loads(out)[0]
        assert (code, Path(hit["path"]).name, hit["line"]) == (0, "panel.py", 5), query
    painted = painted_lines(capsys, "rich_console", index_dir)
    assert "__\x1b[1;31mrich_console\x1b[0m__" in painted


def test_a_page_written_on_one_line_is_indexed(tmp_path, fake_model, capsys) -> None:
    # Its visible text is one long line (the file's): it was skipped as minified text.
    body = "".join(
        f"<p>Step {n}: call <code>f({n})</code> then check x[{n}];</p>" for n in range(900)
    )
    docs = write(tmp_path / "web", {"docs.html": f"<html><body>{body}</body></html>"})
    index_dir = tmp_path / "idx"
    code, _, err = run(capsys, "index", str(docs), "--index-dir", str(index_dir))
    assert code == 0 and "1 added" in err, err


def test_html_pages_indexed_by_an_older_version_are_read_again(
    tmp_path, fake_model, capsys, monkeypatch
) -> None:
    # Unchanged on disk, they kept the lines of the old extraction: hits named the wrong line
    # and -C said the file had changed, however often `search index` ran.
    from searchapp.storage import schema

    docs = write(tmp_path / "web", {"page.html": "<p>one</p>\n<p>two</p>\n", "a.txt": "x\n"})
    index_dir = tmp_path / "idx"
    every = schema.MIGRATIONS
    monkeypatch.setattr(schema, "MIGRATIONS", every[:8])
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    monkeypatch.setattr(schema, "MIGRATIONS", every)
    code, _, err = run(capsys, "index", "--index-dir", str(index_dir))
    assert code == 0 and "0 added, 1 updated, 0 removed, 1 unchanged" in err, err


def test_a_hit_in_an_html_file_names_the_files_own_line(tmp_path, fake_model, capsys) -> None:
    # It counted lines of the extracted text: line 43 for the text on line 70, and `vim -q`
    # opened the <style> block.
    page = [
        "<!doctype html>",
        "<html>",
        "<head>",
        "<title>Garden log</title>",
        "<style>",
        *[f".c{i} {{ margin: {i}px; }}" for i in range(40)],
        "</style>",
        "</head>",
        "<body>",
        "<h1>Garden log</h1>",
        *[f"<p>Day {i}: watered the beds.</p>" for i in range(20)],
        "<p>The aphids on the roses were treated with neem oil.</p>",
        "</body>",
        "</html>",
    ]
    docs = write(tmp_path / "web", {"garden.html": "\n".join(page) + "\n"})
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    code, out, _ = run(
        capsys, "query", "aphids neem", "-k", "1", "-C", "1", "--index-dir", str(index_dir)
    )
    assert code == 0
    line = next(n for n, text in enumerate(page, 1) if "aphids" in text)
    garden = str(docs / "garden.html")
    assert out.splitlines() == [
        f"{garden}-{line - 1}-Day 19: watered the beds.",
        f"{garden}:{line}: "
        + LINE.match(out.splitlines()[1])["score"]
        + "  The aphids on the roses were treated with neem oil.",
    ]  # the lines after it hold no text


def test_function_words_neither_choose_the_line_nor_light_up(tmp_path, fake_model, capsys):
    # In a small index "do" was rarer than "retry": the hit named "What do I do on Fridays?"
    # and `--color always` painted every "do".
    faq = "# Client FAQ\n\nFailed requests are retried by the client, retry after retry.\n\n"
    faq += "What do I do on Fridays?\n"
    notes = {f"c{i}.md": f"Client note {i}: the retry loop retries requests.\n" for i in range(3)}
    docs = write(tmp_path / "docs", {"faq.md": faq, **notes})
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    query = ("query", "how do we retry requests", "--path", "faq.md", "-k", "1")
    code, out, _ = run(capsys, *query, "--color", "always", "--index-dir", str(index_dir))
    assert code == 0 and ANSI.sub("", out).startswith(f"{docs / 'faq.md'}:3: ")
    assert "\x1b[1;31mretry\x1b[0m" in out and "\x1b[1;31mdo\x1b[0m" not in out
    code, out, _ = run(
        capsys,
        "query",
        "the",
        "--mode",
        "lexical",
        "--color",
        "always",
        "--index-dir",
        str(index_dir),
    )
    assert code == 0 and "\x1b[1;31mthe\x1b[0m" in out  # a query of nothing else: looked for


def test_function_words_carry_no_bm25_weight(tmp_path, fake_model, capsys) -> None:
    # "how do I" are rare in a small index: a file with `for i in range` and "how" outranked,
    # lexically, the note that says what was asked.
    docs = write(
        tmp_path / "docs",
        {
            "retry.py": "# how it works\nfor i in range(5):\n    do_it(i)\n",
            "meeting.md": "# Decisions\n\n- Key rotation: rotate the keys every 30 days.\n",
            "other.md": "Nothing here about the keys we lost.\n",
        },
    )
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    args = ("--mode", "lexical", "--json", "--index-dir", str(index_dir))
    code, out, _ = run(capsys, "query", "how do I rotate the keys", *args)
    hits = json.loads(out)
    assert code == 0 and [Path(h["path"]).name for h in hits] == ["meeting.md", "other.md"]
    assert hits[0]["score"] > hits[1]["score"]  # "rotate" and "keys" against "keys"
    code, out, _ = run(capsys, "query", "how do I", *args)  # nothing else: those are searched
    assert code == 0 and [Path(h["path"]).name for h in json.loads(out)] == ["retry.py"]


def test_path_with_a_bang_leaves_out_what_it_matches(indexed, capsys) -> None:
    # ripgrep's -g '!*.md' habit: --path '!*.md' matched nothing ("no indexed document
    # matches"), and there was no way to leave files out of a query.
    docs, index_dir = indexed
    base = ("query", "wing", "-k", "10", "-l", "--index-dir", str(index_dir))
    everything = set(run(capsys, *base)[1].split())
    code, out, _ = run(capsys, *base, "--path", "!*.md")
    assert code == 0 and set(out.split()) == {p for p in everything if not p.endswith(".md")}
    code, out, _ = run(capsys, *base, "--path", "notes/", "--path", "!heat.md")
    assert code == 0 and set(out.split()) == {str(docs / "notes/wings.md")}
    code, _, err = run(capsys, *base, "--path", "!")
    assert code == 2 and "names nothing" in err


def test_an_interrupted_rebuild_leaves_the_index_as_it_was(indexed, capsys, monkeypatch) -> None:
    # --rebuild deleted the index first: one Ctrl-C left none, and the message promised that
    # the same command would continue (it deleted it again).
    docs, index_dir = indexed
    before = sorted(SearchIndex(index_dir).store.all_paths())

    class Interrupted(FakeEncoder):
        def embed_many(self, ids, *, batch_size: int = 32):
            raise KeyboardInterrupt

    use_encoder(monkeypatch, Interrupted(dim=32, max_length=64))
    code, _, err = run(capsys, "index", str(docs), "--rebuild", "--index-dir", str(index_dir))
    assert code == 130
    assert err.splitlines()[-1] == (
        "interrupted by Ctrl-C: the unfinished rebuild was deleted and the index is as it was "
        "before it (--rebuild starts over)"
    )
    assert sorted(SearchIndex(index_dir).store.all_paths()) == before
    assert not (index_dir / ".rebuild-in-progress").exists()  # the partial new index
    use_encoder(monkeypatch, FakeEncoder(dim=32, max_length=64))
    code, out, _ = run(capsys, "query", "wing", "-l", "--index-dir", str(index_dir))
    assert code == 0 and "wings.md" in out


def test_a_rebuild_killed_part_way_is_told_by_info_and_removed_by_the_next_index(
    indexed, capsys
) -> None:
    # `kill -9` during --rebuild left its new index in .rebuild-in-progress (a full copy of a
    # large index): neither `search index` nor `search info` said or removed it.
    docs, index_dir = indexed
    left = index_dir / ".rebuild-in-progress"
    SearchIndex(left, encoder=FakeEncoder(dim=32, max_length=64)).add([docs / "notes"])
    code, out, _ = run(capsys, "info", "--index-dir", str(index_dir))
    [row] = [line for line in out.splitlines() if line.startswith("rebuild bytes: ")]
    assert code == 0 and "in .rebuild-in-progress: a --rebuild under way, or stopped" in row
    assert run(capsys, "index", "--index-dir", str(index_dir))[0] == 0
    assert not left.exists()
    code, out, _ = run(capsys, "info", "--index-dir", str(index_dir))
    assert code == 0 and "rebuild bytes" not in out


def test_a_rebuild_replaces_the_index_under_a_reader_that_stays_open(indexed, capsys) -> None:
    docs, index_dir = indexed
    reader = SearchIndex(index_dir)
    assert len(reader.search("wing", k=10, mode="lexical")) == 2
    (docs / "notes/wings.md").unlink()
    write(docs, {"notes/kites.md": "Kites fly on a long line in a steady wind.\n"})
    code, _, err = run(capsys, "index", str(docs), "--rebuild", "--index-dir", str(index_dir))
    assert code == 0 and "4 added, 0 updated, 0 removed" in err
    assert err.splitlines()[-1] == (
        "the rebuilt index holds 4 documents; the index it replaced held 4"
    )
    fresh = FakeEncoder(dim=32, max_length=64)
    expected = SearchIndex(index_dir.parent / "fresh", encoder=fresh)
    expected.add([docs])
    for query in ("wing", "kites wind", "heat"):
        got = [(h.path, h.chunk_id) for h in reader.search(query, k=10, mode="hybrid")]
        want = [(h.path, h.chunk_id) for h in expected.search(query, k=10, mode="hybrid")]
        assert got == want, query
    assert not (index_dir / ".rebuild-in-progress").exists()
    # The summary's "0 removed" does not count what a rebuild of less leaves out: this does.
    code, _, err = run(
        capsys, "index", str(docs / "notes"), "--rebuild", "--index-dir", str(index_dir)
    )
    assert err.splitlines()[-1] == (
        "the rebuilt index holds 2 documents; the index it replaced held 4"
    )


def test_path_globs_repeat_and_take_braces_as_rg_reads_them(indexed, capsys) -> None:
    # A second --path replaced the first, and '*.{md,txt}' matched nothing, silently.
    docs, index_dir = indexed
    args = ("wing", "-l", "--mode", "lexical", "--index-dir", str(index_dir))
    _, both, _ = run(capsys, "query", *args, "--path", "*.md", "--path", "*.txt")
    _, braces, _ = run(capsys, "query", *args, "--path", "*.{md,txt}")
    _, md, _ = run(capsys, "query", *args, "--path", "*.md")
    _, txt, _ = run(capsys, "query", *args, "--path", "*.txt")
    names = {Path(p).name for p in both.split()}
    assert names == {"wings.md", "plan.txt"}
    assert sorted(both.split()) == sorted(braces.split()) == sorted(md.split() + txt.split())
    code, out, err = run(capsys, "query", *args, "--path", "*.rst", "--path", "x/{a,b}")
    assert (code, out) == (1, "")
    assert err == "no indexed document matches --path '*.rst' or 'x/{a,b}'\n"
    code, _, err = run(capsys, "query", *args, "--path", "notes/tab\\there.md")
    assert err == "no indexed document matches --path 'notes/tab\\there.md'\n"  # not \\\\
    # A paralegal's `--path Lease` and `--path 'lease*'` for Lease_221_Harbor_Street.docx:
    # the files whose names hold it, and a glob that matches them.
    for given, alike in (("WING", "*wing*"), ("Wings*", "wings*")):
        code, _, err = run(capsys, "query", *args, "--path", given)
        assert code == 1 and f"; --path '{alike}' matches " in err and "wings.md" in err, err
        code, out, _ = run(capsys, "query", *args, "--path", alike)
        assert code == 0 and "wings.md" in out
    code, _, err = run(capsys, "query", *args, "--path", "nothing*")
    assert err == "no indexed document matches --path 'nothing*'\n"
    code, _, err = run(capsys, "query", *args, "--path", "*.MD")  # as given, respelled
    assert "; --path '*.md' matches " in err, err


def test_a_path_named_alike_is_one_the_suggested_glob_matches(tmp_path) -> None:
    # A reviewer's: `--path Lease` suggested '*Lease*' and named Other/LEASE_UP.md, which
    # that glob does not match; `--path İstanbul` suggested '*İstanbul_*' ("İ" lowers to two
    # characters, and the name was sliced one off).
    files = write(
        tmp_path / "docs",
        {
            "Lease_221.docx.txt": "a\n",
            "Other/LEASE_UP.md": "b\n",
            "İstanbul_notes.md": "c\n",
            "Zoom interview Núñez.vtt": "d\n",
        },
    )
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder(dim=8))
    index.add([files])
    alike, found = index.named_alike("Lease")
    assert (alike, [Path(p).name for p in found]) == ("*Lease*", ["Lease_221.docx.txt"])
    alike, found = index.named_alike("istanbul")
    assert (alike, [Path(p).name for p in found]) == ("*İstanbul*", ["İstanbul_notes.md"])
    # ...accent-blind, as -F is (a journalist's '*Nunez*')
    alike, found = index.named_alike("*Nunez*")
    assert (alike, [Path(p).name for p in found]) == ("*Núñez*", ["Zoom interview Núñez.vtt"])
    index.close()


def test_include_and_remove_take_braces(tmp_path, fake_model, capsys) -> None:
    docs = write(tmp_path / "docs", {"a.md": "alpha\n", "b.txt": "beta\n", "c.rst": "gamma\n"})
    index_dir = tmp_path / "idx"
    args = ("--index-dir", str(index_dir))
    assert run(capsys, "index", str(docs), "--include", "*.{md,txt}", *args)[0] == 0
    assert {Path(p).name for p in indexed_paths(index_dir)} == {"a.md", "b.txt"}
    code, out, _ = run(capsys, "remove", "*.{md,rst}", *args)
    assert code == 0 and [Path(p).name for p in out.split()] == ["a.md"]


def test_eval_reads_relative_paths_in_qrels_and_warns_of_documents_not_indexed(
    indexed, capsys, tmp_path, monkeypatch
) -> None:
    # Relative paths in hand-written qrels scored as misses, with no word of why.
    docs, index_dir = indexed
    monkeypatch.chdir(docs)
    queries = tmp_path / "queries.tsv"
    queries.write_text("q1\twing lift\nq2\theat transfer\n", "utf-8")
    qrels = tmp_path / "qrels.tsv"
    args = ("eval", "--queries", str(queries), "--qrels", str(qrels), "--mode", "lexical")
    args += ("--json", "--index-dir", str(index_dir))
    qrels.write_text(f"q1\t{docs / 'notes/wings.md'}\t1\nq2\t{docs / 'notes/heat.md'}\t1\n")
    code, absolute_paths, err = run(capsys, *args)
    assert code == 0 and err == ""
    qrels.write_text("q1\tnotes/wings.md\t1\nq2\t./notes/heat.md\t1\n", "utf-8")
    code, relative_paths, err = run(capsys, *args)
    assert code == 0 and err == ""
    assert json.loads(relative_paths) == json.loads(absolute_paths)
    assert json.loads(absolute_paths)["lexical"]["ndcg@10"] > 0.5
    qrels.write_text(f"q1\t{docs / 'notes/wings.md'}\t1\nq2\tgone.md\t1\nq3\tx.md\t1\n")
    code, _, err = run(capsys, *args)
    assert code == 0  # q3 is not among the queries: its judgment is not counted
    assert err == (
        "warning: 1 of 2 relevant documents in the qrels are not in this index ('gone.md'); "
        "they count as misses in every score\n"
    )


def test_a_bare_rebuild_of_roots_with_other_filters_swaps_in_once_all_are_built(
    indexed, tmp_path, capsys, monkeypatch
) -> None:
    # The rebuild was swapped in after the first set of roots: stopped in the second, the
    # index had lost the others' documents and roots.
    docs, index_dir = indexed
    other = write(tmp_path / "other", {"g.md": "Gliders ride thermals.\n", "t.tmp": "x\n"})
    args = ("--index-dir", str(index_dir))
    assert (
        run(capsys, "index", str(other), "--exclude", "*.tmp", "--index-type", "hnsw", *args)[0]
        == 0
    )
    before = sorted(SearchIndex(index_dir).store.all_paths())
    roots_before = json.loads(run(capsys, "info", "--json", *args)[1])["roots"]
    calls = []

    class StopsInTheSecondRun(FakeEncoder):
        def embed_many(self, ids, *, batch_size: int = 32):
            if len(calls) == 2:
                raise KeyboardInterrupt
            return super().embed_many(ids, batch_size=batch_size)

    use_encoder(monkeypatch, StopsInTheSecondRun(dim=32, max_length=64))
    original = SearchIndex.add

    def counting_add(self, *a, **k):
        calls.append(a[0])
        return original(self, *a, **k)

    monkeypatch.setattr(SearchIndex, "add", counting_add)
    code, _, err = run(capsys, "index", "--rebuild", *args)
    assert code == 130 and len(calls) == 2, err
    assert "the unfinished rebuild was deleted and the index is as it was" in err
    assert sorted(SearchIndex(index_dir).store.all_paths()) == before
    assert json.loads(run(capsys, "info", "--json", *args)[1])["roots"] == roots_before
    monkeypatch.undo()
    use_encoder(monkeypatch, FakeEncoder(dim=32, max_length=64))
    code, _, err = run(capsys, "index", "--rebuild", *args)
    assert code == 0, err
    stats = json.loads(run(capsys, "info", "--json", *args)[1])
    assert (
        stats["roots"] == roots_before
        and sorted(SearchIndex(index_dir).store.all_paths()) == before
    )
    assert stats["index_type"] == "hnsw"  # kept, not reset to auto


def test_a_writer_opened_before_a_rebuild_writes_to_the_rebuilt_index(indexed, capsys) -> None:
    # `search watch` kept the old database open: its next batch wrote to the replaced file and
    # then failed on a closed connection.
    docs, index_dir = indexed
    watcher_index = SearchIndex(index_dir, encoder=FakeEncoder(dim=32, max_length=64))
    assert watcher_index.store.count_documents() == len(DOCS)
    assert run(capsys, "index", str(docs), "--rebuild", "--index-dir", str(index_dir))[0] == 0
    write(docs, {"notes/new.md": "A note written after the rebuild.\n"})
    report = watcher_index.add([docs / "notes/new.md"], as_roots=False)
    assert report.added == 1
    assert str(docs / "notes/new.md") in SearchIndex(index_dir).store.all_paths()


def test_a_reader_opened_before_a_rebuild_with_another_model_embeds_with_it(
    tmp_path, capsys, monkeypatch
) -> None:
    # `search serve` kept the old model's encoder: every query after `search index --rebuild
    # --model X` failed with "built with X, not all-MiniLM-L6-v2; rebuild it".
    from minilm import SentenceEncoder
    from minilm.numpy_encoder import NumpyEncoder

    encoders: dict[str, FakeEncoder] = {}

    def load(cls, name, *args, **kwargs):
        return encoders.setdefault(name, FakeEncoder(dim=32, max_length=64, name=name))

    for cls in (SentenceEncoder, NumpyEncoder):
        monkeypatch.setattr(cls, "from_pretrained", classmethod(load))
    docs = write(tmp_path / "docs", DOCS)
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    reader = SearchIndex(index_dir)
    assert reader.search("wing lift", k=1)
    code, _, err = run(
        capsys,
        "index",
        str(docs),
        "--rebuild",
        "--model",
        "paraphrase-MiniLM-L3-v2",
        "--index-dir",
        str(index_dir),
    )
    assert code == 0, err
    hits = reader.search("wing lift", k=1)
    assert hits and reader.load_query_encoder().name.endswith("paraphrase-MiniLM-L3-v2")


def test_a_rebuild_swapped_in_during_a_query_never_mixes_the_two_indexes(
    indexed, capsys, monkeypatch
) -> None:
    # The vectors came from the old index and the passages from the new one: a hit's path
    # and score were another passage's (chunk ids start over in a rebuilt database).
    docs, index_dir = indexed
    reader = SearchIndex(index_dir, encoder=FakeEncoder(dim=32, max_length=64))
    real = SearchIndex.open_vectors
    swapped = []

    def open_vectors(self):
        vectors = real(self)
        if self is reader and not swapped:  # the swap lands between vectors and passages
            swapped.append(True)
            code, _, err = run(
                capsys, "index", str(docs / "notes"), "--rebuild", "--index-dir", str(index_dir)
            )
            assert code == 0, err
        return vectors

    monkeypatch.setattr(SearchIndex, "open_vectors", open_vectors)
    query = "A plan for the wind tunnel tests"
    hits = reader.search(query, k=4, mode="dense")
    assert swapped
    fresh = SearchIndex(index_dir, encoder=FakeEncoder(dim=32, max_length=64))
    expected = fresh.search(query, k=4, mode="dense")
    assert [(h.path, h.text, round(h.cosine, 5)) for h in hits] == [
        (h.path, h.text, round(h.cosine, 5)) for h in expected
    ]


def test_a_pasted_page_looks_for_its_first_words_only() -> None:
    # 5,000 query words compiled 5,000 patterns and looked each up in SQLite (22 s a query).
    from searchapp.ranking.lexical import MAX_QUERY_TOKENS
    from searchapp.ranking.query_words import MAX_WORDS, query_words

    page = " ".join(f"word{n}" for n in range(5000))
    assert query_words(page) == [f"word{n}" for n in range(MAX_WORDS)]
    assert MAX_WORDS == MAX_QUERY_TOKENS  # as many as its lexical query uses


def refuse_to_list(monkeypatch, name: str) -> None:
    """Listing the folder called ``name`` fails as a folder without read permission does."""
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == name:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_a_folder_that_cannot_be_read_keeps_what_was_indexed_in_it(
    indexed, capsys, monkeypatch, tmp_path
) -> None:
    # Its files were taken for deleted: a brief permission glitch emptied the index there.
    from searchapp.interfaces.watch import Watcher

    docs, index_dir = indexed
    before = sorted(indexed_paths(index_dir))
    refuse_to_list(monkeypatch, "notes")
    code, _, err = run(capsys, "index", str(docs), "--index-dir", str(index_dir))
    assert code == 3 and "0 removed" in err, err
    # Named, as ripgrep names what it cannot read: the exit status 3 says why.
    assert f"skipped {docs / 'notes'}: cannot read folder: Permission denied\n" in err, err
    assert "--verbose lists them" not in err  # nothing else was skipped
    assert sorted(indexed_paths(index_dir)) == before
    watcher = Watcher(SearchIndex(index_dir, encoder=FakeEncoder(dim=32, max_length=64)), [docs])
    (docs / "drafts/plan.txt").write_text("The plan, edited while notes/ is unreadable.\n")
    report = watcher.apply({docs / "drafts/plan.txt"})
    assert (report.updated, report.removed) == (1, 0)
    assert report.skipped == [(str(docs / "notes"), "cannot read folder: Permission denied")]
    assert sorted(indexed_paths(index_dir)) == before


def test_files_that_cannot_be_read_are_named_without_verbose() -> None:
    """The other skips are counted on one line; a flood of read errors is cut at 20 names."""
    from rich.console import Console

    from searchapp.interfaces.cli_app import NAMED_READ_ERRORS, print_skipped

    def printed(skipped: list[tuple[str, str]]) -> list[str]:
        console = Console(file=io.StringIO(), width=300, color_system=None)
        print_skipped(console, skipped, verbose=False)
        return console.file.getvalue().splitlines()

    binary = [("/d/a.bin", "binary file"), ("/d/b.bin", "binary file")]
    denied = [("/d/x.txt", "cannot read: Permission denied")]
    assert printed(binary + denied) == [
        "skipped /d/x.txt: cannot read: Permission denied",
        "2 more files skipped (binary file: 2); --verbose lists them",  # not the one named
    ]
    many = [(f"/d/{n}.txt", "cannot read: Permission denied") for n in range(25)]
    lines = printed(binary + many)
    assert lines[:NAMED_READ_ERRORS] == [f"skipped /d/{n}.txt: {many[0][1]}" for n in range(20)]
    assert lines[NAMED_READ_ERRORS:] == [
        "27 files skipped (cannot read: Permission denied: 25, binary file: 2); --verbose lists "
        "them"
    ]
    # A skip that says what to do is named too when there are few: a scan to OCR was one count
    # among binary files, and found only with -v.
    scan = [("/d/scan.pdf", "no text layer; run OCR first")]
    lock = [("/d/uv.lock", "lock file (excluded by default; --no-default-excludes keeps it)")]
    assert printed(binary + scan + lock) == [
        "skipped /d/scan.pdf: no text layer; run OCR first",
        "3 more files skipped (binary file: 2, lock file: 1); --verbose lists them",
    ]
    # One of each reason before a second of any: five damaged Word files (the walk's order)
    # kept a PDF that needs a password from being named.
    broken = [(f"/d/{n}.docx", "damaged Word file; re-save it") for n in range(6)]
    locked = [("/d/z.pdf", "needs a password; decrypt it first")]
    lines = printed(broken + locked)
    assert lines[:2] == [f"skipped /d/0.docx: {broken[0][1]}", f"skipped /d/z.pdf: {locked[0][1]}"]
    assert len(lines) == 6 and lines[-1].startswith("7 files skipped (damaged Word file: 6, ")
    minified = [("/d/app.js", "minified or generated text; --no-default-excludes indexes it")]
    assert printed(scan + minified)[1:] == [
        "1 more file skipped (minified or generated text: 1); --verbose lists them"
    ]
    scans = [(f"/d/{n}.pdf", scan[0][1]) for n in range(6)]  # 5 named, all 6 counted
    assert printed(scans) == [
        *(f"skipped /d/{n}.pdf: no text layer; run OCR first" for n in range(5)),
        "6 files skipped (no text layer: 6); --verbose lists them",
    ]


def test_info_of_an_index_never_finished_says_so_not_none(tmp_path, capsys) -> None:
    # A first `search index` interrupted before its end: "last indexed at: None".
    Store.open(tmp_path / "idx", create=True).close()
    code, out, err = run(capsys, "info", "--index-dir", str(tmp_path / "idx"))
    assert code == 0, err
    assert "last indexed at: never (no `search index` has finished on it yet)" in out
    assert "None" not in out


def test_a_hit_in_a_file_changed_since_indexing_is_noted_without_context(
    tmp_path, fake_model, capsys
) -> None:
    # `vim -q <(search query ...)` went to a line that had moved, with no word of it (only -C,
    # which reads the file, said so).
    docs = write(tmp_path / "docs", {"a.txt": "glider wings\n", "b.txt": "glider tails\n"})
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    args = ["query", "glider", "-k", "2", "--mode", "lexical", "--index-dir", str(index_dir)]
    code, out, err = run(capsys, *args)
    assert code == 0 and len(out.splitlines()) == 2 and err == ""  # nothing changed
    (docs / "a.txt").write_text("new first line\nglider wings\n", "utf-8")
    (docs / "b.txt").unlink()
    code, out, err = run(capsys, *args)
    assert code == 0 and len(out.splitlines()) == 2
    notes = err.splitlines()
    assert len(notes) == 2, err
    assert any("a.txt changed since it was indexed: its lines may have moved" in n for n in notes)
    gone = [n for n in notes if "b.txt is gone since it was indexed" in n]
    assert gone and "lines may have moved" not in gone[0]  # a deleted file has no lines
    assert all(n.startswith("note: ") for n in notes)


def test_a_pasted_quote_no_passage_holds_is_read_as_words_with_a_warning(
    tmp_path, fake_model, capsys
) -> None:
    # `KeyError: "Config 'DATABASE_URL' is missing"` found nothing, exit 1, not a word why:
    # the source holds f"Config '{key}' is missing", and quotes made a phrase of the value.
    docs = write(
        tmp_path / "docs",
        {
            "config.py": "raise KeyError(f\"Config '{key}' is missing, and has no default.\")\n",
            "other.py": "print('nothing to see')\n",
        },
    )
    index_dir = str(tmp_path / "idx")
    assert run(capsys, "index", str(docs), "--index-dir", index_dir)[0] == 0
    pasted = "KeyError: \"Config 'DATABASE_URL' is missing, and has no default.\""
    for mode in ("lexical", "hybrid"):
        args = ["query", pasted, "-k", "1", "--mode", mode, "--index-dir", index_dir]
        code, out, err = run(capsys, *args)
        assert code == 0 and out.startswith(str(docs / "config.py")), (mode, out, err)
        assert err.startswith("warning: no passage holds \"Config 'DATABASE_URL' is missing"), err
        assert "as written; searching its words in any order instead" in err
    # A phrase that some passage holds still narrows, and says nothing.
    code, out, err = run(capsys, "query", '"has no default"', "-k", "5", "--index-dir", index_dir)
    assert code == 0 and len(out.splitlines()) == 1 and err == ""


def test_a_quoted_phrase_is_in_the_hits_snippet(tmp_path) -> None:
    # `"flat plate" heat transfer`: the line holding the phrase was long, and its cut went to
    # where "heat" and "transfer" gathered, so "flat plate" was never shown.
    filler = " ".join(f"word{i}" for i in range(60))
    text = f"a study of a flat plate in {filler} where the heat transfer coefficient rises"
    hit = Hit(1, 0.5, 0.5, "/p.txt", "/p.txt", 1, 1, 1, text, line=1)
    shown = LINE.match(hit_line(hit, '"flat plate" heat transfer coefficient'))["text"]
    assert "flat plate" in shown
    unquoted = LINE.match(hit_line(hit, "flat plate heat transfer coefficient"))["text"]
    assert "flat plate" not in unquoted  # the words gathered later: the cut as it was


def test_quiet_index_waits_for_the_lock_without_a_word(indexed, capsys) -> None:
    # -q printed "waiting for another `search index` to finish…" (and a `search watch` batch
    # held the lock then, not a `search index`).
    import fcntl
    import threading

    from searchapp.storage.lock import LOCK_NAME

    docs, index_dir = indexed
    (docs / "new.md").write_text("a note written while another writer held the lock\n")
    with open(index_dir / LOCK_NAME, "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        release = threading.Timer(1.0, fcntl.flock, (held.fileno(), fcntl.LOCK_UN))
        release.start()
        code, out, err = run(capsys, "index", str(docs), "--index-dir", str(index_dir), "-q")
        release.join()
    assert (code, out, err) == (0, "", "")
    assert str(docs / "new.md") in indexed_paths(index_dir)
    with open(index_dir / LOCK_NAME, "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        threading.Timer(1.0, fcntl.flock, (held.fileno(), fcntl.LOCK_UN)).start()
        code, _, err = run(capsys, "index", str(docs), "--index-dir", str(index_dir))
    assert code == 0
    assert "waiting for another `search index` or `search watch` to finish…" in err


def test_remove_says_it_waits_for_the_lock_or_fails_at_once(indexed, capsys) -> None:
    # `search remove` waited silently for a running `search index` (it looked hung), and had
    # no --no-wait.
    import fcntl
    import threading

    from searchapp.storage.lock import LOCK_NAME

    docs, index_dir = indexed
    target = str(docs / "notes/wings.md")
    with open(index_dir / LOCK_NAME, "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        code, out, err = run(capsys, "remove", target, "--no-wait", "--index-dir", str(index_dir))
        assert code == 2 and out == "" and len(err.splitlines()) == 1, err
        assert "error:" in err and target in indexed_paths(index_dir)
        threading.Timer(1.0, fcntl.flock, (held.fileno(), fcntl.LOCK_UN)).start()
        code, out, err = run(capsys, "remove", target, "--index-dir", str(index_dir))
    assert code == 0 and out.split() == [target]
    assert "waiting for another `search index` or `search watch` to finish…" in err
    assert target not in indexed_paths(index_dir)


def test_info_tells_of_files_a_stopped_run_left_in_part(tmp_path, fake_model, capsys, monkeypatch):
    # Searched as far as they went, they looked whole: `info` said nothing of them.
    from searchapp.ingest import pipeline, reading

    monkeypatch.setattr(reading, "PART_CHUNKS", 4)
    monkeypatch.setattr(pipeline, "WINDOW_CHUNKS", 4)
    docs = write(
        tmp_path / "docs",
        {"long.txt": "\n\n".join(" ".join(f"w{p}_{i}" for i in range(40)) for p in range(20))},
    )
    index_dir = tmp_path / "idx"

    def stop(count: int) -> None:
        raise OSError("the disk went away")

    with pytest.raises(OSError):
        SearchIndex(index_dir).add([docs], progress=Progress(on_chunks=stop))
    code, out, _ = run(capsys, "info", "--index-dir", str(index_dir))
    assert code == 0
    assert re.search(r"incomplete\s*: 1 file stored in part by a run that was stopped", out)
    assert f"finishes them): {docs / 'long.txt'}\n" in out  # which one
    shown = json.loads(run(capsys, "info", "--index-dir", str(index_dir), "--json")[1])
    assert shown["incomplete_documents"] == shown["incomplete_files"] == 1
    assert shown["incomplete_paths"] == [str(docs / "long.txt")]
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    code, out, _ = run(capsys, "info", "--index-dir", str(index_dir))
    assert "incomplete" not in out


def test_info_names_a_file_of_many_documents_left_in_part_once(tmp_path, fake_model, capsys):
    docs = write(
        tmp_path / "docs",
        {"corpus.jsonl": "".join(f'{{"_id": "r{i}", "text": "record {i}"}}\n' for i in range(8))},
    )
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    store = Store.open(index_dir, create=False)
    with store.db.conn:
        store.db.execute("UPDATE documents SET sha256 = NULL")  # as a stopped run leaves them
    store.close()
    shown = json.loads(run(capsys, "info", "--index-dir", str(index_dir), "--json")[1])
    assert shown["incomplete_documents"] == 8
    assert shown["incomplete_files"] == 1
    assert shown["incomplete_paths"] == [str(docs / "corpus.jsonl")]
    # a person is told of one file, and of the documents of it that are stored
    out = run(capsys, "info", "--index-dir", str(index_dir))[1]
    assert re.search(r"incomplete\s*: 1 file \(8 documents\) stored in part", out)
    assert "…" not in out


def test_an_interrupted_run_tells_embedded_and_reused_apart() -> None:
    # A watch restarted after a stop, then Ctrl-C: "480 chunks committed", all of them
    # stored again with the vectors the stopped run had embedded; this one embedded none.
    from searchapp.ingest.pipeline import IndexReport
    from searchapp.interfaces.render import interrupted_line

    line = interrupted_line(IndexReport(chunks=0, reused=480))
    assert line.startswith("interrupted: 0 chunks embedded, 480 reused and committed (0 files")
    line = interrupted_line(IndexReport(chunks=1, updated=1))
    assert line.startswith("interrupted: 1 chunk embedded and committed (1 file complete)")


def test_numpys_openblas_is_told_its_kernels_before_it_loads(tmp_path, monkeypatch, capsys) -> None:
    import minilm.cpuinfo

    monkeypatch.setattr(minilm.cpuinfo, "openblas_coretype", lambda: "SkylakeX")
    monkeypatch.setenv("OPENBLAS_CORETYPE", "unset below")  # restored after the test
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    missing = ["--index-dir", str(tmp_path / "none")]
    assert run(capsys, "info", *missing)[0] == 2
    assert os.environ["OPENBLAS_CORETYPE"] == "SkylakeX"
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")  # the user's own choice stays
    assert run(capsys, "info", *missing)[0] == 2
    assert os.environ["OPENBLAS_CORETYPE"] == "Haswell"
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    monkeypatch.setattr(minilm.cpuinfo, "openblas_coretype", lambda: None)
    assert run(capsys, "info", *missing)[0] == 2
    assert "OPENBLAS_CORETYPE" not in os.environ


def test_a_link_to_an_indexed_folder_is_said_to_index_its_files_twice(
    tmp_path, fake_model, capsys
) -> None:
    # `search index ~/notes-link` stored every note a second time, under the link's path,
    # and said nothing of it.
    notes = write(tmp_path / "notes", {"a.md": "about lighthouses\n", "sub/b.md": "harbours\n"})
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(notes), *index)[0] == 0
    (tmp_path / "link").symlink_to(notes)
    (tmp_path / "sublink").symlink_to(notes / "sub")
    code, _, err = run(capsys, "index", str(tmp_path / "link"), *index)
    assert code == 0
    assert (
        f"note: {tmp_path / 'link'} is {notes} through a link: its files are indexed under "
        f"both paths (a hit names one, the other under `also`); `search remove "
        f"{tmp_path / 'link'}` drops these"
    ) in err
    code, _, err = run(capsys, "index", str(tmp_path / "sublink"), *index)
    assert code == 0 and f"note: {tmp_path / 'sublink'} lies in {notes} through a link" in err
    code, _, err = run(capsys, "index", str(notes), *index)  # itself again: no note
    assert code == 0 and "through a link" not in err


def test_repl_notes_a_hits_file_that_changed_once(indexed, capsys) -> None:
    # `search query` said a hit's file had changed since it was indexed; the REPL did not.
    docs, index_dir = indexed
    with open(docs / "notes/wings.md", "a", encoding="utf-8") as note:
        note.write("a line added since it was indexed\n")
    code, out, err = run(
        capsys, "repl", "--index-dir", str(index_dir), stdin="wing lift\nwing lift\n:json\nwing\n"
    )
    assert code == 0 and "wings.md" in out
    said = f"note: {docs / 'notes/wings.md'} changed since it was indexed"
    assert err.count(said) == 1, err  # once a session for each state of the file
    repl = Repl(SearchIndex(index_dir), Console(file=io.StringIO()), err := Console(record=True))
    repl.handle("wing lift")
    with open(docs / "notes/wings.md", "a", encoding="utf-8") as note:
        note.write("and another, later\n")  # changed again: told again
    repl.handle("wing lift")
    assert err.export_text().count("changed since it was indexed") == 2


def test_a_cut_passage_with_its_marks_keeps_to_its_characters() -> None:
    # "… " and " …" came on top of the 240 characters of a lines output: 242-247.
    import random

    rng = random.Random(4)
    for _ in range(300):
        words = [
            "".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 12)))
            for _ in range(rng.randint(40, 200))
        ]
        at = rng.randrange(len(words))
        words[at] = "zanzibar"
        hit = Hit(1, 0.5, 0.5, "/a.txt", "/a.txt", 1, 1, 1, " ".join(words))
        text = LINE.match(hit_line(hit, "zanzibar"))["text"]
        assert len(text) <= 240 and "zanzibar" in text, text


def test_table_context_blocks_are_set_apart_by_a_blank_line(tmp_path) -> None:
    # With -C the whole passages after the table ran into the next block's head when the
    # file had no blank line there.
    from searchapp.search_index import Context

    hits = [
        Hit(1, 0.5, 0.5, "/k.md", "/k.md", 1, 10, 10, "line ten"),
        Hit(2, 0.4, 0.4, "/m.md", "/m.md", 2, 3, 3, "line three"),
    ]
    console = Console(file=open(tmp_path / "out.txt", "w"), width=120, emoji=False)
    print_results(
        console, hits, "line", output="table", context=lambda hit: Context(hit.start_line, hit.text)
    )
    console.file.close()
    lines = (tmp_path / "out.txt").read_text().splitlines()
    for head in ("/k.md:10-10", "/m.md:3-3"):
        assert lines[lines.index(head) - 1] == "", lines


def test_a_cut_passage_shows_the_query_words_it_was_cut_for() -> None:
    # The "…" marks took room the cut had planned for words: "heat" fell off the end of a
    # window chosen because it held "wing" and "heat".
    import random

    rng = random.Random(7)
    for _ in range(300):
        words = [
            "".join(rng.choice("abcdefg") for _ in range(rng.randint(1, 9))) for _ in range(90)
        ]
        at = rng.randrange(30, 60)
        words[at], words[at + rng.randint(1, 12)] = "wing", "heat"  # within the window
        hit = Hit(1, 0.5, 0.5, "/a.txt", "/a.txt", 1, 1, 1, " ".join(words))
        text = LINE.match(hit_line(hit, "heat transfer wing"))["text"]
        assert "wing" in text and "heat" in text and len(text) <= 240, text


def test_a_file_that_gave_most_of_a_runs_chunks_is_named(tmp_path, fake_model, capsys, monkeypatch):
    # A helper's home folder: a 1.3 MB log was 2,907 of 3,192 chunks, 90% of the first
    # run's minutes, and neither the bar nor the summary said which file it was.
    monkeypatch.setattr(pipeline, "HEAVY_FILE_CHUNKS", 20)
    monkeypatch.setattr(pipeline, "HEAVY_FILE_BYTES", 10_000)  # and said before the work too
    docs = write(tmp_path / "home", DOCS)
    log = "\n".join(
        f"12:00:{n % 60:02d} worker {n} retried the job queue {n * 7}" for n in range(400)
    )
    (docs / "logs").mkdir()
    (docs / "logs" / "app.log").write_text(log + "\n")
    index = ["--index-dir", str(tmp_path / "idx")]
    code, _, err = run(capsys, "index", str(docs), *index)
    assert code == 0
    before, line = [line for line in err.splitlines() if line.startswith("note:")]
    size = len(log) + 1
    assert before.startswith(f"note: {docs / 'logs' / 'app.log'} is {size / 1000:.1f} kB of the ")
    assert before.endswith(f"the line '/logs/app.log' in {docs / '.searchignore'} leaves it out")
    assert err.index(before) < err.index("added")  # before the run's summary
    stored = int(re.search(r"gave ([\d,]+) of", line)[1].replace(",", ""))
    total = int(re.search(r"of the ([\d,]+) chunks stored", line)[1].replace(",", ""))
    assert line.startswith(f"note: {docs / 'logs' / 'app.log'} gave ")
    assert stored >= 20 and total >= stored + len(DOCS) and 2 * stored >= total
    # Anchored in the folder indexed (a bare name matches in every folder).
    assert line.endswith(f"the line '/logs/app.log' in {docs / '.searchignore'} leaves it out")
    (docs / "notes" / "new.md").write_text("A new note about the wind tunnel.\n")
    code, _, err = run(capsys, "index", str(docs), *index)  # one small file: no note
    assert code == 0 and "note:" not in err and "1 added" in err
    # A Word file's bytes are mostly its images, not text to embed; a file named is wanted.
    (docs / "photos.docx").write_bytes(os.urandom(30_000))
    (docs / "notes" / "other.md").write_text("Another note.\n")
    code, _, err = run(capsys, "index", str(docs), *index)
    assert code == 0 and "photos.docx is" not in err, err
    (docs / "logs" / "app.log").write_text(log + "\nmore\n")
    (docs / "drafts" / "plan.txt").write_text("A new plan.\n")
    named = [str(docs / "logs" / "app.log"), str(docs / "drafts" / "plan.txt")]
    code, _, err = run(capsys, "index", *named, *index)
    assert code == 0 and "app.log is" not in err, err
    # A mailbox is its mail, mostly attachments: named for its chunks, not to be left out (a
    # helper's 1.3 GB Gmail export was, before and after the work).
    box = "".join(
        f"From - Mon Jan  6 10:00:00 2025\nSubject: site report {n}\n\n{log[n * 90 :][:400]}\n\n"
        for n in range(100)
    )
    (docs / "Inbox.mbox").write_text(box)
    (docs / "notes" / "third.md").write_text("A third note.\n")
    code, _, err = run(capsys, "index", str(docs), *index)
    [line] = [line for line in err.splitlines() if line.startswith("note:")]
    assert code == 0 and line.startswith(f"note: {docs / 'Inbox.mbox'} gave "), err
    assert line.endswith("chunks stored") and ".searchignore" not in err


def test_large_files_that_are_most_of_the_work_together_are_each_named_before_it(
    tmp_path, fake_model, capsys, monkeypatch
) -> None:
    # A data scientist's CSV (47%) and TSV (46%) were 97% of a 26-minute first index; neither
    # was half of it alone, so nothing was said before the work.
    monkeypatch.setattr(pipeline, "HEAVY_FILE_BYTES", 10_000)
    docs = write(tmp_path / "proj", DOCS)
    rows = "\n".join(f"C{n:07d},{n % 90},{n % 7}.5" for n in range(1000))
    (docs / "customers.csv").write_text(rows + "\n")
    (docs / "readings.tsv").write_text(rows.replace(",", "\t") + "\n")
    index = ["--index-dir", str(tmp_path / "idx")]
    code, _, err = run(capsys, "index", str(docs), *index)
    named = [line for line in err.splitlines() if " this run reads and embeds" in line]
    assert code == 0 and len(named) == 2, err
    assert {line.split(" is ")[0] for line in named} == {
        f"note: {docs / 'customers.csv'}",
        f"note: {docs / 'readings.tsv'}",
    }
    # One a walk skips as generated is not named (a translator's base64 line, at every run).
    (docs / "blob.txt").write_text("QUJD" * 40_000 + "\n")
    (docs / "new note.md").write_text("A new note on the readings.\n")
    code, _, err = run(capsys, "index", str(docs), *index)
    assert code == 0 and "blob.txt" not in "".join(
        line for line in err.splitlines() if "this run reads" in line
    ), err


def test_a_file_over_the_size_limit_is_no_part_of_the_work(
    tmp_path, fake_model, capsys, monkeypatch
) -> None:
    # Two helpers: a 63 MB log, skipped unread as over the limit, was named at every run as
    # most of what it "reads and embeds" (and counted in the progress), and the 4 MB log that
    # took five minutes was never named.
    from searchapp.ingest.limits import DEFAULT_MAX_BYTES

    monkeypatch.setattr(pipeline, "HEAVY_FILE_BYTES", 10_000)
    docs = write(tmp_path / "home", DOCS)
    log = "\n".join(f"12:00:{n % 60:02d} worker {n} retried the job {n * 7}" for n in range(400))
    (docs / "app.log").write_text(log + "\n")
    with open(docs / "huge.log", "wb") as huge:  # sparse: no disk taken
        huge.truncate(DEFAULT_MAX_BYTES + 1)
    index = ["--index-dir", str(tmp_path / "idx")]
    code, _, err = run(capsys, "index", str(docs), *index)
    assert code == 0 and "larger than the 50.0 MiB limit: 1" in err, err
    [before] = [line for line in err.splitlines() if " this run reads and embeds" in line]
    assert before.startswith(f"note: {docs / 'app.log'} is "), before
    (docs / "notes" / "new.md").write_text("A new note about the wind tunnel.\n")
    code, _, err = run(capsys, "index", str(docs), *index)  # the big file still there
    assert code == 0 and "reads and embeds" not in err and "1 added" in err, err


def test_context_lines_never_show_a_private_key(tmp_path, fake_model, capsys) -> None:
    # `search query -C` read the lines the index had blanked from the file: the key came back.
    key = "MIIEowIBAAKCAQEAu1SUSecretMaterialThatMustNotBeShownAnywhere0123456789"
    note = (
        "# deploy notes\n\n-----BEGIN RSA PRIVATE KEY-----\n"
        f"{key}\n{key[::-1]}\n-----END RSA PRIVATE KEY-----\n\n"
        "Remember to rotate the staging deploy key.\n"
    )
    docs = write(tmp_path / "docs", {"notes.md": note})
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    for args in (["-C", "6"], ["--format", "table", "-C", "6"], ["--json"]):
        code, out, err = run(capsys, "query", "rotate the staging deploy key", *args, *index)
        assert code == 0 and "rotate" in out, err
        assert key not in out and key[::-1] not in out, out
    code, out, _ = run(capsys, "get", str(docs / "notes.md"), *index)
    assert code == 0 and key not in out and "-----BEGIN RSA PRIVATE KEY-----" in out


def test_context_shows_front_matter_as_written(tmp_path, fake_model, capsys) -> None:
    # Values indexed as words (no brackets, no quotes) made -C fall back to the indexed lines.
    note = (
        '---\ntitle: "Postfix relay"\ntags: [postfix, smtp relay]\nlayout: post\n---\n\n'
        "# Relay\n\nConfigure the smarthost for outgoing mail.\n"
    )
    docs = write(tmp_path / "fm", {"n.md": note})
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    code, out, _ = run(capsys, "query", "smarthost outgoing mail", "-C", "8", *index)
    assert code == 0
    assert 'title: "Postfix relay"' in out and "tags: [postfix, smtp relay]" in out, out
    assert "layout: post" in out


def test_get_prints_front_matter_as_written(tmp_path, fake_model, capsys) -> None:
    # An Obsidian user's `search get` (and MCP's get_document) gave the front matter as bare
    # values, `date:`, `attendees:` and `status:` gone: the index holds some values alone.
    note = (
        "---\ntitle: Weekly sync\ndate: 2026-11-03\nattendees: [Tom, Anna Weber]\n"
        "status: done\ntags: [meeting, q4]\n---\n\n# Weekly sync\n\nShipped the relay.\n"
    )
    docs = write(tmp_path / "vault", {"sync.md": note, "plain.md": "# Plain\n\n\tindented\n"})
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    code, out, _ = run(capsys, "get", str(docs / "sync.md"), *index)
    assert code == 0 and out == note, out
    code, out, _ = run(capsys, "get", str(docs / "sync.md"), "--lines", "2-4", *index)
    assert (
        code == 0 and out == "title: Weekly sync\ndate: 2026-11-03\nattendees: [Tom, Anna Weber]\n"
    )
    # A note of front matter alone (a person's, a book's), as written too.
    person = "---\naliases: [Anna]\ncreated: 2024-01-01\n---\n"
    (docs / "person.md").write_text(person, "utf-8")
    assert run(capsys, "index", str(docs), *index)[0] == 0
    assert run(capsys, "get", str(docs / "person.md"), *index)[1] == person
    # The body edited since (its size too): the indexed text, as before.
    (docs / "sync.md").write_text(note.replace("relay", "relay and the queue"), "utf-8")
    code, out, _ = run(capsys, "get", str(docs / "sync.md"), *index)
    assert code == 0 and "date:" not in out and "Shipped the relay." in out


def test_get_finds_a_notion_page_by_its_title_and_leaves_a_copy_to_its_original(
    tmp_path, fake_model, capsys
) -> None:
    # A product manager's trial: `search get "[[Q3 Roadmap]]"` was "not an indexed document"
    # (Notion names the file `Q3 Roadmap <32 hex>.md`), and the export unpacked twice, a name
    # both copies have would be named as ambiguous.
    page = "Team 6513270e269e0d37f2a74de452e6b438/Q3 Roadmap d23f0824128b2f330c5c7fd0a6a3a450.md"
    files = {page: "# Q3 Roadmap\n\nSunset Android v4.\n", "Onboarding.md": "# Onboarding\n"}
    docs = write(
        tmp_path / "docs",
        {f"Export{copy}/{name}": text for name, text in files.items() for copy in ("", " (1)")},
    )
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    for key in ("[[Q3 Roadmap]]", "Q3 Roadmap", "q3 roadmap", "Onboarding", "[[Onboarding]]"):
        code, out, err = run(capsys, "get", key, *index)
        assert code == 0 and out.startswith(("# Q3 Roadmap\n", "# Onboarding\n")), (key, err)
    assert run(capsys, "get", "[[Q3 Roadmap]]", *index)[1] == "# Q3 Roadmap\n\nSunset Android v4.\n"
    code, _, err = run(capsys, "get", "[[Q3]]", *index)  # a title's start names no page
    assert code == 2 and "'Q3' is not an indexed document" in err
    # A reviewer's: a copy's folder, but another document: still two documents of the name
    write(docs, {"Drafts (1)/plan.md": "# Plan A\n", "proj/plan.md": "# Plan B\n"})
    assert run(capsys, "index", str(docs), *index)[0] == 0
    code, _, err = run(capsys, "get", "plan.md", *index)
    assert code == 2 and "2 indexed documents are named 'plan.md'" in err
    (docs / "Export" / "Onboarding.md").unlink()  # the copy alone has it now
    assert run(capsys, "index", str(docs), *index)[0] == 0
    assert run(capsys, "get", "Onboarding", *index)[:2] == (0, "# Onboarding\n")


def test_get_finds_a_note_by_its_title_and_a_record_by_its_files_name(
    tmp_path, fake_model, capsys, monkeypatch
) -> None:
    # A second trial: `[[Bike lock]]` (a Keep note), `[[Last two weeks]]` (an Evernote note)
    # and `Work Log.enex #2` from another folder were "not an indexed document", and
    # `[[Interview - Globex]]` typed with a hyphen missed `Interview – Globex.md`.
    from tests.searchapp.ingest.test_formats_enex import export, note

    docs = write(tmp_path / "docs", {"Notion/Interview – Globex.md": "# Globex\n\nSSO: $30k.\n"})
    keep = '{"isTrashed": false, "title": "Bike lock", "textContent": "Code 4-1-7-7"}'
    write(docs, {"Takeout/Keep/2023-11-14T10_00_00.json": keep})
    work = docs / "Evernote" / "Work Log.enex"
    work.parent.mkdir()
    work.write_bytes(
        export(
            note("Recruiters", "<div>Dana.</div>"),
            note("Last two weeks", "<div>Hand over billing.</div>"),
        )
    )
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    monkeypatch.chdir(tmp_path)
    for key, start in [
        ("[[Bike lock]]", "Bike lock\n"),
        ("bike LOCK", "Bike lock\n"),
        ("[[Last two weeks]]", "Last two weeks\n"),
        ("Work Log.enex #2", "Last two weeks\n"),
        ("Work Log.enex#1", "Recruiters\n"),
        ("[[Interview - Globex]]", "# Globex\n"),
    ]:
        code, out, err = run(capsys, "get", key, *index)
        assert code == 0 and out.startswith(start), (key, err)
    code, _, err = run(capsys, "get", "Work Log.enex #3", *index)
    assert code == 2 and "not an indexed document" in err
    code, _, err = run(capsys, "get", "[[Bike]]", *index)  # a title's start names none
    assert code == 2 and "not an indexed document" in err
    # two notes of one title: each named as `NAME #N` takes it (a reviewer's: the file twice)
    twice = docs / "Evernote" / "Twice.enex"
    twice.write_bytes(export(note("Standup", "<div>Mon</div>"), note("Standup", "<div>Tue</div>")))
    assert run(capsys, "index", str(docs), *index)[0] == 0
    code, _, err = run(capsys, "get", "[[Standup]]", *index)
    assert code == 2 and f"({twice} #1, {twice} #2); give one as named here" in err, err


def test_get_finds_a_path_in_an_indexed_folder_or_a_name_one_document_has(
    tmp_path, fake_model, capsys, monkeypatch
) -> None:
    # An Obsidian user's agent (MCP's get_document, its server run from `/`) named a note
    # `People/Anna Weber.md` or `Anna Weber`: "not an indexed document".
    vault = write(
        tmp_path / "vault",
        {
            "People/Anna Weber.md": "# Anna Weber\n\nWorks on the relay.\n",
            "Daily/notes.md": "# Monday\n",
            "Work/notes.md": "# Work\n",
            "todo.txt": "buy milk\n",
        },
    )
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(vault), *index)[0] == 0
    monkeypatch.chdir("/")
    for key in ("People/Anna Weber.md", "./People/Anna Weber.md", "Anna Weber.md", "Anna Weber"):
        code, out, err = run(capsys, "get", key, *index)
        assert (code, out) == (0, "# Anna Weber\n\nWorks on the relay.\n"), (key, err)
    assert run(capsys, "get", "todo.txt", *index)[1] == "buy milk\n"
    assert run(capsys, "get", "Daily/notes.md", *index)[1] == "# Monday\n"
    code, out, err = run(capsys, "get", "notes.md", *index)  # two documents have the name
    assert code == 2 and out == "" and "2 indexed documents are named 'notes.md'" in err
    assert f"{vault}/Daily/notes.md" in err and f"{vault}/Work/notes.md" in err
    code, _, err = run(capsys, "get", "Nobody", *index)
    assert code == 2 and "'Nobody' is not an indexed document" in err
    # A path the hits table cut to fit, pasted (a paralegal's `…/Services_Agreement.docx:5`
    # was "not an indexed document").
    code, out, _ = run(capsys, "get", "…/People/Anna Weber.md:3", *index)
    assert (code, out) == (0, "# Anna Weber\n\nWorks on the relay.\n")  # its passage
    assert run(capsys, "get", "…ople/Anna Weber.md", *index)[1].startswith("# Anna Weber")
    code, _, err = run(capsys, "get", "…/notes.md", *index)
    assert code == 2 and "is the end of several indexed paths" in err
    assert run(capsys, "get", "Work/…/notes.md", *index)[1] == "# Work\n"  # its start too
    assert run(capsys, "get", f"{vault.name}/…/notes.md:1", *index)[0] == 2  # still two
    # Never a file outside the index, whatever the path climbs to.
    code, _, err = run(capsys, "get", "../../../etc/passwd", *index)
    assert code == 2 and "root:" not in err
    # A reviewer's: a name with a dot in it; a record's id comes before a file's name; a
    # relative path two indexed folders hold is named as ambiguous.
    other = write(
        tmp_path / "other",
        {
            "Dr. Smith.md": "# Dr. Smith\n",
            "People/Anna Weber.md": "# The other Anna\n",
            "recs.jsonl": '{"_id": "todo", "text": "the record"}\n',
        },
    )
    assert run(capsys, "index", str(other), *index)[0] == 0
    assert run(capsys, "get", "Dr. Smith", *index)[1] == "# Dr. Smith\n"
    assert run(capsys, "get", "todo", *index)[1] == "the record\n"
    code, _, err = run(capsys, "get", "People/Anna Weber.md", *index)
    assert code == 2 and "2 indexed documents are named 'People/Anna Weber.md'" in err


def test_get_takes_an_obsidian_link_and_gives_its_section(
    tmp_path, fake_model, capsys, monkeypatch
) -> None:
    # An Obsidian user pasted a link from a note ("[[anna weber#projects]]"): "not an indexed
    # document". Obsidian names a note without its .md and in any case, and a heading after #.
    note = (
        "---\ntitle: Anna\n---\n# Anna Weber\n\nWorks on the relay.\n\n## Projects\n\n"
        "Relay and queue.\n\n### Old\n\nThe cache.\n\n## Contact\n\nanna@example.com\n"
    )
    vault = write(
        tmp_path / "vault",
        {
            "People/Anna Weber.md": note,
            "Daily/a.md": "# A\n",
            "Über.md": "# Über\n",
            "Resume.md": "# Resume\n",
            "Résumé.md": "# Résumé\n",
            "README": "plain readme\n",
            "README.md": "# Readme\n",
        },
    )
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(vault), *index)[0] == 0
    for key in ("[[Anna Weber]]", "![[anna weber|Anna]]", "[[People/Anna Weber#^b1]]"):
        code, out, err = run(capsys, "get", key, *index)
        assert (code, out) == (0, note), (key, err)
    for key in ("anna weber", "people/anna weber", "People/Anna Weber"):
        assert run(capsys, "get", key, *index)[1] == note, key
    projects = "## Projects\n\nRelay and queue.\n\n### Old\n\nThe cache.\n"
    for key in ("[[anna weber#projects]]", "[[Anna Weber#Anna Weber#Projects|see]]"):
        assert run(capsys, "get", key, *index)[1] == projects, key
    assert run(capsys, "get", "[[Anna Weber#Old]]", *index)[1] == "### Old\n\nThe cache.\n"
    code, out, _ = run(capsys, "get", "[[Anna Weber#Contact]]", "-n", *index)
    assert out.splitlines()[0].startswith(f"{note.splitlines().index('## Contact') + 1}:")
    assert out.rstrip().endswith("anna@example.com")
    code, out, err = run(capsys, "get", "[[Anna Weber#Nope]]", *index)
    assert code == 2 and out == "" and "has no heading 'Nope'" in err
    assert str(vault / "People" / "Anna Weber.md") in err  # the note looked in
    code, _, err = run(capsys, "get", "[[#Projects]]", *index)
    assert code == 2 and "names no note" in err
    # Lines within its section: the rest of a long one (MCP's next_start_line).
    code, out, _ = run(capsys, "get", "[[Anna Weber#Projects]]", "--lines", "12-", *index)
    assert (code, out) == (0, "### Old\n\nThe cache.\n")
    code, _, err = run(capsys, "get", "[[Anna Weber#Projects]]", "--lines", "1-2", *index)
    assert code == 2 and "lines 1-2 are outside the section" in err and "(lines 8-14)" in err
    # Obsidian leaves ":" out of a link to "## Q&A: notes"; a PDF's page is --page's.
    (vault / "Fmt.md").write_text("# Fmt\n\n## Q&A: notes\n\nAsked.\n\n## Next\n")
    assert run(capsys, "index", str(vault), *index)[0] == 0
    assert run(capsys, "get", "[[Fmt#Q&A notes]]", *index)[1] == "## Q&A: notes\n\nAsked.\n"
    code, _, err = run(capsys, "get", "[[Fmt#page=2]]", *index)
    assert code == 2 and "give --page" in err
    code, _, err = run(capsys, "get", "[[Nobody]]", *index)
    assert code == 2 and "'Nobody' is not an indexed document" in err
    # A reviewer's: a name in another case beyond ASCII's; a name a file has as given comes
    # before one with .md (`README` was "2 indexed documents are named 'README'").
    assert run(capsys, "get", "[[über]]", *index)[1] == "# Über\n"
    assert run(capsys, "get", "[[uber]]", *index)[1] == "# Über\n"  # as a query reads it
    # ...and accents are only left out where nothing has the name with them (a reviewer's).
    assert run(capsys, "get", "[[résumé]]", *index)[1] == "# Résumé\n"
    assert run(capsys, "get", "[[resume]]", *index)[1] == "# Resume\n"
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "get", "README", *index)[1] == "plain readme\n"
    assert run(capsys, "get", "[[readme]]", *index)[1] == "plain readme\n"


def test_get_takes_a_hit_as_it_is_printed(tmp_path, fake_model, capsys) -> None:
    # `search get rich/table.py:422` (what a hit prints, and rg's path:line:column) was "not an
    # indexed document": the passage that holds the line is printed.
    lines = [f"line {n} of the guide about topic{n}" for n in range(1, 301)]
    docs = write(tmp_path / "docs", {"guide.txt": "\n".join(lines) + "\n"})
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    store = Store.open(tmp_path / "idx", create=False)
    passages = store.rows("SELECT start_line, end_line FROM chunks ORDER BY start_line")
    assert len(passages) > 3  # the file is several passages
    # As rg prints it too, and with the colon after it that a double click selects.
    for named in (f"{docs}/guide.txt:150", f"{docs}/guide.txt:150:7", f"{docs}/guide.txt:150:"):
        code, out, _ = run(capsys, "get", named, *index)
        first = int(out.split()[1])  # "line N of ..."
        shown = out.splitlines()
        assert code == 0 and shown == lines[first - 1 : first - 1 + len(shown)]
        assert (first, first + len(shown) - 1) in passages and first <= 150 < first + len(shown)
    code, _, err = run(capsys, "get", f"{docs}/nope.txt:3", *index)
    assert code == 2 and "nope.txt:3' is not an indexed document" in err
    code, out, err = run(capsys, "get", f"{docs}/guide.txt:0", *index)  # printed "", 0
    assert code == 2 and out == "" and "lines are counted from 1" in err
    code, out, err = run(capsys, "get", f"{docs}/guide.txt:5", "--lines", "1-2", *index)
    assert code == 2 and out == "" and "guide.txt:5 or --lines, not both" in err, err
    code, out, err = run(capsys, "get", f"{docs}/guide.txt:5", "--page", "1", *index)
    assert code == 2 and out == "" and "guide.txt:5 or --page, not both" in err, err
    code, out, err = run(capsys, "get", f"{docs}/nope.txt:5", "--lines", "1-2", *index)
    assert code == 2 and "nope.txt:5' is not an indexed document" in err, err


def test_get_of_a_line_of_code_prints_the_function_holding_it(tmp_path, fake_model, capsys) -> None:
    # `search get requests/adapters.py:634` printed the passage holding the line: the signature
    # and a docstring's first line, 10 lines of a 115-line method.
    body = "".join(f"        step_{n} = compute({n})  # the {n}th step\n" for n in range(120))
    source = (
        "import os\n\n\nclass Adapter:\n    @classmethod\n    def send(\n        cls,\n"
        "        request,\n    ) -> None:\n" + body + "\n    def close(self):\n        pass\n"
    )
    docs = write(tmp_path / "docs", {"adapter.py": source})
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    lines = source.split("\n")
    send = lines.index("    @classmethod") + 1
    last = max(n for n, line in enumerate(lines, 1) if "step_119" in line)
    code, out, _ = run(capsys, "get", f"{docs}/adapter.py:100", "-n", *index)
    assert code == 0
    shown = out.splitlines()
    assert shown[0] == f"{send}:    @classmethod" and shown[-1] == f"{last}:{lines[last - 1]}"
    # At the top level, the passage as before.
    code, out, _ = run(capsys, "get", f"{docs}/adapter.py:1", *index)
    assert code == 0 and out.startswith("import os\n") and "def close" not in out


def test_get_of_a_doc_comment_prints_it_with_its_definition(tmp_path, fake_model, capsys) -> None:
    # A Go developer's `search get tx.go:12`, the doc comment above `func WithTx`, printed the
    # file from its copyright line; a comment at the top is still its passage.
    source = (
        '// Copyright 2024 Acme Inc.\n\npackage repo\n\nimport "fmt"\n\n'
        "// WithTx runs fn in a transaction,\n// rolling back on error.\n"
        "func (db *DB) WithTx(fn func() error) error {\n\treturn fn()\n}\n\n"
        "func other() {}\n"
    )
    docs = write(tmp_path / "docs", {"tx.go": source})
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    for line in (7, 8):
        code, out, _ = run(capsys, "get", f"{docs}/tx.go:{line}", "-n", *index)
        assert code == 0 and out.splitlines()[0] == "7:// WithTx runs fn in a transaction,"
        assert out.splitlines()[-1] == "11:}", out
    code, out, _ = run(capsys, "get", f"{docs}/tx.go:1", *index)
    assert code == 0 and out.startswith("// Copyright 2024")


def test_get_of_a_line_of_typescript_prints_the_arrow_function_or_method(
    tmp_path, fake_model, capsys
) -> None:
    # A TypeScript developer's `search get rateLimiter.ts:22` inside `export const rateLimit =
    # (opts) => {` began at an interface above it and ended mid-`if`; inside `async
    # cancelOrder` it ran into the next method: neither was read as a definition.
    checks = "".join(
        f"    if (count > opts.max + {n}) {{\n      return deny({n});\n    }}\n" for n in range(12)
    )
    source = (
        "interface Opts {\n  max: number;\n}\n\nexport const rateLimit = (opts: Opts) => {\n"
        "  const hits = new Map<string, number>();\n  return (req: Req) => {\n"
        "    const count = hits.get(req.ip) ?? 0;\n" + checks + "    return allow();\n  };\n};\n\n"
        "export class Orders {\n  async cancelOrder(id: string): Promise<void> {\n"
        "    await this.db.delete(id);\n    this.log.info(`cancelled ${id}`);\n  }\n\n"
        "  async refund(id: string) {\n    await this.payments.refund(id);\n  }\n}\n"
    )
    docs = write(tmp_path / "docs", {"rateLimiter.ts": source})
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    lines = source.split("\n")
    deny = next(n for n, line in enumerate(lines, 1) if "deny(6)" in line)
    code, out, _ = run(capsys, "get", f"{docs}/rateLimiter.ts:{deny}", *index)
    assert code == 0
    assert out.startswith("export const rateLimit = ") and out.rstrip().endswith("};"), out
    assert "interface Opts" not in out and "class Orders" not in out
    cancel = next(n for n, line in enumerate(lines, 1) if "this.db.delete" in line)
    code, out, _ = run(capsys, "get", f"{docs}/rateLimiter.ts:{cancel}", *index)
    assert code == 0
    assert out.lstrip().startswith("async cancelOrder(") and "refund" not in out, out


def test_a_snippet_shows_a_quoted_flag_as_written() -> None:
    # The snippet of `"--verbose"` showed where `log.verbose(` gathered, not the flag.
    from searchapp.interfaces.render import _snippet

    text = (
        "def setup(parser): "
        + "log.verbose('starting the verbose setup of things') " * 6
        + "parser.add_argument('--verbose', action='store_true') "
        + "x = 1 " * 30
    )
    assert "'--verbose'" in _snippet(text, 0, '"--verbose"', 120)


def test_a_long_code_section_is_cut_between_its_names() -> None:
    # The table showed "§ …sole.render_lines" for Console.render_lines.
    from searchapp.interfaces.render import _shortened

    assert _shortened("Console.render_lines", 18) == "…render_lines"
    assert _shortened("Install > Linux > Debian systems", 18) == "… > Debian systems"
    assert _shortened("Console.print", 18) == "Console.print"
    # A paralegal's "§ …t > Deadlines" for "Case notes – Pinecone / Harbor Street > Deadlines":
    # the first headings go whole.
    path = "Case notes – Pinecone / Harbor Street > Visits > Deadlines"
    assert _shortened(path, 24) == "… > Visits > Deadlines"
    assert _shortened(path, 16) == "… > Deadlines"


def test_a_section_beginning_with_a_section_sign_is_not_marked_twice(tmp_path) -> None:
    # A German contract's heading "§ 4 Kündigung" was shown "§ § 4 Kündigung".
    text = "Die Kündigungsfrist beträgt drei Monate."
    hit = Hit(1, 0.5, 0.5, "/v.md", "/v.md", 1, 1, 1, text, section="§ 4 Kündigung")
    other = replace(hit, path="/w.md", doc_id="/w.md", section="Vertrag > Fristen")
    for width in (200, 60):  # a table, and hits listed one under another
        console = Console(file=open(tmp_path / "t.txt", "w"), width=width, emoji=False)
        print_results(console, [hit, other], "Kündigungsfrist", output="table")
        console.file.close()
        shown = (tmp_path / "t.txt").read_text()
        assert "§ 4 Kündigung" in shown and "§ §" not in shown, shown
        assert "§ Vertrag > Fristen" in shown, shown


def test_a_long_path_keeps_its_first_folder_and_those_nearest_the_file() -> None:
    # A paralegal's and a Go developer's trials: "…ery LLC/Lease 1420 Harbor St/Lease v1.docx"
    # lost the client's name, "…ithub.com/go-chi/chi/v5/middleware/retry.go" its `vendor/`.
    from searchapp.interfaces.render import shortened_path

    lease = "Clients/Harbor Street Bakery LLC/Lease 1420 Harbor St/Lease v1.docx:57"
    assert shortened_path(lease, 80) == lease
    assert shortened_path(lease, 50) == "Clients/…/Lease 1420 Harbor St/Lease v1.docx:57"
    assert shortened_path(lease, 40) == "Clients/…/Lease v1.docx:57"
    vendored = "vendor/github.com/go-chi/chi/v5/middleware/retry.go:3"
    assert shortened_path(vendored, 45) == "vendor/…/go-chi/chi/v5/middleware/retry.go:3"
    assert shortened_path("/tmp/trial/a/b/c/d/file.md:12", 24) == "/tmp/…/b/c/d/file.md:12"
    assert shortened_path("a/b/c.md:1", 9) == "…b/c.md:1"  # no room for its first folder
    assert shortened_path("a/b.md:1", 5) == "…/b.md:1"  # the file name whole, however long


def test_fixed_strings_finds_only_passages_holding_the_query(
    tmp_path, fake_model, capsys, monkeypatch
) -> None:
    # A C++ developer's script: `search query '"secret_build_artifact_marker"'` that nothing
    # holds printed unrelated hits and exit 0, and `-l NAME` listed files without NAME.
    docs = write(
        tmp_path / "src",
        {
            "config.py": "def parse_config(path):\n    return load(path)\n",
            "main.py": "cfg = parse_config('app.toml')\n",
            "notes.md": "How the config is parsed and loaded at start.\n",
            "other.md": "We parse config files; see parse-config.\n",  # not as written
            "app.log": "Traceback  (most recent call last):\n  File x\n",
            # A word processor's marks (a paralegal's trial: -F missed every Word file).
            "lease.txt": "Not without the Landlord’s prior consent (the “Deposit”), 2019–2020.\n",
        },
    )
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    monkeypatch.chdir(docs)
    code, out, _ = run(capsys, "query", "-F", "parse_config", "-l", *index)
    assert code == 0 and sorted(out.splitlines()) == ["config.py", "main.py"]
    code, out, err = run(capsys, "query", "config", "-l", *index)
    assert "notes.md" in out.splitlines()  # without -F: its neighbours too
    code, out, err = run(capsys, "query", "--fixed-strings", "secret_marker", *index)
    assert (code, out) == (1, "") and "in any order" not in err
    code, out, err = run(capsys, "query", "-F", '"', *index)
    assert code == 2 and "has no letters or digits to search for" in err
    # A reviewer's: a traceback's header (read as no phrase in a pasted traceback) is held too.
    code, out, _ = run(capsys, "query", "-F", "traceback (most recent call last)", "-l", *index)
    assert (code, out) == (0, "app.log\n")
    for typed in ("Landlord's prior consent", 'the "Deposit"', "2019-2020"):
        code, out, _ = run(capsys, "query", "-F", typed, "-l", *index)
        assert (code, out) == (0, "lease.txt\n"), typed
    code, out, _ = run(capsys, "query", "-F", "Landlords prior", "-l", *index)
    assert code == 1
    # ß as ss, as a quoted phrase reads it (a translator's `-F STRASSE` missed "Straße").
    (docs / "berlin.md").write_text("Wir wohnen in der Goethestraße 12.\n", "utf-8")
    assert run(capsys, "index", str(docs), *index)[0] == 0
    for typed in ("Goethestrasse 12", "GOETHESTRASSE", "goethestraße"):
        code, out, _ = run(capsys, "query", "-F", typed, "-l", *index)
        assert (code, out) == (0, "berlin.md\n"), typed
    # Greek without its accents, in either case, and ё as е (a paralegal's `-F ελλαδα` and
    # `ΕΛΛΑΔΑ` found nothing of "Ελλάδα"; a translator's "мед" no "мёд").
    (docs / "symvasi.md").write_text("Το ακίνητο βρίσκεται στην Ελλάδα.\n", "utf-8")
    (docs / "med.md").write_text("Купили мёд на рынке.\n", "utf-8")
    assert run(capsys, "index", str(docs), *index)[0] == 0
    for typed in ("ελλαδα", "ΕΛΛΑΔΑ", "στην Ελλάδα", "βρισκεται"):
        code, out, _ = run(capsys, "query", "-F", typed, "-l", *index)
        assert (code, out) == (0, "symvasi.md\n"), typed
        code, out, _ = run(capsys, "query", typed, "--mode", "lexical", "-l", *index)
        assert (code, out) == (0, "symvasi.md\n"), typed
    code, out, _ = run(capsys, "query", "-F", "мед", *index)
    assert code == 0 and out.startswith("med.md:1:") and "мёд" in out
    # Accents aside, as a quoted phrase reads it (`-F Kundigung` and `-F Muller` found no
    # "Kündigung", no "Müller": a paralegal's and a data analyst's trials).
    (docs / "mietvertrag.md").write_text("Die Kündigung durch Jürgen Müller, Łódź.\n", "utf-8")
    assert run(capsys, "index", str(docs), *index)[0] == 0
    for typed in ("Kundigung", "KUNDIGUNG durch jurgen", "Muller, Lodz", "Kündigung"):
        code, out, _ = run(capsys, "query", "-F", typed, "-l", *index)
        assert (code, out) == (0, "mietvertrag.md\n"), typed
    assert run(capsys, "query", "-F", "Kundigungs", *index)[0] == 1  # whole words still
    # A reviewer's: a word longer than MAX_ACCENT_BLIND_CHARS, its accents as written; and
    # decomposed text (a Mac's) found as FTS5 finds it.
    long_word = "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft"
    (docs / "lang.md").write_text(f"Die {long_word} ist alt.\n", "utf-8")
    (docs / "nfd.md").write_text(unicodedata.normalize("NFD", "Кофейня «Йошкар»\n"), "utf-8")
    assert run(capsys, "index", str(docs), *index)[0] == 0
    assert run(capsys, "query", "-F", long_word, "-l", *index)[1] == "lang.md\n"
    assert run(capsys, "query", "-F", "Йошкар", "-l", *index)[1] == "nfd.md\n"
    # Whole words as grep -Fw reads them, "_" a letter (a Go developer's `-F Open` found
    # `max_open_conns` and `DB_MAX_OPEN_CONNS`).
    (docs / "db.go").write_text(
        "max_open_conns = 10\nDB_MAX_OPEN_CONNS=5\nMaxOpenConns int\ndb, err := sql.Open(dsn)\n"
    )
    assert run(capsys, "index", str(docs), *index)[0] == 0
    code, out, _ = run(capsys, "query", "-F", "Open", "--path", "*.go", *index)
    assert code == 0 and [line.split(": ")[0] for line in out.splitlines()] == ["db.go:4"]
    code, out, _ = run(capsys, "query", "-F", "max_open_conns", "--path", "*.go", *index)
    assert code == 0 and [line.split(": ")[0] for line in out.splitlines()] == ["db.go:1"]
    assert run(capsys, "query", "-F", "open_conns", "--path", "*.go", *index)[0] == 1
    # Case aside for a CONSTANT_CASE name too, as grep -Fwi (a quoted phrase holds one as
    # written: a bookkeeper's `-F IBAN_NUMBER` found none of the `iban_number`s).
    code, out, _ = run(capsys, "query", "-F", "MAX_OPEN_CONNS", "--path", "*.go", *index)
    assert code == 0 and [line.split(": ")[0] for line in out.splitlines()] == ["db.go:1"]


def test_fixed_strings_files_lists_every_file_and_l_says_where_it_stopped(
    tmp_path, fake_model, capsys
) -> None:
    # A historian's trial: `-F Łódź -l` printed 10 paths of 24, unsaid (grep -l lists all).
    files = {f"note{n:02d}.md": f"Łódź note {n}: the mills of Łódź.\n" for n in range(14)}
    files |= {f"other{n}.md": f"Warsaw note {n}.\n" for n in range(3)}
    docs = write(tmp_path / "docs", files)
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    code, out, err = run(capsys, "query", "-F", "Łódź", "-l", *index)
    assert code == 0 and len(out.splitlines()) == 14 and "note:" not in err
    code, out, err = run(capsys, "query", "mills", "-l", *index)
    assert len(out.splitlines()) == 10 and "the files of the first 10 hits; -k 100" in err
    code, out, err = run(capsys, "query", "mills", "-l", "-k", "3", *index)
    assert len(out.splitlines()) == 3 and "note:" not in err  # asked for


def test_fixed_strings_prints_each_line_holding_it_as_grep_does(
    tmp_path, fake_model, capsys
) -> None:
    # An SRE's trial: `-F 'slow query detected' -k 5000 --per-doc 5000 | wc -l` counted 1,729
    # of grep's 2,021 (a passage of a log holding several named one), and without --per-doc
    # one line a file.
    log = [
        f"12:00:{n:02d} db-1 {'slow query detected' if n % 3 else 'checkpoint done'} id={n}"
        for n in range(40)
    ]
    log_runbook = "When a slow query detected alert fires, page."
    docs = write(
        tmp_path / "ops",
        {
            "db.log": "\n".join(log) + "\n",
            "runbook.md": log_runbook + "\nThen look at the query plan.\n",
        },
    )
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    expected = {f"db.log:{n + 1}" for n, line in enumerate(log) if "slow" in line}
    expected.add("runbook.md:1")
    code, out, err = run(capsys, "query", "-F", "slow query detected", "-k", "500", *index)
    named = [":".join(Path(line.split(": ")[0]).parts[-1:]) for line in out.splitlines()]
    assert code == 0 and len(named) == len(expected) == 27 and set(named) == expected
    assert "note:" not in err  # fewer than asked for: all of them
    code, out, err = run(capsys, "query", "-F", "slow query detected", *index)
    assert len(out.splitlines()) == 10 and "note: 10 of the lines holding it; -k 100" in err
    code, out, err = run(capsys, "query", "-F", "slow query detected", "-k", "27", *index)
    assert len(out.splitlines()) == 27 and "note:" not in err  # all there are (a reviewer's)
    code, out, err = run(capsys, "query", "-F", "slow query detected", "-k", "26", *index)
    assert len(out.splitlines()) == 26 and "note: 26 of the lines holding it" in err
    # Each is its line alone, as grep -F prints it (the passage's next lines ran after it),
    # and a file's are in their order (a data analyst's came by score: 324, 87, 60, ...).
    code, out, _ = run(capsys, "query", "-F", "slow query detected", "-k", "500", *index)
    shown = [line.split(": ", 1)[1].split("  ", 1) for line in out.splitlines()]
    numbers = [int(line.split(": ")[0].rsplit(":", 1)[1]) for line in out.splitlines()]
    log_lines = [n for line, n in zip(out.splitlines(), numbers) if "db.log" in line]
    assert log_lines == sorted(log_lines) and len(log_lines) == 26
    texts = {text for _, text in shown}
    assert texts == {line for line in log if "slow" in line} | {log_runbook}
    code, out, _ = run(capsys, "query", "-F", "slow query detected", "--per-doc", "1", *index)
    assert len(out.splitlines()) == 2  # one a file, as asked
    code, out, _ = run(capsys, "query", "-F", "slow query detected", "-l", *index)
    assert len(out.splitlines()) == 2


def test_a_markdown_hit_is_shown_without_its_formatting_marks(tmp_path) -> None:
    # A writer's snippets: "> [!tip] Show, don't tell > … Cut **every** adverb.[^adv]",
    # "![[storm.png]] <div class="mood">", sections "Notes on [[Lighthouse Novel]] and *pacing*".
    text = (
        "> [!tip] Show, don't tell\n> Cut **every** adverb.[^adv]\n"
        '![[storm.png]] <div class="mood">tired</div> see [[Lighthouse Novel|the novel]] #idea'
    )
    hit = Hit(1, 0.5, 0.5, "/n.md", "/n.md", 1, 1, 3, text, section="Notes on [[A]] and *pace*")
    shown = LINE.match(hit_line(hit, "adverb"))["text"]
    assert shown == "Tip: Show, don't tell Cut every adverb. tired see the novel #idea"
    assert hit.to_json()["text"] == text  # JSON: the passage as indexed
    console = Console(file=open(tmp_path / "t.txt", "w"), width=200, emoji=False)
    print_results(console, [hit], "adverb", output="table")
    console.file.close()
    table = (tmp_path / "t.txt").read_text()
    assert "pace" in table and "pace*" not in table  # the section, cut to its column's width
    # A reviewer's: code, globs and comparisons are text, not marks.
    from searchapp.interfaces.readable import readable_markdown

    for kept in ("usage: search query <text>", "if a<b and c>d then", "Vec<String>", "**/*.md"):
        assert readable_markdown(kept) == kept
    assert readable_markdown("`git checkout <branch>` and `__init__.py`") == (
        "git checkout <branch> and __init__.py"
    )
    # A third reviewer's: emphasis ending in punctuation, generics, headings' HTML, `==`.
    assert readable_markdown("**Note:** <h1 align='c'>Title</h1>") == "Note:  Title "
    for kept in ("fn map<U>(self) -> Option<U>", "if x==y and y==z"):
        assert readable_markdown(kept) == kept
    fenced = "```py\na**2 + b**2\n# comment\n```\n**done**"
    assert readable_markdown(fenced) == "\na**2 + b**2\n# comment\n\ndone"
    plain = replace(hit, path="/n.txt", doc_id="/n.txt")  # not Markdown: as it is
    assert "**every**" in LINE.match(hit_line(plain, "adverb"))["text"]


def test_the_index_is_readable_by_its_owner_alone(tmp_path, fake_model, capsys) -> None:
    # An SRE indexed /etc as root: index.db was -rw-r--r--, and any user could read the text
    # of root's 0600 files from it; and /etc/shadow's hashes were indexed.
    docs = write(tmp_path / "etc", {"credentials.ini": "db_password = hunter2\n"})
    (docs / "shadow").write_text("root:$6$abcdefgh$hash:19700:0:99999:7:::\n")
    os.chmod(docs / "credentials.ini", 0o600)
    index_dir = tmp_path / "state" / "idx"
    code, _, err = run(capsys, "index", str(docs), "--index-dir", str(index_dir))
    assert code == 0, err
    assert stat.S_IMODE(index_dir.stat().st_mode) == 0o700
    for name in ("index.db", "index.db-wal", "index.db-shm", "write.lock"):
        if (index_dir / name).exists():
            assert stat.S_IMODE((index_dir / name).stat().st_mode) & 0o077 == 0, name
    assert indexed_paths(index_dir) == [str(docs / "credentials.ini")]  # not shadow


def test_like_finds_the_passages_nearest_an_indexed_document(
    tmp_path, fake_model, capsys, monkeypatch
) -> None:
    # A writer's "related notes" script sent a whole note as the query: cut to 256 tokens,
    # its hits were filler from other chapters. --like compares the note's stored vectors.
    docs = write(
        tmp_path / "vault",
        {
            "storm.md": "The storm broke over the lighthouse keeper and the boat.\n",
            "keeper.md": "The lighthouse keeper watched the storm and the boat.\n",
            "recipe.md": "Fish stew with saffron, fennel and cod.\n",
            "storm 1.md": "The storm broke over the lighthouse keeper and the boat.\n",
        },
    )
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    monkeypatch.chdir(docs)
    for like in ("storm.md", "storm 1.md"):  # not itself, nor a copy of it (a reviewer's)
        code, out, err = run(capsys, "query", "--like", like, "-l", *index)
        assert code == 0 and out.splitlines() == ["keeper.md", "recipe.md"], (like, err)
    code, _, err = run(capsys, "query", "--like", "storm.md", "--mode", "lexical", *index)
    assert code == 2 and "--mode lexical has no words to compare" in err
    code, _, err = run(capsys, "query", "--like", "storm.md", "--min-score", "1.5", *index)
    assert code == 2 and "its scores are cosines" in err
    code, out, _ = run(capsys, "query", "--like", "[[storm]]", "--json", "-k", "1", *index)
    [hit] = json.loads(out)
    stored = SearchIndex(tmp_path / "idx")
    ids = dict(
        stored.store.rows(
            "SELECT d.path, c.id FROM chunks c JOIN documents d ON d.id = c.document_id"
        )
    )
    vectors = stored.store.embeddings(ids.values())
    stored.close()
    # Its score: the cosine of the two notes' stored vectors (a passage each).
    expected = float(vectors[ids[str(docs / "storm.md")]] @ vectors[ids[str(docs / "keeper.md")]])
    assert hit["path"] == str(docs / "keeper.md") and abs(hit["score"] - expected) < 1e-5
    code, _, err = run(capsys, "query", "storm", "--like", "storm.md", *index)
    assert code == 2 and "give TEXT or --like DOCUMENT, not both" in err
    code, _, err = run(capsys, "query", "--like", "nope.md", *index)
    assert code == 2 and "'nope.md' is not an indexed document" in err


def test_like_lists_an_earlier_version_that_shares_most_of_its_passages(
    tmp_path, fake_model, capsys
) -> None:
    # A paralegal's trial: `--like "Lease FINAL.docx"` listed every document but v1, whose
    # best passage was one FINAL holds too (left out), its own passages never ranked.
    clauses = [
        f"## {title}\n\n" + " ".join([body] * 12) + "\n"
        for title, body in (
            ("Rent", "Tenant shall pay base rent monthly in advance to the landlord."),
            ("Deposit", "The security deposit is returned within thirty days of the end."),
            ("Repairs", "Landlord keeps the roof and structure in good repair at its cost."),
        )
    ]
    sublet = "## Subletting\n\n" + " ".join(
        ["Tenant may not sublet the premises without the landlord's written consent."] * 12
    )
    docs = write(
        tmp_path / "files",
        {
            "Lease FINAL.md": "# Lease\n\n" + "\n".join(clauses),
            "Lease v1.md": "# Lease\n\n" + "\n".join([*clauses[:2], sublet]),
            "recipe.md": "Fish stew with saffron, fennel and cod, simmered slowly.\n",
            "minutes.md": "Minutes of the board meeting about the budget and the roof.\n",
        },
    )
    index = ["--index-dir", str(tmp_path / "idx")]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    code, out, err = run(capsys, "query", "--like", str(docs / "Lease FINAL.md"), "-l", *index)
    assert code == 0, err
    assert sorted(out.splitlines()) == sorted(
        str(docs / n) for n in ("Lease v1.md", "recipe.md", "minutes.md")
    )
    code, out, _ = run(
        capsys, "query", "--like", str(docs / "Lease FINAL.md"), "--json", "--per-doc", "3", *index
    )
    v1 = [h for h in json.loads(out) if h["path"].endswith("Lease v1.md")]
    assert ["Subletting" in h["text"] for h in v1] == [True]  # none that FINAL holds


def test_like_does_not_widen_past_the_documents_that_can_give_hits(
    tmp_path, fake_model, monkeypatch
) -> None:
    # A reviewer's: with its passages left out before the selection, --like still asked for
    # room for them, and counted its own document and its copies as able to give hits: an
    # index of 50 documents was ranked whole, 4 widenings (2.5 s against 0.1 s).
    from searchapp.ranking import searcher

    docs = write(
        tmp_path / "docs",
        {
            f"doc{n}.md": "\n\n".join(
                f"Clause {i} of paper {n}: gamma{n} delta{i}." for i in range(80)
            )
            for n in range(12)
        },
    )
    (docs / "doc0 copy.md").write_text((docs / "doc0.md").read_text())
    index = SearchIndex(tmp_path / "idx")
    index.add([docs])
    fetches: list[int] = []
    rank = searcher.Searcher._rank

    def counted(self, *args, **kwargs):
        fetches.append(args[3])
        return rank(self, *args, **kwargs)

    monkeypatch.setattr(searcher.Searcher, "_rank", counted)
    hits = index.search("", k=8, like=str(docs / "doc0.md"))
    assert len(hits) == 8 and len(fetches) == 1, fetches  # one a document; no widening
    index.close()


def test_files_an_index_writes_are_as_private_as_its_database(tmp_path, fake_model, capsys):
    # A reviewer's: in an index folder made before (0755), postings.bin held the words of a
    # root-only file, readable by any user, beside a 0600 index.db; and a rebuild made an
    # index shared by chmod private again.
    docs = write(tmp_path / "docs", {"a.txt": "db_password = hunter2secret\n"})
    index_dir = tmp_path / "idx"
    index_dir.mkdir(mode=0o755)
    index = ["--index-dir", str(index_dir)]
    assert run(capsys, "index", str(docs), *index)[0] == 0
    assert run(capsys, "query", "password", "--mode", "lexical", *index)[0] == 0

    def modes() -> dict[str, int]:
        return {f.name: stat.S_IMODE(f.stat().st_mode) for f in index_dir.iterdir()}

    written = modes()
    assert {written[name] for name in ("index.db", "postings.bin", "vectors.faiss")} == {0o600}
    os.chmod(index_dir / "index.db", 0o644)  # shared
    assert run(capsys, "index", "--rebuild", *index)[0] == 0
    rebuilt = modes()
    assert {rebuilt[name] for name in ("index.db", "postings.bin", "vectors.faiss")} == {0o644}
