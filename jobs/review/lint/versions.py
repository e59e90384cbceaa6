"""Which version of each linter runs, for the reviewer fingerprint: a review made by
another ruff or shellcheck is not the same review (an upgraded linter reports other
findings on an unchanged commit, so the cached one must not be replayed).

A program is asked (`<program> --version`) once per installed file: an upgrade in
place changes the file, and the next review asks again. A program that does not
answer `--version` is known by the hash of its file.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from importlib.metadata import version

from jobs.config.schema import LintReviewerConfig
from jobs.review.lint.linters import linter_env, ruff_command

VERSION_TIMEOUT_S = 10.0
MAX_VERSION = 200
# (path, inode, size, mtime) of a program file → its version.
_ASKED: dict[tuple[str, int, int, int], str] = {}


def linter_versions(config: LintReviewerConfig) -> dict[str, str]:
    """ruff's version and each configured linter's, by name (a linter not installed
    is "not installed": its review fails when it runs)."""
    ruff = _ruff()
    versions = {"ruff": program_version(ruff[0]) if len(ruff) == 1 else version("ruff")}
    path = linter_env()["PATH"]
    for linter in config.linters:
        program = shutil.which(linter.command[0], path=path)
        versions[linter.name] = program_version(program) if program else "not installed"
    return versions


@functools.cache
def _ruff() -> tuple[str, ...]:
    """Where ruff is installed does not change while opsdesk runs (finding it takes
    longer than the rest of a cache hit's fingerprint)."""
    return tuple(ruff_command())


def program_version(program: str) -> str:
    try:
        stat = os.stat(program)
    except OSError:
        return "not installed"
    key = (program, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _ASKED:
        _ASKED[key] = _ask(program)
    return _ASKED[key]


def _ask(program: str) -> str:
    """What `program --version` prints (run in an empty directory, so a program that
    takes the option for a file name finds nothing to lint), else the file's hash."""
    try:
        with tempfile.TemporaryDirectory(prefix="opsdesk-version-") as empty:
            said = subprocess.run(
                [program, "--version"],
                cwd=empty,
                capture_output=True,
                stdin=subprocess.DEVNULL,
                timeout=VERSION_TIMEOUT_S,
                env=linter_env(),
            )
        text = " ".join(said.stdout.decode("utf-8", "replace").split())
        if said.returncode == 0 and text:
            return text[:MAX_VERSION]
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        with open(program, "rb") as handle:
            return "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return "unknown"
