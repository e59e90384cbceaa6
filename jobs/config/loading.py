"""Find, read and validate the configuration; secrets come from the environment only.

The file is found through --config, then OPSDESK_CONFIG, then ./opsdesk.toml; no file
at all is valid and gives the embedded defaults.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from jobs.config.problems import describe_errors
from jobs.config.schema import Config
from jobs.core import scrub

EMBEDDED = "embedded defaults"
# A configuration is a few kilobytes; these refuse a pathological file by name.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_DEPTH = 16


class ConfigError(Exception):
    """The configuration cannot be used; `problems` name each key path and why."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        # A problem may quote a value (a URL with a token in it): never unscrubbed.
        self.problems = [scrub.scrub(problem) for problem in problems]
        problems = self.problems
        super().__init__(f"{source}: " + "; ".join(problems))


# Each secret and the environment variable it comes from.
SECRET_VARIABLES = {
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_app_token": "SLACK_APP_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "telegram_bot_token": "TELEGRAM_BOT_TOKEN",
    "telegram_webhook_secret": "TELEGRAM_WEBHOOK_SECRET",
    "llm_api_key": "OPSDESK_LLM_API_KEY",
    "operator_token": "OPSDESK_OPERATOR_TOKEN",
}


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

    def values(self) -> list[str | None]:
        return [s.get_secret_value() if s else None for s in vars(self).values()]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Secrets:
        env = os.environ if environ is None else environ

        def secret(name: str) -> SecretStr | None:
            value = env.get(name, "").strip()
            return SecretStr(value) if value else None

        return cls(**{key: secret(name) for key, name in SECRET_VARIABLES.items()})


@dataclass(frozen=True)
class Settings:
    config: Config
    source: str  # the file's path, or EMBEDDED
    secrets: Secrets
    database_url: str  # the resolved URL (may hold a password: never print it whole)
    data_dir: Path
    # Where database_url came from, named in start-up errors.
    database_url_key: str = "database_url"


def find_config_file(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if env.get("OPSDESK_CONFIG"):
        return Path(env["OPSDESK_CONFIG"])
    local = Path("opsdesk.toml")
    return local if local.is_file() else None


ConfigCheck = Callable[[Config], list[str]]


def load_config(path: Path | None, checks: Sequence[ConfigCheck] = ()) -> Config:
    """Read and validate one file (None: the embedded defaults), then run `checks`
    (each returns its problems, "key: why"). Raises ConfigError with every problem."""
    return validate_config(path, read_toml(path), checks)


def validate_config(
    path: Path | None, raw: dict[str, Any], checks: Sequence[ConfigCheck] = ()
) -> Config:
    """The file's tables (from read_toml) as a Config, `checks` passed."""
    source = str(path) if path else "the embedded defaults"
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, describe_errors(exc)) from None
    problems = [problem for check in checks for problem in check(config)]
    if problems:
        raise ConfigError(source, problems)
    return config


def read_toml(path: Path | None) -> dict[str, Any]:
    """The file's tables as read, bounded in size and depth (None: no file, {})."""
    if path is None:
        return {}
    source = str(path)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(
                source,
                [f"the file is {path.stat().st_size} bytes; the limit is {MAX_CONFIG_BYTES}"],
            )
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(source, ["file not found"]) from None
    except IsADirectoryError:
        raise ConfigError(source, ["is a directory, not a file"]) from None
    except OSError as exc:
        raise ConfigError(source, [f"cannot read the file: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(source, ["cannot read the file: it is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    except RecursionError:
        raise ConfigError(source, [_too_deep()]) from None
    if _depth(raw) > MAX_CONFIG_DEPTH:
        raise ConfigError(source, [_too_deep()])
    # Before any message about a value is built: a credential written into a URL is
    # redacted from it (and from everything else) from now on.
    scrub.register(_url_credentials(raw))
    return raw


def _too_deep() -> str:
    return f"values are nested too deeply (the limit is {MAX_CONFIG_DEPTH} levels)"


def _depth(value: object) -> int:
    """How deeply tables and arrays nest (iterative: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def load_settings(
    explicit: str | None = None,
    environ: Mapping[str, str] | None = None,
    checks: Sequence[ConfigCheck] = (),
) -> Settings:
    env = os.environ if environ is None else environ
    secrets = Secrets.from_env(env)
    # From here on the scrubber redacts them everywhere text leaves or is stored,
    # the configuration's own error messages included.
    scrub.register(secrets.values())
    path = find_config_file(explicit, env)
    config = load_config(path, checks)
    data_dir = config.resolved_data_dir()
    database_url = (
        env.get("OPSDESK_DATABASE_URL")
        or config.database_url
        or f"sqlite:///{data_dir / 'opsdesk.db'}"
    )
    if env.get("OPSDESK_DATABASE_URL"):
        url_key = "OPSDESK_DATABASE_URL"
    else:
        url_key = "database_url" if config.database_url else "data_dir"
    scrub.register([_database_password(database_url), *_url_passwords(config)])
    return Settings(
        config=config,
        source=str(path) if path else EMBEDDED,
        secrets=secrets,
        database_url=database_url,
        data_dir=data_dir,
        database_url_key=url_key,
    )


def registered_secrets(settings: Settings) -> list[str | None]:
    """Every secret the settings hold: the environment's tokens, the database's
    password, credentials in repository URLs."""
    database = _database_password(settings.database_url)
    return [*settings.secrets.values(), database, *_url_passwords(settings.config)]


def _url_passwords(config: Config) -> list[str | None]:
    """Credentials written into repository URLs (https://user:token@host/…)."""
    passwords: list[str | None] = []
    for repo in config.repos:
        if repo.url:
            try:
                passwords.append(urlsplit(repo.url).password)
            except ValueError:
                continue
    return passwords


def _url_credentials(raw: object) -> list[str | None]:
    """The password (or token) of every URL anywhere in a configuration as read."""
    found: list[str | None] = []
    stack = [raw]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and "://" in item and "@" in item:
            try:
                parts = urlsplit(item.strip())
                found.append(parts.password)
                if parts.password is None and parts.scheme in ("http", "https"):
                    # https://TOKEN@host: a token as the user name (a short name is not one)
                    found.append(parts.username if len(parts.username or "") >= 16 else None)
            except ValueError:
                found.append(item.partition("://")[2].rpartition("@")[0] or None)
    return found


def _database_password(url: str) -> str | None:
    try:
        return make_url(url).password
    except ArgumentError:
        return None  # reported by name when the database is opened
