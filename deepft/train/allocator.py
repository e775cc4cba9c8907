"""Host memory allocator settings for training.

A training step allocates and frees the same few dozen arrays of 1-20 MB every step (embedding
activations: rows x width float64). glibc's malloc serves blocks above its mmap threshold
(128 kB to 32 MB, adapting) with fresh ``mmap`` calls and returns them with ``munmap``, so every
step pays the page faults of zeroing them again: 5-10 % of a water step on 2 cores. Raising the
mmap threshold above the largest array and the trim threshold well above a step's working set
keeps freed blocks in the heap for the next step. Peak memory is unchanged (the same arrays are
alive at the peak); memory freed after the peak is kept by the process instead of given back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

log = logging.getLogger("deepft.train")

M_TRIM_THRESHOLD = -1  # glibc <malloc.h> mallopt parameters
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's maximum on 64-bit systems
TRIM_THRESHOLD_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Apply the settings above; True when applied (glibc), False elsewhere (logged)."""
    if platform.libc_ver()[0] != "glibc":
        log.debug("not glibc: the allocator keeps its defaults")
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    done = (libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
            and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1)
    log.debug("glibc mallopt: mmap threshold %d B, trim threshold %d B: %s",
              MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES, "applied" if done else "refused")
    return done
