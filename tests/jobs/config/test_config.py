"""`opsdesk config check` names the key, the bad value and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from jobs.config.loading import ConfigError, load_config, load_settings
from jobs.config.schema import Config, LlmReviewerConfig, ModelPrice
from tests.support.cli import ROOT

MISTAKES = {
    "unknown key": ("[scheduler]\ntimezon = 'UTC'\n", "scheduler.timezon: unknown key"),
    "wrong type": ("[slack]\nhttp_port = 'abc'\n", "slack.http_port"),
    "invalid cron": (
        "[[repos]]\nname = 'api'\npath = '/srv/api'\nschedule = '0 25 * * *'\n",
        "repos[0].schedule: invalid cron expression '0 25 * * *'",
    ),
    "cron with 4 fields": (
        "[[batches]]\nname = 'm'\nschedule = '0 2 * *'\n",
        "batches[0].schedule: invalid cron expression",
    ),
    "unknown timezone": (
        "[scheduler]\ntimezone = 'Mars/Olympus'\n",
        "scheduler.timezone: unknown timezone 'Mars/Olympus'",
    ),
    "duplicate repo": (
        "[[repos]]\nname = 'api'\npath = '/a'\n[[repos]]\nname = 'api'\npath = '/b'\n",
        "repos[1].name: duplicate name 'api'",
    ),
    "broken toml": ("[scheduler\n", "not valid TOML"),
    "repo without source": ("[[repos]]\nname = 'api'\n", "exactly one of `path`"),
    "model context too small to review anything": (
        "[reviewer.llm]\ncontext_tokens = 1024\n",
        "reviewer.llm.context_tokens = 1024 is too small to review anything",
    ),
    "unknown batch": (
        "[[jobs]]\nname = 'j'\ncommand = 'true'\nbatch = 'nope'\n",
        "jobs[0].batch: unknown batch 'nope'",
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_config_check_names_the_bad_key(
    mistake: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = MISTAKES[mistake]
    path = tmp_path / "opsdesk.toml"
    path.write_text(text)
    assert main(["config", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert expected in err, err
    assert str(path) in err


def test_example_config_is_valid() -> None:
    load_config(ROOT / "opsdesk.example.toml")  # what the machine must provide: test_readiness


def test_example_config_sets_every_section() -> None:
    config = load_config(ROOT / "opsdesk.example.toml")
    section_names = set(type(config).model_fields)
    text = (ROOT / "opsdesk.example.toml").read_text()
    for name in section_names:
        assert name in text, f"opsdesk.example.toml does not mention {name!r}"


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.toml")


def test_no_file_gives_embedded_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None)
    assert settings.source == "embedded defaults"
    assert settings.config.reviewer.default == "lint"
    assert settings.database_url.startswith("sqlite:///")


def test_file_is_found_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("[scheduler]\ntimezone = 'Europe/Berlin'\n")
    monkeypatch.setenv("OPSDESK_CONFIG", str(path))
    settings = load_settings(None)
    assert settings.source == str(path)
    assert settings.config.scheduler.timezone == "Europe/Berlin"


def test_secrets_come_from_the_environment_and_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret-token")
    settings = load_settings(None)
    assert settings.secrets.slack_bot_token is not None
    assert settings.secrets.slack_bot_token.get_secret_value() == "xoxb-very-secret-token"
    assert "xoxb-very-secret-token" not in repr(settings)


def test_database_url_from_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSDESK_DATABASE_URL", "sqlite:////tmp/elsewhere.db")
    assert load_settings(None).database_url == "sqlite:////tmp/elsewhere.db"


def test_the_default_model_budget_has_room_to_review() -> None:
    from jobs.review.llm.prompt import room_problem, smallest_context

    llm = LlmReviewerConfig()
    assert room_problem(llm) is None
    too_small = llm.model_copy(
        update={"context_tokens": smallest_context(llm.answer_tokens, llm.passes) - 1}
    )
    assert "too small to review anything" in (room_problem(too_small) or "")


def test_model_prices_are_in_one_currency() -> None:
    usd = ModelPrice(input_per_million=3, output_per_million=15)
    eur = ModelPrice(input_per_million=1, output_per_million=2, currency="EUR")
    with pytest.raises(
        ValueError, match=r"prices in one currency, please \(found \['EUR', 'USD'\]\)"
    ):
        Config(models={"big": usd, "small": eur})
    assert Config(models={"big": usd}).currency == "USD"


def test_budget_keys_are_checked_against_the_rest_of_the_file() -> None:
    repos = [{"name": "api", "path": "/srv/api"}]
    with pytest.raises(
        ValueError, match=r"budget.repos.web: unknown repository \(declared: \['api'\]\)"
    ):
        Config.model_validate({"repos": repos, "budget": {"repos": {"web": {"monthly_tokens": 9}}}})
    with pytest.raises(ValueError, match=r"monthly_cost needs prices"):
        Config.model_validate({"budget": {"monthly_cost": 20}})
    with pytest.raises(ValueError, match="thresholds are percentages from 1 to 100"):
        Config.model_validate({"budget": {"thresholds": [50, 120]}})
    budget = Config.model_validate({"budget": {"thresholds": [100, 50, 50]}}).budget
    assert (budget.thresholds, budget.on_exhausted) == ([50, 100], "alert")
