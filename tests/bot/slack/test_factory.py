"""build_slack_adapter: from settings to an adapter, or a clear refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.slack import build_slack_adapter
from handlers.router import Router
from jobs.config.loading import ConfigError, Secrets, Settings, load_config
from jobs.config.schema import Config, SlackConfig


def settings(slack: SlackConfig, **env: str) -> Settings:
    return Settings(
        config=Config(slack=slack),
        source="test",
        secrets=Secrets.from_env(env),
        database_url="sqlite://",
        data_dir=Path("."),
    )


def test_disabled_slack_builds_nothing(router: Router) -> None:
    assert build_slack_adapter(settings(SlackConfig()), router) is None


def test_missing_tokens_are_named_and_no_secret_is_shown(router: Router) -> None:
    socket = settings(SlackConfig(enabled=True), SLACK_BOT_TOKEN="xoxb-secret-1")
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN") as socket_error:
        build_slack_adapter(socket, router)
    http = settings(SlackConfig(enabled=True, mode="http"), SLACK_APP_TOKEN="xapp-secret-2")
    with pytest.raises(ConfigError) as http_error:
        build_slack_adapter(http, router)
    message = str(socket_error.value) + str(http_error.value)
    assert "SLACK_BOT_TOKEN" in message and "SLACK_SIGNING_SECRET" in message
    assert "secret-1" not in message and "secret-2" not in message


def test_the_web_api_url_comes_from_slack_api_url(router: Router) -> None:
    adapter = build_slack_adapter(
        settings(
            SlackConfig(enabled=True, mode="http", http_port=3999, command="/opsdesk-staging"),
            SLACK_BOT_TOKEN="xoxb-1",
            SLACK_SIGNING_SECRET="s",
        ),
        router,
        environ={"SLACK_API_URL": "https://slack-gov.com/api"},
    )
    assert adapter is not None
    assert adapter.app.client.base_url == "https://slack-gov.com/api/"
    assert adapter.deliverer.client.base_url == "https://slack-gov.com/api/"
    assert (adapter.mode, adapter.http_port) == ("http", 3999)


def test_socket_mode_is_the_default(router: Router) -> None:
    adapter = build_slack_adapter(
        settings(SlackConfig(enabled=True), SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xapp-1"),
        router,
        environ={},
    )
    assert adapter is not None
    assert adapter.mode == "socket"
    assert adapter.app.client.base_url == "https://slack.com/api/"
    assert not adapter.connected()


def test_a_slash_command_slack_would_refuse_is_a_config_error_naming_the_key(
    tmp_path: Path,
) -> None:
    file = tmp_path / "opsdesk.toml"
    file.write_text('[slack]\ncommand = "OpsDesk"\n')
    with pytest.raises(ConfigError) as raised:
        load_config(file)
    [problem] = raised.value.problems
    assert problem.startswith("slack.command") and "'/'" in problem
