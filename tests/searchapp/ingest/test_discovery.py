"""Discovery: which files a walk yields, which it skips and why, in a deterministic order."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from searchapp.errors import BadInputError
from searchapp.ingest.discovery import iter_files, walk_reaches


@dataclass(frozen=True)
class Skipped:
    """A path that was found but not indexed, and why."""

    path: Path
    reason: str


@dataclass
class Discovery:
    """Every file to index, and every path skipped on the way (what ``discover`` collects)."""

    files: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def discover(
    paths: Sequence[Path], *, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> Discovery:
    """Collect ``iter_files`` into a list of files and a list of skips."""
    result = Discovery()
    result.files = list(
        iter_files(
            paths,
            include=include,
            exclude=exclude,
            on_skip=lambda path, reason: result.skipped.append(Skipped(path, reason)),
        )
    )
    return result


def write(root: Path, *names: str, text: str = "text\n") -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def found(root: Path, **options: object) -> list[str]:
    """The files yielded for ``root``, relative to it, in order."""
    return [p.relative_to(root).as_posix() for p in iter_files([root], **options)]  # type: ignore[arg-type]


def test_walks_folders_in_sorted_order(tmp_path: Path) -> None:
    write(tmp_path, "b.txt", "a/z.md", "a/b/c.txt", "a/a.txt", "README", "c/d/e/f")
    assert found(tmp_path) == ["README", "b.txt", "a/a.txt", "a/z.md", "a/b/c.txt", "c/d/e/f"]


def test_yields_absolute_paths_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "docs/a.txt", "docs/b.txt")
    monkeypatch.chdir(tmp_path)
    files = list(iter_files([Path("docs"), Path("docs/a.txt"), Path("docs")]))
    assert files == [tmp_path / "docs" / "a.txt", tmp_path / "docs" / "b.txt"]
    assert all(path.is_absolute() for path in files)


def test_a_skip_is_told_once_when_a_root_lies_inside_another(tmp_path: Path) -> None:
    # A bare `search index` of home and home/code/webapp listed webapp's lock file twice.
    (tmp_path / "code" / "webapp").mkdir(parents=True)
    (tmp_path / "code" / "webapp" / "package-lock.json").write_text("{}", "utf-8")
    (tmp_path / "code" / "webapp" / "app.js").write_text("let x = 1;\n", "utf-8")
    skipped: list[tuple[Path, str]] = []
    roots = [tmp_path, tmp_path / "code" / "webapp"]
    found = list(iter_files(roots, on_skip=lambda path, why: skipped.append((path, why))))
    assert found == [tmp_path / "code" / "webapp" / "app.js"]
    assert [p.name for p, _ in skipped] == ["package-lock.json"]


def test_default_excludes_judge_a_gzip_file_by_its_content_s_name(tmp_path: Path) -> None:
    # The name is all the walk looks at; what a .gz holds is named by the rest of it.
    write(tmp_path, "app.min.js.gz", "logo.svgz", "Cargo.lock.gz", "NEWS.gz", "style.css.gz")
    assert found(tmp_path) == ["NEWS.gz", "style.css.gz"]
    assert len(found(tmp_path, default_excludes=False)) == 5


def test_a_rendered_site_s_search_index_is_left_out(tmp_path: Path) -> None:
    # An ecologist's Quarto project: `_site/search.json` (every page's text as JSON) was the
    # first hit of two queries in eight, above the pages and their sources.
    write(tmp_path, "report.qmd", "_site/search.json", "_site/report.html", "data/search.json")
    assert found(tmp_path) == ["report.qmd", "_site/report.html", "data/search.json"]
    from searchapp.ranking.selection import is_derived

    assert is_derived("proj/_site/report.html") and not is_derived("proj/report.qmd")


def test_office_lock_files_and_folder_settings_are_left_out_by_name(tmp_path: Path) -> None:
    # A paralegal's trial: `~$Lease FINAL.docx` was "binary file" (or, of text, indexed as a
    # document), and Windows' Desktop.ini indexed as a note.
    write(tmp_path, "Lease FINAL.docx", "~$Lease FINAL.docx", "Desktop.ini", "sub/desktop.ini")
    skipped: list[tuple[Path, str]] = []
    files = list(iter_files([tmp_path], on_skip=lambda path, why: skipped.append((path, why))))
    assert files == [tmp_path / "Lease FINAL.docx"]
    assert {why.split(" (")[0] for _, why in skipped} == {"Office lock file or folder settings"}
    assert len(found(tmp_path, default_excludes=False)) == 4


def test_skips_hidden_and_tool_folders(tmp_path: Path) -> None:
    write(
        tmp_path,
        "keep.txt",
        ".hidden.txt",
        ".git/config",
        ".cache/x.txt",
        "node_modules/pkg/index.js",
        "src/__pycache__/m.cpython-311.pyc",
        "src/m.py",
    )
    assert found(tmp_path) == ["keep.txt", "src/m.py"]


def test_a_settings_template_is_indexed_and_a_hidden_secrets_file_is_said_to_be_one(
    tmp_path: Path,
) -> None:
    from searchapp.ingest.discovery import why_left_out

    # Two helpers' trials: `.env.example` (git-tracked, where developers look up a setting's
    # name) was left out unsaid; `.env`'s reason named `search index .env`, which an agent ran.
    write(tmp_path, ".env", ".env.local", ".env.example", "app/.env.sample", ".envrc", "a.md")
    assert found(tmp_path) == [".env.example", "a.md", "app/.env.sample"]
    for name in (".env", ".env.local"):
        assert why_left_out(tmp_path, tmp_path / name) == (
            f"'{name}' is hidden (its name begins with '.') and a secrets file (passwords, keys)"
        )
    write(tmp_path, ".envs/a.txt")  # a folder: hidden, no more
    assert why_left_out(tmp_path, tmp_path / ".envs/a.txt") == (
        "'.envs' is hidden (its name begins with '.')"
    )
    assert why_left_out(tmp_path, tmp_path / ".envrc") == (
        "'.envrc' is hidden (its name begins with '.') and a secrets file (passwords, keys)"
    )


def test_skips_virtual_environments(tmp_path: Path) -> None:
    write(
        tmp_path,
        "myenv/pyvenv.cfg",
        "myenv/lib/site.py",
        "venv/bin/activate",
        "venv/x.py",
        "env/Scripts/activate",
        "env/y.py",
        "other/env/notes.txt",
        "venv2/notes.txt",
        "miniconda/envs/ml/conda-meta/history",  # a conda environment: left out too
        "miniconda/envs/ml/lib/site.py",
    )
    assert found(tmp_path) == ["other/env/notes.txt", "venv2/notes.txt"]


def test_skips_experiment_trackers_run_folders(tmp_path: Path) -> None:
    # A data scientist's mlruns/ (hundreds of one-value files) crowded out the notebooks.
    write(
        tmp_path,
        "mlruns/0/meta.yaml",
        "mlruns/0/abc/params/eval_metric",
        "wandb/run-20240101_1200-abc/files/config.yaml",
        "lightning_logs/version_0/hparams.yaml",
        "notebooks/train.ipynb",
        "sdk/wandb/sdk/wandb_init.py",  # a package so named: code (a reviewer's)
    )
    assert found(tmp_path) == ["notebooks/train.ipynb", "sdk/wandb/sdk/wandb_init.py"]


def test_skips_go_and_composer_vendor_folders(tmp_path: Path) -> None:
    # A Go developer's trial: `retry` ranked vendored chi's retry.go above the project's own.
    write(
        tmp_path,
        "vendor/modules.txt",
        "vendor/github.com/go-chi/chi/v5/middleware/retry.go",
        "web/vendor/autoload.php",
        "web/vendor/guzzle/Client.php",
        "notes/vendor/acme.md",  # a folder of notes on a vendor: kept
        "internal/retry.go",
    )
    assert found(tmp_path) == ["internal/retry.go", "notes/vendor/acme.md"]


def test_skips_search_indexes(tmp_path: Path) -> None:
    write(tmp_path, "idx/index.db", "idx/write.lock", "idx/notes.txt", "db/index.db", "a.txt")
    assert found(tmp_path) == ["a.txt", "db/index.db"]  # index.db alone is not an index


def test_an_index_folder_given_as_the_root_keeps_its_notes_not_its_files(tmp_path: Path) -> None:
    """`search index notes --index-dir notes`: the lock file and the WAL, new at every run,
    were documents that every run updated, and a query for "pid lock" found the lock file."""
    own = ["index.db", "index.db-wal", "index.db-shm", "write.lock", "vectors.faiss"]
    write(tmp_path, *own, "postings.bin", "notes.txt", "sub/index.db", "sub/write.lock.txt")
    assert found(tmp_path) == ["notes.txt", "sub/index.db", "sub/write.lock.txt"]
    (tmp_path / "write.lock").unlink()  # not an index folder: its files are anyone's
    assert sorted(found(tmp_path)) == sorted(
        [
            *own[:3],
            "vectors.faiss",
            "postings.bin",
            "notes.txt",
            "sub/index.db",
            "sub/write.lock.txt",
        ]
    )


def test_gitignore_nested_with_negation(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.log",
        "a.txt",
        "build/out.txt",
        "sub/keep.log",
        "sub/drop.log",
        "sub/deeper/keep.log",
        "sub/build.txt",
        "other/keep.log",
    )
    write(tmp_path, ".gitignore", text="*.log\nbuild/\n# comment\n\n")
    write(tmp_path, "sub/.gitignore", text="!keep.log\n/build.txt\n")
    assert found(tmp_path) == ["a.txt", "sub/keep.log", "sub/deeper/keep.log"]


def test_an_ignored_folder_cannot_be_re_included(tmp_path: Path) -> None:
    write(tmp_path, "logs/keep.log", "logs/x.txt")
    write(tmp_path, ".gitignore", text="logs/\n!logs/keep.log\n")
    assert found(tmp_path) == []


def test_searchignore_has_the_same_syntax_and_wins(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "b.txt", "drafts/c.txt", "notes/d.md", "notes/e.md")
    write(tmp_path, ".gitignore", text="b.txt\n")
    write(tmp_path, ".searchignore", text="drafts/\n!b.txt\n")
    write(tmp_path, "notes/.searchignore", text="e.*\n")
    assert found(tmp_path) == ["a.txt", "b.txt", "notes/d.md"]


def test_bad_ignore_lines_are_dropped_not_fatal(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "b.md")
    write(tmp_path, ".gitignore", text="!\n[z-a]\n*.md\n")
    assert found(tmp_path) == ["a.txt"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"include": ["*.md"]}, ["top.md", "docs/guide.md", "docs/api/ref.md"]),
        ({"include": ["docs/**"]}, ["docs/guide.md", "docs/notes.txt", "docs/api/ref.md"]),
        ({"exclude": ["docs/**"]}, ["top.md", "top.txt"]),
        ({"exclude": ["*.md"]}, ["top.txt", "docs/notes.txt"]),
        ({"include": ["*.md"], "exclude": ["api/"]}, ["top.md", "docs/guide.md"]),
        (
            {"include": ["*.md", "*.txt"]},
            ["top.md", "top.txt", "docs/guide.md", "docs/notes.txt", "docs/api/ref.md"],
        ),
    ],
)
def test_include_and_exclude(tmp_path: Path, options: dict, expected: list[str]) -> None:
    write(tmp_path, "top.md", "top.txt", "docs/guide.md", "docs/notes.txt", "docs/api/ref.md")
    assert found(tmp_path, **options) == expected


def test_explicit_files_are_always_yielded(tmp_path: Path) -> None:
    write(tmp_path, ".hidden.txt", "ignored.log")
    write(tmp_path, ".gitignore", text="*.log\n")
    files = [tmp_path / ".hidden.txt", tmp_path / "ignored.log"]
    assert list(iter_files(files, include=["*.md"])) == files


@pytest.mark.parametrize(
    ("pattern", "option"),
    [("!", "--include"), ("[z-a]", "--include"), ("\\", "--exclude"), ("[", "--include")],
)
def test_bad_patterns_are_bad_input(tmp_path: Path, pattern: str, option: str) -> None:
    key = option.removeprefix("--")
    with pytest.raises(BadInputError, match=f"{option} pattern"):
        list(iter_files([tmp_path], **{key: [pattern]}))


def test_unknown_path_is_bad_input(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(BadInputError, match=f"^no such file or folder: {missing}$"):
        list(iter_files([tmp_path, missing]))


def test_symlinked_folders_are_not_followed(tmp_path: Path) -> None:
    write(tmp_path, "real/a.txt")
    (tmp_path / "real" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    result = discover([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in result.files] == ["real/a.txt"]
    assert {s.path.name for s in result.skipped} == {"alias", "loop"}
    assert all("folder (not followed)" in s.reason for s in result.skipped)


def test_symlinked_files_inside_the_root_only(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    write(root, "a.txt")
    write(outside, "secret.txt")
    (root / "inside_link.txt").symlink_to(root / "a.txt")
    (root / "outside_link.txt").symlink_to(outside / "secret.txt")
    (root / "broken_link.txt").symlink_to(root / "missing.txt")
    result = discover([root])
    assert [p.name for p in result.files] == ["a.txt", "inside_link.txt"]
    reasons = {s.path.name: s.reason for s in result.skipped}
    assert set(reasons) == {"outside_link.txt", "broken_link.txt"}
    assert "outside" in reasons["outside_link.txt"]
    assert "broken" in reasons["broken_link.txt"]


def test_fifo_is_skipped_without_blocking(tmp_path: Path) -> None:
    write(tmp_path, "a.txt")
    os.mkfifo(tmp_path / "pipe")
    results: list[Discovery] = []
    walker = threading.Thread(target=lambda: results.append(discover([tmp_path])), daemon=True)
    walker.start()
    walker.join(timeout=10)
    assert results, "discovery blocked on a named pipe"
    [result] = results
    assert [p.name for p in result.files] == ["a.txt"]
    assert result.skipped == [Skipped(tmp_path / "pipe", "not a regular file (named pipe)")]


def test_fifo_given_explicitly_is_skipped(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    result = discover([tmp_path / "pipe"])
    assert result.files == [] and result.skipped[0].reason == "not a regular file (named pipe)"


def test_unreadable_folder_is_reported_and_the_walk_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "a/x.txt", "b/y.txt", "c/z.txt")
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if Path(path).name == "b":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = discover([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in result.files] == ["a/x.txt", "c/z.txt"]
    assert result.skipped == [Skipped(tmp_path / "b", "cannot read folder: Permission denied")]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads everything")
def test_real_permission_errors(tmp_path: Path) -> None:
    write(tmp_path, "open/a.txt", "closed/b.txt")
    (tmp_path / "closed").chmod(0)
    try:
        result = discover([tmp_path])
    finally:
        (tmp_path / "closed").chmod(0o755)
    assert [p.name for p in result.files] == ["a.txt"]
    assert [s.path.name for s in result.skipped] == ["closed"]


TREE = (
    "src/main.py",
    "src/lib/util.py",
    "src/core/main.c",
    "a/b/c.txt",
    "sub/keep/a.txt",
    "a.md",
    "a.log",
    "important.log",
    "root-only.txt",
    "foo/keep.txt",
    "foo/other.txt",
    "sub/c.md",
    "sub/c.txt",
    "sub/root-only.txt",
    "sub/build/x.txt",
    "keep/a.txt",
    "build/out.txt",
    "docs/a.tmp",
    "docs/deeper/b.tmp",
    "x/deep/x",
    "sub/deep/x",
)


def git_untracked(repo: Path, where: Path) -> list[str]:
    """The files git lists as untracked and not ignored under ``where``, relative to it."""
    import subprocess

    listed = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"],
        cwd=where,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return sorted(p for p in listed if not any(part.startswith(".") for part in p.split("/")))


@pytest.mark.parametrize(
    "rules",
    [
        ["foo/**", "!foo/keep.txt"],  # foo itself is not ignored: keep.txt comes back
        ["*", "!*/", "!*.md"],  # a whitelist: every folder entered, only .md files kept
        ["*", "!keep/", "!keep/*"],
        ["build/", "*.log", "!important.log"],
        ["/root-only.txt", "docs/*.tmp", "**/deep/x"],
        ["\ufeffa.log"],  # a byte-order mark git skips
        ["sub/", "!sub/c.md"],  # a file under an ignored folder cannot come back
        # A folder let back in is entered, and its files are not judged by the rule that
        # matched the folder (/* hid all of src/: nothing was indexed).
        ["/*", "!/src/"],
        ["core", "!core/"],
        ["build", "!build/"],
        ["a/b", "!a/b/"],
        {"sub/.gitignore": ["/*", "!/keep/"]},
    ],
)
def test_ignore_files_leave_out_what_git_leaves_out(
    tmp_path: Path, rules: list[str] | dict[str, list[str]]
) -> None:
    # Folders were matched as "foo/" against pathspec's patterns, unlike git: files git keeps
    # were not indexed (foo/** hid foo/keep.txt; a whitelist hid every subfolder's .md).
    import subprocess

    repo = tmp_path / "repo"
    write(repo, *TREE)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    files = rules if isinstance(rules, dict) else {".gitignore": rules}
    for name, lines in files.items():
        (repo / name).write_text("\n".join(lines) + "\n", "utf-8")
    # The default excludes (temporary files: docs/a.tmp) are searchapp's, not git's.
    assert sorted(found(repo, default_excludes=False)) == git_untracked(repo, repo)


def test_the_ignore_files_above_a_root_in_its_repository_apply(tmp_path: Path) -> None:
    # `search index repo/sub` indexed what repo/.gitignore leaves out; `search index repo`
    # then removed it: the index depended on which folder was given.
    import subprocess

    repo = tmp_path / "repo"
    write(repo, "sub/a.log", "sub/a.md", "sub/secret/key.txt", "sub/deeper/b.log", "top.md")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text("*.log\n/sub/secret/\n", "utf-8")
    (repo / "sub" / ".gitignore").write_text("!deeper/b.log\n", "utf-8")
    assert (
        sorted(found(repo / "sub")) == git_untracked(repo, repo / "sub") == ["a.md", "deeper/b.log"]
    )
    outside = tmp_path / "plain"  # no repository: the folders above are not read
    write(outside, "sub/a.log")
    (outside / ".gitignore").write_text("*.log\n", "utf-8")
    assert found(outside / "sub") == ["a.log"]


def test_a_repositorys_own_excludes_and_nested_repositories_follow_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # .git/info/exclude and core.excludesFile were not read (private files were indexed), and
    # an outer repository's .gitignore was applied inside a repository of its own.
    import subprocess

    from searchapp.ingest import discovery

    config = tmp_path / "config"
    (config / "git").mkdir(parents=True)
    (config / "git" / "ignore").write_text("*.scratch\n", "utf-8")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    discovery._global_excludes.cache_clear()
    repo = tmp_path / "repo"
    write(repo, "normal.txt", "local.md", "a.scratch", "notes.bak", "inner/i.md", "inner/x.log")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "init", "-q", str(repo / "inner")], check=True)
    (repo / ".git" / "info" / "exclude").write_text("local.md\n", "utf-8")
    (repo / ".gitignore").write_text("*.md\n", "utf-8")
    (repo / ".ignore").write_text("*.bak\n", "utf-8")  # ripgrep's and fd's, read as theirs
    (repo / "inner" / ".gitignore").write_text("*.log\n", "utf-8")
    try:
        assert found(repo) == ["normal.txt", "inner/i.md"]
        assert git_untracked(repo, repo) == ["inner/", "normal.txt", "notes.bak"]
        assert found(repo / "inner") == git_untracked(repo / "inner", repo / "inner") == ["i.md"]
    finally:
        discovery._global_excludes.cache_clear()


def test_backup_and_temporary_names_leave_out_files_not_folders(tmp_path: Path) -> None:
    # "*~" and "*.part" matched folders too: everything in old~/ or data.part/ was left out.
    write(
        tmp_path,
        "notes.md",
        "notes.md~",
        "old~/notes.md",
        "old~/notes.md~",
        "data.part/a.md",
        "data.part/b.part",
        "video.part",
        "report.md.tmp.1234",
        "build.tmp/out.txt",
        "report.tmp.2024-notes.md",  # a note: ".tmp." then more than digits
        "run.tmp.7/log.md",  # a folder
        "run.tmp.7/notes.md.tmp.99",  # a temporary copy in it
        "x.tmp.1a~",
        "notes.md.swp",  # vim's swap files, where 'directory' keeps them unhidden
        "notes.md.swo",
        "notes.swap.md",
    )
    assert sorted(found(tmp_path)) == [
        "build.tmp/out.txt",
        "data.part/a.md",
        "notes.md",
        "notes.swap.md",
        "old~/notes.md",
        "report.tmp.2024-notes.md",
        "run.tmp.7/log.md",
    ]


def test_globs_answer_as_their_spec_does() -> None:
    # ``Globs`` asks one regex of every glob that can let a path in before the spec itself
    # (a bare `search index` of 80,000 unchanged files spent 2 s of 4 in the default excludes).
    import random

    from pathspec import GitIgnoreSpec

    from searchapp.ingest.discovery import DEFAULT_EXCLUDES, Globs

    rng = random.Random(5)
    names = ["a", "b.md", "x.min.js", "Cargo.lock", "old~", "n.tmp", "#s#", "keep.md", "docs"]
    names += ["c.part", "d.map", "e.txt", "f.swp", "g.tmp.12", "k"]
    specs = [
        list(DEFAULT_EXCLUDES),
        ["*.md", "!keep.md", "docs/**", "a/*/b", "/top.txt", "k/"],
        ["!*.md"],  # nothing lets in
        ["**/x.min.js/**", "b.md", "!docs/b.md"],
    ]
    seen = [0, 0]
    for lines in specs:
        spec = GitIgnoreSpec.from_lines(lines)
        globs = Globs(spec)
        for _ in range(3000):
            rel = "/".join(rng.choice(names) for _ in range(rng.randint(1, 4)))
            expected = bool(spec.check_file(rel).include)
            assert globs.matches(rel) == expected, (lines, rel)
            seen[expected] += 1
    assert min(seen) > 500


@pytest.mark.parametrize(
    "filters",
    [{}, {"exclude": ["*.log", "docs/old/"]}, {"include": ["*.md"]}, {"default_excludes": False}],
    ids=["plain", "exclude", "include", "no-default-excludes"],
)
def test_walk_reaches_a_file_exactly_when_the_walk_yields_it(tmp_path: Path, filters) -> None:
    # `search remove` told of a file under node_modules (indexed as a root of its own) that the
    # next `search index` would add it back; the outer folder's walk never yields it.
    root = tmp_path / "proj"
    files = [
        "a.md", "b.log", "Cargo.lock", "notes.md~", "docs/x.md", "docs/old/y.md",
        "node_modules/pkg/README.md", ".hidden/z.md", "build/out.md", "keep/build/in.md",
        "venv/bin/activate", "venv/lib/m.md", "sub/.gitignore", "sub/secret.md", "sub/open.md",
        "nested/.git/HEAD", "nested/build/n.md", "nested/c.md",
    ]  # fmt: skip
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("text\n", "utf-8")
    (root / ".gitignore").write_text("/build/\n", "utf-8")
    (root / "sub" / ".gitignore").write_text("secret.md\n", "utf-8")
    (root / "nested" / ".gitignore").write_text("build/\n", "utf-8")
    walked = {str(path) for path in iter_files([root], **filters)}
    reached = {str(root / name) for name in files if walk_reaches(root, root / name, **filters)}
    assert reached == walked and str(root / "a.md") in walked
    assert str(root / "node_modules/pkg/README.md") not in reached


def test_a_folder_deleted_while_it_is_walked_is_no_skip(tmp_path: Path, monkeypatch) -> None:
    # A build's temporary folder gone between its listing and its own: "cannot read folder: No
    # such file or directory" was told as a file that could not be read.
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "a.md").write_text("text\n", "utf-8")
    (tmp_path / "brief").mkdir()
    scandir = os.scandir

    def vanishing(path):
        if str(path).endswith("brief"):
            raise FileNotFoundError(2, "No such file or directory")
        return scandir(path)

    monkeypatch.setattr(os, "scandir", vanishing)
    skipped: list[tuple[Path, str]] = []
    found = list(iter_files([tmp_path], on_skip=lambda p, r: skipped.append((p, r))))
    assert found == [tmp_path / "keep" / "a.md"] and skipped == []
    # Gone between its folder's listing and its own look: no "cannot read" either.
    monkeypatch.setattr(os, "scandir", scandir)
    (tmp_path / "brief" / "gone.md").write_text("text\n", "utf-8")
    listing = os.scandir

    def listed_then_gone(path):
        entries = list(listing(path))
        for entry in entries:
            if entry.name == "gone.md":
                os.unlink(entry.path)
        return _Listing(entries)

    monkeypatch.setattr(os, "scandir", listed_then_gone)
    found = list(iter_files([tmp_path], on_skip=lambda p, r: skipped.append((p, r))))
    assert found == [tmp_path / "keep" / "a.md"] and skipped == []


class _Listing(list):
    """A list of entries standing for os.scandir's iterator, a context manager."""

    def __enter__(self) -> _Listing:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


def test_secrets_files_are_left_out_and_said_to_be(tmp_path: Path) -> None:
    # A helper's home folder: misc/prod.env (SMTP password, Stripe and AWS keys) was indexed
    # and came up third for "where do we retry sending email", its keys printed in full.
    write(
        tmp_path,
        "misc/prod.env",
        "keys/server.pem",
        "keys/id_ed25519",
        "keys/id_ed25519.pub",  # a public key: not a secret
        "infra/terraform.tfstate",
        "infra/main.tf",
        "notes/env.md",
        "notes/prod.env.example",  # an example, with no real values
    )
    result = discover([tmp_path])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in result.files) == [
        "infra/main.tf",
        "keys/id_ed25519.pub",
        "notes/env.md",
        "notes/prod.env.example",
    ]
    reasons = {s.path.relative_to(tmp_path).as_posix(): s.reason for s in result.skipped}
    assert set(reasons) == {
        "misc/prod.env",
        "keys/server.pem",
        "keys/id_ed25519",
        "infra/terraform.tfstate",
    }
    assert all(
        r.startswith("secrets file (passwords, keys) (excluded by default;")
        for r in reasons.values()
    )
    assert "misc/prod.env" in found(tmp_path, default_excludes=False)


def test_why_left_out_names_what_leaves_a_file_out_and_nothing_for_one_walked(tmp_path) -> None:
    from searchapp.ingest.discovery import why_left_out

    write(tmp_path, "a/keep.md", "a/skip.txt", "a/sub/deep.md", "a/.gitignore")
    (tmp_path / "a" / ".gitignore").write_text("sub/\n!keep.md\n")
    root = tmp_path
    assert why_left_out(root, tmp_path / "a/keep.md") is None
    assert why_left_out(root, tmp_path / "a/sub/deep.md") == (
        f"'a/sub/' is ignored by {tmp_path / 'a' / '.gitignore'}"
    )
    assert why_left_out(root, tmp_path / "a/skip.txt", include=["*.md"]) == (
        "'a/skip.txt' matches none of the --include patterns it was indexed with"
    )
    assert why_left_out(root, tmp_path / "a/keep.md", exclude=["keep.*"]) == (
        "'a/keep.md' matches the --exclude patterns it was indexed with"
    )
    assert (
        why_left_out(root, tmp_path / "a/.gitignore")
        == "'a/.gitignore' is hidden (its name begins with '.')"
    )
