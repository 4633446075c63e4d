"""`search mcp`: the MCP server spawned as `python -m searchapp mcp`, driven by the SDK's own
stdio client, on the real bundled model."""

from __future__ import annotations

import importlib.metadata
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from searchapp.search_index import SearchIndex

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]


async def session_calls(index_dir: Path, calls: list[tuple[str, dict]]) -> tuple[str, list, list]:
    """(the server's version, tools listed, results of ``calls``) from one server process."""
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "searchapp", "mcp", "--index-dir", str(index_dir), "--device", "cpu"],
        env={"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"},
        cwd=str(REPO),
    )
    with open(os.devnull, "w") as errlog:
        async with stdio_client(parameters, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                started = await session.initialize()
                tools = (await session.list_tools()).tools
                results = [await session.call_tool(name, arguments) for name, arguments in calls]
    return started.server_info.version, tools, results


def store_state(index_dir: Path) -> tuple:
    index = SearchIndex(index_dir)
    try:
        store = index.store
        return (
            store.get_meta(),
            store.rows("SELECT * FROM documents ORDER BY id"),
            store.rows("SELECT id, document_id, text FROM chunks ORDER BY id"),
        )
    finally:
        index.close()


def test_tools_over_stdio(small_index) -> None:
    folder, index_dir = small_index
    query = "pressure distribution on a wing"
    # One that holds a word of the query BM25 weighs ("on" and "a" it does not).
    document = next(
        path
        for path in sorted(folder.glob("doc*.txt"))[3:]
        if {"pressure", "distribution", "wing"} & set(path.read_text("utf-8").lower().split())
    )
    calls = [
        ("search", {"query": query, "k": 3}),
        ("search", {"query": query, "k": 2, "mode": "lexical", "path": document.name}),
        ("get_document", {"path_or_doc_id": str(document)}),
        ("get_document", {"path_or_doc_id": str(document), "start_line": 2, "end_line": 3}),
        ("get_document", {"path_or_doc_id": "../../etc/passwd"}),
        ("get_document", {"path_or_doc_id": str(folder / ".." / "not-indexed.txt")}),
        ("search", {"query": query, "mode": "fuzzy"}),
        ("search", {"query": "   "}),
        ("search", {"query": query, "k": 4, "per_doc": 2, "min_score": 0.8}),
        ("search", {"query": query, "k": 0, "mode": "fuzzy"}),
        ("get_document", {}),
        ("search", {"query": query, "top_k": 3}),
        ("search", {"query": query, "k": 2, "mode": "lexical", "path": [document.name, "x/"]}),
        ("search", {"query": query, "path": ""}),  # it meant no filter at all
        ("search", {"like": str(document), "k": 3}),  # as `search query --like`
        ("search", {"k": 2}),
        ("search", {"query": query, "like": str(document)}),
        # fixed: each passage holding it up to k, as `search query -F` gives each line
        ("search", {"query": "wing", "fixed": True, "k": 4}),
    ]
    before = store_state(index_dir)
    version, tools, results = anyio.run(session_calls, index_dir, calls)
    assert version == importlib.metadata.version("searchapp")
    assert store_state(index_dir) == before  # nothing the tools do writes to the index

    assert {tool.name for tool in tools} == {"search", "get_document", "info"}
    for tool in tools:
        assert tool.annotations.read_only_hint and not tool.annotations.destructive_hint
    search_tool = next(t for t in tools if t.name == "search")
    assert set(search_tool.input_schema["properties"]) == {
        *("query", "k", "mode", "path"),
        *("min_score", "per_doc", "fixed", "like"),  # as `search serve` takes them
    }

    # The server answers its first search with NumPy's encoder, then loads PyTorch's in the
    # background and answers with it once loaded: each answer is one of the two's.
    references = []
    for torch_loaded in (False, True):
        reference = SearchIndex(index_dir, device="cpu")
        if torch_loaded:
            reference.load_encoder()
        references.append(
            [
                [h.to_json() for h in reference.search(query, k=3)],
                [
                    h.to_json()
                    for h in reference.search(query, k=2, mode="lexical", path_glob=document.name)
                ],
                [h.to_json() for h in reference.search(query, k=4, per_doc=2, min_score=0.8)],
            ]
        )
    expected = references[0]
    assert 0 < len(expected[2]) < 4  # the threshold leaves some

    def same(got: list[dict], hits: list[dict]) -> bool:
        # A hit without what it does not have: a doc_id that is its path, nulls, no copies.
        assert all("doc_id" not in hit and "page" not in hit and "also" not in hit for hit in got)
        numbers = ("score", "cosine")
        return [h["chunk_id"] for h in got] == [h["chunk_id"] for h in hits] and all(
            {k: v for k, v in mine.items() if k not in numbers}
            == {
                k: v
                for k, v in theirs.items()
                if k not in numbers and v not in (None, []) and k != "doc_id"
            }
            and theirs["doc_id"] == theirs["path"]
            and all(abs(mine[key] - theirs[key]) <= 1e-5 for key in numbers)
            for mine, theirs in zip(got, hits)
        )

    for n, result in enumerate([*results[:2], results[8]]):
        assert not result.is_error
        got = result.structured_content["hits"]
        assert any(same(got, reference[n]) for reference in references), (n, got)
        assert json.loads(result.content[0].text) == result.structured_content
    assert same(results[0].structured_content["hits"], references[0][0])  # NumPy's, first
    assert len(expected[1]) == 1  # the path glob kept one document
    # Several paths, as serve's repeated path= and the CLI's --path take them.
    several = results[12].structured_content["hits"]
    assert [h["chunk_id"] for h in several] == [h["chunk_id"] for h in expected[1]]

    whole, part = results[2].structured_content, results[3].structured_content
    expected_whole = reference.get_document(str(document)).to_json()
    assert whole == {**expected_whole, "next_start_line": None, "notes": []}
    assert whole["text"] == document.read_text("utf-8").rstrip()
    assert part["text"] == "\n".join(whole["text"].split("\n")[1:3])
    assert (part["start_line"], part["end_line"]) == (2, 3)

    for refused in results[4:6]:
        assert refused.is_error and "not an indexed document" in refused.content[0].text
    assert results[6].is_error and "mode" in results[6].content[0].text
    assert results[7].is_error and "the query is empty" in results[7].content[0].text
    # Arguments the schema refuses: one line each, naming the argument and the value given.
    assert results[13].is_error
    assert (
        results[13].content[0].text.endswith("path is empty; leave it out to search every document")
    )
    assert [(r.is_error, r.content[0].text) for r in results[9:12]] == [
        (
            True,
            "invalid arguments for search: k: input should be greater than or equal to 1 "
            "(got 0); mode: input should be 'hybrid', 'dense' or 'lexical' (got \"fuzzy\")",
        ),
        (True, "invalid arguments for get_document: path_or_doc_id: field required"),
        # A misspelt argument was dropped unsaid: 10 hits, not the 3 asked for.
        (
            True,
            "invalid arguments for search: unknown 'top_k'; it takes query, k, mode, path, "
            "min_score, per_doc, fixed, like",
        ),
    ]
    related = results[14].structured_content["hits"]
    expected_related = [h.to_json() for h in reference.search("", k=3, like=str(document))]
    assert related and same(related, expected_related)
    assert str(document) not in {h["path"] for h in related}
    assert results[15].is_error and results[15].content[0].text.endswith("query is missing")
    assert results[16].is_error
    assert results[16].content[0].text.endswith("give query or like, not both")
    fixed = results[17].structured_content["hits"]
    expected_fixed = [h.to_json() for h in reference.search("wing", k=4, fixed=True, per_doc=4)]
    # (the server's answer is NumPy's encoder's or PyTorch's: the same passages)
    assert {h["chunk_id"] for h in fixed} == {h["chunk_id"] for h in expected_fixed}
    assert len({h["path"] for h in fixed}) < len(fixed) == 4  # not one a document


def test_mcp_without_an_index_serves_and_says_so_at_each_call(tmp_path) -> None:
    # It exited before answering `initialize`: a client set up before the first `search index`
    # saw "server disconnected", and no reason.
    _, _, results = anyio.run(
        session_calls, tmp_path / "none", [("search", {"query": "wing"}), ("info", {})]
    )
    for result in results:
        assert result.is_error
        assert f"no index at {tmp_path / 'none'}; run `search index" in result.content[0].text
    assert not (tmp_path / "none").exists()
    completed = subprocess.run(
        [sys.executable, "-m", "searchapp", "mcp", "--index-dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert completed.returncode == 0 and completed.stdout == ""  # stdout is the protocol's
    assert completed.stderr.startswith("warning: no index at")


def test_a_search_of_an_index_of_nothing_yet_says_so(tmp_path) -> None:
    # `{"hits": [], "notes": []}`: an agent could not tell an empty index from a miss (the CLI
    # says it).
    (tmp_path / "empty").mkdir()
    SearchIndex(tmp_path / "idx").add([tmp_path / "empty"])
    _, _, results = anyio.run(session_calls, tmp_path / "idx", [("search", {"query": "wing"})])
    answer = json.loads(results[0].content[0].text)
    assert answer["hits"] == []
    assert answer["notes"] == [
        f"the index holds no documents yet; `search index PATH --index-dir {tmp_path / 'idx'}` "
        "adds some"
    ]


async def watched_session(index_dir: Path, notes: Path, errlog: Path) -> list[dict]:
    """`search mcp --watch NOTES`: a search as it starts, then once the notes are indexed,
    then after a note is added; each answer's JSON."""
    parameters = StdioServerParameters(
        command=sys.executable,
        args=["-m", "searchapp", "mcp", "--index-dir", str(index_dir), "--device", "cpu"]
        + ["--watch", str(notes), "--debounce", "200"],
        env={"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"},
        cwd=str(REPO),
    )

    async def until(session: ClientSession, query: str, found) -> dict:
        answer: object = None
        for _ in range(600):  # the model loads, the folder is indexed: seconds
            result = await session.call_tool("search", {"query": query})
            answer = result.content[0].text
            if not result.is_error:
                answer = json.loads(answer)
                # Not "`search index` adds some" while this server adds them.
                assert not any("holds no documents" in note for note in answer["notes"]), answer
                if found(answer):
                    return answer
            await anyio.sleep(0.1)
        raise AssertionError(f"no answer for {query!r} within a minute: {answer}")

    answers = []
    with open(errlog, "w") as log:
        async with stdio_client(parameters, errlog=log) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                first = await session.call_tool("search", {"query": "glider stall"})
                answers.append({"error": first.is_error, "text": first.content[0].text})
                answers.append(await until(session, "glider stall", lambda a: a["hits"]))
                (notes / "new.md").write_text("# Kite\n\nThe kite line snapped.\n", "utf-8")
                answers.append(
                    await until(
                        session,
                        "kite line snapped",
                        lambda a: a["hits"] and a["hits"][0]["path"].endswith("new.md"),
                    )
                )
    return answers


def test_mcp_watch_indexes_its_paths_and_keeps_them_fresh(tmp_path) -> None:
    # `search serve` had --watch; `search mcp` had none, so an agent's index went stale
    # unless `search watch` ran beside it (an Obsidian user's trial).
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "flight.md").write_text("# Flight\n\nThe glider stalls at low speed.\n", "utf-8")
    first, indexed, fresh = anyio.run(
        watched_session, tmp_path / "idx", notes, tmp_path / "stderr.txt"
    )
    # At once, before the index is made: no hits and a note that says so (an error made an
    # agent give up; a plain "no index ..." told it to run `search index`), or already hits.
    assert not first["error"], first
    answer = json.loads(first["text"])
    assert answer["hits"] or answer["notes"] == [
        "the index is being built from the --watch paths; try again in a moment"
    ]
    assert indexed["hits"][0]["path"] == str(notes / "flight.md")
    assert fresh["hits"][0]["path"] == str(notes / "new.md") and fresh["notes"] == []
    log = (tmp_path / "stderr.txt").read_text("utf-8")
    assert "indexing the watched paths" in log and "indexed: 1 added" in log, log
    assert "1 added" in log.split("indexed:")[1], log  # the note added, a batch of its own


def test_ctrl_c_during_mcp_watch_s_first_indexing_keeps_what_it_committed(tmp_path) -> None:
    # Ended at once, the first indexing left its folder unrecorded: `search index` then said
    # "no file or folder left to update" (a helper's trial).
    notes = tmp_path / "notes"
    notes.mkdir()
    for n in range(60):
        body = " ".join(f"paragraph {n} sentence {m} about gliders and kites." for m in range(60))
        (notes / f"note{n:02d}.md").write_text(f"# Note {n}\n\n{body}\n", "utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "searchapp", "mcp", "--index-dir", str(tmp_path / "idx")]
        + ["--device", "cpu", "--watch", str(notes)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"},
    )
    try:
        assert b"indexing the watched paths" in process.stderr.readline()
        time.sleep(2)  # the model loads, passages are embedded
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert b"stopped" in err, err  # what was kept, as `search watch` says
    done = subprocess.run(
        [sys.executable, "-m", "searchapp", "index", "--index-dir", str(tmp_path / "idx")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"},
        timeout=300,
    )
    assert done.returncode == 0 and "updating" in done.stderr, done.stderr  # its folder


def test_mcp_refuses_watch_options_without_watch(tmp_path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "searchapp", "mcp", "--index-dir", str(tmp_path), "--debounce", "5"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert completed.returncode == 2 and completed.stdout == ""
    assert "--debounce applies to --watch PATH; add it or drop it" in completed.stderr


HELLO = {
    "protocolVersion": "2025-06-18",
    "capabilities": {},
    "clientInfo": {"name": "test", "version": "1"},
}


def mcp_process(index_dir: Path, **popen: object) -> subprocess.Popen:
    """`search mcp` started, its stdin, stdout and stderr pipes."""
    return subprocess.Popen(
        [sys.executable, "-m", "searchapp", "mcp", "--index-dir", str(index_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"},
        **popen,
    )


def started_mcp(index_dir: Path, **popen: object) -> subprocess.Popen:
    """`search mcp` as a client starts it, once it has answered ``initialize``."""
    process = mcp_process(index_dir, **popen)
    request = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": HELLO}
    process.stdin.write(json.dumps(request).encode() + b"\n")
    process.stdin.flush()
    assert json.loads(process.stdout.readline())["id"] == 1  # serving
    return process


def lines_within(stream, count: int, seconds: float) -> list[bytes]:
    """The next ``count`` lines of a child's stdout, or a failure once ``seconds`` pass."""
    lines: queue.Queue[bytes] = queue.Queue()
    read = lambda: [lines.put(stream.readline()) for _ in range(count)]  # noqa: E731
    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + seconds
    return [lines.get(timeout=max(0, deadline - time.monotonic())) for _ in range(count)]


def test_ctrl_c_ends_the_server_at_once_while_the_client_keeps_stdin_open(small_index) -> None:
    process = started_mcp(small_index[1])
    try:
        process.send_signal(signal.SIGINT)
        sent = time.monotonic()
        process.wait(timeout=10)  # stdin still open: it used to wait for the client to close it
        assert time.monotonic() - sent < 5
        assert process.returncode == 130
        assert process.stderr.read().decode().strip().splitlines()[-1] == "interrupted"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_server_started_with_ctrl_c_ignored_goes_on_ignoring_it(small_index) -> None:
    # As `search mcp &` from a script starts it: SIGINT ignored, inherited from the parent.
    ignore = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)  # noqa: E731
    process = started_mcp(small_index[1], preexec_fn=ignore)
    try:
        process.send_signal(signal.SIGINT)
        time.sleep(1)
        assert process.poll() is None  # still serving
        process.stdin.close()  # the client leaves: it ends as it always did
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_request_before_initialize_is_told_so(small_index) -> None:
    # It was answered "Invalid request parameters" with nothing to say what was wrong.
    process = mcp_process(small_index[1])
    requests = [
        {"jsonrpc": "2.0", "id": 7, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 8, "method": "ping"},  # allowed before initialize
        {"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": HELLO},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 10, "method": "tools/list"},
    ]
    out, _ = process.communicate(b"".join(json.dumps(r).encode() + b"\n" for r in requests), 60)
    replies = [json.loads(line) for line in out.splitlines()]
    assert [reply["id"] for reply in replies] == [7, 8, 9, 10]
    assert replies[0]["error"]["code"] == -32600
    assert "not initialized: send initialize" in replies[0]["error"]["message"]
    assert "error" not in replies[1] and "error" not in replies[2]
    assert {tool["name"] for tool in replies[3]["result"]["tools"]} == {
        "search",
        "get_document",
        "info",
    }
    assert process.returncode == 0


def test_lines_that_are_no_message_are_answered_and_the_session_goes_on(small_index) -> None:
    process = started_mcp(small_index[1])
    try:
        lines = [
            b'{"jsonrpc": "2.0", "id": 2, "method": "tools/list"',  # cut short: not JSON
            b"",  # a blank line is no message: no answer
            b'{"jsonrpc": "2.0", "id": 3, "params": {}}',  # JSON, but no method
            b"[1, 2]",  # a batch, which MCP does not take
            # A wrong member: its id was not echoed (the problem held "1.0", not the message)
            b'{"jsonrpc": "1.0", "id": 5, "method": "ping"}',
            b'{"jsonrpc": "2.0", "id": 6, "method": "ping", "params": [1]}',
            b'{"jsonrpc": "2.0", "id": 4, "method": "tools/list"}',
        ]
        process.stdin.write(b"\n".join(lines) + b"\n")
        process.stdin.flush()
        replies = [json.loads(line) for line in lines_within(process.stdout, 6, 30)]
        assert [(reply.get("id"), reply.get("error", {}).get("code")) for reply in replies] == [
            (None, -32700),
            (3, -32600),
            (None, -32600),
            (5, -32600),
            (6, -32600),
            (4, None),
        ]
        assert "Parse error" in replies[0]["error"]["message"]
        assert "a batch (a JSON array), which MCP does not take" in replies[2]["error"]["message"]
        tools = {tool["name"] for tool in replies[5]["result"]["tools"]}
        assert tools == {"search", "get_document", "info"}
    finally:
        process.stdin.close()
        assert process.wait(timeout=30) == 0


def test_requests_sent_before_stdin_closes_are_all_answered(small_index) -> None:
    # `printf REQUESTS | search mcp`: stdin ends right after the last request.
    hello = {"protocolVersion": "2025-06-18", "capabilities": {}}
    hello["clientInfo"] = {"name": "test", "version": "1"}
    search = {"name": "search", "arguments": {"query": "pressure on a wing", "k": 2}}
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": search},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": search},
    ]
    completed = subprocess.run(
        [sys.executable, "-m", "searchapp", "mcp", "--index-dir", str(small_index[1])],
        input="".join(json.dumps(request) + "\n" for request in requests),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    replies = {reply["id"]: reply for reply in map(json.loads, completed.stdout.splitlines())}
    assert sorted(replies) == [1, 2, 3, 4]
    hits = [replies[n]["result"]["structuredContent"]["hits"] for n in (2, 4)]
    assert len(hits[0]) == 2 and hits[0] == hits[1]
