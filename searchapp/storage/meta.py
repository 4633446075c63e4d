"""An index's settings as recorded in its ``meta`` table: model, vectors, chunking."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from searchapp.errors import ModelMismatchError

if TYPE_CHECKING:
    from searchapp.encoding import Encoder
    from searchapp.storage.store import Store


@dataclass(frozen=True)
class IndexMeta:
    """What an index was built with; ``None`` for what a new index has not recorded yet."""

    model: str | None = None
    model_sha256: str | None = None
    dim: int | None = None
    max_length: int | None = None
    precision: str | None = None
    chunk_max_tokens: int | None = None
    chunk_overlap_tokens: int | None = None
    index_type: str | None = None  # flat, ivf, hnsw or auto (see storage/vector_params.py)
    last_indexed_at: str | None = None

    @classmethod
    def from_dict(cls, meta: Mapping[str, str]) -> IndexMeta:
        """From the meta table's text values; other keys (generations, ...) are ignored."""
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = meta.get(field.name)
            if raw is not None:
                values[field.name] = int(raw) if field.type == "int | None" else raw
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def read(cls, store: Store) -> IndexMeta:
        return cls.from_dict(store.get_meta())

    def write(self, store: Store) -> None:
        """Record every field that is set."""
        store.set_meta({k: v for k, v in asdict(self).items() if v is not None})

    def with_encoder(self, encoder: Encoder, *, model: str | None = None) -> IndexMeta:
        """These settings with the model's recorded from ``encoder``; not its precision, which
        is the indexing encoder's, recorded when that one has loaded (``SearchIndex.add``)."""
        return replace(
            self,
            model=model or encoder.name,
            model_sha256=encoder.weights_sha256,
            dim=encoder.dim,
            max_length=encoder.max_length,
        )

    def check(self, encoder: Encoder, index_dir: Path) -> None:
        """Raise ``ModelMismatchError`` unless ``encoder`` is the model the index was built with."""
        if self.model is None:
            return
        fix = (
            f"rebuild it with `search index --rebuild --model {encoder.name} PATH...` "
            f"or use --model {self.model}"
        )
        if self.model_sha256 and self.model_sha256 != encoder.weights_sha256:
            raise ModelMismatchError(
                f"the index at {index_dir} was built with {self.model} "
                f"(weights {self.model_sha256[:12]}), not {encoder.name} "
                f"(weights {encoder.weights_sha256[:12]}); {fix}"
            )
        if self.dim is not None and self.dim != encoder.dim:
            raise ModelMismatchError(
                f"the index at {index_dir} holds {self.dim}-d vectors but {encoder.name} "
                f"gives {encoder.dim}-d; {fix}"
            )
