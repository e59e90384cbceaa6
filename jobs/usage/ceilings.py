"""Raises of a monthly budget by an admin, for one month: the ceiling that month is the
configured one plus its raises (rows in `budget_raises`, with who and when)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from storage.db import session_scope
from storage.models import BudgetRaise

_raises = BudgetRaise.__table__  # type: ignore[attr-defined]


def record_raise(
    engine: Engine,
    *,
    scope: str,
    month: str,
    tokens: int = 0,
    cost: float = 0.0,
    by: str,
    at: datetime,
) -> None:
    with session_scope(engine) as session:
        session.add(
            BudgetRaise(
                scope=scope, month=month, tokens=tokens, cost=cost, raised_by=by, raised_at=at
            )
        )


def raised(connection: Connection, month: str) -> dict[str, tuple[int, float]]:
    """Scope → (tokens, money) raised in `month`."""
    query = (
        select(_raises.c.scope, func.sum(_raises.c.tokens), func.sum(_raises.c.cost))
        .where(_raises.c.month == month)
        .group_by(_raises.c.scope)
    )
    return {
        str(scope): (int(tokens or 0), float(cost or 0))
        for scope, tokens, cost in connection.execute(query)
    }
