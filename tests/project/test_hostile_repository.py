"""A hostile commit reviewed by the real `opsdesk` process, through the chat router
(the terminal chat's `/review`) and as the job a schedule runs (`run-job`): the
process stays small, reads and writes nothing outside its checkout, and the reply
names what was not reviewed and why.

Before, `pyproject.toml -> /dev/zero` alone took `opsdesk run` to about 3 GB within
3 s, and each of the other links made ruff or shellcheck read outside the
repository. The bound below is generous (this review peaks at about 140 MB,
ruff included) and far below what any of those attacks cost.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.review.objects import MB
from tests.support.cli import opsdesk_measured
from tests.support.git_repo import Repo
from tests.support.hostile import OUTSIDE_SECRET, commit_hostile_links, outside

MAX_RSS_MB = 400


@pytest.fixture
def hostile(git_repo: Repo, tmp_path: Path) -> tuple[Path, Path]:
    """(config file, the outside place) for a repository "demo" at a hostile commit."""
    place = outside(tmp_path)
    commit_hostile_links(git_repo, place, big_bytes=60 * MB)
    config = {
        "data_dir": str(tmp_path / "data"),
        "repos": [{"name": "demo", "path": str(git_repo.path), "schedule": "0 2 * * *"}],
        "reviewer": {
            "max_file_mb": 1,
            "lint": {"select": ["F"], "linters": [{"name": "sh", "preset": "shellcheck"}]},
        },
    }
    path = tmp_path / "opsdesk.toml"
    path.write_text(_toml(config))
    return path, place.root


def _toml(config: dict[str, object]) -> str:
    """Just enough TOML for the config above (JSON strings are TOML strings)."""
    review = config["reviewer"]
    assert isinstance(review, dict)
    repo = config["repos"][0]  # type: ignore[index]
    return "\n".join(
        [
            f"data_dir = {json.dumps(config['data_dir'])}",
            "[reviewer]",
            f"max_file_mb = {review['max_file_mb']}",
            "[reviewer.lint]",
            'select = ["F"]',
            "[[reviewer.lint.linters]]",
            'name = "sh"',
            'preset = "shellcheck"',
            "[[repos]]",
            *(f"{key} = {json.dumps(value)}" for key, value in repo.items()),
            "",
        ]
    )


def assert_nothing_outside(place: Path) -> None:
    assert sorted(p.name for p in place.iterdir()) == ["a-directory", "settings.py"]
    assert not any((place / "a-directory").iterdir())


def test_review_through_the_chat_router_stays_small_and_names_each_reason(
    hostile: tuple[Path, Path],
) -> None:
    config, place = hostile
    # The review post counts what was not reviewed in one line; the command it names
    # lists each file with its reason.
    done = opsdesk_measured(config, "console", stdin="/review demo\n/findings demo unreviewed\n")
    assert done.returncode == 0, done.stderr
    assert done.max_rss_mb < MAX_RSS_MB, f"peak {done.max_rss_mb:.0f} MB"
    reply = done.stdout
    assert "app.py" in reply and "F401" in reply
    assert "/findings demo unreviewed" in reply
    assert "symbolic link (not followed) (8)" in reply
    assert "larger than 1 MB (1): big.py" in reply
    assert "submodule (not checked out) (1): vendored-sub" in reply
    assert OUTSIDE_SECRET not in reply and "root:" not in reply
    assert_nothing_outside(place)


def test_the_scheduled_review_job_stays_small_and_records_the_reasons(
    hostile: tuple[Path, Path],
) -> None:
    config, place = hostile
    done = opsdesk_measured(config, "run-job", "review:demo")
    assert done.returncode == 0, done.stderr
    assert done.max_rss_mb < MAX_RSS_MB, f"peak {done.max_rss_mb:.0f} MB"
    listed = opsdesk_measured(config, "review", "demo", "--json")
    assert listed.returncode == 0, listed.stderr
    result = json.loads(listed.stdout)
    assert result["cache_hit"] is True  # the job's review, read back
    reasons = {s["path"]: s["reason"] for s in result["skipped_files"]}
    assert reasons["zero.py"] == "symbolic link (not followed)"
    assert reasons["big.py"] == "larger than 1 MB"
    assert_nothing_outside(place)
