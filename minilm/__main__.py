"""``python -m minilm``: embed a few example sentences and print their similarity matrix."""

from __future__ import annotations

import argparse
import logging
import sys

from minilm.variants import DEFAULT_MODEL

EXAMPLES = [
    "The quick brown fox jumps over the lazy dog.",
    "A fast auburn fox leaps above a sleepy hound.",
    "I love natural language processing.",
    "Text embeddings map sentences to vectors.",
    "The stock market fell sharply today.",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        sys.stderr.write(f"error: {message}\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m minilm", description=__doc__)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model name or folder")
    parser.add_argument(
        "--max_length",
        "--max-length",
        type=int,
        default=None,
        help="truncate each sentence to this many tokens, [CLS] and [SEP] included "
        "(default: the model's own max_seq_length, e.g. 256)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--precision", default="fp32", help="fp32, bf16, fp16 or auto")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING)

    from rich.console import Console
    from rich.table import Table

    from minilm.encoder import SentenceEncoder

    try:
        encoder = SentenceEncoder.from_pretrained(
            args.model, device=args.device, precision=args.precision, max_length=args.max_length
        )
        vectors = encoder.encode(EXAMPLES)
    except (ValueError, OSError) as exc:
        if args.debug:
            raise
        sys.stderr.write(f"error: {exc}\n")
        return 1
    similarity = vectors @ vectors.T
    table = Table(
        title=f"{encoder.name} on {encoder.device} ({encoder.precision}, "
        f"max_length {encoder.max_length}): cosine similarity"
    )
    table.add_column("#", justify="right")
    table.add_column("sentence")
    for j in range(len(EXAMPLES)):
        table.add_column(str(j + 1), justify="right")
    for i, sentence in enumerate(EXAMPLES):
        cells = [f"{similarity[i, j]:.3f}" for j in range(len(EXAMPLES))]
        table.add_row(str(i + 1), sentence, *cells)
    Console().print(table, markup=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
