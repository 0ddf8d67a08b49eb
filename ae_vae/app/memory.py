"""The server process's heap, kept from growing with the requests it has served (glibc's malloc; elsewhere these do
nothing).

Gradio runs each request in a worker thread of a pool of 40, and glibc gives threads arenas of their own. Its
default mmap threshold rises to the size of the largest block freed, so after the first requests a request's large
temporaries (a neighbour search's distances, a decoded grid, a PNG) come from those arenas, and the pages they
freed stay with each arena: under 16 clients the process grew by a quarter over ten minutes
(`bench/lean_server.py --soak-seconds 600`). A fixed threshold keeps blocks of `MMAP_THRESHOLD` and more mapped on
their own and unmapped when freed. Fewer arenas would bound the growth too, but the threads then wait on each other's
locks: it cost more CPU per drawing than the mapping does (docs/experiments.md, "The server as light as the page").
"""

from __future__ import annotations

import ctypes
import os

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
MMAP_THRESHOLD = 256 * 1024
THRESHOLD_VARIABLE = "MALLOC_MMAP_THRESHOLD_"  # glibc's own setting, read at start-up: where set, it wins


def map_large_blocks(threshold: int = MMAP_THRESHOLD) -> None:
    """Serve blocks of `threshold` bytes and more by mmap, and hand them back when freed (see the module)."""
    if os.environ.get(THRESHOLD_VARIABLE):
        return
    try:
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, int(threshold))
    except (OSError, AttributeError):
        pass


def return_freed_memory() -> None:
    """Hand the heap's free pages back to the system. Rendering the maps allocates and frees tens of MB of
    temporaries in a thread of its own; glibc keeps such pages for reuse, so without this the server would hold
    them for as long as it runs."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
