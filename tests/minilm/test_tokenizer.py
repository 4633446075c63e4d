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
