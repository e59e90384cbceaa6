"""The engine's side of not-reviewed files: stored with the review, and carried to the
next review of the chain, which must review them or list them again."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from jobs.review.budget import SkippedFile
from jobs.review.finding import Finding, finding_fingerprint
from jobs.review.reviewers import ReviewerOutput, ReviewInput, reviewer_fingerprint
from tests.support.git_repo import Repo
from tests.support.reviews import Reviews, config_for, review


class OneFileAtATime:
    """A reviewer with room for one file per review: it reviews the carried files and
    the delta's first file, and lists the others as not reviewed."""

    kind = "llm"

    def __init__(self) -> None:
        self.carried_seen: list[tuple[str, ...]] = []

    def fingerprint(self) -> str:
        return reviewer_fingerprint(self.kind, "one-file", {})

    def budget_tokens(self) -> int:
        return 10**9

    def review(self, review_input: ReviewInput) -> ReviewerOutput:
        self.carried_seen.append(review_input.carried)
        wanted = [*review_input.carried, *(f.path for f in review_input.files)]
        first, rest = wanted[0], wanted[1:]
        finding = Finding(
            path=first, line=1, severity="info", category="seen", message="reviewed",
            source="llm:one-file",
        )  # fmt: skip
        return ReviewerOutput(
            findings=[finding],
            not_reviewed=[SkippedFile(p, "did not fit") for p in dict.fromkeys(rest)],
        )


def test_not_reviewed_files_are_stored_and_carried_until_reviewed(
    git_repo: Repo, lint: Reviews
) -> None:
    git_repo.commit("two files", **{"a.py": "a = 1\n", "b.py": "b = 1\n"})
    reviewer = OneFileAtATime()
    first = lint(reviewer=reviewer)
    assert [(s.path, s.reason) for s in first.skipped_files] == [("b.py", "did not fit")]
    assert first.to_json()["skipped_files"] == [{"path": "b.py", "reason": "did not fit"}]
    git_repo.commit("another", **{"c.py": "c = 1\n"})
    second = lint(reviewer=reviewer)
    assert reviewer.carried_seen == [(), ("b.py",)]
    assert {f.path for f in second.shown} == {"a.py", "b.py"}  # b.py reviewed at last
    assert [s.path for s in second.skipped_files] == ["c.py"]  # … and c.py waits its turn


class ChangedFilesOnly:
    """A partial reviewer (like a model): one finding per file the delta changes."""

    kind = "llm"

    def fingerprint(self) -> str:
        return reviewer_fingerprint(self.kind, "changed-only", {})

    def budget_tokens(self) -> int:
        return 10**9

    def review(self, review_input: ReviewInput) -> ReviewerOutput:
        findings = [
            Finding(path=f.path, line=1, severity="info", category="seen",
                    message="looked at", source="llm:changed-only")
            for f in review_input.files
        ]  # fmt: skip
        return ReviewerOutput(findings=findings)


def test_a_partial_reviewer_keeps_a_renamed_files_finding_under_its_new_path(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("one", **{"a.py": "a = 1\n"})
    reviewer, config = ChangedFilesOnly(), config_for(git_repo)
    [first] = review(engine, config, tmp_path, reviewer=reviewer).findings
    git_repo.git("mv", "a.py", "b.py")
    git_repo.commit("rename only")  # no hunks: the reviewer is given nothing to look at
    delta = review(engine, config, tmp_path, reviewer=reviewer)
    assert [(f.id, f.path, f.status) for f in delta.findings] == [(first.id, "b.py", "open")]
    assert delta.findings[0].fingerprint == finding_fingerprint(
        Finding(path="b.py", line=1, severity="info", category="seen", message="looked at",
                source="llm:changed-only")
    )  # fmt: skip
