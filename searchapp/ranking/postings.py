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
  ids (int64)         the chunk ids, ascending;
  tf (int32)          each posting's count of the term in its chunk (absent from files written
                      before it was kept: such a file is rebuilt, not updated).

A writer brings the file up to date by ``Postings.updated`` rather than reading all of FTS5
again: a chunk id is never reused and each new one is above every id before it (AUTOINCREMENT),
so the chunks removed are taken out, those added (above the file's last id) read alone, and every
weight computed again for the new average length: the arrays a build would make, in 2-5% of its
time when a few files changed (benchmarks/RESULTS.md, "Postings after a small change").
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
from searchapp.storage.paths import created_as_private_as, rebuild_hint
from searchapp.storage.schema import FTS_WORDS_FROM
from searchapp.storage.store import DB_NAME, Store

POSTINGS_NAME = "postings.bin"
# The generation of the file saved last, in the store's meta: an update starts only from a file
# this database saved (an index.db deleted and made again numbers its chunks from 1 again,
# which the file's ids would take for its own).
POSTINGS_GENERATION_KEY = "postings_generation"
MAGIC = b"searchapp-postings-1\n"
_ARRAYS = (
    ("terms", "<u1"),
    ("term_starts", "<i8"),
    ("starts", "<i8"),
    ("rows", "<i4"),
    ("weights", "<f8"),
    ("ids", "<i8"),
    ("tf", "<i4"),
)
# Above this share of the chunks added since the file, reading them alone costs about as much as
# reading every chunk's terms from FTS5 (their text is tokenized again): build instead.
UPDATE_SHARE = 0.25


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
        self._tf: np.ndarray | None = arrays.get("tf")  # None in a file from before it was kept
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
        return cls._weighed(
            {"generation": generation, "rows": rows, "schema": schema},
            terms=np.frombuffer(b"".join(names[i] for i in order), dtype=np.uint8),
            term_lengths=np.array([len(names[i]) for i in order], dtype=np.int64),
            counts=np.array([len(term_rows[i]) for i in order], dtype=np.int64),
            rows=np.concatenate([term_rows[i] for i in order] or [np.empty(0, np.int32)]),
            tf=np.concatenate([term_tf[i] for i in order] or [np.empty(0, np.int32)]),
            ids=ids.astype(np.int64),
        )

    @classmethod
    def _weighed(
        cls,
        header: dict[str, int],
        *,
        terms: np.ndarray,
        term_lengths: np.ndarray,
        counts: np.ndarray,
        rows: np.ndarray,
        tf: np.ndarray,
        ids: np.ndarray,
    ) -> Postings:
        """Postings of these arrays (the terms' bytes and lengths, each term's count of
        postings, each posting's row and term count), weighed for the chunks' lengths."""
        lengths = np.bincount(rows, weights=tf, minlength=len(ids))  # tokens per chunk
        # FTS5's average; 1 where no chunk has a token (no posting to weigh: not 0 / 0).
        average = float(tf.sum()) / header["rows"] if len(tf) else 1.0
        arrays = {
            "terms": terms,
            "term_starts": np.r_[0, np.cumsum(term_lengths)].astype(np.int64),
            "starts": np.r_[0, np.cumsum(counts)].astype(np.int64),
            "rows": rows,
            "weights": term_weights(tf, lengths, average, rows),
            "ids": ids,
            "tf": tf,
        }
        return cls(header, arrays)

    def updated(self, store: Store) -> Postings | None:
        """These postings brought up to the store's present state, equal to what ``build``
        makes of it, array for array; ``None`` where this cannot be done exactly or would not
        save time (the file keeps no term counts, the store's schema changed, chunks changed
        other than by removals and additions, or a quarter of them are new): then ``build``.
        Read inside ``Store.snapshot``."""
        tf = self._tf
        if tf is None or self.schema != store.schema_version():
            return None
        if store.get_meta().get(POSTINGS_GENERATION_KEY) != str(self.generation):
            return None  # not the file this database saved (or not recorded: an older one)
        ids = store.chunk_ids()
        last = int(self.ids[-1]) if len(self.ids) else -1
        kept_chunk = np.isin(self.ids, ids, assume_unique=True)
        added_ids = ids[np.searchsorted(ids, last, side="right") :]
        kept_chunks = int(kept_chunk.sum())
        if kept_chunks + len(added_ids) != len(ids) or len(added_ids) > UPDATE_SHARE * len(ids):
            return None
        added = sorted(
            (term.encode("utf-8"), occurrences)
            for term, occurrences in Lexicon(store).added_term_instances(last)
        )
        # The postings kept, their rows renumbered past the chunks removed (each array made
        # once: at 100k chunks a copy of one is 35-70 MB).
        rows, counts = self._rows, np.diff(self._starts)
        if kept_chunks < len(self.ids):
            kept = kept_chunk[rows]
            rows = (np.cumsum(kept_chunk, dtype=np.int32) - 1)[rows[kept]]
            tf = tf[kept]
            counts = (  # every term in a file has postings: no empty slice to sum
                np.add.reduceat(kept, self._starts[:-1], dtype=np.int64) if len(counts) else counts
            )
        kept_starts = np.r_[0, np.cumsum(counts)]
        # Each added term's postings follow the term's kept ones (their chunks' ids are above
        # every kept one's), or come as a new term in its sorted place.
        term_bytes, term_lengths = np.array(self._terms.array), np.diff(self._terms.starts)
        at_posting, new_rows, new_tf = [], [], []
        new_terms, new_at, new_counts = [], [], []
        for name, occurrences in added:
            first = np.flatnonzero(np.r_[True, occurrences[1:] != occurrences[:-1]])
            new_rows.append(kept_chunks + np.searchsorted(added_ids, occurrences[first]))
            new_tf.append(np.diff(np.r_[first, len(occurrences)]))
            at = bisect.bisect_left(self._terms, name)
            if at < len(self._terms) and self._terms[at] == name:
                counts[at] += len(first)
                at_posting.append(np.full(len(first), kept_starts[at + 1]))
            else:
                new_terms.append(name)
                new_at.append(at)
                new_counts.append(len(first))
                at_posting.append(np.full(len(first), kept_starts[at]))
        if added:  # np.insert keeps values bound for one place in the order given: sorted
            where = np.concatenate(at_posting)
            rows = np.insert(rows, where, np.concatenate(new_rows).astype(np.int32))
            tf = np.insert(tf, where, np.concatenate(new_tf).astype(np.int32))
        if new_terms:
            lengths = [len(n) for n in new_terms]
            byte_at = np.repeat(self._terms.starts[new_at], lengths)
            joined = np.frombuffer(b"".join(new_terms), dtype=np.uint8)
            term_bytes = np.insert(term_bytes, byte_at, joined)
            term_lengths = np.insert(term_lengths, new_at, lengths)
            counts = np.insert(counts, new_at, new_counts)
        held = counts > 0  # a term whose chunks were all removed is gone from FTS5 too
        if not held.all():
            term_bytes = term_bytes[np.repeat(held, term_lengths)]
            term_lengths, counts = term_lengths[held], counts[held]
        return self._weighed(
            {"generation": store.generation(), "rows": len(ids), "schema": self.schema},
            terms=term_bytes,
            term_lengths=term_lengths,
            counts=counts,
            rows=rows,
            tf=tf,
            ids=ids,
        )

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
            "tf": self._tf,
        }
        layout, offset = [], 0
        for name, dtype in _ARRAYS:
            if arrays[name] is None:
                continue
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
            created_as_private_as(tmp, path.with_name(DB_NAME))  # "wb" keeps its mode
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
            listed = header["arrays"]
            if len(listed) not in (len(_ARRAYS) - 1, len(_ARRAYS)):  # a file without tf, or
                raise ValueError(f"{len(listed)} arrays")
            for (name, dtype, count, at), (expected, expected_dtype) in zip(
                listed, _ARRAYS, strict=False
            ):
                if name != expected or dtype != expected_dtype:
                    raise ValueError(f"array {name} {dtype}")
                arrays[name] = np.frombuffer(mapped, dtype=dtype, count=count, offset=start + at)
            postings = cls(header, arrays)
        except (ValueError, KeyError, TypeError, struct.error) as exc:
            raise CorruptIndexError(*damaged) from exc
        tf = postings._tf
        if len(postings._starts) != len(postings._terms) + 1 or (
            postings._starts[-1] != len(postings._rows)
            or len(postings.ids) != postings.rows
            or (tf is not None and len(tf) != len(postings._rows))
        ):
            raise CorruptIndexError(*damaged)
        postings._mmap = mapped
        return postings


def _aligned(size: int) -> int:
    return (size + 7) // 8 * 8


def save_postings(postings: Postings, store: Store, index_dir: Path) -> None:
    """Save ``index_dir/postings.bin`` and record in the store's meta the generation it
    matches (after the file is durable: a crash in between leaves it to be built again)."""
    postings.save(Path(index_dir) / POSTINGS_NAME)
    store.set_meta({POSTINGS_GENERATION_KEY: postings.generation})


def _stale(postings: Postings, store: Store, generation: int) -> str | None:
    if postings.schema < FTS_WORDS_FROM <= store.schema_version():
        return (
            f"{POSTINGS_NAME} predates the words FTS5 reads now (camelCase parts, Ł and ß, "
            "Greek without accents)"
        )
    if store.get_meta().get(POSTINGS_GENERATION_KEY) != str(postings.generation):
        # Another database's (index.db deleted and made again): its generation and chunk count
        # can match this one's by chance, and a query found the other's passages.
        return f"{POSTINGS_NAME} is not the file this database saved last"
    if postings.generation == generation and postings.rows == store.count_chunks():
        return None
    return f"{POSTINGS_NAME} is of generation {postings.generation}, the store {generation}"


POSTINGS_FILE: DerivedFile[Postings] = DerivedFile(
    name=POSTINGS_NAME,
    what="the lexical postings",
    load=Postings.load,
    stale=_stale,
    build=Postings.build,
    update=lambda postings, store: postings.updated(store),
    save=lambda postings, store, index_dir, generation: save_postings(postings, store, index_dir),
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
