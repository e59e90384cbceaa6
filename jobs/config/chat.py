"""Who may do what, and how opsdesk reaches Slack and Telegram (their tokens come
from the environment, never from the file)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from jobs.config.values import Strict, Target


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
    http_port: int = Field(default=3000, ge=0, le=65535)  # 0: a port the system picks
    # HTTP mode: seconds a request's head, then its body, may take to arrive, and the
    # connections open at once (bot/slack/connections.py has the defaults' reasons).
    http_request_timeout: float = Field(default=10.0, gt=0, le=300)
    http_max_connections: int = Field(default=256, ge=1, le=10_000)
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
    webhook_port: int = Field(default=8443, ge=0, le=65535)  # 0: a port the system picks
    # A self-hosted Bot API server; TELEGRAM_API_BASE_URL overrides it.
    api_base_url: str = "https://api.telegram.org"

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> TelegramConfig:
        if self.mode == "webhook" and not self.webhook_url:
            raise ValueError("mode = 'webhook' needs webhook_url (the public HTTPS address)")
        return self
