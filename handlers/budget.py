"""/budget [repo|all] [+AMOUNT]: where each monthly model budget stands, and an
admin's raise for this month (`/budget api +2M`, `/budget all +25USD`), recorded with
who made it and answered in the budget's alert thread."""

from __future__ import annotations

import re

from handlers.access import Role
from handlers.router import Request, UsageError
from jobs.core.reply import Block, Reply, ReplyField
from jobs.core.text import compact, money
from jobs.usage.alerts import post_follow_up, scope_name, usage_text
from jobs.usage.budget import BudgetState, budget_states, limits, month_key
from jobs.usage.ceilings import record_raise
from jobs.usage.outlook import state_line

_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}
_AMOUNT = re.compile(r"^\+(\d{1,12}(?:\.\d{1,6})?)([A-Za-z$€£¥]{0,5})$")
MAX_RAISE_TOKENS = 10**12


def parse_raise(text: str, currency: str) -> tuple[int, float]:
    """'+2M' → (2_000_000, 0); '+25USD' → (0, 25.0): tokens, or money in `currency`."""
    match = _AMOUNT.match(text)
    if match is None:
        raise UsageError(f"{text!r} is not a raise: write +2M, +500k or +25{currency}.")
    number, unit = float(match[1]), match[2]
    if unit.lower() in _SUFFIX:
        tokens = round(number * _SUFFIX[unit.lower()])
        if not 1 <= tokens <= MAX_RAISE_TOKENS:
            raise UsageError(f"{text!r}: a raise is from 1 to {compact(MAX_RAISE_TOKENS)} tokens.")
        return tokens, 0.0
    if unit.upper() == currency.upper() and number > 0:
        return 0, number
    raise UsageError(f"{text!r}: the unit is k, M or B tokens, or {currency}.")


def budget(request: Request) -> Reply:
    """Each budget's month so far and forecast; with +AMOUNT, an admin's raise."""
    context = request.context
    config = context.config
    configured = limits(config)
    if not configured:
        return Reply.text("No budget is configured: see [budget] in the README.", "Budgets")
    args = request.args
    if len(args) > 2:
        raise UsageError("Give at most a repository (or all) and a raise.")
    scope = args[0] if args else None
    if scope is not None and scope not in configured:
        known = ", ".join(sorted(configured))
        raise UsageError(f"No budget for {scope!r} (budgets: {known}).")
    if len(args) == 2:
        assert scope is not None
        return _raise(request, scope, args[1])
    states = [s for s in budget_states(context) if scope is None or s.scope == scope]
    timezone, currency = config.scheduler.timezone, config.currency
    text = "\n".join(state_line(s, timezone, currency) for s in states)
    return Reply(title="Budgets this month", blocks=[Block(text=text)])


def _raise(request: Request, scope: str, amount: str) -> Reply:
    context = request.context
    config = context.config
    if request.role < Role.ADMIN:
        raise UsageError("Only an admin may raise a budget; viewers may look: /budget.")
    tokens, cost = parse_raise(amount, config.currency)
    limit = limits(config)[scope]
    if tokens and limit.monthly_tokens is None:
        raise UsageError(f"{scope_name(scope)} has no monthly_tokens budget to raise.")
    if cost and limit.monthly_cost is None:
        raise UsageError(f"{scope_name(scope)} has no monthly_cost budget to raise.")
    now = context.clock()
    month = month_key(now, config.scheduler.timezone)
    by = request.caller.principal
    was_spent = _state(request, scope).exhausted
    record_raise(context.engine, scope=scope, month=month, tokens=tokens, cost=cost, by=by, at=now)
    state = _state(request, scope)
    raised = compact(tokens) + " tokens" if tokens else money(cost, config.currency)
    who = request.caller.shown_name
    text = f"Budget of {scope_name(scope)} for {now:%B} raised by {raised} by {who}: "
    text += f"{usage_text(state, config.currency)} ({state.share:.0%})."
    if was_spent and not state.exhausted and state.policy != "alert":
        text += " Model reviews resume."
    reply = Reply(
        title=f"Budget of {scope_name(scope)} raised",
        blocks=[Block(text=text)],
        fields=[ReplyField(label="By", value=who)],
    )
    post_follow_up(context, state, f"raise:{now.isoformat()}:{by}", reply)
    return reply


def _state(request: Request, scope: str) -> BudgetState:
    return next(s for s in budget_states(request.context) if s.scope == scope)
