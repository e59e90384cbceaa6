"""manifest.yml, bot/slack/commands.py and the routing agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.slack.commands import MAIN_COMMAND, SLASH_COMMANDS, command_line, routes
from handlers.catalog import COMMANDS
from handlers.router import Router

MANIFEST = Path(__file__).parents[2] / "manifest.yml"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def test_every_declared_command_is_routed_and_every_routed_one_declared(
    manifest: dict[str, Any],
) -> None:
    declared = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(declared) == set(routes(MAIN_COMMAND))
    for command in SLASH_COMMANDS:
        entry = declared[command.name]
        assert entry["description"] == command.description
        assert entry.get("usage_hint", "") == command.usage_hint
        assert entry["should_escape"] is False


def test_every_alias_runs_a_command_that_exists() -> None:
    names = {command.name for command in COMMANDS}
    for command in SLASH_COMMANDS:
        assert command.runs is None or command.runs in names, command.name


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


def test_the_app_asks_for_the_smallest_scopes_and_socket_mode(manifest: dict[str, Any]) -> None:
    assert len(manifest["display_information"]["name"]) <= 35
    assert manifest["features"]["bot_user"]["display_name"] == "opsdesk"
    # The history scopes let the outbox read back a post whose send was uncertain.
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == [
        "channels:history",
        "chat:write",
        "commands",
        "files:write",
        "groups:history",
    ]
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert settings["org_deploy_enabled"] is False
    assert settings["token_rotation_enabled"] is False
    assert 175 <= len(manifest["display_information"]["long_description"]) <= 4000
