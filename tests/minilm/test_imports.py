"""What importing minilm costs and where its names live: torch stays out of the query path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import minilm
import minilm.errors
import minilm.locate
import minilm.weights

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter from the repository root (so this tree's minilm)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_import_minilm_does_not_import_torch() -> None:
    result = run_python(
        "import minilm, minilm.tokenizer, minilm.config, minilm.locate; import sys; "
        "assert 'torch' not in sys.modules"
    )
    assert result.returncode == 0, result.stderr


def test_torch_free_modules_and_names() -> None:
    """The modules a query needs, and the package names they come from, import without torch
    (or transformers); a name that needs torch brings it in only when asked for."""
    result = run_python(
        "import sys\n"
        "import minilm.variants, minilm.checkpoint, minilm.errors\n"
        "from minilm import DEFAULT_MODEL, MiniLMConfig, MiniLMTokenizer, ModelFilesError\n"
        "from minilm import locate_model\n"
        "tokenizer = MiniLMTokenizer(DEFAULT_MODEL)\n"
        "assert tokenizer.encode_ids(['hello world']) == [[101, 7592, 2088, 102]]\n"
        "assert tokenizer.count_tokens(['hello world']) == [2]\n"
        "heavy = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from minilm import SentenceEncoder\n"
        "assert 'torch' in sys.modules\n"
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", minilm.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(minilm, name) is not None
    assert name in dir(minilm)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        minilm.Nope  # noqa: B018


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (minilm, "ModelNotFoundError"),
        (minilm, "ModelFilesError"),
        (minilm, "WeightsMismatchError"),
        (minilm, "UnsupportedWeightsError"),
        (minilm.locate, "ModelNotFoundError"),
        (minilm.locate, "ModelFilesError"),
        (minilm.weights, "WeightsMismatchError"),
    ],
)
def test_exceptions_are_the_ones_in_minilm_errors(module, name: str) -> None:
    assert getattr(module, name) is getattr(minilm.errors, name)


def test_exception_hierarchy() -> None:
    """Callers catch the built-in kinds (the CLI catches ValueError and OSError)."""
    assert issubclass(minilm.errors.ModelNotFoundError, FileNotFoundError)
    assert issubclass(minilm.errors.ModelFilesError, ValueError)
    assert issubclass(minilm.errors.WeightsMismatchError, minilm.errors.ModelFilesError)
    assert issubclass(minilm.errors.UnsupportedWeightsError, minilm.errors.ModelFilesError)
