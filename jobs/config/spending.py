"""What model reviews may cost: prices per model ([models."NAME"]) and the monthly
budgets ([budget], [budget.repos.NAME]) that jobs/usage checks reviews against."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from jobs.config.values import Strict, Target


class ModelPrice(Strict):
    """What a hosted model charges per million tokens: usage shows money with these.
    Every priced model is in one currency."""

    input_per_million: float = Field(ge=0, le=1_000_000)
    output_per_million: float = Field(ge=0, le=1_000_000)
    currency: str = Field(default="USD", pattern=r"^[A-Za-z$€£¥]{1,5}$")


OnExhausted = Literal["alert", "lint", "pause"]


class BudgetLimit(Strict):
    """A monthly ceiling in tokens (in and out) and/or money (at the [models] prices)."""

    monthly_tokens: int | None = Field(default=None, ge=1)
    monthly_cost: float | None = Field(default=None, gt=0)
    # At 100%: alert only, review with the linters instead, or pause model reviews.
    on_exhausted: OnExhausted | None = None  # default: [budget] on_exhausted


class BudgetConfig(BudgetLimit):
    """The deployment's budget (the keys of BudgetLimit) and each repository's."""

    on_exhausted: OnExhausted | None = "alert"
    # Percentages of a ceiling that post an alert when crossed, once a month each.
    thresholds: list[int] = Field(default_factory=lambda: [80, 100])
    # Where alerts go; default: [digest] post_to.
    post_to: list[Target] = Field(default_factory=list)
    repos: dict[str, BudgetLimit] = Field(default_factory=dict)

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, values: list[int]) -> list[int]:
        if not values or any(not 1 <= v <= 100 for v in values):
            raise ValueError("thresholds are percentages from 1 to 100, e.g. [80, 100]")
        return sorted(set(values))
