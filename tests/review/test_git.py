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
    read_blobs,
    resolve_ref,
    tree_sizes,
)
from jobs.review.refs import resolve_ref_from_files

from .conftest import Repo


def rev_parse(path: Path, ref: str) -> str:
    return subprocess.run(
        ["git", "-C", str(path), "rev-parse", f"{ref}^{{commit}}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def history(repo: Repo) -> Repo:
    repo.commit("one", **{"a.py": "x = 1\n"})
    repo.commit("two", **{"a.py": "x = 2\n"})
    repo.git("tag", "light")
    repo.git("tag", "-a", "annotated", "-m", "release")
    repo.git("branch", "feature")
    return repo


@pytest.mark.parametrize("ref", ["HEAD", "main", "feature", "refs/heads/main", "light"])
def test_refs_resolve_from_files_like_rev_parse(history: Repo, ref: str) -> None:
    assert resolve_ref_from_files(history.path, ref) == rev_parse(history.path, ref)


def test_packed_refs_resolve_from_files_including_peeled_tags(history: Repo) -> None:
    history.git("pack-refs", "--all")
    assert not (history.path / ".git/refs/heads/main").exists()
    for ref in ("HEAD", "main", "feature", "light", "annotated"):
        assert resolve_ref_from_files(history.path, ref) == rev_parse(history.path, ref)


def test_detached_head_resolves_from_files(history: Repo) -> None:
    first = history.git("rev-list", "--max-parents=0", "HEAD")
    history.git("checkout", "-q", "--detach", first)
    assert resolve_ref_from_files(history.path, "HEAD") == first


def test_bare_repository_resolves_from_files(history: Repo, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(history.path), str(bare)], check=True)
    for ref in ("HEAD", "main", "feature"):
        assert resolve_ref_from_files(bare, ref) == rev_parse(bare, ref)


def test_linked_worktree_resolves_its_own_head(history: Repo, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    history.git("worktree", "add", "-q", str(linked), "feature")
    Repo(linked).commit("on feature", **{"b.py": "y = 1\n"})
    assert (linked / ".git").is_file()
    assert resolve_ref_from_files(linked, "HEAD") == rev_parse(linked, "HEAD")
    assert resolve_ref_from_files(linked, "HEAD") != resolve_ref_from_files(history.path, "HEAD")
    assert resolve_ref_from_files(linked, "main") == rev_parse(history.path, "main")


def test_revision_syntax_falls_back_to_one_rev_parse(history: Repo) -> None:
    assert resolve_ref_from_files(history.path, "HEAD~1") is None
    assert resolve_ref(history.path, "HEAD~1") == rev_parse(history.path, "HEAD~1")
    assert resolve_ref(history.path, "annotated") == rev_parse(history.path, "annotated")


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
    blobs = read_blobs(history.path, head, ["a.py", "missing.py", "a.py"])
    assert blobs == {"a.py": b"x = 2\n"}
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
