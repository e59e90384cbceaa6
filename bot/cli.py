"""The `opsdesk` command.

Only argparse is imported up front, so `opsdesk --help` and a mistyped command answer
at once; each command imports what it needs (SQLAlchemy, pydantic models, the chat
adapters) in its handler. Adding a command is an entry in `build_parser` and a row
in `HANDLERS`.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from jobs.core.scrub import scrub

if TYPE_CHECKING:
    from jobs.config.loading import ConfigError, Settings

EXAMPLES = """\
examples:
  opsdesk console                      chat in the terminal (no tokens, SQLite)
  opsdesk config check opsdesk.toml    validate a configuration file
  opsdesk health --json                component states; exit 1 when not healthy
  opsdesk digest --period week --png chart.png
                                       the week's digest, its chart saved to a file
  opsdesk db upgrade                   bring the database to the current schema
  opsdesk db downgrade base            drop opsdesk's tables (a REV keeps that schema)
  opsdesk run                          scheduler, outbox and chat adapters (until SIGTERM),
                                       plus the operator page, probes and /metrics on
                                       http://127.0.0.1:8787 ([operator] in the config)
  opsdesk jobs --json                  jobs: schedule, next run, last status
  opsdesk jobs --config other.toml     options go before or after the command
  opsdesk run-job NAME                 run one job (or batch) now
  opsdesk review . --json              review the repository here (cached, delta or full)
  opsdesk slack manifest --request-url https://bot.example.com/slack/events
                                       the Slack app manifest for HTTP mode
"""


class _VersionAction(argparse.Action):
    """--version: the version bot/__init__.py carries (the package metadata's source)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **_kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        from bot import __version__

        print(f"opsdesk {__version__}")
        parser.exit()


def global_options(*, after_command: bool) -> argparse.ArgumentParser:
    """--config and -v, accepted before the command and after it. After it they are
    SUPPRESSed when absent, so a command's parser never overwrites with its default
    what was given before the command."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS if after_command else None,
        help="configuration file (default: $OPSDESK_CONFIG, then ./opsdesk.toml, "
        "else embedded defaults)",
    )
    options.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS if after_command else False,
        help="log progress to stderr (`opsdesk run` logs at INFO anyway)",
    )
    return options


SubParsers = argparse._SubParsersAction  # argparse exposes no public name for it


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsdesk",
        description="Self-hosted chat-ops bot for cached code reviews and scheduled jobs.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[global_options(after_command=False)],
    )
    parser.add_argument("--version", action=_VersionAction)
    after = global_options(after_command=True)

    def add(group: SubParsers, name: str, help: str) -> argparse.ArgumentParser:
        return group.add_parser(name, help=help, description=help, parents=[after])

    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add(commands, "console", "chat with opsdesk in the terminal")

    health = add(commands, "health", "what is up, late or down (exit 1 when not healthy)")
    health.add_argument("--json", action="store_true", help="print JSON")

    digest = add(commands, "digest", "the optimization digest of the last day or week")
    digest.add_argument("--period", choices=["day", "week"], default="day")
    digest.add_argument("--json", action="store_true", help="print the digest as JSON")
    digest.add_argument(
        "--png", metavar="FILE", help="write the 14-day chart to FILE (the 'charts' extra)"
    )

    config = add(commands, "config", "configuration tools")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = add(config_commands, "check", "validate a configuration file (exit 1 if bad)")
    check.add_argument("file", nargs="?", help="the file (default: as --config finds it)")

    add(commands, "run", "run the scheduler, the outbox, the chat adapters and the operator server")
    jobs = add(commands, "jobs", "jobs with schedule, next run and last status")
    jobs.add_argument("--json", action="store_true", help="print JSON")
    run_job = add(commands, "run-job", "run one job or batch now (exit 1 if it fails)")
    run_job.add_argument("name", help="a job, review:<repo>, or a batch")
    review = add(
        commands, "review", "review a configured repository or a local path (exit 1 on failure)"
    )
    review.add_argument(
        "target", metavar="TARGET", help="a configured repo name, or a path in a local repository"
    )
    review.add_argument("--full", action="store_true", help="review the whole tree, not the delta")
    review_json = (
        "print the review as JSON (findings, not-reviewed files, notes, tokens this call "
        "spent and full_tree_tokens: what a full model review of the commit would send)"
    )
    review.add_argument("--json", action="store_true", help=review_json)

    slack = add(commands, "slack", "Slack set-up")
    slack_commands = slack.add_subparsers(dest="slack_command", metavar="ACTION", required=True)
    manifest = add(
        slack_commands,
        "manifest",
        "print the Slack app manifest (Socket Mode; HTTP mode with --request-url)",
    )
    manifest.add_argument(
        "--request-url",
        metavar="URL",
        help="HTTP mode: the public https://…/slack/events address Slack sends to",
    )

    db = add(commands, "db", "database tools")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    add(db_commands, "upgrade", "bring the database to the current schema")
    add(db_commands, "status", "the database's schema revision")
    add(
        db_commands, "downgrade", "take the schema back to REV ('base' drops every table)"
    ).add_argument("rev", metavar="REV")
    add(
        db_commands,
        "stamp",
        "record REV ('head') as the schema without migrating (repairs a lost one)",
    ).add_argument("rev", metavar="REV")
    return parser


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
        return _fail(_config_problems(exc), code=2)
    from bot.environ import forget_secrets
    from jobs.config.loading import SECRET_VARIABLES, registered_secrets

    # Read once: from here on no child can find them in opsdesk's environment.
    forget_secrets(SECRET_VARIABLES.values(), registered_secrets(settings))
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
        return _fail(f"opsdesk: data_dir: cannot create {settings.data_dir}: {reason}", code=2)
    try:
        return handler(settings, args)
    except migrate.SchemaError as exc:
        return _fail(f"opsdesk: {exc}", code=2)
    except ConfigError as exc:
        return _fail(_config_problems(exc), code=2)
    except MissingExtra as exc:
        return _fail(f"opsdesk: {exc}", code=2)
    except (DatabaseOpenError, SQLAlchemyError, sqlite3.Error) as exc:
        cause = open_failure(exc)
        if cause is None:
            raise
        return _fail(f"opsdesk: {settings.database_url_key}: {cause}", code=2)


def config_check(file: str | None) -> int:
    from bot.extras_check import extras_needed
    from jobs.config.loading import ConfigError, find_config_file, load_config
    from jobs.core.text import plural
    from jobs.running.preflight import CONFIG_CHECKS

    path = find_config_file(file)
    try:
        config = load_config(path, CONFIG_CHECKS)
    except ConfigError as exc:
        return _fail(_config_problems(exc), code=1)
    needs = extras_needed(config, os.environ.get("OPSDESK_DATABASE_URL"))
    source = path or "the embedded defaults"
    if needs.missing:
        return _fail(
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


def run_console(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.console import run_console as run
    from bot.wiring import build_context
    from handlers.catalog import build_router

    context = build_context(settings)
    return run(build_router(context), settings.data_dir / "images", settings.data_dir / "history")


def run_health(settings: Settings, args: argparse.Namespace) -> int:
    from bot.wiring import build_context
    from handlers.health import health_report
    from storage.db import make_engine

    engine = make_engine(settings.database_url)
    context = build_context(settings, engine=engine)
    report = health_report(context)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        from bot.render_text import render_text
        from handlers.health import health_reply

        print(render_text(health_reply(report))[0])
    return 0 if report.healthy else 1


def run_digest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.wiring import build_context
    from jobs.digest.job import build_digest, build_digest_with_chart
    from jobs.digest.replies import digest_reply
    from storage.extras import require_extra

    if args.png:
        require_extra("charts", "the digest's chart (--png)")
    context = build_context(settings)
    now = context.clock()
    chart = None
    if args.png:
        digest, chart = build_digest_with_chart(context, args.period, now)
        if chart is None:
            return _fail(f"opsdesk: {digest.notes[-1]}", code=1)
        with open(args.png, "wb") as file:
            file.write(chart)
    else:
        digest = build_digest(context, args.period, now)
    if args.json:
        print(digest.model_dump_json(indent=2))
    else:
        from bot.render_text import render_text

        page = context.config.operator.public_url
        print(render_text(digest_reply(digest, chart, page), args.png)[0])
    return 0


def run_db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.db import describe, make_engine

    engine = make_engine(settings.database_url)
    before, after = migrate.upgrade(engine)
    if before.current == after.current:
        print(f"{describe(engine)}: already at {after.current}; nothing to do")
    else:
        print(f"{describe(engine)}: upgraded from {before.current or 'empty'} to {after.current}")
    return 0


def run_db_downgrade(settings: Settings, args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.db import describe, make_engine

    engine = make_engine(settings.database_url)
    before, after = migrate.downgrade(engine, args.rev)
    was, now = before.current or "empty", after.current or "empty"
    print(f"{describe(engine)}: downgraded from {was} to {now}")
    return 0


def run_db_stamp(settings: Settings, args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.db import describe, make_engine

    engine = make_engine(settings.database_url)
    print(f"{describe(engine)}: recorded as {migrate.stamp(engine, args.rev).current}")
    return 0


def run_db_status(settings: Settings, _args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.db import describe, make_engine

    engine = make_engine(settings.database_url)
    found = migrate.check(engine)
    state = "current" if found.is_current else "needs `opsdesk db upgrade`"
    print(f"{describe(engine)}: at {found.current or 'empty'}, newest {found.head} ({state})")
    return 0 if found.is_current else 1


def run_runtime(settings: Settings, _args: argparse.Namespace) -> int:
    import asyncio

    from bot.adapters import AdapterStartError
    from bot.extras_check import extras_needed
    from bot.operator.server import OperatorStartError
    from bot.runtime import limit_malloc_arenas, run_forever

    limit_malloc_arenas()  # before asyncio.run starts any thread
    needs = extras_needed(settings.config, settings.database_url)
    if needs.missing:
        return _fail("\n".join(["opsdesk: cannot start", *needs.missing]), code=2)
    for note in needs.notes:
        logging.getLogger("opsdesk").warning("%s", note)
    try:
        return asyncio.run(run_forever(settings))
    except (AdapterStartError, OperatorStartError) as exc:
        # Through logging, whose formatter redacts secrets an error text may quote.
        logging.getLogger("opsdesk").error("%s", exc)
        return 1


def run_jobs(settings: Settings, args: argparse.Namespace) -> int:
    from bot.render_text import render_text
    from bot.wiring import build_context
    from handlers.jobs import job_lines, jobs_reply

    lines = job_lines(build_context(settings))
    if args.json:
        print(json.dumps([line.to_json() for line in lines], indent=2))
    else:
        print(render_text(jobs_reply(lines))[0])
    return 0


def run_one_job(settings: Settings, args: argparse.Namespace) -> int:
    from bot.render_text import render_text
    from bot.wiring import build_context
    from handlers.jobs import run_now
    from handlers.router import UsageError

    try:
        reply = run_now(build_context(settings), args.name)
    except UsageError as exc:
        return _fail(f"opsdesk: {exc}", code=2)
    print(render_text(reply)[0])
    return 0 if reply.status == "ok" else 1


def run_review_command(settings: Settings, args: argparse.Namespace) -> int:
    from bot.render_text import render_text
    from bot.wiring import build_context
    from jobs.review.engine import run_review
    from jobs.review.replies import review_reply
    from jobs.review.targets import ReviewFailed

    context = build_context(settings)
    try:
        result = run_review(context, args.target, full=args.full, allow_local=True)
    except ReviewFailed as exc:
        return _fail(f"opsdesk: {exc}", code=1)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        # Nobody can press a button on the command line: findings without labels.
        print(render_text(review_reply(result, context.config), with_buttons=False)[0])
    return 0


def run_slack_manifest(settings: Settings, args: argparse.Namespace) -> int:
    from storage.extras import require_extra

    require_extra("slack", "opsdesk slack manifest")
    from bot.slack.manifest import manifest_yaml, slack_manifest
    from handlers.catalog import COMMANDS

    url = args.request_url
    if url is not None and not url.startswith("https://"):
        return _fail("opsdesk: --request-url must be an https:// address Slack can reach", code=2)
    commands = {command.name: command for command in COMMANDS}
    manifest = slack_manifest(commands, main_command=settings.config.slack.command, request_url=url)
    print(manifest_yaml(manifest), end="")
    return 0


Handler = Callable[["Settings", argparse.Namespace], int]
HANDLERS: dict[tuple[str, str | None], Handler] = {
    ("console", None): run_console,
    ("health", None): run_health,
    ("run", None): run_runtime,
    ("jobs", None): run_jobs,
    ("run-job", None): run_one_job,
    ("review", None): run_review_command,
    ("digest", None): run_digest,
    ("slack", "manifest"): run_slack_manifest,
    ("db", "upgrade"): run_db_upgrade,
    ("db", "status"): run_db_status,
    ("db", "downgrade"): run_db_downgrade,
    ("db", "stamp"): run_db_stamp,
}


def _config_problems(exc: ConfigError) -> str:
    if len(exc.problems) == 1:
        return f"{exc.source}: invalid configuration: {exc.problems[0]}"
    return "\n".join([f"{exc.source}: invalid configuration"] + [f"  {p}" for p in exc.problems])


def _fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


class ScrubbingStream(io.TextIOBase):
    """stdout/stderr with every configured secret redacted from what is written."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(scrub(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return self.stream.isatty()

    # input() hands the terminal to readline (line editing, history, Ctrl-C clearing
    # the line) only when stdout reports the terminal's encoding.
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.stream.errors


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
        _discard_stdout()
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


def _discard_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


if __name__ == "__main__":
    entry()
