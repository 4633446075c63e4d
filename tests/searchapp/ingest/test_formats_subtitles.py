"""Transcripts and subtitles, WebVTT and SubRip (``formats/subtitles.py``)."""

from __future__ import annotations

from pathlib import Path

from searchapp.ingest.decoding import load_documents

TEAMS = (
    "\ufeffWEBVTT\nKind: captions\n\nNOTE recorded by Teams\nsecond line of the note\n\n"
    "0f1a2b3c-1/12-0\n00:00:03.123 --> 00:00:05.456 align:start\n"
    "<v Ana Ruiz>Good morning, the roof budget is approved &amp; signed.</v>\n\n"
    "0f1a2b3c-1/13-0\n00:00:05.456 --> 00:00:08.000\n<v.loud Bo Chen>Great, <i>thanks</i>.</v>\n"
)
SRT = (
    "1\r\n00:00:01,000 --> 00:00:04,000\r\nSo what we decided on the budget\r\n\r\n"
    "2\r\n00:00:04,000 --> 00:00:07,000\r\nis that the roof comes first.\r\n\r\n"
    "3\r\n00:00:07,000 --> 00:00:09,000\r\n42\r\n"
)
YOUTUBE = (  # a cue rolls the line before up while the next is typed in, words timed in tags
    "WEBVTT\nKind: captions\nLanguage: en\n\n"
    "00:00:00.000 --> 00:00:02.310 align:start position:0%\n \nhello<00:00:00.480><c> world</c>\n\n"
    "00:00:02.310 --> 00:00:02.320 align:start position:0%\nhello world\n \n\n"
    "00:00:02.320 --> 00:00:04.000 align:start position:0%\nhello world\n"
    "how<00:00:02.500><c> are</c><c> you</c>\n"
)


def said(path: Path, text: str) -> list[tuple[int, str]]:
    path.write_bytes(text.encode())
    [document] = load_documents(path)
    lines = document.text.split("\n")
    assert len(lines) == len(text.replace("\r\n", "\n").split("\n"))  # each on the file's line
    return [(n, line) for n, line in enumerate(lines, 1) if line]


def test_a_transcript_is_what_is_said_each_line_on_the_files_line(tmp_path: Path) -> None:
    # Read as text, half a meeting's passages were timing lines and cue numbers.
    assert said(tmp_path / "standup.vtt", TEAMS) == [
        (9, "Ana Ruiz: Good morning, the roof budget is approved & signed."),
        (13, "Bo Chen: Great, thanks."),
    ]
    assert said(tmp_path / "interview.srt", SRT) == [
        (3, "So what we decided on the budget"),
        (7, "is that the roof comes first."),
        (11, "42"),  # a cue saying a number is no cue's number
    ]
    assert said(tmp_path / "talk.en.vtt", YOUTUBE) == [(7, "hello world"), (15, "how are you")]


def test_a_hit_on_a_transcript_names_its_line_and_when_it_was_said(tmp_path: Path) -> None:
    from tests.searchapp.conftest import FakeEncoder
    from tests.searchapp.ingest.test_pipeline import make_index

    files = tmp_path / "meetings"
    files.mkdir()
    (files / "standup.vtt").write_text(TEAMS)
    index = make_index(tmp_path / "idx", FakeEncoder(dim=16, max_length=128))
    index.add([files])
    [hit] = index.search("roof budget approved", k=1, mode="lexical")
    assert (Path(hit.path).name, hit.line, hit.section) == ("standup.vtt", 9, "00:00:03")
    assert "-->" not in hit.text and "0f1a2b3c" not in hit.text
    # Each cue's time is its lines' section; a cue starts no passage of its own.
    [hit] = index.search("great thanks", k=1, mode="lexical")
    assert (hit.line, hit.section, hit.start_line) == (13, "00:00:05", 9)
    from searchapp.interfaces.render import hit_line, location

    assert hit_line(hit).split("  ", 1)[1].startswith("00:00:05  Bo Chen: Great, thanks.")
    assert location(hit).endswith("standup.vtt 00:00:05")
    long_cues = "WEBVTT\n\n" + "".join(
        f"00:00:{n:02d}.000 --> 00:00:{n + 1:02d}.000\n"
        + " ".join(f"w{n}x{i}" for i in range(20))
        + "\n\n"
        for n in range(3)
    )
    (files / "long.vtt").write_text(long_cues)
    index.add([files])
    [hit] = index.search("w2x5", k=1, mode="lexical")
    assert (hit.line, hit.section, hit.start_line) == (10, "00:00:02", 4)


def test_cues_alike_in_a_transcript_are_two_things_said(tmp_path: Path) -> None:
    # Only captions that roll up (words timed in tags) repeat a line: two people answering
    # "Yes." in a row were one (a journalist's -F count was 2 short of grep's).
    srt = (
        "1\n00:00:01,000 --> 00:00:02,000\n{\\an8}Yes.\n\n2\n00:00:02,000 --> 00:00:03,000\nYes.\n"
    )
    assert said(tmp_path / "a.srt", srt) == [(3, "Yes."), (7, "Yes.")]


def test_context_around_a_transcript_hit_is_the_files_lines(tmp_path, monkeypatch, capsys) -> None:
    # -C showed the indexed lines (blank where the timing was) for Teams' tagged cues: the
    # cue's time, the line above, is what a fact-check needs.
    from tests.searchapp.cli_runner import run_cli as run
    from tests.searchapp.conftest import FakeEncoder, use_encoder

    use_encoder(monkeypatch, FakeEncoder(dim=32, max_length=64))
    files = tmp_path / "meetings"
    files.mkdir()
    (files / "standup.vtt").write_text(TEAMS)
    index = ("--index-dir", str(tmp_path / "idx"))
    assert run(capsys, "index", str(files), *index)[0] == 0
    monkeypatch.chdir(tmp_path)
    args = ("query", "roof budget approved", "-k", "1", "--mode", "lexical", "-C", "1", *index)
    code, out, _ = run(capsys, *args)
    lines = out.splitlines()
    assert (
        code == 0 and lines[0] == "meetings/standup.vtt-8-00:00:03.123 --> 00:00:05.456 align:start"
    )
    assert (
        lines[1].startswith("meetings/standup.vtt:9: ") and lines[2] == "meetings/standup.vtt-10-"
    )


def test_a_web_page_named_vtt_is_read_as_a_web_page(tmp_path: Path) -> None:
    # A reviewer's: a download that failed, named .vtt, had its scripts' text indexed.
    path = tmp_path / "page.vtt"
    path.write_text(
        "<!DOCTYPE html><html><head><script>var trackingPixelSecret = 1;</script></head>"
        "<body><p>Not found</p></body></html>\n"
    )
    [document] = load_documents(path)
    assert "Not found" in document.text and "trackingPixelSecret" not in document.text
