"""The router: parsing, usage errors, access control, feedback buttons."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from handlers.access import CONSOLE_CALLER, Caller
from handlers.catalog import build_router
from handlers.router import Command, Request, Router, UsageError, parse_command_line
from jobs.config.schema import AccessConfig, Config, RepoConfig
from jobs.core.reply import Reply
from jobs.review.feedback import mark_shown
from storage.models import Feedback, InboundEvent, JobRun
from tests.support.context import jobs_context
from tests.support.rows import add_finding

STRANGER = Caller(platform="slack", user_id="U999", chat_id="C999", name="stranger")
VIEWER = Caller(platform="slack", user_id="U1", chat_id="C1", name="viewer")
CHAT_MEMBER = Caller(platform="telegram", user_id="42", chat_id="-1001", name="member")


def config() -> Config:
    return Config(
        access=AccessConfig(admins=["slack:U0"], viewers=["slack:U1"], chats=["telegram:-1001"])
    )


def test_command_lines_are_parsed_like_a_shell() -> None:
    assert parse_command_line("/review@opsdesk_bot api full") == ("review", ["api", "full"])
    assert parse_command_line("HELP") == ("help", [])
    assert parse_command_line('/run "two words"') == ("run", ["two words"])


def test_help_lists_the_commands_that_exist(engine: Engine) -> None:
    router = build_router(jobs_context(engine))
    reply = router.handle(CONSOLE_CALLER, "/help")
    text = reply.blocks[0].text
    for name in router.commands:
        assert f"/{name}" in text


def test_unknown_command_is_a_clear_error(engine: Engine) -> None:
    reply = build_router(jobs_context(engine)).handle(CONSOLE_CALLER, "/frobnicate now")
    assert reply.status == "error"
    assert "Unknown command /frobnicate" in reply.blocks[0].text
    assert reply.private
    typo = build_router(jobs_context(engine)).handle(CONSOLE_CALLER, "/helth")
    assert "Did you mean /health?" in typo.blocks[0].text


def test_a_refused_user_sees_a_refusal_and_nothing_is_recorded(engine: Engine) -> None:
    router = build_router(jobs_context(engine, config()))
    finding_id = add_finding(engine).id
    for reply in (
        router.handle(STRANGER, "/help"),
        router.handle(STRANGER, "/health"),
        router.press(STRANGER, f"fb:{finding_id}:fp"),
    ):
        assert reply.status == "refused"
        assert "slack:U999" in reply.blocks[0].text
        assert reply.private
    with Session(engine) as session:
        assert session.exec(select(Feedback)).all() == []
        assert session.exec(select(JobRun)).all() == []
        assert session.exec(select(InboundEvent)).all() == []


def test_chat_members_and_viewers_may_read(engine: Engine) -> None:
    router = build_router(jobs_context(engine, config()))
    assert router.handle(VIEWER, "/help").status == "ok"
    assert router.handle(CHAT_MEMBER, "/help").status == "ok"


def test_a_feedback_press_records_one_verdict_per_user(engine: Engine, tmp_path: Path) -> None:
    with_repo = config().model_copy(update={"repos": [RepoConfig(name="demo", path=str(tmp_path))]})
    router = build_router(jobs_context(engine, with_repo))
    finding_id = add_finding(engine).id
    assert finding_id is not None
    mark_shown(engine, "slack:C1", [finding_id])  # as a reply to VIEWER's channel does
    first = router.press(VIEWER, f"fb:{finding_id}:h")
    again = router.press(VIEWER, f"fb:{finding_id}:h")
    changed = router.press(VIEWER, f"fb:{finding_id}:fp")
    assert first.status == again.status == changed.status == "ok"
    assert changed.blocks[0].key == f"finding:{finding_id}"
    assert "false positive, marked by" in changed.blocks[0].text
    assert [b.label for b in changed.blocks[0].buttons] == [
        "Undo false positive",
        "Mute F401 here",
    ]  # folded
    assert "will not be reported again" in changed.note
    with Session(engine) as session:
        rows = session.exec(select(Feedback)).all()
    assert [(r.user, r.verdict) for r in rows] == [("slack:U1", "false_positive")]


def test_forged_button_payloads_are_refused_without_effect(engine: Engine) -> None:
    router = build_router(jobs_context(engine, config()))
    finding_id = add_finding(engine).id
    for payload in ("zz:1", "fb:", "fb:abc:h", f"fb:{finding_id}:xx", "fb:999999:h", "fb"):
        reply = router.press(VIEWER, payload)
        assert reply.status in ("error", "refused"), payload
    with Session(engine) as session:
        assert session.exec(select(Feedback)).all() == []


def test_a_failing_handler_answers_with_an_error_not_a_crash(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_request: Request) -> Reply:
        raise RuntimeError("disk on fire")

    router = Router(jobs_context(engine), [Command("broken", "/broken", "fails", broken)])
    reply = router.handle(CONSOLE_CALLER, "/broken")
    assert reply.status == "error"
    text = reply.blocks[0].text
    assert re.fullmatch(
        r"Something went wrong \(error [0-9a-f]{4}\); the log has the details\.", text
    )
    assert "disk on fire" not in text and "RuntimeError" not in text
    error_id = text.split("error ")[1][:4]
    assert f"(error {error_id})" in caplog.text and "disk on fire" in caplog.text


def test_usage_errors_show_the_usage(engine: Engine) -> None:
    def strict(request: Request) -> Reply:
        if not request.args:
            raise UsageError("Name a repository.")
        return Reply.text("ok")

    router = Router(jobs_context(engine), [Command("strict", "/strict <repo>", "x", strict)])
    reply = router.handle(CONSOLE_CALLER, "/strict")
    assert [b.text for b in reply.blocks] == ["Name a repository.", "Usage: /strict <repo>"]


def test_a_misspelt_repository_or_job_is_answered_with_the_command_meant(
    engine: Engine, tmp_path: Path
) -> None:
    """Without any work: a name that is no repository is answered in triage (not after
    the reviews in the slow lane), with the command as it was meant, as typed there."""
    context = jobs_context(
        engine,
        Config.model_validate(
            {
                "repos": [{"name": "click", "path": str(tmp_path)}],
                "jobs": [{"name": "backup", "command": "true"}],
                "access": {"admins": ["slack:U0"]},
            }
        ),
    )
    router = build_router(context)
    admin = Caller("slack", "U0", "C1", command_prefix="/opsdesk ")
    typo = router.triage(admin, "/review clik")
    assert isinstance(typo, Reply) and typo.private
    assert "Did you mean /opsdesk review click?" in typo.blocks[0].text
    listing = router.handle(admin, "/findings Click unreviewed").blocks[0].text
    assert "Did you mean /opsdesk findings click unreviewed?" in listing
    job_typo = router.triage(admin, "/run bakup")
    assert isinstance(job_typo, Reply) and job_typo.private
    assert "Did you mean /opsdesk run backup?" in job_typo.blocks[0].text
    far = router.handle(admin, "/review zzz").blocks[0].text
    assert "Did you mean" not in far and "configured: click" in far
    assert not isinstance(router.triage(admin, "/review click"), Reply), "a real one is work"
    with Session(engine) as session:
        assert session.exec(select(JobRun)).all() == [], "nothing ran for a typo"
