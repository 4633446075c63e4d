"""Random models for the minilm tests: transformers' ``BertModel`` with every weight random,
in the shapes of the published variants, saved as sentence-transformers folders."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import BertConfig, BertModel

TINY = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 64,
}
# The exact shapes of the published variants (their max_seq_length goes to sentence_bert_config).
ALL_MINILM_L12_V2 = {
    "vocab_size": 30522,
    "hidden_size": 384,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 1536,
    "max_position_embeddings": 512,
}
PARAPHRASE_MINILM_L6_V2 = {**ALL_MINILM_L12_V2, "num_hidden_layers": 6}

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "I love NLP",
    "Café naïve résumé — 東京 and Zürich!",
    "word " * 300,  # longer than any max_length below: truncation must agree
    "a",
]


def random_bert(seed: int = 0, **config: object) -> BertModel:
    """A ``BertModel`` whose every parameter is random, LayerNorms and biases included, so that a
    swapped or forgotten tensor changes the output."""
    torch.manual_seed(seed)
    bert = BertModel(BertConfig(**config), add_pooling_layer=False).eval()
    with torch.no_grad():
        for name, param in bert.named_parameters():
            if name.endswith("LayerNorm.weight"):
                param.copy_(1 + 0.1 * torch.randn_like(param))
            else:
                param.copy_(0.05 * torch.randn_like(param))
    return bert


def head32_model_and_batch() -> tuple:
    """A 2-layer MiniLM with heads of 32 (the C kernels' size) and random weights from a
    ``BertModel``, and a right-padded batch of 180, 120, 101, 5 and 7 tokens for it:
    ``(model, config, input_ids, attention_mask)``."""
    from minilm import MiniLMConfig, SentenceTransformer
    from minilm.weights import map_hf_state_dict

    bert = random_bert(
        vocab_size=99, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=48, max_position_embeddings=200,
    )  # fmt: skip
    config = MiniLMConfig.from_dict(bert.config.to_dict(), max_length=200)
    model = SentenceTransformer(config)
    model.load_state_dict(map_hf_state_dict(bert.state_dict(), model))
    input_ids, attention_mask = batch_with_padding(99, (180, 120, 101, 5, 7))
    return model, config, input_ids, attention_mask


def batch_with_padding(vocab_size: int, lengths: tuple[int, ...] = (9, 4, 1, 6), seed: int = 1):
    """Random token ids (B, T) with right padding (id 0) after each row's length."""
    generator = torch.Generator().manual_seed(seed)
    width = max(lengths)
    input_ids = torch.randint(1, vocab_size, (len(lengths), width), generator=generator)
    attention_mask = torch.zeros_like(input_ids)
    for i, length in enumerate(lengths):
        attention_mask[i, :length] = 1
    return input_ids * attention_mask, attention_mask


def write_model_folder(
    folder: Path,
    bert: BertModel,
    copy_tokenizer_files,
    *,
    max_seq_length: int,
    checkpoint: str = "safetensors",
    tokenizer_files: tuple[str, ...] | None = None,
) -> Path:
    """Save ``bert`` as a sentence-transformers folder (mean pooling, normalised)."""
    if checkpoint == "safetensors":
        bert.save_pretrained(folder)
    else:  # transformers 5 writes only safetensors: write the PyTorch checkpoint ourselves
        folder.mkdir(parents=True)
        bert.config.save_pretrained(folder)
        torch.save(bert.state_dict(), folder / "pytorch_model.bin")
    if tokenizer_files is None:
        copy_tokenizer_files(folder)
    else:
        copy_tokenizer_files(folder, tokenizer_files)
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False})
    )
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": bert.config.hidden_size,
                "pooling_mode_cls_token": False,
                "pooling_mode_mean_tokens": True,
                "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False,
            }
        )
    )
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
        {
            "idx": 2,
            "name": "2",
            "path": "2_Normalize",
            "type": "sentence_transformers.models.Normalize",
        },
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    return folder


def calls_to_fused_kernel(monkeypatch) -> list[int]:
    """Count calls of the oneDNN kernel, with an activation or a residual (the spy forwards)."""
    calls: list[int] = []
    kernel = torch.ops.mkldnn._linear_pointwise

    class Spy:
        def __call__(self, *args):
            calls.append(1)
            return kernel(*args)

        def binary(self, *args):
            calls.append(1)
            return kernel.binary(*args)

        def overloads(self):
            return kernel.overloads()

    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", Spy())
    return calls
