"""MiniLMConfig validation, and choosing the device and precision."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import minilm.devices
from minilm import MiniLMConfig, MiniLMTokenizer, locate_model, resolve_device, resolve_precision
from minilm.allocator import OPT_OUT, USER_SETTINGS, keep_freed_memory, uses_glibc
from minilm.checkpoint import config_for
from minilm.config import check_max_length, default_max_length

# (keyword arguments, a fragment of the message naming the field, the value and the rule it broke)
CONFIG_ERRORS = [
    ({"hidden_size": 100}, "hidden_size (100) must be divisible by num_attention_heads (12)"),
    (
        {"hidden_size": 32, "num_attention_heads": 5},
        "hidden_size (32) must be divisible by num_attention_heads (5)",
    ),
    ({"vocab_size": 0}, "vocab_size (0) must be a positive integer"),
    ({"hidden_size": -384}, "hidden_size (-384) must be a positive integer"),
    ({"hidden_size": 384.0}, "hidden_size (384.0) must be a positive integer"),
    ({"num_hidden_layers": 0}, "num_hidden_layers (0) must be a positive integer"),
    ({"num_hidden_layers": True}, "num_hidden_layers (True) must be a positive integer"),
    ({"num_attention_heads": 0}, "num_attention_heads (0) must be a positive integer"),
    ({"intermediate_size": -1}, "intermediate_size (-1) must be a positive integer"),
    ({"max_position_embeddings": 0}, "max_position_embeddings (0) must be a positive integer"),
    ({"type_vocab_size": 0}, "type_vocab_size (0) must be a positive integer"),
    ({"max_length": 0}, "max_length (0) must be between 1 and 512 (max_position_embeddings)"),
    ({"max_length": 513}, "max_length (513) must be between 1 and 512 (max_position_embeddings)"),
    (
        {"max_length": 128, "max_position_embeddings": 64},
        "max_length (128) must be between 1 and 64 (max_position_embeddings)",
    ),
    ({"max_length": 12.5}, "max_length (12.5) must be between 1 and 512"),
    ({"max_length": None}, "max_length (None) must be between 1 and 512"),
    ({"hidden_act": "swish"}, "hidden_act ('swish') must be one of gelu, gelu_new, relu"),
    (
        {"pooling_mode": "mean_sqrt_len"},
        "pooling_mode ('mean_sqrt_len') must be one of mean, cls, max",
    ),
    ({"layer_norm_eps": 0}, "layer_norm_eps (0) must be in (0, 1)"),
    ({"layer_norm_eps": -1e-12}, "layer_norm_eps (-1e-12) must be in (0, 1)"),
    ({"layer_norm_eps": 1.0}, "layer_norm_eps (1.0) must be in (0, 1)"),
    ({"layer_norm_eps": "1e-12"}, "layer_norm_eps ('1e-12') must be in (0, 1)"),
    ({"hidden_dropout_prob": 1.0}, "hidden_dropout_prob (1.0) must be in [0, 1)"),
    ({"hidden_dropout_prob": -0.1}, "hidden_dropout_prob (-0.1) must be in [0, 1)"),
    (
        {"attention_probs_dropout_prob": 1.5},
        "attention_probs_dropout_prob (1.5) must be in [0, 1)",
    ),
    ({"pad_token_id": -1}, "pad_token_id (-1) must be between 0 and 30521 (vocab_size - 1)"),
    ({"pad_token_id": 30522}, "pad_token_id (30522) must be between 0 and 30521"),
    ({"pad_token_id": 99, "vocab_size": 99}, "pad_token_id (99) must be between 0 and 98"),
    ({"pad_token_id": None}, "pad_token_id (None) must be between 0 and 30521"),
]


@pytest.mark.parametrize(
    ("kwargs", "message"), CONFIG_ERRORS, ids=[str(kwargs) for kwargs, _ in CONFIG_ERRORS]
)
def test_config_error_names_field_value_and_rule(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        MiniLMConfig(**kwargs)
    assert message in str(excinfo.value)


def test_defaults_are_all_minilm_l6_v2() -> None:
    config = MiniLMConfig()
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (
        6,
        384,
        12,
    )
    assert (config.intermediate_size, config.vocab_size, config.max_length) == (1536, 30522, 256)
    assert config.head_dim == 32
    assert (config.pooling_mode, config.normalize, config.layer_norm_eps) == ("mean", True, 1e-12)


@pytest.mark.parametrize("max_length", [1, 512])
def test_max_length_bounds_are_inclusive(max_length: int) -> None:
    assert MiniLMConfig(max_length=max_length).max_length == max_length


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        MiniLMConfig().hidden_size = 768  # type: ignore[misc]


def test_from_dict_ignores_unknown_fields_and_applies_overrides() -> None:
    hf_config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "num_hidden_layers": 12,
        "hidden_size": 384,
        "gradient_checkpointing": False,
        "max_length": 100,
    }
    config = MiniLMConfig.from_dict(hf_config, max_length=128, pooling_mode="cls")
    assert config.num_hidden_layers == 12
    assert config.max_length == 128
    assert config.pooling_mode == "cls"
    assert MiniLMConfig.from_dict(config.to_dict()) == config


def test_from_dict_validates_overrides() -> None:
    with pytest.raises(ValueError, match=r"max_length \(1000\) must be between 1 and 512"):
        MiniLMConfig.from_dict({}, max_length=1000)


# --- max_length: one default rule and one check for the config, config_for and the tokenizer ----


@pytest.mark.parametrize(
    ("max_seq_length", "max_position_embeddings", "expected"),
    [(128, 512, 128), (None, 64, 64), (None, None, 512), (0, None, 512)],
)
def test_default_max_length(max_seq_length, max_position_embeddings, expected: int) -> None:
    assert default_max_length(max_seq_length, max_position_embeddings) == expected


@pytest.mark.parametrize(
    ("value", "limit", "message"),
    [
        (0, 512, "max_length (0) must be between 1 and 512 (max_position_embeddings)"),
        (65, 64, "max_length (65) must be between 1 and 64 (max_position_embeddings)"),
        (True, 512, "max_length (True) must be between 1 and 512"),
        (1, None, "max_length (1) must be an integer >= 2 ([CLS] and [SEP] count)"),
        ("64", None, "max_length ('64') must be an integer >= 2"),
    ],
)
def test_check_max_length_names_value_and_rule(value, limit, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        check_max_length(value, max_position_embeddings=limit)
    assert message in str(excinfo.value)


def test_config_for_and_the_tokenizer_share_the_default(tmp_path, copy_tokenizer_files) -> None:
    """A folder without sentence_bert_config.json: both fall back to max_position_embeddings."""
    copy_tokenizer_files(tmp_path)
    (tmp_path / "config.json").write_text('{"max_position_embeddings": 64}')
    (tmp_path / "model.safetensors").write_bytes(b"")  # never read here
    files = locate_model(tmp_path)
    assert files.max_seq_length is None
    assert config_for(files).max_length == 64
    assert MiniLMTokenizer(files=files).max_length == 64


# --- devices and precisions ------------------------------------------------------------------


@pytest.fixture
def native_bf16(monkeypatch: pytest.MonkeyPatch):
    """Pretend the CPU does (True) or does not (False) compute bf16 natively."""

    def pretend(native: bool) -> None:
        monkeypatch.setattr(minilm.devices, "cpu_has_native_bf16", lambda: native)

    return pretend


@pytest.mark.parametrize(
    ("flags", "native", "amx"),
    [
        ({"avx2", "avx512f"}, False, False),
        ({"avx512f", "avx512_bf16"}, True, False),
        ({"avx512_bf16", "amx_tile", "amx_bf16"}, True, True),
        (set(), False, False),
    ],
)
def test_cpu_features_come_from_the_flags(monkeypatch, flags, native: bool, amx: bool) -> None:
    monkeypatch.setattr(minilm.devices, "cpu_flags", lambda: frozenset(flags))
    assert minilm.devices.cpu_has_native_bf16() is native
    assert minilm.devices.cpu_has_amx() is amx


def test_cpu_flags_read_this_machine() -> None:
    minilm.devices.cpu_flags.cache_clear()
    flags = minilm.devices.cpu_flags()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            expected = next((line for line in fh if line.startswith("flags")), "")
    except OSError:
        expected = ""
    assert flags == frozenset(expected.split(":", 1)[1].split() if expected else ())


# Encodes the same long texts three times in fp32 and counts the page faults of the third round
# (fp32: bf16 takes the packed path only on some CPUs, and faults less); prints whether the
# encoder kept freed memory, then the count. malloc starts with glibc's first mmap threshold
# (128 KiB) held fixed, as mallopt holds it: left to itself glibc moves it as blocks are
# freed, and whether a round then faults depends on the order of the frees (50,000-97,000
# faults in some runs, 9 in one CI run), so the encoder's setting is what decides here.
FAULTS_SCRIPT = """
import ctypes, resource, sys
import minilm.encoder, minilm.model
from minilm import SentenceEncoder
from minilm.allocator import M_MMAP_THRESHOLD
ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, 128 << 10)
if sys.argv[1] == "baseline":
    minilm.encoder.keep_freed_memory = lambda: False
# Every round takes the same path whatever else runs on the machine (with another process
# busy, a batch runs the batched kernel instead of packed, and allocates other sizes).
minilm.model.cpu_contended = lambda: False
words = open(sys.argv[2], encoding="utf-8").read().split()
texts = [" ".join(words[i * 50 : i * 50 + 60 + 3 * i]) for i in range(48)]  # 60-200 words
encoder = SentenceEncoder.from_pretrained("all-MiniLM-L6-v2", device="cpu", max_length=256)
encoder.encode(texts)
encoder.encode(texts)
faults = []
for _ in range(2):  # the quieter of two rounds
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    encoder.encode(texts)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(minilm.encoder.keep_freed_memory(), min(faults))
"""


@pytest.mark.slow
@pytest.mark.skipif(not uses_glibc(), reason="malloc is not glibc's here")
def test_batches_reuse_freed_memory_instead_of_fresh_pages() -> None:
    """Without ``keep_freed_memory`` (what the encoder sets) every round of big batches faults
    in fresh pages (hundreds of thousands with glibc's first thresholds); with it the memory
    is reused. The environment's malloc settings would turn it off: the children run without."""
    stsb = Path(__file__).resolve().parents[2] / "data" / "stsb" / "stsb-en-test.csv"
    clean = {k: v for k, v in os.environ.items() if k not in (*USER_SETTINGS, OPT_OUT)}

    def faults(mode: str) -> tuple[str, int]:
        done = subprocess.run(
            [sys.executable, "-c", FAULTS_SCRIPT, mode, str(stsb)],
            env=clean,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        kept, count = done.stdout.split()[-2:]
        return kept, int(count)

    (unset, baseline), (kept, reused) = faults("baseline"), faults("keep")
    assert (unset, kept) == ("False", "True")
    assert reused * 10 < baseline, (reused, baseline)


@pytest.mark.parametrize(
    ("setting", "value"),
    [*((name, "0") for name in USER_SETTINGS if name != "GLIBC_TUNABLES"), (OPT_OUT, "0")]
    + [("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0")],
)
def test_malloc_as_the_user_set_it_is_left_alone(monkeypatch, setting: str, value: str) -> None:
    for name in (*USER_SETTINGS, OPT_OUT):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(setting, value)
    assert keep_freed_memory.__wrapped__() is False  # uncached: mallopt is not called


def fake_proc(root: Path, runnable: int, states: dict[str, str]) -> str:
    """A /proc with a loadavg of ``runnable`` runnable threads and this process's threads
    (name -> state); returns its path."""
    (root / "loadavg").write_text(f"0.50 0.40 0.30 {runnable}/99 12345\n")
    for number, (name, state) in enumerate(states.items()):
        task = root / "self" / "task" / str(100 + number)
        task.mkdir(parents=True)
        # The name is in parentheses and may hold anything, ")" and spaces and invalid UTF-8.
        (task / "stat").write_bytes(
            f"{100 + number} (".encode()
            + name.encode("utf-8", "surrogateescape")
            + f") {state} 1 2 3\n".encode()
        )
    return str(root)


@pytest.mark.parametrize(
    ("runnable", "states", "others"),
    [
        (1, {"python": "R"}, 0),  # only this process
        (3, {"python": "R", "worker": "S"}, 2),
        (4, {"python": "R", "omp) R (x": "R", "w \udcff\udcfe": "R"}, 1),
        (1, {"python": "R", "omp": "R"}, 0),  # read at different instants: never below 0
    ],
)
def test_other_runnable_threads_read_proc(tmp_path, runnable, states, others) -> None:
    proc = fake_proc(tmp_path, runnable, states)
    assert minilm.devices.other_runnable_threads(proc) == others


def test_other_runnable_threads_without_proc_are_unknown(tmp_path) -> None:
    assert minilm.devices.other_runnable_threads(str(tmp_path)) is None


@pytest.mark.parametrize(
    ("others", "cores", "threads", "contended"),
    [(None, 2, 2, False), (0, 2, 2, False), (1, 2, 2, True), (1, 8, 2, False), (7, 8, 2, True)],
)
def test_cpu_is_contended_when_others_outnumber_the_free_cores(
    monkeypatch, others, cores, threads, contended: bool
) -> None:
    monkeypatch.setattr(minilm.devices, "other_runnable_threads", lambda: others)
    monkeypatch.setattr(minilm.devices.os, "sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.setattr(minilm.devices.torch, "get_num_threads", lambda: threads)
    assert minilm.devices.cpu_contended() is contended


@pytest.mark.parametrize("name", ["auto", "cpu", " CPU ", torch.device("cpu")])
def test_resolve_device_cpu(name: str | torch.device) -> None:
    if name == "auto" and (torch.cuda.is_available() or torch.backends.mps.is_available()):
        pytest.skip("auto picks the accelerator here")
    assert resolve_device(name) == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "CUDA:1"])
def test_resolve_device_cuda_unavailable(name: str) -> None:
    with pytest.raises(ValueError, match=rf"device \({name!r}\) is not available: no CUDA GPU"):
        resolve_device(name)


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="needs a machine without MPS")
def test_resolve_device_mps_unavailable() -> None:
    with pytest.raises(ValueError, match=r"device \('mps'\) is not available: no MPS"):
        resolve_device("mps")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("tpu", "device ('tpu') is not a device name; use auto, cpu, cuda, cuda:N or mps"),
        ("nonsense", "device ('nonsense') is not a device name"),
        ("", "device ('') is not a device name"),
        ("xla", "device ('xla') is not supported; use auto, cpu, cuda or mps"),
        ("meta", "device ('meta') is not supported"),
    ],
)
def test_resolve_device_rejects_other_names(name: str, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        resolve_device(name)
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    ("precision", "dtype"),
    [("fp32", torch.float32), ("FP32", torch.float32), (" bf16", torch.bfloat16)],
)
def test_resolve_precision_explicit(native_bf16, precision: str, dtype: torch.dtype) -> None:
    native_bf16(True)
    assert resolve_precision(precision, torch.device("cpu")) == dtype


def test_fp16_on_cpu_is_refused() -> None:
    with pytest.raises(
        ValueError, match="precision fp16 needs a CUDA or MPS device, not cpu; use fp32"
    ):
        resolve_precision("fp16", torch.device("cpu"))


def test_bf16_on_cpu_without_native_bf16_is_refused(native_bf16) -> None:
    native_bf16(False)
    with pytest.raises(ValueError, match="precision bf16 needs a CPU with AVX512-BF16 or AMX"):
        resolve_precision("bf16", torch.device("cpu"))


@pytest.mark.parametrize(("native", "dtype"), [(False, torch.float32), (True, torch.bfloat16)])
def test_auto_precision_on_cpu(native_bf16, native: bool, dtype: torch.dtype) -> None:
    native_bf16(native)
    assert resolve_precision("auto", torch.device("cpu")) == dtype


@pytest.mark.parametrize("precision", ["fp64", "int8", "half", ""])
def test_unknown_precision_is_refused(precision: str) -> None:
    with pytest.raises(ValueError, match=rf"precision \({precision!r}\) must be one of auto, fp32"):
        resolve_precision(precision, torch.device("cpu"))


def test_encoder_refuses_precision_before_loading(native_bf16) -> None:
    from minilm import SentenceEncoder

    native_bf16(False)
    with pytest.raises(ValueError, match="precision bf16 needs a CPU"):
        SentenceEncoder.from_pretrained("no-such-model", device="cpu", precision="bf16")


RELEASE_SCRIPT = """
import ctypes
from minilm.allocator import keep_freed_memory, release_freed_memory
def rss_mb():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024
assert keep_freed_memory()
blocks = [ctypes.create_string_buffer(8 << 20) for _ in range(24)]  # 192 MiB, under 32 MiB each
del blocks
kept = rss_mb()
print(release_freed_memory(), kept, rss_mb())
"""


@pytest.mark.skipif(not uses_glibc() or not Path("/proc/self/status").exists(), reason="glibc")
def test_freed_memory_kept_for_batches_goes_back_when_asked() -> None:
    # A watch stayed at 729 MB resident while idle after 800 abstracts (426 MB trimmed): what
    # ``keep_freed_memory`` keeps for the next batch, held between batches.
    clean = {k: v for k, v in os.environ.items() if k not in (*USER_SETTINGS, OPT_OUT)}
    done = subprocess.run(
        [sys.executable, "-c", RELEASE_SCRIPT], env=clean, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    released, kept, after = done.stdout.split()
    assert released == "True" and int(kept) - int(after) >= 32, done.stdout
