"""A commit's diff read from git with bounds: `bounded_diff` reads `git diff` as it
streams and drops each file's part that is larger than the limit (and every part
once the whole would be), keeping its header so the caller can name the file. The
files themselves are read with the same bounds in objects.py."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from jobs.core.text import duration
from jobs.review.git import LOCAL_TIMEOUT_S, PLAIN_DIFF, GitError, empty_tree, git_command, git_env
from jobs.review.objects import too_large

# A dropped part keeps at most this much of its header (the "diff --git" line and
# the mode, rename and ---/+++ lines that name the file).
_MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class BoundedDiff:
    text: str  # the diff of every file within the limits
    # The header of each file's part that was dropped, with the reason.
    dropped: tuple[tuple[str, str], ...] = ()


class _Parts:
    """Collects a streamed diff file by file, dropping parts over the limits."""

    def __init__(self, max_file_bytes: int, max_total_bytes: int) -> None:
        self.max_file = max_file_bytes
        self.max_total = max_total_bytes
        self.kept: list[bytes] = []
        self.kept_bytes = 0
        self.dropped: list[tuple[str, str]] = []
        self.part: list[bytes] = []
        self.part_bytes = 0
        self.header_done = False
        self.over: str | None = None  # why the current part is being dropped

    def add(self, chunk: bytes, at_line_start: bool) -> None:
        if at_line_start and chunk.startswith(b"diff --git "):
            self.close()
        if at_line_start and chunk.startswith((b"@@", b"Binary files ", b"GIT binary patch")):
            self.header_done = True
        self.part_bytes += len(chunk)
        if self.over is None and self.part_bytes > self.max_file:
            self.over = too_large(self.max_file)
        if self.over is None and self.kept_bytes + self.part_bytes > self.max_total:
            self.over = f"diff {too_large(self.max_total)} in all"
        if self.over is None:
            self.part.append(chunk)
        elif not self.header_done and sum(map(len, self.part)) < _MAX_HEADER_BYTES:
            self.part.append(chunk)  # still naming the file: kept for the caller

    def close(self) -> None:
        if self.part:
            if self.over is None:
                self.kept += self.part
                self.kept_bytes += self.part_bytes
            else:
                header = b"".join(self.part)
                if not self.header_done:
                    header = header[:_MAX_HEADER_BYTES]
                else:  # only the lines before the first hunk name the file
                    header = _header_lines(header)
                self.dropped.append((header.decode("utf-8", "replace"), self.over))
        self.part, self.part_bytes, self.header_done, self.over = [], 0, False, None


def _header_lines(part: bytes) -> bytes:
    lines = []
    for line in part.splitlines(keepends=True):
        if line.startswith((b"@@", b"Binary files ", b"GIT binary patch")):
            break
        lines.append(line)
    return b"".join(lines)


def _big_file_threshold(max_file_bytes: int) -> tuple[str, str]:
    return ("-c", f"core.bigFileThreshold={max_file_bytes}")


def bounded_diff(
    repo: Path,
    base: str | None,
    head: str,
    max_file_bytes: int,
    max_total_bytes: int,
    timeout: float = LOCAL_TIMEOUT_S,
) -> BoundedDiff:
    """The unified diff base → head (-U3, renames; base None: against the empty tree)
    without any file's part larger than `max_file_bytes`, and at most
    `max_total_bytes` in all; what was dropped is named in `dropped`."""
    old = empty_tree(head) if base is None else base
    parts = _Parts(max_file_bytes, max_total_bytes)
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            # Above bigFileThreshold git treats a file as binary: it neither loads
            # nor diffs it, so an oversized file costs git nothing either.
            git_command(
                repo, *_big_file_threshold(max_file_bytes), *PLAIN_DIFF, "-U3", old, head, "--"
            ),
            stdout=subprocess.PIPE,
            stderr=errors,
            env=git_env(),
        )
        assert process.stdout is not None
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        try:
            at_line_start = True
            # Lines are read in bounded pieces: one line may be larger than any limit.
            while chunk := process.stdout.readline(_MAX_HEADER_BYTES):
                parts.add(chunk, at_line_start)
                at_line_start = chunk.endswith(b"\n")
            parts.close()
        finally:
            timed_out = not killer.is_alive()  # the timer ran: git was killed
            killer.cancel()
            returncode = process.wait()
            process.stdout.close()
        errors.seek(0)
        stderr = errors.read(4096).decode("utf-8", "replace").strip()
    if returncode != 0:
        if timed_out:
            raise GitError(f"git diff timed out after {duration(timeout * 1000)}")
        raise GitError(f"git diff failed: {stderr or f'exit {returncode}'}")
    text = b"".join(parts.kept).decode("utf-8", "replace")
    return BoundedDiff(text, tuple(parts.dropped))
