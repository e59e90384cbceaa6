"""What a command answers, at the router, for callers on each platform: help written
as commands are typed where the caller is, hints and usage likewise, what is answered
without I/O (inside an adapter's acknowledgement), and what each role may see."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from handlers.access import CONSOLE_CALLER, Caller
from handlers.catalog import build_router
from handlers.help import CONSOLE_BUTTONS
from handlers.router import Command, Router
from jobs.config.schema import AccessConfig, BatchConfig, Config, RepoConfig
from jobs.core.reply import Reply
from tests.support.context import jobs_context

# In Slack every command is typed after the one slash command: `/opsdesk health`.
SLACK_ADMIN = Caller("slack", "U0ALICE", "C0OPS", name="alice", command_prefix="/opsdesk ")
SLACK_VIEWER = Caller("slack", "U0BOB", "C0OPS", name="bob", command_prefix="/opsdesk ")
TELEGRAM_VIEWER = Caller("telegram", "42", "42", name="dana")
STRANGER = Caller("slack", "U0EVE", "C0ELSE", name="eve", command_prefix="/opsdesk ")


def router(engine: Engine) -> Router:
    """Repository "demo" and batch "nightly" are configured (nothing of them is run)."""
    access = AccessConfig(admins=["slack:U0ALICE"], viewers=["slack:U0BOB", "telegram:42"])
    demo = RepoConfig(name="demo", path="/srv/demo")
    nightly = BatchConfig(name="nightly", schedule="0 2 * * *")
    config = Config(access=access, repos=[demo], batches=[nightly])
    return build_router(jobs_context(engine, config))


def text_of(reply: Reply) -> str:
    return "\n".join([reply.title, *(b.text for b in reply.blocks), reply.note])


def test_help_in_slack_is_written_as_typed_there(sqlite_engine: Engine) -> None:
    shown = text_of(router(sqlite_engine).handle(SLACK_ADMIN, "/help"))
    assert "/opsdesk health [all] — " in shown
    assert "/opsdesk review <repo>" in shown
    assert "\n/review" not in shown and not shown.startswith("/review")


def test_help_lists_only_what_the_callers_role_may_use(sqlite_engine: Engine) -> None:
    routed = router(sqlite_engine)
    for_viewer = text_of(routed.handle(TELEGRAM_VIEWER, "/help"))
    for_admin = text_of(routed.handle(SLACK_ADMIN, "/help"))
    assert "/pause <job>" not in for_viewer and "(admins)" not in for_viewer
    assert "/opsdesk pause <job> — " in for_admin and "(admins)" in for_admin
    assert "/health [all] — " in for_viewer


def test_only_the_console_hears_what_a_number_does(sqlite_engine: Engine) -> None:
    routed = router(sqlite_engine)
    console = text_of(routed.handle(CONSOLE_CALLER, "/help"))
    assert CONSOLE_BUTTONS in console and "e.g. 3 for [3] False positive" in console
    assert "/findings <repo> suppressed" in console
    assert CONSOLE_BUTTONS not in text_of(routed.handle(TELEGRAM_VIEWER, "/help"))
    assert CONSOLE_BUTTONS not in text_of(routed.handle(SLACK_ADMIN, "/help"))


def test_typos_and_usage_errors_name_the_command_as_typed_in_slack(sqlite_engine: Engine) -> None:
    routed = router(sqlite_engine)
    typo = routed.handle(SLACK_ADMIN, "/helth")
    assert typo.status == "error" and typo.private
    assert "Did you mean /opsdesk health?" in text_of(typo)
    assert "Send /opsdesk help for the list." in text_of(typo)
    usage = routed.handle(SLACK_ADMIN, "/digest month")
    assert usage.status == "error"
    assert [b.text for b in usage.blocks] == [
        "Unknown period 'month': use day or week.",
        "Usage: /opsdesk digest [day|week]",
    ]


def test_what_needs_no_io_is_answered_at_triage_and_the_rest_is_handed_on(
    sqlite_engine: Engine,
) -> None:
    """An adapter answers inside its acknowledgement what triage answers; the rest it
    hands to a worker (slow commands to the slow lane)."""
    routed = router(sqlite_engine)
    instant = routed.triage(SLACK_ADMIN, "/help")
    assert isinstance(instant, Reply) and instant.status == "ok"
    assert "/opsdesk health [all] — " in text_of(instant)
    for line, slow in (("/health", False), ("/review demo", True), ("/run nightly", True)):
        handed_on = routed.triage(SLACK_ADMIN, line)
        assert isinstance(handed_on, Command), line
        assert handed_on.slow is slow, line
    assert isinstance(routed.triage(SLACK_ADMIN, "/helth"), Reply)  # a typo: its hint
    assert isinstance(routed.triage(SLACK_ADMIN, "/review dmeo"), Reply)  # likewise
    assert isinstance(routed.triage(SLACK_ADMIN, "/run nigthly"), Reply)
    refused = routed.triage(STRANGER, "/health")
    assert isinstance(refused, Reply) and refused.status == "refused" and refused.private
    assert "slack:U0EVE" in text_of(refused)
    admins_only = routed.triage(SLACK_VIEWER, "/pause nightly")
    assert isinstance(admins_only, Reply) and admins_only.status == "refused"
    assert "for opsdesk admins" in text_of(admins_only)
