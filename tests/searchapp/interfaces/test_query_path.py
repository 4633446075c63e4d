"""The query path: `search query` answers without importing torch or transformers, with the
same ranking the PyTorch encoder gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from searchapp.search_index import SearchIndex

REPO = Path(__file__).resolve().parents[3]
# Runs `search ARGS` in a fresh interpreter, then prints which heavy modules were imported.
PROBE = (
    "import sys\n"
    "from searchapp.interfaces.cli import main\n"
    "code = 0\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "heavy = sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in "
    "sys.modules)\n"
    "print('IMPORTED', heavy, 'EXIT', code, file=sys.stderr)\n"
    # What a query does without: sqlite-utils (migrations only), pydantic (typer 0.29 and later,
    # the mcp SDK), importlib.metadata (--version): ~0.15 s of a cold query together; FAISS
    # (~35 ms) for a flat index, which NumPy reads (flat_vectors.py).
    "lean = sorted(m for m in ('sqlite_utils', 'pydantic', 'importlib.metadata', 'faiss') if m "
    "in sys.modules)\n"
    "print('ALSO', lean, file=sys.stderr)\n"
)


def probe(*args: str) -> tuple[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=300
    )
    return done.stdout, done.stderr


@pytest.mark.slow
def test_search_query_never_imports_torch(small_index) -> None:
    _, index_dir = small_index
    out, err = probe("query", "wing lift at low speed", "--index-dir", str(index_dir), "--json")
    assert "IMPORTED [] EXIT 0" in err, err
    assert "ALSO []" in err, err
    hits = json.loads(out)
    assert len(hits) == 10
    # The same query through the PyTorch encoder ranks the same passages first.
    reference = SearchIndex(index_dir, device="cpu")
    torch_encoder = reference.load_encoder()
    reference._query_encoder = torch_encoder
    expected = reference.search("wing lift at low speed", k=10)
    assert [h["chunk_id"] for h in hits[:3]] == [h.chunk_id for h in expected[:3]]
    np.testing.assert_allclose(
        [h["score"] for h in hits], [h.score for h in expected], atol=5e-3
    )  # a bf16 query on the PyTorch side where the CPU has it; fp32 in NumPy


@pytest.mark.slow
def test_asking_for_a_gpu_falls_back_to_torch(small_index, tmp_path) -> None:
    _, index_dir = small_index
    out, err = probe("query", "wing", "--index-dir", str(index_dir), "--device", "cpu", "-l")
    assert "IMPORTED [] EXIT 0" in err, err  # cpu is NumPy's
    out, err = probe("query", "wing", "--index-dir", str(index_dir), "--device", "cuda")
    assert "no CUDA GPU" in err and "'torch'" in err  # asked for a GPU: PyTorch answers


@pytest.mark.slow
def test_the_pytorch_encoder_takes_over_once_loaded_in_the_background(small_index) -> None:
    """A REPL starts loading PyTorch while the first query is typed: NumPy answers until it is
    ready, then it does, ranking the same passages."""
    from minilm import SentenceEncoder
    from minilm.numpy_encoder import NumpyEncoder

    _, index_dir = small_index
    search_index = SearchIndex(index_dir)
    before = search_index.search("wing lift at low speed", k=5)
    assert isinstance(search_index.load_query_encoder(), NumpyEncoder)
    loader = search_index.load_encoder_in_background()
    loader.join(timeout=120)
    assert not loader.is_alive()
    assert isinstance(search_index.load_query_encoder(), SentenceEncoder)
    assert search_index.load_query_encoder() is search_index.load_encoder()  # one model, not two
    after = search_index.search("wing lift at low speed", k=5)
    assert [h.chunk_id for h in after[:3]] == [h.chunk_id for h in before[:3]]
    np.testing.assert_allclose([h.score for h in after], [h.score for h in before], atol=5e-3)


@pytest.mark.slow
def test_a_failed_background_load_leaves_numpy_answering(
    small_index, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    import searchapp.encoding
    from minilm.numpy_encoder import NumpyEncoder

    def broken(*args, **kwargs):
        raise OSError("no room to load the model")

    monkeypatch.setattr(searchapp.encoding, "load_encoder", broken)
    _, index_dir = small_index
    search_index = SearchIndex(index_dir)
    with caplog.at_level(logging.DEBUG, logger="searchapp.search_index"):
        search_index.load_encoder_in_background().join(timeout=60)
    assert "the PyTorch encoder did not load: no room to load the model" in caplog.text
    assert isinstance(search_index.load_query_encoder(), NumpyEncoder)
    assert len(search_index.search("wing lift", k=3)) == 3


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_an_interactive_repl_quit_at_once_waits_for_its_background_load(
    small_index, tmp_path
) -> None:
    """At a terminal the REPL starts loading PyTorch after its first answer; quitting before
    it is loaded waits for it (torch cut off mid-import can abort the process) and exits
    cleanly."""
    import pty

    _, index_dir = small_index
    main_side, terminal = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_DATA_HOME": str(tmp_path), "TERM": "dumb"}
    process = subprocess.Popen(
        [sys.executable, "-m", "searchapp", "repl", "--index-dir", str(index_dir)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        close_fds=True,
    )
    os.close(terminal)
    output = b""
    try:
        while b"search> " not in output:
            output += os.read(main_side, 4096)
        os.write(main_side, b"wing lift\n")
        while output.count(b"search> ") < 2:  # answered (by NumPy), prompting again
            output += os.read(main_side, 4096)
        os.write(main_side, b":quit\n")
        code = process.wait(timeout=120)
        while True:  # what it printed after the prompt
            try:
                chunk = os.read(main_side, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            output += chunk
    finally:
        process.kill()
        os.close(main_side)
    text = output.decode("utf-8", "replace")
    assert code == 0, text
    assert "finishing loading the model" in text, text  # quit while torch was loading
    assert "Traceback" not in text and "terminate called" not in text, text


def test_a_process_that_answers_queries_warms_its_encoder_up_first(tmp_path, monkeypatch) -> None:
    # A server or a REPL embeds one query before its first real one: in bf16 the first query
    # otherwise pays for oneDNN's compiling its kernels (49 ms against 3 ms on a Xeon with AMX).
    from tests.searchapp.conftest import FakeEncoder, use_encoder

    embedded: list[list[str]] = []

    class Recording(FakeEncoder):
        def encode(self, texts, *, batch_size: int = 32):
            embedded.append(list(texts))
            return super().encode(texts, batch_size=batch_size)

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Heat transfer in a boundary layer.\n", "utf-8")
    SearchIndex(tmp_path / "idx", encoder=FakeEncoder()).add([docs])
    use_encoder(monkeypatch, Recording())
    SearchIndex(tmp_path / "idx").load_encoder()  # `search index`: its first batch warms it
    assert embedded == []
    SearchIndex(tmp_path / "idx").load_encoder(warm_up=True)  # `search serve`, `search mcp`
    assert len(embedded) == 1 and len(embedded[0]) == 1
    thread = SearchIndex(tmp_path / "idx").load_encoder_in_background()  # the REPL
    assert thread is not None
    thread.join()
    assert len(embedded) == 2


def test_the_package_itself_imports_nothing() -> None:
    # `python -m searchapp` and the `search` script import the package first, before the
    # command's own Ctrl-C handling: a Ctrl-C while it imported `typing` (the first 0.12 s)
    # ended in a traceback and status 1.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    script = (
        "import sys; before = set(sys.modules); import searchapp; "
        "print(sorted(set(sys.modules) - before))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.stdout.strip() == "['searchapp']", done.stdout + done.stderr
