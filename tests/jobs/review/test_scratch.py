"""The clones and checkouts reviews leave in the data directory: those of repositories
no longer configured go once unused for a week, the rest stay."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.chores import tidy_review_scratch
from jobs.config.schema import Config
from jobs.review.scratch import UNUSED_FOR, checkout_dir, clone_dir, tidy
from tests.support.context import jobs_context
from tests.support.git_repo import Repo
from tests.support.reviews import review
from tests.support.waiting import watching

WEEK_AND_A_DAY = UNUSED_FOR.total_seconds() + 86400


def config(git_repo: Repo, *names: str) -> Config:
    """Each name a remote (cloned) copy of git_repo, linted for pyflakes."""
    return Config.model_validate(
        {
            "repos": [{"name": name, "url": str(git_repo.path)} for name in names],
            "reviewer": {"lint": {"select": ["F"]}},
        }
    )


def age(entry: Path, seconds: float) -> None:
    """Set the modification time of `entry` and everything under it `seconds` back."""
    then = time.time() - seconds
    for root, dirs, files in os.walk(entry):
        for name in dirs + files:
            os.utime(os.path.join(root, name), (then, then), follow_symlinks=False)
    os.utime(entry, (then, then))


@pytest.fixture
def reviewed(engine: Engine, git_repo: Repo, tmp_path: Path) -> Path:
    """A data directory where repositories "kept" and "dropped" were each reviewed
    (a clone and a checkout each), a week and a day ago."""
    git_repo.commit("one", **{"app.py": "import os\n"})
    data_dir = tmp_path / "data"
    both = config(git_repo, "kept", "dropped")
    for name in ("kept", "dropped"):
        assert review(engine, both, data_dir, target=name).counts["new"] == 1
        age(clone_dir(data_dir, name), WEEK_AND_A_DAY)
        age(checkout_dir(data_dir, name), WEEK_AND_A_DAY)
    return data_dir


def test_what_no_configured_repository_uses_goes_and_the_rest_stays(reviewed: Path) -> None:
    tidied = tidy(reviewed, ["kept"])
    dropped = {clone_dir(reviewed, "dropped"), checkout_dir(reviewed, "dropped")}
    assert set(tidied.removed) == dropped
    assert not any(entry.exists() for entry in dropped)
    assert tidied.freed_bytes > 0
    assert (clone_dir(reviewed, "kept") / "HEAD").is_file()
    assert (checkout_dir(reviewed, "kept") / "tree" / "app.py").is_file()
    assert tidy(reviewed, ["kept"]).removed == []


def test_an_unconfigured_entry_used_within_the_week_stays(reviewed: Path) -> None:
    (checkout_dir(reviewed, "dropped") / "index").touch()  # reviewed again just now
    tidied = tidy(reviewed, ["kept"])
    assert tidied.removed == [clone_dir(reviewed, "dropped")]
    assert checkout_dir(reviewed, "dropped").is_dir()


def test_a_review_after_the_tidy_starts_again_from_a_fresh_clone(
    engine: Engine, git_repo: Repo, reviewed: Path
) -> None:
    tidy(reviewed, [])
    result = review(engine, config(git_repo, "dropped"), reviewed, target="dropped")
    assert result.cache_hit  # same HEAD: the stored review answers, the clone is back
    assert (clone_dir(reviewed, "dropped") / "HEAD").is_file()


def test_links_and_files_in_the_scratch_space_are_left_alone(
    reviewed: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("keep me")
    link = reviewed / "checkouts" / "a-link"
    link.symlink_to(elsewhere, target_is_directory=True)
    stray = reviewed / "repos" / "notes.txt"
    stray.write_text("not a clone")
    for path in (link, stray):
        os.utime(path, (0, 0), follow_symlinks=False)
    tidy(reviewed, ["kept"])
    assert link.is_symlink() and (elsewhere / "precious.txt").read_text() == "keep me"
    assert stray.read_text() == "not a clone"


def test_a_data_directory_without_reviews_has_nothing_to_tidy(tmp_path: Path) -> None:
    tidied = tidy(tmp_path / "empty", ["kept"])
    assert (tidied.removed, tidied.freed_bytes) == ([], 0)


async def test_opsdesk_run_tidies_and_says_what_it_freed(
    engine: Engine, git_repo: Repo, reviewed: Path
) -> None:
    context = jobs_context(engine, config(git_repo, "kept"), reviewed)
    stop = asyncio.Event()
    with watching("bot.chores", logging.INFO) as log:
        task = asyncio.create_task(tidy_review_scratch(context, stop, first_after=0))
        said = await log.logged("unused clones and checkouts")
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    assert not clone_dir(reviewed, "dropped").exists()
    assert not checkout_dir(reviewed, "dropped").exists()
    assert checkout_dir(reviewed, "kept").is_dir()
    assert len(log.matching("unused clones and checkouts")) == 1
    assert "MB freed" in said.getMessage() and "dropped.git" in said.getMessage()
