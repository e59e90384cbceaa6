"""The `opsdesk` command.

Only argparse is imported up front, so `opsdesk --help` and a mistyped command answer
at once; each command imports what it needs (SQLAlchemy, pydantic models, the chat
adapters) in its handler. Adding a command is an entry in `build_parser` (parser.py), its
function in the module of its kind and a row in `HANDLERS`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bot.cli.database import run_db_downgrade, run_db_stamp, run_db_status, run_db_upgrade
from bot.cli.output import ScrubbingStream, config_problems, discard_stdout, fail
from bot.cli.parser import build_parser
from bot.cli.reports import (
    run_digest,
    run_findings,
    run_health,
    run_jobs,
    run_one_job,
    run_review_command,
    run_usage,
)
from bot.cli.serve import run_console, run_runtime
from bot.cli.setup import config_check, run_slack_manifest

if TYPE_CHECKING:
    from jobs.config.loading import Settings

__all__ = ["ScrubbingStream", "build_parser", "entry", "main"]

# Commands that log at INFO without -v: a long-running process should say what it does.
INFO_BY_DEFAULT = {"run"}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from jobs.config.loading import ConfigError, load_settings
    from jobs.running.preflight import CONFIG_CHECKS
    from storage.extras import MissingExtra

    if args.command == "config":
        return config_check(args.file or args.config)
    try:
        settings = load_settings(args.config, checks=CONFIG_CHECKS)
    except ConfigError as exc:
        return fail(config_problems(exc), code=2)
    from bot.environ import forget_secrets
    from jobs.config.loading import registered_secrets

    # Read once: from here on no child can find them in opsdesk's environment.
    forget_secrets(registered_secrets(settings))
    import sqlite3

    from sqlalchemy.exc import SQLAlchemyError

    from bot.logs import setup_logging
    from storage import migrate
    from storage.db import DatabaseOpenError, open_failure

    # load_settings registered the secrets with the scrubber.
    setup_logging(args.verbose or args.command in INFO_BY_DEFAULT, (), settings.config.log.format)
    if not isinstance(sys.stdout, ScrubbingStream):
        sys.stdout, sys.stderr = ScrubbingStream(sys.stdout), ScrubbingStream(sys.stderr)
    action = getattr(args, "db_command", None) or getattr(args, "slack_command", None)
    handler = HANDLERS[(args.command, action)]
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = "a file is in the way" if exc.errno in (17, 20) else exc.strerror
        return fail(f"opsdesk: data_dir: cannot create {settings.data_dir}: {reason}", code=2)
    try:
        return handler(settings, args)
    except migrate.SchemaError as exc:
        return fail(f"opsdesk: {exc}", code=2)
    except ConfigError as exc:
        return fail(config_problems(exc), code=2)
    except MissingExtra as exc:
        return fail(f"opsdesk: {exc}", code=2)
    except (DatabaseOpenError, SQLAlchemyError, sqlite3.Error) as exc:
        cause = open_failure(exc)
        if cause is None:
            raise
        return fail(f"opsdesk: {settings.database_url_key}: {cause}", code=2)


Handler = Callable[["Settings", argparse.Namespace], int]
HANDLERS: dict[tuple[str, str | None], Handler] = {
    ("console", None): run_console,
    ("health", None): run_health,
    ("run", None): run_runtime,
    ("jobs", None): run_jobs,
    ("run-job", None): run_one_job,
    ("review", None): run_review_command,
    ("findings", None): run_findings,
    ("digest", None): run_digest,
    ("usage", None): run_usage,
    ("slack", "manifest"): run_slack_manifest,
    ("db", "upgrade"): run_db_upgrade,
    ("db", "status"): run_db_status,
    ("db", "downgrade"): run_db_downgrade,
    ("db", "stamp"): run_db_stamp,
}


def entry() -> None:
    """The console script: main(), where a reader that stops reading (`| head -1`) is
    not an error. The exit code is the command's own when it finished, else 0."""
    code = 0
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # stdout's reader is gone: point it at /dev/null so the flush at exit raises
        # no second BrokenPipeError (the recipe in Python's `signal` documentation).
        discard_stdout()
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
