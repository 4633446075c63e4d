"""The seams `search index --ray` uses, without a Ray cluster: the Indexer with an embedding backend
(windows submitted ahead, committed in order), the CLI's errors, and Ray kept out of every other
import path."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from searchapp.encoding import Encoder
from searchapp.ingest import pipeline
from searchapp.ingest.pipeline import Progress
from searchapp.search_index import SearchIndex
from tests.searchapp.cli_runner import run_cli
from tests.searchapp.conftest import REPO, FakeEncoder


class Deferred:
    """A window's vectors, computed only when asked for (like a remote result)."""

    def __init__(self, backend: FakeBackend, number: int, ids: list[list[int]]) -> None:
        self.backend, self.number, self.ids = backend, number, ids

    def result(self) -> np.ndarray:
        self.backend.events.append(f"result {self.number}")
        if self.number == self.backend.fail_at:
            raise RuntimeError("the cluster went away")
        return self.backend.encoder.embed_many(self.ids, batch_size=64)


class FakeBackend:
    """An ``EmbeddingBackend`` that embeds with the driver's own (fake) encoder and records the
    order of submissions, results and commits."""

    windows_ahead = 1

    def __init__(self, fail_at: int = -1) -> None:
        self.events: list[str] = []
        self.fail_at = fail_at
        self.encoder: Encoder | None = None
        self.submitted = 0
        self.rows = 0  # texts sent to embed

    def start(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.events.append("start")

    def submit(self, ids: list[list[int]], *, batch_size: int) -> Deferred:
        self.events.append(f"submit {self.submitted}")
        self.submitted += 1
        self.rows += len(ids)
        return Deferred(self, self.submitted - 1, ids)


def write_docs(folder: Path) -> Path:
    folder.mkdir()
    for n in range(12):  # 12 files of 3 paragraphs: one chunk each with 16-token chunks
        text = "\n\n".join(" ".join(f"f{n}p{p}w{i}" for i in range(8)) for p in range(3))
        (folder / f"note{n:02}.txt").write_text(text, "utf-8")
    return folder


def stored(index_dir: Path) -> tuple[list, np.ndarray]:
    index = SearchIndex(index_dir, encoder=FakeEncoder())
    rows = index.store.rows(
        "SELECT c.id, d.doc_id, d.sha256, c.ordinal, c.text, c.embedding FROM chunks c "
        "JOIN documents d ON d.id = c.document_id ORDER BY c.id"
    )
    np.testing.assert_array_equal(np.sort(index.open_vectors().ids()), index.store.chunk_ids())
    return [row[:-1] for row in rows], np.stack([np.frombuffer(r[-1], "<f4") for r in rows])


def test_backend_embeds_ahead_and_the_index_equals_a_local_build(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "WINDOW_CHUNKS", 8)
    docs = write_docs(tmp_path / "docs")
    local = SearchIndex(tmp_path / "local", encoder=FakeEncoder()).add([docs])
    backend = FakeBackend()
    progress = Progress(on_chunks=lambda count: backend.events.append(f"commit {count}"))
    remote = SearchIndex(tmp_path / "remote", encoder=FakeEncoder()).add(
        [docs], embedder=backend, progress=progress
    )
    assert (remote.added, remote.chunks) == (local.added, local.chunks) == (12, 36)
    rows, vectors = stored(tmp_path / "remote")
    want_rows, want_vectors = stored(tmp_path / "local")
    assert rows == want_rows
    np.testing.assert_array_equal(vectors, want_vectors)
    # Window N+1 is submitted before window N's vectors are awaited and committed. A file's 3
    # chunks arrive together and are cut at a window's end, so a window holds 8 chunks; the
    # last the 4 left, with the end of the last file (it marks the file complete).
    windows = backend.submitted
    assert windows == 5
    expected = ["start", "submit 0"]
    for n in range(1, windows):
        expected += [f"submit {n}", f"result {n - 1}", "commit 8"]
    expected += [f"result {windows - 1}", "commit 4"]
    assert backend.events == expected


def stopped_by_the_cluster(tmp_path: Path, monkeypatch) -> Path:
    """12 files indexed locally (``local``) and by a backend that fails at its third window of
    8 chunks (``remote``, two windows committed); returns their folder."""
    monkeypatch.setattr(pipeline, "WINDOW_CHUNKS", 8)
    docs = write_docs(tmp_path / "docs")
    SearchIndex(tmp_path / "local", encoder=FakeEncoder()).add([docs])
    with pytest.raises(RuntimeError, match="the cluster went away"):
        SearchIndex(tmp_path / "remote", encoder=FakeEncoder()).add(
            [docs], embedder=FakeBackend(fail_at=2)
        )
    return docs


def test_backend_failure_keeps_committed_windows_and_a_rerun_completes(
    tmp_path, monkeypatch
) -> None:
    docs = stopped_by_the_cluster(tmp_path, monkeypatch)
    store = SearchIndex(tmp_path / "remote").store
    complete = store.rows("SELECT count(*) FROM documents WHERE sha256 IS NOT NULL")[0][0]
    # Windows 0 and 1 are stored: 16 chunks, 5 files' and the first of the 6th.
    assert (store.count_chunks(), complete) == (16, 5)
    report = SearchIndex(tmp_path / "remote", encoder=FakeEncoder()).add([docs])
    assert report.unchanged == complete and report.added + report.updated == 12 - complete
    rows, vectors = stored(tmp_path / "remote")
    want_rows, want_vectors = stored(tmp_path / "local")
    assert sorted(row[1:] for row in rows) == sorted(row[1:] for row in want_rows)
    assert len(vectors) == len(want_vectors)


def test_backend_is_sent_only_what_no_stored_vector_holds(tmp_path, monkeypatch) -> None:
    # An interrupted `--ray` run sent every passage to the cluster again when run once more
    # (257 of 257 after 96 were committed), and a copied file started a cluster to embed one.
    docs = stopped_by_the_cluster(tmp_path, monkeypatch)
    committed = SearchIndex(tmp_path / "remote").store.count_chunks()
    backend = FakeBackend()
    report = SearchIndex(tmp_path / "remote", encoder=FakeEncoder()).add([docs], embedder=backend)
    assert backend.rows == report.chunks == 36 - committed
    assert report.reused == committed - 3 * report.unchanged == 1  # the 6th file's first
    rows, vectors = stored(tmp_path / "remote")
    want_rows, want_vectors = stored(tmp_path / "local")
    assert sorted(row[1:] for row in rows) == sorted(row[1:] for row in want_rows)
    by_place = {(row[1], row[3]): vector for row, vector in zip(rows, vectors)}
    for row, vector in zip(want_rows, want_vectors):
        np.testing.assert_array_equal(by_place[row[1], row[3]], vector)
    # A copy, a rename: nothing to send, no cluster started.
    (docs / "copy.txt").write_bytes((docs / "note03.txt").read_bytes())
    (docs / "note04.txt").rename(docs / "renamed.txt")
    backend = FakeBackend()
    report = SearchIndex(tmp_path / "remote", encoder=FakeEncoder()).add([docs], embedder=backend)
    assert (report.added, report.removed, report.chunks, report.reused) == (2, 1, 0, 6)
    assert backend.events == []
    # An edit of one passage of three: that passage alone is sent.
    note = docs / "note05.txt"
    note.write_text(note.read_text("utf-8").replace("f5p1w3", "edited"), "utf-8")
    backend = FakeBackend()
    report = SearchIndex(tmp_path / "remote", encoder=FakeEncoder()).add([docs], embedder=backend)
    assert (report.updated, backend.rows, report.chunks, report.reused) == (1, 1, 1, 2)


def test_ray_not_installed_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    docs = write_docs(tmp_path / "docs")
    code, out, err = run_cli(
        capsys, "index", str(docs), "--index-dir", str(tmp_path / "idx"), "--ray", "local"
    )
    assert (code, out) == (2, "")  # an error, as grep exits
    assert err == "error: --ray needs Ray, which is not installed: pip install 'searchapp[ray]'\n"


@pytest.mark.parametrize("address", ["docs", "6379"])
def test_ray_address_that_is_not_one_is_refused(tmp_path, capsys, address) -> None:
    index_dir = str(tmp_path / "idx")
    code, _, err = run_cli(
        capsys, "index", str(tmp_path), "--index-dir", index_dir, "--ray", address
    )
    assert code == 2 and err.count("\n") == 1
    assert f"--ray address ('{address}') is not a Ray address: use local" in err


@pytest.mark.slow
def test_ray_stays_out_of_every_other_import_path(tmp_path, cranfield) -> None:
    """Importing the CLI and the facade, and a local `search index`, import no Ray module."""
    docs = cranfield.write_files(tmp_path / "docs", 0, 3)
    script = (
        "import json, sys\n"
        "import searchapp.interfaces.cli, searchapp.search_index\n"
        "from searchapp.interfaces.cli import main\n"
        f"main(['index', {str(docs)!r}, '--index-dir', {str(tmp_path / 'idx')!r}])\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'ray')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "3 added" in done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_a_run_with_nothing_to_embed_starts_no_backend(tmp_path) -> None:
    # `--ray local` on an unchanged folder started a cluster for nothing (8.9 s against 0.34).
    docs = write_docs(tmp_path / "docs")
    index_dir = tmp_path / "idx"
    SearchIndex(index_dir, encoder=FakeEncoder()).add([docs])
    backend = FakeBackend()
    report = SearchIndex(index_dir, encoder=FakeEncoder()).add([docs], embedder=backend)
    assert report.unchanged == 12 and backend.events == []
    (docs / "note00.txt").unlink()  # a removal embeds nothing either
    report = SearchIndex(index_dir, encoder=FakeEncoder()).add([docs], embedder=backend)
    assert report.removed == 1 and backend.events == []
    (docs / "note01.txt").write_text("an edit to embed", "utf-8")
    report = SearchIndex(index_dir, encoder=FakeEncoder()).add([docs], embedder=backend)
    assert report.updated == 1 and backend.events[:2] == ["start", "submit 0"]


def test_a_ray_address_where_nothing_answers_is_one_line(tmp_path, capsys) -> None:
    # ray.init retried 127.0.0.1:1 for minutes, logging another address, deaf to Ctrl-C.
    pytest.importorskip("ray")
    docs = write_docs(tmp_path / "docs")
    port = closed_port()
    code, _, err = run_cli(
        capsys,
        "index",
        str(docs),
        "--index-dir",
        str(tmp_path / "idx"),
        "--ray",
        f"127.0.0.1:{port}",
    )
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: cannot reach the Ray cluster at 127.0.0.1:{port}: ")


def fake_ray(monkeypatch, init):
    """A ``ray`` module whose ``init`` is ``init``, with no cluster joined yet."""
    import types

    fake = types.SimpleNamespace(is_initialized=lambda: False, init=init, remote=lambda cls: cls)
    monkeypatch.setitem(sys.modules, "ray", fake)
    from searchapp.ingest.ray_embedding import RayConfig, RayEmbedder

    return RayEmbedder, RayConfig


def rays_handler(signum, frame) -> None:
    sys.exit(signum)  # what ray.init installs for SIGTERM


def joins(**kwargs) -> None:
    signal.signal(signal.SIGTERM, rays_handler)


def terminated_while_joining(**kwargs) -> None:
    joins()
    raise SystemExit(signal.SIGTERM)  # what its handler does when the signal comes then


@pytest.mark.parametrize(
    ("init", "raised"), [(joins, None), (terminated_while_joining, KeyboardInterrupt)]
)
def test_joining_ray_keeps_the_clis_sigterm_handler(monkeypatch, init, raised) -> None:
    # ray.init put its own SIGTERM handler in (sys.exit, then a crash dump): `timeout` ended
    # `search index --ray` with status 134 and no line, not 143 and what was kept; a SIGTERM
    # while ray.init ran, with its handler in place, with status 15.
    RayEmbedder, RayConfig = fake_ray(monkeypatch, init)

    def ours(signum, frame) -> None:
        raise KeyboardInterrupt  # as the CLI's stops a run

    before = signal.signal(signal.SIGTERM, ours)
    try:
        if raised is None:
            RayEmbedder(RayConfig())._join()
        else:
            with pytest.raises(raised):
                RayEmbedder(RayConfig())._join()
        assert signal.getsignal(signal.SIGTERM) is ours
    finally:
        signal.signal(signal.SIGTERM, before)


def test_ctrl_c_while_ray_starts_waits_for_it_then_ends_what_it_started(monkeypatch) -> None:
    # Ctrl-C inside ray.init left a local cluster's raylet and agents running under PID 1:
    # ray.shutdown did not know them yet. Ctrl-C now waits for ray.init, then shuts it down.
    events = []

    def ctrl_c_while_starting(**kwargs) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        events.append("started")  # reached: the Ctrl-C waited

    RayEmbedder, RayConfig = fake_ray(monkeypatch, ctrl_c_while_starting)
    sys.modules["ray"].shutdown = lambda: events.append("shutdown")
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        RayEmbedder(RayConfig(address="local"))._join()
    assert events == ["started", "shutdown"]
    assert signal.getsignal(signal.SIGINT) is before

    def twice(**kwargs) -> None:  # a second Ctrl-C stops it at once
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        events.append("not reached")

    events.clear()
    RayEmbedder, RayConfig = fake_ray(monkeypatch, twice)
    sys.modules["ray"].shutdown = lambda: events.append("shutdown")
    with pytest.raises(KeyboardInterrupt):
        RayEmbedder(RayConfig(address="local"))._join()
    assert events == ["shutdown"]


def test_rays_hint_names_this_commands_option(monkeypatch) -> None:
    from searchapp.ingest.ray_embedding import RayEmbeddingError

    def no_cluster(**kwargs) -> None:  # ray.init's words for `auto` with none running
        raise ConnectionError(
            "Could not find any running Ray instance. Please specify the one to connect to by "
            "setting `--address` flag or `RAY_ADDRESS` environment variable."
        )

    RayEmbedder, RayConfig = fake_ray(monkeypatch, no_cluster)
    with pytest.raises(RayEmbeddingError) as raised:
        RayEmbedder(RayConfig(address="auto"))._join()
    assert "`--ray ADDRESS` or `RAY_ADDRESS`" in str(raised.value)
    assert "--address" not in str(raised.value)


def test_auto_with_a_ray_address_where_nothing_answers_is_one_line(monkeypatch) -> None:
    # `--ray auto` reads RAY_ADDRESS: a dead one logged retries for 42 s.
    from searchapp.ingest.ray_embedding import RayEmbeddingError

    def init(**kwargs) -> None:
        raise AssertionError("ray.init was reached")

    RayEmbedder, RayConfig = fake_ray(monkeypatch, init)
    port = closed_port()
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    refused = f"cannot reach the Ray cluster at 127.0.0.1:{port}"
    with pytest.raises(RayEmbeddingError, match=refused):
        RayEmbedder(RayConfig(address="auto"))._join()


def closed_port() -> int:
    """A port of 127.0.0.1 that nothing listens on."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        return closed.getsockname()[1]
