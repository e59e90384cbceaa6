"""A model review within the model budgets: the check before the first call, and what
its policy does — `pause` refuses (BudgetPaused, recorded as the run's reason),
`lint` has the linters review instead (their review notes why), `alert` goes on."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.context import Context
from jobs.review.lint.reviewer import LintReviewer
from jobs.review.llm.reviewer import LlmReviewer
from jobs.review.reviewers import ReviewerError, ReviewerOutput, ReviewInput
from jobs.usage import gate


class BudgetPaused(ReviewerError):
    """A model budget is spent (or this review would pass it) and its policy is
    `pause`: the model is not called; the run row says why."""


class LintInstead(Exception):
    """A model budget's policy is `lint`: the linters review this commit instead."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class FallbackReviewer:
    """The lint reviewer standing in for the model, saying why in the review's notes."""

    lint: LintReviewer
    reason: str
    kind: str = "lint"

    def fingerprint(self) -> str:
        return self.lint.fingerprint()

    def budget_tokens(self) -> int:
        return self.lint.budget_tokens()

    def review(self, review_input: ReviewInput) -> ReviewerOutput:
        output = self.lint.review(review_input)
        return output.model_copy(update={"notes": [*output.notes, self.reason]})


def check_budget(
    context: Context, repo: str, reviewer: LlmReviewer, review_input: ReviewInput
) -> None:
    """Before the first call: a spent budget's policy, or that of one this review alone
    would pass, decides (pause: refused; lint: the linters instead; alert: go on)."""
    if not gate.has_budgets(context):
        return  # nothing to check: no planning either
    planned = reviewer.planned_tokens(review_input)
    verdict = gate.before_model_review(context, repo, planned, reviewer.config.model)
    if verdict.policy == "pause":
        raise BudgetPaused(verdict.reason)
    if verdict.policy == "lint":
        raise LintInstead(verdict.reason)
