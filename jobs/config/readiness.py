"""What `opsdesk run` needs beyond a well-formed file: the tokens of the enabled
platforms (present and of the right kind — their shape only, nothing is sent), the
repository paths and job working directories on this machine, and a delivering
platform for every post target.

`opsdesk config check` and `opsdesk run` ask the same question, so a file the check
passes is one `run` starts with, and every mistake is listed at once, each naming its
key. The checks read the configuration as a plain mapping, so they also run on a file
whose other keys fail validation (those keys are reported by the schema).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from jobs.config.loading import Secrets

# Slack: https://api.slack.com/concepts/token-types
SLACK_TOKEN_KINDS = {
    "xoxb-": "a bot token",
    "xoxp-": "a user token",
    "xapp-": "an app-level token",
    "xoxe-": "a refresh token",
    "xoxa-": "a workspace app token",
}
# Telegram: "<bot id>:<secret>", as BotFather gives it.
TELEGRAM_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,200}")
# Telegram's rule for setWebhook's secret_token.
TELEGRAM_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
DELIVERED_ALWAYS = ("log", "console")  # written to opsdesk's own log


def readiness_problems(raw: Mapping[str, Any], secrets: Secrets) -> list[str]:
    """Every reason `opsdesk run` would refuse this configuration, "key: why"."""
    slack = _table(raw, "slack")
    telegram = _table(raw, "telegram")
    problems = [*_slack_problems(slack, secrets), *_telegram_problems(telegram, secrets)]
    problems += _path_problems(raw)
    enabled = {
        platform for platform, table in (("slack", slack), ("telegram", telegram))
        if table.get("enabled") is True
    }  # fmt: skip
    problems += _target_problems(raw, enabled)
    return problems


def _table(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, Mapping) else {}


def _rows(raw: Mapping[str, Any], key: str) -> list[tuple[int, Mapping[str, Any]]]:
    value = raw.get(key)
    if not isinstance(value, list):
        return []
    return [(index, row) for index, row in enumerate(value) if isinstance(row, Mapping)]


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _slack_kind(token: str) -> str:
    return next(
        (kind for prefix, kind in SLACK_TOKEN_KINDS.items() if token.startswith(prefix)),
        "not a Slack token",
    )


def _slack_problems(slack: Mapping[str, Any], secrets: Secrets) -> list[str]:
    if slack.get("enabled") is not True:
        return []
    mode = slack.get("mode", "socket")
    problems = []
    bot = _secret(secrets.slack_bot_token)
    if bot is None:
        problems.append(
            "SLACK_BOT_TOKEN: not set; slack.enabled = true needs the bot token "
            "(xoxb-…, OAuth & Permissions → Bot User OAuth Token)"
        )
    elif not bot.startswith("xoxb-"):
        problems.append(
            f"SLACK_BOT_TOKEN: {_slack_kind(bot)} ({bot[:5]}…) where the bot token (xoxb-…) "
            "belongs (OAuth & Permissions → Bot User OAuth Token)"
        )
    app = _secret(secrets.slack_app_token)
    if mode == "socket" and app is None:
        problems.append(
            "SLACK_APP_TOKEN: not set; slack.mode = 'socket' needs an app-level token "
            "(xapp-…, Basic Information → App-Level Tokens, scope connections:write)"
        )
    elif mode == "socket" and app is not None and not app.startswith("xapp-"):
        problems.append(
            f"SLACK_APP_TOKEN: {_slack_kind(app)} ({app[:5]}…) where the app-level token "
            "(xapp-…) belongs"
        )
    signing = _secret(secrets.slack_signing_secret)
    if mode == "http" and signing is None:
        problems.append(
            "SLACK_SIGNING_SECRET: not set; slack.mode = 'http' needs the signing secret "
            "(Basic Information → Signing Secret) to refuse forged requests"
        )
    elif mode == "http" and signing is not None and _slack_kind(signing) != "not a Slack token":
        problems.append(
            f"SLACK_SIGNING_SECRET: {_slack_kind(signing)} where the signing secret belongs "
            "(Basic Information → Signing Secret)"
        )
    return problems


def _telegram_problems(telegram: Mapping[str, Any], secrets: Secrets) -> list[str]:
    if telegram.get("enabled") is not True:
        return []
    problems = []
    token = _secret(secrets.telegram_bot_token)
    if token is None:
        problems.append(
            "TELEGRAM_BOT_TOKEN: not set; telegram.enabled = true needs the token "
            "BotFather gave (123456789:AA…)"
        )
    elif not TELEGRAM_TOKEN.fullmatch(token):
        problems.append(
            "TELEGRAM_BOT_TOKEN: not a bot token: BotFather's tokens are the bot's number, "
            "a colon and letters, digits, _ or - (123456789:AA…)"
        )
    if telegram.get("mode", "polling") != "webhook":
        return problems
    secret = _secret(secrets.telegram_webhook_secret)
    if secret is None:
        problems.append(
            "TELEGRAM_WEBHOOK_SECRET: not set; telegram.mode = 'webhook' needs it "
            "(1-256 characters of A-Z, a-z, 0-9, _ and -) so forged updates are refused"
        )
    elif not TELEGRAM_WEBHOOK_SECRET.fullmatch(secret):
        problems.append(
            "TELEGRAM_WEBHOOK_SECRET: Telegram accepts 1-256 characters of A-Z, a-z, 0-9, "
            "_ and - only"
        )
    url = telegram.get("webhook_url")
    if isinstance(url, str) and not url.startswith("https://"):
        problems.append("telegram.webhook_url: Telegram sends webhooks to https:// addresses only")
    return problems


def _path_problems(raw: Mapping[str, Any]) -> list[str]:
    problems = []
    for index, repo in _rows(raw, "repos"):
        path = repo.get("path")
        if isinstance(path, str):
            why = _not_a_repository(Path(path).expanduser())
            if why:
                problems.append(f"repos[{index}].path: {path} {why}")
    for index, job in _rows(raw, "jobs"):
        workdir = job.get("workdir")
        if isinstance(workdir, str):
            why = _not_a_directory(Path(workdir).expanduser())
            if why:
                problems.append(f"jobs[{index}].workdir: {workdir} {why}")
    return problems


def _not_a_directory(path: Path) -> str | None:
    if not path.exists():
        return "does not exist"
    if not path.is_dir():
        return "is not a directory"
    return None


def _not_a_repository(path: Path) -> str | None:
    """A work tree (with .git) or a bare repository (HEAD and objects/)."""
    missing = _not_a_directory(path)
    if missing:
        return missing
    if (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir()):
        return None
    return "is not a git repository (a work tree or a bare repository)"


def _target_problems(raw: Mapping[str, Any], enabled: set[str]) -> list[str]:
    places: list[tuple[str, object]] = []
    for section in ("repos", "jobs", "batches"):
        places += [
            (f"{section}[{i}].post_to", row.get("post_to")) for i, row in _rows(raw, section)
        ]
    places.append(("digest.post_to", _table(raw, "digest").get("post_to")))
    problems = []
    for key, targets in places:
        if not isinstance(targets, list):
            continue
        for target in targets:
            platform = str(target).partition(":")[0]
            if platform in enabled or platform in DELIVERED_ALWAYS:
                continue
            if platform in ("slack", "telegram"):
                problems.append(
                    f"{key}: {target} is never delivered: {platform} is not enabled "
                    f"([{platform}] enabled = true)"
                )
    return problems
