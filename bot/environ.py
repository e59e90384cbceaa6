"""Once read, opsdesk's secrets leave its environment, where children could read them.

A job, linter or git started by opsdesk gets a minimal environment of its own
(`jobs.core.child_env`), but any process of the same user can still read
`/proc/<opsdesk's pid>/environ`. That file is not `os.environ`: it is the block of
memory the process started with, which removing a variable does not change. So,
right after the settings are read, each secret's bytes in that block are overwritten
with `*`: what the file shows from then on, to anyone, and what a child started
without an explicit environment would inherit (the C library's environment points
into that block). Python's own copy, `os.environ`, keeps them, in memory no other
process can read without ptrace rights: a command job that names one in its `env`
(`"env:SLACK_BOT_TOKEN"`, the configuration's explicit pass-through) still gets it.

Why not `prctl(PR_SET_DUMPABLE, 0)`: it only keeps processes of other users (and
same-user ones without CAP_SYS_PTRACE) out of `/proc/<pid>/`; a container running as
root, or a child that is root, reads the file all the same. Overwriting the bytes
holds for every reader, on Linux; elsewhere only the removal applies.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

MIN_SECRET_BYTES = 6  # as the scrubber: shorter values would match ordinary text


def forget_secrets(values: Iterable[str | None]) -> int:
    """Overwrite every occurrence of `values` in the process's initial environment.
    Returns how many bytes were overwritten (0 where /proc is not there)."""
    secrets = {v.encode() for v in values if v and len(v.encode()) >= MIN_SECRET_BYTES}
    if not secrets:
        return 0
    try:
        return _overwrite_initial_environment(secrets)
    except (OSError, ValueError, IndexError) as exc:
        log.debug("the initial environment could not be overwritten: %s", exc)
        return 0


def _overwrite_initial_environment(secrets: set[bytes]) -> int:
    stat = Path("/proc/self/stat").read_text()
    # Fields after the command name (which may hold spaces and parentheses); env_start
    # and env_end are fields 50 and 51 of proc(5).
    fields = stat[stat.rindex(")") + 2 :].split()
    env_start, env_end = int(fields[47]), int(fields[48])
    block = ctypes.string_at(env_start, env_end - env_start)
    overwritten = 0
    for secret in sorted(secrets, key=len, reverse=True):
        at = block.find(secret)
        while at >= 0:
            ctypes.memset(env_start + at, ord("*"), len(secret))
            overwritten += len(secret)
            at = block.find(secret, at + len(secret))
    return overwritten
