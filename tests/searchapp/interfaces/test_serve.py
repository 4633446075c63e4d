"""`search serve`: the HTTP JSON API, on 127.0.0.1 with an ephemeral port.

Logic tests use the fake encoder; the load test and `serve --watch` use the real bundled model.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from searchapp.interfaces.index_thread import IndexThread
from searchapp.interfaces.render import hits_json
from searchapp.interfaces.serve import SearchServer
from searchapp.search_index import SearchIndex
from tests.searchapp.cli_runner import run_cli
from tests.searchapp.conftest import FakeEncoder, use_encoder

REPO = Path(__file__).resolve().parents[3]


def get(
    address: tuple[str, int], target: str, *, method: str = "GET", headers: dict | None = None
) -> tuple[int, object]:
    """(status, parsed JSON body) of one request."""
    connection = http.client.HTTPConnection(*address, timeout=30)
    try:
        connection.request(method, target, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        assert response.getheader("Content-Type") == "application/json; charset=utf-8"
        return response.status, json.loads(body) if body else None
    finally:
        connection.close()


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i, text in enumerate(
        [
            "supersonic flow over a flat plate\nshock waves form at the leading edge",
            "heat transfer in laminar boundary layers\nthe wall temperature matters",
            "wing lift at low speed\ncamber and angle of attack",
        ]
    ):
        (folder / f"doc{i}.txt").write_text(text + "\n", "utf-8")
    return folder


@pytest.fixture()
def served(corpus: Path, tmp_path: Path) -> Iterator[tuple[tuple[str, int], Path]]:
    """A fake-encoder index of ``corpus`` served in a thread: ((host, port), index folder)."""
    index_dir = tmp_path / "idx"
    SearchIndex(index_dir, encoder=FakeEncoder()).add([corpus])
    yield from _serve(SearchIndex(index_dir, encoder=FakeEncoder()))


def _serve(index: SearchIndex) -> Iterator[tuple[tuple[str, int], Path]]:
    index_thread = IndexThread(index)
    server = SearchServer(index_thread, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[:2], index.index_dir
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        index_thread.close()


def test_answers_while_watch_first_indexes_say_so(corpus, tmp_path) -> None:
    # Meanwhile a 503 said to run `search index` (which would only wait for this server), and
    # an empty answer looked like "nothing matched".
    from searchapp.interfaces.serve import INDEXING_NOTE

    index_dir = tmp_path / "idx"
    index_thread = IndexThread(SearchIndex(index_dir, encoder=FakeEncoder()))
    server = SearchServer(index_thread, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        address = server.server_address[:2]
        server.first_indexing.set()
        status, body = get(address, "/search?q=shock")
        assert status == 503 and body["error"] == (
            f"no index yet at {index_dir}: this server is building it from its --watch paths; "
            "try again in a moment"
        )
        # The index made, nothing in it yet: a 200 with [] read as "nothing matched".
        (tmp_path / "empty").mkdir()
        SearchIndex(index_dir, encoder=FakeEncoder()).add([tmp_path / "empty"])
        connection = http.client.HTTPConnection(*address, timeout=30)
        try:
            connection.request("GET", "/search?q=shock")
            response = connection.getresponse()
            said = json.loads(response.read())["error"]
            assert response.status == 503 and response.getheader("Retry-After") == "1"
            assert said.startswith(f"nothing indexed yet in {index_dir}: this server is indexing")
        finally:
            connection.close()
        SearchIndex(index_dir, encoder=FakeEncoder()).add([corpus])
        for indexing in (True, False):
            connection = http.client.HTTPConnection(*address, timeout=30)
            try:
                connection.request("GET", "/search?q=shock+waves")
                response = connection.getresponse()
                assert response.status == 200 and json.loads(response.read())
                notes = response.getheader("X-Search-Notes")
            finally:
                connection.close()
            assert (notes is not None and INDEXING_NOTE in json.loads(notes)) == indexing
            server.first_indexing.clear()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        index_thread.close()


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")
def test_ctrl_c_stops_serving_even_when_pythons_handler_does_not_raise(corpus, tmp_path) -> None:
    # The wakeup pipe, not the Python-level handler: a handler that swallows the signal stands
    # in for a Ctrl-C whose KeyboardInterrupt never came (a rare hang of `serve --watch`).
    index_dir = tmp_path / "idx"
    SearchIndex(index_dir, encoder=FakeEncoder()).add([corpus])
    index_thread = IndexThread(SearchIndex(index_dir, encoder=FakeEncoder()))
    server = SearchServer(index_thread, "127.0.0.1", 0)
    swallowed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: swallowed.append(signum))
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    give_up = threading.Timer(10, server.shutdown)  # without the pipe: a failure, not a hang
    try:
        timer.start()
        give_up.start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            server.serve_until_interrupted()
        assert time.monotonic() - started < 5
        assert swallowed == [signal.SIGINT]  # Python's handler ran and raised nothing
        # Served, then stopped: the pipe is closed and the wakeup fd restored.
        assert signal.set_wakeup_fd(-1) == -1
    finally:
        timer.cancel()
        give_up.cancel()
        signal.signal(signal.SIGINT, previous)
        server.server_close()
        index_thread.close()


def test_search_answers_as_search_index_does(served) -> None:
    address, index_dir = served
    reference = SearchIndex(index_dir, encoder=FakeEncoder())
    for params, options in [
        ({"q": "shock waves"}, {}),
        ({"q": "boundary layer", "k": "2", "mode": "lexical"}, {"k": 2, "mode": "lexical"}),
        ({"q": "wing", "mode": "dense", "path": "doc2*"}, {"mode": "dense", "path_glob": "doc2*"}),
        ({"q": "wing lift", "per_doc": "2"}, {"per_doc": 2}),
        ({"q": "wing lift", "mode": "DENSE"}, {"mode": "dense"}),  # as the CLI's --mode
        # fixed: each passage holding it up to k, as `search query -F` gives each line
        ({"q": "wing", "fixed": "true", "k": "5"}, {"fixed": True, "k": 5, "per_doc": 5}),
        ({"q": "wing", "fixed": "1", "per_doc": "1"}, {"fixed": True, "per_doc": 1}),
    ]:
        status, body = get(address, "/search?" + urlencode(params))
        expected = json.loads(hits_json(reference.search(params["q"], **options)))
        assert status == 200 and body == expected and body
    # min_score: the score shown, as --min-score; a high one leaves nothing, as the CLI's exit 1.
    everything = get(address, "/search?" + urlencode({"q": "wing", "k": "50"}))[1]
    scores = sorted({h["score"] for h in everything})  # (rounded to 6 decimals: halfway)
    middle = (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2
    status, body = get(
        address, "/search?" + urlencode({"q": "wing", "k": "50", "min_score": middle})
    )
    # Compared as shown, to 3 decimals: a score 0.0005 under it passes.
    assert status == 200 and body == [h for h in everything if h["score"] >= middle - 0.0005]
    assert 0 < len(body) < len(everything)
    assert get(address, "/search?" + urlencode({"q": "wing", "min_score": "1.99"})) == (200, [])
    status, body = get(address, "/search?" + urlencode({"q": "wing", "path": "nomatch*"}))
    assert (status, body) == (200, [])
    # path repeated, as the CLI's --path: any of them (it was refused as given twice).
    query = urlencode(
        [("q", "flow heat"), ("mode", "lexical"), ("path", "doc0*"), ("path", "doc1*")]
    )
    status, body = get(address, "/search?" + query)
    expected = reference.search("flow heat", mode="lexical", path_glob=("doc0*", "doc1*"))
    assert status == 200 and body == json.loads(hits_json(expected))
    assert {Path(h["path"]).name for h in body} == {"doc0.txt", "doc1.txt"}
    # like=: as `search query --like`, the passages nearest another document's.
    like = str(Path(body[0]["path"]).parent / "doc2.txt")
    status, body = get(address, "/search?" + urlencode({"like": like}))
    expected = reference.search("", like=like)
    assert status == 200 and body == json.loads(hits_json(expected))
    assert body and like not in {h["path"] for h in body}


def test_a_search_tells_the_client_what_it_warned_of(served) -> None:
    # Quoted text no passage holds is searched as words: the warning went only to the
    # server's stderr, so a client took the hits for answers to the phrase.
    address = served[0]

    def answer(text: str) -> tuple[int, str | None, object]:
        connection = http.client.HTTPConnection(*address, timeout=30)
        try:
            connection.request("GET", "/search?" + urlencode({"q": text, "mode": "lexical"}))
            response = connection.getresponse()
            return (
                response.status,
                response.getheader("X-Search-Notes"),
                json.loads(response.read()),
            )
        finally:
            connection.close()

    status, notes, hits = answer("wing")
    assert status == 200 and notes is None and hits
    status, notes, hits = answer('wing "lift wing ünïcode"')
    assert status == 200 and hits
    assert json.loads(notes) == [
        'no passage holds "lift wing ünïcode" as written; searching its words in any order instead'
    ]
    # fixed=true, as `search query -F`: the words as written, or nothing.
    connection = http.client.HTTPConnection(*address, timeout=30)
    try:
        connection.request("GET", "/search?" + urlencode({"q": "lift wing ünïcode", "fixed": "1"}))
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())) == (200, [])
    finally:
        connection.close()
    # A path filter that matches no document: an empty answer said nothing of the typo.
    for path in ("nothing/", "no\\tthing.md"):  # as typed: repr doubled the backslash
        connection = http.client.HTTPConnection(*address, timeout=30)
        try:
            connection.request("GET", "/search?" + urlencode({"q": "wing", "path": path}))
            response = connection.getresponse()
            assert json.loads(response.read()) == []
            told = json.loads(response.getheader("X-Search-Notes"))
        finally:
            connection.close()
        assert told == [f"no indexed document matches path '{path}'"]


def test_info_is_search_info_json(served, capsys, monkeypatch) -> None:
    address, index_dir = served
    use_encoder(monkeypatch, FakeEncoder())
    code, out, _ = run_cli(capsys, "info", "--index-dir", str(index_dir), "--json")
    assert code == 0
    assert get(address, "/info") == (200, json.loads(out))


def test_documents_by_doc_id_and_lines(served, corpus) -> None:
    address, _ = served
    path = str(corpus / "doc1.txt")
    status, body = get(address, "/documents/" + quote(path, safe=""))
    text = (corpus / "doc1.txt").read_text("utf-8").rstrip()
    assert status == 200
    assert body == {
        "doc_id": path,
        "path": path,
        "title": None,
        "start_line": 1,
        "end_line": 2,
        "line_count": 2,
        "text": text,
    }
    assert get(address, f"/documents/{path}?lines=2")[1]["text"] == text.split("\n")[1]
    assert get(address, f"/documents/{path}?lines=2-")[1]["text"] == text.split("\n")[1]
    assert get(address, f"/documents/{path}?lines=1-")[1]["text"] == text  # to the end
    assert get(address, f"/documents/{path}?lines=-1")[1]["text"] == text.split("\n")[0]
    assert get(address, f"/documents/{path}?lines=-")[0] == 400


def test_a_document_whose_file_changed_says_so_in_its_notes(served, corpus) -> None:
    # `search get` said so on stderr; /documents gave the old lines without a word.
    address, _ = served
    path = corpus / "doc1.txt"

    def notes() -> list[str] | None:
        connection = http.client.HTTPConnection(*address, timeout=30)
        try:
            connection.request("GET", "/documents/" + quote(str(path), safe=""))
            response = connection.getresponse()
            assert response.status == 200 and json.loads(response.read())["path"] == str(path)
            told = response.getheader("X-Search-Notes")
        finally:
            connection.close()
        return None if told is None else json.loads(told)

    assert notes() is None
    path.write_text("a new first line\n" + path.read_text("utf-8"), "utf-8")
    assert notes() == [f"{path} changed since it was indexed: its lines may have moved"]
    path.unlink()
    assert notes() == [f"{path} is gone since it was indexed"]


def test_every_endpoint_sends_text_as_utf_8(corpus, tmp_path) -> None:
    # As /search does: "café", not "caf\u00e9", in /documents, /info and errors alike.
    (corpus / "café.txt").write_text("un café au lait\n", "utf-8")
    index_dir = tmp_path / "idé"
    SearchIndex(index_dir, encoder=FakeEncoder()).add([corpus])
    path = quote(str(corpus / "café.txt"), safe="")
    for (host, port), _ in _serve(SearchIndex(index_dir, encoder=FakeEncoder())):
        for target in (
            f"/documents/{path}",
            "/info",
            "/search?q=caf%C3%A9",
            "/search?q=x&mode=%C3%A9",
        ):
            connection = http.client.HTTPConnection(host, port, timeout=30)
            connection.request("GET", target)
            raw = connection.getresponse().read()
            connection.close()
            assert b"\\u00e9" not in raw and "é".encode() in raw, target


def test_a_jsonl_record_by_its_doc_id_or_own_id(corpus, tmp_path) -> None:
    records = tmp_path / "records" / "corpus.jsonl"
    records.parent.mkdir()
    records.write_text('{"_id": "7", "text": "seven"}\n{"_id": "8", "text": "eight"}\n')
    index_dir = tmp_path / "idx"
    SearchIndex(index_dir, encoder=FakeEncoder()).add([corpus, records.parent])
    for address, _ in _serve(SearchIndex(index_dir, encoder=FakeEncoder())):
        hit = get(address, "/search?" + urlencode({"q": "eight", "mode": "lexical"}))[1][0]
        assert (hit["doc_id"], hit["record_id"]) == (f"{records}#8", "8")
        for key in (quote(hit["doc_id"], safe=""), "8"):
            status, body = get(address, f"/documents/{key}")
            assert (status, body["doc_id"], body["text"]) == (200, f"{records}#8", "eight")
        status, body = get(address, f"/documents/{records}#8")  # '#' not encoded: the file
        assert status == 400 and "%23" in body["error"]


@pytest.mark.parametrize(
    ("target", "status", "message"),
    [
        ("/search", 400, "q is missing"),
        ("/search?q=", 400, "the query is empty"),
        # A 40,000-character word held every client for 23 s (its patterns); none is that long.
        ("/search?q=" + "x" * 10_001, 400, "the query is 10,001 characters; the most is 10,000"),
        ("/search?q=wing&k=ten", 400, "k ('ten') must be an integer"),
        ("/search?q=wing&k=0", 400, "k (0) must be between 1 and 1000"),
        ("/search?q=wing&k=100000", 400, "k (100000) must be between 1 and 1000"),
        ("/search?q=wing&mode=fuzzy", 400, "mode ('fuzzy') must be one of"),
        ("/search?q=wing&q=lift", 400, "q is given 2 times"),
        ("/search?q=wing&top=3", 400, "unknown parameter 'top'"),
        ("/search?q=wing&min_score=high", 400, "min_score ('high') must be a number"),
        ("/search?q=wing&min_score=5", 400, "min_score (5.0) must be between -1 and 4"),
        ("/search?q=wing&per_doc=0", 400, "per_doc (0) must be between 1 and 1000"),
        # Named as the request names it, not as the CLI's option (--path).
        ("/search?q=wing&path=%5B", 400, "path ('[') opens a [...] class"),
        # It said "path ('') names nothing; '!*.md' leaves out .md", of no '!' given.
        ("/search?q=wing&path=", 400, "path is empty; leave it out to search every document"),
        ("/search?q=wing&per_doc=%C2%B2", 400, "per_doc ('²') must be an integer"),
        # int() and float() take these: k=1_0 was 10, k=%D9%A3 (Arabic-Indic 3) was 3.
        ("/search?q=wing&k=1_0", 400, "k ('1_0') must be an integer"),
        ("/search?q=wing&k=3%20", 400, "k ('3 ') must be an integer"),
        ("/search?q=wing&k=%D9%A3", 400, "k ('٣') must be an integer"),
        ("/search?q=wing&min_score=nan", 400, "min_score ('nan') must be a number"),
        ("/search?q=wing&min_score=1_0", 400, "min_score ('1_0') must be a number"),
        ("/search?q=wing&per_doc=1000000000", 400, "per_doc (1000000000) must be between 1"),
        ("/search?q=wing&fixed=maybe", 400, "fixed ('maybe') must be true or false"),
        ("/search?q=wing&like=doc0.txt", 400, "give q or like, not both"),
        ("/search?like=", 400, "like is empty"),
        ("/documents/{doc}?lines=-%2B5", 400, "lines ('-+5') must be a line or a range"),
        ("/documents/{doc}?lines=%203", 400, "lines (' 3') must be a line or a range"),
        ("/info?verbose=1", 400, "unknown parameter 'verbose'"),
        ("/documents/..%2F..%2Fetc%2Fpasswd", 404, "not an indexed document"),
        ("/documents/../../etc/passwd", 404, "not an indexed document"),
        ("/documents//etc/passwd", 404, "not an indexed document"),
        ("/documents/%ff", 400, "not percent-encoded UTF-8"),
        ("/documents/{doc}?lines=x", 400, "lines ('x') must be a line or a range"),
        ("/documents/{doc}?lines=9", 400, "line 9 is past the end"),
        ("/documents/{doc}?lines=3-1", 400, "must be a range of line numbers"),
        # "to the end" is no number the request held (it showed as 2147483647)
        ("/documents/{doc}?lines=99999999999-", 400, "lines ('99999999999-') must be a range"),
        # Named as sent: it said "lines (0-0)".
        ("/documents/{doc}?lines=0", 400, "lines ('0') must be a range of line numbers from 1"),
        ("/documents/{doc}?lines=", 400, "lines ('') must be a line or a range"),
        ("/nowhere", 404, "no such endpoint: /nowhere"),
    ],
)
def test_errors_are_json_with_a_4xx_status(served, corpus, target, status, message) -> None:
    address, _ = served
    target = target.replace("{doc}", quote(str(corpus / "doc0.txt"), safe=""))
    got_status, body = get(address, target)
    assert got_status == status
    assert set(body) == {"error"} and message in body["error"]
    assert "--" not in body["error"]  # HTTP parameters, not the CLI's options


def test_only_get_and_only_loopback_hosts(served) -> None:
    address, _ = served
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert get(address, "/search?q=wing", method=method) == (
            405,
            {"error": f"{method} is not allowed; use GET"},
        )
        connection = http.client.HTTPConnection(*address, timeout=30)
        connection.request(method, "/search?q=wing")
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.getheader("Allow") == "GET, HEAD"  # as RFC 9110 asks of a 405
        assert re.fullmatch(r"searchapp/\S+", response.getheader("Server"))
    # A page that rebound its own domain to 127.0.0.1 sends its name as Host.
    status, body = get(address, "/info", headers={"Host": "evil.example:8765"})
    assert status == 403 and "not a loopback name" in body["error"]
    for host in ("localhost:1", "127.0.0.1", "[::1]:8765", "127.0.0.2:8765"):  # any of 127/8,
        assert get(address, "/info", headers={"Host": host})[0] == 200  # as --host takes
    for host in ("127.0.0.1.evil.example", "2130706433", "[::2]"):
        assert get(address, "/info", headers={"Host": host})[0] == 403
    # Only the first of two Host headers was checked: 200, with results.
    answer = raw_answer(address, b"GET /info HTTP/1.1\r\nHost: localhost\r\nHost: evil.example")
    assert answer.startswith(b"HTTP/1.1 400") and b"2 Host headers; send one" in answer
    # Bytes that are not UTF-8 in the query string: it searched for U+FFFD.
    status, body = get(address, "/search?q=%FF")
    assert status == 400 and body == {"error": "the query string is not percent-encoded UTF-8"}
    # A target in absolute form names the host, whatever Host says: it was a 200.
    for target, status in (
        (b"http://evil.example/info", b"403"),
        (b"http://localhost/info", b"200"),
    ):
        answer = raw_answer(address, b"GET " + target + b" HTTP/1.1\r\nHost: localhost")
        assert answer.startswith(b"HTTP/1.1 " + status), target


def raw_answer(address, request: bytes) -> bytes:
    """The whole answer to one request sent as it is (its head, then its body: the two may
    come in separate reads)."""
    with socket.create_connection(address, timeout=10) as client:
        client.sendall(request + b"\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    return answer


def test_a_request_line_without_a_version_is_answered_with_a_status_line(served) -> None:
    # Answered as HTTP/0.9: the JSON body alone, no status line or headers.
    address, _ = served
    garbage = raw_answer(address, b"GARBAGE")
    assert garbage.startswith(b"HTTP/1.1 400 "), garbage
    assert b"Content-Type: application/json" in garbage
    # HTTP/0.9's request has no headers: `printf 'GET /info\\r\\n' | nc` waited for them.
    with socket.create_connection(address, timeout=10) as client:
        client.sendall(b"GET /info\r\n")
        bare = b""
        while chunk := client.recv(65536):  # answered and closed, nothing more sent
            bare += chunk
    assert bare.startswith(b"HTTP/1.1 200 ") and b'"documents"' in bare, bare
    named = raw_answer(address, b"GET /info HTTP/0.9\r\nHost: 127.0.0.1")
    assert named.startswith(b"HTTP/1.1 200 "), named


def test_a_request_body_is_never_read_as_the_next_request(served) -> None:
    # The body of a refused POST was parsed as a second request on the same connection,
    # with its own Host header: two answers to one request, the second a 200.
    address, _ = served
    smuggled = b"GET /info HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    for method in (b"POST", b"GET"):
        with socket.create_connection(address, timeout=10) as client:
            client.sendall(
                method + b" /search?q=wing HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Length: %d\r\n\r\n" % len(smuggled) + smuggled
            )
            received = b""
            while chunk := client.recv(65536):  # the server closes the connection
                received += chunk
        assert received.count(b"HTTP/1.") == 1, received


@pytest.mark.parametrize("host", ["0.0.0.0", "8.8.8.8", "192.168.1.10", "::"])
def test_binds_only_to_loopback(host, tmp_path, capsys) -> None:
    code, _, err = run_cli(capsys, "serve", "--host", host, "--index-dir", str(tmp_path))
    assert code == 2 and "--host" in err  # an error, as grep exits


@pytest.mark.parametrize("command", ["serve", "mcp"])
@pytest.mark.parametrize(
    ("device", "told"),
    [("bogus", "is not a device name"), ("cuda:9", "is not available"), ("mps", "no MPS")],
)
def test_a_device_this_machine_lacks_is_refused_before_serving(
    command, device, told, served, capsys
) -> None:
    # The server started, and every search (lexical ones too) failed with "internal error".
    import torch

    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")  # cuda:9 is refused whatever GPUs it has
    _, index_dir = served
    code, out, err = run_cli(capsys, command, "--index-dir", str(index_dir), "--device", device)
    assert code == 2 and out == ""
    assert err.startswith(f"error: device ({device!r}) ") and told in err
    assert len(err.strip().splitlines()) == 1


def test_an_error_logged_with_its_exception_says_what_it_was(monkeypatch) -> None:
    # A request that failed was logged as "error: /search?q=zlib failed", --debug or not.
    import logging

    from searchapp.interfaces import cli_app

    try:
        raise ValueError("device ('cuda') is not available: no CUDA GPU")
    except ValueError:
        record = logging.LogRecord(
            "searchapp",
            logging.ERROR,
            __file__,
            1,
            "%s failed",
            ("/search?q=zlib",),
            sys.exc_info(),
        )
    handler = cli_app._StderrHandler()
    monkeypatch.setitem(cli_app.state, "debug", False)
    assert handler.format(record) == (
        "error: /search?q=zlib failed (ValueError: device ('cuda') is not available: no CUDA GPU)"
    )
    monkeypatch.setitem(cli_app.state, "debug", True)
    first, *traceback = handler.format(record).splitlines()
    assert first.startswith("error: /search?q=zlib failed (ValueError")
    assert traceback[0] == "Traceback (most recent call last):" and "ValueError" in traceback[-1]


def test_a_port_in_use_or_out_of_range_is_one_line_before_any_indexing(
    served, corpus, tmp_path, capsys
) -> None:
    (_, port), _ = served
    index_dir = tmp_path / "other"
    code, out, err = run_cli(
        capsys, "serve", "--port", str(port), "--watch", str(corpus), "--index-dir", str(index_dir)
    )
    assert code == 2 and out == ""
    assert err.strip() == (
        f"error: 127.0.0.1:{port} is in use (another `search serve`?); choose another --port, "
        "or --port 0 for any free one"
    )
    assert not index_dir.exists()  # the port is tried before --watch indexes anything
    code, _, err = run_cli(capsys, "serve", "--debounce", "10", "--index-dir", str(index_dir))
    assert code == 2 and err == "error: --debounce applies to --watch PATH; add it or drop it\n"
    for bad in ("65536", "-1"):
        code, _, err = run_cli(capsys, "serve", "--port", bad, "--index-dir", str(index_dir))
        assert code == 2 and "Traceback" not in err
        assert f"Invalid value for '--port': {bad} is not in the range 0<=x<=65535" in err


def test_connections_are_refused_until_the_server_listens(served, tmp_path) -> None:
    # `serve` binds its port first (one in use fails before --watch indexes anything) and
    # listens once it can answer: a client meanwhile is refused at once, not left in a queue.
    _, index_dir = served
    index_thread = IndexThread(SearchIndex(index_dir, encoder=FakeEncoder()))
    server = SearchServer(index_thread, "127.0.0.1", 0, listen=False)
    address = server.server_address[:2]
    try:
        with pytest.raises(ConnectionRefusedError):
            get(address, "/info")
        server.listen()
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        assert get(address, "/info")[0] == 200
        server.shutdown()
        thread.join(timeout=10)
    finally:
        server.server_close()
        index_thread.close()


def test_requests_never_write_the_index(served, corpus) -> None:
    address, index_dir = served

    def state() -> tuple:
        index = SearchIndex(index_dir, encoder=FakeEncoder())
        store = index.store
        snapshot = (
            store.get_meta(),
            store.rows("SELECT * FROM documents ORDER BY id"),
            store.rows("SELECT id, document_id, text FROM chunks ORDER BY id"),
            {p.name: p.read_bytes() for p in index_dir.glob("*.bin")},
            {p.name: p.read_bytes() for p in index_dir.glob("*.faiss")},
        )
        index.close()
        return snapshot

    before = state()
    doc = quote(str(corpus / "doc0.txt"), safe="")
    for target in ["/search?q=wing", "/search?q=lift&mode=lexical", "/info", f"/documents/{doc}"]:
        assert get(address, target)[0] == 200
    assert state() == before


def test_changes_committed_elsewhere_are_seen(served, corpus) -> None:
    address, index_dir = served
    assert get(address, "/search?q=zebra+quasar&mode=lexical") == (200, [])
    (corpus / "new.txt").write_text("zebra quasar\n", "utf-8")
    SearchIndex(index_dir, encoder=FakeEncoder()).add([corpus])  # another writer
    status, body = get(address, "/search?q=zebra+quasar&mode=lexical")
    assert status == 200 and body[0]["path"] == str(corpus / "new.txt")


def test_concurrent_requests_are_serialized_safely(served) -> None:
    address, index_dir = served
    reference = SearchIndex(index_dir, encoder=FakeEncoder())
    queries = ["shock waves", "heat transfer", "wing lift", "flat plate", "camber"]
    expected = {q: json.loads(hits_json(reference.search(q))) for q in queries}

    def client(n: int) -> list[bool]:
        return [
            get(address, "/search?" + urlencode({"q": queries[(n + i) % 5]}))[1]
            == expected[queries[(n + i) % 5]]
            for i in range(20)
        ]

    with ThreadPoolExecutor(8) as pool:
        assert all(all(ok) for ok in pool.map(client, range(8)))


# -- with the real model ----------------------------------------------------------------------


def same_hits(got: list[dict], want: list[dict]) -> bool:
    """Equal hits; scores and cosines within one unit of the JSON's sixth decimal: a lexical
    hit's cosine is a BLAS dot product whose last bit can vary from one call to the next (seen:
    0.176752 served, 0.176751 from the CLI)."""
    numbers = ("score", "cosine")
    return len(got) == len(want) and all(
        {k: v for k, v in a.items() if k not in numbers}
        == {k: v for k, v in b.items() if k not in numbers}
        and all(abs(a[k] - b[k]) < 1.5e-6 for k in numbers)
        for a, b in zip(got, want)
    )


@pytest.mark.slow
def test_load_8_clients_x_50_queries_equal_the_cli(
    cranfield_folder_index, cranfield, loaded_model, capsys
) -> None:
    _, index_dir = cranfield_folder_index
    modes = ["hybrid", "dense", "lexical"]
    requests = [
        (text, modes[i % 3], 5 + i % 6)
        for i, text in enumerate(list(cranfield.queries.values())[:50])
    ]
    expected = {}
    for text, mode, k in requests:
        code, out, err = run_cli(
            capsys, "query", text, "--index-dir", str(index_dir), "--json", "--mode", mode,
            "-k", str(k),
        )  # fmt: skip
        assert code == 0, err
        expected[(text, mode, k)] = json.loads(out)

    served = _serve(SearchIndex(index_dir))
    address, _ = next(served)
    latencies: list[float] = []
    try:

        def client(n: int) -> list[str]:
            problems = []
            connection = http.client.HTTPConnection(*address, timeout=60)  # kept alive
            try:
                for i in range(50):
                    text, mode, k = requests[(n * 7 + i) % 50]
                    started = time.perf_counter()
                    query = urlencode({"q": text, "mode": mode, "k": k})
                    connection.request("GET", f"/search?{query}")
                    response = connection.getresponse()
                    body = json.loads(response.read())
                    latencies.append(time.perf_counter() - started)
                    if response.status != 200 or not same_hits(body, expected[(text, mode, k)]):
                        want = [(h["chunk_id"], h["score"]) for h in expected[(text, mode, k)]]
                        got = [(h["chunk_id"], h["score"]) for h in body]
                        problems.append(
                            f"{response.status} for {text[:40]!r} {mode} {k}: {got} != {want}"
                        )
            finally:
                connection.close()
            return problems

        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            problems = [p for found in pool.map(client, range(8)) for p in found]
        wall = time.perf_counter() - started
    finally:
        next(served, None)
    assert problems == []
    assert len(latencies) == 400
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"\nserve: 8 clients x 50 queries, {len(latencies)} answers: p50 {cuts[49] * 1000:.1f} ms, "
        f"p99 {cuts[98] * 1000:.1f} ms, {len(latencies) / wall:.0f} queries/s (one at a time)"
    )


def hang_up_before_the_answer(address: tuple[str, int], *, reset: bool) -> None:
    """Send a search and close at once (``reset``: with a TCP reset), as a client that
    cancels a request or times out does."""
    with socket.create_connection(address, timeout=5) as client:
        if reset:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.sendall(b"GET /search?q=shock+waves HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")


def serve_process(*args: str) -> tuple[subprocess.Popen, list[str], tuple[str, int]]:
    """`search serve --port 0 ARGS` as the command runs: the process, the lines it wrote on
    stderr before "serving ... on http://127.0.0.1:PORT (Ctrl-C to stop)", and that address."""
    # PYTHONFAULTHANDLER: a hang can show where each thread is
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PYTHONFAULTHANDLER": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "searchapp", "serve", "--port", "0", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    lines: list[str] = []
    while " on http://" not in (line := process.stderr.readline()):
        if not line:
            process.kill()
            process.wait()
            pytest.fail(f"serve exited: {''.join(lines)}")
        lines.append(line)
    return process, lines, ("127.0.0.1", int(line.split(" on http://127.0.0.1:")[1].split()[0]))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stop", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_serve_watch_answers_while_it_keeps_the_index_fresh(corpus, tmp_path, stop, status):
    # SIGTERM (a service manager) killed it outright: a batch under way lost its vectors.
    # SIGHUP (its terminal closed) too.
    index_dir = tmp_path / "idx"
    process, lines, address = serve_process(
        "--watch", str(corpus), "--index-dir", str(index_dir), "--device", "cpu"
    )
    try:
        # It listens before it indexes, and answers meanwhile: a client probing the port was
        # refused until the folder was indexed (minutes for a new one).
        assert lines == []
        assert get(address, "/info")[0] in (200, 503)  # no index yet, or the first passages
        said = [process.stderr.readline() for _ in range(2)]
        assert said[0].startswith("indexing the watched paths; answering from the index")
        assert said[1].startswith("indexed: 3 added"), said
        assert len(get(address, "/search?q=shock+waves")[1]) == 3
        for linger in (False, True):  # clients that hang up before their answer: closed, reset
            for _ in range(3):
                hang_up_before_the_answer(address, reset=linger)
        assert len(get(address, "/search?q=shock+waves")[1]) == 3  # still serving
        (corpus / "fresh.txt").write_text("zebra quasar marmalade\n", "utf-8")
        written = time.monotonic()
        while time.monotonic() < written + 30:
            hits = get(address, "/search?q=zebra+quasar+marmalade&k=1&mode=lexical")[1]
            if hits and hits[0]["path"] == str(corpus / "fresh.txt"):
                break
            time.sleep(0.02)
        else:
            pytest.fail("the new file was not found within 30 s")
        print(f"\nserve --watch: a write was served after {time.monotonic() - written:.3f}s")
        process.send_signal(stop)
        try:
            _, rest = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # faulthandler prints every thread's stack on SIGABRT
            process.send_signal(signal.SIGABRT)
            _, stacks = process.communicate(timeout=30)
            pytest.fail(f"serve did not stop within 30 s of {stop!r}; its threads:\n{stacks}")
        assert process.returncode == status, rest
        assert "Traceback" not in rest and "error" not in rest, rest
        assert "1 added, 0 updated, 0 removed" in rest
        assert rest.strip().splitlines()[-1] == "stopped, every batch of changes committed"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_serve_watch_takes_watch_options_and_tells_skipped_files(corpus, tmp_path):
    # It had no --no-default-excludes or --debounce, and said "1 skipped" with no reason.
    (corpus / "package-lock.json").write_text('{"name": "pump", "lockfileVersion": 3}\n')
    (corpus / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    index_dir = tmp_path / "idx"
    process, _, address = serve_process(
        *("--watch", str(corpus), "--no-default-excludes", "--debounce", "200"),
        *("--index-dir", str(index_dir), "--device", "cpu"),
    )
    try:
        said = [process.stderr.readline() for _ in range(3)]
        assert said[1] == "1 file skipped (binary file: 1); --verbose lists them\n", said
        assert said[2].startswith("indexed: 4 added"), said  # the lock file too
        hits = get(address, "/search?q=lockfileVersion&mode=lexical")[1]
        assert [Path(hit["path"]).name for hit in hits] == ["package-lock.json"]
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_before_the_first_index_answers_503_until_there_is_one(corpus, tmp_path):
    # A service started before the first `search index` ended with status 2 (a restart loop);
    # `search mcp` served, each tool saying there was no index.
    index_dir = tmp_path / "idx"
    process, lines, address = serve_process("--index-dir", str(index_dir))
    try:
        assert lines == [
            f"warning: no index at {index_dir}; run `search index PATH --index-dir {index_dir}` "
            "to create one; answering 503 until there is one\n"
        ]
        status, body = get(address, "/search?q=shock+waves")
        assert status == 503 and body["error"].startswith(f"no index at {index_dir}")
        # The first `search index` has made index.db but not yet its tables: a 500 said the
        # index was damaged and to --rebuild it.
        index_dir.mkdir()
        (index_dir / "index.db").write_bytes(b"")
        status, body = get(address, "/search?q=shock+waves")
        assert status == 503, body
        assert body["error"].startswith(f"no index at {index_dir} yet"), body
        assert "--rebuild" not in body["error"]
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize(
    ("terminated", "status"), [(0, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_a_second_interrupt_while_the_batch_finishes_ends_at_once(
    monkeypatch, terminated, status
) -> None:
    # Ctrl-C twice 50 ms apart, the second before the wait for the batch began: its
    # KeyboardInterrupt left `serve --watch` while the watching thread embedded, and the
    # interpreter ended under it ("terminate called without an active exception", 134).
    from rich.console import Console

    from searchapp.interfaces import serve
    from searchapp.interfaces.cli_app import state

    class Embedding:  # the watching thread, busy with a batch
        def join(self, timeout: float | None = None) -> None:
            raise KeyboardInterrupt  # the second Ctrl-C, in the first wait

        def is_alive(self) -> bool:
            return True

    def exit_now(code: int) -> None:
        raise SystemExit(code)

    monkeypatch.setattr(serve.os, "_exit", exit_now)
    monkeypatch.setitem(state, "terminated", terminated)
    err = Console(record=True, width=200)
    with pytest.raises(SystemExit) as stopped:
        serve._finish_following(Embedding(), err)
    assert stopped.value.code == status
    # Not "not committed": a batch commits as it goes, so part of it may be in the index.
    assert "interrupted: the batch of changes under way stopped where it was" in err.export_text()


@pytest.mark.parametrize("command", ["watch", "serve", "mcp"])
def test_the_new_commands_have_help(capsys, command) -> None:
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0
    assert "Usage" in out and "--index-dir" in out


def test_serve_watch_stops_with_an_error_when_watching_fails(corpus, tmp_path, monkeypatch):
    # It went on answering from an index nobody kept fresh any more, and said so only once,
    # on stderr (the index folder deleted under it): now it stops, as `search watch` does.
    from rich.console import Console

    from searchapp.interfaces import serve as serve_module
    from searchapp.interfaces.watch import Watcher

    def fails(self, *args, **kwargs) -> None:
        raise RuntimeError("no index at /gone")

    monkeypatch.setattr(Watcher, "follow", fails)
    err = Console(file=io.StringIO(), width=200)
    give_up = threading.Timer(20, os.kill, (os.getpid(), signal.SIGINT))  # a failure, not a hang
    give_up.start()
    try:
        index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
        code = serve_module.serve(index, err, port=0, watch_paths=[str(corpus)])
    finally:
        give_up.cancel()
    said = err.file.getvalue()
    assert code == 2, said
    assert said.strip().splitlines()[-1] == (
        "stopped: the index is no longer watched, so its answers would go stale"
    )


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")
def test_a_request_under_way_when_told_to_stop_is_answered_whole(
    corpus, tmp_path, monkeypatch
) -> None:
    # Its thread is a daemon: the process ended under it, and the client got an empty reply
    # or a body cut short (6 of 16 tries with a SIGTERM 0.3 s after a first request). Here
    # the process goes on: what counts is that the answer is sent before serve returns.
    from rich.console import Console

    from searchapp.interfaces import serve as serve_module

    index_dir = tmp_path / "idx"
    SearchIndex(index_dir, encoder=FakeEncoder()).add([corpus])
    index = SearchIndex(index_dir, encoder=FakeEncoder())
    asked = threading.Event()
    sent: list[int] = []
    send = serve_module._Handler._send

    def slow_send(handler, status, body, headers=None):
        asked.set()
        time.sleep(1.0)  # a long answer, under way when the Ctrl-C comes
        send(handler, status, body, headers)
        sent.append(status)

    monkeypatch.setattr(serve_module._Handler, "_send", slow_send)
    servers: list[SearchServer] = []
    listen = SearchServer.listen
    monkeypatch.setattr(SearchServer, "listen", lambda self: servers.append(self) or listen(self))
    answers: list[tuple[int, bytes]] = []

    def client() -> None:
        try:
            while not servers:
                time.sleep(0.01)
            connection = http.client.HTTPConnection(*servers[0].server_address[:2], timeout=30)
            connection.request("GET", "/search?q=wing+lift&k=3")
            response = connection.getresponse()
            answers.append((response.status, response.read()))
        finally:
            asked.set()

    def press_ctrl_c() -> None:
        asked.wait(timeout=30)
        time.sleep(0.2)  # the search under way
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    threads = [threading.Thread(target=f, daemon=True) for f in (client, press_ctrl_c)]
    for thread in threads:
        thread.start()
    give_up = threading.Timer(30, os.kill, (os.getpid(), signal.SIGINT))  # a failure, not a hang
    give_up.start()
    try:
        code = serve_module.serve(index, Console(file=io.StringIO()), port=0)
        answered_before_returning = list(sent)
    finally:
        give_up.cancel()
    assert answered_before_returning == [200]  # before the process could end under it
    for thread in threads:
        thread.join(timeout=30)
    assert code == 130
    assert [status for status, _ in answers] == [200]
    hits = json.loads(answers[0][1])
    assert len(hits) == 3 and hits[0]["path"].startswith(str(corpus))


def test_documents_gives_the_lines_of_a_pdf_page(tmp_path) -> None:
    # Hits name a page (p.3) and `search get --page` takes one; an HTTP client had to find
    # that page's lines itself.
    from urllib.parse import quote

    from tests.searchapp.ingest.test_formats_pdf import make_pdf

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "paper.pdf").write_bytes(make_pdf(["Intro text.", "", "Third one.\nThird two."]))
    (docs / "note.md").write_text("a note without pages\n", "utf-8")
    SearchIndex(tmp_path / "idx", encoder=FakeEncoder()).add([docs])
    served = _serve(SearchIndex(tmp_path / "idx", encoder=FakeEncoder()))
    address, _ = next(served)
    try:
        target = "/documents/" + quote(str(docs / "paper.pdf"), safe="")
        status, body = get(address, target + "?page=3")
        assert status == 200 and body["text"] == "Third one.\nThird two.", body
        assert get(address, target + "?page=1-2")[1]["text"] == "Intro text."
        status, body = get(address, target + "?page=2")
        assert status == 400 and "has no text on page 2" in body["error"]
        status, body = get(address, target + "?page=3&lines=1")
        assert (status, body["error"]) == (400, "give lines or page, not both")
        # Named as this API names them: page=, lines= (not pages, --lines).
        assert get(address, target + "?page=0")[1]["error"].startswith("page ('0') must be")
        note = "/documents/" + quote(str(docs / "note.md"), safe="")
        status, body = get(address, note + "?page=1")
        assert status == 400 and body["error"].endswith("give lines= instead"), body
    finally:
        served.close()
