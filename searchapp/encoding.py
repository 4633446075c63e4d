"""The encoder seam: what indexing and searching use of a sentence encoder, and loading one.

Indexing uses ``minilm.SentenceEncoder`` (PyTorch: batches, bf16, GPUs). Queries on the CPU use
``minilm.NumpyEncoder``, the same model in NumPy: a query then never imports torch, which alone
takes longer than the whole query. A process that has loaded the PyTorch encoder anyway (a server,
an interactive REPL) embeds its queries with it: warm, bf16 is about twice as fast
(``SearchIndex.load_query_encoder``). Tests pass a deterministic fake.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)


class Tokenizer(Protocol):
    def encode_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with the special tokens, truncated at the model's limit."""
        ...  # pragma: no cover

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, special tokens not counted, not truncated."""
        ...  # pragma: no cover


class Encoder(Protocol):
    """Everything ``SearchIndex`` and the indexing pipeline use of an encoder."""

    name: str
    dim: int
    max_length: int
    precision: str
    weights_sha256: str
    tokenizer: Tokenizer
    packs_batches: bool  # every batch runs without padding: larger batches cost nothing more
    batch_size: int  # texts a forward pass takes unless told (512 on a CUDA GPU)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm rows, (n, dim) float32, in input order."""
        ...  # pragma: no cover

    def embed_many(self, ids: Sequence[Sequence[int]], *, batch_size: int) -> np.ndarray:
        """Embed token id lists (special tokens included); rows in input order, unit norm."""
        ...  # pragma: no cover


class PendingVectors(Protocol):
    def result(self) -> np.ndarray:
        """The window's vectors, (n, dim) float32 in submission order; waits for them."""
        ...  # pragma: no cover


class EmbeddingBackend(Protocol):
    """Embeds token ids somewhere else (a Ray cluster) exactly as the local encoder would."""

    windows_ahead: int  # windows submitted beyond the one being committed

    def start(self, encoder: Encoder) -> None:
        """Get ready to embed as ``encoder`` does (same weights, precision and dimension)."""
        ...  # pragma: no cover

    def submit(self, ids: list[list[int]], *, batch_size: int) -> PendingVectors:
        """Start embedding one window's token id lists; returns at once."""
        ...  # pragma: no cover


class EncoderLoader:
    """An encoder loaded by ``load`` in a thread from the first ``start()``, so that indexing
    reads, chunks and tokenizes files while ``import torch`` and the weights take their second
    and a half; ``get()`` waits for it. A run with nothing to embed never starts it.
    ``ready`` runs once with the loaded encoder, in the thread that first gets it."""

    def __init__(
        self, load: Callable[[], Encoder], ready: Callable[[Encoder], None] | None = None
    ) -> None:
        self._load = load
        self._ready = ready
        self._started = False
        # Set when the thread has finished, whatever the outcome. Not Thread.join: on Python
        # 3.11 a join cut short by Ctrl-C marks the thread finished while it still runs.
        self._done = threading.Event()
        self._loaded: Encoder | None = None
        self._error: BaseException | None = None
        self._got: Encoder | None = None

    def start(self) -> None:
        """Begin loading in a thread; returns at once (and does nothing the second time)."""
        if not self._started and self._got is None:
            self._started = True
            threading.Thread(target=self._run, name="search-load-encoder", daemon=True).start()

    def _run(self) -> None:
        try:
            self._loaded = self._load()
        except BaseException as exc:  # noqa: BLE001 - raised again by get(), in its caller
            self._error = exc
        finally:
            self._done.set()

    def get(self) -> Encoder:
        """The encoder, loaded (waiting for the thread, or here when none started); raises what
        loading it raised."""
        if self._got is not None:
            return self._got
        if not self._started:
            loaded = self._load()
        else:
            self._done.wait()
            if self._error is not None:
                raise self._error
            assert self._loaded is not None
            loaded = self._loaded
        if self._ready is not None:
            self._ready(loaded)
        self._got = loaded
        return loaded

    def wait(self) -> None:
        """Let a started load finish, whatever became of it: the process must not exit while
        torch is half imported (that can abort it). ``Indexer.run`` holds Ctrl-C back meanwhile."""
        if self._started:
            self._done.wait()


def load_encoder(name_or_path: str, *, device: str, precision: str) -> Encoder:
    """The encoder for a model name or folder on ``device`` in ``precision``."""
    from minilm import SentenceEncoder

    return SentenceEncoder.from_pretrained(name_or_path, device=device, precision=precision)


def numpy_query_encoder(name_or_path: str, *, device: str) -> Encoder | None:
    """NumPy float32 on the CPU (``device`` auto or cpu) when the model has safetensors weights;
    ``None`` when queries need PyTorch (a GPU asked for, ``.bin`` or ONNX weights).

    A query embedded in fp32 against passages embedded in bf16 ranks as well as a bf16 query
    (the fp32 and bf16 vectors agree to a mean cosine of 0.9999).
    """
    if device not in ("auto", "cpu"):
        return None
    from minilm.errors import UnsupportedWeightsError
    from minilm.numpy_encoder import NumpyEncoder

    try:
        return NumpyEncoder.from_pretrained(name_or_path)
    except UnsupportedWeightsError as exc:
        logger.debug("queries embed with PyTorch: %s", exc)
        return None
