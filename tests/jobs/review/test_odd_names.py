"""A file whose name is not UTF-8 keeps its findings: the linter's report names it
with U+FFFD, as git's diff does, and opsdesk stores and shows it so; two names a report
cannot tell apart are listed as not reviewed, never counted as reviewed in silence."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy.engine import Engine

from jobs.review.lint.names import INDISTINCT_NAME
from jobs.review.post import review_reply
from tests.support.git_repo import Repo
from tests.support.oracles import ruff_oracle, shellcheck_oracle
from tests.support.reviews import Reviews, lint_config, open_set

LATIN = "pkg/latin\udce9.py"  # b"pkg/latin\xe9.py" on disk and in git
SHOWN = "pkg/latin\ufffd.py"  # as ruff and git's diff name it


def test_a_file_named_in_latin_1_is_linted_and_its_findings_kept(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.write(LATIN, "import sys\n")
    git_repo.commit("latin-1 name")
    assert (git_repo.path / "pkg").joinpath("latin\udce9.py").exists()
    reviews = Reviews(engine, lint_config(git_repo), tmp_path)
    first = reviews()
    assert [(f.path, f.line, f.category) for f in first.shown] == [(SHOWN, 1, "F401")]
    assert open_set(engine, first) == ruff_oracle(git_repo, tmp_path)
    assert first.to_json()["reviewed_files"] == 1 and not first.skipped_files
    assert f"{SHOWN}:1 · F401" in "\n".join(
        b.text for b in review_reply(first, reviews.config).blocks
    )
    # A delta keeps the finding (the same row) and adds the new one.
    git_repo.write(LATIN, "import os\nimport sys\n")
    git_repo.commit("another import")
    delta = reviews()
    assert delta.kind == "delta"
    assert sorted((f.line, f.status) for f in delta.shown) == [(1, "new"), (2, "open")]
    assert [f.id for f in delta.shown if f.status == "open"] == [first.shown[0].id]
    assert open_set(engine, delta) == ruff_oracle(git_repo, tmp_path)


def test_a_shell_script_named_in_latin_1_is_checked_by_shellcheck(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.write("bin/run\udce9.sh", "#!/bin/sh\necho $1\n")
    git_repo.commit("script")
    shell = Reviews(
        engine, lint_config(git_repo, [{"name": "shellcheck", "preset": "shellcheck"}]), tmp_path
    )
    result = shell()
    assert [(f.path, f.category) for f in result.shown] == [("bin/run\ufffd.sh", "SC2086")]
    assert open_set(engine, result) == shellcheck_oracle(git_repo, tmp_path)
    assert result.to_json()["reviewed_files"] == 1


def test_names_a_report_cannot_tell_apart_are_listed_as_not_reviewed(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.write("a\udce9.py", "import os\n")  # b"a\xe9.py"
    git_repo.write("a\udce8.py", "import sys\n")  # b"a\xe8.py": both "a\ufffd.py"
    git_repo.commit("two latin-1 names", **{"b.py": "import re\n"})
    result = Reviews(engine, lint_config(git_repo), tmp_path)()
    assert [(f.path, f.category) for f in result.shown] == [("b.py", "F401")]
    assert Counter((s.path, s.reason) for s in result.skipped_files) == Counter(
        {("a\ufffd.py", INDISTINCT_NAME): 2}
    )
    assert result.to_json()["reviewed_files"] == 1


def test_a_finding_that_names_no_file_of_the_commit_is_left_out_and_said(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("env", **{"x.env": "a=1\n"})
    report = (
        'printf \'<checkstyle><file name="%s"><error line="1" message="real" '
        'source="env.one"/></file><file name="ghost.env"><error line="1" '
        'message="not in the commit" source="env.two"/></file></checkstyle>\' "$1"'
    )
    linter = {"name": "env", "format": "checkstyle", "files": ["*.env"],
              "command": ["sh", "-c", report, "sh"]}  # fmt: skip
    result = Reviews(engine, lint_config(git_repo, [linter]), tmp_path)()
    assert [(f.path, f.message) for f in result.shown] == [("x.env", "real")]
    assert result.notes == ("1 finding named no file of the commit",)
