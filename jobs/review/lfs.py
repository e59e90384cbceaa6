"""Files stored in git LFS, as a clone with git-lfs has them, or said not reviewed.

A commit holds an LFS-tracked file as a small pointer ("version
https://git-lfs.github.com/spec/v1", the object's sha256 and size); a developer's
clone with git-lfs has the file itself. The checkout is written without smudging, so
the pointers among the files a linter reads are materialised here with git-lfs
(`git lfs smudge`) from the repository's own local LFS store — opsdesk never
downloads an object. A pointer that cannot be materialised (git-lfs not installed,
the object not in the local store, an object too large) stays a pointer: its file
is not reviewed, with the reason, and what a linter says of the pointer text is
left out by the caller.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from jobs.review.checkout import Checkout, read_checkout_file
from jobs.review.git import GitError, run_git
from jobs.review.objects import too_large

POINTER_MAX_BYTES = 1024  # git-lfs reads nothing larger as a pointer
_POINTER = re.compile(
    rb"version https://git-lfs\.github\.com/spec/v1\n"
    rb"(?:ext-\d+-\w+ sha256:[0-9a-f]{64}\n)*"
    rb"oid sha256:([0-9a-f]{64})\nsize (\d+)\n"
)
STORED_IN_LFS = "stored in git LFS"
NOT_INSTALLED = f"{STORED_IN_LFS}; git-lfs is not installed"
NOT_STORED = f"{STORED_IN_LFS}; its object is not in the repository's local LFS store"
NOT_SMUDGED = f"{STORED_IN_LFS}; git-lfs could not materialise it"
# Any download git-lfs might try goes to a store that does not exist: it fails at once.
_OFFLINE = {
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "lfs.url",
    "GIT_CONFIG_VALUE_0": "file:///nonexistent/opsdesk-never-downloads",
}


def materialise(repo: Path, checkout: Checkout, wanted: Callable[[str], bool]) -> dict[str, str]:
    """Replace the LFS pointers among the checkout's `wanted` files (those a linter
    reads) with their files; returns path → reason for each one left a pointer."""
    attributes = [p for p in checkout.files if p.rsplit("/", 1)[-1] == ".gitattributes"]
    if not any(b"lfs" in (read_checkout_file(checkout, p) or b"") for p in attributes):
        return {}  # no file of the commit is tracked in LFS (most commits)
    pointers = _pointers(repo, checkout, [p for p in checkout.files if wanted(p)])
    if not pointers:
        return {}
    if shutil.which("git-lfs") is None:
        return dict.fromkeys(pointers, NOT_INSTALLED)
    store = _local_store(repo)
    left: dict[str, str] = {}
    for path, (pointer, oid, size) in pointers.items():
        if size > checkout.max_file_bytes:  # the checkout's own limit on any file
            left[path] = f"{STORED_IN_LFS}; {too_large(checkout.max_file_bytes)}"
        elif store is None or not _stored(store / oid[:2] / oid[2:4] / oid, size):
            left[path] = NOT_STORED
        elif not _smudge(repo, checkout.root / path, pointer, size):
            left[path] = NOT_SMUDGED
    return left


def _pointers(
    repo: Path, checkout: Checkout, paths: list[str]
) -> dict[str, tuple[bytes, str, int]]:
    """The files among `paths` that are LFS pointers git would smudge: pointer text,
    and `filter=lfs` by the commit's attributes. path → (pointer, oid, size)."""
    found: dict[str, tuple[bytes, str, int]] = {}
    for path in paths:
        pointer = read_checkout_file(checkout, path, POINTER_MAX_BYTES + 1)
        match = _POINTER.fullmatch(pointer) if pointer else None
        if pointer is not None and match is not None:
            found[path] = (pointer, match[1].decode("ascii"), int(match[2]))
    tracked = _lfs_tracked(repo, checkout.root, list(found))
    return {path: found[path] for path in found if path in tracked}


def _lfs_tracked(repo: Path, root: Path, paths: list[str]) -> set[str]:
    """The paths whose `filter` attribute is lfs, as the checkout's .gitattributes say."""
    if not paths:
        return set()
    request = b"".join(os.fsencode(path) + b"\0" for path in paths)
    check_attr = ("check-attr", "-z", "--stdin", "filter")
    # The commit's .gitattributes only: an index that does not exist is an empty one,
    # so none of the user's staged ones is read.
    no_index = {"GIT_INDEX_FILE": str(root / ".git" / "no-index")}
    try:
        out = run_git(
            repo, f"--work-tree={root}", *check_attr, stdin=request, extra_env=no_index
        ).stdout
    except GitError:
        return set()
    fields = out.split(b"\0")
    # Triples: path, attribute, value.
    return {
        os.fsdecode(fields[i])
        for i in range(0, len(fields) - 2, 3)
        if fields[i + 1] == b"filter" and fields[i + 2] == b"lfs"
    }


def _local_store(repo: Path) -> Path | None:
    """Where git-lfs keeps the repository's objects (`lfs.storage`, else <git dir>/lfs),
    found without git-lfs itself, which would create it in the user's repository."""
    try:
        common = run_git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir")
    except GitError:
        return None
    git_dir = Path(os.fsdecode(common.stdout.strip()))
    setting = run_git(repo, "config", "--get", "lfs.storage", check=False).stdout.strip()
    storage = git_dir / os.fsdecode(setting) if setting else git_dir / "lfs"
    return storage / "objects"


def _stored(path: Path, size: int) -> bool:
    try:
        return path.is_file() and path.stat().st_size == size
    except OSError:
        return False


def _smudge(repo: Path, target: Path, pointer: bytes, size: int) -> bool:
    """`git lfs smudge` of the pointer into `target` (git-lfs checks the object)."""
    try:
        result = run_git(repo, "lfs", "smudge", stdin=pointer, extra_env=_OFFLINE, check=False)
    except GitError:
        return False
    if result.returncode != 0 or len(result.stdout) != size:
        return False
    # The checkout holds no link (none is materialised); even so, never written through one.
    fd = os.open(target, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "wb") as handle:
        handle.write(result.stdout)
    return True
