"""`/metrics` series of model usage, budgets and the month-end forecast, from the run
rows at each scrape (jobs/usage). Labels are bounded: `repo` is a configured
repository, `scope` a configured budget's (a repository or "all"), `type` prompt or
completion."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from jobs.context import Context
from jobs.usage.budget import budget_states
from jobs.usage.figures import Tally, money
from jobs.usage.report import ALL, usage_report


def usage_families(context: Context) -> Iterator[Metric]:
    config = context.config
    report = usage_report(context, "month")
    configured = sorted(repo.name for repo in config.repos)
    by_repo = report.by_repo
    tokens = GaugeMetricFamily(
        "opsdesk_model_month_tokens",
        "Tokens of this month's review runs by repository: type=prompt (sent) or "
        "completion (received).",
        labels=["repo", "type"],
    )
    saved = GaugeMetricFamily(
        "opsdesk_model_month_saved_tokens",
        "Tokens this month's cache hits did not spend (what the reviews they replayed cost).",
        labels=["repo"],
    )
    for repo in configured:
        tally = by_repo.get(repo, Tally())
        tokens.add_metric([repo, "prompt"], tally.tokens_in)
        tokens.add_metric([repo, "completion"], tally.tokens_out)
        saved.add_metric([repo], tally.saved)
    yield tokens
    yield saved

    cost = GaugeMetricFamily(
        "opsdesk_model_month_cost",
        "This month's spend at the configured [models] prices, by repository (absent "
        "without prices).",
        labels=["repo"],
    )
    if config.models:
        for repo in configured:
            spent = money([line for line in report.lines if line.repo == repo], config.models)
            cost.add_metric([repo], spent.spent if spent else 0.0)
    yield cost

    forecast = GaugeMetricFamily(
        "opsdesk_model_month_end_forecast_tokens",
        "This month's tokens projected to its end from the trailing days' rate: "
        'scope="all" for the deployment, or a configured repository.',
        labels=["scope"],
    )
    for projected in report.forecasts:
        if projected.scope == ALL or projected.scope in configured:
            forecast.add_metric([projected.scope], projected.projected)
    yield forecast

    ceiling = GaugeMetricFamily(
        "opsdesk_budget_month_tokens",
        "A monthly token budget with this month's raises, by scope (a repository or all).",
        labels=["scope"],
    )
    used = GaugeMetricFamily(
        "opsdesk_budget_used_ratio",
        "How much of a monthly budget is used (1 = all; the larger of tokens and money).",
        labels=["scope"],
    )
    for state in budget_states(context, report=report):
        if state.tokens_ceiling is not None:
            ceiling.add_metric([state.scope], state.tokens_ceiling)
        used.add_metric([state.scope], state.share)
    yield ceiling
    yield used
