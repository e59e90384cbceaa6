"""The manifest is made from the router: manifest.yml, `opsdesk slack manifest` and
the routing agree, in Socket Mode and HTTP mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.slack.commands import MAIN_COMMAND, SLASH_COMMANDS, command_line, routes
from bot.slack.manifest import manifest_yaml, slack_manifest
from handlers.catalog import COMMANDS
from handlers.router import Router
from tests.support.cli import ROOT

MANIFEST = ROOT / "manifest.yml"
ROUTED = {command.name: command for command in COMMANDS}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def opsdesk(tmp_path: Path, *args: str, config: str = "") -> str:
    file = tmp_path / "opsdesk.toml"
    file.write_text(config)
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(file), "slack", "manifest", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_manifest_yml_is_exactly_what_the_command_prints(tmp_path: Path) -> None:
    assert MANIFEST.read_text(encoding="utf-8") == opsdesk(tmp_path)
    assert MANIFEST.read_text(encoding="utf-8") == manifest_yaml(slack_manifest(ROUTED))


def test_every_declared_command_is_routed_and_every_routed_one_declared(
    manifest: dict[str, Any],
) -> None:
    declared = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(declared) == set(routes(MAIN_COMMAND))
    for command in SLASH_COMMANDS:
        entry = declared[command.name]
        assert entry["description"] == command.description
        assert entry["should_escape"] is False
        if command.runs is not None:
            usage = ROUTED[command.runs].usage.partition(" ")[2]
            assert entry.get("usage_hint", "") == usage
    assert set(declared[MAIN_COMMAND]["usage_hint"].split(" | ")) == set(ROUTED)


def test_every_alias_runs_a_command_that_exists() -> None:
    for command in SLASH_COMMANDS:
        assert command.runs is None or command.runs in ROUTED, command.name


def test_every_handler_command_is_reachable_through_opsdesk(router: Router) -> None:
    [main] = [c for c in SLASH_COMMANDS if c.runs is None]
    for command in COMMANDS:
        assert router.command_for(command_line(main, f"{command.name} x")) is command
    assert router.command_for(command_line(main, "")) is router.commands["help"]


def test_command_names_fit_slack(manifest: dict[str, Any]) -> None:
    for entry in manifest["features"]["slash_commands"]:
        name = entry["command"]
        assert name.startswith("/") and len(name) <= 32 and name == name.lower()
        assert 0 < len(entry["description"]) <= 100


def test_mentions_and_direct_messages_reach_the_bot(manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "app_mention",
        "message.im",
    ]
    home = manifest["features"]["app_home"]
    assert home["messages_tab_enabled"] is True
    assert home["messages_tab_read_only_enabled"] is False
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert {"app_mentions:read", "im:history"} <= set(scopes)


def test_the_app_asks_for_the_smallest_scopes_and_socket_mode(manifest: dict[str, Any]) -> None:
    assert len(manifest["display_information"]["name"]) <= 35
    assert manifest["features"]["bot_user"]["display_name"] == "opsdesk"
    # The history scopes let the outbox read back a post whose send was uncertain.
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == [
        "app_mentions:read",
        "channels:history",
        "chat:write",
        "commands",
        "files:write",
        "groups:history",
        "im:history",
    ]
    settings = manifest["settings"]
    assert settings["interactivity"] == {"is_enabled": True}
    assert "request_url" not in settings["event_subscriptions"]
    assert settings["socket_mode_enabled"] is True
    assert settings["org_deploy_enabled"] is False
    assert settings["token_rotation_enabled"] is False
    assert 175 <= len(manifest["display_information"]["long_description"]) <= 4000


def test_http_mode_manifest_carries_the_request_url_everywhere_and_a_renamed_command(
    tmp_path: Path,
) -> None:
    url = "https://bot.example.com/slack/events"
    printed = opsdesk(tmp_path, "--request-url", url, config='[slack]\ncommand = "/ops"\n')
    manifest = yaml.safe_load(printed)
    assert manifest == slack_manifest(ROUTED, main_command="/ops", request_url=url)
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/ops", "/od-health", "/od-review"]
    assert all(c["url"] == url for c in commands)
    settings = manifest["settings"]
    assert settings["interactivity"]["request_url"] == url
    assert settings["event_subscriptions"]["request_url"] == url
    assert settings["socket_mode_enabled"] is False


def test_a_request_url_that_slack_cannot_use_is_refused(tmp_path: Path) -> None:
    (tmp_path / "opsdesk.toml").write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(tmp_path / "opsdesk.toml"),
         "slack", "manifest", "--request-url", "http://insecure.example/slack/events"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "https://" in done.stderr and "Traceback" not in done.stderr
