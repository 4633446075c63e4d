"""`search index` and `search query` with ``--device cuda``: the stored passages and vectors, and
the hits, are those of the same run on the CPU.

Skipped where torch sees no CUDA device (CI and this project's own machines have none); run on a
GPU machine (tests/minilm/test_cuda.py says how).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from searchapp.search_index import SearchIndex
from searchapp.storage.store import Store
from tests.searchapp.cli_runner import run_cli

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

QUERIES = ("shock waves on a swept wing", "heat transfer in laminar boundary layers")


def stored_vectors(index_dir, folder) -> dict[str, np.ndarray]:
    store = Store.open(index_dir, create=False)
    try:
        return {
            text: vector
            for path in sorted(folder.iterdir())
            for text, vector in store.vectors_by_text(str(path), 1000).items()
        }
    finally:
        store.close()


def hits(capsys, index_dir, query: str, device: str) -> list[dict]:
    code, out, err = run_cli(
        capsys, "query", query, "--index-dir", str(index_dir), "--device", device, "--json"
    )
    assert code == 0, err
    return json.loads(out)


def test_index_and_query_on_cuda_equal_the_cpu(tmp_path, cranfield, capsys):
    folder = cranfield.write_files(tmp_path / "docs", 0, 60)
    built = {}
    for device in ("cuda", "cpu"):
        index_dir = tmp_path / f"index-{device}"
        args = ("index", str(folder), "--index-dir", str(index_dir), "--device", device)
        code, _, err = run_cli(capsys, *args, "--precision", "fp32")
        assert code == 0, err
        assert SearchIndex(index_dir).meta().precision == "fp32"
        built[device] = index_dir

    on_gpu, on_cpu = (stored_vectors(built[d], folder) for d in ("cuda", "cpu"))
    assert len(on_gpu) >= 60 and on_gpu.keys() == on_cpu.keys()
    texts = list(on_gpu)
    np.testing.assert_allclose(
        np.stack([on_gpu[t] for t in texts]), np.stack([on_cpu[t] for t in texts]), atol=1e-5
    )

    for query in QUERIES:
        gpu = hits(capsys, built["cuda"], query, "cuda")
        cpu = hits(capsys, built["cpu"], query, "cpu")
        assert [h["chunk_id"] for h in gpu[:5]] == [h["chunk_id"] for h in cpu[:5]]
        np.testing.assert_allclose(
            [h["cosine"] for h in gpu], [h["cosine"] for h in cpu], rtol=0, atol=1e-5
        )


def test_auto_precision_on_cuda_is_recorded_as_bf16(tmp_path, cranfield, capsys):
    folder = cranfield.write_files(tmp_path / "docs", 0, 20)
    index_dir = tmp_path / "index"
    code, _, err = run_cli(
        capsys, "index", str(folder), "--index-dir", str(index_dir), "--device", "cuda"
    )
    assert code == 0, err
    assert SearchIndex(index_dir).meta().precision == "bf16"
    top = hits(capsys, index_dir, cranfield.corpus[next(iter(cranfield.corpus))][:200], "cuda")
    assert top[0]["path"].endswith(f"doc{next(iter(cranfield.corpus))}.txt")
