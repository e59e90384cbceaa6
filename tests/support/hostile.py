"""Repositories an attacker commits: links out of the checkout, hostile linter
configs, oversized files. Made with the git binary, as an author would push them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tests.support.git_repo import Repo

# An identifier only the file outside the repository holds: a finding naming it means
# opsdesk (or a linter) read that file.
OUTSIDE_SECRET = "outside_settings_identifier_0451"


@dataclass
class Outside:
    """This host's files a hostile commit points at, all outside the repository."""

    root: Path

    @property
    def settings(self) -> Path:  # a readable Python file with an undefined name in it
        return self.root / "settings.py"

    @property
    def created(self) -> Path:  # a path that must never come to exist
        return self.root / "created-by-opsdesk.toml"

    @property
    def directory(self) -> Path:
        return self.root / "a-directory"


def outside(tmp_path: Path) -> Outside:
    place = Outside(tmp_path / "elsewhere")
    place.root.mkdir()
    place.settings.write_text(f"value = {OUTSIDE_SECRET}\n")
    place.directory.mkdir()
    return place


def link(repo: Repo, path: str, target: str | Path) -> None:
    full = repo.path / path
    full.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(str(target), full)


def commit_hostile_links(repo: Repo, place: Outside, big_bytes: int) -> str:
    """One commit holding every link and oversized file of the attack list, beside an
    ordinary Python file with one real finding (so the review demonstrably ran)."""
    base = repo.commit("base", **{"README.md": "demo\n"})
    repo.write("app.py", "import os\n")  # F401: the review's one real finding
    link(repo, "pyproject.toml", "/dev/zero")
    link(repo, "zero.py", "/dev/zero")
    link(repo, "x.sh", "/dev/zero")
    link(repo, "leak.py", place.settings)
    link(repo, "passwd.py", "/etc/passwd")
    link(repo, "ruff.toml", place.created)  # dangling: writing it would create the file
    link(repo, "pkg/ruff.toml", place.directory)
    link(repo, "pkg/inner.py", "../app.py")  # even a link that stays inside
    repo.write("big.py", b"x = 1\n" * (big_bytes // 6 + 1))
    repo.git("add", "-A")
    # A submodule entry (a gitlink to any commit): checked out as nothing at all.
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{base},vendored-sub")
    repo.git("commit", "-q", "-m", "hostile")
    return repo.git("rev-parse", "HEAD")


LINKS = {
    "pyproject.toml",
    "zero.py",
    "x.sh",
    "leak.py",
    "passwd.py",
    "ruff.toml",
    "pkg/ruff.toml",
    "pkg/inner.py",
}
