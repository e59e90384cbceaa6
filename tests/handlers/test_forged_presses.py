"""Presses that could not have come from a button opsdesk showed there are refused,
record nothing and never echo the finding's text."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from handlers.access import CONSOLE_CALLER
from jobs.core.reply import Reply
from jobs.review.feedback import mark_shown
from tests.support.feedback import (
    DANA,
    ELSEWHERE,
    TWO_UNUSED,
    config_for,
    dana_reviews_two_unused,
    feedback_rows,
    listed_findings,
    payload,
    router_for,
)
from tests.support.git_repo import Repo
from tests.support.rows import add_finding

SECRET_TEXT = "imported but unused"


def assert_refused_quietly(reply: Reply, engine: Engine) -> None:
    assert reply.status in ("refused", "error") and reply.private
    rendered = " ".join([reply.title, reply.note, *(b.text for b in reply.blocks)])
    assert "nothing was recorded" in rendered
    assert SECRET_TEXT not in rendered and "app.py" not in rendered
    assert feedback_rows(engine) == []


def test_an_unknown_finding_id_is_refused(engine: Engine, git_repo: Repo, tmp_path: Path) -> None:
    router = router_for(engine, config_for(git_repo), tmp_path)
    assert_refused_quietly(router.press(DANA, "fb:987654:fp"), engine)


def test_a_finding_shown_in_another_chat_is_refused(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    router, shown_to_dana = dana_reviews_two_unused(engine, git_repo, tmp_path)
    forged = payload(shown_to_dana, listed_findings(shown_to_dana)[0], "False positive")
    assert_refused_quietly(router.press(ELSEWHERE, forged), engine)
    # The next id, never shown anywhere, is refused too: ids are guessable.
    finding_id = int(forged.split(":")[1])
    assert_refused_quietly(router.press(DANA, f"fb:{finding_id + 100}:fp"), engine)


def test_a_local_path_review_is_never_pressable_from_a_chat(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("two unused imports", **{"app.py": TWO_UNUSED})
    router = router_for(engine, config_for(git_repo), tmp_path)
    local = router.handle(CONSOLE_CALLER, f"/review {git_repo.path}")
    assert local.status == "ok", local
    forged = payload(local, listed_findings(local)[0], "False positive")
    finding_id = int(forged.split(":")[1])
    # Even a record claiming the chat was shown it does not make it pressable there.
    mark_shown(engine, "telegram:-100", [finding_id])
    refused = router.press(DANA, forged)
    assert_refused_quietly(refused, engine)
    assert "not available on telegram" in refused.blocks[0].text


def test_a_viewer_cannot_press_on_a_repository_they_may_not_see(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    # A repository that is no longer configured: chat users cannot list or review it.
    hidden = add_finding(engine, repo="retired", message="`os` imported but unused")
    assert hidden.id is not None
    mark_shown(engine, "telegram:-100", [hidden.id])
    router = router_for(engine, config_for(git_repo), tmp_path)
    assert_refused_quietly(router.press(DANA, f"fb:{hidden.id}:fp"), engine)


def test_malformed_payloads_are_refused(engine: Engine, git_repo: Repo, tmp_path: Path) -> None:
    router = router_for(engine, config_for(git_repo), tmp_path)
    for forged in ("fb:1", "fb:x:fp", "fb:1:zz", "fb:" + "9" * 40 + ":fp", "fb:1:fp:extra"):
        reply = router.press(DANA, forged)
        assert reply.status == "error" and "nothing was recorded" in reply.blocks[0].text
    assert feedback_rows(engine) == []
