"""``search mcp``: a Model Context Protocol server over stdio, built on the official ``mcp`` SDK.

Three read-only tools, each one ``SearchIndex`` call in the index's own thread (``IndexThread``):

- ``search``: ranked passages for a query (the objects of `search query --json`);
- ``get_document``: an indexed document's text, or some of its lines, as indexed;
- ``info``: what the index holds (`search info --json`).

Nothing but indexed text is given out (``get_document``: the stored passages, a file's own
whitespace between them at most) and no
tool writes to the index. Stdout carries the protocol; logging goes to stderr. A line that is
not JSON gets a JSON-RPC parse error (-32700), and JSON that is no JSON-RPC message an invalid
request error (-32600): the SDK's stdio transport drops both without a word. When the client
closes stdin, what it asked before is answered before the server ends.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import (
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    ToolAnnotations,
)
from pydantic import BaseModel, BeforeValidator, Field, ValidationError
from rich.console import Console

from searchapp.errors import IndexNotFoundError, SearchAppError
from searchapp.interfaces.cli_app import package_version
from searchapp.interfaces.index_thread import EMPTY_INDEX_NOTE, IndexThread, document_with_notes
from searchapp.interfaces.serve import INDEXING_NOTE, _finish_following, _watching
from searchapp.ranking.searcher import MAX_SCORE, SearchOptions, in_parameter_terms
from searchapp.search_index import SearchIndex
from searchapp.storage.documents import LAST_LINE
from searchapp.storage.indexed_paths import Filters

logger = logging.getLogger(__name__)

CANCELLED = "notifications/cancelled"
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
INSTRUCTIONS = (
    "Search the user's indexed local files by meaning. `search` returns ranked passages with "
    "their path and line numbers; `get_document` returns an indexed document's text (or a line "
    "range of it) by the doc_id or path a search returned."
)


class SearchHit(BaseModel):
    """One ranked passage, as `search query --json` prints it."""

    rank: int
    score: float = Field(
        description="what the mode ranks by, highest first: hybrid the cosine plus the shares"
        " of BM25, the file's name, word order and definitions (-1 to 4); dense the cosine;"
        " lexical the BM25, word order and definition shares (0 to 2)"
    )
    cosine: float = Field(description="cosine similarity of query and passage")
    path: str
    doc_id: str | None = Field(
        None,
        description=(
            "the document's id where it is not its path (a JSONL record, a mailbox message: "
            "path#id)"
        ),
    )
    record_id: str | None = Field(
        None, description="a JSONL record's own id, or a mailbox message's number (doc_id: path#id)"
    )
    title: str | None = Field(
        None, description="the document's title (its metadata, front matter or first heading)"
    )
    chunk_id: int
    line: int = Field(
        description="the passage's line holding the query's rarest words, else start_line"
    )
    start_line: int
    end_line: int
    page: int | None = Field(None, description="the page of line (PDF), counted from 1")
    page_label: str | None = Field(
        None, description="that page's number as the PDF prints it, where it differs ('iv', '33')"
    )
    section: str | None = Field(
        None, description="the heading path, notebook cell or chapter of line"
    )
    also: list[str] = Field(default_factory=list, description="other files with the same text")
    text: str


class SearchResults(BaseModel):
    hits: list[SearchHit]
    notes: list[str] = Field(
        default_factory=list,
        description="what the search warned of: a query cut to the model's first 256 tokens, "
        "quoted text no passage holds searched as words, a path that matches no document, a "
        "hit's file changed or gone since it was indexed (its lines may have moved)",
    )


# Passages one search returns: 1,000 (HTTP's most) made a 2.3 MB answer, more than an agent's
# context holds.
MAX_HITS = 100
# ...and their passages' characters: k=100 answered 99,140 characters (~25,000 tokens, past
# what agents take from one tool call), as get_document's answers are held to.
MAX_SEARCH_CHARS = 40_000
# Lines one get_document call returns: a whole 3,825-line file was 149,000 characters of an
# agent's context; it pages with start_line instead (``Document.next_start_line``).
MAX_DOCUMENT_LINES = 400
# ...and characters: 60 lines of a transcript kept a paragraph a line were 602,854 characters
# (~150,000 tokens) in one answer. A line longer than this alone is given cut to it.
MAX_DOCUMENT_CHARS = 40_000


class Document(BaseModel):
    """An indexed document's text, or the lines start_line..end_line of it."""

    doc_id: str
    path: str
    title: str | None
    start_line: int
    end_line: int
    line_count: int = Field(description="lines in the whole document")
    text: str
    next_start_line: int | None = Field(
        default=None,
        description=f"the start_line of the next call, when this one stopped short of the "
        f"lines asked for (at most {MAX_DOCUMENT_LINES} lines and {MAX_DOCUMENT_CHARS:,} "
        "characters a call)",
    )
    notes: list[str] = Field(
        default_factory=list,
        description="the document's file changed or went since it was indexed (its lines may "
        "have moved); a line too long for one answer was cut",
    )

    def within_limits(self) -> Document:
        """This answer as one call gives it: its first lines that hold at most
        ``MAX_DOCUMENT_LINES`` lines and ``MAX_DOCUMENT_CHARS`` characters (its first line
        cut to them, when it alone is longer), ``next_start_line`` naming the rest."""
        lines = self.text.split("\n")
        taken = size = 0
        for line in lines[:MAX_DOCUMENT_LINES]:
            size += len(line) + (taken > 0)
            if size > MAX_DOCUMENT_CHARS:
                break
            taken += 1
        if taken == len(lines):
            return self
        notes = self.notes
        if taken == 0:  # one line longer than an answer holds
            taken, lines[0] = 1, lines[0][:MAX_DOCUMENT_CHARS]
            notes = [
                *notes,
                f"line {self.start_line} is {len(self.text.split(chr(10))[0]):,} characters "
                f"long: its first {MAX_DOCUMENT_CHARS:,} are given",
            ]
        end_line = self.start_line + taken - 1
        return self.model_copy(
            update={
                "text": "\n".join(lines[:taken]),
                "end_line": end_line,
                # None when the cut line was the last asked for: nothing of it is left
                "next_start_line": end_line + 1 if end_line < self.end_line else None,
                "notes": notes,
            }
        )


def _integral(value: object) -> object:
    """A whole number written as a float (``5.0``) as the integer it is: JSON Schema's
    "integer" takes it, and the tool refused it. ``"5"`` and ``true`` are still refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WHOLE = BeforeValidator(_integral)  # after a Field: its bounds stay JSON Schema's own


class _Server(MCPServer):
    """The SDK's server, with arguments that fail validation told in one line, as the CLI and
    HTTP tell them (the SDK gave pydantic's multi-line report with a link to its docs)."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        tool = self._tool_manager.get_tool(name)
        if tool is not None and isinstance(arguments, dict):
            # pydantic drops what no parameter names: a misspelt "top_k" was ignored unsaid.
            known = tool.parameters.get("properties", {})
            unknown = [key for key in arguments if key not in known]
            if unknown:
                takes = ", ".join(known) or "no arguments"
                raise ToolError(
                    f"invalid arguments for {name}: unknown {', '.join(map(repr, unknown))}; "
                    f"it takes {takes}"
                )
            if isinstance(arguments.get("mode"), str):  # HYBRID, as the CLI and HTTP take it
                arguments = {**arguments, "mode": arguments["mode"].strip().lower()}
        try:
            result = await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if not isinstance(exc.__cause__, ValidationError):
                raise
            raise ToolError(argument_errors(name, exc.__cause__)) from exc.__cause__
        return _compact(result)


def _compact(result: Any) -> Any:
    """``result`` with its text the structured answer as JSON on one line (the SDK indents it
    by 2, a tenth of a search's answer in spaces an agent reads as tokens), and each hit
    without what it does not have: a doc_id that is its path, a null record_id, title, page or
    section, no copies (45% of a search's answer was other than passages: a Go developer's
    trial)."""
    structured = getattr(result, "structured_content", None)
    content = getattr(result, "content", None)
    if structured is None or not content or len(content) != 1:
        return result
    if isinstance(structured.get("hits"), list):
        structured = {**structured, "hits": [_bare(hit) for hit in structured["hits"]]}
    text = json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
    return result.model_copy(
        update={
            "content": [content[0].model_copy(update={"text": text})],
            "structured_content": structured,
        }
    )


_LEFT_OUT_WHEN_EMPTY = ("record_id", "title", "page", "page_label", "section", "also")


def _bare(hit: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value
        for key, value in hit.items()
        if not (key in _LEFT_OUT_WHEN_EMPTY and value in (None, []))
        and not (key == "doc_id" and value == hit.get("path"))
    }


def argument_errors(tool: str, error: ValidationError) -> str:
    """``error``'s problems with a tool's arguments on one line: what, where, what was given."""
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "arguments"
        message = problem["msg"][0].lower() + problem["msg"][1:]
        given = problem.get("input")
        shown = "" if problem["type"] == "missing" else f" (got {json.dumps(given)[:80]})"
        problems.append(f"{where}: {message}{shown}")
    return f"invalid arguments for {tool}: " + "; ".join(problems)


def _within_limit(hits: list[SearchHit], notes: list[str]) -> SearchResults:
    """The hits whose passages fit in ``MAX_SEARCH_CHARS`` (the first whatever its size); a
    note says how many more there were."""
    kept, size = [], 0
    for hit in hits:
        size += len(hit.text)
        if kept and size > MAX_SEARCH_CHARS:
            break
        kept.append(hit)
    if len(kept) < len(hits):
        notes = [
            *notes,
            f"{len(hits) - len(kept)} more hits left out: an answer holds at most "
            f"{MAX_SEARCH_CHARS:,} characters of passages; ask for fewer (k), or narrow with "
            "path",
        ]
    return SearchResults(hits=kept, notes=notes)


@dataclass
class Watching:
    """What `search mcp --watch` tells each search while it keeps the index fresh: that its
    first indexing of the paths is under way, or that following their changes failed."""

    first_indexing: threading.Event = field(default_factory=threading.Event)
    failed: threading.Event = field(default_factory=threading.Event)

    def notes(self) -> list[str]:
        if self.failed.is_set():
            return [
                "the --watch paths are no longer watched (see the server's stderr): answers "
                "may be stale; restart `search mcp --watch`"
            ]
        return [INDEXING_NOTE] if self.first_indexing.is_set() else []

    def building(self, exc: SearchAppError) -> bool:
        """Whether ``exc`` is that there is no index yet, while the first indexing makes it."""
        return isinstance(exc, IndexNotFoundError) and self.first_indexing.is_set()

    def said(self, exc: SearchAppError) -> str:
        """What a tool answers for ``exc``: no index yet while the first indexing makes it."""
        if self.building(exc):
            return "the index is being built from the --watch paths; try again in a moment"
        return str(exc)


def build_server(index_thread: IndexThread, watching: Watching | None = None) -> MCPServer:
    """The MCP server with its three tools over ``index_thread``'s index."""
    server = _Server(
        "searchapp", version=package_version(), instructions=INSTRUCTIONS, log_level="WARNING"
    )

    @server.tool(annotations=READ_ONLY)
    def search(
        query: Annotated[
            str | None,
            Field(
                description='what to look for, in plain words; "words in double quotes" only '
                "match passages holding them in that order (give query or like)",
                json_schema_extra={"minLength": 1},  # "" is refused: the query is empty
            ),
        ] = None,
        k: Annotated[
            int, Field(ge=1, le=MAX_HITS, strict=True, description="how many passages"), WHOLE
        ] = 10,
        mode: Annotated[
            Literal["hybrid", "dense", "lexical"],
            Field(
                description="hybrid (meaning, words and file names), dense (meaning) or lexical "
                "(words)"
            ),
        ] = "hybrid",
        path: Annotated[
            str | list[str] | None,
            Field(
                description="only documents matching this glob (* within a folder, ** "
                "across folders, {md,txt} either, a leading ! leaves out: '!vendor/') or under "
                "this folder (`crates/` at any depth, an absolute path, `./x/` from the "
                "server's working folder), or any of several",
            ),
        ] = None,
        min_score: Annotated[
            float | None,
            Field(
                ge=-1,
                le=MAX_SCORE,
                strict=True,
                allow_inf_nan=False,
                description="drop hits whose score (to 3 decimals) is below this",
            ),
        ] = None,
        per_doc: Annotated[
            int | None,
            Field(
                ge=1,
                le=MAX_HITS,
                strict=True,
                description="passages of one document at most (1; with fixed, k: each line "
                "holding it, as grep -F)",
            ),
            WHOLE,
        ] = None,
        fixed: Annotated[
            bool,
            Field(
                strict=True,
                description="only passages holding the query as written (case and accents "
                "aside), as grep -F: none found is no hits, not its words in any order",
            ),
        ] = False,
        like: Annotated[
            str | None,
            Field(
                description="instead of a query: a doc_id or path that a search returned; the "
                "passages of other documents nearest its meaning (hybrid or dense)",
                json_schema_extra={"minLength": 1},
            ),
        ] = None,
    ) -> SearchResults:
        """Find the passages of the indexed files that best match a query, or that are
        related to a document (like)."""
        try:
            if (query is None) == (like is None):
                raise SearchAppError("give query or like, not both" if like else "query is missing")
            if path is not None and not path:  # "" or []: it read as no filter at all
                raise SearchAppError("path is empty; leave it out to search every document")
            globs = tuple(path) if isinstance(path, list) else path
            options = SearchOptions(
                k=k,
                mode=mode,
                path_glob=globs or None,
                min_score=min_score,
                per_doc=per_doc if per_doc is not None else k if fixed else 1,
                fixed=fixed,
                like=like,
            )
            hits, notes = index_thread.search(query or "", options)
        except SearchAppError as exc:
            if watching is not None and watching.building(exc):
                # No hits yet, and a note: an error made an agent give up on the tool (a Go
                # developer's trial; the README promised a note).
                return SearchResults(hits=[], notes=[watching.said(exc)])
            said = watching.said(exc) if watching else str(exc)
            raise ToolError(in_parameter_terms(said)) from exc
        if watching is not None and watching.first_indexing.is_set():
            # Not "`search index` adds some" while this server adds them (an agent would say
            # to run it): the note that it is indexing says what there is to know.
            notes = [note for note in notes if not note.startswith(EMPTY_INDEX_NOTE)]
        notes = [*notes, *(watching.notes() if watching else ())]
        return _within_limit([SearchHit(**hit.to_json()) for hit in hits], notes)

    @server.tool(annotations=READ_ONLY)
    def get_document(
        path_or_doc_id: Annotated[
            str,
            Field(
                description="a doc_id or path that a search returned, a note's name, or an "
                "Obsidian link ([[Note]], [[Note#Heading]] for that section alone)",
                json_schema_extra={"minLength": 1},
            ),
        ],
        start_line: Annotated[
            int | None, Field(ge=1, strict=True, description="first line (from 1)"), WHOLE
        ] = None,
        end_line: Annotated[
            int | None, Field(ge=1, strict=True, description="last line, included"), WHOLE
        ] = None,
        page: Annotated[
            int | None,
            Field(
                ge=1,
                strict=True,
                description="only this page of a PDF (or slide of a deck), as a hit names "
                "it (not with "
                "start_line or end_line)",
            ),
            WHOLE,
        ] = None,
    ) -> Document:
        """An indexed document's text as it was indexed, whole, a range of its lines or one
        page of a PDF, at most 400 lines and 40,000 characters a call (next_start_line says
        where the rest begins)."""
        lines = None
        if start_line is not None or end_line is not None:
            lines = (start_line or 1, end_line or LAST_LINE)
        if page is not None and lines is not None:
            raise ToolError("give page, or start_line and end_line, not both")
        pages = (page, page) if page is not None else None
        try:
            document, notes = index_thread.call(
                lambda index: document_with_notes(index, path_or_doc_id, lines, pages)
            )
        except SearchAppError as exc:  # the CLI's option named as this tool names it
            said = watching.said(exc) if watching else str(exc)
            said = said.replace("--lines", "start_line and end_line")
            raise ToolError(said.replace("--page", "page")) from exc
        return Document(**document.to_json(), notes=notes).within_limits()

    @server.tool(annotations=READ_ONLY)
    def info() -> dict[str, Any]:
        """What the index holds, as `search info --json` prints it: the model, the indexed
        folders (documents, filters), documents, passages, sizes, when it was last indexed."""
        try:
            return index_thread.call(lambda index: index.stats())
        except SearchAppError as exc:
            if watching is not None and watching.building(exc):
                return {"documents": 0, "chunks": 0, "notes": [watching.said(exc)]}
            raise ToolError(watching.said(exc) if watching else str(exc)) from exc

    for tool in server._tool_manager.list_tools():  # as ``_Server.call_tool`` refuses them
        tool.parameters["additionalProperties"] = False
        # A docstring's line breaks and indentation reached the agent ("at\n        most").
        tool.description = " ".join((tool.description or "").split())
    return server


def serve_stdio(
    index: SearchIndex,
    *,
    watch_paths: Sequence[str] = (),
    filters: Filters | None = None,
    debounce_ms: int = 1000,
    err: Console | None = None,
) -> None:
    """`search mcp`: answer over stdin/stdout until the client closes them, or Ctrl-C; with
    ``watch_paths``, index them and follow their changes meanwhile, as `search serve --watch`
    does (a Ctrl-C mid-batch rolls that batch back, as a second one does to `search watch`)."""
    index_thread = IndexThread(index)
    stop = threading.Event()
    follower: threading.Thread | None = None
    watching = Watching() if watch_paths else None
    err = err or Console(stderr=True)
    watcher = None
    try:
        if watching is not None:
            follower, watcher = _watching(
                index_thread,
                err,
                stop,
                watch_paths,
                filters or Filters(),
                debounce_ms,
                watching.failed.set,
                watching.first_indexing,
            )
            watching.first_indexing.set()
            err.print("indexing the watched paths; answering from the index as it is meanwhile")
            follower.start()
        else:
            try:
                index_thread.call(lambda search_index: search_index.stats())
            except IndexNotFoundError as exc:
                # Served all the same: a client set up before the first `search index` saw
                # only "server disconnected"; each tool now answers this, until there is one.
                logger.warning("%s; the tools answer so until there is one", exc)
        # Not where SIGINT is ignored (started with `&` from a script) or handled by the caller.
        previous = signal.getsignal(signal.SIGINT)
        ours = threading.current_thread() is threading.main_thread()
        ours = ours and previous is signal.default_int_handler
        if ours:
            handler = _exit_on_interrupt
            if follower is not None and watcher is not None:
                handler = _stop_watching_on_interrupt(stop, follower, watcher, err)
            signal.signal(signal.SIGINT, handler)
        try:
            anyio.run(_serve_stdio, build_server(index_thread, watching))
        finally:
            if ours:
                signal.signal(signal.SIGINT, previous)
    finally:
        stop.set()
        if follower is not None and follower.ident is not None:  # started
            _finish_following(follower, err)
        index_thread.close()


async def _serve_stdio(server: MCPServer) -> None:
    """``server.run("stdio")``, with two changes to the SDK's stdio transport: a line that is
    no JSON-RPC message is answered (see above), and when the client closes stdin, the requests
    it sent before are answered before the server ends (the SDK cancelled them: `printf
    REQUESTS | search mcp` got the first answer only)."""
    lowlevel = server._lowlevel_server  # the SDK's own stdio runner uses it so; nothing public
    async with stdio_server() as (read_stream, write_stream):
        screen = _Screen(read_stream, write_stream)
        await lowlevel.run(screen, screen.writer, lowlevel.create_initialization_options())


class _Screen:
    """The transport's read stream, less the lines it could not read (each answered with a
    JSON-RPC error as the specification asks; a blank line is no message and is skipped), and
    holding back its end until every request read has been answered or cancelled. ``writer``
    is the write stream that sees the answers go out."""

    def __init__(self, read_stream, write_stream) -> None:
        self._read, self._write = read_stream, write_stream
        self._unanswered: set[int | str] = set()
        self._initialize_seen = False
        self.writer = _AnswerWatch(write_stream, self._unanswered)

    @property
    def last_context(self):  # the sender's contextvars, which the SDK's loops restore
        return getattr(self._read, "last_context", None)

    async def receive(self) -> SessionMessage:
        while True:
            try:
                item = await self._read.receive()
            except anyio.EndOfStream:
                while self._unanswered:  # the handlers under way write their answers
                    await anyio.sleep(0.01)
                raise
            if not isinstance(item, Exception):
                if self._before_initialize(item.message):
                    await self._write.send(SessionMessage(_not_initialized(item.message.id)))
                    continue
                self._note(item.message)
                return item
            reply = unreadable_reply(item)
            if reply is not None:
                await self._write.send(SessionMessage(reply))

    def _before_initialize(self, message: object) -> bool:
        """Whether ``message`` is a request the session cannot take yet: one before
        ``initialize`` other than ``ping`` (the SDK answered it "Invalid request parameters")."""
        if not isinstance(message, JSONRPCRequest):
            return False
        if message.method == "initialize":
            self._initialize_seen = True
        return not self._initialize_seen and message.method != "ping"

    def _note(self, message: object) -> None:
        if isinstance(message, JSONRPCRequest):
            self._unanswered.add(message.id)
        elif isinstance(message, JSONRPCNotification) and message.method == CANCELLED:
            self._unanswered.discard((message.params or {}).get("requestId"))

    async def aclose(self) -> None:
        await self._read.aclose()

    def __aiter__(self) -> _Screen:
        return self

    async def __anext__(self) -> SessionMessage:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _Screen:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _AnswerWatch:
    """The transport's write stream, crossing off each request it carries the answer to."""

    def __init__(self, write_stream, unanswered: set[int | str]) -> None:
        self._write, self._unanswered = write_stream, unanswered

    async def send(self, item: SessionMessage) -> None:
        try:
            await self._write.send(item)
        finally:
            if isinstance(item.message, (JSONRPCResponse, JSONRPCError)):
                self._unanswered.discard(item.message.id)

    async def aclose(self) -> None:
        await self._write.aclose()

    async def __aenter__(self) -> _AnswerWatch:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _not_initialized(request_id: int | str) -> JSONRPCError:
    message = "the session is not initialized: send initialize, then notifications/initialized"
    return JSONRPCError(
        jsonrpc="2.0", id=request_id, error=ErrorData(code=INVALID_REQUEST, message=message)
    )


def unreadable_reply(error: Exception) -> JSONRPCError | None:
    """The JSON-RPC error answering a line the transport failed to read as a message, or None
    for a blank line. Its id is the line's own where it has one, else null."""
    problems = error.errors() if isinstance(error, ValidationError) else []
    if problems and problems[0]["type"] == "json_invalid":
        if not str(problems[0].get("input", "x")).strip():
            return None
        return JSONRPCError(
            jsonrpc="2.0",
            id=None,
            error=ErrorData(code=PARSE_ERROR, message="Parse error: not JSON"),
        )
    # Each problem holds the part of the message it is about: the whole message (a dict) for
    # a missing member, a member's value ("1.0") for a wrong one. The id is the message's.
    sent = next((p["input"] for p in problems if isinstance(p.get("input"), dict)), None)
    request_id = sent.get("id") if sent is not None else None
    if isinstance(request_id, bool) or not isinstance(request_id, (int, str)):
        request_id = None
    message = "Invalid Request: not a JSON-RPC 2.0 request, notification or response"
    if any(isinstance(problem.get("input"), list) for problem in problems):
        message = "Invalid Request: a batch (a JSON array), which MCP does not take; one a line"
    return JSONRPCError(
        jsonrpc="2.0", id=request_id, error=ErrorData(code=INVALID_REQUEST, message=message)
    )


def _stop_watching_on_interrupt(
    stop: threading.Event, follower: threading.Thread, watcher: Any, err: Console
) -> Callable[[int, object], None]:
    """Ctrl-C for `search mcp --watch`: the batch under way (the first indexing's too) stops
    where it next commits, so the folders are recorded as indexed and what was kept is said,
    as `search watch` does; a second Ctrl-C ends it at once. Ended at once, the first
    indexing left its folder unrecorded: `search index` then found no folder to update."""
    from searchapp.interfaces.watch import stopped_line

    def interrupted(signum: int, frame: object) -> None:
        if stop.is_set():  # the second
            _exit_on_interrupt(signum, frame)
        stop.set()
        if follower.is_alive():
            err.print(
                "stopping where the batch of changes under way next commits (Ctrl-C again to "
                "stop now)"
            )
            follower.join()
        err.print(stopped_line(watcher))
        sys.stderr.flush()
        os._exit(130)

    return interrupted


def _exit_on_interrupt(signum: int, frame: object) -> None:
    """Ctrl-C ends the server at once, as SIGTERM does. The SDK reads stdin in a worker thread
    that nothing can cancel: after a ``KeyboardInterrupt`` the process waited for the client
    to close stdin (15 s and more by hand). The tools only read the index: nothing is lost."""
    sys.stderr.write("interrupted\n")
    sys.stderr.flush()
    os._exit(130)
