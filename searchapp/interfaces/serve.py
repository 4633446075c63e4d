"""``search serve``: an HTTP JSON API over one loaded model and index, on a loopback address.

    GET /search?q=TEXT&k=10&mode=hybrid&path=GLOB   the hits of `search query --json`
                                                    (path repeated: any of the globs); what
                                                    it warned of in X-Search-Notes
    GET /info                                       what `search info --json` prints
    GET /documents/{doc_id or path}?lines=A-B       an indexed document's text, as indexed
                                                    (?page=N or A-B: a PDF's pages; a JSONL
                                                    record's doc_id is path#id:
                                                    percent-encoded, '#' is %23)

Errors are ``{"error": message}`` with a 4xx status (5xx for a damaged index or a bug). Only
indexed documents are given out (``SearchIndex.get_document``: the stored passages, a file's
own whitespace between them at most),
and nothing here writes to the index. Requests are parsed here and answered by one
``SearchIndex`` call each, in the index's own thread (``IndexThread``), which also reopens what
another process (`search index`, `search watch`) committed.

The standard library's ``ThreadingHTTPServer`` is enough: every search runs in that one thread
anyway, so an asynchronous server would only queue requests in a different place; a thread per
connection (keep-alive, bounded by a timeout) costs nothing at the scale of one person's tools.
Only loopback addresses are served, and a request whose ``Host`` header names another host (a
web page that rebound its domain to 127.0.0.1) is refused.
"""

from __future__ import annotations

import errno
import io
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from searchapp.errors import (
    BadInputError,
    IndexInterrupted,
    IndexLockedError,
    IndexNotFoundError,
    SearchAppError,
)
from searchapp.interfaces.cli_app import (
    EXIT_ERROR,
    package_version,
    state,
    stopped_status,
)
from searchapp.interfaces.index_thread import IndexThread, document_with_notes
from searchapp.interfaces.render import hits_json, json_text
from searchapp.ranking.searcher import MODES, SearchOptions, in_parameter_terms
from searchapp.search_index import SearchIndex
from searchapp.storage.documents import DocumentNotFoundError, line_range
from searchapp.storage.indexed_paths import Filters

if TYPE_CHECKING:
    from rich.console import Console

    from searchapp.interfaces.watch import BatchReport, Watcher

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 1  # a 503's Retry-After: the index is being made, or made again
INDEXING_NOTE = "the --watch paths are still being indexed: hits come from the part done so far"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_K = 1000  # hits one request may ask for
IDLE_SECONDS = 60  # a keep-alive connection that sends nothing for this long is closed
# Told to stop (Ctrl-C, SIGTERM), the server answers the requests under way for this long at
# most: their threads are daemons, and the process ending under them sent an empty reply or
# cut a body short (6 of 16 tries with a SIGTERM 0.3 s after a first request).
FINISH_SECONDS = 10.0
SEARCH_PARAMETERS = ("q", "k", "mode", "path", "min_score", "per_doc", "fixed", "like")
# What a search warned of (a query cut to the model's 256 tokens, quoted text searched as
# words), as a JSON array of strings; absent when it warned of nothing.
NOTES_HEADER = "X-Search-Notes"
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


class ApiError(Exception):
    """A request that cannot be answered: its HTTP status and a message for the client."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_loopback(host: str) -> None:
    """Raise ``BadInputError`` unless ``host`` names or resolves only to loopback addresses."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError) as exc:
        raise BadInputError(f"--host ({host!r}) cannot be resolved ({exc})") from None
    if not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise BadInputError(
            f"--host ({host!r}) is not a loopback address; the API gives out indexed text "
            "without authentication, so it binds only to 127.0.0.1, ::1 or localhost"
        )


def _loopback_address(name: str) -> bool:
    """Whether ``name`` (a Host header's name) is a loopback address written as one: any of
    127.0.0.0/8 (``--host 127.0.0.2``), ``[::1]``. Names other than localhost are not
    resolved: that is what a rebinding attack would answer."""
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


class SearchServer(ThreadingHTTPServer):
    """The HTTP server: a thread per connection, every index call in ``index_thread``."""

    daemon_threads = True
    request_queue_size = 64  # connections waiting to be accepted (the default 5 drops bursts)

    def __init__(
        self,
        index_thread: IndexThread,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        listen: bool = True,
    ):
        """Bind ``host:port`` (a port in use is a ``BadInputError``), and listen unless not
        ``listen``: ``listen()`` then starts taking connections, refused until it does."""
        check_loopback(host)
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        self.address_family = family
        self.index_thread = index_thread
        self._wakeup: int | None = None  # the read end of the signal wakeup pipe, while serving
        self._answering = 0  # requests being answered
        self._answered = threading.Condition()
        self.stopping = False  # told to stop: answers close their connections
        # Set while `serve --watch` first indexes its paths: answers say they come from the
        # part indexed so far (an empty list looked like "nothing matched"; a 503 said to run
        # `search index`, which would only wait for this server).
        self.first_indexing = threading.Event()
        super().__init__((host, port), _Handler, bind_and_activate=False)
        try:
            self.server_bind()
        except OSError as exc:
            self.server_close()
            where = f"{host}:{port}"
            if exc.errno == errno.EADDRINUSE:
                raise BadInputError(
                    f"{where} is in use (another `search serve`?); choose another --port, "
                    "or --port 0 for any free one"
                ) from None
            raise BadInputError(f"cannot listen on {where}: {exc.strerror or exc}") from None
        if listen:
            self.listen()

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """A client that hung up (a cancelled request, a timeout) needs no answer and no
        traceback; anything else is one line on stderr, and the server goes on."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            return
        if state["debug"]:
            traceback.print_exc()
        sys.stderr.write(f"error answering {client_address[0]}: {type(exc).__name__}: {exc}\n")

    def listen(self) -> None:
        """Take connections (queued until the serve loop answers them)."""
        self.server_activate()

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Counts a request while it is answered (``finish_requests``)."""
        with self._answered:
            self._answering += 1
        try:
            yield
        finally:
            with self._answered:
                self._answering -= 1
                self._answered.notify_all()

    def finish_requests(self, timeout: float = FINISH_SECONDS) -> bool:
        """Once the serve loop has ended: wait until the requests under way are answered (each
        then closes its connection), ``timeout`` seconds at most; whether they all were."""
        self.stopping = True
        with self._answered:
            return self._answered.wait_for(lambda: self._answering == 0, timeout)

    def serve_until_interrupted(self) -> None:
        """``serve_forever`` until Ctrl-C (SIGINT) in the main thread.

        Besides Python's ``KeyboardInterrupt``, the signal's number is read from a wakeup pipe
        (``signal.set_wakeup_fd``: written by the C-level handler in whichever thread the signal
        lands) at each turn of the loop (every 0.5 s at most). In the test suite `serve --watch`
        sometimes ignored a Ctrl-C, its main thread in ``select`` with no ``KeyboardInterrupt``
        raised; the pipe does not depend on the main thread running Python's handler."""
        if threading.current_thread() is not threading.main_thread():
            self.serve_forever()
            return
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        os.set_blocking(write_end, False)
        self._wakeup = read_end
        previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        try:
            self.serve_forever()
        finally:
            signal.set_wakeup_fd(previous)
            self._wakeup = None
            os.close(read_end)
            os.close(write_end)

    def service_actions(self) -> None:
        if self._wakeup is None:
            return
        try:
            received = os.read(self._wakeup, 512)
        except BlockingIOError:
            return
        if signal.SIGTERM in received:  # its handler (`search serve`'s) stops as Ctrl-C does
            handler = signal.getsignal(signal.SIGTERM)
            if callable(handler):
                handler(signal.SIGTERM, None)
        if signal.SIGINT in received:
            raise KeyboardInterrupt

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: SearchServer
    protocol_version = "HTTP/1.1"  # keep-alive: a client's queries reuse one connection
    # A request line without a version (`GARBAGE`, `GET /info`) was answered as HTTP/0.9 does:
    # a body with no status line or headers, which a client or proxy reads as broken.
    default_request_version = "HTTP/1.0"
    server_version = "searchapp"
    timeout = IDLE_SECONDS

    def version_string(self) -> str:
        """The Server header: ``searchapp/VERSION``, no Python version."""
        return f"{self.server_version}/{package_version()}"

    def parse_request(self) -> bool:
        """The standard library's, but a request that names HTTP/0.9 is answered with a
        status line and headers too (it got the body alone), and a request line without a
        version (HTTP/0.9's `GET /info`) is answered at once: no headers follow one, and
        waiting for them left `printf 'GET /info\\r\\n' | nc` without an answer."""
        if len(self.raw_requestline.split()) != 2:
            parsed = super().parse_request()
        else:
            rfile, self.rfile = self.rfile, io.BytesIO(b"\r\n")  # its headers: none
            try:
                parsed = super().parse_request()
            finally:
                self.rfile = rfile
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        return parsed

    def do_GET(self) -> None:
        with self.server.answering():
            self._answer()

    def _answer(self) -> None:
        if self._has_body():  # a body is never read: it would be parsed as the next request
            self.close_connection = True
        headers: dict[str, str] = {}
        try:
            self._check_host()
            status, body = self._route(headers)
        except ApiError as exc:
            status, body = exc.status, _error_body(str(exc))
        except IndexNotFoundError as exc:
            message = str(exc)
            if self.server.first_indexing.is_set():
                message = (
                    f"no index yet at {self.server.index_thread.index_dir}: this server is "
                    "building it from its --watch paths; try again in a moment"
                )
            status, body = _status_of(exc), _error_body(message)
        except SearchAppError as exc:
            status, body = _status_of(exc), _error_body(str(exc))
        except Exception:
            logger.exception("%s failed", self.path)
            status, body = HTTPStatus.INTERNAL_SERVER_ERROR, _error_body("internal error")
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            headers["Retry-After"] = str(RETRY_AFTER_S)  # an index is being made
        self._send(status, body, headers)

    def _route(self, headers: dict[str, str]) -> tuple[HTTPStatus, str]:
        """The answer's status and body; ``headers`` gets the answer's own headers."""
        url = urlsplit(self.path)
        try:  # "q=%FF" searched for "\ufffd"
            query = parse_qs(url.query, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise ApiError(
                HTTPStatus.BAD_REQUEST, "the query string is not percent-encoded UTF-8"
            ) from None
        index = self.server.index_thread
        if url.path == "/search":
            options, text = _search_request(query)
            if self.server.first_indexing.is_set() and not index.call(
                lambda search_index: search_index.store.count_chunks()
            ):  # an empty list read as "nothing matched": a client could not tell
                raise ApiError(
                    HTTPStatus.SERVICE_UNAVAILABLE,
                    f"nothing indexed yet in {index.index_dir}: this server is indexing its "
                    "--watch paths; try again in a moment",
                )
            hits, notes = index.search(text, options)
            if self.server.first_indexing.is_set():
                notes = [*notes, INDEXING_NOTE]
            if notes:  # JSON with \u escapes: a header is Latin-1, and one line
                headers[NOTES_HEADER] = json.dumps(notes, ensure_ascii=True)
            return HTTPStatus.OK, hits_json(hits)
        if url.path == "/info":
            _only(query, ())
            return HTTPStatus.OK, json_text(index.call(lambda search_index: search_index.stats()))
        if url.path.startswith("/documents/"):
            _only(query, ("lines", "page"))
            try:
                key = unquote(url.path[len("/documents/") :], errors="strict")
            except UnicodeDecodeError:
                raise ApiError(
                    HTTPStatus.BAD_REQUEST, "the document name is not percent-encoded UTF-8"
                ) from None
            if "lines" in query and "page" in query:
                raise ApiError(HTTPStatus.BAD_REQUEST, "give lines or page, not both")
            lines = line_range(_one(query, "lines")) if "lines" in query else None
            # A PDF's pages, as a hit names one (page 12): its lines, found for the client.
            pages = line_range(_one(query, "page"), what="page") if "page" in query else None
            try:
                document, notes = index.call(
                    lambda one: document_with_notes(one, key, lines, pages)
                )
            except BadInputError as exc:  # the CLI's option named as this API names it
                if "--lines" not in str(exc) and "--page" not in str(exc):
                    raise  # a DocumentNotFoundError among them: a 404
                said = str(exc).replace("--lines", "lines=").replace("--page", "page=")
                raise BadInputError(said) from None
            if notes:  # as for a search: its file changed or went since it was indexed
                headers[NOTES_HEADER] = json.dumps(notes, ensure_ascii=True)
            return HTTPStatus.OK, json_text(document.to_json())
        raise ApiError(
            HTTPStatus.NOT_FOUND,
            f"no such endpoint: {url.path}; use /search?q=..., /info or /documents/{{doc_id}}",
        )

    def _check_host(self) -> None:
        hosts = self.headers.get_all("Host") or []
        if len(hosts) > 1:  # only the first was checked: "Host: localhost" then another name
            raise ApiError(HTTPStatus.BAD_REQUEST, f"{len(hosts)} Host headers; send one")
        target = urlsplit(self.path).netloc  # "GET http://evil.example/info": its host
        if target and target not in hosts:  # counts, as HTTP says, whatever Host says
            hosts = [target]
        if not hosts:
            return  # HTTP/1.0 without Host: not a browser, which always sends one
        host = hosts[0]
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.lower() not in _LOOPBACK_NAMES and not _loopback_address(name):
            raise ApiError(
                HTTPStatus.FORBIDDEN,
                f"Host {host!r} is not a loopback name; this server answers local clients only",
            )

    def _send(self, status: HTTPStatus, body: str, headers: dict[str, str] | None = None) -> None:
        data = (body + "\n").encode("utf-8")
        if self.server.stopping:  # the last answer on this connection
            self.close_connection = True
            headers = {**(headers or {}), "Connection": "close"}
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _has_body(self) -> bool:
        length = self.headers.get("Content-Length", "0").strip()
        return "Transfer-Encoding" in self.headers or length not in ("", "0")

    def _refuse_method(self) -> None:
        if self._has_body():  # unread, a body would be parsed as the next request
            self.close_connection = True
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED,
            _error_body(f"{self.command} is not allowed; use GET"),
            {"Allow": "GET, HEAD"},
        )

    def do_HEAD(self) -> None:
        self.do_GET()  # the same status and headers; _send leaves the body out

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _refuse_method

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        """http.server's own errors (a malformed request line, an unknown method) as JSON."""
        self.close_connection = True
        try:
            status = HTTPStatus(code)
        except ValueError:
            status = HTTPStatus.BAD_REQUEST
        self._send(status, _error_body(message or status.phrase))

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


def _search_request(query: dict[str, list[str]]) -> tuple[SearchOptions, str]:
    _only(query, SEARCH_PARAMETERS)
    like = _one(query, "like") if "like" in query else None
    if like is not None and "q" in query:
        raise ApiError(HTTPStatus.BAD_REQUEST, "give q or like, not both")
    if like is None and "q" not in query:
        raise ApiError(HTTPStatus.BAD_REQUEST, "q is missing: /search?q=what+to+look+for")
    text = _one(query, "q") if like is None else ""
    raw_k = _one(query, "k") if "k" in query else "10"
    try:
        k = _integer(raw_k)
    except ValueError:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"k ({raw_k!r}) must be an integer") from None
    if not 1 <= k <= MAX_K:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"k ({k}) must be between 1 and {MAX_K}")
    mode = _one(query, "mode").lower() if "mode" in query else "hybrid"
    if mode not in MODES:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"mode ({mode!r}) must be one of {', '.join(MODES)}")
    path = tuple(query["path"]) if "path" in query else None  # repeated: any of them
    min_score = None
    if "min_score" in query:
        raw = _one(query, "min_score")
        try:
            if not _NUMBER.fullmatch(raw):  # float() takes " 1", "1_0", "nan" and "inf" too
                raise ValueError(raw)
            min_score = float(raw)
        except ValueError:
            message = f"min_score ({raw!r}) must be a number"
            raise ApiError(HTTPStatus.BAD_REQUEST, message) from None
    # as `search query -F` gives each line holding it, up to k: fixed's default is k
    fixed_asked = "fixed" in query and _one(query, "fixed").lower() in ("true", "1")
    raw_per_doc = _one(query, "per_doc") if "per_doc" in query else str(k if fixed_asked else 1)
    try:
        per_doc = _integer(raw_per_doc)
    except ValueError:
        message = f"per_doc ({raw_per_doc!r}) must be an integer"
        raise ApiError(HTTPStatus.BAD_REQUEST, message) from None
    if not 1 <= per_doc <= MAX_K:  # as k's: the number read, not the text sent
        message = f"per_doc ({per_doc}) must be between 1 and {MAX_K}"
        raise ApiError(HTTPStatus.BAD_REQUEST, message)
    raw_fixed = _one(query, "fixed").lower() if "fixed" in query else "false"
    if raw_fixed not in ("true", "false", "1", "0"):
        message = f"fixed ({raw_fixed!r}) must be true or false"
        raise ApiError(HTTPStatus.BAD_REQUEST, message)
    try:
        options = SearchOptions(
            k=k,
            mode=mode,
            path_glob=path or None,
            min_score=min_score,
            per_doc=per_doc,
            fixed=raw_fixed in ("true", "1"),
            like=like,
        )
    except BadInputError as exc:  # the CLI's words for it: name the parameter instead
        raise ApiError(HTTPStatus.BAD_REQUEST, in_parameter_terms(str(exc))) from None
    return options, text


# A number as a request writes one: int() and float() also take " 3 ", "1_0", other scripts'
# digits ("٣"), and float() "nan" and "inf".
_INTEGER = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _integer(raw: str, *, signed: bool = True) -> int:
    if not _INTEGER.fullmatch(raw) or (not signed and raw.startswith("-")):
        raise ValueError(raw)
    return int(raw)


def _only(query: dict[str, list[str]], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        known = ", ".join(allowed) or "none"
        raise ApiError(
            HTTPStatus.BAD_REQUEST, f"unknown parameter {unknown[0]!r}; this endpoint takes {known}"
        )


def _one(query: dict[str, list[str]], name: str) -> str:
    values = query[name]
    if len(values) != 1:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"{name} is given {len(values)} times; give it once")
    return values[0]


def _status_of(exc: SearchAppError) -> HTTPStatus:
    if isinstance(exc, DocumentNotFoundError):
        return HTTPStatus.NOT_FOUND
    if isinstance(exc, BadInputError):
        return HTTPStatus.BAD_REQUEST
    if isinstance(exc, (IndexNotFoundError, IndexLockedError)):
        return HTTPStatus.SERVICE_UNAVAILABLE
    return HTTPStatus.INTERNAL_SERVER_ERROR  # a damaged index, a model mismatch


def _error_body(message: str) -> str:
    return json_text({"error": " ".join(message.split())})


def serve(
    index: SearchIndex,
    err: Console,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    watch_paths: Sequence[str] = (),
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    default_excludes: bool = True,
    debounce_ms: int = 1000,  # as `search watch`'s --debounce
) -> int:
    """`search serve`: answer requests until Ctrl-C, keeping the index fresh while it serves
    when ``watch_paths`` are given; returns the exit status (130 after Ctrl-C, 2 when watching
    failed: answers from an index no longer kept fresh would go stale with no word to anyone,
    so the server stops, as `search watch` does, for whatever supervises it to start again)."""
    check_loopback(host)
    index_thread = IndexThread(index)
    stop = threading.Event()
    follower: threading.Thread | None = None
    watcher: Watcher | None = None
    failed = threading.Event()
    try:
        # Bound first: a port in use fails at once, not after --watch has indexed its folders;
        # connections are refused until it listens, once the index is ready.
        server = SearchServer(index_thread, host, port, listen=False)

        def watching_failed() -> None:
            failed.set()
            # serve_forever returns. Not waited for here: where the main thread never reached
            # it (a Ctrl-C as it began to listen), the wait hung the watching thread, and the
            # main thread waiting for that one.
            threading.Thread(target=server.shutdown, daemon=True).start()

        try:
            if watch_paths:
                follower, watcher = _watching(
                    index_thread,
                    err,
                    stop,
                    watch_paths,
                    Filters(tuple(include), tuple(exclude), default_excludes),
                    debounce_ms,
                    watching_failed,
                    server.first_indexing,
                )
            else:
                try:
                    index_thread.call(lambda search_index: search_index.stats())
                except IndexNotFoundError as exc:
                    # Served all the same, as `search mcp` is: a service started before the
                    # first `search index` ended with status 2 (restarted in a loop); each
                    # request is answered 503 until there is an index.
                    err.print(f"warning: {exc}; answering 503 until there is one")
            server.listen()
            err.print(f"serving {index.index_dir} on {server.url} (Ctrl-C to stop)")
            if follower is not None:
                err.print("indexing the watched paths; answering from the index as it is meanwhile")
                server.first_indexing.set()
                follower.start()
            try:
                server.serve_until_interrupted()
            except KeyboardInterrupt:
                pass
            stop.set()  # no new batch of changes begins while the requests are answered
            try:
                server.finish_requests()
            except KeyboardInterrupt:  # a second Ctrl-C ends the wait
                pass
        finally:
            server.server_close()
    finally:
        stop.set()
        if follower is not None and follower.ident is not None:  # started
            _finish_following(follower, err)
        index_thread.close()
    if failed.is_set():
        err.print("stopped: the index is no longer watched, so its answers would go stale")
        return EXIT_ERROR
    if watcher is None:
        err.print("stopped")
    else:
        from searchapp.interfaces.watch import stopped_line

        err.print(stopped_line(watcher))
    return 130


def _finish_following(follower: threading.Thread, err: Console) -> None:
    """Wait for the watching thread to stop where the batch under way next commits; a Ctrl-C
    (or SIGTERM) meanwhile ends the process at once, what the batch was writing rolled back."""
    try:
        follower.join(timeout=0.5)
        if follower.is_alive():
            err.print(
                "stopping where the batch of changes under way next commits (Ctrl-C again to "
                "stop now)"
            )
        follower.join()  # what the batch under way wrote is committed
    except KeyboardInterrupt:
        # Now, without waiting for the thread: ending the interpreter under it aborted the
        # process (status 134). Its batch's transaction is rolled back by SQLite. The wait
        # is all inside this ``try``: a second Ctrl-C 50 ms after the first landed before it
        # and aborted the process (6 times in 6).
        err.print(
            "interrupted: the batch of changes under way stopped where it was (what it had "
            "committed is kept; a file cut short is finished when `search serve --watch` or "
            "`search index` runs again)"
        )
        sys.stderr.flush()
        os._exit(stopped_status())


def _watching(
    index_thread: IndexThread,
    err: Console,
    stop: threading.Event,
    paths: Sequence[str],
    given: Filters,
    debounce_ms: int,
    on_failure: Callable[[], None],
    first_indexing: threading.Event | None = None,
) -> tuple[threading.Thread, Watcher]:
    """A thread, to start once the server listens, that indexes ``paths`` with a writer of its
    own sharing the server's model, then follows their changes until ``stop`` is set, or until
    following fails (its error logged, then ``on_failure`` called); and its watcher."""
    from searchapp.interfaces.cli_app import print_skipped
    from searchapp.interfaces.commands_index import root_notes
    from searchapp.interfaces.progress import progress_lines
    from searchapp.interfaces.watch import Watcher, worth_a_line

    for note in index_thread.call(lambda index: root_notes(index, paths, given)):
        err.print(note)
    writer = SearchIndex(index_thread.index_dir, device=index_thread.device)
    watcher = Watcher(  # the paths are there
        writer,
        paths,
        include=given.include,
        exclude=given.exclude,
        default_excludes=given.default_excludes,
        debounce_ms=debounce_ms,
        progress=lambda: progress_lines(err),  # a long batch says how far it has come
    )

    def on_batch(batch: BatchReport) -> None:
        if not worth_a_line(batch):
            return
        now = time.strftime("%H:%M:%S")
        print_skipped(err, batch.skipped, verbose=False, prefix=f"{now} ")
        err.print(f"{now} {batch.summary()}")

    def follow() -> None:
        # Here, while the server answers (from the index as it is: a new one is 503 until its
        # first passages are in): it listened only once the folders were indexed, and a client
        # probing the port was refused for as long (minutes for a new folder).
        try:
            # The model the server loads, shared: one copy in memory.
            writer.share_encoder(index_thread.call(lambda index: index.load_encoder()))
            if stop.is_set():  # Ctrl-C while it loaded
                return
            try:
                with progress_lines(err) as progress:  # a new folder's: minutes
                    report = watcher.index_all(progress, stop=stop)
                print_skipped(err, report.skipped, verbose=False)  # as `search watch` tells them
                report.paths = []  # a folder's first index: no files named
                err.print(f"indexed: {report.summary()}")
            except IndexInterrupted as stopped:
                if not stopped.asked:
                    raise
                watcher.stopped_in = stopped.report  # ``stopped_line`` says what was kept
                return
            finally:
                if first_indexing is not None:
                    first_indexing.clear()
            watcher.follow(
                stop, on_batch, lambda note: err.print(f"{time.strftime('%H:%M:%S')} {note}")
            )
        except Exception as exc:
            logger.error("stopped watching for changes: %s", exc)
            on_failure()

    return threading.Thread(target=follow, name="search-watch", daemon=True), watcher
