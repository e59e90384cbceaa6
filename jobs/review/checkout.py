"""A full checkout of one commit in opsdesk's own scratch space, reused between reviews.

Linters must see the reviewed commit exactly as a developer's fresh checkout shows
it: every file, the repository's own configuration, nothing else. The user's
repository is never written to: no `git worktree add` (it registers the worktree
inside .git), no change to its index or HEAD. Instead git reads the repository's
objects and writes a private index and work tree under `<scratch>`:

    GIT_INDEX_FILE=<scratch>/index git -C <repo> --work-tree=<scratch>/tree \
        read-tree --reset -u <sha>

With the index kept from the last review, `read-tree` rewrites only the files that
differ and removes the ones that are gone, so a reused checkout costs about as much
as the delta. Anything else found in the tree (a linter's leftovers) is removed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from jobs.review.git import GitError, run_git

TREE = "tree"
INDEX = "index"
# Keep the user's repository settings that would reach outside the scratch space
# (a filesystem monitor, a sparse pattern, a shared untracked cache) out of it.
_ISOLATING_SETTINGS = (
    "core.fsmonitor=false",
    "core.untrackedCache=false",
    "core.sparseCheckout=false",
    "core.hooksPath=/dev/null",
    # Files in git LFS are written as their pointers, whether or not git-lfs is installed
    # (a repository set up with it would otherwise fail here without it): lfs.py
    # materialises the ones a linter reads.
    "filter.lfs.process=",
    "filter.lfs.smudge=",
    "filter.lfs.required=false",
)
_ISOLATING_CONFIG = tuple(arg for setting in _ISOLATING_SETTINGS for arg in ("-c", setting))
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def scratch_name(repo_name: str) -> str:
    """A directory name for a repository: readable, and unique however long the name."""
    digest = hashlib.sha256(repo_name.encode("utf-8")).hexdigest()[:12]
    readable = _UNSAFE.sub("_", repo_name).strip("._")[-48:] or "repo"
    return f"{readable}-{digest}"


@dataclass(frozen=True)
class Checkout:
    root: Path  # the checked-out tree
    files: frozenset[str]  # repository-relative paths of its files (blobs, symlinks too)


def check_out(repo: Path, sha: str, scratch: Path) -> Checkout:
    """The tree of commit `sha` at `<scratch>/tree`, updated in place from whatever
    commit it held before. Raises GitError."""
    scratch.mkdir(parents=True, exist_ok=True)
    tree = scratch / TREE
    try:
        _read_tree(repo, sha, scratch)
    except GitError:
        # A checkout interrupted half-way (or an index from another git) is rebuilt.
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        _read_tree(repo, sha, scratch)
    entries = tree_entries(repo, sha)
    _remove_untracked(tree, set(entries))
    # Linters honour .gitignore only inside a git repository (ruff's walker asks for
    # a `.git`); an empty marker gives them that without a repository anyone could use.
    (tree / ".git").mkdir(exist_ok=True)
    files = frozenset(path for path, kind in entries.items() if kind == "blob")
    return Checkout(tree.resolve(), files)


def _read_tree(repo: Path, sha: str, scratch: Path) -> None:
    tree = scratch / TREE
    tree.mkdir(exist_ok=True)
    work_tree = f"--work-tree={tree.resolve()}"
    # A private index: the user's repository is never written.
    private = {"GIT_INDEX_FILE": str((scratch / INDEX).resolve()), "GIT_LFS_SKIP_SMUDGE": "1"}
    read_tree = ("read-tree", "--reset", "-u", sha)
    run_git(repo, *_ISOLATING_CONFIG, work_tree, *read_tree, extra_env=private)


def tree_entries(repo: Path, sha: str) -> dict[str, str]:
    """Every path in the commit's tree → its kind: blob (files, symlinks) or commit
    (a submodule, checked out as an empty directory)."""
    out = run_git(repo, "ls-tree", "-r", "-z", sha).stdout
    entries: dict[str, str] = {}
    for entry in out.split(b"\0"):
        meta, tab, path = entry.partition(b"\t")
        fields = meta.split()
        if tab and len(fields) == 3:
            entries[path.decode("utf-8", "surrogateescape")] = fields[1].decode("ascii")
    return entries


def _remove_untracked(tree: Path, tracked: set[str]) -> None:
    """Delete every file under `tree` that is not in the commit; keep the `.git` marker."""
    tracked_dirs = {str(Path(p).parent) for p in tracked}
    expanded: set[str] = set()
    for directory in tracked_dirs:
        while directory not in ("", ".") and directory not in expanded:
            expanded.add(directory)
            directory = str(Path(directory).parent)
    for current, dirs, files in os.walk(tree):
        rel_dir = os.path.relpath(current, tree)
        prefix = "" if rel_dir == "." else rel_dir + "/"
        for name in list(dirs):
            rel = prefix + name
            if rel == ".git" and not prefix:
                dirs.remove(name)
                continue
            if rel in tracked:  # a submodule's (empty) directory, or a symlink to one
                dirs.remove(name)
            elif rel not in expanded:
                path = Path(current, name)
                if path.is_symlink():
                    path.unlink()
                else:
                    shutil.rmtree(path)
                dirs.remove(name)
        for name in files:
            if prefix + name not in tracked:
                Path(current, name).unlink()
