"""The digest's reads: run rows and review aggregates for one window (`load_inputs`
fills a `DigestInputs`), through SQLAlchemy Core so SQLite and PostgreSQL run the
same statements. Kept apart from compute.py so the figures stay pure.

Every run query is a range on `started_at` (the `ix_job_runs_started` index) and
selects only the columns the digest reads. A day digest of a 1,000,000-run history
reads about 1,400 period rows, as many previous-period rows and ~15,000 baseline
samples — small enough to bring back raw, which keeps medians and MADs exact (SQLite
has no percentile aggregate). Per-day counts for the chart are a GROUP BY.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from jobs.core.when import zone
from jobs.digest.chart import DEFAULT_DAYS, last_chart_day
from jobs.digest.inputs import (
    INTERNAL_KINDS,
    SUCCESS_STATUSES,
    DayCount,
    DigestInputs,
    FeedbackTotals,
    Period,
    RepoFindings,
    ReviewTotals,
    RunRecord,
    digest_window,
)
from jobs.review.history import standing_counts
from jobs.review.mutes import false_positive_ids, muted_finding_ids
from jobs.review.stored import BRANCH_PREFIX
from jobs.runs.baseline import duration_samples
from storage.models import Feedback, Finding, JobRun, Review, ReviewFinding

runs = JobRun.__table__  # type: ignore[attr-defined]
reviews = Review.__table__  # type: ignore[attr-defined]
findings = Finding.__table__  # type: ignore[attr-defined]
review_findings = ReviewFinding.__table__  # type: ignore[attr-defined]
feedback = Feedback.__table__  # type: ignore[attr-defined]

# The columns of RunRecord, in its field order.
_RUN_COLUMNS = (
    runs.c.job,
    runs.c.kind,
    runs.c.status,
    runs.c.started_at,
    runs.c.duration_ms,
    runs.c.cache_hit,
    runs.c.tokens_in,
    runs.c.tokens_out,
    runs.c.model,
    runs.c.model_latency_ms,
    runs.c.batch_id,
    runs.c.trigger,
)


def _in_range(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(column >= start, column < end)


def period_runs(connection: Connection, start: datetime, end: datetime) -> list[RunRecord]:
    """Every run that started in [start, end), as RunRecords."""
    query = select(*_RUN_COLUMNS).where(_in_range(runs.c.started_at, start, end))
    return [RunRecord(*row) for row in connection.execute(query)]


def _utc_hour(connection: Connection) -> ColumnElement[Any]:
    if connection.dialect.name == "postgresql":
        # timestamptz → the UTC hour whatever the session's TimeZone is.
        return func.to_char(func.timezone("UTC", runs.c.started_at), "YYYY-MM-DD HH24")
    # SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC: the first thirteen characters.
    return func.substr(runs.c.started_at, 1, 13)


def day_counts(
    connection: Connection, start: datetime, end: datetime, timezone: str = "UTC"
) -> list[DayCount]:
    """The team's finished runs (opsdesk's own left out), cache hits and failures per
    day in `timezone`, of runs that started in [start, end). Counted per UTC hour and
    folded into local days here (SQLite knows no zones); a zone half an hour off UTC
    puts that half hour's runs on the neighbouring day."""
    hour = _utc_hour(connection).label("hour")
    query = (
        select(
            hour,
            func.count(),
            func.coalesce(func.sum(case((runs.c.cache_hit == true(), 1), else_=0)), 0),
            func.coalesce(
                func.sum(case((runs.c.status.in_(sorted(SUCCESS_STATUSES)), 0), else_=1)), 0
            ),
        )
        .where(
            _in_range(runs.c.started_at, start, end),
            runs.c.status != "running",
            runs.c.kind.not_in(sorted(INTERNAL_KINDS)),
        )
        .group_by(hour)
    )
    local = zone(timezone)
    totals: dict[date, list[int]] = {}
    for value, count, hits, failures in connection.execute(query):
        at = datetime.strptime(str(value), "%Y-%m-%d %H").replace(tzinfo=UTC)
        day = totals.setdefault(at.astimezone(local).date(), [0, 0, 0])
        day[0] += int(count)
        day[1] += int(hits)
        day[2] += int(failures)
    return sorted(DayCount(day, *figures) for day, figures in totals.items())


def _distinct_in_reviews(
    connection: Connection, state: str, start: datetime, end: datetime
) -> dict[str, int]:
    """Per repository: distinct findings in `state` in the reviews made in [start, end);
    new ones marked false positive or of a muted rule now are left out, as a review post
    leaves them out.
    A finding listed by several reviews (a rewind, a replay) counts once."""
    where = [
        _in_range(reviews.c.created_at, start, end),
        review_findings.c.state == state,
        ~reviews.c.repo.startswith(BRANCH_PREFIX),  # a branch's findings are not news yet
    ]
    if state != "fixed":
        where.append(review_findings.c.finding_id.not_in(false_positive_ids()))
        where.append(review_findings.c.finding_id.not_in(muted_finding_ids()))
    query = (
        select(reviews.c.repo, func.count(func.distinct(review_findings.c.finding_id)))
        .select_from(review_findings.join(reviews))
        .where(*where)
        .group_by(reviews.c.repo)
    )
    return {str(repo): int(n) for repo, n in connection.execute(query)}


def _marked_false_positive(
    connection: Connection, start: datetime, end: datetime
) -> dict[str, int]:
    """Per repository: distinct findings given a false-positive verdict in [start, end)
    that still stands (an undo removes it)."""
    query = (
        select(findings.c.repo, func.count(func.distinct(feedback.c.finding_id)))
        .select_from(feedback.join(findings, feedback.c.finding_id == findings.c.id))
        .where(feedback.c.verdict == "false_positive", _in_range(feedback.c.updated_at, start, end))
        .group_by(findings.c.repo)
    )
    return {str(repo): int(n) for repo, n in connection.execute(query)}


def review_totals(connection: Connection, start: datetime, end: datetime) -> ReviewTotals:
    """Reviews by kind made in [start, end) and their findings, per repository and in
    all, each finding counted once (figures.ReviewSection defines every count); open
    and suppressed as they stand now, exactly as /findings and /metrics count them."""
    in_period = _in_range(reviews.c.created_at, start, end)
    by_kind: dict[str, int] = dict(
        connection.execute(
            select(reviews.c.kind, func.count()).where(in_period).group_by(reviews.c.kind)
        ).all()
    )
    new = _distinct_in_reviews(connection, "new", start, end)
    fixed = _distinct_in_reviews(connection, "fixed", start, end)
    open_now = standing_counts(connection, "open")
    suppressed = standing_counts(connection, "suppressed")
    muted = standing_counts(connection, "muted")
    marked = _marked_false_positive(connection, start, end)
    per_repo = tuple(
        RepoFindings(
            repo=repo,
            new=new.get(repo, 0),
            fixed=fixed.get(repo, 0),
            open=open_now.get(repo, 0),
            suppressed=suppressed.get(repo, 0),
            muted=muted.get(repo, 0),
            marked_false_positive=marked.get(repo, 0),
        )
        for repo in sorted({*new, *fixed, *open_now, *suppressed, *muted, *marked})
    )
    full_tokens = connection.execute(
        select(func.coalesce(func.sum(reviews.c.full_prompt_tokens), 0))
        .select_from(runs.join(reviews, runs.c.review_id == reviews.c.id))
        .where(
            _in_range(runs.c.started_at, start, end),
            runs.c.kind == "review",
            reviews.c.reviewer_kind == "llm",  # a linter sends no tokens: nothing to save
        )
    ).scalar_one()
    return ReviewTotals(
        full=int(by_kind.get("full", 0)),
        delta=int(by_kind.get("delta", 0)),
        findings_new=sum(new.values()),
        findings_fixed=sum(fixed.values()),
        findings_open=sum(open_now.values()),
        suppressed=sum(suppressed.values()),
        muted=sum(muted.values()),
        full_review_tokens_in=int(full_tokens),
        marked_false_positive=sum(marked.values()),
        per_repo=per_repo,
    )


def feedback_totals(connection: Connection, start: datetime, end: datetime) -> FeedbackTotals:
    """Verdicts set in [start, end); a row holds a user's latest verdict on a finding."""
    counts: dict[str, int] = dict(
        connection.execute(
            select(feedback.c.verdict, func.count())
            .where(_in_range(feedback.c.updated_at, start, end))
            .group_by(feedback.c.verdict)
        ).all()
    )
    # The verdicts are FeedbackTotals' field names.
    return FeedbackTotals(**{f.name: int(counts.get(f.name, 0)) for f in fields(FeedbackTotals)})


def has_review_data(connection: Connection) -> bool:
    """Whether any review was ever recorded (else the digest leaves reviews out)."""
    return connection.execute(select(reviews.c.id).limit(1)).first() is not None


def load_inputs(
    connection: Connection, period: Period, now: datetime, timezone: str = "UTC"
) -> DigestInputs:
    """Everything one digest and its chart read: one connection, a handful of range
    queries on `started_at`; the chart's days are the team's (`timezone`). Job health
    is not read here (see jobs.health)."""
    window = digest_window(period, now)
    first_day = last_chart_day(now, timezone) - timedelta(days=DEFAULT_DAYS - 1)
    chart_start = datetime.combine(first_day, datetime.min.time(), zone(timezone))
    has_reviews = has_review_data(connection)
    return DigestInputs(
        period_runs=period_runs(connection, window.start, window.end),
        baseline=duration_samples(connection, window.baseline_start, window.start),
        previous_runs=period_runs(connection, window.previous_start, window.start),
        reviews=review_totals(connection, window.start, now) if has_reviews else None,
        feedback=feedback_totals(connection, window.start, now) if has_reviews else None,
        day_counts=day_counts(connection, chart_start, now, timezone),
    )
