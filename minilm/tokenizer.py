"""WordPiece tokenization with the ``tokenizers`` library, identical to ``BertTokenizerFast``.

Importing it does not import torch: token ids and NumPy arrays need none, and only the methods that
return tensors (``pad``, ``encode``) import it.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tokenizers import Encoding, Tokenizer
from tokenizers.models import WordPiece
from tokenizers.normalizers import BertNormalizer
from tokenizers.pre_tokenizers import BertPreTokenizer
from tokenizers.processors import BertProcessing

from minilm.config import check_max_length, default_max_length
from minilm.errors import ModelFilesError
from minilm.locate import ModelFiles, locate_model
from minilm.variants import DEFAULT_MODEL

if TYPE_CHECKING:
    import torch


def _from_vocab(folder: Path) -> Tokenizer:
    """Build the BERT WordPiece pipeline from ``vocab.txt`` (+ ``tokenizer_config.json``)."""
    settings: dict = {}
    if (folder / "tokenizer_config.json").is_file():
        settings = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    lowercase = bool(settings.get("do_lower_case", True))
    tokenizer = Tokenizer(WordPiece.from_file(str(folder / "vocab.txt"), unk_token="[UNK]"))
    tokenizer.normalizer = BertNormalizer(
        clean_text=True,
        handle_chinese_chars=bool(settings.get("tokenize_chinese_chars", True)),
        strip_accents=settings.get("strip_accents"),
        lowercase=lowercase,
    )
    tokenizer.pre_tokenizer = BertPreTokenizer()
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    if cls_id is None or sep_id is None:
        raise ModelFilesError(f"{folder / 'vocab.txt'}: [CLS] or [SEP] is missing")
    tokenizer.post_processor = BertProcessing(("[SEP]", sep_id), ("[CLS]", cls_id))
    # As BertTokenizerFast: a special token written in the text stays one token,
    # not "[", "sep", "]".
    specials = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    tokenizer.add_special_tokens([t for t in specials if tokenizer.token_to_id(t) is not None])
    return tokenizer


def load_tokenizer(folder: Path) -> Tokenizer:
    """Read ``tokenizer.json`` (preferred) or ``vocab.txt`` from ``folder``, with no padding or
    truncation set."""
    try:
        if (folder / "tokenizer.json").is_file():
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        else:
            tokenizer = _from_vocab(folder)
    except ModelFilesError:
        raise
    except Exception as exc:
        raise ModelFilesError(f"{folder}: tokenizer files are not readable ({exc})") from exc
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


# Word pieces of recently counted texts that ``encode_ids`` reuses instead of tokenizing again:
# indexing counts every chunk whole before it encodes it (as one piece, or checked as a chunk),
# half of its tokenizing. At most this many tokens are kept (about 7 MB of encodings).
COUNTED_TOKENS_KEPT = 65_536
# Word-piece counts of recently counted texts, by the text's hash (a 64-bit hash: two texts of
# a process share one with odds of 2**-64 a pair; a wrong count would only size one chunk
# wrong): a long-lived process (`search watch`, `serve --watch`) chunks a large file again
# after an edit, and counting its unchanged paragraphs again was nearly all of that
# (12.4 MB: 11.6 of 12.0 s). About 80 bytes an entry.
COUNT_MEMO_ENTRIES = 262_144


class MiniLMTokenizer:
    """Token ids and attention masks for a batch of texts, truncated at ``max_length`` tokens
    (special tokens included) and padded to the longest text."""

    def __init__(
        self,
        model_name: str | None = None,
        max_length: int | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        files: ModelFiles | None = None,
    ) -> None:
        if files is None:
            target = path if path is not None else model_name
            if target is None:
                raise ValueError(f"give model_name (e.g. {DEFAULT_MODEL!r}) or path")
            files = locate_model(target)
        if max_length is None:
            max_length = default_max_length(
                files.max_seq_length, files.config.get("max_position_embeddings")
            )
        self.max_length = check_max_length(max_length)
        # One tokenizer, untruncated, for counting and encoding (loading one is ~20 ms of a
        # query); encode_ids truncates as the tokenizers library would.
        self._tokenizer = load_tokenizer(files.tokenizer_dir)
        self._specials = self._tokenizer.num_special_tokens_to_add(False)
        self.pad_token_id = self._tokenizer.token_to_id("[PAD]") or 0
        self._counted: OrderedDict[str, Encoding] = OrderedDict()  # oldest first
        self._counted_tokens = 0
        self._counted_lock = threading.Lock()
        self._counts: OrderedDict[int, int] = OrderedDict()  # hash(text) -> count, oldest first

    def encode_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with special tokens, truncated, unpadded.

        What ``enable_truncation(max_length)`` gives: the word pieces are cut to leave room for
        the special tokens the post-processor adds ([CLS] and [SEP] for BERT), then added.
        """
        keep = self.max_length - self._specials
        texts = list(texts)
        with self._counted_lock:
            counted = [self._counted.pop(text, None) for text in texts]
            self._counted_tokens -= sum(len(e.ids) for e in counted if e is not None)
        missing = [text for text, encoding in zip(texts, counted) if encoding is None]
        fresh = iter(self._tokenizer.encode_batch_fast(missing, add_special_tokens=False))
        rows = []
        for encoding in counted:
            if encoding is None:
                encoding = next(fresh)
            if len(encoding.ids) > keep:
                encoding.truncate(keep)
            rows.append(self._tokenizer.post_process(encoding).ids)
        return rows

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word-piece count of each text without special tokens and without truncation; the
        word pieces of those that fit are kept for ``encode_ids`` (``COUNTED_TOKENS_KEPT``),
        the counts of all for the next call (``COUNT_MEMO_ENTRIES``)."""
        texts = list(texts)
        keys = [hash(text) for text in texts]
        with self._counted_lock:
            counts = [self._counts.get(key) for key in keys]
            for key, count in zip(keys, counts):
                if count is not None:
                    self._counts.move_to_end(key)
        missing = [i for i, count in enumerate(counts) if count is None]
        encodings = self._tokenizer.encode_batch_fast(
            [texts[i] for i in missing], add_special_tokens=False
        )
        fits = self.max_length - self._specials
        with self._counted_lock:
            for i, encoding in zip(missing, encodings):
                counts[i] = self._counts[keys[i]] = len(encoding.ids)
                if len(encoding.ids) <= fits and texts[i] not in self._counted:
                    self._counted[texts[i]] = encoding
                    self._counted_tokens += len(encoding.ids)
            while self._counted_tokens > COUNTED_TOKENS_KEPT:
                self._counted_tokens -= len(self._counted.popitem(last=False)[1].ids)
            while len(self._counts) > COUNT_MEMO_ENTRIES:
                self._counts.popitem(last=False)
        return counts  # type: ignore[return-value]  # every None was filled

    def pad_arrays(self, ids: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Pad id lists to the longest: ``input_ids`` and ``attention_mask``, (B, T) int64."""
        width = max((len(row) for row in ids), default=0)
        input_ids = np.full((len(ids), width), self.pad_token_id, dtype=np.int64)
        attention_mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            attention_mask[i, : len(row)] = 1
        return input_ids, attention_mask

    def pad(self, ids: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        """Pad id lists to the longest into (B, T) tensors, with the attention mask."""
        import torch

        input_ids, attention_mask = (torch.from_numpy(a) for a in self.pad_arrays(ids))
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": torch.zeros_like(input_ids),
        }

    def encode(self, texts: Sequence[str] | str) -> dict[str, torch.Tensor]:
        """Tokenize texts into padded ``input_ids``, ``attention_mask`` and ``token_type_ids``."""
        if isinstance(texts, str):
            texts = [texts]
        return self.pad(self.encode_ids(texts))

    __call__ = encode
