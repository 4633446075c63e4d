"""What one MCP answer may hold: an agent's context is small, so a long document comes in pages
and a search in at most ``MAX_HITS`` passages. In process, on a fake encoder: no model."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import anyio
import pytest

pytest.importorskip("mcp")

from searchapp.interfaces import mcp_server  # noqa: E402
from searchapp.interfaces.index_thread import IndexThread  # noqa: E402
from searchapp.interfaces.mcp_server import (  # noqa: E402
    MAX_DOCUMENT_CHARS,
    MAX_DOCUMENT_LINES,
    MAX_HITS,
    build_server,
)
from searchapp.search_index import SearchIndex  # noqa: E402
from tests.searchapp.conftest import FakeEncoder  # noqa: E402


def indexed(tmp_path: Path, files: dict[str, str]) -> tuple[Path, Path]:
    """(the folder of ``files``, an index of it built with the fake encoder)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in files.items():
        (docs / name).write_text(text, "utf-8")
    index_dir = tmp_path / "idx"
    SearchIndex(index_dir, encoder=FakeEncoder()).add([docs])
    return docs, index_dir


def call(index_dir: Path, name: str, arguments: dict):
    index_thread = IndexThread(SearchIndex(index_dir, encoder=FakeEncoder()))
    try:
        server = build_server(index_thread)
        return anyio.run(server.call_tool, name, arguments)
    finally:
        index_thread.close()


def test_a_long_document_comes_in_pages(tmp_path) -> None:
    # A 3,825-line file came whole: 149,000 characters of an agent's context in one answer.
    lines = [f"line {n}" for n in range(1, 1001)]
    files = {"long.txt": "\n".join(lines) + "\n", "short.txt": "one\ntwo\n"}
    docs, index_dir = indexed(tmp_path, files)
    path = str(docs / "long.txt")
    pages, start = [], 1
    while start is not None:
        page = call(index_dir, "get_document", {"path_or_doc_id": path, "start_line": start})
        got = page.structured_content
        pages.append(got)
        start = got["next_start_line"]
    assert [(p["start_line"], p["end_line"]) for p in pages] == [
        (1, MAX_DOCUMENT_LINES),
        (MAX_DOCUMENT_LINES + 1, 2 * MAX_DOCUMENT_LINES),
        (2 * MAX_DOCUMENT_LINES + 1, 1000),
    ]
    assert "\n".join(p["text"] for p in pages) == "\n".join(lines)
    assert all(p["line_count"] == 1000 for p in pages)
    whole = call(index_dir, "get_document", {"path_or_doc_id": path}).structured_content
    assert whole == pages[0]  # no range: the first page, and where the next begins
    # A range within the most is given as asked, and says there is no more of what was asked.
    part = call(index_dir, "get_document", {"path_or_doc_id": path, "start_line": 5, "end_line": 9})
    assert part.structured_content["text"] == "\n".join(lines[4:9])
    assert part.structured_content["next_start_line"] is None
    short = call(index_dir, "get_document", {"path_or_doc_id": str(docs / "short.txt")})
    assert short.structured_content["text"] == "one\ntwo"
    assert short.structured_content["next_start_line"] is None


def pages_of(index_dir: Path, path: str) -> list[dict]:
    """Every answer of get_document, from line 1, following next_start_line."""
    pages, start = [], 1
    while start is not None:
        got = call(index_dir, "get_document", {"path_or_doc_id": path, "start_line": start})
        pages.append(got.structured_content)
        start = pages[-1]["next_start_line"]
    return pages


def test_long_lines_come_in_pages_of_at_most_max_document_chars(tmp_path) -> None:
    # 60 lines of a transcript kept a paragraph a line came in one answer: 602,854 characters.
    words = "the committee discussed budget travel plans and deadlines".split()
    lines = [" ".join(words[(n + i) % len(words)] for i in range(1700)) for n in range(60)]
    docs, index_dir = indexed(tmp_path, {"transcript.txt": "\n".join(lines) + "\n"})
    pages = pages_of(index_dir, str(docs / "transcript.txt"))
    assert len(pages) > 1
    assert all(len(page["text"]) <= MAX_DOCUMENT_CHARS for page in pages)
    assert "\n".join(page["text"] for page in pages) == "\n".join(lines)  # nothing lost
    assert [p["start_line"] for p in pages[1:]] == [p["end_line"] + 1 for p in pages[:-1]]
    assert all(page["notes"] == [] for page in pages)


def test_a_line_longer_than_an_answer_is_given_cut_with_a_note(tmp_path) -> None:
    long_line = "word " * (MAX_DOCUMENT_CHARS // 2)
    docs, index_dir = indexed(tmp_path, {"one.txt": f"first\n{long_line.strip()}\nlast\n"})
    pages = pages_of(index_dir, str(docs / "one.txt"))
    assert [(p["start_line"], p["end_line"]) for p in pages] == [(1, 1), (2, 2), (3, 3)]
    assert pages[1]["text"] == long_line.strip()[:MAX_DOCUMENT_CHARS]
    assert pages[1]["notes"] == [
        f"line 2 is {len(long_line.strip()):,} characters long: its first "
        f"{MAX_DOCUMENT_CHARS:,} are given"
    ]
    assert pages[2]["text"] == "last" and pages[2]["next_start_line"] is None
    # The cut line the last asked for (or the file's last): no next line to ask for.
    path = str(docs / "one.txt")
    arguments = {"path_or_doc_id": path, "start_line": 2, "end_line": 2}
    alone = call(index_dir, "get_document", arguments).structured_content
    assert (alone["end_line"], alone["next_start_line"]) == (2, None)
    (docs / "end.txt").write_text(f"first\n{long_line.strip()}\n", "utf-8")
    SearchIndex(index_dir, encoder=FakeEncoder()).add([docs])
    assert [p["next_start_line"] for p in pages_of(index_dir, str(docs / "end.txt"))] == [2, None]


def test_a_document_tells_the_agent_its_file_changed_since_it_was_indexed(tmp_path) -> None:
    # `search get` said so on stderr; get_document gave the old lines without a word.
    docs, index_dir = indexed(tmp_path, {"a.txt": "wing lift\n"})
    path = str(docs / "a.txt")
    assert (
        call(index_dir, "get_document", {"path_or_doc_id": path}).structured_content["notes"] == []
    )
    (docs / "a.txt").write_text("a new first line\nwing lift\n", "utf-8")
    got = call(index_dir, "get_document", {"path_or_doc_id": path}).structured_content
    assert got["text"] == "wing lift"  # as indexed
    assert got["notes"] == [f"{path} changed since it was indexed: its lines may have moved"]


def test_a_search_returns_at_most_max_hits(tmp_path) -> None:
    docs, index_dir = indexed(tmp_path, {"a.txt": "wing\n"})
    # In process the SDK raises what it answers a client with (is_error, the same text).
    with pytest.raises(Exception, match=f"k: input should be less than or equal to {MAX_HITS}"):
        call(index_dir, "search", {"query": "wing", "k": MAX_HITS + 1})
    assert not call(index_dir, "search", {"query": "wing", "k": MAX_HITS}).is_error


def test_a_search_answer_holds_at_most_max_search_chars_of_passages(tmp_path, monkeypatch) -> None:
    # k=100 answered 99,140 characters (~25,000 tokens): past what an agent takes from a call.
    # (The fake encoder's passages are short: the limit is taken down to their scale.)
    limit = 2_000
    monkeypatch.setattr(mcp_server, "MAX_SEARCH_CHARS", limit)
    files = {f"n{i:03}.txt": f"wing lift drag note {i}\n" for i in range(MAX_HITS)}
    docs, index_dir = indexed(tmp_path, files)
    answer = call(index_dir, "search", {"query": "wing", "k": MAX_HITS, "mode": "lexical"})
    got = answer.structured_content
    size = sum(len(hit["text"]) for hit in got["hits"])
    assert size <= limit < size + len(got["hits"][0]["text"])
    left = MAX_HITS - len(got["hits"])
    assert left > 0 and f"{left} more hits left out" in got["notes"][-1]
    # The text an agent reads is that answer as JSON on one line: the SDK's indenting was a
    # tenth of it in spaces.
    [content] = answer.content
    assert "\n" not in content.text and json.loads(content.text) == got
    small = call(index_dir, "search", {"query": "wing", "k": 5, "mode": "lexical"})
    assert len(small.structured_content["hits"]) == 5 and small.structured_content["notes"] == []


def test_errors_name_the_tools_arguments_not_the_clis_options(tmp_path) -> None:
    docs, index_dir = indexed(tmp_path, {"a.txt": "wing\n"})
    with pytest.raises(
        Exception, match=r"search: path \('\['\) opens a \[\.\.\.\] class"
    ) as raised:
        call(index_dir, "search", {"query": "wing", "path": "["})
    assert "--" not in str(raised.value)  # an agent was told of --path, which it cannot give


def test_info_tells_an_agent_what_is_indexed(tmp_path) -> None:
    # An agent had no way to see which folders were indexed, or when (HTTP had /info).
    docs, index_dir = indexed(tmp_path, {"a.txt": "wing\n"})
    got = call(index_dir, "info", {}).structured_content
    reference = SearchIndex(index_dir, encoder=FakeEncoder())
    try:
        expected = json.loads(json.dumps(reference.stats()))
    finally:
        reference.close()
    expected.pop("db_bytes"), got.pop("db_bytes")  # the WAL's size moves as it is read
    assert got == expected
    assert [root["path"] for root in got["roots"]] == [str(docs)]
    assert got["documents"] == 1


def test_a_search_tells_the_agent_what_it_warned_of(tmp_path) -> None:
    # The warnings went to the server's stderr, where no agent reads them: a quote no passage
    # holds, searched as words, looked like an answer to the phrase.
    docs, index_dir = indexed(tmp_path, {"a.txt": "wing lift\n"})
    plain = call(index_dir, "search", {"query": "wing", "mode": "lexical"}).structured_content
    assert plain["notes"] == [] and len(plain["hits"]) == 1
    quoted = call(index_dir, "search", {"query": 'wing "lift wing"', "mode": "lexical"})
    notes = quoted.structured_content["notes"]
    assert len(quoted.structured_content["hits"]) == 1
    assert notes == [
        'no passage holds "lift wing" as written; searching its words in any order instead'
    ]
    typo = call(index_dir, "search", {"query": "wing", "path": ["nothing/", "*.mdx"]})
    assert typo.structured_content == {
        "hits": [],
        "notes": ["no indexed document matches path 'nothing/' or '*.mdx'"],
    }


def test_mode_in_capitals_and_arguments_to_a_tool_that_takes_none(tmp_path) -> None:
    # `--mode HYBRID` and `mode=HYBRID` work in the CLI and over HTTP; MCP refused it. And
    # `info` given an argument said "...; it takes " and nothing after.
    docs, index_dir = indexed(tmp_path, {"a.txt": "wing\n"})
    lower = call(index_dir, "search", {"query": "wing", "mode": "lexical"}).structured_content
    upper = call(index_dir, "search", {"query": "wing", "mode": " LEXICAL"}).structured_content
    assert upper == lower and lower["hits"]
    with pytest.raises(Exception, match=r"info: unknown 'x'; it takes no arguments$"):
        call(index_dir, "info", {"x": 1})


@pytest.mark.parametrize(
    ("tool", "arguments", "problem"),
    [
        ("search", {"k": "5"}, 'k: input should be a valid integer (got "5")'),
        ("search", {"k": True}, "k: input should be a valid integer (got true)"),
        ("search", {"per_doc": "2"}, 'per_doc: input should be a valid integer (got "2")'),
        ("search", {"min_score": True}, "min_score: input should be a valid number (got true)"),
        ("search", {"min_score": "nan"}, 'min_score: input should be a valid number (got "nan")'),
        ("get_document", {"start_line": "3"}, "start_line: input should be a valid integer"),
    ],
)
def test_numbers_given_as_text_or_booleans_are_refused(tmp_path, tool, arguments, problem):
    # The schema says "integer" and "number", yet "5" and true were taken (5 hits, 1 hit),
    # and min_score "nan" was refused as "less than or equal to 4".
    docs, index_dir = indexed(tmp_path, {"a.txt": "wing\n"})
    given = {"query": "wing"} if tool == "search" else {"path_or_doc_id": str(docs / "a.txt")}
    with pytest.raises(Exception, match=re.escape(f"invalid arguments for {tool}: {problem}")):
        call(index_dir, tool, {**given, **arguments})
    assert not call(index_dir, tool, given).is_error


def test_a_search_tells_the_agent_a_hits_file_changed_since_it_was_indexed(tmp_path) -> None:
    # The CLI said so on stderr; an agent, over MCP or HTTP, got path:line with no word that the
    # line may have moved.
    docs, index_dir = indexed(tmp_path, {"a.txt": "wing lift\n", "b.txt": "wing drag\n"})
    arguments = {"query": "wing", "k": 2, "mode": "lexical"}
    assert call(index_dir, "search", arguments).structured_content["notes"] == []
    (docs / "a.txt").write_text("a new first line\nwing lift\n", "utf-8")
    (docs / "b.txt").unlink()
    got = call(index_dir, "search", arguments).structured_content
    assert len(got["hits"]) == 2
    assert sorted(got["notes"]) == [
        f"{docs / 'a.txt'} changed since it was indexed: its lines may have moved",
        f"{docs / 'b.txt'} is gone since it was indexed",
    ]


def test_a_changed_file_is_hashed_once_for_each_state_of_it(tmp_path, monkeypatch) -> None:
    # A server asked at every query: a big log touched since indexing was read and hashed
    # again for each request.
    import hashlib

    docs, index_dir = indexed(tmp_path, {"a.txt": "wing lift\n"})
    os.utime(docs / "a.txt", ns=(1, 1))  # its times moved, its text did not
    index = SearchIndex(index_dir, encoder=FakeEncoder())
    hits = index.search("wing", mode="lexical")
    hashed = []
    real_sha256 = hashlib.sha256
    monkeypatch.setattr(hashlib, "sha256", lambda data: hashed.append(1) or real_sha256(data))
    assert index.changed_files(hits) == {} and index.changed_files(hits) == {}
    assert len(hashed) == 1
    (docs / "a.txt").write_text("wing lift, edited\n", "utf-8")
    assert index.changed_files(hits) == {str(docs / "a.txt"): "changed"}
    assert len(hashed) == 2
    index.close()


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("search", {"query": "wing", "bogus": 1}),
        ("info", {"x": 1}),
        ("get_document", {"extra": 1}),
        ("search", {"query": ""}),
        ("get_document", {"path_or_doc_id": ""}),
        ("search", {"query": "wing", "k": 0}),
        ("search", {"query": "wing", "k": "5"}),
        ("search", {"query": "wing", "k": 5.5}),
        ("search", {"query": "wing", "mode": "both"}),
        ("search", {"query": "wing", "k": 5.0}),
        ("search", {"query": "wing", "per_doc": 2.0}),
        ("get_document", {"start_line": 1.0, "end_line": 2.0}),
        ("search", {"query": "wing", "k": 3, "path": "*.txt"}),
    ],
)
def test_the_advertised_schema_takes_what_the_tool_takes(tmp_path, tool, arguments) -> None:
    # Unknown arguments, "" and 5.0 were valid by the schema, yet refused (or 5.0 refused though
    # JSON Schema's "integer" takes it): a client checking arguments against it was misled.
    jsonschema = pytest.importorskip("jsonschema")
    docs, index_dir = indexed(tmp_path, {"a.txt": "wing\n"})
    if tool == "get_document":
        arguments = {"path_or_doc_id": str(docs / "a.txt"), **arguments}
    index_thread = IndexThread(SearchIndex(index_dir, encoder=FakeEncoder()))
    try:
        server = build_server(index_thread)
        (schema,) = [t.input_schema for t in anyio.run(server.list_tools) if t.name == tool]
        try:
            anyio.run(server.call_tool, tool, arguments)
            taken = True
        except Exception:
            taken = False
    finally:
        index_thread.close()
    valid = jsonschema.Draft202012Validator(schema).is_valid(arguments)
    assert valid == taken, (valid, taken)


def test_tool_descriptions_read_as_one_paragraph(tmp_path) -> None:
    # A docstring's line breaks and indentation reached the agent: "at\n        most 400 lines".
    _, index_dir = indexed(tmp_path, {"a.txt": "wing\n"})
    index_thread = IndexThread(SearchIndex(index_dir, encoder=FakeEncoder()))
    try:
        tools = anyio.run(build_server(index_thread).list_tools)
    finally:
        index_thread.close()
    descriptions = {tool.name: tool.description for tool in tools}
    assert set(descriptions) == {"search", "get_document", "info"}
    assert all(text and "\n" not in text and "  " not in text for text in descriptions.values())
    assert "at most 400 lines and 40,000 characters" in descriptions["get_document"]


def test_get_document_gives_the_lines_of_a_pdf_page(tmp_path) -> None:
    # A hit names its page; the tool took lines only, so an agent had to find them.
    from mcp.server.mcpserver.exceptions import ToolError

    from tests.searchapp.ingest.test_formats_pdf import make_pdf

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "paper.pdf").write_bytes(make_pdf(["Intro text.", "", "Third one.\nThird two."]))
    SearchIndex(tmp_path / "idx", encoder=FakeEncoder()).add([docs])
    path = str(docs / "paper.pdf")
    got = call(tmp_path / "idx", "get_document", {"path_or_doc_id": path, "page": 3})
    assert got.structured_content["text"] == "Third one.\nThird two."
    with pytest.raises(ToolError, match="has no text on page 2"):
        call(tmp_path / "idx", "get_document", {"path_or_doc_id": path, "page": 2})
    with pytest.raises(ToolError, match="give page, or start_line and end_line, not both"):
        call(tmp_path / "idx", "get_document", {"path_or_doc_id": path, "page": 3, "end_line": 1})
    (docs / "note.md").write_text("a note without pages\n", "utf-8")
    SearchIndex(tmp_path / "idx", encoder=FakeEncoder()).add([docs])
    note = str(docs / "note.md")
    with pytest.raises(ToolError, match="give start_line and end_line instead"):
        call(tmp_path / "idx", "get_document", {"path_or_doc_id": note, "page": 1})
