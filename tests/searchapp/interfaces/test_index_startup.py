"""`search index` loads PyTorch only when there is something to embed, reading files meanwhile;
it ends promptly and cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import searchapp.encoding
from searchapp.errors import IndexInterrupted
from searchapp.ingest import pipeline
from searchapp.search_index import SearchIndex
from searchapp.storage.store import Store
from tests.searchapp.cli_runner import run_cli as run
from tests.searchapp.conftest import FakeEncoder
from tests.searchapp.interfaces.test_query_path import REPO, probe


@pytest.mark.slow
def test_an_unchanged_folder_is_checked_without_importing_torch(tmp_path, cranfield) -> None:
    folder = cranfield.write_files(tmp_path / "docs", 0, 3)
    index_dir = tmp_path / "idx"
    args = ("index", str(folder), "--index-dir", str(index_dir))
    _, err = probe(*args, "--precision", "fp32")
    assert "IMPORTED [] EXIT 0" in err, err  # 3 abstracts: NumPy's encoder (QUICK_TOKENS)
    _, err = probe(*args)
    assert "IMPORTED [] EXIT 0" in err, err
    assert "0 added, 0 updated, 0 removed, 3 unchanged" in err, err
    (folder / "doc1.txt").write_text("shock waves on a swept wing\n", "utf-8")
    _, err = probe(*args)
    assert "IMPORTED [] EXIT 0" in err and "1 updated" in err, err
    cranfield.write_files(folder, 3, 23)  # ~3,000 tokens to embed: PyTorch loads
    _, err = probe(*args)
    assert "IMPORTED ['torch'] EXIT 0" in err and "20 added" in err, err
    search_index = SearchIndex(index_dir)
    assert search_index.meta().precision == "fp32"  # as first recorded: fp32 stays fp32
    encoder = search_index.load_encoder()
    assert encoder.precision == "fp32"
    top = search_index.search("shock waves on a swept wing", k=1)[0]
    assert top.path.endswith("doc1.txt") and top.score > 0.99
    # What NumPy's encoder stored is what PyTorch's gives for the same passages.
    store = Store.open(index_dir, create=False)
    stored = {
        text: vector
        for name in ("doc1.txt", "doc2.txt")
        for text, vector in store.vectors_by_text(str(folder / name), 100).items()
    }
    store.close()
    assert len(stored) >= 2
    np.testing.assert_allclose(
        np.stack(list(stored.values())), encoder.encode(list(stored)), atol=1e-5
    )


class Bf16Fake(FakeEncoder):
    precision = "bf16"


def fake_models(monkeypatch, load_seconds: float = 0.0) -> list[str]:
    """NumPy's encoder an fp32 fake, PyTorch's a bf16 one taking ``load_seconds`` to load;
    returns the events of the load."""
    import searchapp.encoding

    events: list[str] = []

    def load(name, *, device, precision):
        events.append("load started")
        time.sleep(load_seconds)
        events.append("load done")
        return Bf16Fake()

    monkeypatch.setattr(searchapp.encoding, "numpy_query_encoder", lambda *a, **k: FakeEncoder())
    monkeypatch.setattr(searchapp.encoding, "load_encoder", load)
    return events


def test_the_precision_recorded_is_the_indexing_encoders_not_numpys(tmp_path, monkeypatch) -> None:
    events = fake_models(monkeypatch)
    monkeypatch.setattr(pipeline, "QUICK_TOKENS", 0)  # PyTorch's encoder from the first token
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("lift and drag\n", "utf-8")
    search_index = SearchIndex(tmp_path / "idx")
    search_index.add([tmp_path / "d"])
    assert events == ["load started", "load done"]
    assert search_index.meta().precision == "bf16"
    assert isinstance(search_index.load_encoder(), Bf16Fake)


def test_a_run_with_little_to_embed_never_loads_pytorch(tmp_path, monkeypatch) -> None:
    events = fake_models(monkeypatch)
    quick = FakeEncoder()
    monkeypatch.setattr(searchapp.encoding, "numpy_query_encoder", lambda *a, **k: quick)
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a.txt").write_text("lift and drag\n", "utf-8")
    search_index = SearchIndex(tmp_path / "idx")
    report = search_index.add([folder])
    assert report.chunks == 1 and quick.batches == [1]
    assert events == []  # NumPy's encoder embedded it: PyTorch never loaded
    assert search_index.meta().precision is None  # left to the first PyTorch load
    assert search_index.search("lift and drag", k=1)[0].path.endswith("a.txt")
    # Past QUICK_TOKENS to embed (one token a word here), PyTorch loads and embeds the rest.
    words = [f"word{n}" for n in range(pipeline.QUICK_TOKENS + 100)]
    lines = [" ".join(words[i : i + 10]) for i in range(0, len(words), 10)]
    (folder / "b.txt").write_text("\n\n".join(lines) + "\n", "utf-8")
    search_index.add([folder])
    assert events == ["load started", "load done"]
    assert search_index.meta().precision == "bf16"
    # b.txt's ~215 passages: PyTorch's, but for any window embedded before the limit was seen.
    assert sum(quick.batches) < 10
    assert search_index.search("word7 word8", k=1)[0].path.endswith("b.txt")
    # Once PyTorch's encoder is loaded (a watch's later batches), small runs use it.
    (folder / "a.txt").write_text("thrust and weight\n", "utf-8")
    before = len(quick.batches)
    search_index.add([folder])
    assert len(quick.batches) == before and events == ["load started", "load done"]
    # A precision asked of PyTorch's encoder loads it, to be checked against the index's.
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "c.txt").write_text("lift and drag\n", "utf-8")
    SearchIndex(tmp_path / "idx2", precision="auto").add([tmp_path / "e"])
    assert events == ["load started", "load done"] * 2


def test_an_empty_new_index_asked_for_fp32_records_it(tmp_path, monkeypatch, capsys) -> None:
    events = fake_models(monkeypatch)
    (tmp_path / "d").mkdir()
    search_index = SearchIndex(tmp_path / "idx", precision="fp32")
    search_index.add([tmp_path / "d"])
    assert search_index.meta().precision == "fp32"
    fresh = SearchIndex(tmp_path / "idx2")
    fresh.add([tmp_path / "d"])
    assert fresh.meta().precision is None  # nothing embedded, auto: left to the first load
    assert events == []  # nothing to embed: no model loaded
    code, out, _ = run(capsys, "info", "--index-dir", str(tmp_path / "idx2"))
    assert (
        code == 0 and "precision: not yet known (the first run that loads PyTorch sets it)" in out
    )


def test_ctrl_c_while_the_encoder_loads_stops_once_it_has_loaded(tmp_path, monkeypatch) -> None:
    """Two Ctrl-C while PyTorch loads: the run stops, but only after the load has finished
    (torch cut off mid-import can abort the process), with nothing committed."""
    events = fake_models(monkeypatch, load_seconds=1.0)
    monkeypatch.setattr(pipeline, "QUICK_TOKENS", 0)  # PyTorch's encoder from the first token
    (tmp_path / "d").mkdir()
    for n in range(3):
        (tmp_path / "d" / f"{n}.txt").write_text(f"text number {n}\n", "utf-8")
    for delay in (0.3, 0.5):
        threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)).start()
    search_index = SearchIndex(tmp_path / "idx")
    with pytest.raises(IndexInterrupted) as stopped:
        search_index.add([tmp_path / "d"])
    events.append("interrupted")
    assert events == ["load started", "load done", "interrupted"]
    assert stopped.value.report.chunks == 0 and search_index.stats()["chunks"] == 0


def test_tokenizing_beside_the_encoder_is_serial_unless_the_user_says(
    tmp_path, monkeypatch
) -> None:
    from searchapp.interfaces.cli import main

    fake_models(monkeypatch)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("lift and drag\n", "utf-8")
    # setenv first: whatever main sets is undone after the test
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "unset")
    monkeypatch.delenv("TOKENIZERS_PARALLELISM")
    main(["index", str(tmp_path / "d"), "--index-dir", str(tmp_path / "idx"), "-q"])
    assert os.environ.get("TOKENIZERS_PARALLELISM") == "false"
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
    main(["index", str(tmp_path / "d"), "--index-dir", str(tmp_path / "idx"), "-q"])
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"  # the user's choice stands


@pytest.mark.slow
def test_search_index_freezes_its_objects_after_closing_its_index(tmp_path) -> None:
    """Python's last collection would walk every object torch made (0.35 s of `search index`):
    the index command closes its index (SQLite checkpoints its WAL), then the process freezes
    its objects. Other commands, and ``main(argv)`` called in-process, freeze nothing."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("lift and drag\n", "utf-8")
    index_dir = tmp_path / "idx"
    code = (
        "import gc, sys\n"
        "from searchapp.interfaces import cli\n"
        "for args in (['--version'], ['index', sys.argv[1], '--index-dir', sys.argv[2]]):\n"
        "    sys.argv = ['search', *args]\n"
        "    try:\n"
        "        cli.main()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "    print('FROZEN', gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "d"), str(index_dir)],
        capture_output=True, text=True, timeout=300, check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    frozen = [line for line in done.stdout.splitlines() if line.startswith("FROZEN")]
    assert frozen == ["FROZEN False", "FROZEN True"], done.stdout + done.stderr
    assert sorted(p.name for p in index_dir.iterdir() if p.name.startswith("index.db")) == [
        "index.db"
    ]  # no -wal or -shm left: the connection was closed


def test_numpy_embeds_new_passages_only_and_at_most_quick_tokens_a_process(
    tmp_path, monkeypatch
) -> None:
    events = fake_models(monkeypatch)
    quick = FakeEncoder()
    embedded: list[int] = []  # tokens of each call of NumPy's encoder
    original = quick.embed_many

    def counting(ids, *, batch_size=32):
        embedded.append(sum(len(row) for row in ids))
        return original(ids, batch_size=batch_size)

    quick.embed_many = counting
    monkeypatch.setattr(searchapp.encoding, "numpy_query_encoder", lambda *a, **k: quick)

    def paragraphs(tag: str, count: int) -> str:  # one passage each (the fake's 16 tokens)
        return "\n\n".join(" ".join(f"{tag}{p}w{i}" for i in range(10)) for p in range(count))

    folder = tmp_path / "d"
    folder.mkdir()
    long = folder / "long.md"
    long.write_text(paragraphs("a", 150) + "\n", "utf-8")  # ~1,800 tokens: PyTorch's
    SearchIndex(tmp_path / "idx").add([folder])
    assert events == ["load started", "load done"] and sum(embedded) <= pipeline.QUICK_TOKENS
    # A new process: one passage of the long file edited is one passage to embed, not the
    # file's ~1,800 tokens (every other passage keeps its vector).
    index = SearchIndex(tmp_path / "idx")
    long.write_text(long.read_text("utf-8").replace("a7w3", "edited"), "utf-8")
    embedded.clear()
    report = index.add([folder])
    assert report.chunks == 1 and len(embedded) == 1 and embedded[0] <= 16
    assert events == ["load started", "load done"]
    # The limit holds across the runs of one process (a command updating several roots).
    (folder / "b.md").write_text(paragraphs("b", 55) + "\n", "utf-8")
    index.add([folder])
    assert events == ["load started", "load done"] and sum(embedded) > 600
    (folder / "c.md").write_text(paragraphs("c", 40) + "\n", "utf-8")
    index.add([folder])
    assert events == ["load started", "load done"] * 2
    assert sum(embedded) <= pipeline.QUICK_TOKENS
    assert index.search("c3w1 c3w2", k=1)[0].path.endswith("c.md")
