"""A hostile linter configuration committed to a reviewed repository, reviewed by the
real `opsdesk` process through the chat router (the terminal chat's `/review`) and as
the job a schedule runs (`run-job`): the review fails with the setting named, the
process stays small, nothing outside the checkout is read, and the answer is the same
whether the file it points at exists or not (so it cannot probe the host).

Before, `extend = "/etc/passwd"` answered in chat `Failed to parse /etc/passwd: TOML
parse error at line 1` (or `No such file`), and a `.shellcheckrc` with
`source=/dev/zero` took shellcheck to gigabytes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.cli import opsdesk_measured
from tests.support.git_repo import Repo
from tests.support.hostile import OUTSIDE_SECRET, outside

MAX_RSS_MB = 400  # such a review peaks at about 100 MB, the linters included
TARGET = "{target}"  # where each configuration points: a file outside the repository

# (files committed, the setting the reply must name)
HOSTILE = {
    "ruff.toml extend": ({"ruff.toml": f'extend = "{TARGET}"\n'}, "ruff.toml: extend = "),
    "pyproject.toml extend": (
        {"pyproject.toml": f'[project]\nname = "demo"\n[tool.ruff]\nextend = "{TARGET}"\n'},
        "pyproject.toml: extend = ",
    ),
    ".shellcheckrc source": ({".shellcheckrc": f"source={TARGET}\n"}, ".shellcheckrc: source = "),
    "a script's source directive": (
        {
            ".shellcheckrc": "external-sources=true\n",
            "lib/run.sh": f'#!/bin/sh\n# shellcheck source={TARGET}\n. ./env.sh\necho "$x"\n',
        },
        "lib/run.sh: source = ",
    ),
}


def config_file(tmp_path: Path, repo: Repo) -> Path:
    path = tmp_path / "opsdesk.toml"
    path.write_text(
        f"data_dir = {json.dumps(str(tmp_path / 'data'))}\n"
        '[reviewer.lint]\nselect = ["F"]\n'
        '[[reviewer.lint.linters]]\nname = "sh"\npreset = "shellcheck"\n'
        f'[[repos]]\nname = "demo"\npath = {json.dumps(str(repo.path))}\n'
        'schedule = "0 2 * * *"\n'
    )
    return path


def commit_pointing_at(repo: Repo, case: str, target: str) -> None:
    files, _ = HOSTILE[case]
    repo.commit(
        f"config pointing at {target}",
        **{"app.py": "import os\n", "ok.sh": "#!/bin/sh\necho hi\n"},
        **{path: content.replace(TARGET, target) for path, content in files.items()},
    )


def assert_refused_by_name(answer: str, case: str, target: str) -> None:
    _, setting = HOSTILE[case]
    shown = target[:40]  # a long value is shown cut
    assert f"{setting}'{shown}" in answer and "' points outside the repository" in answer, answer
    for read in (OUTSIDE_SECRET, "root:", "TOML parse error", "No such file", "SC1091"):
        assert read not in answer, read


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_the_chat_router_refuses_it_by_name_whether_the_target_exists_or_not(
    git_repo: Repo, tmp_path: Path, case: str
) -> None:
    place = outside(tmp_path)
    config = config_file(tmp_path, git_repo)
    answers = {}
    for target in (str(place.settings), "/etc/passwd", "/dev/zero", "/etc/no-such-file.toml"):
        commit_pointing_at(git_repo, case, target)
        done = opsdesk_measured(config, "console", stdin="/review demo\n")
        assert done.returncode == 0, done.stderr
        assert done.max_rss_mb < MAX_RSS_MB, f"peak {done.max_rss_mb:.0f} MB"
        assert "Review of demo failed" in done.stdout
        assert_refused_by_name(done.stdout, case, target)
        answers[target] = re.sub(r"= '[^']*'", "= 'TARGET'", done.stdout)
    # The same words whatever lies there: a commit cannot learn what the host holds.
    assert len(set(answers.values())) == 1


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_the_scheduled_job_fails_with_the_setting_named_and_stays_small(
    git_repo: Repo, tmp_path: Path, case: str
) -> None:
    commit_pointing_at(git_repo, case, "/dev/zero")
    config = config_file(tmp_path, git_repo)
    done = opsdesk_measured(config, "run-job", "review:demo")
    assert done.returncode == 1, done.stdout
    assert done.max_rss_mb < MAX_RSS_MB, f"peak {done.max_rss_mb:.0f} MB"
    assert "review:demo: failed" in done.stdout
    assert_refused_by_name(done.stdout, case, "/dev/zero")
    assert "Traceback" not in done.stderr
    # What the run recorded is the same reason, as `opsdesk jobs` reads it back.
    listed = opsdesk_measured(config, "jobs")
    assert "review:demo" in listed.stdout and "failed" in listed.stdout
