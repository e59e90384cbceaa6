"""The scratch checkout: exactly the commit's files, reused, the user's repository untouched."""

from __future__ import annotations

import subprocess
from pathlib import Path

from jobs.review.checkout import check_out, scratch_name
from jobs.review.objects import is_safe_path
from tests.support.files import snapshot
from tests.support.git_repo import Repo


def files_under(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_a_checkout_holds_exactly_the_commits_files(git_repo: Repo, tmp_path: Path) -> None:
    first = git_repo.commit("one", **{"a.py": "x = 1\n", "pkg/b.py": "y = 2\n", "gone/c.txt": "c"})
    git_repo.git("rm", "-q", "-r", "gone")
    second = git_repo.commit("two", **{"a.py": "x = 3\n", "new.py": "z = 4\n"})
    scratch = tmp_path / "scratch"
    checkout = check_out(git_repo.path, first, scratch)
    assert files_under(checkout.root) == {"a.py", "pkg/b.py", "gone/c.txt"}
    (checkout.root / "pkg" / "leftover.py").write_text("import os\n")  # a linter's stray file
    (checkout.root / "cache").mkdir()
    (checkout.root / "cache" / "x").write_text("x")
    checkout = check_out(git_repo.path, second, scratch)
    assert files_under(checkout.root) == {"a.py", "pkg/b.py", "new.py"} == set(checkout.files)
    assert (checkout.root / "a.py").read_text() == "x = 3\n"
    assert not (checkout.root / "gone").exists()
    assert (checkout.root / ".git").is_dir() and not any((checkout.root / ".git").iterdir())


def test_a_reused_checkout_rewrites_only_what_changed(git_repo: Repo, tmp_path: Path) -> None:
    first = git_repo.commit("one", **{"same.py": "x = 1\n", "changed.py": "y = 1\n"})
    second = git_repo.commit("two", **{"changed.py": "y = 2\n"})
    scratch = tmp_path / "scratch"
    root = check_out(git_repo.path, first, scratch).root
    same_before = (root / "same.py").stat().st_ino, (root / "same.py").stat().st_mtime_ns
    check_out(git_repo.path, second, scratch)
    assert ((root / "same.py").stat().st_ino, (root / "same.py").stat().st_mtime_ns) == same_before
    assert (root / "changed.py").read_text() == "y = 2\n"


def test_the_users_repository_is_never_written(git_repo: Repo, tmp_path: Path) -> None:
    first = git_repo.commit("one", **{"a.py": "x = 1\n"})
    second = git_repo.commit("two", **{"a.py": "x = 2\n"})
    git_repo.write("a.py", "uncommitted\n")
    git_dir = snapshot(git_repo.path / ".git")
    check_out(git_repo.path, first, tmp_path / "scratch")
    check_out(git_repo.path, second, tmp_path / "scratch")
    assert snapshot(git_repo.path / ".git") == git_dir
    assert (git_repo.path / "a.py").read_text() == "uncommitted\n"
    assert git_repo.git("worktree", "list").count("\n") == 0  # no worktree was registered


def test_a_bare_repository_and_a_damaged_index_check_out(git_repo: Repo, tmp_path: Path) -> None:
    head = git_repo.commit("one", **{"a.py": "x = 1\n"})
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(git_repo.path), str(bare)], check=True)
    scratch = tmp_path / "scratch"
    bare_before = snapshot(bare)
    check_out(bare, head, scratch)
    assert snapshot(bare) == bare_before
    (scratch / "index").write_bytes(b"not an index")
    assert files_under(check_out(bare, head, scratch).root) == {"a.py"}


def test_scratch_names_are_safe_and_distinct() -> None:
    long_a = "local:/" + "x" * 120 + "/a"
    long_b = "local:/" + "y" * 120 + "/a"
    assert scratch_name(long_a) != scratch_name(long_b)
    assert "/" not in scratch_name("local:/home/me/repo") and len(scratch_name(long_a)) <= 61


def test_only_paths_that_stay_inside_the_tree_and_name_no_git_are_safe() -> None:
    safe = ["a.py", "pkg/mod.py", "a..b/c", "pkg/x.git/y", "dir/gitx", "é/ü.py"]
    unsafe = ["", "/etc/passwd", "a//b", "a/", ".", "./a", "a/./b", "..", "a/../b", ".git",
              ".GIT/config", "pkg/.git/hooks/x", "pkg/.Git", "a\\b", "a\0b"]  # fmt: skip
    assert [p for p in safe if not is_safe_path(p)] == []
    assert [p for p in unsafe if is_safe_path(p)] == []
    # Dotted names are looked at closely, and only ".", ".." and ".git" refused.
    assert is_safe_path(".github/workflows/ci.yml") and is_safe_path("pkg/.ruff.toml")
