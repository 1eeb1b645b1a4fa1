"""Keep freed memory in the process on glibc, so CPU inference does not page-fault every batch.

glibc returns large freed blocks (a backbone's activations: hundreds of MB per batch) to
the kernel with ``munmap``/heap trimming, and the next batch page-faults them back in,
zero-filled. On the 2-core test machine that kernel work was more than half of
efficientnet-lite0's time (2.7 clips/s with 4.4 s of system time per 32 clips, against
4.4 clips/s and none with the settings below, batch 1-8 clips of 8 frames at 224 px).
Raising the trim and mmap thresholds keeps the memory mapped for reuse; the cost is a
resident size that stays at its peak, which an extraction process reaches anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters
KEEP_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed memory (see the module docstring); False where not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    done = all(mallopt(param, ctypes.c_int(value)) == 1 for param, value in (
        (M_TRIM_THRESHOLD, 2**31 - 1), (M_TOP_PAD, KEEP_BYTES), (M_MMAP_THRESHOLD, KEEP_BYTES)))
    log.debug("malloc keeps freed memory: %s", done)
    return done
