"""Which process did something: a runner id is `host:pid`, recorded on runs and on
claimed posts so that work left behind by a process that died can be found."""

from __future__ import annotations

import os
import socket


def this_runner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def stopped_here(runner: str, own_runner: str) -> bool:
    """`runner` is another process on this host (`own_runner`'s), and it is gone.
    A runner on another host, or one that is not `host:pid`, is never known gone."""
    host, _, pid = runner.rpartition(":")
    own_host, _, own_pid = own_runner.rpartition(":")
    if host != own_host or not pid.isdigit() or pid == own_pid:
        return False
    return not _pid_alive(int(pid))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True
