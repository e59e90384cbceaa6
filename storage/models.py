"""The tables. Figures (health, digest, suppression) are derived from these rows at
read time; nothing keeps a second copy that can drift.

Times are aware UTC datetimes (sqlmodel's UTCDateTime stores them so on SQLite and
PostgreSQL alike); `utcnow()` is the one clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Review(SQLModel, table=True):
    """One review of one commit by one reviewer configuration: the review cache.
    The cache key is (repo, commit_sha, reviewer_fingerprint)."""

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("repo", "commit_sha", "reviewer_fingerprint", name="uq_review_cache_key"),
        Index("ix_reviews_repo_created", "repo", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    repo: str = Field(max_length=100)
    commit_sha: str = Field(max_length=64)
    base_sha: str | None = Field(default=None, max_length=64)
    reviewer_fingerprint: str = Field(max_length=64)
    reviewer_kind: str = Field(max_length=20)  # lint | llm
    model: str | None = Field(default=None, max_length=200)
    kind: str = Field(max_length=10)  # full | delta
    commits_covered: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    full_prompt_tokens: int = 0
    duration_ms: int = 0
    model_latency_ms: int | None = None
    dropped_count: int = 0  # model findings outside the diff, dropped
    skipped_files: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON
    # Files a reviewer covered (a linter's files; 0: none or not counted). Migration 0002.
    reviewed_files: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # What a reader must know about how the review went (JSON list of sentences),
    # e.g. "critique pass answered without usable JSON; first-pass findings kept".
    notes: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))
    created_at: datetime = Field(default_factory=utcnow)


class Finding(SQLModel, table=True):
    """A finding's life in one repository, keyed by its fingerprint
    (path | category | normalized message — no line number, so it survives moves)."""

    __tablename__ = "findings"
    __table_args__ = (
        UniqueConstraint("repo", "fingerprint", name="uq_finding_repo_fingerprint"),
        Index("ix_findings_repo_status", "repo", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    repo: str = Field(max_length=100)
    fingerprint: str = Field(max_length=64)
    path: str = Field(sa_column=Column(Text, nullable=False))
    line: int
    # The notebook cell `line` counts in (ruff's); None in other files. Migration 0007.
    cell: int | None = None
    end_line: int | None = None
    severity: str = Field(max_length=10)  # error | warning | info
    category: str = Field(max_length=100)
    message: str = Field(sa_column=Column(Text, nullable=False))
    suggestion: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    source: str = Field(max_length=100)  # e.g. ruff:F401, llm:qwen2.5-coder
    # Migration 0009: the column, the rule's name and documentation link.
    column: int | None = None
    rule_name: str | None = Field(default=None, max_length=100)
    rule_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(default="open", max_length=10)  # open | fixed
    first_review_id: int | None = Field(default=None, foreign_key="reviews.id")
    last_review_id: int | None = Field(default=None, foreign_key="reviews.id")
    fixed_review_id: int | None = Field(default=None, foreign_key="reviews.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ReviewFinding(SQLModel, table=True):
    """Which findings one review reported, and as what (new, open, fixed); whether
    one is suppressed is derived from the feedback when a reply is made. A cache hit
    replays these rows."""

    __tablename__ = "review_findings"

    review_id: int = Field(foreign_key="reviews.id", primary_key=True)
    finding_id: int = Field(foreign_key="findings.id", primary_key=True, index=True)
    state: str = Field(max_length=12)  # new | open | fixed
    line: int
    cell: int | None = None  # as in findings.cell, where it stood in this review
    # Its path in this review when its file was renamed since (null: findings.path).
    # Migration 0008.
    path: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Feedback(SQLModel, table=True):
    """One verdict per user per finding; the latest counts. A false_positive
    suppresses the finding's fingerprint in its repository (derived, not copied)."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("finding_id", "user", name="uq_feedback_finding_user"),)

    id: int | None = Field(default=None, primary_key=True)
    finding_id: int = Field(foreign_key="findings.id", index=True)
    user: str = Field(max_length=100)  # principal, e.g. slack:U0123
    verdict: str = Field(max_length=20)  # helpful | not_helpful | false_positive | resolved
    # The name the user had when they pressed, for "marked by Dana".
    user_name: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class RuleMute(SQLModel, table=True):
    """A rule an admin muted in one repository: its findings are hidden on every path
    (reviews cached or fresh, /findings, the digest, /metrics) and counted apart, as a
    false positive hides one finding. Who and when, for the record. Migration 0013."""

    __tablename__ = "rule_mutes"
    __table_args__ = (UniqueConstraint("repo", "rule", name="uq_rule_mute_repo_rule"),)

    id: int | None = Field(default=None, primary_key=True)
    repo: str = Field(max_length=100)
    rule: str = Field(max_length=100)  # a finding's category: ruff's F401, SC2086, …
    muted_by: str = Field(max_length=120)  # the principal, e.g. slack:U0123
    muted_by_name: str | None = Field(default=None, max_length=100)
    muted_at: datetime = Field(default_factory=utcnow)


class FindingPost(SQLModel, table=True):
    """Where opsdesk showed a finding with its buttons: a chat (`telegram:-100123`,
    `slack:C0123`, `console:local`) and, once the platform returned it, the message and
    the paragraph of that message the finding is in. A press counts only for a finding
    shown in the presser's chat; Telegram edits find the finding's paragraph here."""

    __tablename__ = "finding_posts"
    __table_args__ = (
        Index("ix_finding_posts_finding_chat", "finding_id", "chat"),
        Index("ix_finding_posts_chat_message", "chat", "message_ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    finding_id: int = Field(foreign_key="findings.id")
    chat: str = Field(max_length=120)
    message_ref: str | None = Field(default=None, max_length=100)  # e.g. Telegram message id
    paragraph: int | None = None  # index of the finding's paragraph in that message
    number: int | None = None  # the "#n" the message's keyboard rows name it by
    shown_at: datetime = Field(default_factory=utcnow)


class JobRun(SQLModel, table=True):
    """Every run of every job is one row; digest and health are computed from these."""

    __tablename__ = "job_runs"
    __table_args__ = (
        Index("ix_job_runs_job_started", "job", "started_at"),
        Index("ix_job_runs_started", "started_at"),
        Index("ix_job_runs_status", "status"),
        Index("ix_job_runs_job_cache_key", "job", "cache_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=100)
    kind: str = Field(max_length=20)  # review | command | digest | health
    trigger: str = Field(max_length=20)  # schedule | manual | batch | startup
    # ok | failed | timeout | cached | missed | interrupted | abandoned | running
    status: str = Field(default="running", max_length=20)
    scheduled_at: datetime | None = None
    # When it asked for a worker, and how long it waited for one (started_at - queued_at).
    queued_at: datetime | None = None
    wait_ms: int | None = None
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    duration_ms: int | None = None
    cache_hit: bool = False
    cache_key: str | None = Field(default=None, max_length=64)
    tokens_in: int | None = None
    tokens_out: int | None = None
    model: str | None = Field(default=None, max_length=200)
    model_latency_ms: int | None = None
    batch_id: str | None = Field(default=None, max_length=64, index=True)
    review_id: int | None = Field(default=None, foreign_key="reviews.id")
    # Which process ran it (host:pid), so a crashed one's runs can be found.
    runner: str | None = Field(default=None, max_length=200)
    # Written every RUN_BEAT_EVERY while running: another host reclaims a run whose
    # beats stopped (its process died) after a few missed beats.
    heartbeat_at: datetime | None = None
    output: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class JobState(SQLModel, table=True):
    """What an admin set on a job (paused); read by the scheduler at fire time."""

    __tablename__ = "job_states"

    job: str = Field(primary_key=True, max_length=100)
    paused: bool = False
    changed_by: str | None = Field(default=None, max_length=100)
    changed_at: datetime = Field(default_factory=utcnow)


class AlertState(SQLModel, table=True):
    """Per job and metric: ok or alert. A post is made when it changes, with a cooldown."""

    __tablename__ = "alert_states"

    job: str = Field(primary_key=True, max_length=100)
    metric: str = Field(primary_key=True, max_length=40)
    state: str = Field(default="ok", max_length=10)  # ok | alert
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    changed_at: datetime = Field(default_factory=utcnow)
    last_posted_at: datetime | None = None


class OutboxPost(SQLModel, table=True):
    """A chat post, written before it is sent: pending → sent (or failed after the
    last attempt). One row per target; `dedupe_key` makes enqueueing idempotent."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200)
    kind: str = Field(max_length=20)  # review | digest | alert | batch | job
    target: str = Field(max_length=120)  # slack:C0123 | telegram:-100123 | log:
    reply_json: str = Field(sa_column=Column(Text, nullable=False))  # the Reply, image included
    status: str = Field(default="pending", max_length=10)  # pending | sending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    claimed_by: str | None = Field(default=None, max_length=200)
    claimed_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    message_ref: str | None = Field(default=None, max_length=200)  # platform message id
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    # Set when an attempt may have reached the platform without our knowing (the
    # sender died mid-send, or the request timed out): reconciled before a resend.
    uncertain_at: datetime | None = None
    # The dedupe_key of the post (to the same target) this one answers in the thread
    # of: it is sent once that one is, as a reply to it. Migration 0010.
    thread_key: str | None = Field(default=None, max_length=200)


class BudgetRaise(SQLModel, table=True):
    """An admin raised a monthly budget for one month: the ceiling that month is the
    configured one plus its raises. Who and when, for the record."""

    __tablename__ = "budget_raises"
    __table_args__ = (Index("ix_budget_raises_scope_month", "scope", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=100)  # a repository, or "all" for the deployment
    month: str = Field(max_length=7)  # YYYY-MM in the scheduler's time zone
    tokens: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    cost: float = 0.0
    raised_by: str = Field(max_length=120)  # the principal, e.g. slack:U0123
    raised_at: datetime = Field(default_factory=utcnow)


class InboundEvent(SQLModel, table=True):
    """Ids of inbound commands and button presses already handled, so a redelivery
    (Slack retries, a duplicated Telegram callback) is recognised."""

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("platform", "event_key", name="uq_inbound_event"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    event_key: str = Field(max_length=255)
    received_at: datetime = Field(default_factory=utcnow, index=True)


class Heartbeat(SQLModel, table=True):
    """Long-lived components (scheduler, chat adapters) say they are alive; health
    reads the timestamps and derives up/down."""

    __tablename__ = "heartbeats"

    component: str = Field(primary_key=True, max_length=60)  # scheduler | slack | telegram
    holder: str = Field(max_length=200)  # host:pid
    status: str = Field(max_length=20)  # up | stopped | error
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))  # JSON
    started_at: datetime = Field(default_factory=utcnow)
    beat_at: datetime = Field(default_factory=utcnow)


class TokenCalibration(SQLModel, table=True):
    """Per model: the largest ratio of the server's reported prompt tokens to
    opsdesk's estimate seen so far, so prompts are sized in the model's own tokens."""

    __tablename__ = "token_calibrations"

    model: str = Field(primary_key=True, max_length=200)
    ratio: float = 1.0  # largest reported / estimated: sizes prompts
    samples: int = 0
    # Sums over the samples: their ratio is the typical one, used for figures.
    estimated_total: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    reported_total: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)
