"""A full checkout of one commit in opsdesk's own scratch space, reused between reviews.

Linters must see the reviewed commit as a developer's fresh checkout shows it: every
file, the repository's own configuration, nothing else. The user's repository is
never written to: opsdesk reads its objects (`jobs.review.objects`) and writes the
files itself under `<scratch>/tree`.

A commit is untrusted data, so the checkout is inert: only regular files within the
size limit are written, each with `O_NOFOLLOW` into directories opened without
following links; symbolic links, submodules, special and oversized files and unsafe
paths are never materialised and come back in `Checkout.skipped` with the reason
(the reviewer lists them as not reviewed). A linter can therefore read nothing
outside the checkout through a committed link, and nothing is written through one.

Blobs are written as git stores them, no filter ever runs: a file in git LFS is its
pointer here, and `lfs.py` materialises the ones a linter reads.

A manifest (`<scratch>/manifest.json`: path → blob, mode, size, mtime) keeps the
last checkout's state, so a reused checkout rewrites only the files that differ
and removes the ones that are gone; anything else found in the tree (a linter's
leftovers) is removed too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from jobs.review.objects import MB, TreeEntry, classify, stream_blobs, tree_listing

TREE = "tree"
MANIFEST = "manifest.json"
DEFAULT_MAX_FILE_BYTES = 2 * MB
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC


def scratch_name(repo_name: str) -> str:
    """A directory name for a repository: readable, and unique however long the name."""
    digest = hashlib.sha256(repo_name.encode("utf-8")).hexdigest()[:12]
    readable = _UNSAFE.sub("_", repo_name).strip("._")[-48:] or "repo"
    return f"{readable}-{digest}"


@dataclass(frozen=True)
class Checkout:
    root: Path  # the checked-out tree
    files: frozenset[str]  # repository-relative paths of the regular files written
    # Paths of the commit not written, each with why: "symbolic link (not followed)",
    # "submodule (not checked out)", "larger than 2 MB", …
    skipped: tuple[tuple[str, str], ...] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES  # no file in it is larger


def check_out(
    repo: Path, sha: str, scratch: Path, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> Checkout:
    """The regular files of commit `sha` at `<scratch>/tree`, updated in place from
    whatever commit it held before. Raises GitError."""
    scratch.mkdir(parents=True, exist_ok=True)
    tree = scratch / TREE
    if tree.is_symlink() or (tree.exists() and not tree.is_dir()):
        tree.unlink()
    tree.mkdir(exist_ok=True)
    files, skipped = classify(tree_listing(repo, sha), max_file_bytes)
    previous = _load_manifest(scratch)
    (scratch / MANIFEST).unlink(missing_ok=True)  # an interrupted checkout is rebuilt
    found = _keep_only(str(tree), set(files))
    stale = [
        path
        for path, entry in files.items()
        if not _intact(entry, previous.get(path), found.get(path))
    ]
    written = _write_files(repo, tree, stale, files, max_file_bytes)
    kept = {path: previous[path] for path in files if path not in written}
    _save_manifest(scratch, {**kept, **written})
    # Linters honour .gitignore only inside a git repository (ruff's walker asks for
    # a `.git`); an empty marker gives them that without a repository anyone could use.
    (tree / ".git").mkdir(exist_ok=True)
    skipped_files = tuple(sorted(skipped.items()))
    return Checkout(tree.resolve(), frozenset(files), skipped_files, max_file_bytes)


def _load_manifest(scratch: Path) -> dict[str, list[object]]:
    try:
        with (scratch / MANIFEST).open(encoding="utf-8") as handle:
            loaded = json.load(handle)
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _save_manifest(scratch: Path, manifest: dict[str, list[object]]) -> None:
    staging = scratch / f"{MANIFEST}.new"
    staging.write_text(json.dumps(manifest), encoding="utf-8")
    staging.replace(scratch / MANIFEST)


def _intact(entry: TreeEntry, recorded: object, found: os.stat_result | None) -> bool:
    """The file holds this blob already: the manifest says so and the file on disk is
    still the regular file that was written (size and modification time)."""
    if found is None or not isinstance(recorded, list) or len(recorded) != 4:
        return False
    oid, mode, size, mtime_ns = recorded
    return (
        oid == entry.oid
        and mode == entry.mode
        and size == found.st_size
        and mtime_ns == found.st_mtime_ns
    )


class _Directories:
    """Directory descriptors under the tree, opened without following any link and
    created where missing, so a file is never written through a link."""

    def __init__(self, root: Path) -> None:
        self.fds = {"": os.open(root, _DIR_FLAGS)}

    def fd(self, directory: str) -> int:
        if directory in self.fds:
            return self.fds[directory]
        parent, _, name = directory.rpartition("/")
        parent_fd = self.fd(parent)
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            os.mkdir(name, 0o755, dir_fd=parent_fd)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        self.fds[directory] = fd
        return fd

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)


def _write_files(
    repo: Path, tree: Path, paths: list[str], files: dict[str, TreeEntry], max_bytes: int
) -> dict[str, list[object]]:
    """Write each path's blob; returns their manifest entries."""
    by_oid: dict[str, list[str]] = {}
    for path in paths:
        by_oid.setdefault(files[path].oid, []).append(path)
    written: dict[str, list[object]] = {}
    directories = _Directories(tree)
    try:
        for oid, content in stream_blobs(repo, list(by_oid), max_bytes):
            for path in by_oid[oid]:
                entry = files[path]
                directory, _, name = path.rpartition("/")
                dir_fd = directories.fd(directory)
                mode = 0o755 if entry.mode == "100755" else 0o644
                found = _write_file(dir_fd, name, content, mode)
                written[path] = [entry.oid, entry.mode, found.st_size, found.st_mtime_ns]
    finally:
        directories.close()
    return written


def _write_file(dir_fd: int, name: str, content: bytes, mode: int) -> os.stat_result:
    try:
        fd = os.open(name, _FILE_FLAGS, mode, dir_fd=dir_fd)
    except OSError:  # a link, a directory or a FIFO where the file goes: replace it
        _remove_at(dir_fd, name)
        fd = os.open(name, _FILE_FLAGS | os.O_EXCL, mode, dir_fd=dir_fd)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
        return os.fstat(fd)
    finally:
        os.close(fd)


def _remove_at(dir_fd: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        found = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(found.st_mode):
            fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            try:
                _rmtree_fd(fd)
            finally:
                os.close(fd)
            os.rmdir(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)


def _rmtree_fd(fd: int) -> None:
    for name in os.listdir(fd):
        _remove_at(fd, name)


def _keep_only(tree: str, tracked: set[str]) -> dict[str, os.stat_result]:
    """Delete everything under `tree` that is not a tracked regular file or one of
    their directories (the `.git` marker aside; links are removed, never followed);
    returns what is kept: path → its stat."""
    directories = {""}
    for tracked_path in tracked:
        parent = tracked_path.rpartition("/")[0]
        while parent not in directories:
            directories.add(parent)
            parent = parent.rpartition("/")[0]
    kept: dict[str, os.stat_result] = {}
    pending = [("", tree)]
    while pending:
        prefix, directory = pending.pop()
        with os.scandir(directory) as entries:
            for item in entries:
                rel = prefix + item.name
                if item.is_dir(follow_symlinks=False):
                    if rel in directories:
                        pending.append((rel + "/", item.path))
                    elif rel != ".git":
                        shutil.rmtree(item.path)
                elif rel in tracked and item.is_file(follow_symlinks=False):
                    kept[rel] = item.stat(follow_symlinks=False)
                else:
                    os.unlink(item.path)  # a link (never followed), a FIFO, a leftover
    return kept


def read_checkout_file(checkout: Checkout, path: str, limit: int | None = None) -> bytes | None:
    """A checked-out file's content (at most `limit` bytes when given), read without
    following a link; None when the checkout does not hold it as a regular file."""
    if path not in checkout.files:
        return None
    try:
        fd = os.open(checkout.root / path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        found = os.fstat(handle.fileno())
        if not stat.S_ISREG(found.st_mode):
            return None
        # Written within the size limit; whatever a linter did to it since, no more.
        cap = checkout.max_file_bytes if limit is None else min(limit, checkout.max_file_bytes)
        return handle.read(cap)
