"""Two reviews at once, the chat commands through the router, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from handlers.access import CONSOLE_CALLER, Caller
from handlers.catalog import build_router
from jobs.config.schema import Config
from jobs.review.engine import ReviewResult
from jobs.review.lint.reviewer import LintReviewer
from jobs.review.reviewers import ReviewerOutput, ReviewInput
from storage.models import Feedback, Review
from tests.support.context import jobs_context
from tests.support.git_repo import Repo
from tests.support.reviews import Reviews


class HeldLint(LintReviewer):
    """Lint that holds the first review (and the repository's lock) until the other
    request has looked for a cached review (`looked`: the threads that did) and found
    none: that request then has to wait for the lock and find this review behind it."""

    calls = 0
    looked: set[int] = set()
    changed = threading.Condition()

    def review(self, review_input: ReviewInput) -> ReviewerOutput:
        HeldLint.calls += 1
        me = threading.get_ident()
        with HeldLint.changed:
            other = HeldLint.changed.wait_for(lambda: HeldLint.looked - {me}, timeout=30)
        assert other, "the second review never looked for a cached one"
        return super().review(review_input)


def test_two_concurrent_reviews_of_one_repo_make_one_review(
    engine: Engine, git_repo: Repo, lint: Reviews
) -> None:
    git_repo.commit("one", **{"app.py": "import os\n"})
    results: list[ReviewResult] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)
    HeldLint.calls = 0
    HeldLint.looked = set()

    def on_statement(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "FROM reviews" in statement:
            with HeldLint.changed:
                HeldLint.looked.add(threading.get_ident())
                HeldLint.changed.notify_all()

    def worker() -> None:
        start.wait()
        try:
            results.append(lint(reviewer=HeldLint(lint.config.reviewer.lint)))
        except BaseException as exc:
            errors.append(exc)

    event.listen(engine, "after_cursor_execute", on_statement)
    threads = [threading.Thread(target=worker) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        event.remove(engine, "after_cursor_execute", on_statement)
    assert not errors
    assert sorted(r.cache_hit for r in results) == [False, True]
    assert results[0].review_id == results[1].review_id
    assert HeldLint.calls == 1
    with Session(engine) as session:
        assert len(session.exec(select(Review)).all()) == 1


def chat_config(git_repo: Repo, shown: int = 1) -> Config:
    return Config.model_validate(
        {
            "repos": [{"name": "demo", "path": str(git_repo.path)}],
            "reviewer": {"lint": {"select": ["F"]}, "max_findings_shown": shown},
            "access": {"viewers": ["slack:U1"]},
        }
    )


SLACK_USER = Caller(platform="slack", user_id="U1", name="ann")


def test_review_and_findings_commands_with_a_feedback_button(
    sqlite_engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("one", **{"app.py": "import os\nimport sys\n"})
    router = build_router(jobs_context(sqlite_engine, chat_config(git_repo), tmp_path))
    reply = router.handle(SLACK_USER, "/review demo")
    assert reply.status == "ok", reply
    assert reply.title == "demo: first review — 2 findings"
    assert reply.note.startswith("2 open (2 new) · 0 fixed · 0 marked false positive · full ")
    assert "prompt" not in reply.note  # a linter spends no tokens, so it claims none saved
    assert len([b for b in reply.blocks if b.buttons]) == 1  # max_findings_shown = 1
    texts = [b.text for b in reply.blocks]
    assert "… and 1 more open, most severe first: /findings demo" in texts
    assert "📋 2 open in all, most severe first: /findings demo" in texts
    again = router.handle(SLACK_USER, "/review demo")
    # Nothing changed: one line, and how much faster the cached answer was.
    [line] = again.blocks
    assert line.text.startswith("demo: no new commits since ") and line.text.endswith(
        " was reviewed — 2 open: /findings demo"
    )
    assert again.title == "" and again.note == ""

    listed = router.handle(SLACK_USER, "/findings demo")
    assert listed.title == "Findings demo: 2 open"
    button = listed.blocks[0].buttons[2]  # False positive
    pressed = router.press(SLACK_USER, button.payload)
    assert pressed.title == "Feedback recorded"
    assert pressed.blocks[0].key == listed.blocks[0].key  # adapters replace that block
    # Folded: the false positive's one line, with the button that takes it back and
    # the one that mutes its rule here instead.
    assert [b.label for b in pressed.blocks[0].buttons] == ["Undo false positive", "Mute F401 here"]
    with Session(sqlite_engine) as session:
        assert [f.verdict for f in session.exec(select(Feedback))] == ["false_positive"]
    assert router.handle(SLACK_USER, "/findings demo").title == "Findings demo: 1 open"


def test_chat_users_may_review_only_configured_repos(
    sqlite_engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("one", **{"app.py": "x = 1\n"})
    router = build_router(jobs_context(sqlite_engine, chat_config(git_repo), tmp_path))
    refused = router.handle(SLACK_USER, f"/review {git_repo.path}")
    assert refused.status == "error" and "configured: demo" in refused.blocks[0].text
    local = router.handle(CONSOLE_CALLER, f"/review {git_repo.path}")
    assert local.status == "ok"
    assert local.title == f"{git_repo.path.resolve()}: first review — 0 findings"


def test_cli_review_of_a_local_path_prints_json(git_repo: Repo, tmp_path: Path) -> None:
    git_repo.git("remote", "add", "origin", "https://ci:SECRET@gitlab.com/team/demo.git")
    sha = git_repo.commit("one", **{"app.py": "import os\n"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSDESK_")}
    env["OPSDESK_DATA_DIR"] = str(tmp_path / "cli-data")
    command = [sys.executable, "-m", "bot.cli", "review", str(git_repo.path), "--json"]
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    for key in (
        "repo", "commit", "base_commit", "kind", "cache_hit", "findings", "skipped_files",
        "tokens", "full_tree_tokens", "notes", "duration_ms",
    ):  # fmt: skip
        assert key in data
    assert (data["tokens"], data["full_tree_tokens"]) == ({"prompt": 0, "completion": 0}, 0)
    assert (data["kind"], data["cache_hit"]) == ("full", False)
    assert set(data["findings"][0]) >= {
        "id",
        "path",
        "line",
        "severity",
        "category",
        "message",
        "status",
    }
    # Each finding leads to its code: the line on the host, the rule's page, the code.
    [found] = data["findings"]
    assert found["url"] == f"https://gitlab.com/team/demo/-/blob/{sha}/app.py#L1"
    assert found["rule_url"] == "https://docs.astral.sh/ruff/rules/unused-import"
    assert (found["snippet"], found["severity"], found["column"]) == ("import os", "warning", 8)
    assert "SECRET" not in first.stdout
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert json.loads(second.stdout)["cache_hit"] is True
    missing = subprocess.run(
        [sys.executable, "-m", "bot.cli", "review", "nope"], capture_output=True, text=True,
        env=env, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 1 and "unknown repository 'nope'" in missing.stderr
