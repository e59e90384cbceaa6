from __future__ import annotations

from jobs.config.schema import LlmReviewerConfig
from jobs.review.budget import OVER_BUDGET, pack_files, render_file
from jobs.review.diff import parse_diff
from jobs.review.git import diff_text
from jobs.review.llm.prompt import review_messages
from jobs.review.llm.sizing import PromptSizer, delta_and_full_tokens, full_tree_tokens
from jobs.review.tokens import Calibration, estimate_message_tokens, estimate_tokens
from tests.standins.model_server import count_tokens
from tests.support.git_repo import Repo


def module(lines: int, tag: str) -> str:
    return "".join(f"value_{tag}_{n} = {n}  # some commentary to make the line longer\n"
                   for n in range(lines))  # fmt: skip


def test_token_estimate_counts_pieces_not_characters() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("a.b(c)") == 6  # every mark its own token: not len/4 = 2
    assert estimate_tokens("é") == 2  # a token per UTF-8 byte of non-ASCII text
    assert estimate_tokens(" " * 40) == 3


def test_raw_estimate_errs_high_against_a_bpe_like_tokenizer(git_repo: Repo) -> None:
    texts = [module(50, "x"), render_file(whole("a.py", module(30, "y"))), "déjà vu ✓\n" * 20]
    for text in texts:
        assert estimate_tokens(text) >= count_tokens(text)


def whole(path: str, text: str):  # type: ignore[no-untyped-def]
    from jobs.review.llm.sizing import whole_file_diff

    return whole_file_diff(path, text)


def test_calibration_keeps_the_largest_ratio_seen_plus_a_margin() -> None:
    fresh = Calibration("m")
    assert fresh.tokens(1000) == 1000  # before the server has said anything: the raw estimate
    seen = fresh.observed(1000, 600).observed(1000, 700).observed(1000, 650)
    assert (seen.ratio, seen.samples) == (0.7, 3)
    assert seen.tokens(1000) == 750  # sizing a prompt: the largest ratio, plus a margin
    assert seen.expected(1000) == 650  # a figure: the typical ratio over all calls


def test_huge_diff_keeps_the_budget_and_lists_skipped_files(git_repo: Repo) -> None:
    files = {f"pkg/mod_{n}.py": module(40 * (n + 1), str(n)) for n in range(6)}
    files["package-lock.json"] = "{}\n"
    files["deleted_later.txt"] = "x\n"
    base = git_repo.commit("base", **{"deleted_later.txt": "x\n"})
    git_repo.git("rm", "-q", "deleted_later.txt")
    del files["deleted_later.txt"]
    head = git_repo.commit("huge", **files)
    diff = parse_diff(diff_text(git_repo.path, base, head))

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


def test_files_are_ordered_by_language_then_size(git_repo: Repo) -> None:
    head = git_repo.commit(
        "mixed",
        **{"b.py": module(20, "b"), "a.py": module(5, "a"), "x.go": "package x\n", "n.md": "hi\n"},
    )
    packed = pack_files(parse_diff(diff_text(git_repo.path, None, head)), budget_tokens=100_000)
    assert [f.path for f in packed.files] == ["x.go", "a.py", "b.py", "n.md"]
    assert packed.added_lines["a.py"] == frozenset(range(1, 6))


def test_rendered_lines_carry_new_file_line_numbers(git_repo: Repo) -> None:
    base = git_repo.commit("base", **{"a.py": "one = 1\ntwo = 2\nthree = 3\n"})
    head = git_repo.commit("edit", **{"a.py": "one = 1\ntwo = 22\nthree = 3\n"})
    (file,) = parse_diff(diff_text(git_repo.path, base, head))
    assert render_file(file).splitlines() == [
        "### a.py [modified]",
        "@@ lines 1-3 @@",
        "     1 | one = 1",
        "-      | two = 2",
        "+    2 | two = 22",
        "     3 | three = 3",
    ]


def test_full_tree_tokens_are_the_prompts_a_full_review_would_send(git_repo: Repo) -> None:
    sizer = PromptSizer(LlmReviewerConfig(), Calibration("m"))
    code = {"a.py": module(10, "a"), "docs/b.md": "# Title\n\nSome words.\n"}
    head = git_repo.commit("tree", **code)
    baseline = full_tree_tokens(git_repo.path, head, sizer)
    files = [whole(path, text) for path, text in sorted(code.items())]
    plan = sizer.plan(files)
    assert baseline == sizer.review_tokens(plan) > 0
    fixed = estimate_message_tokens(review_messages(()))
    assert plan.costs == [sum(estimate_tokens(render_file(f)) for f in p) for p in plan.pieces]
    assert baseline == sum(fixed + cost for cost in plan.costs)  # no calibration yet
    # Lock files, logos and binaries change nothing: the same skip rules as a review.
    noise = {"uv.lock": "z" * 4000, "logo.png": b"\x89PNG\0" * 99, "data.bin": b"\0\1" * 500}
    head = git_repo.commit("noise", **noise)
    assert full_tree_tokens(git_repo.path, head, sizer) == baseline


def test_delta_and_full_tokens_count_both_sides_alike(git_repo: Repo) -> None:
    files = {f"pkg/m{n}.py": module(40, str(n)) for n in range(8)}
    base = git_repo.commit("base", **files)
    head = git_repo.commit("edit", **{"pkg/m3.py": files["pkg/m3.py"] + "extra = 1\n"})
    delta, full = delta_and_full_tokens(git_repo.path, base, head)
    sizer = PromptSizer(LlmReviewerConfig(), Calibration(LlmReviewerConfig().model))
    assert full == full_tree_tokens(git_repo.path, head, sizer)
    assert 0 < delta < full / 5
    assert delta_and_full_tokens(git_repo.path, head, head) == (0, full)  # nothing changed


def test_planning_reuses_counts_only_for_the_packed_files_themselves(git_repo: Repo) -> None:
    base = git_repo.commit("base", **{"a.py": module(30, "a")})
    head = git_repo.commit("edit", **{"a.py": module(30, "a") + "extra = 1\n"})
    packed = pack_files(parse_diff(diff_text(git_repo.path, base, head)), budget_tokens=10**9)
    sizer = PromptSizer(LlmReviewerConfig(), Calibration("m"))
    (delta,) = packed.files
    assert sizer.plan([delta], packed).costs == [packed.file_tokens["a.py"]]
    # The whole file at head (a carried path) has the same path but is counted anew.
    whole_file = whole("a.py", module(30, "a") + "extra = 1\n")
    assert sizer.plan([whole_file], packed).costs == [estimate_tokens(render_file(whole_file))]
    assert packed.file_tokens["a.py"] < estimate_tokens(render_file(whole_file))
