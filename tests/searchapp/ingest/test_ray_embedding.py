"""`search index` embedding on a Ray cluster (``RayEmbedder``): the index equals a local build of
the same 40 Cranfield files, an actor killed mid-run is replaced without losing or repeating a
chunk, and failures are one clear error. The cluster is local: 2 CPUs, two actors of one CPU.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from searchapp.ingest import pipeline
from searchapp.ingest.pipeline import Progress
from searchapp.ingest.ray_embedding import RayConfig, RayEmbedder, RayEmbeddingError
from searchapp.search_index import SearchIndex
from tests.searchapp.conftest import REPO, FakeEncoder

DOCUMENTS = 40
QUERIES = 10
TWO_ACTORS = RayConfig(num_actors=2, cpus_per_actor=1)


def contents(index_dir: Path, *, chunk_ids: bool = True) -> tuple[list, list, np.ndarray]:
    """Documents, chunks (in document order) and their stored embeddings, from SQLite."""
    index = SearchIndex(index_dir)
    documents = index.store.rows(
        "SELECT doc_id, path, title, size, mtime_ns, sha256 FROM documents ORDER BY doc_id"
    )
    rows = index.store.rows(
        "SELECT c.id, d.doc_id, c.ordinal, c.text, c.start_char, c.end_char, c.start_line, "
        "c.end_line, c.embedding FROM chunks c JOIN documents d ON d.id = c.document_id "
        "ORDER BY d.doc_id, c.ordinal"
    )
    chunks = [tuple(row[0 if chunk_ids else 1 : -1]) for row in rows]
    embeddings = np.stack([np.frombuffer(row[-1], dtype="<f4") for row in rows])
    # The FAISS file holds exactly the stored chunks.
    np.testing.assert_array_equal(np.sort(index.open_vectors().ids()), index.store.chunk_ids())
    index.close()
    return documents, chunks, embeddings


def assert_same_index(built: Path, reference: Path, *, chunk_ids: bool = True) -> None:
    documents, chunks, embeddings = contents(built, chunk_ids=chunk_ids)
    want_documents, want_chunks, want_embeddings = contents(reference, chunk_ids=chunk_ids)
    assert len(want_documents) == DOCUMENTS
    assert documents == want_documents
    assert chunks == want_chunks  # none lost, none twice, same text, offsets and lines
    np.testing.assert_allclose(embeddings, want_embeddings, rtol=0, atol=1e-6)


def assert_same_hits(built: Path, reference: Path, encoder, queries: list[str]) -> None:
    for mode in ("dense", "hybrid"):
        for text in queries:
            got = SearchIndex(built, encoder=encoder).search(text, k=5, mode=mode)
            want = SearchIndex(reference, encoder=encoder).search(text, k=5, mode=mode)
            assert [(h.doc_id, h.start_line) for h in got] == [
                (h.doc_id, h.start_line) for h in want
            ]
            np.testing.assert_allclose(
                [h.score for h in got], [h.score for h in want], rtol=0, atol=1e-6
            )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, cranfield) -> Path:
    return cranfield.write_files(tmp_path_factory.mktemp("ray-docs"), 0, DOCUMENTS)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, corpus, encoder) -> Path:
    """The same files indexed locally, in this process, with the real model in fp32."""
    index_dir = tmp_path_factory.mktemp("local-index")
    SearchIndex(index_dir, encoder=encoder).add([corpus])
    return index_dir


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster of 2 CPUs for this module (RayEmbedder joins it, and leaves it up)."""
    ray = pytest.importorskip("ray")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=128 * 1024**2,
        logging_level=logging.ERROR,
        log_to_driver=False,
    )
    yield ray
    ray.shutdown()


def test_config_is_checked_at_construction() -> None:
    for bad, message in [
        ({"address": "docs"}, "is not a Ray address"),
        ({"num_actors": 0}, r"num_actors \(0\) must be at least 1"),
        ({"address": "auto", "local_cpus": 2}, "applies only to a local cluster"),
        ({"max_retries": -1}, "must be 0 or more"),
    ]:
        with pytest.raises(ValueError, match=message):
            RayConfig(**bad)


@pytest.mark.slow
def test_cli_ray_local_builds_the_same_index(tmp_path, corpus, reference, encoder) -> None:
    """`search index --ray local` in a new process: Ray starts, embeds and stops there."""
    pytest.importorskip("ray")
    index_dir = tmp_path / "index"
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "searchapp", "index", str(corpus), "--index-dir"]
    done = subprocess.run(
        [*command, str(index_dir), "--precision", "fp32", "--ray", "local"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"{DOCUMENTS} added, 0 updated" in done.stderr
    assert_same_index(index_dir, reference)


@pytest.mark.slow
def test_two_actors_build_the_same_index(
    tmp_path, monkeypatch, corpus, reference, encoder, cranfield, ray_cluster
) -> None:
    monkeypatch.setattr(pipeline, "WINDOW_CHUNKS", 16)  # several windows: both actors embed
    drawn = {"bytes": 0, "chunks": 0, "done_bytes": 0}
    progress = Progress(
        on_start=lambda total: drawn.update(bytes=total),
        on_chunks=lambda count: drawn.update(chunks=drawn["chunks"] + count),
        on_bytes=lambda size: drawn.update(done_bytes=drawn["done_bytes"] + size),
    )
    with RayEmbedder(TWO_ACTORS) as embedder:
        report = SearchIndex(tmp_path, encoder=encoder).add(
            [corpus], embedder=embedder, progress=progress
        )
        assert len(embedder.actors) == 2 and embedder.replaced == 0
    total = SearchIndex(reference).stats()["chunks"]
    assert (report.added, report.chunks) == (DOCUMENTS, total)
    size = sum(path.stat().st_size for path in corpus.rglob("*") if path.is_file())
    assert drawn == {"bytes": size, "chunks": total, "done_bytes": size}
    assert_same_index(tmp_path, reference)
    assert_same_hits(tmp_path, reference, encoder, list(cranfield.queries.values())[:QUERIES])


@pytest.mark.slow
def test_killed_actor_is_replaced_and_its_batches_retried(
    tmp_path, monkeypatch, corpus, reference, encoder, ray_cluster
) -> None:
    monkeypatch.setattr(pipeline, "WINDOW_CHUNKS", 8)  # one batch per window, two in flight
    with RayEmbedder(TWO_ACTORS) as embedder:
        killed = []

        def kill_first_actor(count: int) -> None:  # after the first window is committed
            if not killed:
                killed.append(embedder.actors[0])
                ray_cluster.kill(killed[0])

        progress = Progress(on_chunks=kill_first_actor)
        report = SearchIndex(tmp_path, encoder=encoder).add(
            [corpus], embedder=embedder, progress=progress
        )
        assert killed and embedder.actors[0] is not killed[0]
        assert embedder.replaced == 1 and embedder.retried >= 1
    assert report.added == DOCUMENTS
    assert_same_index(tmp_path, reference)


@pytest.mark.slow
def test_batch_failing_past_its_retries_keeps_what_was_committed(
    tmp_path, monkeypatch, corpus, reference, encoder, ray_cluster
) -> None:
    """The run stops with one error; the next (local) run completes the same index."""
    monkeypatch.setattr(pipeline, "WINDOW_CHUNKS", 8)
    with RayEmbedder(RayConfig(num_actors=2, cpus_per_actor=1, max_retries=0)) as embedder:

        def kill_all_actors(count: int) -> None:
            for actor in embedder.actors:
                ray_cluster.kill(actor)

        with pytest.raises(RayEmbeddingError, match="failed 1 times.*run `search index` again"):
            SearchIndex(tmp_path, encoder=encoder).add(
                [corpus], embedder=embedder, progress=Progress(on_chunks=kill_all_actors)
            )
    committed = SearchIndex(tmp_path).stats()["documents"]
    assert 0 < committed < DOCUMENTS
    report = SearchIndex(tmp_path, encoder=encoder).add([corpus])
    assert report.added + report.updated + report.unchanged == DOCUMENTS
    assert_same_index(tmp_path, reference, chunk_ids=False)  # redone files got new chunk ids


@pytest.mark.slow
def test_actor_without_the_drivers_model_is_one_clear_error(tmp_path, corpus, ray_cluster) -> None:
    """A driver whose weights no node has: the actors find the name but not the checksum."""
    driver = FakeEncoder(name="all-MiniLM-L6-v2", weights_sha256="0" * 64, dim=384)
    with RayEmbedder(RayConfig(num_actors=1, cpus_per_actor=1)) as embedder:
        with pytest.raises(RayEmbeddingError, match=r"cannot load the driver's model .*not 0000"):
            SearchIndex(tmp_path, encoder=driver).add([corpus], embedder=embedder)
