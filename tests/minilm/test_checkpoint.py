"""The torch-free checkpoint code: parameter names and shapes, reading safetensors into NumPy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file
from safetensors.torch import save_file

from minilm import MiniLMConfig, ModelFilesError, SentenceTransformer, WeightsMismatchError
from minilm.checkpoint import map_checkpoint, parameter_shapes, parameter_sources, read_safetensors
from minilm.weights import map_hf_state_dict
from tests.minilm.helpers import TINY, random_bert


@pytest.mark.parametrize("config", [MiniLMConfig(**TINY, max_length=64), MiniLMConfig()])
def test_parameter_shapes_are_the_torch_models(config: MiniLMConfig) -> None:
    model = SentenceTransformer(config)
    expected = {name: tuple(p.shape) for name, p in model.state_dict().items()}
    assert parameter_shapes(config) == expected
    assert set(parameter_sources(config.num_hidden_layers)) == set(expected)


def test_numpy_mapping_matches_the_torch_mapping() -> None:
    bert = random_bert(**TINY)
    config = MiniLMConfig.from_dict(bert.config.to_dict(), max_length=64)
    state = bert.state_dict()
    expected = map_hf_state_dict(state, SentenceTransformer(config))
    actual = map_checkpoint(
        {name: t.numpy() for name, t in state.items()},
        config,
        shapes=parameter_shapes(config),
        join=np.concatenate,
    )
    assert set(actual) == set(expected)
    for name, tensor in expected.items():
        np.testing.assert_array_equal(actual[name], tensor.numpy(), err_msg=name)


def test_numpy_mapping_lists_what_does_not_fit(tmp_path: Path) -> None:
    bert = random_bert(**TINY)
    config = MiniLMConfig.from_dict(bert.config.to_dict(), max_length=64, num_hidden_layers=3)
    state = {name: t.numpy() for name, t in bert.state_dict().items()}
    state["embeddings.word_embeddings.weight"] = np.zeros((99, 31), dtype=np.float32)
    with pytest.raises(WeightsMismatchError) as excinfo:
        map_checkpoint(
            state,
            config,
            shapes=parameter_shapes(config),
            join=np.concatenate,
            source=tmp_path / "model.safetensors",
        )
    message = str(excinfo.value)
    assert message.startswith(f"{tmp_path / 'model.safetensors'}: checkpoint does not match")
    assert "missing: encoder.layer.2.attention.self.query.weight" in message
    assert "wrong shape: encoder.embeddings.word_embeddings.weight (99, 31) != (99, 32)" in message


def test_read_safetensors_matches_safetensors_numpy(packaged_model_dir: Path) -> None:
    path = packaged_model_dir / "model.safetensors"
    expected = load_file(str(path))
    actual = read_safetensors(path)
    assert set(actual) == set(expected)
    for name, array in expected.items():
        assert actual[name].dtype == array.dtype, name
        np.testing.assert_array_equal(actual[name], array, err_msg=name)
    weights = actual["embeddings.word_embeddings.weight"]
    assert not weights.flags.writeable  # a view of the read-only file, not a copy
    assert weights.flags.aligned


def test_read_safetensors_widens_half_precision(tmp_path: Path) -> None:
    values = torch.randn(4, 3)
    path = tmp_path / "half.safetensors"
    save_file({"b": values.bfloat16(), "h": values.half(), "i": torch.arange(5)}, str(path))
    arrays = read_safetensors(path)
    assert arrays["b"].dtype == np.float32
    np.testing.assert_array_equal(arrays["b"], values.bfloat16().float().numpy())
    np.testing.assert_array_equal(arrays["h"], values.half().numpy())
    np.testing.assert_array_equal(arrays["i"], np.arange(5))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_damaged_file_names_itself(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "model.safetensors"
    save_file({"w": torch.ones(64, 64)}, str(path))
    data = path.read_bytes()
    path.write_bytes(
        {"truncate": data[: len(data) // 2], "garbage": b"\xff" * 100, "empty": b""}[damage]
    )
    with pytest.raises(ModelFilesError, match=f"{path}: cannot read weights"):
        read_safetensors(path)
