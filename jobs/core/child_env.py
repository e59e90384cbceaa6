"""The environment a child process gets: a minimal one, never the bot's own.

opsdesk's environment holds its tokens (Slack, Telegram, the model key); a child
(a `command` job, a linter) receives only what it needs to run: PATH, HOME, LANG,
TZ (and the LC_* locale when set), plus the names given to it. A value written
`env:NAME` is copied from opsdesk's environment: that is how an operator chooses
to pass one of its variables to a job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

BASE_NAMES = ("PATH", "HOME", "LANG", "TZ", "LC_ALL", "LC_CTYPE", "TMPDIR")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
ENV_REFERENCE = "env:"


class ChildEnvError(ValueError):
    """An `env:NAME` reference names a variable opsdesk's environment lacks."""


def child_environment(
    extra: Mapping[str, str] | None = None, parent: Mapping[str, str] | None = None
) -> dict[str, str]:
    """PATH, HOME, LANG, TZ (as opsdesk has them) plus `extra`, whose `env:NAME`
    values are resolved from `parent` (default: os.environ)."""
    source = os.environ if parent is None else parent
    env = {name: source[name] for name in BASE_NAMES if name in source}
    env.setdefault("PATH", DEFAULT_PATH)
    for name, value in (extra or {}).items():
        env[name] = resolve(name, value, source)
    return env


def resolve(name: str, value: str, parent: Mapping[str, str]) -> str:
    if not value.startswith(ENV_REFERENCE):
        return value
    wanted = value[len(ENV_REFERENCE) :]
    if wanted not in parent:
        raise ChildEnvError(
            f"env {name} = {value!r}: ${wanted} is not set in opsdesk's environment"
        )
    return parent[wanted]
