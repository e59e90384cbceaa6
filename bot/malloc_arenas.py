"""The process's own allocator policy: glibc's malloc arenas capped for `opsdesk run`,
before any thread starts (measured in docs/performance.md). The environment, and so
every child process, is left alone."""

from __future__ import annotations

import ctypes
import os

# glibc's mallopt parameter for the most malloc arenas a process may have.
_M_ARENA_MAX = -8
# One arena measured smallest on the idle process, ctypes' own cost included
# (docs/performance.md). Python allocates under the GIL, so its threads gain little
# from arenas of their own.
MALLOC_ARENAS = 1


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process; call it before any thread starts.

    glibc gives threads that allocate at once their own arena, up to eight per core,
    and each keeps its pages. `opsdesk run`'s few threads (the loop and a small
    executor) allocate little, so one arena serves them and the idle process stays
    smaller. This is the process's own allocator policy: the environment, and
    so every child process, is left alone (MALLOC_ARENA_MAX still overrides it). Off
    glibc it does nothing; returns whether the limit was set."""
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        libc = None
    if not libc or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))
