"""Where each monthly budget stands now: this month's tokens and money against the
configured ceiling plus this month's raises, for a repository and for the whole
deployment. Derived from the run rows when asked, like every other figure.

    states = budget_states(context)            # every configured budget
    state = budget_states(context, "api")      # api's and the deployment's
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from jobs.config.schema import BudgetLimit, Config, OnExhausted
from jobs.context import Context
from jobs.usage.ceilings import raised
from jobs.usage.figures import UsageLine, grouped, money, total
from jobs.usage.forecast import Forecast
from jobs.usage.report import ALL, UsageReport, usage_report


@dataclass(frozen=True)
class BudgetState:
    scope: str  # a repository, or ALL
    month: str  # YYYY-MM
    policy: OnExhausted
    used_tokens: int
    tokens_ceiling: int | None
    used_cost: float
    cost_ceiling: float | None
    forecast: Forecast | None = None

    @property
    def share(self) -> float:
        """How much of the ceiling is used: the larger of tokens and money (1.0: all)."""
        shares = [0.0]
        if self.tokens_ceiling:
            shares.append(self.used_tokens / self.tokens_ceiling)
        if self.cost_ceiling:
            shares.append(self.used_cost / self.cost_ceiling)
        return max(shares)

    @property
    def exhausted(self) -> bool:
        return self.share >= 1.0

    def reached(self, thresholds: list[int]) -> int | None:
        """The highest threshold (percent) reached, if any."""
        # Whole basis points, so 1.6M of 2M is 80% exactly, not 79.99…
        percent = round(self.share * 10_000) / 100
        return max((t for t in thresholds if percent >= t), default=None)

    def would_exceed(self, tokens: int, cost: float) -> bool:
        """Whether spending this more would pass a ceiling."""
        over_tokens = self.tokens_ceiling is not None and (
            self.used_tokens + tokens > self.tokens_ceiling
        )
        over_cost = self.cost_ceiling is not None and self.used_cost + cost > self.cost_ceiling
        return over_tokens or over_cost

    @property
    def ceiling_key(self) -> str:
        """The ceiling in a word: alerts start again after a raise."""
        return f"{self.tokens_ceiling or 0}t{self.cost_ceiling or 0:g}c"


def month_key(now: datetime, timezone: str) -> str:
    return f"{now.astimezone(ZoneInfo(timezone)):%Y-%m}"


def limits(config: Config) -> dict[str, BudgetLimit]:
    """Every configured budget by scope: the deployment's (ALL) and each repository's."""
    found: dict[str, BudgetLimit] = {}
    budget = config.budget
    if budget.monthly_tokens is not None or budget.monthly_cost is not None:
        found[ALL] = budget
    for name, limit in budget.repos.items():
        if limit.monthly_tokens is not None or limit.monthly_cost is not None:
            found[name] = limit
    return found


def budget_states(
    context: Context, repo: str | None = None, report: UsageReport | None = None
) -> list[BudgetState]:
    """The budgets that bear on `repo` (its own, then the deployment's), or every one.
    `report`: this month's usage of every repository, when the caller has it."""
    config = context.config
    configured = limits(config)
    scopes = [s for s in configured if repo is None or s in (repo, ALL)]
    if not scopes:
        return []
    scopes.sort(key=lambda s: (s == ALL, s))
    now = context.clock()
    month = month_key(now, config.scheduler.timezone)
    if report is None or report.window.period != "month" or report.repo is not None:
        report = usage_report(context, "month")
    with context.engine.connect() as connection:
        raises = raised(connection, month)
    lines = list(report.lines)
    forecasts = {f.scope: f for f in report.forecasts}
    states = []
    for scope in scopes:
        tokens, cost = _ceiling(configured[scope], raises.get(scope, (0, 0.0)))
        projected = forecasts.get(scope)
        states.append(
            BudgetState(
                scope,
                month,
                configured[scope].on_exhausted or config.budget.on_exhausted or "alert",
                _tokens(lines, scope),
                tokens,
                _spent(lines, scope, config),
                cost,
                projected.against(tokens, now) if projected is not None else None,
            )
        )
    return states


def _ceiling(limit: BudgetLimit, raise_: tuple[int, float]) -> tuple[int | None, float | None]:
    tokens = None if limit.monthly_tokens is None else limit.monthly_tokens + raise_[0]
    cost = None if limit.monthly_cost is None else limit.monthly_cost + raise_[1]
    return tokens, cost


def _of(lines: list[UsageLine], scope: str) -> list[UsageLine]:
    return lines if scope == ALL else [line for line in lines if line.repo == scope]


def _tokens(lines: list[UsageLine], scope: str) -> int:
    return total(grouped(_of(lines, scope), lambda line: line.repo).values()).tokens


def _spent(lines: list[UsageLine], scope: str, config: Config) -> float:
    spent = money(_of(lines, scope), config.models)
    return spent.spent if spent is not None else 0.0
