"""Hand the C allocator's free memory back to the system, so long runs keep a flat resident size.

glibc's malloc keeps freed blocks inside its heaps for reuse; with many large tensors of varying
size made and freed every frame (two threads, each with its own heap), those heaps fragment and
the resident size creeps up by hundreds of MB although the data alive stays the same.
``malloc_trim`` releases the free pages inside the heaps (``madvise``), not only at their top.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys


def _trim_function():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
        return None


_TRIM = _trim_function()


def release_free_memory() -> bool:
    """Give the allocator's free pages back to the system (glibc); True if some were released.

    A no-op returning False where the C library has no ``malloc_trim`` (macOS, Windows, musl).
    """
    return bool(_TRIM(0)) if _TRIM is not None else False
