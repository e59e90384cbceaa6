"""The month in a few lines, for the digest, the operator page and /budget: each
budget's use and forecast, or, without budgets, where usage is heading."""

from __future__ import annotations

from jobs.context import Context
from jobs.usage.alerts import scope_name, usage_text
from jobs.usage.budget import BudgetState, budget_states, limits
from jobs.usage.periods import UsagePeriod
from jobs.usage.replies import forecast_line
from jobs.usage.report import UsageReport, month_forecasts, usage_report


def state_line(state: BudgetState, timezone: str, currency: str) -> str:
    """'api: 1M of 2M tokens (50%); on track for 3.1M of 2M tokens by Dec 31 — over
    from about Dec 20; at 100%: pause'."""
    line = f"{scope_name(state.scope)}: {usage_text(state, currency)} ({state.share:.0%})"
    if state.forecast is not None and state.tokens_ceiling is not None:
        line += "; " + forecast_line(state.forecast, timezone).split(": ", 1)[1]
    return line + f"; at 100%: {state.policy}"


def month_outlook(context: Context) -> list[str]:
    """Budget lines when budgets are configured, else the forecast of the deployment
    and of each repository that used the model; [] when nothing used it."""
    config = context.config
    timezone = config.scheduler.timezone
    if limits(config):
        return [state_line(s, timezone, config.currency) for s in budget_states(context)]
    with context.engine.connect() as connection:
        forecasts = month_forecasts(context, connection, context.clock())
    return [forecast_line(f, timezone) for f in forecasts if f.used or f.rate_per_day]


def usage_against_budgets(
    context: Context, period: UsagePeriod = "month", repo: str | None = None
) -> UsageReport:
    """/usage's report, its forecasts against each budget's ceiling (raises included)."""
    ceilings: dict[str, int | None] = {}
    if limits(context.config):
        ceilings = {s.scope: s.tokens_ceiling for s in budget_states(context, repo)}
    return usage_report(context, period, repo, budget_of=ceilings.get)
