"""Setting opsdesk up: checking a configuration file and printing the Slack app
manifest."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from bot.cli.output import config_problems, fail

if TYPE_CHECKING:
    from jobs.config.loading import Settings


def config_check(file: str | None) -> int:
    """Every problem `opsdesk run` would stop at, in one list: the file's keys, the
    tokens the enabled platforms need (their shape), paths on this machine, post
    targets no platform delivers, missing extras. Exit 1 when there is any."""
    from bot.extras_check import extras_needed
    from jobs.config.loading import (
        ConfigError,
        Secrets,
        find_config_file,
        read_toml,
        validate_config,
    )
    from jobs.config.readiness import readiness_problems
    from jobs.core import scrub
    from jobs.core.text import plural
    from jobs.running.preflight import CONFIG_CHECKS

    path = find_config_file(file)
    source = str(path) if path else "the embedded defaults"
    secrets = Secrets.from_env()
    scrub.register(secrets.values())
    try:
        raw = read_toml(path)
    except ConfigError as exc:
        return fail(config_problems(exc), code=1)
    problems: list[str] = []
    config = None
    try:
        config = validate_config(path, raw, CONFIG_CHECKS)
    except ConfigError as exc:
        problems += exc.problems
    problems += readiness_problems(raw, secrets)
    needs = extras_needed(config, os.environ.get("OPSDESK_DATABASE_URL")) if config else None
    if problems:
        problems += [line.strip() for line in needs.missing] if needs else []
        return fail(config_problems(ConfigError(source, problems)), code=1)
    assert config is not None and needs is not None
    if needs.missing:
        return fail(
            "\n".join([f"{source}: needs packages that are not installed", *needs.missing]),
            code=1,
        )
    if path is None:
        print("no configuration file found: opsdesk runs on its embedded defaults")
    else:
        print(
            f"{path}: ok ({plural(len(config.repos), 'repository', 'repositories')}, "
            f"{plural(len(config.jobs), 'job')}, "
            f"{plural(len(config.batches), 'batch', 'batches')})"
        )
    for note in needs.notes:
        print(f"note: {note}")
    return 0


def run_slack_manifest(settings: Settings, args: argparse.Namespace) -> int:
    from storage.extras import require_extra

    require_extra("slack", "opsdesk slack manifest")
    from bot.slack.manifest import manifest_yaml, slack_manifest
    from handlers.catalog import COMMANDS

    url = args.request_url
    if url is not None and not url.startswith("https://"):
        return fail("opsdesk: --request-url must be an https:// address Slack can reach", code=2)
    commands = {command.name: command for command in COMMANDS}
    manifest = slack_manifest(commands, main_command=settings.config.slack.command, request_url=url)
    print(manifest_yaml(manifest), end="")
    return 0
