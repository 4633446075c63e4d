"""``SearchIndex``: one index folder as a whole — settings, model, writer lock, add/search/remove.

The CLI and the REPL are thin layers over this class.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from searchapp.errors import (
    BadInputError,
    CorruptIndexError,
    IndexNotFoundError,
    ModelMismatchError,
)
from searchapp.ingest.chunking import ChunkingConfig
from searchapp.ranking.postings import POSTINGS_NAME, Postings, open_postings
from searchapp.ranking.searcher import Hit, Searcher, SearchOptions
from searchapp.storage.lock import WriterLock
from searchapp.storage.paths import resolve_index_dir
from searchapp.storage.store import Store, remove_store_files
from searchapp.storage.vector_params import INDEX_TYPES
from searchapp.storage.vectors import (
    INDEX_TYPE_KEY,
    VECTORS_NAME,
    VECTORS_PARAMS_KEY,
    VectorIndex,
    fit_vectors,
    open_vectors,
    save_vectors,
)

if TYPE_CHECKING:
    from minilm import SentenceEncoder
    from searchapp.ingest.pipeline import IndexReport, Progress

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
OVERLAP_TOKENS = 32


class SearchIndex:
    """An index folder: SQLite (source of truth) plus the FAISS vectors derived from it.

    ``model`` defaults to the one the index was built with (or all-MiniLM-L6-v2 for a new one);
    asking for another model on an existing index raises ``ModelMismatchError``.
    ``precision`` defaults to the one the index was built with: fp32 stays fp32, a reduced
    one becomes ``auto`` (bf16 where this machine runs it natively), fp32 for a new index.
    """

    def __init__(
        self,
        index_dir: str | os.PathLike[str] | None = None,
        *,
        model: str | None = None,
        device: str = "auto",
        precision: str | None = None,
        encoder: SentenceEncoder | None = None,
    ) -> None:
        self.index_dir = resolve_index_dir(index_dir)
        self.device = device
        self.precision = precision
        self._model = model
        self._encoder = encoder
        self._store: Store | None = None
        self._vectors: VectorIndex | None = None
        self._vectors_generation = -1  # the store generation self._vectors was opened at
        self._postings: Postings | None = None
        self._writing = False  # this object holds the writer lock (add/remove)

    # -- opening --------------------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.index_dir / "index.db").exists()

    @property
    def store(self) -> Store:
        if self._store is None:
            if not self.exists():
                raise IndexNotFoundError(
                    f"no index at {self.index_dir}; run `search index PATH` to create one"
                )
            self._store = Store.open(self.index_dir, create=False)
        return self._store

    @property
    def model_name(self) -> str:
        """The model this index uses: recorded in the index, else asked for, else the default."""
        recorded = self._existing_meta().get("model")
        return self._model or recorded or DEFAULT_MODEL

    def _existing_meta(self) -> dict[str, str]:
        """The index's meta; empty while there is none to read. That includes the empty file a
        first run killed before it created the tables leaves: `search index` then creates them
        (``Store.open(create=True)`` still refuses a file that is damaged, not empty)."""
        try:
            return self.store.get_meta()
        except (IndexNotFoundError, CorruptIndexError):
            return {}

    @property
    def encoder(self) -> SentenceEncoder:
        if self._encoder is None:
            from minilm import SentenceEncoder

            self._encoder = SentenceEncoder.from_pretrained(
                self.model_name, device=self.device, precision=self._precision()
            )
        return self._encoder

    def _precision(self) -> str:
        """As asked, else as recorded: a query embedded as its passages were costs 3.8 ms in
        bf16 against 5.6 ms in fp32 (all-MiniLM-L6-v2, 2 cores), for the same ranking."""
        if self.precision is not None:
            return self.precision
        recorded = self._existing_meta().get("precision", "fp32")
        return "fp32" if recorded == "fp32" else "auto"

    def _check_model(self, meta: dict[str, str]) -> None:
        """Raise ``ModelMismatchError`` unless the encoder is the one the index was built with."""
        if "model" not in meta:
            return
        encoder = self.encoder
        fix = (
            f"rebuild it with `search index --rebuild --model {encoder.name} PATH...` "
            f"or use --model {meta['model']}"
        )
        if meta.get("model_sha256") and meta["model_sha256"] != encoder.weights_sha256:
            raise ModelMismatchError(
                f"the index at {self.index_dir} was built with {meta['model']} "
                f"(weights {meta['model_sha256'][:12]}), not {encoder.name} "
                f"(weights {encoder.weights_sha256[:12]}); {fix}"
            )
        if int(meta.get("dim", encoder.dim)) != encoder.dim:
            raise ModelMismatchError(
                f"the index at {self.index_dir} holds {meta['dim']}-d vectors but {encoder.name} "
                f"gives {encoder.dim}-d; {fix}"
            )

    def _model_meta(self) -> dict[str, Any]:
        encoder = self.encoder
        chunking = self.chunking
        return {
            "model": self._model or encoder.name,
            "model_sha256": encoder.weights_sha256,
            "dim": encoder.dim,
            "max_length": encoder.max_length,
            "precision": encoder.precision,
            "chunk_max_tokens": chunking.max_tokens,
            "chunk_overlap_tokens": chunking.overlap_tokens,
        }

    @property
    def chunking(self) -> ChunkingConfig:
        meta = self._existing_meta()
        if "chunk_max_tokens" in meta:
            return ChunkingConfig(
                max_tokens=int(meta["chunk_max_tokens"]),
                overlap_tokens=int(meta["chunk_overlap_tokens"]),
            )
        max_tokens = self.encoder.max_length - 2  # [CLS] and [SEP] take two
        return ChunkingConfig(
            max_tokens=max_tokens, overlap_tokens=min(OVERLAP_TOKENS, max_tokens // 4)
        )

    @property
    def vectors(self) -> VectorIndex:
        """The vector index, reopened once another process changed the store (a REPL keeps
        one SearchIndex while `search index` runs elsewhere). A writer takes it once, when it
        starts, and updates it in place as it commits."""
        generation = self.store.generation()
        if self._vectors is None or generation != self._vectors_generation:
            dim = int(self.store.get_meta().get("dim", 0) or self.encoder.dim)
            self._vectors = open_vectors(
                self.store, self.index_dir, dim, holds_writer_lock=self._writing
            )
            self._vectors_generation = generation  # or older: at worst, one more reload
        return self._vectors

    @property
    def postings(self) -> Postings | None:
        """The lexical postings matching the store, reopened after another process wrote;
        ``None`` while a writer runs on a store they no longer match (FTS5 then ranks)."""
        cached = self._postings
        if cached is None or cached.generation != self.store.generation():
            self._postings = open_postings(
                self.store, self.index_dir, holds_writer_lock=self._writing
            )
        return self._postings

    def _save_postings(self) -> None:
        """Bring the postings up to date after a change (the writer lock is held)."""
        self._postings = open_postings(self.store, self.index_dir, holds_writer_lock=True)

    # -- writing --------------------------------------------------------------------------------

    def add(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        rebuild: bool = False,
        wait: bool = True,
        on_wait: Callable[[], None] | None = None,
        progress: Progress | None = None,
        index_type: str | None = None,
    ) -> IndexReport:
        """Index files and folders (incrementally unless ``rebuild``).

        ``index_type`` (flat, ivf, hnsw or auto) is recorded in the index; ``None`` keeps the
        recorded one (auto for a new index). The vectors are rebuilt when it asks for another kind.
        """
        from searchapp.ingest.pipeline import Indexer

        if index_type is not None and index_type not in INDEX_TYPES:
            raise BadInputError(
                f"--index-type ({index_type!r}) must be one of {', '.join(INDEX_TYPES)}"
            )
        roots = _roots(paths)
        with WriterLock(self.index_dir, wait=wait, on_wait=on_wait), self._holding_lock():
            if rebuild:
                self._discard()
            encoder = self.encoder
            store = self._store = self._store or Store.open(self.index_dir, create=True)
            meta = store.get_meta()
            self._check_model(meta)
            if "model" not in meta:
                store.set_meta(self._model_meta())
            index_type = index_type or meta.get(INDEX_TYPE_KEY) or "auto"
            store.set_meta({INDEX_TYPE_KEY: index_type})
            vectors = self.vectors
            indexer = Indexer(
                store,
                vectors,
                encoder,
                tokenize=encoder.tokenizer.encode_ids,
                count_tokens=encoder.tokenizer.count_tokens,
                chunking=self.chunking,
                progress=progress,
            )
            try:
                report = indexer.run(roots, include=include, exclude=exclude)
            finally:
                # Whatever was committed is in SQLite; the vectors file follows it.
                save_vectors(vectors, store, self.index_dir)
            self._vectors = fit_vectors(vectors, store, self.index_dir, index_type)
            self._vectors_generation = store.generation()
            self._save_postings()
            store.set_meta(
                {"last_indexed_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            )
        return report

    def remove(self, paths: Sequence[str | os.PathLike[str]]) -> int:
        """Drop the documents at or below these paths; returns how many were removed."""
        roots = [str(Path(p).expanduser().absolute()) for p in paths]
        with WriterLock(self.index_dir), self._holding_lock():
            store = self.store
            vectors = self.vectors  # matching the store as this writer found it
            gone = [
                path
                for path in store.all_paths()
                if any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)
            ]
            with store.transaction():
                removed = store.delete_documents_by_path(gone)
            vectors.remove(np.asarray(removed, dtype=np.int64))
            save_vectors(vectors, store, self.index_dir)
            self._vectors_generation = store.generation()
            self._save_postings()
        return len(gone)

    @contextmanager
    def _holding_lock(self) -> Iterator[None]:
        self._writing = True
        try:
            yield
        finally:
            self._writing = False

    def _discard(self) -> None:
        """Delete the index's files (for --rebuild); the lock file stays, we hold it."""
        self.close()
        remove_store_files(self.index_dir)
        (self.index_dir / VECTORS_NAME).unlink(missing_ok=True)
        (self.index_dir / POSTINGS_NAME).unlink(missing_ok=True)

    # -- reading --------------------------------------------------------------------------------

    def embed_query(self, text: str) -> tuple[np.ndarray, int]:
        """The query vector, and how many tokens the query had (to warn when it is truncated)."""
        if not text.strip():
            raise BadInputError("the query is empty; type some words to search for")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # bytes that are not UTF-8, as Python keeps them from argv
            raise BadInputError(
                "the query holds bytes that are not UTF-8 text; check the terminal's encoding "
                "and type it again"
            ) from None
        self._check_model(self.store.get_meta())
        from minilm.devices import cpu_threads, query_threads

        tokens = self.encoder.tokenizer.count_tokens([text])[0] + 2
        with cpu_threads(query_threads()):
            return self.encoder.encode([text])[0], tokens

    def search(self, text: str, k: int = 10, **options: Any) -> list[Hit]:
        """Rank passages for ``text``; options as ``SearchOptions`` (mode, min_score, ...)."""
        opts = SearchOptions(k=k, **options)
        vector, _ = self.embed_query(text)
        return self.search_vector(text, vector, opts)

    def search_many(self, texts: Sequence[str], options: SearchOptions) -> list[list[Hit]]:
        """Rank passages for many queries, embedding them together (for evaluation)."""
        self._check_model(self.store.get_meta())
        vectors = self.encoder.encode(list(texts))
        return [self.search_vector(t, v, options) for t, v in zip(texts, vectors, strict=True)]

    def search_vector(self, text: str, vector: np.ndarray, options: SearchOptions) -> list[Hit]:
        vectors = self.vectors  # may rebuild and save the FAISS file: outside the snapshot
        postings = self.postings if options.mode != "dense" else None  # the same
        with self.store.snapshot():
            return Searcher(self.store, vectors, postings).search(text, vector, options)

    def context(self, hit: Hit, lines: int) -> str:
        """The passage with ``lines`` lines of its source file around it (the passage alone when
        the file changed or is a JSONL record)."""
        if lines <= 0 or hit.doc_id != hit.path:
            return hit.text
        from searchapp.ingest.decoding import load_documents

        try:
            documents = load_documents(Path(hit.path))
        except Exception:  # the file changed or vanished since indexing: show what we stored
            return hit.text
        if len(documents) != 1 or documents[0].text[hit.start_char : hit.end_char] != hit.text:
            return hit.text
        all_lines = documents[0].text.split("\n")
        first = max(0, hit.start_line - 1 - lines)
        last = min(len(all_lines), hit.end_line + lines)
        return "\n".join(all_lines[first:last])

    def stats(self) -> dict[str, Any]:
        store = self.store
        meta = store.get_meta()
        counts = store.stats()
        vectors_path = self.index_dir / VECTORS_NAME
        postings_path = self.index_dir / POSTINGS_NAME
        return {
            "index_dir": str(self.index_dir),
            "model": meta.get("model"),
            "model_sha256": meta.get("model_sha256"),
            "dim": int(meta.get("dim", 0)),
            "max_length": int(meta.get("max_length", 0)),
            "precision": meta.get("precision"),
            "documents": counts["documents"],
            "chunks": counts["chunks"],
            "db_bytes": counts["db_bytes"],
            "vectors_bytes": vectors_path.stat().st_size if vectors_path.exists() else 0,
            "postings_bytes": postings_path.stat().st_size if postings_path.exists() else 0,
            "index_type": meta.get(INDEX_TYPE_KEY, "auto"),
            "vectors_params": meta.get(VECTORS_PARAMS_KEY),
            "last_indexed_at": meta.get("last_indexed_at"),
            "schema_version": store.schema_version(),
        }

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store = None
        self._vectors = None
        self._postings = None


def _roots(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    if not paths:
        raise BadInputError("give at least one file or folder to index")
    roots = []
    for raw in paths:
        path = Path(raw).expanduser().absolute()
        if not path.exists():
            raise BadInputError(f"no such file or folder: {raw}")
        roots.append(path)
    return roots
