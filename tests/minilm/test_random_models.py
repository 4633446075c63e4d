"""Our model against transformers' ``BertModel`` with random weights (rasbt style).

Tiny configs check each piece; folders saved from random models with the exact shapes of the
published MiniLM variants check loading by path, both checkpoint formats and both tokenizer files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import BertModel, BertTokenizerFast

from minilm import (
    MiniLMConfig,
    MiniLMModel,
    MiniLMTokenizer,
    ModelFiles,
    SentenceEncoder,
    SentenceTransformer,
    WeightsMismatchError,
    load_pretrained_weights,
)
from minilm.model import Embeddings, pool
from minilm.weights import map_hf_state_dict
from tests.minilm.helpers import (
    ALL_MINILM_L12_V2,
    PARAPHRASE_MINILM_L6_V2,
    TEXTS,
    TINY,
    batch_with_padding,
    random_bert,
    write_model_folder,
)


def ours_from(bert: BertModel, **overrides: object) -> SentenceTransformer:
    """Our model with ``bert``'s shapes and weights."""
    config = MiniLMConfig.from_dict(
        bert.config.to_dict(), max_length=bert.config.max_position_embeddings, **overrides
    )
    model = SentenceTransformer(config)
    model.load_state_dict(map_hf_state_dict(bert.state_dict(), model))
    return model


def mean_pool_normalize(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).float()
    return F.normalize((states * mask).sum(1) / mask.sum(1), dim=1)


# --- tiny configs: each piece against BertModel ------------------------------------------


@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_new", "relu"])
def test_token_states_match_bert_with_padding(hidden_act: str) -> None:
    bert = random_bert(**TINY, hidden_act=hidden_act)
    ours = ours_from(bert)
    assert isinstance(ours.encoder, MiniLMModel)
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"])
    with torch.no_grad():
        expected = bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        actual = ours.encoder(input_ids, attention_mask)
    assert actual.shape == (4, 9, 32)
    valid = attention_mask.bool()
    torch.testing.assert_close(actual[valid], expected[valid], atol=1e-5, rtol=1e-5)


def test_a_batch_without_padding_matches_bert_and_the_masked_path() -> None:
    """No padding: the model skips the attention mask. Same numbers as BertModel, and bit for
    bit the same as running each layer with an all-True mask."""
    bert = random_bert(**TINY)
    ours = ours_from(bert)
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"], lengths=(7, 7))
    assert bool(attention_mask.all())
    with torch.no_grad():
        expected = bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        actual = ours.encoder(input_ids, attention_mask)
        masked = ours.encoder.embeddings(input_ids, None)
        for layer in ours.encoder.layers:
            masked = layer(masked, attention_mask.bool()[:, None, None, :])
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)
    assert torch.equal(actual, masked)


def test_token_type_ids_match_bert() -> None:
    bert = random_bert(**TINY)
    ours = ours_from(bert)
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"], lengths=(7, 7))
    token_type_ids = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 1]])
    with torch.no_grad():
        expected = bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        actual = ours.encoder(input_ids, attention_mask, token_type_ids)
        # Without token_type_ids every token is segment 0.
        zeros = ours.encoder(input_ids, attention_mask, torch.zeros_like(input_ids))
        torch.testing.assert_close(ours.encoder(input_ids, attention_mask), zeros)
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)


def test_embeddings_alone_match_bert() -> None:
    bert = random_bert(**TINY)
    ours = ours_from(bert)
    assert isinstance(ours.encoder.embeddings, Embeddings)
    input_ids, _ = batch_with_padding(TINY["vocab_size"])
    with torch.no_grad():
        expected = bert.embeddings(input_ids=input_ids)
        actual = ours.encoder.embeddings(input_ids, None)
    torch.testing.assert_close(actual, expected, atol=1e-6, rtol=1e-6)


def test_mean_pooling_and_unit_norm_match_bert() -> None:
    bert = random_bert(**TINY)
    ours = ours_from(bert)
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"])
    with torch.no_grad():
        states = bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        actual = ours(input_ids, attention_mask)
    torch.testing.assert_close(
        actual, mean_pool_normalize(states, attention_mask), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(actual.norm(dim=1), torch.ones(4), atol=1e-6, rtol=0)
    assert actual.dtype == torch.float32


@pytest.mark.parametrize("mode", ["cls", "max", "mean"])
def test_pooling_modes_match_hand_computation(mode: str) -> None:
    bert = random_bert(**TINY)
    raw = ours_from(bert, pooling_mode=mode, normalize=False)
    unit = ours_from(bert, pooling_mode=mode)
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"])
    with torch.no_grad():
        states = bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        pooled = raw(input_ids, attention_mask)
        normalized = unit(input_ids, attention_mask)
    lengths = attention_mask.sum(1).tolist()
    by_hand = []
    for row, length in zip(states, lengths):
        tokens = row[:length]  # (length, H): this sentence's tokens, padding left out
        by_hand.append(
            {"cls": tokens[0], "max": tokens.max(dim=0).values, "mean": tokens.mean(dim=0)}[mode]
        )
    torch.testing.assert_close(pooled, torch.stack(by_hand), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(normalized, F.normalize(pooled, dim=1), atol=1e-6, rtol=0)
    torch.testing.assert_close(normalized.norm(dim=1), torch.ones(4), atol=1e-6, rtol=0)


def test_mean_pool_of_an_all_padding_row_is_zero_not_nan() -> None:
    states = torch.randn(2, 3, 8)
    mask = torch.tensor([[1, 1, 0], [0, 0, 0]])
    pooled = pool(states, mask, "mean")
    torch.testing.assert_close(pooled[0], states[0, :2].mean(0))
    assert torch.equal(pooled[1], torch.zeros(8))


@pytest.mark.parametrize(
    ("input_ids", "attention_mask", "message"),
    [
        (
            torch.ones(5, dtype=torch.long),
            torch.ones(5, dtype=torch.long),
            "must both be (batch, seq_len)",
        ),
        (torch.ones(2, 5, dtype=torch.long), torch.ones(2, 4, dtype=torch.long), r"(2, 4)"),
        (
            torch.ones(1, 65, dtype=torch.long),
            torch.ones(1, 65, dtype=torch.long),
            "sequence length (65) must be at most 64 (max_position_embeddings)",
        ),
    ],
)
def test_forward_checks_its_inputs(input_ids, attention_mask, message: str) -> None:
    model = SentenceTransformer(MiniLMConfig(**TINY, max_length=64))
    with pytest.raises(ValueError) as excinfo:
        model(input_ids, attention_mask)
    assert message in str(excinfo.value)


@pytest.mark.parametrize("prefix", ["", "bert.", "0.auto_model.", "model.0.auto_model."])
def test_checkpoint_name_prefixes_and_legacy_layernorm_names(prefix: str) -> None:
    bert = random_bert(**TINY)
    state = {}
    for name, tensor in bert.state_dict().items():
        name = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
            "LayerNorm.bias", "LayerNorm.beta"
        )
        state[prefix + name] = tensor
    state[prefix + "pooler.dense.weight"] = torch.zeros(32, 32)  # unused by a sentence encoder
    model = ours_from(random_bert(seed=1, **TINY))  # other weights, same shapes
    mapped = map_hf_state_dict(state, model)
    model.load_state_dict(mapped)
    qkv = mapped["encoder.layers.1.attention.qkv.weight"]
    layer = bert.encoder.layer[1].attention.self
    torch.testing.assert_close(
        qkv, torch.cat([layer.query.weight, layer.key.weight, layer.value.weight])
    )


# --- errors: checkpoints that do not fit the model ---------------------------------------


@pytest.mark.slow
def test_wrong_layer_count_lists_unexpected_tensors() -> None:
    model = SentenceTransformer(num_hidden_layers=4)
    with pytest.raises(WeightsMismatchError) as excinfo:
        load_pretrained_weights(model, model_name="all-MiniLM-L6-v2")
    message = str(excinfo.value)
    assert "checkpoint does not match the model (4 layers, hidden 384)" in message
    assert "unexpected: encoder.layer.4.attention.output.LayerNorm.bias" in message
    assert "encoder.layer.5.output.dense.weight" in message
    assert "missing" not in message


@pytest.mark.slow
def test_too_many_layers_lists_missing_tensors() -> None:
    model = SentenceTransformer(num_hidden_layers=8)
    with pytest.raises(WeightsMismatchError) as excinfo:
        load_pretrained_weights(model, model_name="all-MiniLM-L6-v2")
    message = str(excinfo.value)
    assert "missing: encoder.layer.6.attention.self.query.weight" in message
    assert "encoder.layer.7.output.LayerNorm.bias" in message
    assert "unexpected" not in message


def test_load_pretrained_weights_needs_a_name_or_path() -> None:
    with pytest.raises(ValueError, match="give model_name"):
        load_pretrained_weights(SentenceTransformer(MiniLMConfig(**TINY, max_length=64)))


# --- folders saved from random models ------------------------------------------------------


def reference_embeddings(folder: Path, bert: BertModel, max_length: int) -> torch.Tensor:
    """transformers' tokenizer and BertModel, then masked mean pooling and L2 normalisation."""
    tokenizer = BertTokenizerFast.from_pretrained(str(folder))
    batch = tokenizer(
        TEXTS, truncation=True, max_length=max_length, padding="longest", return_tensors="pt"
    )
    with torch.no_grad():
        states = bert(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).last_hidden_state
    return mean_pool_normalize(states, batch["attention_mask"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("config", "max_seq_length", "checkpoint"),
    [
        (ALL_MINILM_L12_V2, 256, "safetensors"),
        (PARAPHRASE_MINILM_L6_V2, 128, "safetensors"),
        (PARAPHRASE_MINILM_L6_V2, 128, "bin"),
    ],
    ids=["all-MiniLM-L12-v2", "paraphrase-MiniLM-L6-v2", "paraphrase-MiniLM-L6-v2-bin"],
)
def test_random_variant_folder_loads_by_path(
    tmp_path: Path, copy_tokenizer_files, config: dict, max_seq_length: int, checkpoint: str
) -> None:
    bert = random_bert(seed=config["num_hidden_layers"], **config)
    folder = write_model_folder(
        tmp_path / "model",
        bert,
        copy_tokenizer_files,
        max_seq_length=max_seq_length,
        checkpoint=checkpoint,
    )
    encoder = SentenceEncoder.from_pretrained(str(folder), device="cpu")
    assert encoder.files.weights_format == checkpoint
    assert encoder.max_length == max_seq_length
    assert encoder.tokenizer.max_length == max_seq_length
    assert encoder.model.config.num_hidden_layers == config["num_hidden_layers"]
    expected = reference_embeddings(folder, bert, max_seq_length)
    actual = torch.from_numpy(encoder.encode(TEXTS, batch_size=2))
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("lowercase", [True, False])
def test_vocab_txt_only_tokenizer_matches_bert_tokenizer_fast(
    tmp_path: Path, packaged_model_dir: Path, lowercase: bool
) -> None:
    folder = tmp_path / "vocab-only"
    folder.mkdir()
    (folder / "vocab.txt").write_bytes((packaged_model_dir / "vocab.txt").read_bytes())
    settings = json.loads((packaged_model_dir / "tokenizer_config.json").read_text())
    settings["do_lower_case"] = lowercase
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    texts = [
        *TEXTS,
        "UPPER lower MiXeD",
        "naïve\tcafé\u00a0 ﬁne [UNK] [SEP]",
        "don't stop-believing!!",
    ]
    files = ModelFiles(
        name="vocab-only",
        source="test",
        weights_path=folder / "model.safetensors",
        tokenizer_dir=folder,
    )
    ours = MiniLMTokenizer(files=files, max_length=64)
    reference = BertTokenizerFast.from_pretrained(str(folder))
    expected = reference(
        texts, truncation=True, max_length=64, padding="longest", return_tensors="pt"
    )
    actual = ours.encode(texts)
    assert torch.equal(actual["input_ids"], expected["input_ids"])
    assert torch.equal(actual["attention_mask"], expected["attention_mask"])


@pytest.mark.slow
def test_random_folder_with_vocab_txt_only_loads(tmp_path: Path, copy_tokenizer_files) -> None:
    bert = random_bert(**PARAPHRASE_MINILM_L6_V2)
    folder = write_model_folder(
        tmp_path / "model",
        bert,
        copy_tokenizer_files,
        max_seq_length=128,
        tokenizer_files=("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"),
    )
    assert not (folder / "tokenizer.json").exists()
    encoder = SentenceEncoder.from_pretrained(str(folder), device="cpu")
    expected = reference_embeddings(folder, bert, 128)
    torch.testing.assert_close(torch.from_numpy(encoder.encode(TEXTS)), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("field", "value", "wrong_shape"),
    [
        (
            "intermediate_size",
            40,
            "encoder.layers.0.feed_forward.intermediate.weight (37, 32) != (40, 32)",
        ),
        ("hidden_size", 48, "encoder.embeddings.word_embeddings.weight (99, 32) != (99, 48)"),
    ],
)
def test_config_json_that_disagrees_with_tensors_is_refused(
    tmp_path: Path, copy_tokenizer_files, field: str, value: int, wrong_shape: str | None
) -> None:
    bert = random_bert(**TINY)
    folder = write_model_folder(tmp_path / "model", bert, copy_tokenizer_files, max_seq_length=64)
    config = json.loads((folder / "config.json").read_text())
    config[field] = value
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsMismatchError) as excinfo:
        SentenceEncoder.from_pretrained(str(folder), device="cpu")
    assert "wrong shape: " in str(excinfo.value)
    assert wrong_shape in str(excinfo.value)
