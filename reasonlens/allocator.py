"""What a long streaming run wants from glibc's malloc (``reasonlens score`` sets it at
start-up; call :func:`keep_freed_memory` first thing in your own process for the same)."""

from __future__ import annotations

import os

#: glibc's ``mallopt`` for ``score``: M_ARENA_MAX 1, M_MMAP_THRESHOLD 32 MiB, M_TRIM_THRESHOLD
#: 512 MiB (see :func:`keep_freed_memory`)
SCORE_MALLOPT = ((-8, 1), (-3, 32 << 20), (-1, 512 << 20))
_MALLOC_ENV = ("GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_",
               "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep what is freed for the next allocation of its size: one arena
    for all threads, blocks of up to 32 MiB from it rather than mapped each time (no sliding
    threshold), and up to 512 MiB of free memory kept before it is given back. Each chunk of
    input (16 MB, read in the loader's thread) was a fresh mapping, and with an arena per
    thread (heaps of at most 64 MiB, deleted when empty) even a fixed threshold did not stop
    that: every page of it was faulted and zeroed again. Over interleaved runs of ``score`` on
    1 GB: about half the page faults and less CPU and peak memory (benchmarks/scoring.md).
    Only on glibc, only before the process starts threads (the arena limit applies to threads
    not yet given one), and not where the user set any of glibc's malloc variables. Whether
    all three settings took."""
    if any(v in os.environ for v in _MALLOC_ENV):
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
    except (AttributeError, ValueError, OSError):  # not glibc
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all([mallopt(param, value) == 1 for param, value in SCORE_MALLOPT])
