"""The NumPy forward pass against PyTorch: the normal CDF (from erf) and the activations alone,
each piece on tiny random models against transformers' ``BertModel`` and our PyTorch model, then
whole encoders (random weights in the four variants' shapes, and the real all-MiniLM-L6-v2 and
paraphrase-MiniLM-L3-v2 weights) against the PyTorch ``SentenceEncoder`` in fp32."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from minilm import VARIANTS, MiniLMConfig, NumpyEncoder, SentenceEncoder, Variant, locate_model
from minilm.checkpoint import map_checkpoint, parameter_shapes
from minilm.numpy_model import (
    FEW_ROWS,
    NumpyMiniLM,
    dense,
    gelu,
    gelu_tanh,
    layer_norm,
    normal_cdf,
    relu,
)
from minilm.weights import map_hf_state_dict
from tests.minilm.helpers import (
    ALL_MINILM_L12_V2,
    TEXTS,
    TINY,
    batch_with_padding,
    random_bert,
    write_model_folder,
)

pytestmark = pytest.mark.usefixtures("one_blas_thread")

# The parity the NumPy encoder promises against the PyTorch encoder in fp32 (max abs difference).
PARITY = 1e-5


def numpy_from(bert, **overrides: object) -> NumpyMiniLM:
    """A NumPy model with ``bert``'s shapes and weights, through the checkpoint name mapping."""
    config = MiniLMConfig.from_dict(
        bert.config.to_dict(), max_length=bert.config.max_position_embeddings, **overrides
    )
    arrays = {name: t.numpy() for name, t in bert.state_dict().items()}
    params = map_checkpoint(arrays, config, shapes=parameter_shapes(config), join=np.concatenate)
    return NumpyMiniLM(config, params)


def torch_from(bert, **overrides: object):
    """Our PyTorch model with ``bert``'s weights (the reference for pooling and normalising)."""
    from minilm import SentenceTransformer

    config = MiniLMConfig.from_dict(
        bert.config.to_dict(), max_length=bert.config.max_position_embeddings, **overrides
    )
    model = SentenceTransformer(config)
    model.load_state_dict(map_hf_state_dict(bert.state_dict(), model))
    return model


# --- erf and the activations ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_normal_cdf_matches_torch_erf_and_erfc(dtype) -> None:
    x = np.concatenate(
        [np.linspace(-10, 10, 400_001), [0.0, 1e-30, -1e-10, 3e-3, -9.99, 9.999]]
    ).astype(dtype)
    exact = torch.from_numpy(x.astype(np.float64))
    actual = normal_cdf(x)
    assert actual.dtype == np.float64
    # erfc keeps its relative precision in the left tail, where 1 + erf(x) cancels.
    from_erfc = (0.5 * torch.erfc(-exact / math.sqrt(2))).numpy()
    np.testing.assert_allclose(actual, from_erfc, rtol=1e-8, atol=0)
    from_erf = (0.5 * (1 + torch.erf(exact / math.sqrt(2)))).numpy()
    np.testing.assert_allclose(actual, from_erf, rtol=0, atol=1e-12)


def test_normal_cdf_past_the_table_and_nan() -> None:
    actual = normal_cdf(np.array([np.inf, 30.0, -np.inf, np.nan], dtype=np.float32))
    assert actual[:2].tolist() == [1.0, 1.0]
    assert 0 <= actual[2] < 1e-23  # the end node's value, Phi(-10)
    assert np.isnan(actual[3])


def test_gelu_is_exact_gelu_rounded_to_float32() -> None:
    """Against x * Phi(x) from torch's erfc in float64: within an ulp of the rounded value."""
    x = np.linspace(-10, 10, 400_001, dtype=np.float32)
    actual = gelu(x)
    assert actual.dtype == np.float32
    exact = torch.from_numpy(x).double()
    exact = (exact * 0.5 * torch.erfc(-exact / math.sqrt(2))).numpy()
    np.testing.assert_allclose(actual, exact, rtol=2**-24 + 1e-8, atol=0)  # half an ulp
    # torch's exact GELU in float64 (which loses the far left tail to 1 + erf), and in float32.
    torch_float64 = F.gelu(torch.from_numpy(x).double()).numpy()
    np.testing.assert_allclose(actual, torch_float64, rtol=2**-24, atol=1e-15)
    torch_float32 = F.gelu(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(actual, torch_float32, rtol=0, atol=2e-6)
    assert np.isnan(gelu(np.array([np.nan], dtype=np.float32))).all()


def test_other_activations_match_torch() -> None:
    x = np.linspace(-8, 8, 10_001, dtype=np.float32)
    expected = F.gelu(torch.from_numpy(x), approximate="tanh").numpy()
    np.testing.assert_allclose(gelu_tanh(x), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(relu(x), F.relu(torch.from_numpy(x)).numpy())


@pytest.mark.parametrize("rows", [1, FEW_ROWS, FEW_ROWS + 1, 300])
def test_dense_matches_torch_linear_on_both_layouts(rows: int) -> None:
    generator = torch.Generator().manual_seed(rows)
    x, weight, bias = (torch.randn(s, generator=generator) for s in ((rows, 48), (40, 48), (40,)))
    actual = dense(x.numpy(), weight.numpy(), bias.numpy())
    assert actual.shape == (rows, 40)
    np.testing.assert_allclose(actual, F.linear(x, weight, bias).numpy(), rtol=1e-5, atol=1e-5)


def test_layer_norm_matches_torch() -> None:
    generator = torch.Generator().manual_seed(0)
    x, weight, bias = (torch.randn(s, generator=generator) for s in ((7, 32), (32,), (32,)))
    expected = F.layer_norm(x, (32,), weight, bias, eps=1e-12)
    actual = layer_norm(x.numpy(), weight.numpy(), bias.numpy(), 1e-12)
    np.testing.assert_allclose(actual, expected.numpy(), rtol=0, atol=2e-6)


# --- tiny random models: each piece against BertModel and our PyTorch model -------------------


@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_new", "relu"])
def test_token_states_match_bert_with_padding(hidden_act: str) -> None:
    bert = random_bert(**TINY, hidden_act=hidden_act)
    ours = numpy_from(bert)
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"])
    with torch.no_grad():
        expected = bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    actual = ours.token_states(input_ids.numpy(), attention_mask.numpy())
    assert actual.shape == (4, 9, 32)
    assert actual.dtype == np.float32
    valid = attention_mask.bool().numpy()
    np.testing.assert_allclose(actual[valid], expected.numpy()[valid], rtol=1e-5, atol=1e-5)


def test_a_batch_without_padding_matches_the_masked_path() -> None:
    """No padding: no mask is built. Same numbers as BertModel (which always masks)."""
    bert = random_bert(**TINY)
    ours = numpy_from(bert)
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"], lengths=(7, 7))
    with torch.no_grad():
        expected = bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    actual = ours.token_states(input_ids.numpy(), attention_mask.numpy())
    np.testing.assert_allclose(actual, expected.numpy(), rtol=1e-5, atol=1e-5)


def test_token_type_ids_match_bert() -> None:
    bert = random_bert(**TINY)
    ours = numpy_from(bert)
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"], lengths=(7, 5))
    token_type_ids = torch.tensor([[0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 0, 0]])
    with torch.no_grad():
        expected = bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
    actual = ours.token_states(input_ids.numpy(), attention_mask.numpy(), token_type_ids.numpy())
    valid = attention_mask.bool().numpy()
    np.testing.assert_allclose(actual[valid], expected.numpy()[valid], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("mode", ["mean", "cls", "max"])
def test_sentence_vectors_match_our_torch_model(mode: str, normalize: bool) -> None:
    bert = random_bert(**TINY)
    expected_model = torch_from(bert, pooling_mode=mode, normalize=normalize)
    ours = numpy_from(bert, pooling_mode=mode, normalize=normalize)
    input_ids, attention_mask = batch_with_padding(TINY["vocab_size"])
    with torch.no_grad():
        expected = expected_model(input_ids, attention_mask).numpy()
    actual = ours(input_ids.numpy(), attention_mask.numpy())
    assert actual.shape == (4, 32)
    assert actual.dtype == np.float32
    np.testing.assert_allclose(actual, expected, rtol=0, atol=PARITY)
    if normalize:
        np.testing.assert_allclose(np.linalg.norm(actual, axis=1), 1.0, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("input_ids", "attention_mask", "message"),
    [
        (np.ones(5, dtype=np.int64), np.ones(5, dtype=np.int64), "must both be (batch, seq_len)"),
        (np.ones((2, 5), dtype=np.int64), np.ones((2, 4), dtype=np.int64), "(2, 4)"),
        (
            np.ones((1, 65), dtype=np.int64),
            np.ones((1, 65), dtype=np.int64),
            "sequence length (65) must be at most 64 (max_position_embeddings)",
        ),
    ],
)
def test_forward_checks_its_inputs(input_ids, attention_mask, message: str) -> None:
    model = numpy_from(random_bert(**TINY))
    with pytest.raises(ValueError) as excinfo:
        model(input_ids, attention_mask)
    assert message in str(excinfo.value)


def test_params_that_do_not_fit_the_config_are_refused() -> None:
    model = numpy_from(random_bert(**TINY))
    params = dict(model.params)
    del params["encoder.layers.1.output_norm.bias"]
    with pytest.raises(ValueError, match=r"missing \['encoder.layers.1.output_norm.bias'\]"):
        NumpyMiniLM(model.config, params)


# --- whole encoders: NumPy against PyTorch fp32 -------------------------------------------------


def assert_parity(numpy_encoder: NumpyEncoder, torch_encoder: SentenceEncoder, texts) -> float:
    """Both encoders on ``texts`` agree within PARITY; returns the max abs difference."""
    expected = torch_encoder.encode(texts, batch_size=32)
    actual = numpy_encoder.encode(texts, batch_size=32)
    assert actual.shape == expected.shape == (len(texts), torch_encoder.dim)
    assert actual.dtype == np.float32
    np.testing.assert_allclose(actual, expected, rtol=0, atol=PARITY)
    return float(np.abs(actual - expected).max())


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(VARIANTS.values()), ids=list(VARIANTS))
def test_random_weights_in_each_variants_shape(
    tmp_path: Path, copy_tokenizer_files, variant: Variant
) -> None:
    shape = {**ALL_MINILM_L12_V2, "num_hidden_layers": variant.num_hidden_layers}
    bert = random_bert(seed=variant.num_hidden_layers, **shape)
    folder = write_model_folder(
        tmp_path / variant.name, bert, copy_tokenizer_files, max_seq_length=variant.max_seq_length
    )
    numpy_encoder = NumpyEncoder.from_pretrained(folder)
    torch_encoder = SentenceEncoder.from_pretrained(folder, device="cpu")
    assert numpy_encoder.model.config == torch_encoder.model.config
    assert numpy_encoder.max_length == variant.max_seq_length
    texts = [*TEXTS, "one query", "What is the boundary layer of a swept wing at Mach 2?"]
    assert_parity(numpy_encoder, torch_encoder, texts)


@pytest.fixture(scope="module")
def stsb_sample(stsb) -> list[str]:
    """300 STS-b sentences from both columns, and two texts longer than any max_length."""
    return [
        *stsb.sentence1[:150],
        *stsb.sentence2[-150:],
        " ".join(stsb.sentence1[:40]),
        "antidisestablishmentarianism " * 100,
    ]


@pytest.mark.slow
def test_all_minilm_l6_v2_on_stsb(l6_encoder: SentenceEncoder, stsb_sample) -> None:
    numpy_encoder = NumpyEncoder.from_pretrained("all-MiniLM-L6-v2")
    assert numpy_encoder.files.weights_format == "safetensors"
    assert numpy_encoder.files.source == l6_encoder.files.source
    assert_parity(numpy_encoder, l6_encoder, stsb_sample)
    # One query at a time: the path without padding and mask.
    for text in stsb_sample[:5]:
        np.testing.assert_allclose(
            numpy_encoder.encode([text]), l6_encoder.encode([text]), rtol=0, atol=PARITY
        )


def save_safetensors_folder(
    folder: Path, tensors: dict[str, torch.Tensor], config: dict, tokenizer_dir: Path
) -> Path:
    """A sentence-transformers folder: Hugging Face-named tensors, config.json, tokenizer files,
    max_seq_length 128 and mean pooling."""
    folder.mkdir()
    contiguous = {name: tensor.contiguous() for name, tensor in tensors.items()}
    save_file(contiguous, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config))
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        if (tokenizer_dir / name).is_file():
            shutil.copy(tokenizer_dir / name, folder / name)
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    return folder


@pytest.mark.slow
def test_paraphrase_minilm_l3_v2_from_its_onnx_weights(tmp_path: Path, stsb_sample) -> None:
    """The package ships ONNX only: its weights, imported into torch as SentenceEncoder does,
    saved as a safetensors folder, then NumPy on that folder against torch on the ONNX file."""
    from minilm.onnx_import import read_onnx_weights

    torch_encoder = SentenceEncoder.from_pretrained("paraphrase-MiniLM-L3-v2", device="cpu")
    assert torch_encoder.files.weights_format == "onnx"
    tensors, config = read_onnx_weights(locate_model("paraphrase-MiniLM-L3-v2").weights_path)
    folder = save_safetensors_folder(
        tmp_path / "paraphrase-MiniLM-L3-v2", tensors, config, torch_encoder.files.tokenizer_dir
    )
    numpy_encoder = NumpyEncoder.from_pretrained(folder)
    assert numpy_encoder.model.config == torch_encoder.model.config
    assert numpy_encoder.max_length == 128
    assert_parity(numpy_encoder, torch_encoder, stsb_sample)
