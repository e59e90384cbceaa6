"""A command job gets a minimal environment: `env | sort` shows no token of the
bot's, in the run row, the outbox row or the CLI's output; variables the job's
`env` names (literal or `env:NAME`) are passed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from jobs.core.child_env import ChildEnvError, child_environment
from storage.db import make_engine
from storage.models import JobRun, OutboxPost
from tests.support.cli import TOKENS, opsdesk_with_config


def test_env_sort_in_a_command_job_shows_no_token(tmp_path: Path, database_url: str) -> None:
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f'database_url = "{database_url}"\n'
        "[[jobs]]\n"
        'name = "leak"\n'
        'command = "env | sort"\n'
        'env = { BRIEF = "short", PASSED = "env:OPERATOR_CHOICE" }\n'
        'post_to = ["slack:C1"]\n'
    )
    done = opsdesk_with_config(
        config, "run-job", "leak", env={**TOKENS, "OPERATOR_CHOICE": "chosen-value"}
    )
    assert done.returncode == 0, done.stderr
    engine = make_engine(database_url)
    with Session(engine) as session:
        (run,) = session.exec(select(JobRun)).all()
        posts = session.exec(select(OutboxPost)).all()
    names = {line.split("=", 1)[0] for line in run.output.splitlines() if "=" in line}
    assert {"PATH", "HOME", "BRIEF", "PASSED"} <= names
    assert "BRIEF=short" in run.output and "PASSED=chosen-value" in run.output
    assert not names & set(TOKENS), "no token variable reaches the job"
    stored = [run.output, run.error or "", done.stdout, done.stderr]
    stored += [post.reply_json for post in posts]
    assert posts, "the output was posted"
    for secret in TOKENS.values():
        assert all(secret not in text for text in stored)


def test_an_env_reference_to_an_unset_variable_is_named() -> None:
    with pytest.raises(ChildEnvError, match=r"\$NOT_THERE is not set"):
        child_environment({"X": "env:NOT_THERE"}, parent={"PATH": "/bin"})


def test_the_minimal_environment_keeps_only_the_base_names() -> None:
    parent = {"PATH": "/bin", "HOME": "/h", "LANG": "C.UTF-8", "TZ": "UTC", **TOKENS}
    assert child_environment({}, parent=parent) == {
        "PATH": "/bin", "HOME": "/h", "LANG": "C.UTF-8", "TZ": "UTC",
    }  # fmt: skip


def test_git_gets_its_own_settings_but_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs.review import git

    for name, value in {**TOKENS, "SSH_AUTH_SOCK": "/run/agent", "HTTPS_PROXY": "http://p:3128",
                        "GIT_SSH_COMMAND": "ssh -i key"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    env = git.git_env()
    assert not set(TOKENS) & set(env)
    assert env["SSH_AUTH_SOCK"] == "/run/agent" and env["HTTPS_PROXY"] == "http://p:3128"
    assert env["GIT_SSH_COMMAND"] == "ssh -i key" and env["PATH"]
