"""Lexical postings derived from the FTS5 index: FTS5's BM25 ranking at numpy speed.

FTS5's ``bm25()`` costs ~0.6 µs for every chunk that matches any query term; at 100k chunks a
query's content words match ~15k-200k of them (12-70 ms). ``postings.bin`` holds, for each FTS5
term, the chunks holding it and the term's BM25 factor in each (``bm25.term_weights``, fixed
once the index's size and average length are), so a query is one multiply-add per posting
(1-3 ms) and its scores equal FTS5's bit for bit.

Like ``vectors.faiss``, the file is derived: the writer saves it after each change, with the
store generation it matches in its header; a stale or damaged file is rebuilt from FTS5 by a
reader that can take the writer lock, and otherwise FTS5 answers (same ranking, slower).

Layout, little-endian: ``MAGIC``, a uint32 header length, a JSON header, then the arrays the
header lists (name, dtype, count, byte offset), each 8-byte aligned:
  terms (uint8)       the sorted UTF-8 terms, concatenated;
  term_starts (int64) where term i's bytes begin in ``terms`` (plus the end);
  starts (int64)      where term i's postings begin (plus the end);
  rows (int32)        each posting's chunk as a row number: the position of its id in ``ids``;
  weights (float64)   each posting's BM25 factor;
  ids (int64)         the chunk ids, ascending.
"""

from __future__ import annotations

import bisect
import json
import mmap
import os
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from searchapp.errors import CorruptIndexError
from searchapp.ranking.lexical import Lexicon, idf, informative_terms, term_weights
from searchapp.storage.derived import DerivedFile, open_derived
from searchapp.storage.lock import WriterLock
from searchapp.storage.paths import rebuild_hint
from searchapp.storage.schema import FTS_WORDS_FROM
from searchapp.storage.store import Store

POSTINGS_NAME = "postings.bin"
MAGIC = b"searchapp-postings-1\n"
_ARRAYS = (
    ("terms", "<u1"),
    ("term_starts", "<i8"),
    ("starts", "<i8"),
    ("rows", "<i4"),
    ("weights", "<f8"),
    ("ids", "<i8"),
)


class _Terms:
    """The sorted terms as a sequence of bytes for bisect: one copy of the (small) blob of
    terms, and their start offsets left in the file."""

    def __init__(self, blob: np.ndarray, starts: np.ndarray) -> None:
        self.array, self.starts = blob, starts
        self._bytes = blob.tobytes()

    def __len__(self) -> int:
        return len(self.starts) - 1

    def __getitem__(self, i: int) -> bytes:
        return self._bytes[self.starts[i] : self.starts[i + 1]]


class Postings:
    """Which chunks hold each term, with BM25 weights, for one store generation."""

    def __init__(self, header: dict[str, int], arrays: dict[str, np.ndarray]) -> None:
        self.generation = int(header["generation"])
        self.rows = int(header["rows"])  # chunks in the index, as FTS5 counts them
        self.schema = int(header.get("schema", 0))  # the store's schema version when built
        self._terms = _Terms(arrays["terms"], arrays["term_starts"])
        self._starts = arrays["starts"]
        self._rows = arrays["rows"]
        self._weights = arrays["weights"]
        self.ids = arrays["ids"]
        self._mmap: mmap.mmap | None = None
        self._found: dict[str, int | None] = {}  # terms looked up so far
        self._last: tuple[tuple[str, ...], np.ndarray] | None = None  # ``_scores``' last

    # -- querying -------------------------------------------------------------------------------

    def document_frequency(self, term: str) -> int:
        found = self._find(term)
        return 0 if found is None else int(self._starts[found + 1] - self._starts[found])

    def _find(self, term: str) -> int | None:
        if term not in self._found:
            key = term.encode("utf-8")
            at = bisect.bisect_left(self._terms, key)
            self._found[term] = at if at < len(self._terms) and self._terms[at] == key else None
        return self._found[term]

    def search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The ``k`` best chunks for FTS5 ``terms`` as ``(chunk_id, score)``, best first, ties by
        id: what ``Lexicon.search`` returns for the same terms."""
        scores = self._scores(terms)
        # Every match scores > 0 (idf >= 1e-6). Keep the k best and all tied with the k-th.
        kth = np.partition(scores, len(scores) - k)[len(scores) - k] if k < len(scores) else 0.0
        matched = np.flatnonzero(scores >= kth if kth > 0 else scores > 0)
        best = matched[np.lexsort((matched, -scores[matched]))][:k]
        return [(int(i), float(s)) for i, s in zip(self.ids[best], scores[best], strict=True)]

    def scores_of(self, terms: Sequence[str], chunk_ids: Sequence[int]) -> dict[int, float]:
        """``{chunk id: score}`` of those of ``chunk_ids`` that hold some of ``terms``, scored
        as ``search`` scores them: what ``Lexicon.scores_of`` returns."""
        scores = self._scores(terms)
        wanted = np.asarray(chunk_ids, dtype=np.int64)
        at = np.searchsorted(self.ids, wanted).clip(0, max(len(self.ids) - 1, 0))
        found = {}
        for chunk_id, row in zip(wanted.tolist(), at.tolist(), strict=True):
            if len(self.ids) and self.ids[row] == chunk_id and scores[row] > 0:
                found[chunk_id] = float(scores[row])
        return found

    def _scores(self, terms: Sequence[str]) -> np.ndarray:
        """Each row's BM25 for ``terms``; the last query's are kept (a hybrid search asks twice:
        its best, then the scores of the dense candidates)."""
        terms = informative_terms(terms, self.document_frequency, self.rows)
        key = tuple(terms)
        last = self._last  # read once: another thread may replace it
        if last is not None and last[0] == key:
            return last[1]
        scores = np.zeros(len(self.ids))
        for term in terms:  # in query order, as FTS5 adds its phrases up
            found = self._find(term)
            if found is None:
                continue
            first, end = int(self._starts[found]), int(self._starts[found + 1])
            rows = self._rows[first:end]
            scores[rows] += idf(end - first, self.rows) * self._weights[first:end]
        self._last = (key, scores)
        return scores

    # -- building, saving, loading --------------------------------------------------------------

    @classmethod
    def build(cls, store: Store) -> Postings:
        """Read every term's occurrences from FTS5 (about 3 s per 100k chunks)."""
        with store.snapshot():
            generation, schema = store.generation(), store.schema_version()
            rows = store.count_chunks()
            ids = store.chunk_ids()
            names, term_rows, term_tf = [], [], []
            for term, occurrences in Lexicon(store).term_instances():
                first = np.flatnonzero(np.r_[True, occurrences[1:] != occurrences[:-1]])
                names.append(term.encode("utf-8"))
                term_rows.append(np.searchsorted(ids, occurrences[first]).astype(np.int32))
                term_tf.append(np.diff(np.r_[first, len(occurrences)]).astype(np.int32))
        order = sorted(range(len(names)), key=names.__getitem__)  # bytes order, for bisect
        names = [names[i] for i in order]
        posting_rows = np.concatenate([term_rows[i] for i in order] or [np.empty(0, np.int32)])
        tf = np.concatenate([term_tf[i] for i in order] or [np.empty(0, np.int32)])
        lengths = np.bincount(posting_rows, weights=tf, minlength=len(ids))  # tokens per chunk
        average = float(tf.sum()) / rows if rows else 1.0
        header = {"generation": generation, "rows": rows, "schema": schema}
        arrays = {
            "terms": np.frombuffer(b"".join(names), dtype=np.uint8),
            "term_starts": np.cumsum([0] + [len(n) for n in names], dtype=np.int64),
            "starts": np.cumsum([0] + [len(r) for r in (term_rows[i] for i in order)]),
            "rows": posting_rows,
            "weights": term_weights(tf, lengths[posting_rows], average),
            "ids": ids.astype(np.int64),
        }
        return cls(header, arrays)

    def save(self, path: Path) -> None:
        """Write atomically: a temporary file in the same folder, fsync, then rename over."""
        path = Path(path)
        arrays = {
            "terms": self._terms.array,
            "term_starts": self._terms.starts,
            "starts": self._starts,
            "rows": self._rows,
            "weights": self._weights,
            "ids": self.ids,
        }
        layout, offset = [], 0
        for name, dtype in _ARRAYS:
            layout.append([name, dtype, len(arrays[name]), offset])
            offset += _aligned(len(arrays[name]) * np.dtype(dtype).itemsize)
        header = json.dumps(
            {
                "generation": self.generation,
                "rows": self.rows,
                "schema": self.schema,
                "arrays": layout,
            }
        ).encode()
        start = _aligned(len(MAGIC) + 4 + len(header))
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as out:
                out.write(MAGIC + struct.pack("<I", len(header)) + header)
                for name, dtype, _, at in layout:
                    out.seek(start + at)
                    out.write(np.ascontiguousarray(arrays[name], dtype=dtype).tobytes())
                out.truncate(start + offset)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> Postings | None:
        """Map a saved file (read lazily); ``None`` when there is none. Raises CorruptIndexError,
        naming the file, when it is not a whole postings file."""
        path = Path(path)
        try:
            with open(path, "rb") as file:
                size = os.fstat(file.fileno()).st_size
                mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        except FileNotFoundError:
            return None
        damaged = (f"{path} is damaged or truncated", f"{rebuild_hint(path)} (or delete it)")
        if mapped is None or mapped[: len(MAGIC)] != MAGIC:
            raise CorruptIndexError(*damaged)
        try:
            (length,) = struct.unpack_from("<I", mapped, len(MAGIC))
            header = json.loads(mapped[len(MAGIC) + 4 : len(MAGIC) + 4 + length])
            start = _aligned(len(MAGIC) + 4 + length)
            arrays = {}
            for (name, dtype, count, at), (expected, expected_dtype) in zip(
                header["arrays"], _ARRAYS, strict=True
            ):
                if name != expected or dtype != expected_dtype:
                    raise ValueError(f"array {name} {dtype}")
                arrays[name] = np.frombuffer(mapped, dtype=dtype, count=count, offset=start + at)
            postings = cls(header, arrays)
        except (ValueError, KeyError, TypeError, struct.error) as exc:
            raise CorruptIndexError(*damaged) from exc
        if len(postings._starts) != len(postings._terms) + 1 or (
            postings._starts[-1] != len(postings._rows) or len(postings.ids) != postings.rows
        ):
            raise CorruptIndexError(*damaged)
        postings._mmap = mapped
        return postings


def _aligned(size: int) -> int:
    return (size + 7) // 8 * 8


def save_postings(postings: Postings, index_dir: Path) -> None:
    postings.save(Path(index_dir) / POSTINGS_NAME)


def _stale(postings: Postings, store: Store, generation: int) -> str | None:
    if postings.schema < FTS_WORDS_FROM <= store.schema_version():
        return f"{POSTINGS_NAME} predates the words FTS5 reads now (camelCase parts)"
    if postings.generation == generation and postings.rows == store.count_chunks():
        return None
    return f"{POSTINGS_NAME} is of generation {postings.generation}, the store {generation}"


POSTINGS_FILE: DerivedFile[Postings] = DerivedFile(
    name=POSTINGS_NAME,
    what="the lexical postings",
    load=Postings.load,
    stale=_stale,
    build=Postings.build,
    save=lambda postings, store, index_dir, generation: save_postings(postings, index_dir),
    build_unsaved=False,  # FTS5 answers lexical queries meanwhile, the same ranking
)


def open_postings(
    store: Store, index_dir: Path, *, writer: WriterLock | None = None
) -> Postings | None:
    """The postings file matching the store, rebuilt (and saved) when missing, stale or damaged;
    ``None`` while another process writes and the file is stale: FTS5 then answers. The writer
    calls it, passing its ``writer`` lock, when it is done: a run that changed nothing costs a
    load."""
    return open_derived(POSTINGS_FILE, store, index_dir, writer=writer)
