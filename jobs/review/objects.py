"""A commit's files, read from git with bounds: a commit is untrusted data.

A reviewed commit may hold anything its author could commit: a symbolic link to
`/dev/zero` or to a file elsewhere on this host, a submodule, a file of hundreds of
megabytes, a path with `..` in it (git's own checks refuse these on receipt, but a
crafted tree reaches opsdesk from a local repository just the same). Nothing here
follows a link or holds more than a bounded number of bytes:

- `tree_listing` names every entry of the commit's tree with its mode and size;
  `classify` says which are regular files opsdesk may write and read, and why each
  other one is not reviewed (a symbolic link, a submodule, larger than the limit);
- `stream_blobs` reads the chosen blobs through one `git cat-file --batch`, one
  bounded blob at a time.

Its diff, read with the same bounds, is bounded_diff.py's.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple

from jobs.core.text import duration
from jobs.review.git import (
    LOCAL_TIMEOUT_S,
    GitError,
    git_command,
    git_env,
    run_git,
)

REGULAR_MODES = frozenset({"100644", "100755"})
SYMLINK_MODE = "120000"
SUBMODULE_MODE = "160000"
MB = 1024 * 1024
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
