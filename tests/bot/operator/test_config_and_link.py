"""[operator] settings, the token from the environment only, and the digest's link to the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from handlers.access import CONSOLE_CALLER
from handlers.catalog import build_router
from jobs.config.loading import ConfigError, Secrets, load_config
from jobs.config.schema import Config
from jobs.core.reply import Reply
from jobs.digest.job import post_daily_digest
from storage.models import OutboxPost, utcnow
from tests.support.context import jobs_context


def test_the_operator_listens_on_loopback_8787_by_default() -> None:
    operator = Config().operator
    assert (operator.enabled, operator.address(), operator.public_url) == (
        True,
        ("127.0.0.1", 8787),
        None,
    )
    assert Config.model_validate({"operator": {"listen": "[::1]:9000"}}).operator.address() == (
        "::1",
        9000,
    )


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('listen = "8787"', "operator.listen: listen must be HOST:PORT"),
        ('listen = "0.0.0.0:99999"', "operator.listen: listen must be HOST:PORT"),
        ('public_url = "opsdesk.example.org"', "operator.public_url: public_url must start"),
        ('token = "abc"', "operator.token: unknown key"),
    ],
)
def test_bad_operator_settings_name_the_key(tmp_path: Path, table: str, problem: str) -> None:
    file = tmp_path / "opsdesk.toml"
    file.write_text(f"[operator]\n{table}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(file)
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems


def test_the_token_comes_from_the_environment_and_never_shows() -> None:
    secrets = Secrets.from_env({"OPSDESK_OPERATOR_TOKEN": " s3cret-operator-token "})
    assert secrets.operator_token is not None
    assert secrets.operator_token.get_secret_value() == "s3cret-operator-token"
    assert "s3cret" not in repr(secrets)


def test_the_daily_post_links_to_the_page_when_public_url_is_set(engine: Engine) -> None:
    config = Config.model_validate(
        {"digest": {"post_to": ["slack:C1"]}, "operator": {"public_url": "https://ops.example/"}}
    )
    post_daily_digest(jobs_context(engine, config), utcnow())
    with Session(engine) as session:
        row = session.exec(select(OutboxPost).where(OutboxPost.kind == "digest")).one()
    reply = Reply.model_validate_json(row.reply_json)
    assert {f.label: f.value for f in reply.fields}["Details"] == "https://ops.example/?period=day"


def test_without_public_url_the_post_has_no_link(engine: Engine) -> None:
    config = Config.model_validate({"digest": {"post_to": ["slack:C1"]}})
    post_daily_digest(jobs_context(engine, config), utcnow())
    with Session(engine) as session:
        row = session.exec(select(OutboxPost).where(OutboxPost.kind == "digest")).one()
    assert "Details" not in {f.label for f in Reply.model_validate_json(row.reply_json).fields}


@pytest.mark.parametrize(("line", "period"), [("/digest week", "week"), ("/run digest", "day")])
def test_a_digest_asked_for_in_chat_links_to_the_page_too(
    engine: Engine, line: str, period: str
) -> None:
    config = Config.model_validate(
        {"digest": {"post_to": ["slack:C1"]}, "operator": {"public_url": "https://ops.example/"}}
    )
    reply = build_router(jobs_context(engine, config)).handle(CONSOLE_CALLER, line)
    assert reply.status == "ok", reply.text
    page = {f.label: f.value for f in reply.fields}["Details"]
    assert page == f"https://ops.example/?period={period}"
