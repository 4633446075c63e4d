"""Parity with the reference implementations on the real weights and the STS-b test split.

all-MiniLM-L6-v2 against sentence-transformers (and transformers' tokenizer);
paraphrase-MiniLM-L3-v2 against onnxruntime running the same ONNX file we import the weights
from.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from minilm import SentenceEncoder, locate_model
from minilm.model import onednn_dense
from tests.minilm.helpers import calls_to_fused_kernel

pytestmark = pytest.mark.slow


def spearman_x100(a: np.ndarray, b: np.ndarray, gold: np.ndarray) -> float:
    """Spearman correlation x 100 between the cosines of unit rows ``a[i]``, ``b[i]`` and gold."""
    return 100 * float(spearmanr((a * b).sum(axis=1), gold).statistic)


@pytest.fixture(scope="module")
def long_texts(stsb) -> list[str]:
    """Texts longer than 256 tokens, so truncation has to agree too."""
    return [
        " ".join(stsb.sentence1[:40]),
        "Café naïve résumé — 東京 and Zürich; ﬁne-tuned (BERT) models [SEP] don't split! " * 30,
        "antidisestablishmentarianism supercalifragilisticexpialidocious " * 80,
    ]


@pytest.fixture(scope="module")
def texts(stsb, long_texts) -> list[str]:
    return stsb.sentences + long_texts


@pytest.fixture(scope="module")
def reference_embeddings(reference_model, texts) -> np.ndarray:
    """sentence-transformers' embeddings of every text: the expensive part, computed once."""
    return reference_model.encode(texts, batch_size=64, convert_to_numpy=True)


@pytest.fixture(scope="module")
def our_embeddings(l6_encoder: SentenceEncoder, texts) -> np.ndarray:
    return l6_encoder.encode(texts, batch_size=64)


def test_long_texts_are_longer_than_max_length(l6_encoder: SentenceEncoder, long_texts) -> None:
    assert min(l6_encoder.tokenizer.count_tokens(long_texts)) > 256


def test_token_ids_match_bert_tokenizer_fast(
    l6_encoder: SentenceEncoder, packaged_model_dir, texts
) -> None:
    from transformers import BertTokenizerFast

    reference = BertTokenizerFast.from_pretrained(str(packaged_model_dir))
    expected = reference(
        texts, truncation=True, max_length=256, padding="longest", return_tensors="pt"
    )
    actual = l6_encoder.tokenizer.encode(texts)
    assert actual["input_ids"].shape == (len(texts), 256)
    assert torch.equal(actual["input_ids"], expected["input_ids"])
    assert torch.equal(actual["attention_mask"], expected["attention_mask"])


def test_embeddings_match_sentence_transformers(reference_embeddings, our_embeddings) -> None:
    assert our_embeddings.shape == reference_embeddings.shape == (2758 + 3, 384)
    assert our_embeddings.dtype == np.float32
    np.testing.assert_allclose(our_embeddings, reference_embeddings, atol=1e-5, rtol=0)


@pytest.mark.skipif(not onednn_dense(), reason="needs torch's oneDNN matmul on packed weights")
def test_both_fp32_dense_paths_match_sentence_transformers(
    l6_encoder: SentenceEncoder, reference_embeddings, texts, monkeypatch
) -> None:
    # This machine's fp32 dense layers run on MKL or on oneDNN (minilm.model.fuse_fp32_cpu, by
    # CPU): the other path too, on the long texts and the first 300 sentences.
    import minilm.model

    chosen = minilm.model.fuse_fp32_cpu()
    picked = list(range(300)) + list(range(len(texts) - 3, len(texts)))
    calls = calls_to_fused_kernel(monkeypatch)
    monkeypatch.setattr(minilm.model, "fuse_fp32_cpu", lambda: not chosen)
    other = l6_encoder.encode([texts[i] for i in picked], batch_size=64)
    assert bool(calls) is (not chosen)  # the dense layers went to oneDNN, or none did
    np.testing.assert_allclose(other, reference_embeddings[picked], atol=1e-5, rtol=0)


def test_stsb_spearman_all_minilm_l6_v2(stsb, reference_embeddings, our_embeddings) -> None:
    n = len(stsb.scores)
    ours = spearman_x100(our_embeddings[:n], our_embeddings[n : 2 * n], stsb.scores)
    reference = spearman_x100(
        reference_embeddings[:n], reference_embeddings[n : 2 * n], stsb.scores
    )
    assert ours == pytest.approx(82.03, abs=0.05)
    assert ours == pytest.approx(reference, abs=0.01)


# --- paraphrase-MiniLM-L3-v2 from the ONNX package ------------------------------------------


@pytest.fixture(scope="module")
def l3_encoder() -> SentenceEncoder:
    return SentenceEncoder.from_pretrained("paraphrase-MiniLM-L3-v2", device="cpu")


@pytest.fixture(scope="module")
def onnx_embeddings(l3_encoder: SentenceEncoder, stsb) -> np.ndarray:
    """onnxruntime on the same .onnx file: its 4th output is the pooled (B, 384) embedding."""
    import onnxruntime

    path = locate_model("paraphrase-MiniLM-L3-v2").weights_path
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rows = []
    for start in range(0, len(stsb.sentences), 64):
        batch = l3_encoder.tokenizer.encode(stsb.sentences[start : start + 64])
        feeds = {
            "input_ids": batch["input_ids"].numpy(),
            "attention_mask": batch["attention_mask"].numpy(),
        }
        pooled = session.run(None, feeds)[3]  # (B, 384)
        rows.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
    return np.concatenate(rows)


def test_l3_config_is_recovered_from_the_graph(l3_encoder: SentenceEncoder) -> None:
    config = l3_encoder.model.config
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (
        3,
        384,
        12,
    )
    assert (config.intermediate_size, config.vocab_size, config.max_length) == (1536, 30522, 128)
    assert l3_encoder.files.weights_format == "onnx"


def test_l3_matches_onnxruntime(l3_encoder: SentenceEncoder, onnx_embeddings, stsb) -> None:
    ours = l3_encoder.encode(stsb.sentences, batch_size=64)
    np.testing.assert_allclose(ours, onnx_embeddings, atol=1e-4, rtol=0)
    n = len(stsb.scores)
    assert spearman_x100(ours[:n], ours[n:], stsb.scores) == pytest.approx(82.41, abs=0.05)
