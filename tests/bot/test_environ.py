"""A child of opsdesk cannot read opsdesk's tokens from `/proc/<parent pid>/environ`:
once read, each secret is removed from os.environ and its bytes in the process's
initial environment block are overwritten. Before, a job or linter read them there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import TOKENS, opsdesk
from tests.support.git_repo import Repo


@pytest.fixture
def seen(tmp_path: Path) -> Path:
    return tmp_path / "seen-environ"


def parent_environ(seen: Path) -> str:
    return seen.read_bytes().replace(b"\0", b"\n").decode("utf-8", "replace")


def test_a_job_cannot_read_opsdesks_tokens_from_its_parent(tmp_path: Path, seen: Path) -> None:
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f"data_dir = {json.dumps(str(tmp_path / 'data'))}\n"
        "[[jobs]]\n"
        'name = "snoop"\n'
        # The command's parent is the shell that guards its process group; opsdesk is
        # that shell's parent (the 4th field of its /proc stat, after the name).
        f"command = \"cat /proc/$(sed 's/.*) . //' /proc/$PPID/stat | cut -d' ' -f1)/environ"
        f' > {seen}"\n'
    )
    env = {**TOKENS, "OPSDESK_CONFIG": str(config), "OTHER_SETTING": "left-as-it-was"}
    done = opsdesk("run-job", "snoop", env=env)
    assert done.returncode == 0, done.stderr
    environ = parent_environ(seen)
    assert "SLACK_BOT_TOKEN=" in environ  # the process is the one that had them …
    for value in TOKENS.values():
        assert value not in environ  # … and they are gone from what it shows
    assert "OTHER_SETTING=left-as-it-was" in environ  # other variables are left as they were


def test_a_linter_cannot_read_them_either(git_repo: Repo, tmp_path: Path, seen: Path) -> None:
    git_repo.commit("code", **{"app.sh": "#!/bin/sh\necho hi\n"})
    config = tmp_path / "opsdesk.toml"
    snoop = ["sh", "-c", f"cat /proc/$PPID/environ > {seen}; echo '<checkstyle/>'", "sh"]
    config.write_text(
        f"data_dir = {json.dumps(str(tmp_path / 'data'))}\n"
        "[[reviewer.lint.linters]]\n"
        'name = "snoop"\n'
        f"command = {json.dumps(snoop)}\n"
        'format = "checkstyle"\n'
        'files = ["*.sh"]\n'
        "[[repos]]\n"
        'name = "demo"\n'
        f"path = {json.dumps(str(git_repo.path))}\n"
    )
    done = opsdesk("review", "demo", env={**TOKENS, "OPSDESK_CONFIG": str(config)})
    assert done.returncode == 0, done.stderr
    environ = parent_environ(seen)
    assert "TELEGRAM_BOT_TOKEN=" in environ
    for value in TOKENS.values():
        assert value not in environ
