"""Budget alerts: crossing a threshold posts one message to the configured channels
through the outbox, never twice for the same month, threshold and ceiling; every
later message of the month about that budget (the next threshold, a raise) answers in
the first one's thread, as Sentry's Slack alerts do.

The outbox is the record: an alert's dedupe key names its budget, month, ceiling and
threshold, so whichever process sees the crossing first posts it and nobody again."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select

from jobs.context import Context
from jobs.core.reply import Block, Reply, ReplyField
from jobs.core.text import compact, money
from jobs.outbox.delivery import enqueue
from jobs.usage.budget import BudgetState
from jobs.usage.replies import day_name, forecast_line
from jobs.usage.report import ALL
from storage.models import OutboxPost

_outbox = OutboxPost.__table__  # type: ignore[attr-defined]

POLICY_TEXT = {
    "alert": "Model reviews go on.",
    "lint": "Reviews fall back to the linters",
    "pause": "Model reviews are paused",
}


def alert_targets(context: Context) -> list[str]:
    config = context.config
    return list(config.budget.post_to or config.digest.post_to)


def thread_prefix(state: BudgetState) -> str:
    return f"budget:{state.scope}:{state.month}:"


def post_crossings(context: Context, states: list[BudgetState]) -> list[str]:
    """Post the alert of the highest threshold each budget has reached, unless it was
    posted already; returns the dedupe keys of those posted now."""
    targets = alert_targets(context)
    if not targets:
        return []
    posted = []
    thresholds = context.config.budget.thresholds
    for state in states:
        threshold = state.reached(thresholds)
        if threshold is None:
            continue
        key = f"{thread_prefix(state)}{state.ceiling_key}:{threshold}"
        if _exists(context, key):
            continue
        reply = alert_reply(
            state, threshold, context.config.scheduler.timezone, context.config.currency
        )
        enqueue(
            context.engine,
            kind="alert",
            targets=targets,
            reply=reply,
            dedupe_key=key,
            thread_of=thread_root(context, state),
        )
        posted.append(key)
    return posted


def post_follow_up(context: Context, state: BudgetState, key: str, reply: Reply) -> None:
    """A message about a budget in its month's thread (on its own when there is none)."""
    targets = alert_targets(context)
    if targets:
        root = thread_root(context, state)
        enqueue(
            context.engine,
            kind="alert",
            targets=targets,
            reply=reply,
            dedupe_key=f"{thread_prefix(state)}{key}",
            thread_of=root,
        )


def thread_root(context: Context, state: BudgetState) -> str | None:
    """The dedupe key of the month's first message about this budget."""
    query = (
        select(_outbox.c.dedupe_key)
        .where(_outbox.c.dedupe_key.startswith(thread_prefix(state), autoescape=True))
        .order_by(_outbox.c.id)
        .limit(1)
    )
    with context.engine.connect() as connection:
        first = connection.execute(query).scalar_one_or_none()
    return None if first is None else str(first).rsplit("|", 1)[0]


def _exists(context: Context, key: str) -> bool:
    query = select(_outbox.c.id).where(_outbox.c.dedupe_key.startswith(f"{key}|", autoescape=True))
    with context.engine.connect() as connection:
        return connection.execute(query.limit(1)).first() is not None


def scope_name(scope: str) -> str:
    return "All repositories" if scope == ALL else scope


def usage_text(state: BudgetState, currency: str) -> str:
    """'1.6M of 2M tokens' and/or '40.00 of 50.00 USD'."""
    parts = []
    if state.tokens_ceiling is not None:
        parts.append(f"{compact(state.used_tokens)} of {compact(state.tokens_ceiling)} tokens")
    if state.cost_ceiling is not None:
        parts.append(f"{money(state.used_cost, currency)} of {money(state.cost_ceiling, currency)}")
    return " and ".join(parts)


def until_text(state: BudgetState, timezone: str) -> str:
    """'until Jan 1, or until an admin raises it: /budget api +2M'."""
    ends = state.forecast.month_end if state.forecast else None
    day = day_name(ends.astimezone(ZoneInfo(timezone))) if ends else "the month ends"
    step = compact(state.tokens_ceiling) if state.tokens_ceiling else "10"
    scope = "all" if state.scope == ALL else state.scope
    return f"until {day}, or until an admin raises it: /budget {scope} +{step}"


def alert_reply(state: BudgetState, threshold: int, timezone: str, currency: str) -> Reply:
    """One message: which budget, how far, where the month is heading, what happens."""
    name = scope_name(state.scope)
    spent = state.exhausted
    title = f"Model budget of {name}: {'spent' if spent else f'{threshold}% used'}"
    text = f"{name} has used {usage_text(state, currency)} this month ({state.share:.0%})."
    if state.forecast is not None:
        text += "\n" + forecast_line(state.forecast, timezone).split(": ", 1)[1].capitalize() + "."
    if spent:
        policy = POLICY_TEXT[state.policy]
        text += f"\n{policy}" + (
            "" if state.policy == "alert" else f" {until_text(state, timezone)}."
        )
    return Reply(
        title=title,
        blocks=[Block(text=text)],
        fields=[ReplyField(label="Policy at 100%", value=state.policy)],
    )
