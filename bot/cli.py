"""The `opsdesk` command."""

from __future__ import annotations

import argparse
import io
import json
import logging
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError

from bot.logs import setup_logging
from bot.settings import ConfigError, Settings, load_config, load_settings
from bot.wiring import build_services
from handlers.catalog import build_router
from handlers.health import health_report
from jobs.scrub import scrub
from storage import schema
from storage.db import DatabaseOpenError, describe, make_engine, open_failure

EXAMPLES = """\
examples:
  opsdesk console                      chat in the terminal (no tokens, SQLite)
  opsdesk config check opsdesk.toml    validate a configuration file
  opsdesk health --json                component states; exit 1 when not healthy
  opsdesk digest --period week --png chart.png
                                       the week's digest, its chart saved to a file
  opsdesk db upgrade                   bring the database to the current schema
  opsdesk db downgrade base            drop opsdesk's tables (a REV keeps that schema)
  opsdesk run                          scheduler, outbox and chat adapters (until SIGTERM)
  opsdesk jobs --json                  jobs: schedule, next run, last status
  opsdesk run-job NAME                 run one job (or batch) now
  opsdesk review . --json              review the repository here (cached, delta or full)
  opsdesk slack manifest --request-url https://bot.example.com/slack/events
                                       the Slack app manifest for HTTP mode
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsdesk",
        description="Self-hosted chat-ops bot for cached code reviews and scheduled jobs.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: $OPSDESK_CONFIG, then ./opsdesk.toml, "
        "else embedded defaults)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    commands.add_parser("console", help="chat with opsdesk in the terminal")

    health = commands.add_parser(
        "health", help="what is up, late or down (exit 1 when not healthy)"
    )
    health.add_argument("--json", action="store_true", help="print JSON")

    digest = commands.add_parser("digest", help="the optimization digest of the last day or week")
    digest.add_argument("--period", choices=["day", "week"], default="day")
    digest.add_argument("--json", action="store_true", help="print the digest as JSON")
    digest.add_argument("--png", metavar="FILE", help="write the 14-day chart to FILE")

    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_commands.add_parser(
        "check", help="validate a configuration file (exit 1 if bad)"
    )
    check.add_argument("file", nargs="?", help="the file (default: as --config finds it)")

    commands.add_parser("run", help="run the scheduler, the outbox and the chat adapters")
    jobs = commands.add_parser("jobs", help="jobs with schedule, next run and last status")
    jobs.add_argument("--json", action="store_true", help="print JSON")
    run_job = commands.add_parser("run-job", help="run one job or batch now (exit 1 if it fails)")
    run_job.add_argument("name", help="a job, review:<repo>, or a batch")
    review = commands.add_parser(
        "review", help="review a configured repository or a local path (exit 1 on failure)"
    )
    review.add_argument(
        "target", metavar="TARGET", help="a configured repo name, or a path in a local repository"
    )
    review.add_argument("--full", action="store_true", help="review the whole tree, not the delta")
    review.add_argument(
        "--json", action="store_true",
        help="print the review as JSON (findings, not-reviewed files, notes, tokens this call "
        "spent and full_tree_tokens: what a full model review of the commit would send)",
    )  # fmt: skip

    slack = commands.add_parser("slack", help="Slack set-up")
    slack_commands = slack.add_subparsers(dest="slack_command", metavar="ACTION", required=True)
    manifest = slack_commands.add_parser(
        "manifest",
        help="print the Slack app manifest (Socket Mode; HTTP mode with --request-url)",
    )
    manifest.add_argument(
        "--request-url",
        metavar="URL",
        help="HTTP mode: the public https://…/slack/events address Slack sends to",
    )

    db = commands.add_parser("db", help="database tools")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser("upgrade", help="bring the database to the current schema")
    db_commands.add_parser("status", help="the database's schema revision")
    db_commands.add_parser(
        "downgrade", help="take the schema back to REV ('base' drops every table)"
    ).add_argument("rev", metavar="REV")
    db_commands.add_parser(
        "stamp", help="record REV ('head') as the schema without migrating (repairs a lost one)"
    ).add_argument("rev", metavar="REV")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "config":
        return config_check(args.file or args.config)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        return _fail(_config_problems(exc), code=2)
    setup_logging(args.verbose)  # load_settings registered the secrets with the scrubber
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
    except schema.SchemaError as exc:
        return _fail(f"opsdesk: {exc}", code=2)
    except ConfigError as exc:
        return _fail(_config_problems(exc), code=2)
    except (DatabaseOpenError, SQLAlchemyError, sqlite3.Error) as exc:
        cause = open_failure(exc)
        if cause is None:
            raise
        return _fail(f"opsdesk: {settings.database_url_key}: {cause}", code=2)


def config_check(file: str | None) -> int:
    from bot.settings import find_config_file
    from jobs.plural import plural

    path = find_config_file(file)
    if path is None:
        print("no configuration file found: opsdesk runs on its embedded defaults")
        return 0
    try:
        config = load_config(path)
    except ConfigError as exc:
        return _fail(_config_problems(exc), code=1)
    print(
        f"{path}: ok ({plural(len(config.repos), 'repository', 'repositories')}, "
        f"{plural(len(config.jobs), 'job')}, {plural(len(config.batches), 'batch', 'batches')})"
    )
    return 0


def run_console(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.console import run_console as run

    services = build_services(settings)
    return run(build_router(services), settings.data_dir / "images", settings.data_dir / "history")


def run_health(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.database_url)
    services = build_services(settings, engine=engine)
    report = health_report(services)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        from bot.render_text import render_text
        from handlers.health import health_reply

        print(render_text(health_reply(report))[0])
    return 0 if report.healthy else 1


def run_digest(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.digest.reply import digest_reply
    from jobs.digest.service import build_digest, build_digest_with_chart

    services = build_services(settings)
    now = services.clock()
    chart = None
    if args.png:
        digest, chart = build_digest_with_chart(services.engine, services.config, args.period, now)
        with open(args.png, "wb") as file:
            file.write(chart)
    else:
        digest = build_digest(services.engine, services.config, args.period, now)
    if args.json:
        print(digest.model_dump_json(indent=2))
    else:
        from bot.render_text import render_text

        print(render_text(digest_reply(digest, chart), args.png)[0])
    return 0


def run_db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    engine = make_engine(settings.database_url)
    before, after = schema.upgrade(engine)
    if before.current == after.current:
        print(f"{describe(engine)}: already at {after.current}; nothing to do")
    else:
        print(f"{describe(engine)}: upgraded from {before.current or 'empty'} to {after.current}")
    return 0


def run_db_downgrade(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.database_url)
    before, after = schema.downgrade(engine, args.rev)
    was, now = before.current or "empty", after.current or "empty"
    print(f"{describe(engine)}: downgraded from {was} to {now}")
    return 0


def run_db_stamp(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.database_url)
    print(f"{describe(engine)}: recorded as {schema.stamp(engine, args.rev).current}")
    return 0


def run_db_status(settings: Settings, _args: argparse.Namespace) -> int:
    engine = make_engine(settings.database_url)
    found = schema.check(engine)
    state = "current" if found.is_current else "needs `opsdesk db upgrade`"
    print(f"{describe(engine)}: at {found.current or 'empty'}, newest {found.head} ({state})")
    return 0 if found.is_current else 1


def run_runtime(settings: Settings, _args: argparse.Namespace) -> int:
    import asyncio

    from bot.adapter import AdapterStartError
    from bot.runtime import run_forever

    try:
        return asyncio.run(run_forever(settings))
    except AdapterStartError as exc:
        # Through logging, whose formatter redacts secrets an error text may quote.
        logging.getLogger("opsdesk").error("%s", exc)
        return 1


def run_jobs(settings: Settings, args: argparse.Namespace) -> int:
    from bot.render_text import render_text
    from handlers.jobs import job_lines, jobs_reply

    lines = job_lines(build_services(settings))
    if args.json:
        print(json.dumps([line.to_json() for line in lines], indent=2))
    else:
        print(render_text(jobs_reply(lines))[0])
    return 0


def run_one_job(settings: Settings, args: argparse.Namespace) -> int:
    from bot.render_text import render_text
    from handlers.jobs import run_now
    from handlers.router import UsageError

    try:
        reply = run_now(build_services(settings), args.name)
    except UsageError as exc:
        return _fail(f"opsdesk: {exc}", code=2)
    print(render_text(reply)[0])
    return 0 if reply.status == "ok" else 1


def run_review_command(settings: Settings, args: argparse.Namespace) -> int:
    from bot.render_text import render_text
    from jobs.review.engine import ReviewFailed, run_review
    from jobs.review.view import review_reply

    services = build_services(settings)
    try:
        result = run_review(
            services.engine, services.config, services.data_dir, args.target,
            full=args.full, trigger="manual", llm_api_key=services.llm_api_key,
            clock=services.clock, runner_id=services.runner_id, allow_local=True,
        )  # fmt: skip
    except ReviewFailed as exc:
        return _fail(f"opsdesk: {exc}", code=1)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        # Nobody can press a button on the command line: findings without labels.
        print(render_text(review_reply(result, services.config), with_buttons=False)[0])
    return 0


def run_slack_manifest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.slack.manifest import manifest_yaml, slack_manifest
    from handlers.catalog import COMMANDS

    url = args.request_url
    if url is not None and not url.startswith("https://"):
        return _fail("opsdesk: --request-url must be an https:// address Slack can reach", code=2)
    commands = {command.name: command for command in COMMANDS}
    manifest = slack_manifest(commands, main_command=settings.config.slack.command, request_url=url)
    print(manifest_yaml(manifest), end="")
    return 0


Handler = Callable[[Settings, argparse.Namespace], int]
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


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
