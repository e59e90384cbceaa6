"""The budget check before a model review starts, and the alerts after one spent.

`before_model_review` is asked with the review's planned prompt tokens (known before
anything is sent): when a budget that bears on the repository is spent, or this
review alone would pass its ceiling, that budget's `on_exhausted` policy decides —
`alert` lets it go on, `lint` has the linters review instead, `pause` refuses with
the reason (the run row records it)."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.config.schema import OnExhausted
from jobs.context import Context
from jobs.core.text import compact
from jobs.usage.alerts import post_crossings, until_text, usage_text
from jobs.usage.budget import BudgetState, budget_states, limits
from jobs.usage.figures import cost


@dataclass(frozen=True)
class Verdict:
    policy: OnExhausted | None  # None: within every budget
    reason: str = ""


WITHIN = Verdict(None)


def has_budgets(context: Context) -> bool:
    return bool(limits(context.config))


def before_model_review(context: Context, repo: str, planned_tokens: int, model: str) -> Verdict:
    """What the budgets say about a model review of `repo` that plans to send
    `planned_tokens` prompt tokens to `model`. Posts any alert not posted yet."""
    if not limits(context.config):
        return WITHIN
    states = budget_states(context, repo)
    post_crossings(context, states)
    price = context.config.models.get(model)
    planned_cost = cost(price, planned_tokens, 0) if price is not None else 0.0
    for state in states:  # the repository's own budget first
        if state.exhausted:
            return Verdict(state.policy, _reason(context, state, "is spent", repo))
        if state.would_exceed(planned_tokens, planned_cost):
            why = f"would be passed by this review alone ({compact(planned_tokens)} prompt tokens)"
            return Verdict(state.policy, _reason(context, state, why, repo))
    return WITHIN


def after_model_review(context: Context, repo: str) -> None:
    """Post the alerts the review's spending crossed (its run row is written)."""
    if limits(context.config):
        post_crossings(context, budget_states(context, repo))


def _reason(context: Context, state: BudgetState, why: str, repo: str) -> str:
    """'model reviews of api are paused: its monthly budget (2M of 2M tokens) is spent,
    until Jan 1, or until an admin raises it: /budget api +2M'."""
    config = context.config
    whose = "its" if state.scope != "all" else "the deployment's"
    budget = f"{whose} monthly budget ({usage_text(state, config.currency)}) {why}"
    name = repo
    timezone = config.scheduler.timezone
    if state.policy == "pause":
        return f"model reviews of {name} are paused: {budget}, {until_text(state, timezone)}"
    if state.policy == "lint":
        return f"reviewed by the linters instead of the model: {budget}"
    return f"{budget}; the review goes on (on_exhausted = alert)"
