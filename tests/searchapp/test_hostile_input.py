"""Hostile and odd input: indexing completes, reports what it skipped, and shows text inertly.

Also the safe-loading rules: no pickle, no SQL built from user data (checked on the source and end
to end with quotes and SQL in paths and queries).
"""

from __future__ import annotations

import ast
import codecs
import hashlib
import json
import os
import re
import signal
from pathlib import Path

import pytest

import searchapp.ingest.pipeline
import searchapp.ingest.reading
import searchapp.interfaces.cli
from searchapp.ingest.decoding import DEFAULT_MAX_BYTES
from searchapp.storage.store import Store
from tests.searchapp.cli_runner import run_cli
from tests.searchapp.conftest import FakeEncoder, use_encoder

REPO = Path(__file__).resolve().parents[2]
SOURCE_FOLDERS = ("minilm", "searchapp")
# What a terminal must never receive raw from a document or a file name.
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture()
def fake_model(monkeypatch):
    """`search` commands in this process use the ``FakeEncoder``."""
    from minilm import MiniLMTokenizer

    encoder = FakeEncoder(
        MiniLMTokenizer("all-MiniLM-L6-v2", max_length=256),
        dim=64,
        max_length=256,
        name="all-MiniLM-L6-v2",
        weights_sha256=hashlib.sha256(b"fake encoder").hexdigest(),
    )
    use_encoder(monkeypatch, encoder)
    return encoder


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


MARKUP_TEXT = (
    "Wing [bold red]lift[/bold red] in a [link=http://x]slipstream[/link] :skull:\n"
    "ANSI \x1b[31mred\x1b[0m, a bell\x07, a backspace\x08, a C1 CSI \u009b31m and a bidi "
    "override \u202etxt.exe\u202c in the supersonic flutter text.\n"
)


def build_hostile_folder(root: Path, cranfield) -> dict[str, str]:
    """Write the folder; returns {name (as reported) -> expected skip reason}."""
    texts = list(cranfield.corpus.values())
    skips: dict[str, str] = {}
    write(root / "plain.txt", texts[0])
    # Binary data under text names, NUL bytes, UTF-16 without a mark.
    write(root / "image.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    write(root / "program.md", b"\x7fELF\x02\x01\x01" + bytes(200) + b"text")
    write(root / "nul.txt", b"hello\x00world, mostly text " * 20)
    write(root / "utf16-nobom.txt", "shock waves in nozzles".encode("utf-16-le"))
    write(root / "bad-bom.txt", codecs.BOM_UTF16_LE + b"\x00\xd8a\x00")  # a lone surrogate
    skips |= dict.fromkeys(
        ["image.txt", "program.md", "nul.txt", "utf16-nobom.txt", "bad-bom.txt"], "binary file"
    )
    # Invalid and mixed encodings: read, never refused.
    write(root / "latin1.txt", "café crème brûlée aerodynamics of wings".encode("latin-1"))
    write(root / "mixed.txt", "naïve flow ".encode() + b"caf\xe9 drag \xff\xfe" + b" ok")
    write(root / "utf16.txt", codecs.BOM_UTF16_LE + "laminar boundary layer".encode("utf-16-le"))
    write(root / "cut.txt", "pressure distribution é".encode()[:-1])
    # Sizes: a 5 MB single line is indexed (with --no-default-excludes: by default it is
    # "generated text"); a (sparse) file over the cap is skipped unread.
    words = " ".join(texts[:200]).split()
    line = " ".join(words[i % len(words)] for i in range(900_000))[: 5 * 1024 * 1024]
    write(root / "big-line.txt", line.replace("\n", " "))
    with open(root / "over-cap.txt", "wb") as handle:
        handle.truncate(DEFAULT_MAX_BYTES + 1)
    skips["over-cap.txt"] = "larger than the 50.0 MiB limit"
    write(root / "empty.txt", b"")
    write(root / "blank.txt", " \n\n\t \r\n")
    # Links: loops, outside the root, to a folder, dangling; one inside the root is indexed.
    os.symlink("loop-b", root / "loop-a")
    os.symlink("loop-a", root / "loop-b")
    skips |= dict.fromkeys(["loop-a", "loop-b"], "symbolic link that loops")
    outside = write(root.parent / "outside" / "secret.txt", "outside the root")
    os.symlink(outside, root / "outside.txt")
    skips["outside.txt"] = "symbolic link to a file outside"
    os.symlink("..", root / "up")
    skips["up"] = "symbolic link to a folder (not followed)"
    os.symlink("missing.txt", root / "dangling.txt")
    skips["dangling.txt"] = "broken symbolic link"
    os.symlink("plain.txt", root / "inside-link.txt")
    # A named pipe (and a link to it): reported, never opened, so nothing blocks.
    os.mkfifo(root / "pipe.txt")
    skips["pipe.txt"] = "not a regular file (named pipe)"
    os.symlink("pipe.txt", root / "pipe-link.txt")
    skips["pipe-link.txt"] = "not a regular file (named pipe)"
    # Names: spaces, newlines, markup, escape sequences, bytes that are not UTF-8.
    write(root / "with space.txt", "transonic wind tunnel interference")
    write(root / "new\nline.txt", "hypersonic heat transfer")
    write(root / "[red]markup[/red].txt", "markup in a file name")
    write(root / "\x1b[31mansi\x1b[0m.txt", "escape sequences in a file name")
    write(root / "bin\n[red]x\x1b[2J :skull:.txt", b"\x00\x01binary\x00" * 10)
    skips["bin\\n[red]x\\x1b[2J :skull:.txt"] = "binary file"
    fd = os.open(os.fsencode(root) + b"/bad-\xff-name.txt", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"a file whose name is not UTF-8")
    os.close(fd)
    skips["bad-\\xff-name.txt"] = "file name is not valid UTF-8"  # the byte, shown escaped
    # 60 levels deep.
    deep = root.joinpath(*[f"d{n:02d}" for n in range(60)])
    write(deep / "deep.txt", "deeply nested lift coefficients")
    # Markup, ANSI and control characters inside a document.
    write(root / "markup.txt", MARKUP_TEXT)
    # A JSONL corpus with bad lines, a repeated id, a lone surrogate and absurd nesting.
    records = [
        json.dumps({"_id": "r1", "title": "", "text": "a good record on flutter"}),
        "not json at all",
        json.dumps({"_id": "r1", "title": "", "text": "a repeated id"}),
        '{"_id": "r2", "title": "x\\ud800", "text": "lone \\udc80 surrogates in flutter"}',
        "[" * 100_000 + "]" * 100_000,
        json.dumps({"_id": "r3\x1b[31m", "title": "", "text": "an id with an escape"}),
    ]
    write(root / "records.jsonl", "\n".join(records) + "\n")
    # Files that vanish or change while the run reads them (see the monkeypatches).
    write(root / "vanishing.txt", "here during discovery, gone when read")
    skips["vanishing.txt"] = "vanished before it could be read"
    write(root / "gone-before-stat.txt", "removed right after discovery")
    skips["gone-before-stat.txt"] = "vanished before it could be read"
    write(root / "changing.txt", "the first version of the file")
    return skips


def test_hostile_folder_indexes_reports_skips_and_shows_text_inertly(
    tmp_path, cranfield, fake_model, capsys, monkeypatch
) -> None:
    root = tmp_path / "docs"
    skips = build_hostile_folder(root, cranfield)
    index_dir = tmp_path / "idx"

    iter_files, read_bytes = (
        searchapp.ingest.pipeline.iter_files,
        searchapp.ingest.reading.read_bytes,
    )

    def files_then_one_removed(*args, **kwargs):
        yield from iter_files(*args, **kwargs)
        # Discovered, then removed before it is read.
        (root / "gone-before-stat.txt").unlink(missing_ok=True)

    def reading_races(path, **kwargs):
        if path.name == "vanishing.txt":
            path.unlink()
        data = read_bytes(path, **kwargs)
        if path.name == "changing.txt":  # changed right after it was read
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(" and the second version, about ailerons")
        return data

    monkeypatch.setattr(searchapp.ingest.pipeline, "iter_files", files_then_one_removed)
    monkeypatch.setattr(searchapp.ingest.reading, "read_bytes", reading_races)
    args = ["index", str(root), "--index-dir", str(index_dir), "--verbose", "--no-default-excludes"]
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    assert out == ""
    assert not RAW_CONTROLS.search(err), err
    assert "💀" not in err  # ":skull:" is a name, not an emoji code
    skip_lines = [line for line in err.splitlines() if line.startswith("skipped ")]
    for name, reason in skips.items():
        prefix = f"skipped {root}/{name}: "
        found = [line.removeprefix(prefix) for line in skip_lines if line.startswith(prefix)]
        assert found, f"{name!r} not reported as skipped:\n{err}"
        assert reason in found[0], (name, found[0])
    assert len(skip_lines) == len(skips), err
    summary = err.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ added, 0 updated, 0 removed, 0 unchanged, \d+ skipped; .*", summary)
    assert f"{len(skips)} skipped" in summary

    store = Store.open(index_dir, create=False)
    paths = set(store.all_paths())
    documents = dict(store.db.execute("SELECT doc_id, title FROM documents").fetchall())
    big = store.db.execute(
        "SELECT count(*), max(length(text)), min(start_line), max(end_line) FROM chunks "
        "WHERE document_id = (SELECT id FROM documents WHERE path LIKE '%big-line.txt')"
    ).fetchone()
    store.close()
    for name in (
        "plain.txt",
        "inside-link.txt",
        "latin1.txt",
        "mixed.txt",
        "utf16.txt",
        "cut.txt",
        "big-line.txt",
        "empty.txt",
        "blank.txt",
        "with space.txt",
        "new\nline.txt",
        "[red]markup[/red].txt",
        "\x1b[31mansi\x1b[0m.txt",
        "markup.txt",
        "records.jsonl",
        "changing.txt",
    ):
        assert str(root / name) in paths, name
    assert str(deep_file(root)) in paths
    assert not any("\udcff" in p or "secret" in p for p in paths)
    assert big[0] > 1000 and big[2] == big[3] == 1  # thousands of chunks, all on line 1
    records = str(root / "records.jsonl")  # a record's doc_id: path#id
    assert {f"{records}#{i}" for i in ("r1", "r2", "r3\x1b[31m")} <= set(documents)
    assert documents[f"{records}#r2"] == "x\ufffd"  # a lone surrogate cannot be stored

    # Document text and file names print inertly, as a table and as JSON.
    for text in ("supersonic flutter text", "markup in a file name", "escape sequences"):
        for output in ("table", "lines"):
            code, out, err = run_cli(
                capsys, "query", text, "--index-dir", str(index_dir), "-k", "3", "--format", output
            )
            assert code == 0, err
            assert not RAW_CONTROLS.search(out), out
            assert "💀" not in out
        code, out, err = run_cli(
            capsys, "query", text, "--index-dir", str(index_dir), "-k", "3", "--json"
        )
        assert code == 0, err
        assert not RAW_CONTROLS.search(out), out
        assert json.loads(out)
    args = ("query", "supersonic flutter", "--index-dir", str(index_dir), "--path", "markup.txt")
    (hit,) = json.loads(run_cli(capsys, *args, "--json")[1])
    assert "[bold red]lift[/bold red]" in hit["text"]  # the text itself is kept ...
    assert "\u009b31m" in hit["text"] and "\u202etxt.exe" in hit["text"]
    assert "\x1b" not in hit["text"] and "\x07" not in hit["text"]  # (decoding made them spaces)
    # The whole passage, not "…" (setting ``out.width`` fixed it at 80 for the tests after).
    monkeypatch.setenv("COLUMNS", "400")
    table = re.sub(r"[\s│]", "", run_cli(capsys, *args, "--format", "table")[1])  # ... literally
    assert "[boldred]lift[/boldred]" in table and ":skull:" in table
    assert "\\x9b31m" in table and "\\u202etxt.exe\\u202c" in table

    # The file that changed while it was read is picked up by the next run.
    monkeypatch.setattr(searchapp.ingest.pipeline, "iter_files", iter_files)
    monkeypatch.setattr(searchapp.ingest.reading, "read_bytes", read_bytes)
    code, _, err = run_cli(capsys, "index", str(root), "--index-dir", str(index_dir))
    assert code == 0, err
    assert re.search(r"\b1 updated\b", err), err
    code, out, _ = run_cli(
        capsys, "query", "ailerons", "--index-dir", str(index_dir), "--json", "--mode", "lexical"
    )
    assert [Path(h["path"]).name for h in json.loads(out)] == ["changing.txt"]

    # A named pipe given as the path to index: reported, not opened (opening it would block).
    def blocked(signum, frame):  # a hang fails this test instead of stalling the whole run
        raise TimeoutError("`search index` blocked on a named pipe")

    previous = signal.signal(signal.SIGALRM, blocked)
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        code, _, err = run_cli(
            capsys,
            "index",
            str(root / "pipe.txt"),
            "--index-dir",
            str(tmp_path / "pipe-index"),
            "-v",
        )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert code == 0, err
    assert "pipe.txt: not a regular file (named pipe)" in err and "0 added" in err


def deep_file(root: Path) -> Path:
    return root.joinpath(*[f"d{n:02d}" for n in range(60)], "deep.txt")


# -- safe loading ------------------------------------------------------------------------------


def python_files() -> list[Path]:
    return sorted(p for folder in SOURCE_FOLDERS for p in (REPO / folder).rglob("*.py"))


def test_no_pickle_and_torch_load_only_with_weights_only() -> None:
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(
                    n.split(".")[0] in ("pickle", "cPickle", "dill", "joblib") for n in names
                ), f"{path}:{node.lineno} imports pickle"
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("torch.load"):
                weights_only = [k for k in node.keywords if k.arg == "weights_only"]
                assert weights_only and getattr(weights_only[0].value, "value", None) is True, (
                    f"{path}:{node.lineno}: torch.load without weights_only=True"
                )


def _constant_sql(node: ast.expr, constants: set[str]) -> bool:
    """Whether SQL text is built only from literals and module-level UPPER_CASE constants (or
    local names bound to them), never from data."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return all(
            isinstance(part, ast.Constant) or _constant_sql(part.value, constants)
            for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _constant_sql(node.left, constants) and _constant_sql(node.right, constants)
    if isinstance(node, ast.Name):  # a local bound to fixed SQL, or a module constant
        return node.id in constants or node.id.lstrip("_").isupper()
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_constant_sql(element, constants) for element in node.elts)
    if isinstance(node, ast.Subscript):  # SQL_BY_KIND[kind]: one of a fixed set of statements
        return isinstance(node.value, ast.Name) and node.value.id.lstrip("_").isupper()
    return False


SQL_METHODS = ("_sql", "execute", "rows", "iter_rows")


def test_sql_is_never_built_from_data() -> None:
    """Every execute() takes fixed SQL text; values travel as bound parameters."""
    calls = 0
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            # Local names bound to fixed SQL: literals, entries of constant tables, loop
            # variables over them. Store's _sql, execute, rows and iter_rows pass their argument
            # on; their callers are checked.
            passes_on = function.name in SQL_METHODS and path.name == "store.py"
            constants = {"statement", "sql"} if passes_on else set()
            for node in ast.walk(function):
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target = node.targets[0]
                    if isinstance(target, ast.Name) and _constant_sql(node.value, constants):
                        constants.add(target.id)
                if isinstance(node, ast.For) and isinstance(node.target, ast.Name):
                    if _constant_sql(node.iter, constants):
                        constants.add(node.target.id)
            for node in ast.walk(function):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                if node.func.attr not in ("executemany", "executescript", *SQL_METHODS):
                    continue
                if not node.args:
                    continue
                calls += 1
                assert _constant_sql(node.args[0], constants), (
                    f"{path.relative_to(REPO)}:{node.lineno}: SQL built from data: "
                    f"{ast.unparse(node.args[0])[:80]}"
                )
    assert calls > 20  # the check saw the store's statements


INJECTIONS = ("'; DROP TABLE chunks; --", '" OR 1=1 --', "x' OR '1'='1", 'NEAR("a" "b")')


@pytest.fixture()
def real_model(monkeypatch):
    """`search` commands in this process share one loaded all-MiniLM-L6-v2."""
    from minilm import SentenceEncoder

    encoder = SentenceEncoder.from_pretrained("all-MiniLM-L6-v2", device="cpu")
    use_encoder(monkeypatch, encoder)
    return encoder


@pytest.mark.slow
def test_quotes_and_sql_in_paths_and_queries_are_only_data(tmp_path, real_model, capsys) -> None:
    root = tmp_path / "docs'; DROP TABLE documents; --"
    for n, name in enumerate(INJECTIONS):
        write(root / f"{name.replace('/', '_')}.txt", f"{name} wing lift number {n}")
    index_dir = tmp_path / 'idx" OR 1=1'
    code, _, err = run_cli(capsys, "index", str(root), "--index-dir", str(index_dir))
    assert code == 0, err
    for query in INJECTIONS:
        for mode in ("hybrid", "lexical"):
            code, out, err = run_cli(
                capsys,
                "query",
                query,
                "--index-dir",
                str(index_dir),
                "--json",
                "--mode",
                mode,
                "--path",
                query,
            )
            hits = json.loads(out)
            assert isinstance(hits, list) and code == (0 if hits else 1), err
    # The index survived: every table and every row is still there and consistent.
    store = Store.open(index_dir, create=False)
    assert store.count_documents() == len(INJECTIONS) and store.count_chunks() == len(INJECTIONS)
    store.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    assert {Path(p).name for p in store.all_paths()} == {f"{q}.txt" for q in INJECTIONS}
    store.close()
    code, _, err = run_cli(capsys, "index", str(root), "--index-dir", str(index_dir))
    assert code == 0 and f"{len(INJECTIONS)} unchanged" in err
