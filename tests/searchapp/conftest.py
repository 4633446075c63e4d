"""Fixtures for the search application tests: Cranfield data and indexes built once."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
# The keys of a hit in `search query --json`, exactly.
HIT_KEYS = {
    "rank",
    "score",
    "cosine",
    "path",
    "doc_id",
    "record_id",
    "title",
    "chunk_id",
    "line",
    "start_line",
    "end_line",
    "page",
    "page_label",
    "section",
    "also",
    "text",
}
CRANFIELD = REPO / "data" / "cranfield"


@dataclass
class Cranfield:
    corpus: dict[str, str]  # doc id -> .W text
    queries: dict[str, str]  # query id (position 1..225) -> text
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> gain

    def relevant(self, qid: str) -> list[str]:
        return [doc for doc, gain in self.qrels.get(qid, {}).items() if gain > 0]

    def write_files(self, folder: Path, start: int = 0, stop: int | None = None) -> Path:
        """Documents ``start:stop`` (in corpus order) as ``folder/doc<ID>.txt``, one each."""
        folder.mkdir(parents=True, exist_ok=True)
        for doc_id in list(self.corpus)[start:stop]:
            (folder / f"doc{doc_id}.txt").write_text(self.corpus[doc_id] + "\n", "utf-8")
        return folder


@pytest.fixture(scope="session")
def cranfield() -> Cranfield:
    corpus = {}
    for line in (CRANFIELD / "corpus.jsonl").read_text("utf-8").splitlines():
        record = json.loads(line)
        corpus[record["_id"]] = record["text"]
    queries = {}
    for line in (CRANFIELD / "queries.jsonl").read_text("utf-8").splitlines():
        record = json.loads(line)
        queries[record["_id"]] = record["text"]
    qrels: dict[str, dict[str, int]] = {}
    for line in (CRANFIELD / "qrels" / "test.tsv").read_text("utf-8").splitlines()[1:]:
        qid, doc, score = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(score)
    return Cranfield(corpus, queries, qrels)


@pytest.fixture(scope="session")
def cranfield_folder_index(tmp_path_factory, cranfield) -> tuple[Path, Path]:
    """The 1,400 Cranfield documents written one file each, indexed once through the CLI."""
    from searchapp.interfaces.cli import main

    folder = cranfield.write_files(tmp_path_factory.mktemp("cranfield-docs"))
    index_dir = tmp_path_factory.mktemp("cranfield-index")
    try:
        main(["index", str(folder), "--index-dir", str(index_dir), "--precision", "auto"])
    except SystemExit as exc:
        assert not exc.code, f"search index failed with {exc.code}"
    return folder, index_dir


@pytest.fixture(scope="session")
def small_index(tmp_path_factory, cranfield) -> tuple[Path, Path]:
    """30 Cranfield documents, indexed once (read-only for the tests that use it)."""
    from searchapp.search_index import SearchIndex

    folder = cranfield.write_files(tmp_path_factory.mktemp("small-docs"), 0, 30)
    index_dir = tmp_path_factory.mktemp("small-index")
    SearchIndex(index_dir).add([folder])
    return folder, index_dir


@pytest.fixture(scope="session")
def encoder():
    """The real all-MiniLM-L6-v2, loaded once for the session."""
    from minilm import SentenceEncoder

    return SentenceEncoder.from_pretrained("all-MiniLM-L6-v2", device="cpu", precision="fp32")


def use_encoder(monkeypatch, encoder) -> None:
    """Every model this process loads, for indexing (PyTorch) or for queries (NumPy), is
    ``encoder``."""
    from minilm import SentenceEncoder
    from minilm.numpy_encoder import NumpyEncoder

    for cls in (SentenceEncoder, NumpyEncoder):
        monkeypatch.setattr(cls, "from_pretrained", classmethod(lambda *a, **k: encoder))


@pytest.fixture()
def loaded_model(encoder, monkeypatch):
    """`search` commands run in this process reuse one loaded model (saves 1.5 s a call)."""
    use_encoder(monkeypatch, encoder)
    return encoder


class WordTokenizer:
    """One token per whitespace word; ids are stable hashes."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def encode_ids(self, texts: Sequence[str]) -> list[list[int]]:
        body = self.max_length - 2
        return [
            [101] + [zlib.crc32(w.encode()) % 30000 + 1000 for w in t.split()][:body] + [102]
            for t in texts
        ]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]


class FakeEncoder:
    """The encoder seam (``searchapp.encoding.Encoder``) without a transformer: a bag of hashed
    token ids, so equal texts give equal unit vectors, like a real model, in microseconds."""

    precision = "fp32"
    packs_batches = False
    batch_size = 32

    def __init__(
        self,
        tokenizer=None,
        *,
        dim: int = 16,
        max_length: int = 16,
        name: str = "fake-encoder",
        weights_sha256: str = "0" * 64,
    ) -> None:
        self.tokenizer = tokenizer or WordTokenizer(max_length)
        self.dim, self.max_length = dim, max_length
        self.name, self.weights_sha256 = name, weights_sha256
        self.batches: list[int] = []

    def embed_many(self, ids: Sequence[Sequence[int]], *, batch_size: int = 32) -> np.ndarray:
        self.batches.append(len(ids))
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        for row, seq in enumerate(ids):
            for token in seq[1:-1]:
                out[row, token % self.dim] += 1.0
            out[row, 0] += 1e-3  # never all-zero
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        return self.embed_many(self.tokenizer.encode_ids(list(texts)))


@pytest.fixture()
def fake_encoder() -> FakeEncoder:
    """A fresh fake encoder (it records the batch sizes it was given)."""
    return FakeEncoder()
