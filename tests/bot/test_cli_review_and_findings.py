"""`opsdesk findings` lists what /findings lists, all of it, narrowed by rule, severity
or path; every hint `opsdesk review` prints names a command that runs; `opsdesk review
--branch/--pr` reviews what a branch or pull request adds."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from jobs.review.mutes import mute_rule
from storage.db import make_engine
from storage.models import utcnow
from tests.support.cli import opsdesk_with_config
from tests.support.git_repo import Repo
from tests.support.oracles import fresh_clone, ruff_in

SOURCE = {
    "app.py": "import os\nimport sys\n\n\ndef f(x):\n    return x == None\n",
    "pkg/util.py": "import json\nfrom typing import *\n",
}


def _config(tmp_path: Path, repo: Repo) -> Path:
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        f'[[repos]]\nname = "demo"\npath = "{repo.path}"\n'
        "[reviewer]\nmax_findings_shown = 1\n"
        '[reviewer.lint]\nselect = ["F", "E"]\n'
    )
    return config


def _json(config: Path, *args: str) -> list[dict[str, object]]:
    done = opsdesk_with_config(config, "findings", "demo", "--json", *args)
    assert done.returncode == 0, done.stderr
    listed: list[dict[str, object]] = json.loads(done.stdout)
    return listed


def test_findings_lists_them_all_and_narrows_by_rule_severity_and_path(
    git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("code", **SOURCE)
    config = _config(tmp_path, git_repo)
    review = opsdesk_with_config(config, "review", "demo")
    assert review.returncode == 0, review.stderr

    clone = fresh_clone(git_repo, tmp_path).resolve()
    truth = json.loads(ruff_in(clone, tmp_path, "--select", "F,E").stdout)
    everything = _json(config)
    assert len(everything) == len(truth) > 1
    unused = _json(config, "--rule", "f401")  # any case
    assert sorted((f["path"], f["line"]) for f in unused) == sorted(
        (
            Path(i["filename"]).resolve().relative_to(clone).as_posix(),
            i["location"]["row"],
        )
        for i in truth
        if i["code"] == "F401"
    )
    in_pkg = _json(config, "--path", "./pkg/")
    assert in_pkg and {f["path"] for f in in_pkg} == {"pkg/util.py"}
    assert _json(config, "--rule", "F401", "--path", "pkg") == [
        f for f in unused if f["path"] == "pkg/util.py"
    ]
    severities = {str(f["severity"]) for f in everything}
    for severity in severities:
        assert _json(config, "--severity", severity) == [
            f for f in everything if f["severity"] == severity
        ]
    assert _json(config, "--suppressed") == []

    text = opsdesk_with_config(config, "findings", "demo", "--rule", "E711")
    assert text.returncode == 0, text.stderr
    assert "Findings demo: 1 open of rule E711" in text.stdout and "app.py" in text.stdout


def test_every_hint_review_prints_is_a_command_that_runs(git_repo: Repo, tmp_path: Path) -> None:
    git_repo.commit("code", **SOURCE)
    config = _config(tmp_path, git_repo)
    review = opsdesk_with_config(config, "review", "demo")
    assert review.returncode == 0, review.stderr
    hints = re.findall(r": (opsdesk (?:findings|review) [^·\n]*?)\s*(?:·|\n|$)", review.stdout)
    assert hints and "/findings" not in review.stdout, review.stdout
    assert any(hint.startswith("opsdesk findings ") for hint in hints), hints
    for hint in hints:
        done = opsdesk_with_config(config, *shlex.split(hint)[1:])
        assert done.returncode == 0, done.stderr
        assert "Findings demo:" in done.stdout or hint.endswith("--json")


def test_an_unknown_repository_is_named(git_repo: Repo, tmp_path: Path) -> None:
    git_repo.commit("code", **SOURCE)
    done = opsdesk_with_config(_config(tmp_path, git_repo), "findings", "nope")
    assert done.returncode == 1 and "unknown repository 'nope'" in done.stderr


def test_review_of_a_branch_on_the_command_line(git_repo: Repo, tmp_path: Path) -> None:
    git_repo.commit("code", **SOURCE)
    git_repo.git("checkout", "-q", "-b", "feature/x")
    git_repo.commit("more", **{"pkg/more.py": "import abc\n"})
    git_repo.git("checkout", "-q", "main")
    config = _config(tmp_path, git_repo)
    config.write_text(config.read_text().replace('path = "', 'branch = "main"\npath = "'))
    done = opsdesk_with_config(config, "review", "demo", "--branch", "feature/x", "--json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["kind"] == "branch" and found["branch"]["label"] == "feature/x"
    assert found["branch"]["merge_base"] == git_repo.git("rev-parse", "main")
    assert [(f["path"], f["category"], f["status"]) for f in found["findings"]] == [
        ("pkg/more.py", "F401", "new")
    ]
    text = opsdesk_with_config(config, "review", "demo", "--branch", "feature/x")
    assert "Review demo feature/x: cached" in text.stdout, text.stdout
    unknown = opsdesk_with_config(config, "review", "demo", "--pr", "3")
    assert unknown.returncode == 1 and "no pull or merge request #3" in unknown.stderr
    both = opsdesk_with_config(config, "review", "demo", "--branch", "a", "--pr", "3")
    assert both.returncode == 2 and "not both" in both.stderr


def test_a_muted_rule_is_counted_apart_and_its_hint_runs(git_repo: Repo, tmp_path: Path) -> None:
    """A rule muted in chat (here straight into the database the CLI reads): `opsdesk
    review` counts its findings apart and names `opsdesk findings demo --muted`, which
    lists exactly them."""
    git_repo.commit("code", **SOURCE)
    config = _config(tmp_path, git_repo)
    assert opsdesk_with_config(config, "review", "demo").returncode == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'opsdesk.db'}")
    mute_rule(engine, "demo", "F401", principal="slack:U1", name="Dana", at=utcnow())
    engine.dispose()
    git_repo.commit("more", **{"more.py": "import re\n\n\ndef g(y):\n    return y == None\n"})
    review = opsdesk_with_config(config, "review", "demo")
    assert review.returncode == 0, review.stderr
    assert "4 of muted rules: opsdesk findings demo --muted" in review.stdout, review.stdout
    muted = _json(config, "--muted")
    assert sorted(str(f["path"]) for f in muted) == ["app.py", "app.py", "more.py", "pkg/util.py"]
    assert {f["category"] for f in muted} == {"F401"} and {f["status"] for f in muted} == {"muted"}
    assert all(f["category"] != "F401" for f in _json(config))
