"""A commit's files and diff, read from git with bounds: a commit is untrusted data.

A reviewed commit may hold anything its author could commit: a symbolic link to
`/dev/zero` or to a file elsewhere on this host, a submodule, a file of hundreds of
megabytes, a path with `..` in it (git's own checks refuse these on receipt, but a
crafted tree reaches opsdesk from a local repository just the same). Nothing here
follows a link or holds more than a bounded number of bytes:

- `tree_listing` names every entry of the commit's tree with its mode and size;
  `classify` says which are regular files opsdesk may write and read, and why each
  other one is not reviewed (a symbolic link, a submodule, larger than the limit);
- `stream_blobs` reads the chosen blobs through one `git cat-file --batch`, one
  bounded blob at a time;
- `bounded_diff` reads `git diff` as it streams and drops each file's part that is
  larger than the limit (and every part once the whole would be), keeping its header
  so the caller can name the file.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple

from jobs.core.text import duration
from jobs.review.git import (
    LOCAL_TIMEOUT_S,
    PLAIN_DIFF,
    GitError,
    empty_tree,
    git_command,
    git_env,
    run_git,
)

REGULAR_MODES = frozenset({"100644", "100755"})
SYMLINK_MODE = "120000"
SUBMODULE_MODE = "160000"
MB = 1024 * 1024
# A dropped part keeps at most this much of its header (the "diff --git" line and
# the mode, rename and ---/+++ lines that name the file).
_MAX_HEADER_BYTES = 64 * 1024
_UNSAFE_PARTS = frozenset({"", ".", "..", ".git"})


def size_text(limit_bytes: int) -> str:
    """A limit as people say it: "2 MB", "1.5 MB", "100 KB"."""
    if limit_bytes < MB:
        return f"{limit_bytes / 1024:.3g} KB"
    return f"{limit_bytes / MB:.3g} MB"


def too_large(limit_bytes: int) -> str:
    return f"larger than {size_text(limit_bytes)}"


SYMLINK = "symbolic link (not followed)"
SUBMODULE = "submodule (not checked out)"
UNSAFE_PATH = "unsafe path (not checked out)"
SPECIAL = "not a regular file"


def is_inert(reason: str) -> bool:
    """A reason that holds for the file itself, not the review's luck: nothing is
    gained by trying that file again at the next review."""
    return reason in (SYMLINK, SUBMODULE, UNSAFE_PATH, SPECIAL) or reason.startswith(
        ("larger than ", "diff larger than ")
    )


class TreeEntry(NamedTuple):
    """One entry of a tree listing (a named tuple: a listing makes one per file of the
    commit, every review, and a tuple is built several times faster than a frozen
    dataclass)."""

    mode: str  # "100644", "100755", "120000" (a symbolic link), "160000" (a submodule)
    kind: str  # blob | commit
    oid: str
    size: int | None  # bytes; None for a submodule


def tree_listing(repo: Path, sha: str) -> dict[str, TreeEntry]:
    """Every path in the commit's tree (`git ls-tree -r -l -z`) with its entry."""
    out = run_git(repo, "ls-tree", "-r", "-l", "-z", sha).stdout
    # Decoded once: the fields are ASCII, and a name's bytes decode alike whole or
    # alone (a tab or NUL is never part of a UTF-8 sequence).
    text = out.decode("utf-8", "surrogateescape")
    entries: dict[str, TreeEntry] = {}
    for record in text.split("\0"):
        meta, tab, name = record.partition("\t")
        fields = meta.split()
        if not tab or len(fields) != 4 or not meta.isascii():
            continue
        mode, kind, oid, size = fields
        entries[name] = TreeEntry(mode, kind, oid, int(size) if size.isdigit() else None)
    return entries


def is_safe_path(path: str) -> bool:
    """A relative path that stays inside the tree and never names a `.git`."""
    if path.startswith("/") or "\\" in path or "\0" in path:
        return False
    # Every unsafe part but "" starts with a dot: most paths need no closer look.
    if "/." not in path and not path.startswith(".") and "//" not in path and path[-1:] != "/":
        return bool(path)
    return not any(part.lower() in _UNSAFE_PARTS for part in path.split("/"))


def skip_reason(path: str, entry: TreeEntry, max_file_bytes: int) -> str | None:
    """Why an entry is not checked out and not reviewed, or None for a regular file
    within the limit."""
    if entry.mode == SYMLINK_MODE:
        return SYMLINK
    if entry.mode == SUBMODULE_MODE or entry.kind == "commit":
        return SUBMODULE
    if entry.mode not in REGULAR_MODES or entry.kind != "blob":
        return SPECIAL
    if not is_safe_path(path):
        return UNSAFE_PATH
    if entry.size is None or entry.size > max_file_bytes:
        return too_large(max_file_bytes)
    return None


def classify(
    entries: dict[str, TreeEntry], max_file_bytes: int
) -> tuple[dict[str, TreeEntry], dict[str, str]]:
    """(regular files to check out, every other path → why it is not reviewed)."""
    files: dict[str, TreeEntry] = {}
    skipped: dict[str, str] = {}
    for path, entry in entries.items():
        reason = skip_reason(path, entry, max_file_bytes)
        if reason is None:
            files[path] = entry
        else:
            skipped[path] = reason
    return files, skipped


def _feed(stdin: IO[bytes], lines: Iterable[str]) -> None:
    try:
        for line in lines:
            stdin.write(f"{line}\n".encode("ascii"))
        stdin.close()
    except (BrokenPipeError, ValueError, OSError):
        pass  # git stopped reading (it failed, or was killed at the deadline)


def stream_blobs(
    repo: Path, oids: list[str], max_bytes: int, timeout: float = LOCAL_TIMEOUT_S
) -> Iterator[tuple[str, bytes]]:
    """(oid, content) of each blob, in order, through one `git cat-file --batch`.
    A blob larger than `max_bytes` (its listed size lied) raises GitError."""
    if not oids:
        return
    process = subprocess.Popen(
        git_command(repo, "cat-file", "--batch"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=git_env(),
    )
    assert process.stdin is not None and process.stdout is not None
    feeder = threading.Thread(target=_feed, args=(process.stdin, oids), daemon=True)
    feeder.start()
    killer = threading.Timer(timeout, process.kill)
    killer.start()
    try:
        for oid in oids:
            header = process.stdout.readline(200).split()
            if len(header) != 3 or header[1] != b"blob":
                raise GitError(f"git cat-file could not read blob {oid[:12]}")
            size = int(header[2])
            if size > max_bytes:
                raise GitError(f"blob {oid[:12]} is larger than {size_text(max_bytes)}")
            content = process.stdout.read(size)
            process.stdout.read(1)  # the newline after each object
            if len(content) != size:
                raise GitError(
                    f"git cat-file stopped (timed out after {duration(timeout * 1000)}?)"
                )
            yield oid, content
    finally:
        killer.cancel()
        process.kill()
        process.wait()
        process.stdout.close()
        feeder.join(timeout=1.0)


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


@dataclass(frozen=True)
class ReadLimits:
    """How much of a commit opsdesk reads: each file, and a diff in all."""

    max_file_bytes: int = 2 * MB
    max_diff_bytes: int = 64 * MB

    @classmethod
    def from_mb(cls, max_file_mb: float, max_diff_mb: float) -> ReadLimits:
        return cls(int(max_file_mb * MB), int(max_diff_mb * MB))


def read_files(repo: Path, sha: str, paths: Iterable[str], max_bytes: int) -> dict[str, bytes]:
    """Contents of those `paths` at `sha` that are regular files within `max_bytes`;
    the others (gone, links, submodules, too large) are left out."""
    listing = tree_listing(repo, sha)
    wanted = {
        path: listing[path].oid
        for path in dict.fromkeys(paths)
        if path in listing and skip_reason(path, listing[path], max_bytes) is None
    }
    contents = dict(stream_blobs(repo, list(dict.fromkeys(wanted.values())), max_bytes))
    return {path: contents[oid] for path, oid in wanted.items()}
