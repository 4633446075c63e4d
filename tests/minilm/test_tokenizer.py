"""MiniLMTokenizer against transformers' BertTokenizerFast at the truncation boundary."""

from __future__ import annotations

import pytest

from minilm.tokenizer import MiniLMTokenizer


@pytest.mark.parametrize("max_length", [8, 9, 32])
def test_truncation_matches_bert_tokenizer_fast(packaged_model_dir, max_length: int) -> None:
    from transformers import BertTokenizerFast

    ours = MiniLMTokenizer(path=packaged_model_dir, max_length=max_length)
    reference = BertTokenizerFast.from_pretrained(str(packaged_model_dir))
    # Word-piece counts from 0 to past the limit, by one: each side of the boundary.
    texts = [" ".join(["flow"] * n) for n in range(max_length + 3)]
    texts += ["supersonic unaccountably " * 20, "Zürich 東京 [SEP] x " * 9, ""]
    expected = reference(texts, truncation=True, max_length=max_length)["input_ids"]
    assert ours.encode_ids(texts) == expected
    assert max(len(row) for row in expected) == max_length  # the boundary was crossed
    counted = reference(texts, add_special_tokens=False)["input_ids"]  # counts: untruncated
    assert ours.count_tokens(texts) == [len(row) for row in counted]


class CountingTokenizer:
    """The tokenizers object, counting the texts it is asked to tokenize."""

    def __init__(self, inner) -> None:
        self.inner, self.tokenized = inner, 0

    def encode_batch_fast(self, texts, **kwargs):
        self.tokenized += len(texts)
        return self.inner.encode_batch_fast(texts, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.parametrize("max_length", [9, 32])
def test_texts_counted_first_encode_as_bert_tokenizer_fast_without_tokenizing_again(
    packaged_model_dir, max_length: int
) -> None:
    from transformers import BertTokenizerFast

    ours = MiniLMTokenizer(path=packaged_model_dir, max_length=max_length)
    reference = BertTokenizerFast.from_pretrained(str(packaged_model_dir))
    texts = [" ".join(["flow"] * n) for n in range(max_length + 3)]  # "" first: no repeats
    texts += ["supersonic unaccountably " * 20, "Zürich 東京 [SEP] x " * 9]
    expected = reference(texts, truncation=True, max_length=max_length)["input_ids"]
    spy = ours._tokenizer = CountingTokenizer(ours._tokenizer)
    ours.count_tokens(texts)
    fits = sum(len(row) <= max_length - 2 for row in reference(texts, add_special_tokens=False)[
        "input_ids"
    ])  # fmt: skip
    assert 0 < fits < len(texts)
    assert ours.encode_ids(texts + texts[:3]) == expected + expected[:3]  # twice: again fresh
    assert spy.tokenized == len(texts) + (len(texts) - fits) + 3
    assert ours.encode_ids(texts) == expected  # nothing kept now: all tokenized again
    assert spy.tokenized == 2 * len(texts) + (len(texts) - fits) + 3


def test_the_counted_texts_kept_are_bounded(packaged_model_dir, monkeypatch) -> None:
    import minilm.tokenizer

    monkeypatch.setattr(minilm.tokenizer, "COUNTED_TOKENS_KEPT", 10)
    ours = MiniLMTokenizer(path=packaged_model_dir, max_length=32)
    texts = [f"flow number {n} over a plate" for n in range(5)]  # 6 word pieces each
    counts = ours.count_tokens(texts)
    assert counts == [6] * 5
    assert ours._counted_tokens == 6 and list(ours._counted) == texts[-1:]  # oldest dropped
    spy = ours._tokenizer = CountingTokenizer(ours._tokenizer)
    ours.encode_ids(texts)
    assert spy.tokenized == 4 and ours._counted_tokens == 0


def test_counts_are_remembered_so_a_file_chunked_again_is_not_tokenized_again(
    packaged_model_dir, monkeypatch
) -> None:
    # `search watch` chunked a large file again after an edit: counting its unchanged
    # paragraphs again was nearly all of the time.
    from transformers import BertTokenizerFast

    import minilm.tokenizer

    monkeypatch.setattr(minilm.tokenizer, "COUNT_MEMO_ENTRIES", 4)
    ours = MiniLMTokenizer(path=packaged_model_dir, max_length=32)
    reference = BertTokenizerFast.from_pretrained(str(packaged_model_dir))
    texts = [f"flow number {n} over a plate " * n for n in range(5)]
    expected = [len(row) for row in reference(texts, add_special_tokens=False)["input_ids"]]
    spy = ours._tokenizer = CountingTokenizer(ours._tokenizer)
    assert ours.count_tokens(texts[:3]) == expected[:3]
    assert ours.count_tokens(texts) == expected  # the first three remembered
    assert spy.tokenized == 5
    assert ours.count_tokens(texts[1:]) == expected[1:]  # the 4 the memo holds
    assert spy.tokenized == 5
    assert ours.count_tokens(texts[:1]) == expected[:1]  # the oldest, dropped
    assert spy.tokenized == 6
