from __future__ import annotations

from jobs.review.budget import (
    OVER_BUDGET,
    estimate_tokens,
    full_tree_tokens,
    pack_files,
    render_file,
)
from jobs.review.diff import parse_diff
from jobs.review.git import diff_text, tree_sizes

from .conftest import Repo


def module(lines: int, tag: str) -> str:
    return "".join(f"value_{tag}_{n} = {n}  # some commentary to make the line longer\n"
                   for n in range(lines))  # fmt: skip


def test_token_estimate_is_a_quarter_of_the_characters() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2


def test_huge_diff_keeps_the_budget_and_lists_skipped_files(repo: Repo) -> None:
    files = {f"pkg/mod_{n}.py": module(40 * (n + 1), str(n)) for n in range(6)}
    files["package-lock.json"] = "{}\n"
    files["deleted_later.txt"] = "x\n"
    base = repo.commit("base", **{"deleted_later.txt": "x\n"})
    repo.git("rm", "-q", "deleted_later.txt")
    del files["deleted_later.txt"]
    head = repo.commit("huge", **files)
    diff = parse_diff(diff_text(repo.path, base, head))

    packed = pack_files(diff, budget_tokens=3000)

    assert packed.tokens <= 3000
    assert packed.tokens == sum(estimate_tokens(render_file(f)) for f in packed.files)
    reviewed = {f.path for f in packed.files}
    skipped = {s.path: s.reason for s in packed.skipped}
    assert reviewed and reviewed.isdisjoint(skipped)
    assert reviewed | set(skipped) == set(files)  # nothing silently dropped
    assert skipped["package-lock.json"] == "lock file"
    assert OVER_BUDGET in skipped.values()
    assert "pkg/mod_0.py" in reviewed  # the smallest file goes first
    assert "deleted_later.txt" not in skipped  # nothing to review in a deletion


def test_files_are_ordered_by_language_then_size(repo: Repo) -> None:
    head = repo.commit(
        "mixed",
        **{"b.py": module(20, "b"), "a.py": module(5, "a"), "x.go": "package x\n", "n.md": "hi\n"},
    )
    packed = pack_files(parse_diff(diff_text(repo.path, None, head)), budget_tokens=100_000)
    assert [f.path for f in packed.files] == ["x.go", "a.py", "b.py", "n.md"]
    assert packed.added_lines["a.py"] == frozenset(range(1, 6))


def test_rendered_lines_carry_new_file_line_numbers(repo: Repo) -> None:
    base = repo.commit("base", **{"a.py": "one = 1\ntwo = 2\nthree = 3\n"})
    head = repo.commit("edit", **{"a.py": "one = 1\ntwo = 22\nthree = 3\n"})
    (file,) = parse_diff(diff_text(repo.path, base, head))
    assert render_file(file).splitlines() == [
        "### a.py [modified]",
        "@@ lines 1-3 @@",
        "     1 | one = 1",
        "-      | two = 2",
        "+    2 | two = 22",
        "     3 | three = 3",
    ]


def test_full_tree_tokens_count_every_reviewable_file(repo: Repo) -> None:
    head = repo.commit(
        "tree",
        **{"a.py": "x" * 400, "docs/b.md": "y" * 41, "uv.lock": "z" * 4000, "logo.png": b"\0" * 99},
    )
    assert full_tree_tokens(tree_sizes(repo.path, head)) == 100 + 11
