"""Process memory: keeping freed blocks for the next batch instead of fresh pages."""

from __future__ import annotations

import ctypes
import functools
import os

# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEEP_BLOCKS_UP_TO = 32 << 20  # bytes, glibc's largest: a bf16 (4096, 1536) activation is 12 MiB
KEEP_FREE_TOP = 128 << 20  # bytes of free heap top kept before any is returned
# Set by hand (GLIBC_TUNABLES: with a glibc.malloc. tunable), these leave malloc as the user
# tuned it; OPT_OUT=0 leaves glibc's defaults.
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")
OPT_OUT = "MINILM_KEEP_FREED_MEMORY"


def uses_glibc() -> bool:
    try:
        return bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (ValueError, OSError):  # no such name here: not glibc
        return False


@functools.cache
def keep_freed_memory() -> bool:
    """Have glibc's malloc keep freed blocks of up to 32 MiB for the next batch; returns
    whether it now does (False off glibc, with ``MINILM_KEEP_FREED_MEMORY=0``, or when the
    user set malloc's thresholds through the environment).

    By default glibc returns big freed blocks to the system (unmapped, or trimmed off the heap
    top, by thresholds it moves as it goes), and the next batch's tensors of the same sizes
    start on fresh pages, each a page fault that zeroes 4 KiB: tens to hundreds of thousands
    per round of 400 Cranfield abstracts, 2-11% of the time, and most of the run-to-run spread
    (benchmarks/RESULTS.md, "Encoder"). Process-wide and kept; memory at the peak stays with
    the process, as with a caching allocator. The PyTorch encoder sets it on its first batch.
    """
    if os.environ.get(OPT_OUT, "1") == "0" or any(
        os.environ.get(name) and (name != "GLIBC_TUNABLES" or "glibc.malloc." in os.environ[name])
        for name in USER_SETTINGS
    ):
        return False
    if not uses_glibc():
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        kept = libc.mallopt(M_MMAP_THRESHOLD, KEEP_BLOCKS_UP_TO)
        trimmed = libc.mallopt(M_TRIM_THRESHOLD, KEEP_FREE_TOP)
    except (OSError, AttributeError):  # no libc.so.6, no mallopt
        return False
    return bool(kept and trimmed)


def release_freed_memory() -> bool:
    """Give the freed blocks malloc keeps back to the system (glibc's ``malloc_trim``); returns
    whether it did. For a process that waits between batches (`search watch`, `serve --watch`):
    after 800 Cranfield abstracts one stayed at 729 MB resident while idle, 426 MB trimmed (the
    next batch starts on fresh pages, what ``keep_freed_memory`` saves within a run)."""
    if not uses_glibc():
        return False
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False
