"""A linter that follows other files answers as one whole run does: shellcheck follows
a sourced script only when it is among its inputs, so every covered file goes to one
call, however many there are."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from jobs.review.targets import ReviewFailed
from tests.support.git_repo import Repo
from tests.support.oracles import shellcheck_oracle
from tests.support.reviews import Reviews, lint_config, open_set

SHELLCHECK = [{"name": "shellcheck", "preset": "shellcheck"}]


def test_401_scripts_where_the_first_sources_the_last_match_one_whole_run(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    for number in range(1, 400):
        git_repo.write(f"a{number:03}.sh", f'#!/bin/sh\necho "script {number}"\n')
    git_repo.write("a000.sh", '#!/bin/sh\n. ./a400.sh\necho "$greeting"\n')
    git_repo.write("a400.sh", "#!/bin/sh\n# shellcheck disable=SC2034\ngreeting=hello\n")
    git_repo.commit("401 scripts")
    shell = Reviews(engine, lint_config(git_repo, SHELLCHECK), tmp_path)
    result = shell()
    assert result.to_json()["reviewed_files"] == 401
    # 400 files a call put a000.sh and a400.sh apart: SC1091 "not following", SC2154.
    assert open_set(engine, result) == shellcheck_oracle(git_repo, tmp_path)
    assert not result.shown
    # A script added in front moves every file along; the answer stays the same.
    git_repo.commit("one more", **{"_first.sh": "#!/bin/sh\necho $1\n"})
    delta = shell()
    assert open_set(engine, delta) == shellcheck_oracle(git_repo, tmp_path)
    assert [(f.path, f.category, f.status) for f in delta.findings] == [
        ("_first.sh", "SC2086", "new")
    ]


def test_files_that_do_not_fit_one_command_line_fail_the_review_clearly(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    deep = "/".join(["d" * 200] * 4)  # ~800 bytes a path: 1,400 of them pass 1 MiB
    for number in range(1400):
        git_repo.write(f"{deep}/f{number}.chk", "x\n")
    git_repo.commit("many long names")
    never_run = {"name": "checker", "format": "checkstyle", "files": ["*.chk"],
                 "command": ["sh", "-c", "echo '<checkstyle/>'", "sh"]}  # fmt: skip
    reviews = Reviews(engine, lint_config(git_repo, [never_run]), tmp_path)
    try:
        reviews()
    except ReviewFailed as failure:
        assert failure.reason == (
            "checker: its 1400 files do not fit one command line; narrow the linter's `files`"
        )
    else:
        raise AssertionError("the review did not fail")
