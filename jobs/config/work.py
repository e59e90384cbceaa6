"""What opsdesk runs: repositories to review, command jobs and what their results
depend on, and batches that run several of them together."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from jobs.config.reviewers import LinterConfig, RepoLintConfig
from jobs.config.values import Duration, Name, ScheduleText, Strict, Target

# A branch glob for `review_branches`: feature/*, release-?, fix/[0-9]*.
BranchPattern = Annotated[
    str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._/*?\[\]-]+$")
]


class RepoConfig(Strict):
    name: Name
    path: str | None = None
    url: str | None = None
    branch: str = "HEAD"
    schedule: ScheduleText | None = None
    reviewer: Literal["lint", "llm"] | None = None
    # Linters beside ruff for this repository only, added to [reviewer.lint] linters.
    linters: list[LinterConfig] = Field(default_factory=list)
    # This repository's lint scope ([repos.lint]: paths, select, ignore), as its CI lints.
    lint: RepoLintConfig = RepoLintConfig()
    post_to: list[Target] = Field(default_factory=list)
    # Branches whose each new head is reviewed on the repository's schedule (what it
    # adds to `branch`) and posted to `post_to` once per head.
    review_branches: list[BranchPattern] = Field(default_factory=list, max_length=20)
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
    ttl: Duration = timedelta(days=1)

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
    timeout: Duration = timedelta(minutes=10)
    schedule: ScheduleText | None = None
    batch: Name | None = None
    cache: CacheConfig | None = None
    post_to: list[Target] = Field(default_factory=list)


class BatchConfig(Strict):
    name: Name
    schedule: ScheduleText
    post_to: list[Target] = Field(default_factory=list)
    concurrency: int = Field(default=2, ge=1, le=32)
