"""A usage report: the window's lines, their money at the configured prices, and the
month-end forecast of each repository and of the deployment — read at once from the
run rows (nothing is counted anywhere else).

    report = usage_report(context, "month")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from jobs.context import Context
from jobs.usage.figures import Money, UsageLine, grouped, money, tally_json, total
from jobs.usage.forecast import Forecast, forecast, trailing_span
from jobs.usage.periods import UsagePeriod, Window, month_end, usage_window
from jobs.usage.queries import first_review_run, usage_lines

ALL = "all"  # the forecast's scope for the whole deployment
# A repository's (or the deployment's, for ALL) monthly token budget, if any.
BudgetOf = Callable[[str], "int | None"]


@dataclass(frozen=True)
class UsageReport:
    window: Window
    repo: str | None
    lines: tuple[UsageLine, ...]
    money: Money | None
    currency: str
    forecasts: tuple[Forecast, ...] = field(default=())

    @property
    def by_repo(self) -> dict[str, Any]:
        return grouped(self.lines, lambda line: line.repo)

    @property
    def by_model(self) -> dict[str, Any]:
        return grouped(self.lines, lambda line: line.model)

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.window.period,
            "start": self.window.start.isoformat(),
            "end": self.window.end.isoformat(),
            "repo": self.repo,
            "total": tally_json(total(line.tally for line in self.lines)),
            "by_repo": {name: tally_json(t) for name, t in self.by_repo.items()},
            "by_model": {name: tally_json(t) for name, t in self.by_model.items()},
            "lines": [
                {"repo": line.repo, "model": line.model, **tally_json(line.tally)}
                for line in self.lines
            ],
            "money": None
            if self.money is None
            else {
                "currency": self.currency,
                "spent": self.money.spent,
                "saved": self.money.saved,
                "unpriced_models": list(self.money.unpriced),
            },
            "forecast": [f.to_json() for f in self.forecasts],
        }


def usage_report(
    context: Context,
    period: UsagePeriod = "month",
    repo: str | None = None,
    budget_of: BudgetOf | None = None,
) -> UsageReport:
    config = context.config
    now = context.clock()
    window = usage_window(period, now, config.scheduler.timezone)
    with context.engine.connect() as connection:
        lines = usage_lines(connection, window.start, window.end, repo)
        this_month = lines if period == "month" else None  # read once
        forecasts = month_forecasts(context, connection, now, repo, budget_of, this_month)
    return UsageReport(
        window, repo, tuple(lines), money(lines, config.models), config.currency, forecasts
    )


def month_forecasts(
    context: Context,
    connection: Connection,
    now: datetime,
    repo: str | None = None,
    budget_of: BudgetOf | None = None,
    month_lines: list[UsageLine] | None = None,
) -> tuple[Forecast, ...]:
    """The deployment's forecast (unless one repository is asked for), then each
    repository's that used tokens this month or the trailing days. `month_lines`:
    this month's lines when the caller has read them already."""
    timezone = context.config.scheduler.timezone
    month = usage_window("month", now, timezone)
    ends = month_end(now, timezone)
    first = first_review_run(connection, repo)
    span = trailing_span(now, first)
    if month_lines is None:
        month_lines = usage_lines(connection, month.start, now, repo)
    used = grouped(month_lines, lambda line: line.repo)
    recent = grouped(usage_lines(connection, now - span, now, repo), lambda line: line.repo)
    scopes: list[tuple[str, int, int]] = []
    if repo is None:
        scopes.append(
            (
                ALL,
                total(used.values()).tokens,
                total(recent.values()).tokens,
            )
        )
    for name in sorted(set(used) | set(recent) | ({repo} if repo else set())):
        spent_now = used[name].tokens if name in used else 0
        spent_recent = recent[name].tokens if name in recent else 0
        scopes.append((name, spent_now, spent_recent))
    return tuple(
        forecast(
            scope,
            used=spent,
            trailing=trailing,
            span=span,
            now=now,
            month_end=ends,
            budget=budget_of(scope) if budget_of else None,
        )
        for scope, spent, trailing in scopes
    )
