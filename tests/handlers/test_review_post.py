"""The review post answers "what changed?", at the router: the news in the title, the
new findings first and most severe first, fixed, open and not reviewed as one line each
with commands that exist, a night without news in one line; a press redraws the counts
of the post it was on."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.slack.render import render_blocks, replace_keyed
from bot.telegram.redraw import edit_after_press
from bot.telegram.render import render
from handlers.catalog import build_router
from handlers.router import Router
from jobs.core.reply import Block, Reply
from jobs.review.feedback import mark_shown
from jobs.review.post import day_words
from tests.support.clock import TravelClock
from tests.support.context import jobs_context
from tests.support.feedback import DANA, LEE, config_for, listed_findings
from tests.support.git_repo import Repo

MONDAY_0600 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def _router(engine: Engine, git_repo: Repo, tmp_path: Path, clock: TravelClock) -> Router:
    config = config_for(git_repo, reviewer={"lint": {"select": ["F", "B"]}})
    return build_router(jobs_context(engine, config, tmp_path / "data", clock=clock))


def _night_with_news(engine: Engine, git_repo: Repo, tmp_path: Path) -> tuple[Router, Reply]:
    """Sunday's review, then three commits: two findings come (one an error), one goes."""
    git_repo.commit(
        "start", **{"app.py": "import os\nimport sys\n\nsys.exit()\n", "README.md": "x\n"}
    )
    clock = TravelClock(MONDAY_0600 - timedelta(days=1))
    router = _router(engine, git_repo, tmp_path, clock)
    router.handle(DANA, "/review demo")
    git_repo.commit("drop os", **{"app.py": "import sys\n\nsys.exit()\n"})
    git_repo.commit("docs", **{"NOTES.md": "y\n"})
    git_repo.commit("parse", **{"parse.py": "def parse(a=[]):\n    return undefined_name(a)\n"})
    clock.advance(days=1)
    return router, router.handle(DANA, "/review demo")


def test_the_title_is_the_news_and_new_findings_come_first_most_severe_first(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    router, post = _night_with_news(engine, git_repo, tmp_path)
    assert post.title == "demo: 2 new, 1 fixed since yesterday — 3 commits"
    texts = [b.text for b in post.blocks]
    assert texts[0].startswith("🔴 Undefined name undefined_name\nparse.py:2 · F821")
    assert texts[1].startswith("🟠 Do not use mutable data structures for argument defaults")
    assert texts[2:] == [
        "✅ 1 fixed: app.py:1 F401",
        "📋 2 open in all, most severe first: /findings demo",
        "📄 2 files have no linter: /findings demo unreviewed",
    ]
    # Only the news has buttons; the notification is the title and the first finding.
    assert len([b for b in post.blocks if b.buttons]) == 2
    unreviewed = router.handle(DANA, "/findings demo unreviewed")
    assert unreviewed.title == "demo: 2 files not reviewed"
    assert (
        unreviewed.blocks[0].text.splitlines()[1] == "no linter for *.md (2): NOTES.md, README.md"
    )


def test_a_night_without_news_is_one_line(engine: Engine, git_repo: Repo, tmp_path: Path) -> None:
    router, _post = _night_with_news(engine, git_repo, tmp_path)
    git_repo.commit("typo", **{"README.md": "z\n"})
    quiet = router.handle(DANA, "/review demo")
    assert (quiet.title, quiet.note, quiet.all_buttons()) == ("", "", [])
    assert [b.text for b in quiet.blocks] == [
        "demo: nothing new since earlier today (1 commit) — 2 open: /findings demo"
    ]
    again = router.handle(DANA, "/review demo")  # no new commit: a cache hit
    [line] = again.blocks
    assert line.text.startswith("demo: no new commits since ") and "2 open" in line.text


def test_a_press_redraws_the_counts_of_its_post_on_both_platforms(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    router, post = _night_with_news(engine, git_repo, tmp_path)
    first = listed_findings(post)[0]
    finding_id = int(first.removeprefix("finding:"))
    mark_shown(engine, "telegram:-100", [finding_id])
    payload = f"fb:{finding_id}:fp"
    # On Telegram its *Feedback* button is pressed first: the verdicts as they stood.
    opener = f"fb:{finding_id}:v"
    verdicts = router.press(LEE, opener)
    answer = router.press(LEE, payload)
    counts = next(b for b in answer.blocks if b.key and b.key.startswith("counts:"))
    assert counts.text == (
        "📋 1 open in all, most severe first: /findings demo · 1 marked false positive: "
        "/findings demo suppressed"
    )

    # Slack: the folded finding and the new counts replace theirs in the message.
    redrawn = replace_keyed(render_blocks(post), answer, revision="1")
    assert redrawn is not None
    text = "\n".join(str(b.get("text", {}).get("text", "")) for b in redrawn)
    assert "1 open in all" in text and "2 open in all" not in text
    assert "false positive, marked by Lee" in text

    # Telegram: the pressed paragraph and the counts paragraph are edited in place.
    [chunk] = render(post)
    plain = _visible(chunk.html)
    rows = [[(b.label, b.payload) for b in row] for row in chunk.keyboard]
    placed = next(p for p in chunk.placed if p.key == first)
    # Its *Feedback* button first draws its verdicts in its place, then one is pressed.
    opened = edit_after_press(plain, chunk.html, rows, opener, verdicts, placed)
    assert opened is not None and any(data == payload for row in opened.keyboard for _, data in row)
    edit = edit_after_press(opened.text, opened.html, opened.keyboard, payload, answer, placed)
    assert edit is not None
    assert "1 open in all" in edit.text and "2 open in all" not in edit.text
    assert "false positive, marked by Lee" in edit.text
    assert [label for row in edit.keyboard for label, _ in row if "Undo" in label] == [
        "#1 Undo false positive"
    ]


def test_a_press_leaves_the_counts_of_another_reviews_post_alone(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    router, post = _night_with_news(engine, git_repo, tmp_path)
    finding_id = int(listed_findings(post)[0].removeprefix("finding:"))
    old = Reply(
        title="an older post",
        blocks=[
            next(b for b in post.blocks if b.key == f"finding:{finding_id}"),
            Block(text="📋 9 open in all", key="counts:1:0000000"),
        ],
    )
    mark_shown(engine, "telegram:-100", [finding_id])
    answer = router.press(LEE, f"fb:{finding_id}:h")
    redrawn = replace_keyed(render_blocks(old), answer)
    assert redrawn is not None
    assert "📋 9 open in all" in str(redrawn)  # not its review: not redrawn


def test_days_are_said_as_people_say_them() -> None:
    zone = UTC
    now = MONDAY_0600
    assert day_words(now - timedelta(hours=3), now, zone) == "earlier today"
    assert day_words(now - timedelta(days=1), now, zone) == "yesterday"
    assert day_words(now - timedelta(days=3), now, zone) == "Friday"
    assert day_words(now - timedelta(days=30), now, zone) == "7 Nov"


def _visible(html_text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", html_text))
