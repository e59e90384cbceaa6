"""The configuration file as one model, `Config`, and its sections.

`jobs/config/loading.py` finds the file, reads the environment and validates through
`Config`. The sections live in modules of one idea each (`values.py`, `reviewers.py`,
`work.py`, `chat.py`, `spending.py`); every model is imported from here, the one place to look.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from jobs.config.chat import AccessConfig, SlackConfig, TelegramConfig
from jobs.config.reviewers import (
    LINTER_PRESETS,
    LinterConfig,
    LintReviewerConfig,
    LlmReviewerConfig,
    RepoLintConfig,
    ReviewerConfig,
)
from jobs.config.spending import BudgetConfig, BudgetLimit, ModelPrice, OnExhausted
from jobs.config.values import (
    MAX_DURATION,
    MIN_DURATION,
    NAME_PATTERN,
    TARGET_PATTERN,
    Duration,
    Name,
    Schedule,
    ScheduleText,
    Strict,
    Target,
    TimezoneName,
    check_cron,
    check_timezone,
    schedule_from,
    unique,
)
from jobs.config.work import BatchConfig, CacheConfig, JobConfig, RepoConfig

__all__ = [
    "LINTER_PRESETS",
    "MAX_DURATION",
    "MIN_DURATION",
    "NAME_PATTERN",
    "TARGET_PATTERN",
    "AccessConfig",
    "BatchConfig",
    "BudgetConfig",
    "BudgetLimit",
    "CacheConfig",
    "Config",
    "DigestConfig",
    "Duration",
    "HealthConfig",
    "JobConfig",
    "LintReviewerConfig",
    "LinterConfig",
    "LlmReviewerConfig",
    "LogConfig",
    "ModelPrice",
    "Name",
    "OnExhausted",
    "OperatorConfig",
    "RepoConfig",
    "RepoLintConfig",
    "ReviewerConfig",
    "Schedule",
    "ScheduleText",
    "SchedulerConfig",
    "SlackConfig",
    "Strict",
    "Target",
    "TelegramConfig",
    "TimezoneName",
    "check_cron",
    "check_timezone",
    "schedule_from",
]


class SchedulerConfig(Strict):
    timezone: TimezoneName = "UTC"
    # A run that could not start within this long of its time is recorded as missed.
    misfire_grace: Duration = timedelta(minutes=5)
    enabled: bool = True
    # On SIGTERM every running job, scheduled or started from chat, gets this long to
    # finish; then it is told to stop and, if still running, recorded interrupted.
    shutdown_grace: Duration = timedelta(seconds=20)
    # The leader proves it still holds the scheduler lock this often (and before each
    # fire), and a standby tries to take it twice as often.
    heartbeat: Duration = timedelta(seconds=30)
    # At most this many runs at once in one process (default: its cores); more wait
    # in order, chat-started ones with a fair share of their own.
    workers: int | None = Field(default=None, ge=1, le=256)
    # /health turns late when a run has waited longer than this for a worker.
    long_wait: Duration = timedelta(minutes=15)


class DigestConfig(Strict):
    enabled: bool = True
    time: str = "09:00"
    timezone: TimezoneName | None = None  # defaults to the scheduler's
    post_to: list[Target] = Field(default_factory=list)
    regression_k: float = Field(default=3.0, gt=0)
    alert_cooldown: Duration = timedelta(days=1)

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError(f"invalid time {value!r}: use HH:MM, 24-hour clock")
        return value


class HealthConfig(Strict):
    # A job is late when its schedule passed more than `grace` ago without a run,
    # and down past twice that (or when a started run does not finish within it).
    grace: Duration = timedelta(minutes=15)
    min_free_disk_mb: int = Field(default=500, ge=0)


# The digest's week with its 14-day baseline, and /usage's month with its forecast,
# read run rows this far back.
MIN_KEEP_RUNS = timedelta(days=35)


class StorageConfig(Strict):
    # Finished runs and posts that were sent (or dropped) are deleted after this long,
    # once a day by the scheduler's leader. Running runs and waiting or failed posts
    # are never deleted.
    keep_runs: Duration = timedelta(days=90)

    @field_validator("keep_runs")
    @classmethod
    def _keeps_what_the_digest_reads(cls, value: timedelta) -> timedelta:
        if value < MIN_KEEP_RUNS:
            raise ValueError(
                "keep at least 35d: the digest's week and its 14-day baseline, and "
                "/usage's month, are computed from these rows"
            )
        return value


class OperatorConfig(Strict):
    """The operator's HTTP surface in `opsdesk run`: probes, /metrics, the JSON API and
    the optimization page. The bearer token comes from OPSDESK_OPERATOR_TOKEN, never
    from this file."""

    enabled: bool = True
    listen: str = "127.0.0.1:8787"
    # Where people reach the page (behind a reverse proxy, say); the daily digest
    # post links to it when set.
    public_url: str | None = None
    # Names the server is reached by besides its listen address, localhost, IP
    # addresses and public_url's host (e.g. a container's service name); a request
    # with any other Host is refused (DNS rebinding). ["*"]: any.
    allowed_hosts: list[str] = Field(default_factory=list)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"listen must be HOST:PORT, e.g. '127.0.0.1:8787', got {value!r}")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"public_url must start with http:// or https://, got {value!r}")
        return None if value is None else value.rstrip("/")

    def address(self) -> tuple[str, int]:
        """(host, port); an IPv6 host may be written in brackets."""
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class LogConfig(Strict):
    """How opsdesk writes its log to stderr."""

    # "json": one JSON object a line, for log collectors (Loki, Elasticsearch, journald).
    format: Literal["text", "json"] = "text"


class Config(Strict):
    # Where the SQLite database, clones of remote repositories and caches live.
    data_dir: str | None = None
    # SQLAlchemy URL; OPSDESK_DATABASE_URL overrides it. Default: SQLite in data_dir.
    database_url: str | None = None
    repos: list[RepoConfig] = Field(default_factory=list)
    reviewer: ReviewerConfig = ReviewerConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    jobs: list[JobConfig] = Field(default_factory=list)
    batches: list[BatchConfig] = Field(default_factory=list)
    digest: DigestConfig = DigestConfig()
    health: HealthConfig = HealthConfig()
    storage: StorageConfig = StorageConfig()
    access: AccessConfig = AccessConfig()
    slack: SlackConfig = SlackConfig()
    telegram: TelegramConfig = TelegramConfig()
    operator: OperatorConfig = OperatorConfig()
    log: LogConfig = LogConfig()
    # Prices by model name (as the server reports it), e.g. [models."gpt-4o-mini"].
    models: dict[str, ModelPrice] = Field(default_factory=dict)
    budget: BudgetConfig = BudgetConfig()

    @model_validator(mode="after")
    def _names_are_unique_and_known(self) -> Config:
        unique("repos", [r.name for r in self.repos])
        unique("batches", [b.name for b in self.batches])
        unique("jobs", [j.name for j in self.jobs])
        batch_names = {b.name for b in self.batches}
        members = [("repos", i, r.batch) for i, r in enumerate(self.repos)]
        members += [("jobs", i, j.batch) for i, j in enumerate(self.jobs)]
        for section, index, batch in members:
            if batch is not None and batch not in batch_names:
                raise ValueError(
                    f"{section}[{index}].batch: unknown batch {batch!r} "
                    f"(declared: {sorted(batch_names) or 'none'})"
                )
        currencies = sorted({price.currency for price in self.models.values()})
        if len(currencies) > 1:
            raise ValueError(f"models: prices in one currency, please (found {currencies})")
        repo_names = {r.name for r in self.repos}
        for name in self.budget.repos:
            if name not in repo_names:
                raise ValueError(
                    f"budget.repos.{name}: unknown repository (declared: "
                    f"{sorted(repo_names) or 'none'})"
                )
        costly = [self.budget, *self.budget.repos.values()]
        if not self.models and any(limit.monthly_cost is not None for limit in costly):
            raise ValueError('budget: monthly_cost needs prices ([models."NAME"])')
        return self

    @property
    def currency(self) -> str:
        """The currency of the configured prices."""
        return next((p.currency for p in self.models.values()), "USD")

    def repo(self, name: str) -> RepoConfig | None:
        return next((r for r in self.repos if r.name == name), None)

    def resolved_data_dir(self) -> Path:
        if self.data_dir:
            return Path(self.data_dir).expanduser()
        if os.environ.get("OPSDESK_DATA_DIR"):
            return Path(os.environ["OPSDESK_DATA_DIR"]).expanduser()
        base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        return Path(base) / "opsdesk"
