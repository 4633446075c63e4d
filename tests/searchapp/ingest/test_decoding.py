"""Decoding: bytes to normalised text, binary detection, HTML, BEIR JSONL and whole files."""

from __future__ import annotations

import codecs
import gzip
import json
import logging
import os
import re
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchapp.errors import SearchAppError
from searchapp.ingest.decoding import (
    DecodedText,
    JsonlRecord,
    JsonlStats,
    NotTextError,
    SourceDocument,
    decode_bytes,
    is_beir_jsonl,
    iter_jsonl_records,
    load_documents,
    normalise,
    read_bytes,
    read_text,
)
from searchapp.ingest.discovery import iter_files
from searchapp.ingest.formats.html import html_to_text

PAGE = """<!DOCTYPE html>
<html><head><title>  The   Title </title>
<style>body { color: red }</style><script>var hidden = "no";</script></head>
<body>
<h1>Heading &amp; more</h1>
<p>First   paragraph
spans lines.</p><p>Second&nbsp;one with <b>bold</b> and <a href="#">a link</a>.</p>
<noscript>enable scripts</noscript><template><p>template text</p></template>
<ul><li>one</li><li>two</li></ul>
<table><tr><td>a</td><td>b</td></tr></table>
line<br>break<br/>again
<!-- a comment -->
</body></html>
"""
PAGE_TEXT = (
    "Heading & more\n\nFirst paragraph spans lines.\n\nSecond one with bold and a link.\n\n"
    "one\ntwo\n\na b\n\nline\nbreak\nagain"
)
# An .html file's text as indexed: each line the visible text of the file's same line.
PAGE_LINES = (
    "\n\n\n\nHeading & more\nFirst paragraph\nspans lines. Second one with bold and a link.\n"
    "\none two\na b\nline break again"
)


# -- decode_bytes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"plain ascii\n", "plain ascii\n"),
        ("caf\u00e9 \u6771\u4eac".encode(), "caf\u00e9 \u6771\u4eac"),
        (codecs.BOM_UTF8 + "bom \u00e9".encode(), "bom \u00e9"),
        (codecs.BOM_UTF16_LE + "utf16 le \u00e9".encode("utf-16-le"), "utf16 le \u00e9"),
        (codecs.BOM_UTF16_BE + "utf16 be \u00e9".encode("utf-16-be"), "utf16 be \u00e9"),
        (codecs.BOM_UTF32_LE + "utf32 \u00e9".encode("utf-32-le"), "utf32 \u00e9"),
        (codecs.BOM_UTF32_BE + "utf32 \u00e9".encode("utf-32-be"), "utf32 \u00e9"),
        ("\u201cquoted\u201d \u20ac5".encode("cp1252"), "\u201cquoted\u201d \u20ac5"),
        (b"latin \x81\xe9", "latin \x81\u00e9"),  # 0x81 is not cp1252: latin-1 takes it
        # Lines as grep counts them: \r\r\n ends one line, and a lone \r (a progress bar's
        # redraw) none. Both doubled or shifted `path:line`.
        (b"a\r\nb\rc\n", "a\nb c\n"),
        (b"a\r\r\nb\r\r\nc", "a\nb\nc"),
        (b"classic\rmac\r", "classic mac "),  # one line, as grep -n and vim see it
        # A stray cp1252 byte in UTF-8 text made the whole file cp1252 ("GrÃ¶ÃŸe"), and after a
        # UTF-8 mark, binary. A few such bytes are read as cp1252, the rest as UTF-8.
        (
            "Gr\u00f6\u00dfe \u00dcber".encode() + b" caf\xe9!",
            "Gr\u00f6\u00dfe \u00dcber caf\u00e9!",
        ),
        (codecs.BOM_UTF8 + "\u00fcber".encode() + b" caf\xe9", "\u00fcber caf\u00e9"),
        # Three stray bytes against four UTF-8 characters made the file cp1252 ("42 â‚¬"): one
        # of three bytes (€) is no accident of cp1252 text, and weighs three.
        (
            "42 \u20ac, gr\u00fc\u00dfe, na\u00efve.".encode() + b" \xff \xfe \xfa",
            "42 \u20ac, gr\u00fc\u00dfe, na\u00efve. \u00ff \u00fe \u00fa",
        ),
        # One stray byte against one "é" made a short file cp1252 ("cafÃ©"): a character of
        # U+0080-U+00FF is "Â" or "Ã" and a symbol in cp1252, no accident of its text.
        (b"UTF-8 caf\xc3\xa9, a stray \x96 dash", "UTF-8 caf\u00e9, a stray \u2013 dash"),
        # A quoted phrase pasted from a Windows program, cp1252's opening and closing marks, is
        # one patch, not two against the one "é" ("cafÃ©").
        (b"a \x93smart quote\x94 in a caf\xc3\xa9", "a \u201csmart quote\u201d in a caf\u00e9"),
        (b"\x91single\x92 caf\xc3\xa9", "\u2018single\u2019 caf\u00e9"),
        # Bytes cp1252 leaves undefined, among UTF-8 characters: UTF-8 with damaged bytes, not
        # latin-1 ("rÃ©sumÃ©").
        (
            "r\u00e9sum\u00e9 na\u00efve".encode() + b" \x81\x8d\x9d",
            "r\u00e9sum\u00e9 na\u00efve \x81\x8d\x9d",
        ),
        # cp1252 whose "é…”" happens to be the three bytes of U+9054 stays cp1252 ("Ol酔").
        (
            "\u201cOl\u00e9\u2026\u201d he said. \u201cTouch\u00e9\u2026\u201d".encode("cp1252"),
            "\u201cOl\u00e9\u2026\u201d he said. \u201cTouch\u00e9\u2026\u201d",
        ),
        # cp1252 whose "ß“" happens to be a UTF-8 pair of bytes stays cp1252.
        (
            "Die Gr\u00f6\u00dfe \u201eGru\u00df\u201c".encode("cp1252"),
            "Die Gr\u00f6\u00dfe \u201eGru\u00df\u201c",
        ),
        (codecs.BOM_UTF16_LE + "odd".encode("utf-16-le") + b"!", "odd"),  # a last byte cut
        (b"tab\tform\x0cfeed\x1b[0m", "tab\tform feed"),  # a colour code taken out
        ("\u00e9t\u00e9 \u20ac".encode()[:-1], "\u00e9t\u00e9 "),  # UTF-8 cut short
        (b"caf\xe9", "caf\u00e9"),  # cp1252, although UTF-8 would call it cut short
        (b"", ""),
    ],
)
def test_decode_bytes(data: bytes, expected: str) -> None:
    assert decode_bytes(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04\x00\x00binary",
        b"text then a NUL far away" * 1000 + b"\x00",
        bytes(range(1, 32)) * 10,
        codecs.BOM_UTF16_LE + b"\x00\xd8",  # a lone surrogate
        codecs.BOM_UTF16_LE + b"\x01\x00" * 50,  # control characters
    ],
)
def test_binary_is_none(data: bytes) -> None:
    assert decode_bytes(data) is None


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2000))
def test_decode_bytes_never_raises(data: bytes) -> None:
    text = decode_bytes(data)
    if text is not None:
        assert "\r" not in text
        assert not any(ord(ch) < 32 and ch not in "\t\n" for ch in text)


def test_marks_not_seen_are_taken_out_of_text() -> None:
    # A second trial: an iPhone's WhatsApp export begins lines with a left-to-right mark,
    # printed `\u200e` in hits; a zero-width space splits a word for search.
    data = "\u200e[12/03/2023, 14:22:01] Alex: \u200eimage omitted\npass\u200bword \u05e9\u200f!\n"
    text = decode_bytes(data.encode())
    assert text == "[12/03/2023, 14:22:01] Alex: image omitted\npassword \u05e9!\n"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    family += " \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    assert decode_bytes(family.encode()) == family  # joiners kept: an emoji, Persian
    # ...and from text not decoded as a file is: a page's references, a message's body
    assert html_to_text("<p>the pass&#8203;word &#8206;is here</p>")[1] == "the password is here"
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["Subject"] = "Wifi"
    mail.set_content("the pass\u200bword is here \u200e\n")
    [message] = load_documents(Path("wifi.eml"), data=bytes(mail))
    assert "the password is here\n" in message.text


def test_a_tables_rows_are_lines_of_their_own() -> None:
    # A second trial: an Evernote note's table read "Vendor Price Notes Gong $1,450 per
    # seat ... Chorus $1,100": a row's end after a cell's end was taken for a cell's space.
    table = (
        "<table><tr><th>Vendor</th><th>Price</th></tr><tr><td>Gong</td><td>$1,450</td></tr>"
        "<tr><td>Chorus</td><td>$1,100</td></tr></table><p>After it.</p>"
    )
    assert html_to_text(table)[1] == "Vendor Price\nGong $1,450\nChorus $1,100\n\nAfter it."


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("<>/!-&;# \n=\"'abhtmlscriptpbrdiv") | st.characters()))
def test_html_to_text_never_raises(html: str) -> None:
    title, text = html_to_text(html)
    assert isinstance(title, str) and isinstance(text, str)


# -- HTML ---------------------------------------------------------------------------------------


def test_html_visible_text() -> None:
    assert html_to_text(PAGE) == ("The Title", PAGE_TEXT)


def test_html_with_thousands_of_unclosed_tags_is_read_as_text_once() -> None:
    # Python's parser read the rest of the page again at each "<" no ">" closes: a 240 KB page
    # of "<a " took 9 minutes, and held the whole run (SIGTERM too). Those "<" are text now;
    # a page whose "<" are closed, or nearly all, is read as before.
    from searchapp.ingest.formats.html import UNCLOSED_TAGS, unclosed_as_text

    assert unclosed_as_text(PAGE) == PAGE
    few = "<p>a < b</p>" * UNCLOSED_TAGS
    assert unclosed_as_text(few) == few
    many = "<p>hello</p><div title='x'>" + "<a " * 5000 + "<!--" * 100
    escaped = unclosed_as_text(many)
    assert escaped.startswith("<p>hello</p><div title='x'>&lt;a &lt;a ")
    assert escaped.count("<") == 3 and escaped.endswith("&lt;!--")
    assert html_to_text(many)[1].startswith("hello\n\n<a <a <a")
    # Stray ">" before them (quoted mail, "=>") do not hide them; an unclosed comment is text.
    stray = "<p>" + ">" * 8000 + "</p>" + "<a " * 8000
    assert unclosed_as_text(stray).count("<") == 2
    comments = "<p>x</p>" + "<!--" * 1000
    assert unclosed_as_text(comments) == "<p>x</p>" + "&lt;!--" * 1000
    # A "<" that something closes is left as it was: a comment, an attribute, text's "x < y".
    sloppy = '<body><!-- a < b --><img alt="1<2" src=x><p>' + " x < y " * 70 + "</p></body>"
    assert unclosed_as_text(sloppy) == sloppy
    assert html_to_text(sloppy)[1].startswith("x < y x < y")


def test_html_with_an_unclosed_head_still_has_a_body() -> None:
    title, text = html_to_text("<html><head><title>T</title><body><p>Body text</p></body>")
    assert (title, text) == ("T", "Body text")


def test_html_pre_keeps_its_lines() -> None:
    assert html_to_text("<p>x</p><pre>a  b\nc</pre>")[1] == "x\n\na b\nc"


def test_html_head_left_open_without_a_body_ends_at_the_first_element_of_the_page() -> None:
    # HTML5 lets </head> and <body> out: all of such a page's text was taken for its head.
    page = "<!doctype html><html><head><meta charset=utf-8><title>T</title><h1>Hello</h1><p>Text"
    assert html_to_text(page) == ("T", "Hello\n\nText")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(["<p>", "</p>", "<li>", "<br>", "<td>", "<style>x{}</style>", "\n", " "]),
        max_size=40,
    )
)
def test_html_text_keeps_each_word_on_the_line_of_the_file_it_is_on(tags: list[str]) -> None:
    # A hit in an .html file counted lines of the extracted text: `vim -q` opened the
    # <style> block, 27 lines above the text it named.
    parts = [f"{tag}w{n} " for n, tag in enumerate(tags)]
    html = "<html><head><title>T</title>\n<style>\np{}\n</style></head><body>\n" + "".join(parts)
    _, text = html_to_text(html, source_lines=True)
    source, extracted = html.split("\n"), text.split("\n")
    for n in range(len(parts)):
        word = re.compile(rf"\bw{n}\b")
        expected = [i for i, line in enumerate(source) if word.search(line)]
        assert [i for i, line in enumerate(extracted) if word.search(line)] == expected


def test_html_newline_references_are_not_lines_of_the_file() -> None:
    # "&#10;" decoded to a newline was counted as one of the file's lines: the words of the
    # lines after it piled up on one line of the text.
    page = "<p>intro</p>\n<pre>a=1&#10;b=2&#x0A;c=3&NewLine;d=4</pre>\nalpha\nbeta\n"
    _, text = html_to_text(page, source_lines=True)
    assert text.split("\n") == ["intro", "a=1 b=2 c=3 d=4", "alpha", "beta"]


# -- JSONL --------------------------------------------------------------------------------------


def test_jsonl_records() -> None:
    lines = [
        {"_id": "d1", "title": "Title", "text": "Body one."},
        {"id": 7, "text": "No title.\r\nTwo lines."},
        {"_id": "d3", "title": "", "text": ""},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\n\n"
    stats = JsonlStats()
    records = list(iter_jsonl_records(text, "c.jsonl", stats=stats))
    assert records == [
        JsonlRecord("d1", "Title", "Title\nBody one.", 1),
        JsonlRecord("7", "", "No title.\nTwo lines.", 2),
        JsonlRecord("d3", "", "", 3),
    ]
    assert stats == JsonlStats(records=3)


def test_jsonl_bad_lines_and_repeated_ids_are_skipped_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lines = [
        '{"_id": "a", "text": "good"}',
        "{not json",
        "[1, 2]",
        '{"_id": "b"}',
        '{"_id": true, "text": "bool id"}',
        '{"_id": "c", "text": 5}',
        '{"_id": "a", "text": "again"}',
        '{"_id": "d", "text": "good too", "title": null}',
    ]
    stats = JsonlStats()
    with caplog.at_level(logging.WARNING, logger="searchapp.ingest.decoding"):
        records = list(iter_jsonl_records("\n".join(lines), "c.jsonl", stats=stats))
    assert [r.doc_id for r in records] == ["a", "d"]
    assert stats == JsonlStats(records=2, bad_lines=5, duplicate_ids=1)
    assert "c.jsonl:2: skipped" in caplog.text
    assert "c.jsonl:7: skipped: the id 'a'" in caplog.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"_id": "1", "text": "t"}\n', True),
        ('\n\n{"id": "1", "title": "x", "text": "t"}', True),
        ('{"_id": "1", "title": "t"}', False),
        ('{"name": "x"}', False),
        ("plain text", False),
        ("", False),
    ],
)
def test_is_beir_jsonl(text: str, expected: bool) -> None:
    assert is_beir_jsonl(text) is expected


# -- files --------------------------------------------------------------------------------------


def test_load_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "notes"
    path.write_bytes(b"line one\r\nline two\n")
    [document] = load_documents(path)
    assert document == SourceDocument(str(path.absolute()), path, "", "line one\nline two\n")


def test_load_uses_given_data_without_reading(tmp_path: Path) -> None:
    path = tmp_path / "gone.txt"  # never written
    [document] = load_documents(path, data=b"from memory")
    assert document.text == "from memory"


def test_load_html_file_and_sniffed_html(tmp_path: Path) -> None:
    (tmp_path / "page.htm").write_text("<p>Hello <i>there</i></p><script>x()</script>")
    (tmp_path / "page.txt").write_text(PAGE)
    [htm] = load_documents(tmp_path / "page.htm")
    [sniffed] = load_documents(tmp_path / "page.txt")
    assert (htm.title, htm.text) == ("", "Hello there")
    assert (sniffed.title, sniffed.text) == ("The Title", PAGE_LINES)


def test_load_beir_jsonl_and_lookalikes(tmp_path: Path) -> None:
    corpus = '{"_id": "x1", "title": "T", "text": "one"}\n{"_id": "x2", "text": "two"}\n'
    (tmp_path / "corpus.jsonl").write_text(corpus)
    (tmp_path / "corpus.json").write_text(corpus)
    (tmp_path / "other.jsonl").write_text('{"event": "click"}\n')
    documents = load_documents(tmp_path / "corpus.jsonl")
    ids = [f"{tmp_path / 'corpus.jsonl'}#x1", f"{tmp_path / 'corpus.jsonl'}#x2"]  # path#id
    assert [(d.doc_id, d.title, d.text) for d in documents] == [
        (ids[0], "T", "T\none"),
        (ids[1], "", "two"),
    ]
    assert all(d.path == tmp_path / "corpus.jsonl" for d in documents)
    [as_text] = load_documents(tmp_path / "corpus.json")
    assert as_text.text == corpus and as_text.doc_id == str(tmp_path / "corpus.json")
    assert len(load_documents(tmp_path / "other.jsonl")) == 1


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "binary file"),
        (lambda p: p.write_bytes(b"x" * 101), "larger than the"),
        (lambda p: None, "vanished"),
        (lambda p: p.mkdir(), "not a regular file"),
        (lambda p: os.mkfifo(p), "not a regular file"),
    ],
)
def test_files_that_are_not_text(tmp_path: Path, make, reason: str) -> None:
    path = tmp_path / "file.txt"
    make(path)
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            load_documents(path, max_bytes=100)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)  # a FIFO must not block
    worker.start()
    worker.join(timeout=10)
    assert outcome, "load_documents blocked or did not raise"
    [error] = outcome
    assert isinstance(error, NotTextError) and isinstance(error, SearchAppError)
    assert reason in str(error) and error.path == path


def test_gzip_files_are_read_as_what_they_hold(tmp_path: Path) -> None:
    # What zcat prints is indexed, its format told by the name less .gz; several members too.
    corpus = '{"_id": "x1", "text": "one"}\n'
    markdown = "# Install\n\nRun make.\n"
    (tmp_path / "NEWS.gz").write_bytes(gzip.compress(b"news\r\n") + gzip.compress(b"more\n"))
    (tmp_path / "guide.md.gz").write_bytes(gzip.compress(markdown.encode()))
    (tmp_path / "corpus.jsonl.gz").write_bytes(gzip.compress(corpus.encode()))
    [news] = load_documents(tmp_path / "NEWS.gz")
    assert (news.text, news.path, news.doc_id) == (
        "news\nmore\n",
        tmp_path / "NEWS.gz",
        str(tmp_path / "NEWS.gz"),
    )
    [guide] = load_documents(tmp_path / "guide.md.gz")
    assert guide.text.strip() == "# Install\n\nRun make." and guide.spans  # its heading
    assert guide.spans == load_documents(tmp_path / "g.md", data=markdown.encode())[0].spans
    [record] = load_documents(tmp_path / "corpus.jsonl.gz")
    assert record.doc_id == f"{tmp_path / 'corpus.jsonl.gz'}#x1" and record.text == "one"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("cut.gz", gzip.compress(b"some text" * 10)[:-12], "damaged gzip file"),
        ("bomb.gz", gzip.compress(b"x" * 1000), "larger than the 0.0 MiB limit decompressed"),
        ("src.tar.gz", gzip.compress(b"ustar"), "compressed tar archive"),
        ("src.tgz", gzip.compress(b"ustar"), "compressed tar archive"),
        ("image.gz", gzip.compress(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "binary file"),
    ],
)
def test_gzip_files_that_are_not_text(tmp_path: Path, name, data, reason) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(NotTextError, match=reason) as raised:
        load_documents(path, max_bytes=500)
    assert raised.value.path == path


def test_read_text_and_read_bytes(tmp_path: Path) -> None:
    path = tmp_path / "u16.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "hi\r\n".encode("utf-16-le"))
    assert read_text(path) == DecodedText("hi\n", "utf-16-le")
    assert read_bytes(path, max_bytes=None) == path.read_bytes()
    with pytest.raises(NotTextError, match="larger than the 0.0 MiB limit"):
        read_bytes(path, max_bytes=4)


def test_a_terminals_escape_codes_are_taken_out_lines_kept(tmp_path: Path) -> None:
    # A coloured log: its ESC became a space and "[31mERROR [0m" was indexed and shown.
    path = tmp_path / "build.log"
    path.write_bytes(
        b"\x1b[1;31mERROR\x1b[0m disk full\n"
        b"\x1b]0;make: building\x07compiling \x1b]8;;file:///a.c\x1b\\a.c\x1b]8;;\x1b\\\n"
        b"\x1b(Bplain \x1b[2Kline\n"
    )
    assert read_text(path).text == "ERROR disk full\ncompiling a.c\nplain line\n"
    # Any other ESC is a space, and the text after it is kept.
    assert normalise("\x1bHello, \x1b[ ok \x1b  word") == " Hello,  [ ok    word"


def test_a_file_is_read_in_pieces_up_to_its_limit(tmp_path: Path, monkeypatch) -> None:
    # One read of the whole limit (50 MB) failed on kernel files: /proc/sys/kernel/ostype was
    # "cannot read: Cannot allocate memory", though cat reads it.
    from searchapp.ingest import decoding

    monkeypatch.setattr(decoding, "READ_PIECE_BYTES", 7)
    path = tmp_path / "log.txt"
    path.write_bytes(bytes(range(256)) * 3)
    assert read_bytes(path, max_bytes=768) == path.read_bytes()
    assert read_bytes(path, max_bytes=None) == path.read_bytes()
    with pytest.raises(NotTextError, match="larger than"):
        read_bytes(path, max_bytes=767)
    # A file of its size is read in one piece (pieces joined held it twice); what it has past
    # that size (grown since it was looked at, a kernel file of size 0), a piece at a time.
    reads = []

    class Handle:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def read(self, count: int) -> bytes:
            reads.append(count)
            piece, self.data = self.data[:count], self.data[count:]
            return piece

    assert decoding._read_at_most(Handle(b"x" * 768), None, 768) == b"x" * 768
    assert reads == [769]
    reads.clear()
    assert decoding._read_at_most(Handle(b"x" * 780), 800, 768) == b"x" * 780  # it grew
    assert reads == [769, 7, 7, 7]
    reads.clear()
    assert decoding._read_at_most(Handle(b"Linux\n"), None, 0) == b"Linux\n"  # /proc's size 0
    assert reads == [7, 7]


@pytest.mark.skipif(not Path("/proc/sys/kernel/ostype").exists(), reason="needs Linux's /proc")
def test_a_kernel_file_of_size_zero_is_read() -> None:
    assert read_text(Path("/proc/sys/kernel/ostype")).text.strip() == os.uname().sysname


def test_a_folder_of_mixed_files(tmp_path: Path) -> None:
    """Discovery and decoding together: every kind of file ends up as text or a reason."""
    files = {
        "utf8_bom.md": codecs.BOM_UTF8 + "# Caf\u00e9\n".encode(),
        "utf16.txt": codecs.BOM_UTF16_LE + "wide text\n".encode("utf-16-le"),
        "cp1252.txt": "na\u00efve \u2013 r\u00e9sum\u00e9\n".encode("cp1252"),
        "page.html": PAGE.encode(),
        "corpus.jsonl": b'{"_id": "q", "text": "record"}\n',
        "LICENSE": b"no extension\n",
        "binary.txt": b"looks like text\x00\x01\x02 but is not",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    texts: dict[str, list[str]] = {}
    skipped: dict[str, str] = {}
    for path in iter_files([tmp_path]):
        try:
            texts[path.name] = [d.text for d in load_documents(path)]
        except NotTextError as exc:
            skipped[path.name] = str(exc)
    assert texts == {
        "LICENSE": ["no extension\n"],
        "corpus.jsonl": ["record"],
        "cp1252.txt": ["na\u00efve \u2013 r\u00e9sum\u00e9\n"],
        "page.html": [PAGE_LINES],
        "utf16.txt": ["wide text\n"],
        "utf8_bom.md": ["# Caf\u00e9\n"],
    }
    assert skipped == {"binary.txt": "binary file"}


def test_prose_kept_a_paragraph_a_line_is_not_taken_for_generated_text() -> None:
    # A transcript with one long line per paragraph was skipped as "minified or generated
    # text", said only in a count.
    import base64
    import json
    import random

    from searchapp.ingest.decoding import looks_generated

    rng = random.Random(2)
    said = ["The speaker discussed the river trade.", "Several people asked about the bridge."]
    transcript = "\n\n".join(" ".join(rng.choice(said) for _ in range(200)) for _ in range(4))
    chinese = "今天学习了如何使用向量数据库进行语义搜索。嵌入模型把句子变成向量。" * 800
    assert not looks_generated(transcript) and not looks_generated(chinese)
    dump = json.dumps([{"id": i, "title": f"Item {i}", "score": rng.random()} for i in range(900)])
    prose_dump = json.dumps([{"id": i, "text": " ".join(said * 3)} for i in range(300)])
    assert looks_generated(prose_dump)  # a dump of English records: still a dump
    minified = ";".join(
        f"function a{i}(b,c){{return b+c*{i}}}var x{i}=a{i}(1,2)" for i in range(900)
    )
    encoded = base64.b64encode(rng.randbytes(30000)).decode()
    assert all(looks_generated(text) for text in (dump, minified, encoded, ("x" * 6000 + "\n") * 5))


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Привет, мир! Это заметки о речной торговле в нашем регионе.\n" * 4, "cp1251"),
        ("Привет, мир! Это заметки о речной торговле в нашем регионе.\n" * 4, "koi8-r"),
        ("東京都に住んでいます。明日は研究室に行きます。\n" * 4, "shift_jis"),
        # charset-normalizer names it euc_jis_2004, a superset: it was read as cp1252.
        ("明日の会議室の予約を忘れないでください。資料は共有フォルダにあります。", "euc_jp"),
        ("臺北是臺灣的首都，今天天氣很好。我們去圖書館讀書。\n" * 4, "big5"),
        ("今天学习了如何使用向量数据库进行语义搜索。\n" * 4, "gb18030"),
        ("서울은 한국의 수도입니다. 오늘은 날씨가 좋습니다.\n" * 4, "euc-kr"),
        ("Η σοφία του Σωκράτη είναι γνωστή σε όλους.\n" * 4, "cp1253"),
        ("Příliš žluťoučký kůň úpěl ďábelské ódy.\n" * 4, "cp1250"),
        # Western text stays cp1252, however it might be read otherwise.
        ("Le conférencier a évoqué l'histoire du commerce fluvial, «très» bien.\n" * 4, "cp1252"),
        ("Die Größe der Überprüfung ist wichtig für die Qualität.\n" * 4, "cp1252"),
        ("café résumé naïve\n", "cp1252"),
    ],
)
def test_legacy_code_pages_of_other_scripts_are_read_in_theirs(text: str, encoding: str) -> None:
    # Everything that was not UTF-8 was read as cp1252: Russian cp1251 became "Ïðèâåò".
    assert decode_bytes(text.encode(encoding)) == text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        # One-line notes: under 32 bytes beyond ASCII, charset-normalizer was never asked and
        # they were read as cp1252 ("Êóïèòü ìîëîêî è õëåá."), found by none of their words.
        ("Купить молоко и хлеб.\n", "cp1251"),
        ("Встреча в 10:00 с Иваном\n", "cp1251"),
        ("明日の会議は十時からです。\n", "shift_jis"),
        ("明天下午三点开会，请准时参加。\n", "gb18030"),
        ("내일 오후 세시에 회의가 있습니다.\n", "euc_kr"),
        ("Καλημέρα κόσμε\n", "cp1253"),
        # Halfwidth katakana beside kanji: Japanese (a reading of Western bytes has no kanji).
        ("会議ﾒﾓ ｻﾝﾌﾟﾙ\n", "cp932"),
        ("ﾃｽﾄ ﾒﾓ: ｶﾞｽ代 5000円\n", "cp932"),
        # Czech with a byte cp1252 leaves undefined (0x9D, "ť"): latin-1 took "š" and "ž" for
        # control characters, which became spaces ("Pøíli luouèký").
        ("Příliš žluťoučký kůň úpěl ďábelské ódy. Zítra ráno půjdu k lékaři.\n", "cp1250"),
        # Polish that cp1252 reads without an error, with its letters as symbols in words.
        ("Zażółć gęślą jaźń\n", "cp1250"),
    ],
)
def test_a_short_note_in_a_legacy_code_page_is_read_in_it(text: str, encoding: str) -> None:
    assert decode_bytes(text.encode(encoding)) == text


def test_short_western_notes_stay_cp1252() -> None:
    # charset-normalizer names short Western text cp1006, cp1250 or UTF-16 at random: only a
    # non-Latin script that cp1252 cannot have written is taken from it.
    notes = [
        "café au lait",
        "naïve résumé",
        "Größe und Maße für Straßen",
        "Ærøskøbing på Fyn",
        "São Paulo é ótimo",
        "El niño comió piña en la mañana",
        "Þórður fór út",
        "Ça va? Où est la gare à côté?",
        "“Quoted” – dash … ok",
        "Zürich Müller Köln Düsseldorf",
        "Hôtel Château Crème brûlée",
        "Señor Muñoz",
        "l'été dernier à Genève",
        "Smörgåsbord och köttbullar",
        "¿Qué tal? ¡Muy bien!",
        "Fläche 100 m² für 5 €, Volumen 3 m³",
        "Œuvres complètes, Ÿ, Š, ž",
        "Niño",
        # Symbols touch no letter: a note of prices or temperatures was read as Japanese.
        "Total: £12.50\nTax: £2.50\nTip: £1.00\nPaid: £16.00",
        "Weather: 12° / 18° / 21° / 9°",
        "Coffee ¥400, tea ¥350, cake ¥500",
        "Ø 20 mm, Ø 30 mm, Ø 40 mm",
        "« A » « B » « C »",
        "Add ½ cup + ¼ tsp, bake 180° × 2",
        "Oslo,-3 °\nBergen,2 °\nTromsø,-8 °",
        "ÅÄÖ ÆØÅ",  # letters alone: no Japanese reading of them is taken
        # A list of accents, a keyboard's letters: read as Cyrillic and Chinese.
        "Accents: à â é è ê ë î ï ô ù û ç",
        "German keys: ÄÖÜß",
        "ñáéíóú",
        "Ýý Þþ Ðð",
        "çà çà",
    ]
    for note in notes:
        assert decode_bytes((note + "\n").encode("cp1252")) == note + "\n", note


def test_bytes_no_code_page_tells_keep_the_letters_cp1252_gives_them() -> None:
    # A byte cp1252 leaves undefined made the whole file latin-1: "š" (0x9A) and "ž" (0x9E)
    # became control characters, then spaces. The undefined byte alone is read as latin-1 does.
    data = b"Tsch\xfc\xdf, \x9aastn\xfd \x9e\xe1k \x81\n"
    assert decode_bytes(data) == "Tschüß, šastný žák \x81\n"


@pytest.mark.parametrize(
    ("head", "encoding"),
    [
        ('<meta charset="windows-1251">', "cp1251"),
        ("<meta http-equiv='Content-Type' content='text/html; charset=koi8-r'>", "koi8-r"),
        ('<?xml version="1.0" encoding="Shift_JIS"?>', "shift_jis"),
    ],
)
def test_a_page_is_read_in_the_encoding_it_declares(tmp_path, head: str, encoding: str) -> None:
    # Too short to guess (a few words beyond ASCII): a cafe's windows-1251 menu came out as
    # "Áîðù è ïåëüìåíè", its title "Ìåíþ".
    words = "駅前の喫茶店" if encoding == "shift_jis" else "Борщ и пельмени"
    title = "Меню" if encoding != "shift_jis" else "喫茶店"
    page = f"<html><head>{head}<title>{title}</title></head>"
    page += f"<body><p>{words}, a menu.</p></body></html>\n"
    data = page.encode(encoding)
    assert decode_bytes(data) == data.decode(encoding)
    path = tmp_path / "menu.html"
    path.write_bytes(data)
    [document] = load_documents(path)
    assert document.title == title and document.text.startswith(words)


def test_a_declared_latin_1_is_read_as_browsers_read_it_and_no_codec_is_trusted_blindly() -> None:
    # "iso-8859-1" is cp1252 to a browser: byte 0x80 is "€", not a control character.
    page = b'<meta charset="iso-8859-1"><p>Prix: 42 \x80, caf\xe9</p>'
    assert decode_bytes(page) == page.decode("cp1252")
    # Not a character set ("base64" is a codec of bytes), or one that fails on any bytes:
    # the usual guess, never an error.
    for name in ("base64", "idna", "no-such-charset"):
        data = f'<meta charset="{name}"><p>caf'.encode() + b"\xe9</p>"
        assert decode_bytes(data) == data.decode("cp1252")


def test_a_declaration_never_overrides_utf_8_or_a_note_that_quotes_one() -> None:
    # A UTF-8 page that wrongly declares latin-1 (common), with one stray byte, became cp1252
    # mojibake ("Ð¸Ð²ÐµÑ‚"); a UTF-8 note quoting <meta charset="windows-1251"> with a stray
    # byte was read as cp1251 ("CafГ© rГ©sumГ©"). Both are UTF-8 with the stray byte patched.
    page = '<html><meta charset="iso-8859-1"><p>Привет, мир, как дела у вас сегодня</p>'.encode()
    note = 'Quote `<meta charset="windows-1251">` in a café résumé, naïve'.encode()
    for text in (page, note):
        assert decode_bytes(text + b" \xe9 ok") == text.decode("utf-8") + " é ok"


def test_a_declared_encoding_is_read_as_browsers_read_it() -> None:
    # Shift_JIS pages hold cp932's characters ("①"), gb2312 pages gbk's: they were U+FFFD.
    for declared, codec, words in [
        ("Shift_JIS", "cp932", "①番線の喫茶店"),
        ("gb2312", "gbk", "镕的菜单"),
        ("euc-kr", "cp949", "똠방각하"),
    ]:
        data = f'<meta charset="{declared}"><p>{words}</p>'.encode(codec)
        assert decode_bytes(data) == data.decode(codec), declared
    utf7 = b'<meta charset="utf-7"><p>+AGEAYgBj- caf\xe9</p>'  # UTF-7 is refused, as browsers do
    assert decode_bytes(utf7) == utf7.decode("cp1252")


@pytest.mark.parametrize("source_lines", [False, True])
def test_links_and_buttons_side_by_side_are_words_apart(source_lines) -> None:
    # A saved page's menu read "HomeProductsPricingLog in": CSS sets its links apart.
    html = (
        "<html><body><div class=menu><a href='/'>Home</a><a href='/p'>Products</a><a>Log in</a>"
        "</div>"
        "<p>Te<b>x</b>t and a <a>link</a>, <a>Py</a>thon.</p>"
        "<form><button>Save</button><button>Cancel</button></form></body></html>"
    )
    _, text = html_to_text(html, source_lines=source_lines)
    assert "Home Products Log in" in text
    assert "Text and a link, Python." in text  # formatting inside a word stays inside it
    assert "Save Cancel" in text


@pytest.mark.parametrize("source_lines", [False, True])
def test_a_pages_menus_and_footer_are_not_its_text(source_lines) -> None:
    # A helper's saved Wikipedia page: its passage began "Main page Contents Current events",
    # and its licence footer was a hit for "creative commons".
    html = (
        "<html><head><title>Boundary layer</title></head><body>\n"
        "<nav>Main page Contents Current events</nav>\n<h1>Boundary layer</h1>\n"
        "<p>The thin layer of fluid near a surface.</p>\n"
        "<footer>Text is available under the Creative Commons licence</footer>\n</body></html>"
    )
    title, text = html_to_text(html, source_lines=source_lines)
    assert title == "Boundary layer" and "thin layer of fluid" in text
    assert "Main page" not in text and "Creative Commons" not in text
    if source_lines:  # still on the lines of the file
        assert text.split("\n")[3] == "The thin layer of fluid near a surface."
    # An article's own footer is its byline and tags (a reviewer's).
    article = "<body><nav>Menu</nav><article><p>Herons.</p><footer>By Jane Doe</footer></article>"
    words = html_to_text(article, source_lines=source_lines)[1].split()
    assert words == ["Herons.", "By", "Jane", "Doe"]
    # A page of links alone is its links.
    _, links = html_to_text("<body><nav><a>Guide</a> <a>API</a></nav></body>", source_lines=False)
    assert links == "Guide API"


def test_a_docs_site_s_menus_by_their_role_and_permalink_marks_are_no_text() -> None:
    # A maintainer's Sphinx build: every page's sidebar (`<div class="sphinxsidebar"
    # role="navigation">`) was 4 of 8 hits for "frequently asked questions", and headings kept
    # their "¶".
    page = (
        '<html><head><title>Retries</title></head><body>\n<div class="related" role="navigation">'
        '<ul><li>index</li></ul></div>\n<div class="body" role="main"><h1>Retries and backoff'
        '<a class="headerlink" href="#r">¶</a></h1>\n<p>Configure <b>retries</b>.</p>\n'
        '<div><div><p>Nested text.</p></div></div></div>\n<div class="sphinxsidebar" '
        'role="navigation"><div><h3>Contents</h3><ul><li>Frequently asked questions</li></ul>'
        '</div><div role="search"><h3>Quick search</h3></div></div>\n<p>After the menu.</p>'
        "</body></html>"
    )
    title, text = html_to_text(page, source_lines=True)
    assert (
        text.split()
        == "Retries and backoff Configure retries. Nested text. After the menu.".split()
    )
    # A reviewer's: an element whose end tag may be left out (<li>, <p>, <td>) hid the rest.
    for page in (
        '<h1>Intro</h1><ul><li role="navigation"><a>Home</a><li>Two</ul><p>Body after.</p>',
        '<h1>Intro</h1><p role="banner">Site<div>Main</div><p>More</p><p>Body after.</p>',
        '<h1>Intro</h1><div role="navigation"><ul><li>m</ul></div><p>Body after.</p>',
    ):
        assert "Body after." in html_to_text(page)[1], page
    # Inside an article, an element of that role is the article's own (a table of contents).
    article = '<article><div role="navigation">On this page: Setup</div><p>Body.</p></article>'
    assert "On this page" in html_to_text(article)[1]
