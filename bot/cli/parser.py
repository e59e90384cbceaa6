"""The `opsdesk` command line: its commands, options and examples (argparse only, so
`opsdesk --help` and a mistyped command answer at once)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

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
  opsdesk usage api --period week      model tokens and cache savings, with the forecast
  opsdesk jobs --config other.toml     options go before or after the command
  opsdesk run-job NAME                 run one job (or batch) now
  opsdesk review . --json              review the repository here (cached, delta or full)
  opsdesk review api --branch feature/x   what a branch adds (--pr 123: a pull request)
  opsdesk findings api --rule F401     the open findings of one rule (--path, --severity too)
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

    usage = add(
        commands,
        "usage",
        "model tokens, runs, reviews and cache savings by repository and model, "
        "with the month-end forecast",
    )
    usage.add_argument("repo", nargs="?", metavar="REPO", help="one configured repository")
    usage.add_argument(
        "--period",
        choices=["day", "week", "month"],
        default="month",
        help="the calendar day, week or month to now (default: month)",
    )
    usage.add_argument("--json", action="store_true", help="print JSON")

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
    review.add_argument(
        "--branch", metavar="NAME", help="what branch NAME adds, relative to its merge base"
    )
    review.add_argument(
        "--pr",
        metavar="N",
        type=int,
        help="what pull (or merge) request N adds, its head fetched from the host",
    )
    review.add_argument(
        "--base",
        metavar="NAME",
        help="with --branch or --pr: the branch to compare with (default: the configured one)",
    )
    review_json = (
        "print the review as JSON (findings, not-reviewed files, notes, tokens this call "
        "spent and full_tree_tokens: what a full model review of the commit would send)"
    )
    review.add_argument("--json", action="store_true", help=review_json)

    findings = add(
        commands,
        "findings",
        "a repository's open findings, all of them (what /findings lists a page at a time)",
    )
    findings.add_argument(
        "target", metavar="TARGET", help="a configured repo name, or a path in a local repository"
    )
    findings.add_argument("--rule", metavar="CODE", help="only this rule (F401, SC2086; any case)")
    findings.add_argument(
        "--severity", choices=["error", "warning", "info"], help="only this severity"
    )
    findings.add_argument("--path", metavar="PATH", help="only this file or directory")
    which = findings.add_mutually_exclusive_group()
    which.add_argument(
        "--suppressed",
        action="store_true",
        help="those marked false positive instead of the open ones",
    )
    which.add_argument(
        "--muted",
        action="store_true",
        help="those of a rule an admin muted in the repository (/mute)",
    )
    findings.add_argument("--json", action="store_true", help="print the findings as JSON")

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
