"""A repository's own lint scope ([repos.lint] paths, select, ignore): its open findings
are what `ruff check src --select … --ignore …` says in a checkout of HEAD, as the
team's CI runs it — not the whole tree's."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from jobs.config.schema import Config
from jobs.review.history import open_findings
from jobs.review.lint.linters import ruff_command
from jobs.review.run_record import recorded_review
from tests.support.context import jobs_context
from tests.support.git_repo import Repo
from tests.support.oracles import fresh_clone, oracle_env

SCOPE = {"paths": ["src", "./tools/run.py"], "select": ["F", "E"], "ignore": ["E711"]}


def ci_ruff(work: Repo, tmp_path: Path) -> Counter[tuple[str, int, str]]:
    """`ruff check src tools/run.py --select F,E --ignore E711` in a fresh clone."""
    clone = fresh_clone(work, tmp_path).resolve()
    result = subprocess.run(
        [*ruff_command(), "check", "src", "tools/run.py", "--select", "F,E", "--ignore", "E711",
         "--output-format", "json", "--no-cache", "--exit-zero"],
        cwd=clone, capture_output=True, text=True, env=oracle_env(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return Counter(
        (Path(i["filename"]).resolve().relative_to(clone).as_posix(), i["location"]["row"],
         i["code"])
        for i in json.loads(result.stdout)
    )  # fmt: skip


def scoped_config(work: Repo, **scope: Any) -> Config:
    return Config.model_validate(
        {"repos": [{"name": "demo", "path": str(work.path), "lint": scope or SCOPE}]}
    )


def test_the_open_findings_are_the_ci_command_in_a_checkout(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit(
        "tree",
        **{
            "src/app.py": "import os\n\n\ndef f(x):\n    return x == None\n\n\nl = 1; m = 2\n",
            "src/pkg/util.py": "import sys\nimport json\n",
            "tools/run.py": "import re\n",
            "tools/other.py": "import abc\n",  # not in the scope
            "bin/script.py": "import glob\n",  # nor this: the CI lints src only
            "tests/test_app.py": "import pytest\n",
        },
    )
    context = jobs_context(engine, scoped_config(git_repo), tmp_path / "data")
    result = recorded_review(context, "demo")
    opened = Counter((f.path, f.line, f.category) for f in open_findings(engine, "demo"))
    assert opened == ci_ruff(git_repo, tmp_path)
    assert {path for path, _line, _rule in opened} == {"src/app.py", "src/pkg/util.py",
                                                        "tools/run.py"}  # fmt: skip
    assert ("src/app.py", 8, "E702") in opened  # selected E, but E711 ignored
    assert not any(rule == "E711" for _p, _l, rule in opened)
    outside = {s.path: s.reason for s in result.skipped_files}
    assert "outside the lint paths (src, tools/run.py)" in outside["bin/script.py"]
    assert "tools/other.py" in outside and "src/app.py" not in outside

    # A delta keeps to the scope too: a finding outside it never opens.
    git_repo.commit("more", **{"bin/script.py": "import glob\nimport shutil\n",
                               "src/app.py": "import os\n"})  # fmt: skip
    recorded_review(context, "demo")
    opened = Counter((f.path, f.line, f.category) for f in open_findings(engine, "demo"))
    assert opened == ci_ruff(git_repo, tmp_path)


def test_a_scope_whose_paths_are_all_gone_lints_nothing(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("tree", **{"lib/a.py": "import os\n"})
    context = jobs_context(engine, scoped_config(git_repo, paths=["src"]), tmp_path / "data")
    result = recorded_review(context, "demo")
    assert open_findings(engine, "demo") == []
    assert [s.path for s in result.skipped_files] == ["lib/a.py"]


@pytest.mark.parametrize("path", ["../elsewhere", "/etc", "-x", "src/../../up", ""])
def test_a_lint_path_must_stay_inside_the_repository(path: str) -> None:
    with pytest.raises(ValidationError, match="is not a path inside the repository"):
        Config.model_validate(
            {"repos": [{"name": "demo", "path": "/srv/x", "lint": {"paths": [path]}}]}
        )
