"""Keep the memory one answer freed for the next one, instead of faulting it in again.

Why: a served answer allocates tens of MB (DuckDB's Arrow buffers, the reply's bytes) on a
handler thread. With glibc's default, dynamic thresholds, those blocks are mmapped or their
thread arena's heap is trimmed when they are freed, so every 100k-row answer faults about
5,500 fresh pages in again: 20-25 ms of a 55 ms answer (bench/README.md, round 22). Fixing
both thresholds keeps up to TRIM_THRESHOLD of freed memory per arena for reuse, which is
what a long-running server wants. It is process-wide: a process that serves keeps that much
more resident after a large answer. Only glibc has these knobs; elsewhere nothing changes.
"""

from __future__ import annotations

import functools
import os

#: glibc's mallopt parameters (malloc.h): M_TRIM_THRESHOLD and M_MMAP_THRESHOLD.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Freed memory an arena keeps before it returns any to the kernel.
TRIM_THRESHOLD = 64 * 1024 * 1024
#: Blocks below this come from the arenas, not from mmap; glibc's largest allowed value on
#: 64-bit (HEAP_MAX_SIZE / 2), and above the 11 MB reply of a 100k-row, 9-column answer.
MMAP_THRESHOLD = 32 * 1024 * 1024


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's trim and mmap thresholds for serving, once per process; True if they are set."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
    except (AttributeError, ValueError, OSError):  # not a glibc system
        return False
    import ctypes  # only a serving process needs it

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # Both together: setting either one turns off glibc's dynamic adjustment of the other.
    return bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
