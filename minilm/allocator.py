"""Process memory: keeping freed blocks for the next batch instead of fresh pages."""

from __future__ import annotations

import ctypes
import functools
import os

# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEEP_BLOCKS_UP_TO = 32 << 20  # bytes: a bf16 (4096, 1536) activation is 12 MiB, fp32 24 MiB
KEEP_FREE_TOP = 128 << 20  # bytes of free heap top kept before any is returned


@functools.cache
def keep_freed_memory() -> bool:
    """Have glibc's malloc keep freed blocks of up to 32 MiB for the next batch; False where
    this is not glibc.

    By default glibc returns big freed blocks to the system (unmapped, or trimmed off the heap
    top, by thresholds it moves as it goes), and the next batch's tensors of the same sizes
    start on fresh pages, each a page fault that zeroes 4 KiB: 60,000 to 300,000 per 400
    Cranfield abstracts, 3-8% of the time, and most of the run-to-run spread
    (benchmarks/RESULTS.md, "Encoder"). Process-wide and kept; memory at the peak stays
    with the process, as with a caching allocator.
    """
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
        libc = ctypes.CDLL("libc.so.6")
        return bool(
            libc.mallopt(M_MMAP_THRESHOLD, KEEP_BLOCKS_UP_TO)
            and libc.mallopt(M_TRIM_THRESHOLD, KEEP_FREE_TOP)
        )
    except (ValueError, OSError, AttributeError):  # no such confstr name, no libc.so.6
        return False
