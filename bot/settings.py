"""Find, read and validate the configuration; secrets come from the environment only.

The file is found through --config, then OPSDESK_CONFIG, then ./opsdesk.toml; no file
at all is valid and gives the embedded defaults.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from jobs.config import Config

EMBEDDED = "embedded defaults"


class ConfigError(Exception):
    """The configuration cannot be used; `problems` name each key path and why."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True)
class Secrets:
    """Tokens from the environment. repr() never shows them."""

    slack_bot_token: SecretStr | None = field(default=None, repr=False)
    slack_app_token: SecretStr | None = field(default=None, repr=False)
    slack_signing_secret: SecretStr | None = field(default=None, repr=False)
    telegram_bot_token: SecretStr | None = field(default=None, repr=False)
    # Checked against X-Telegram-Bot-Api-Secret-Token in webhook mode.
    telegram_webhook_secret: SecretStr | None = field(default=None, repr=False)
    llm_api_key: SecretStr | None = field(default=None, repr=False)
    # Bearer token for the operator's HTTP surface (everything but /healthz).
    operator_token: SecretStr | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Secrets:
        env = os.environ if environ is None else environ

        def secret(name: str) -> SecretStr | None:
            value = env.get(name, "").strip()
            return SecretStr(value) if value else None

        return cls(
            slack_bot_token=secret("SLACK_BOT_TOKEN"),
            slack_app_token=secret("SLACK_APP_TOKEN"),
            slack_signing_secret=secret("SLACK_SIGNING_SECRET"),
            telegram_bot_token=secret("TELEGRAM_BOT_TOKEN"),
            telegram_webhook_secret=secret("TELEGRAM_WEBHOOK_SECRET"),
            llm_api_key=secret("OPSDESK_LLM_API_KEY"),
            operator_token=secret("OPSDESK_OPERATOR_TOKEN"),
        )


@dataclass(frozen=True)
class Settings:
    config: Config
    source: str  # the file's path, or EMBEDDED
    secrets: Secrets
    database_url: str  # the resolved URL (may hold a password: never print it whole)
    data_dir: Path


def find_config_file(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if env.get("OPSDESK_CONFIG"):
        return Path(env["OPSDESK_CONFIG"])
    local = Path("opsdesk.toml")
    return local if local.is_file() else None


def load_config(path: Path | None) -> Config:
    """Read and validate one file (None: the embedded defaults). Raises ConfigError."""
    if path is None:
        return Config()
    source = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(source, ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, [f"cannot read the file: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, describe_errors(exc)) from None


def load_settings(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    env = os.environ if environ is None else environ
    path = find_config_file(explicit, env)
    config = load_config(path)
    data_dir = config.resolved_data_dir()
    database_url = (
        env.get("OPSDESK_DATABASE_URL")
        or config.database_url
        or f"sqlite:///{data_dir / 'opsdesk.db'}"
    )
    return Settings(
        config=config,
        source=str(path) if path else EMBEDDED,
        secrets=Secrets.from_env(env),
        database_url=database_url,
        data_dir=data_dir,
    )


def describe_errors(error: ValidationError) -> list[str]:
    """pydantic's errors as 'repos[0].schedule: invalid cron expression … (got '…')'."""
    problems = []
    for item in error.errors():
        path = key_path(item["loc"])
        kind = item["type"]
        if kind == "extra_forbidden":
            problems.append(f"{path}: unknown key")
            continue
        message = str(item["msg"]).removeprefix("Value error, ")
        if kind == "missing":
            problems.append(f"{path}: required key is missing")
            continue
        if not item["loc"]:
            # Model-level checks (duplicate names, unknown batch) name the key themselves.
            problems.append(message)
            continue
        got = _short(item.get("input"))
        problems.append(f"{path}: {message}" + ("" if got in message else f" (got {got})"))
    return problems


def key_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "(top level)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
