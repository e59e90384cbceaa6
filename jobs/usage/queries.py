"""Usage read from the run rows: review runs summed by job and model over a window,
through SQLAlchemy Core so SQLite and PostgreSQL run the same statement. A cache hit's
saving is the cost of the review it replayed (its `review_id`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, false, func, or_, select, true
from sqlalchemy.engine import Connection

from jobs.usage.figures import LINTERS, Tally, UsageLine
from storage.models import JobRun, Review

_runs = JobRun.__table__  # type: ignore[attr-defined]
_reviews = Review.__table__  # type: ignore[attr-defined]

REVIEW_JOB_PREFIX = "review:"


def review_job(repo: str) -> str:
    return f"{REVIEW_JOB_PREFIX}{repo}"


def usage_lines(
    connection: Connection, start: datetime, end: datetime, repo: str | None = None
) -> list[UsageLine]:
    """Review runs that started in [start, end] (of one repository when named), summed
    by repository and model."""
    hit = _runs.c.cache_hit == true()
    tokens_in = func.coalesce(_runs.c.tokens_in, 0)
    tokens_out = func.coalesce(_runs.c.tokens_out, 0)
    query = (
        select(
            _runs.c.job,
            _runs.c.model,
            func.coalesce(func.sum(tokens_in), 0),
            func.coalesce(func.sum(tokens_out), 0),
            func.sum(case((or_(tokens_in > 0, tokens_out > 0), 1), else_=0)),
            func.sum(case((and_(_runs.c.status == "ok", hit == false()), 1), else_=0)),
            func.sum(case((hit, 1), else_=0)),
            func.sum(case((hit, func.coalesce(_reviews.c.prompt_tokens, 0)), else_=0)),
            func.sum(case((hit, func.coalesce(_reviews.c.completion_tokens, 0)), else_=0)),
        )
        .select_from(_runs.outerjoin(_reviews, _runs.c.review_id == _reviews.c.id))
        .where(
            _runs.c.kind == "review",
            _runs.c.started_at >= start,
            _runs.c.started_at <= end,
        )
        .group_by(_runs.c.job, _runs.c.model)
    )
    if repo is not None:
        query = query.where(_runs.c.job == review_job(repo))
    lines = []
    for job, model, *figures in connection.execute(query):
        name = str(job).removeprefix(REVIEW_JOB_PREFIX)
        lines.append(UsageLine(name, model or LINTERS, Tally(*(int(f or 0) for f in figures))))
    return sorted(lines, key=lambda line: (line.repo, line.model))


def first_review_run(connection: Connection, repo: str | None = None) -> datetime | None:
    """When the first review run started (of one repository when named)."""
    query = select(func.min(_runs.c.started_at)).where(_runs.c.kind == "review")
    if repo is not None:
        query = query.where(_runs.c.job == review_job(repo))
    first = connection.execute(query).scalar_one_or_none()
    return first if isinstance(first, datetime) else None
