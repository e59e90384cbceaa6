"""`opsdesk config check` reports, in one run, everything `opsdesk run` would refuse —
each mistake naming its key — and `opsdesk run` refuses the same list with exit 2,
which the systemd unit does not restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.support.cli import ROOT, opsdesk_with_config
from tests.support.git_repo import Repo

USER_TOKEN = "xoxp-1111-2222-UserTokenValue"


def _every_mistake(tmp_path: Path, repo: Repo) -> Path:
    plain = tmp_path / "plain"
    plain.mkdir()
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f"""
[[repos]]
name = "gone"
path = "{tmp_path / "no-such-dir"}"
[[repos]]
name = "plain"
path = "{plain}"
[[repos]]
name = "fine"
path = "{repo.path}"
post_to = ["slack:C1", "log:"]
[[jobs]]
name = "brief"
command = "true"
workdir = "{tmp_path / "no-such-workdir"}"
[[batches]]
name = "nightly"
schedule = "0 2 * * *"
post_to = ["teams:C1"]
[digest]
post_to = ["telegram:-100123"]
[slack]
enabled = true
mode = "socket"
"""
    )
    return config


EXPECTED = [
    "SLACK_BOT_TOKEN: a user token (xoxp-…) where the bot token (xoxb-…) belongs",
    "SLACK_APP_TOKEN: not set; slack.mode = 'socket' needs an app-level token",
    "repos[0].path: {tmp}/no-such-dir does not exist",
    "repos[1].path: {tmp}/plain is not a git repository",
    "jobs[0].workdir: {tmp}/no-such-workdir does not exist",
    "batches[0].post_to[0]: unknown platform 'teams': use slack:, telegram:, console: or log:",
    "digest.post_to: telegram:-100123 is never delivered: telegram is not enabled",
]


def test_config_check_lists_every_mistake_at_once(
    tmp_path: Path,
    git_repo: Repo,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _every_mistake(tmp_path, git_repo)
    monkeypatch.setenv("SLACK_BOT_TOKEN", USER_TOKEN)
    assert main(["config", "check", str(config)]) == 1
    err = capsys.readouterr().err
    for line in EXPECTED:
        assert line.format(tmp=tmp_path) in err, err
    assert "repos[2]" not in err  # a real repository, posting to an enabled platform
    assert "UserTokenValue" not in err  # the token's kind, never its value
    assert len(err.strip().splitlines()) == 1 + len(EXPECTED), err


def test_run_refuses_the_same_list_with_exit_2(tmp_path: Path, git_repo: Repo) -> None:
    config = _every_mistake(tmp_path, git_repo)
    # The schema's problem (teams:) stops every command; without it, `run` lists the rest.
    config.write_text(config.read_text().replace("teams:C1", "log:"))
    done = opsdesk_with_config(config, "run", env={"SLACK_BOT_TOKEN": USER_TOKEN}, timeout=60)
    assert done.returncode == 2, done.stderr
    for line in EXPECTED:
        if "teams" not in line:
            assert line.format(tmp=tmp_path) in done.stderr, done.stderr
    assert "UserTokenValue" not in done.stderr


def test_webhooks_without_their_secrets_and_misshapen_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        '[slack]\nenabled = true\nmode = "http"\n'
        '[telegram]\nenabled = true\nmode = "webhook"\nwebhook_url = "http://bot.example/tg"\n'
    )
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xapp-1-A0-AppTokenValue")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not a telegram token")
    assert main(["config", "check", str(config)]) == 1
    err = capsys.readouterr().err
    for expected in [
        "SLACK_BOT_TOKEN: an app-level token (xapp-…) where the bot token (xoxb-…) belongs",
        "SLACK_SIGNING_SECRET: not set; slack.mode = 'http' needs the signing secret",
        "TELEGRAM_BOT_TOKEN: not a bot token",
        "TELEGRAM_WEBHOOK_SECRET: not set; telegram.mode = 'webhook' needs it",
        "telegram.webhook_url: Telegram sends webhooks to https:// addresses only",
    ]:
        assert expected in err, err
    assert "AppTokenValue" not in err and "not a telegram token" not in err


def test_a_ready_configuration_is_ok(
    tmp_path: Path,
    git_repo: Repo,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f'[[repos]]\nname = "api"\npath = "{git_repo.path}"\npost_to = ["telegram:-100"]\n'
        f'[[jobs]]\nname = "j"\ncommand = "true"\nworkdir = "{tmp_path}"\n'
        "[telegram]\nenabled = true\n"
    )
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:AAE-valid_shape")
    assert main(["config", "check", str(config)]) == 0, capsys.readouterr().err
    assert "ok (1 repository, 1 job, 0 batches)" in capsys.readouterr().out


def test_the_example_names_only_what_a_machine_must_provide(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The example is valid in every key; what it cannot know is this machine's paths
    and which platforms are enabled, and the check names exactly those."""
    assert main(["config", "check", str(ROOT / "opsdesk.example.toml")]) == 1
    problems = capsys.readouterr().err.strip().splitlines()[1:]
    assert problems and all("/srv/" in line or "is not enabled" in line for line in problems), (
        problems
    )


def test_the_systemd_unit_does_not_restart_on_a_configuration_error() -> None:
    unit = (ROOT / "deploy" / "opsdesk.service").read_text(encoding="utf-8")
    settings = dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#")
    )
    assert settings["Restart"] == "on-failure"
    assert settings["RestartPreventExitStatus"].split() == ["2"]
    assert "ExecStartPre" not in settings  # `run` checks, and exits 2 itself
