"""Which encoder `searchapp` embeds queries with (``searchapp.encoding.numpy_query_encoder``,
else PyTorch): NumPy for safetensors weights on the CPU, PyTorch for the rest; the vectors agree."""

from __future__ import annotations

import numpy as np

from minilm import SentenceEncoder
from minilm.numpy_encoder import NumpyEncoder
from searchapp.encoding import load_encoder, numpy_query_encoder
from tests.minilm.helpers import TEXTS, random_bert, write_model_folder

SMALL = dict(
    vocab_size=30522,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=64,
)


def test_safetensors_on_the_cpu_embed_with_numpy_and_bin_with_torch(
    tmp_path, copy_tokenizer_files
) -> None:
    bert = random_bert(**SMALL)
    safe = write_model_folder(tmp_path / "safe", bert, copy_tokenizer_files, max_seq_length=32)
    binary = write_model_folder(
        tmp_path / "bin", bert, copy_tokenizer_files, max_seq_length=32, checkpoint="bin"
    )
    numpy_encoder = numpy_query_encoder(str(safe), device="auto")
    assert isinstance(numpy_encoder, NumpyEncoder)
    assert isinstance(numpy_query_encoder(str(safe), device="cpu"), NumpyEncoder)
    assert numpy_query_encoder(str(binary), device="cpu") is None  # .bin: PyTorch's
    assert numpy_query_encoder(str(safe), device="cuda") is None  # a GPU asked for: PyTorch's
    torch_encoder = load_encoder(str(binary), device="cpu", precision="fp32")
    assert isinstance(torch_encoder, SentenceEncoder)
    np.testing.assert_allclose(
        numpy_encoder.encode(TEXTS), torch_encoder.encode(TEXTS), atol=1e-5, rtol=0
    )
