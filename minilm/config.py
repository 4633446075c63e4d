"""The MiniLM configuration: one validated dataclass that every module is built from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

ACTIVATIONS = ("gelu", "gelu_new", "relu")
POOLING_MODES = ("mean", "cls", "max")
# BERT's position limit, for a model whose config.json does not give max_position_embeddings.
DEFAULT_MAX_POSITION_EMBEDDINGS = 512


def default_max_length(max_seq_length: int | None, max_position_embeddings: int | None) -> int:
    """The ``max_length`` of a model when the caller gives none: its sentence-transformers
    ``max_seq_length``, else its position limit, else BERT's 512."""
    return max_seq_length or max_position_embeddings or DEFAULT_MAX_POSITION_EMBEDDINGS


def check_max_length(value: Any, *, max_position_embeddings: int | None = None) -> int:
    """Return ``value`` if it is a usable ``max_length``, else raise ``ValueError``.

    With ``max_position_embeddings`` (a model) it must be between 1 and that limit: each token
    needs a position embedding. Without it (a tokenizer alone) it must be at least 2: every
    sequence holds [CLS] and [SEP].
    """
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if max_position_embeddings is not None:
        if not is_int or not 1 <= value <= max_position_embeddings:
            raise ValueError(
                f"max_length ({value!r}) must be between 1 and {max_position_embeddings} "
                "(max_position_embeddings)"
            )
    elif not is_int or value < 2:
        raise ValueError(f"max_length ({value!r}) must be an integer >= 2 ([CLS] and [SEP] count)")
    return value


@dataclass(frozen=True)
class MiniLMConfig:
    """Hyper-parameters of a BERT-style sentence encoder (Hugging Face field names).

    Defaults are those of all-MiniLM-L6-v2. Every value is checked at construction and a bad one
    raises ``ValueError`` naming the field, the value and the allowed range.
    """

    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    hidden_act: str = "gelu"
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    pad_token_id: int = 0
    max_length: int = 256
    pooling_mode: str = "mean"
    normalize: bool = True

    def __post_init__(self) -> None:
        for name in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} ({value!r}) must be a positive integer")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_attention_heads "
                f"({self.num_attention_heads})"
            )
        check_max_length(self.max_length, max_position_embeddings=self.max_position_embeddings)
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(
                f"hidden_act ({self.hidden_act!r}) must be one of {', '.join(ACTIVATIONS)}"
            )
        if self.pooling_mode not in POOLING_MODES:
            raise ValueError(
                f"pooling_mode ({self.pooling_mode!r}) must be one of {', '.join(POOLING_MODES)}"
            )
        if not isinstance(self.layer_norm_eps, (int, float)) or not 0 < self.layer_norm_eps < 1:
            raise ValueError(f"layer_norm_eps ({self.layer_norm_eps!r}) must be in (0, 1)")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"{name} ({value!r}) must be in [0, 1)")
        if not isinstance(self.pad_token_id, int) or not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(
                f"pad_token_id ({self.pad_token_id!r}) must be between 0 and "
                f"{self.vocab_size - 1} (vocab_size - 1)"
            )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, values: dict[str, Any], **overrides: Any) -> MiniLMConfig:
        """Build from a Hugging Face ``config.json`` dict, ignoring fields we do not use."""
        known = {f.name for f in fields(cls)}
        merged = {k: v for k, v in values.items() if k in known}
        merged.update(overrides)
        return cls(**merged)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
