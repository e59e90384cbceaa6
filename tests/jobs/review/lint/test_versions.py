"""Every linter's version is part of the reviewer fingerprint: after an upgrade an
unchanged HEAD is reviewed again, never answered with the old linter's findings."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy.engine import Engine

from jobs.config.schema import LintReviewerConfig
from jobs.review.lint.reviewer import LintReviewer
from jobs.review.lint.versions import linter_versions
from tests.support.git_repo import Repo
from tests.support.oracles import shellcheck_program
from tests.support.reviews import Reviews, lint_config

FAKE_LINT = """#!/bin/sh
if [ "$1" = --version ]; then echo "fakelint {version}"; exit 0; fi
printf '<checkstyle><file name="%s"><error line="1" message="{says}" source="fake.R1"/>' "$1"
printf '</file></checkstyle>'
"""


def install(program: Path, version: str, says: str) -> None:
    program.write_text(FAKE_LINT.format(version=version, says=says))
    program.chmod(0o755)


def test_an_upgraded_linter_reviews_an_unchanged_head_again(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    program = tmp_path / "bin" / "fakelint"
    program.parent.mkdir()
    install(program, "1.0", "said by 1.0")
    git_repo.commit("data", **{"a.dat": "x\n"})
    linter = {"name": "fake", "format": "checkstyle", "files": ["*.dat"], "command": [str(program)]}
    reviews = Reviews(engine, lint_config(git_repo, [linter]), tmp_path)
    first = reviews()
    assert [f.message for f in first.shown] == ["said by 1.0"]
    assert reviews().cache_hit
    install(program, "2.0", "said by 2.0")  # the upgrade, in place
    upgraded = reviews()
    assert not upgraded.cache_hit and upgraded.kind == "full"
    assert [f.message for f in upgraded.shown] == ["said by 2.0"]
    assert reviews().cache_hit


def test_shellchecks_version_is_in_the_fingerprint_as_shellcheck_states_it(
    tmp_path: Path,
) -> None:
    config = LintReviewerConfig.model_validate(
        {"linters": [{"name": "shellcheck", "preset": "shellcheck"}]}
    )
    stated = subprocess.run(
        [shellcheck_program(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    versions = linter_versions(config)
    assert versions["shellcheck"] == " ".join(stated.split())
    assert versions["ruff"].startswith("ruff ")
    without = LintReviewer(LintReviewerConfig()).fingerprint()
    assert LintReviewer(config).fingerprint() != without
