"""Resolve a ref to a commit sha by reading the repository's files, with no process.

The cache-hit path asks "what is HEAD now?" on every scheduled run; answering it by
reading `.git/HEAD`, loose refs and `packed-refs` costs no `git` process at all.
Whatever cannot be decided from files alone (a packed annotated tag without a peeled
line, an abbreviated sha, `main~2`, a reftable repository) returns None, and the
caller falls back to one `git rev-parse`.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# Refs that live in each worktree's own git dir (with HEAD, ORIG_HEAD and other
# top-level pseudo-refs); all others live in the common dir.
_PER_WORKTREE = ("refs/bisect/", "refs/worktree/", "refs/rewritten/")
# Revision syntax only git can evaluate (main~2, HEAD^, @{u}, sha:path), or a path escape.
_NOT_A_PLAIN_REF = re.compile(r"[~^:@\\\s*?\[]|\.\.|^/|^-")


class NotARepository(Exception):
    """The path holds no git directory we can read."""


@dataclass(frozen=True)
class GitDirs:
    """`git_dir` holds HEAD (per worktree); `common_dir` holds refs and objects."""

    git_dir: Path
    common_dir: Path


def _is_bare(path: Path) -> bool:
    return all(((path / "HEAD").is_file(), (path / "objects").is_dir(), (path / "refs").is_dir()))


def _is_linked(path: Path) -> bool:
    # A linked worktree's git dir (.git/worktrees/<name>) has HEAD and commondir.
    return (path / "HEAD").is_file() and (path / "commondir").is_file()


def find_git_dirs(repo: Path) -> GitDirs:
    """Find the git dir of a work tree (`.git` directory or `.git` file pointing
    elsewhere, as in linked worktrees and submodules) or of a bare repository."""
    dot_git = repo / ".git"
    if dot_git.is_dir():
        git_dir = dot_git
    elif dot_git.is_file():
        text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
        if not text.startswith("gitdir:"):
            raise NotARepository(str(repo))
        git_dir = (repo / text.removeprefix("gitdir:").strip()).resolve()
    elif _is_bare(repo) or _is_linked(repo):
        git_dir = repo
    else:
        raise NotARepository(str(repo))
    if not (git_dir / "HEAD").is_file():
        raise NotARepository(str(repo))
    common = git_dir
    commondir_file = git_dir / "commondir"
    if commondir_file.is_file():
        common = (git_dir / commondir_file.read_text(encoding="utf-8").strip()).resolve()
    return GitDirs(git_dir=git_dir, common_dir=common)


def _candidates(ref: str) -> list[str]:
    # The order `git rev-parse` tries (gitrevisions(7), "<refname>").
    if ref == "HEAD" or ref.startswith("refs/"):
        return [ref]
    return [
        ref,
        f"refs/{ref}",
        f"refs/tags/{ref}",
        f"refs/heads/{ref}",
        f"refs/remotes/{ref}",
        f"refs/remotes/{ref}/HEAD",
    ]


def _packed_refs(common_dir: Path) -> tuple[dict[str, str], dict[str, str], bool]:
    """(ref → sha, ref → peeled commit sha, fully_peeled)."""
    refs: dict[str, str] = {}
    peeled: dict[str, str] = {}
    fully_peeled = False
    path = common_dir / "packed-refs"
    if not path.is_file():
        return refs, peeled, fully_peeled
    last = ""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("#"):
            fully_peeled = "fully-peeled" in line.split()
        elif line.startswith("^"):
            peeled[last] = line[1:].strip()
        elif " " in line:
            sha, name = line.split(" ", 1)
            refs[name.strip()] = sha
            last = name.strip()
    return refs, peeled, fully_peeled


def _loose_object_type(common_dir: Path, sha: str) -> str | None:
    path = common_dir / "objects" / sha[:2] / sha[2:]
    try:
        with path.open("rb") as handle:
            head = zlib.decompressobj().decompress(handle.read(64), 32)
    except (OSError, zlib.error):
        return None  # packed, or unreadable: let git decide
    return head.split(b" ", 1)[0].decode("ascii", "replace")


def _read_ref(dirs: GitDirs, name: str, depth: int = 0) -> str | None:
    """The sha `name` points at (following symbolic refs), '' if no such ref,
    None if the files cannot tell."""
    if depth > 5:
        return None
    per_worktree = not name.startswith("refs/") or name.startswith(_PER_WORKTREE)
    base = dirs.git_dir if per_worktree else dirs.common_dir
    path = base / name
    if path.is_file():
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("ref:"):
            return _read_ref(dirs, text.removeprefix("ref:").strip(), depth + 1)
        if not _SHA.match(text):
            return None
        if name.startswith("refs/tags/"):
            kind = _loose_object_type(dirs.common_dir, text)
            if kind != "commit":
                return None  # an annotated tag (or unknown): git peels it
        return text
    packed, peeled, fully_peeled = _packed_refs(dirs.common_dir)
    if name in packed:
        if name in peeled:
            return peeled[name]
        if name.startswith("refs/tags/") and not fully_peeled:
            return None
        return packed[name]
    return ""


def resolve_ref_from_files(repo: Path, ref: str = "HEAD") -> str | None:
    """The commit sha `ref` names, read from files alone; None when only git can tell
    (the caller then runs one `git rev-parse`). Raises NotARepository."""
    dirs = find_git_dirs(repo)
    if (dirs.common_dir / "reftable").is_dir():
        return None
    if _SHA.match(ref) or _NOT_A_PLAIN_REF.search(ref):
        return None  # a sha's existence, or revision syntax: git must evaluate it
    for candidate in _candidates(ref):
        found = _read_ref(dirs, candidate)
        if found is None:
            return None
        if found:
            return found
    return None
