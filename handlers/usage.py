"""/usage [repo] [day|week|month]: what model reviews spent and saved, and where the
month is heading."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.router import Request, UsageError
from jobs.config.schema import Config
from jobs.core.reply import Reply
from jobs.usage.outlook import usage_against_budgets
from jobs.usage.periods import UsagePeriod, as_usage_period
from jobs.usage.replies import usage_reply


@dataclass(frozen=True)
class UsageQuery:
    repo: str | None = None
    period: UsagePeriod = "month"


def parse_usage_query(args: list[str], config: Config) -> UsageQuery:
    """A configured repository and a period, each optional, in either order."""
    repo: str | None = None
    period: UsagePeriod | None = None
    for word in args:
        as_period = as_usage_period(word)
        if as_period is not None and period is None:
            period = as_period
        elif as_period is None and repo is None:
            if config.repo(word) is None:
                known = ", ".join(r.name for r in config.repos) or "none is configured"
                raise UsageError(f"No repository named {word!r} (known: {known}).")
            repo = word
        else:
            raise UsageError(f"{word!r} is one argument too many.")
    return UsageQuery(repo, period or "month")


def usage(request: Request) -> Reply:
    """Tokens, runs, reviews and cache hits by repository and model, with money at the
    configured prices and the month-end forecast."""
    context = request.context
    query = parse_usage_query(request.args, context.config)
    report = usage_against_budgets(context, query.period, query.repo)
    return usage_reply(report, context.config.scheduler.timezone)
