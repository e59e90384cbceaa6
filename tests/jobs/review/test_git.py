from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from jobs.review.git import (
    GitError,
    count_commits,
    diff_text,
    ensure_clone,
    is_ancestor,
    renames,
    repository_root,
    resolve_ref,
    tree_sizes,
)
from jobs.review.objects import read_files
from tests.support.git_repo import Repo


def rev_parse(path: Path, ref: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), "rev-parse", f"{ref}^{{commit}}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def history(git_repo: Repo) -> Repo:
    git_repo.commit("one", **{"a.py": "x = 1\n"})
    git_repo.commit("two", **{"a.py": "x = 2\n"})
    git_repo.git("tag", "light")
    git_repo.git("tag", "-a", "annotated", "-m", "release")
    git_repo.git("branch", "feature")
    return git_repo


@pytest.mark.parametrize(
    "ref", ["HEAD", "main", "feature", "refs/heads/main", "light", "annotated", "HEAD~1"]
)
def test_refs_resolve_like_rev_parse(history: Repo, ref: str) -> None:
    assert resolve_ref(history.path, ref) == rev_parse(history.path, ref)


def test_packed_refs_resolve_including_annotated_tags(history: Repo) -> None:
    history.git("pack-refs", "--all")
    assert not (history.path / ".git/refs/heads/main").exists()
    for ref in ("HEAD", "main", "feature", "light", "annotated"):
        assert resolve_ref(history.path, ref) == rev_parse(history.path, ref)


def test_detached_head_resolves(history: Repo) -> None:
    first = history.git("rev-list", "--max-parents=0", "HEAD")
    history.git("checkout", "-q", "--detach", first)
    assert resolve_ref(history.path, "HEAD") == first


def test_bare_repository_resolves(history: Repo, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(history.path), str(bare)], check=True)
    for ref in ("HEAD", "main", "feature"):
        assert resolve_ref(bare, ref) == rev_parse(bare, ref)


def test_linked_worktree_resolves_its_own_head(history: Repo, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    history.git("worktree", "add", "-q", str(linked), "feature")
    Repo(linked).commit("on feature", **{"b.py": "y = 1\n"})
    assert (linked / ".git").is_file()
    assert resolve_ref(linked, "HEAD") == rev_parse(linked, "HEAD")
    assert resolve_ref(linked, "HEAD") != resolve_ref(history.path, "HEAD")
    assert resolve_ref(linked, "main") == rev_parse(history.path, "main")


def test_a_subdirectory_belongs_to_its_repository(history: Repo, tmp_path: Path) -> None:
    (history.path / "pkg" / "sub").mkdir(parents=True)
    assert repository_root(history.path / "pkg" / "sub") == history.path.resolve()
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(history.path), str(bare)], check=True)
    assert repository_root(bare) == bare.resolve()
    plain = tmp_path / "plain"
    plain.mkdir()
    assert repository_root(plain) is None


def test_renames_map_old_paths_to_new(history: Repo) -> None:
    base = history.git("rev-parse", "HEAD")
    history.git("mv", "a.py", "b.py")
    head = history.commit("rename")
    assert renames(history.path, base, head) == {"a.py": "b.py"}


def test_unknown_ref_is_a_clear_error(history: Repo) -> None:
    with pytest.raises(GitError, match="unknown ref 'mian'"):
        resolve_ref(history.path, "mian")


def test_a_plain_directory_is_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a git repository"):
        resolve_ref(tmp_path, "HEAD")


def test_ancestry_and_commit_counts(history: Repo) -> None:
    first = history.git("rev-list", "--max-parents=0", "HEAD")
    head = resolve_ref(history.path)
    assert is_ancestor(history.path, first, head)
    assert not is_ancestor(history.path, head, first)
    assert count_commits(history.path, first, head) == 1
    assert count_commits(history.path, None, head) == 2


def test_full_diff_is_against_the_empty_tree(history: Repo) -> None:
    text = diff_text(history.path, None, resolve_ref(history.path))
    assert "new file mode" in text and "+x = 2" in text


def test_blobs_and_sizes_are_read_at_the_commit_not_the_work_tree(history: Repo) -> None:
    head = resolve_ref(history.path)
    history.write("a.py", "x = 'edited but not committed'\n")
    blobs = read_files(history.path, head, ["a.py", "missing.py", "a.py"], max_bytes=100)
    assert blobs == {"a.py": b"x = 2\n"}
    assert read_files(history.path, head, ["a.py"], max_bytes=5) == {}  # larger than the limit
    assert tree_sizes(history.path, head) == {"a.py": 6}


def test_clone_then_fetch_into_a_bare_mirror(history: Repo, tmp_path: Path) -> None:
    dest = tmp_path / "data" / "repos" / "demo.git"
    assert ensure_clone(str(history.path), dest) == dest
    assert resolve_ref(dest, "main") == resolve_ref(history.path, "main")
    newer = history.commit("three", **{"c.py": "z = 3\n"})
    ensure_clone(str(history.path), dest)
    assert resolve_ref(dest, "main") == newer


def test_clone_failure_is_a_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "data" / "nope.git"
    with pytest.raises(GitError, match="cannot clone"):
        ensure_clone(str(tmp_path / "does-not-exist"), dest)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []
