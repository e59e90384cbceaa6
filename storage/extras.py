"""Optional extras: which installed packages each one brings, and the one message a
feature gives when its extra is missing (never an ImportError).

It lives at the bottom layer so that storage (PostgreSQL), jobs (the chart) and bot
(the chat adapters) can all ask.
"""

from __future__ import annotations

import importlib.util

# The modules each extra of pyproject.toml installs; one missing means the extra is.
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "slack": ("slack_bolt", "slack_sdk", "aiohttp", "yaml"),
    "telegram": ("telegram",),
    "postgres": ("psycopg", "procrastinate"),
    "charts": ("matplotlib",),
}


class MissingExtra(Exception):
    """A feature was asked for whose optional dependencies are not installed."""

    def __init__(self, extra: str, feature: str) -> None:
        self.extra = extra
        self.feature = feature
        super().__init__(missing_extra_message(extra, feature))


def missing_extra_message(extra: str, feature: str) -> str:
    return f"{feature} needs the '{extra}' extra: pip install 'opsdesk[{extra}]'"


def has_extra(extra: str) -> bool:
    """Whether the extra's packages can be imported, without importing them."""
    try:
        return all(importlib.util.find_spec(module) is not None for module in EXTRA_MODULES[extra])
    except (ImportError, ValueError):
        # find_spec imports parent packages; a broken or blocked one counts as missing.
        return False


def require_extra(extra: str, feature: str) -> None:
    """Raise MissingExtra naming `extra` unless it is installed."""
    if not has_extra(extra):
        raise MissingExtra(extra, feature)
