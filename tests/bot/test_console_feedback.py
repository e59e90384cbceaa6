"""The terminal chat's buttons: a number always means the same finding and verdict."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.console import Console
from tests.support.feedback import config_for, feedback_rows, router_for
from tests.support.git_repo import Repo

FOUR_UNUSED = "import os\nimport sys\nimport json\nimport re\n"


def test_pressing_5_then_3_marks_the_findings_those_labels_named(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("four unused imports", **{"app.py": FOUR_UNUSED})
    out = io.StringIO()
    console = Console(router_for(engine, config_for(git_repo), tmp_path), out, tmp_path)
    listing = console.say("/review demo")
    assert listing is not None
    keys = [b.key for b in listing.blocks if b.key and b.key.startswith("finding:")]
    first, second = (int(key.split(":")[1]) for key in keys[:2])
    assert "[5] Helpful" in out.getvalue() and "[3] False positive" in out.getvalue()
    console.say("5")  # Helpful on the second finding
    after = out.getvalue().split("== Feedback recorded ==")[-1]
    assert "[5] Helpful" in after and "[7] False positive" in after  # same numbers
    assert "👍 Helpful — marked by" in after
    console.say("3")  # still False positive on the first finding
    assert feedback_rows(engine) == [
        (second, "console:local", "helpful"),
        (first, "console:local", "false_positive"),
    ]
    # Later replies show the same buttons under the same numbers, new ones after them.
    console.say("/findings demo")
    listed = out.getvalue().split("== Findings demo: 3 open ==")[-1]
    assert "[5] Helpful" in listed and "[1] Helpful" not in listed
    console.say("/findings demo suppressed")
    assert "[17] Undo false positive" in out.getvalue()
    console.say("99")
    assert "There is no button 99; buttons so far are 1-18." in out.getvalue()


def test_help_says_what_a_number_means_on_the_console(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    out = io.StringIO()
    Console(router_for(engine, config_for(git_repo), tmp_path), out, tmp_path).say("/help")
    assert "e.g. 3 for [3] False positive" in out.getvalue()
    assert "/findings <repo> suppressed" in out.getvalue()


def opsdesk(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The real `opsdesk` in `home`, which holds an opsdesk.toml."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPSDESK_", "SLACK_", "TELEGRAM_"))
    }
    env["OPSDESK_DATA_DIR"] = str(home.parent / "data")
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin, capture_output=True, text=True, env=env, cwd=home, timeout=120, check=False,
    )  # fmt: skip


def home_for(git_repo: Repo, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "opsdesk.toml").write_text(
        f'[[repos]]\nname = "demo"\npath = "{git_repo.path}"\n\n[reviewer.lint]\nselect = ["F"]\n'
    )
    return home


def test_the_cli_review_prints_findings_without_button_labels(
    git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("one unused import", **{"app.py": "import os\n"})
    result = opsdesk(home_for(git_repo, tmp_path), "review", "demo")
    assert result.returncode == 0, result.stderr
    assert "os imported but unused" in result.stdout
    assert "Helpful" not in result.stdout and "[1]" not in result.stdout


def test_piped_console_marks_then_suppresses_a_finding(git_repo: Repo, tmp_path: Path) -> None:
    """printf '/review REPO\\n3\\n/review REPO\\n' | opsdesk console"""
    git_repo.commit("one unused import", **{"app.py": "import os\n"})
    home = home_for(git_repo, tmp_path)
    result = opsdesk(home, "console", stdin="/review demo\n3\n/review demo\n")
    assert result.returncode == 0, result.stderr
    first, marked = result.stdout.split("== ")[1:3]
    marked, cached = marked.split("\ndemo: ", 1)  # the cached review: nothing new, one line
    assert "os imported but unused" in first and "[3] False positive" in first
    assert "0 marked false positive" in first
    assert marked.startswith("Feedback recorded")
    assert "] Undo false positive" in marked  # folded, with its undo
    assert "false positive, marked by console" in marked
    assert "os imported but unused" not in cached
    assert cached.startswith("no new commits since ")
    assert "no open findings · 1 marked false positive" in cached
