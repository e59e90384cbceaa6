"""Fixtures every area shares: an isolated environment, real databases (SQLite always,
PostgreSQL when OPSDESK_TEST_POSTGRES_URL is set), a jobs Context and a router over
them, a real git repository, and the stand-ins for the outside services on 127.0.0.1.

Helpers that are not fixtures live in tests/support/, the stand-ins in tests/standins/;
an area's conftest holds only what that area alone uses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url
from sqlalchemy.engine import Engine

from handlers.catalog import build_router
from handlers.router import Router
from jobs.context import Context
from jobs.core import scrub
from jobs.health.model_endpoint import MODEL_PROBES
from storage import migrate
from storage.db import make_engine
from tests.standins.model_server import ModelServer
from tests.standins.slack_api import SlackApi
from tests.standins.telegram_api import TelegramApi
from tests.support.context import jobs_context
from tests.support.databases import POSTGRES_URL, fresh_schema_url
from tests.support.git_repo import GIT_ENV, Repo

NO_POSTGRES = (
    "PostgreSQL tests need OPSDESK_TEST_POSTGRES_URL (CI sets it when 127.0.0.1:5432 answers)"
)
NOT_RUN = pytest.StashKey[int]()


def needs_postgres(item: pytest.Item) -> bool:
    return item.get_closest_marker("postgres") is not None or "pg_url" in getattr(
        item, "fixturenames", ()
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a PostgreSQL URL its tests are left out, and said so once at the end, not
    skipped one line each. If nothing else was selected they stay (and skip): a run that
    selects only PostgreSQL tests must not end as "no tests collected"."""
    if POSTGRES_URL:
        return
    left_out = [item for item in items if needs_postgres(item)]
    if not left_out or len(left_out) == len(items):
        return
    config.hook.pytest_deselected(items=left_out)
    items[:] = [item for item in items if not needs_postgres(item)]
    config.stash[NOT_RUN] = len(left_out)


def pytest_report_header(config: pytest.Config) -> str:
    if POSTGRES_URL:
        return f"PostgreSQL: tests run against {make_url(POSTGRES_URL).render_as_string()}"
    return "PostgreSQL: OPSDESK_TEST_POSTGRES_URL is not set; its tests are not run"


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    not_run = config.stash.get(NOT_RUN, 0)
    if not_run:
        terminalreporter.write_line(
            f"PostgreSQL: {not_run} tests not run — set OPSDESK_TEST_POSTGRES_URL"
            " (CI sets it when 127.0.0.1:5432 answers)"
        )


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's config, data directory or secrets."""
    for name in (
        "OPSDESK_CONFIG",
        "OPSDESK_DATABASE_URL",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
        "TELEGRAM_API_BASE_URL",
        "OPSDESK_LLM_API_KEY",
        "OPSDESK_OPERATOR_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPSDESK_DATA_DIR", str(tmp_path / "data"))
    # git, ours and the tests', sees one fixed identity and no user or system config.
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    scrub.forget_all()  # secrets one test registered are not another's
    MODEL_PROBES.forget()  # nor a model endpoint's last probe


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    with fresh_schema_url(POSTGRES_URL) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test that takes this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'opsdesk.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database (SQLite and PostgreSQL)."""
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database, for tests that need no second engine."""
    engine = make_engine(f"sqlite:///{tmp_path / 'opsdesk.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def context(sqlite_engine: Engine) -> Context:
    """A jobs Context over a migrated SQLite database and the default configuration."""
    return jobs_context(sqlite_engine)


@pytest.fixture
def router(context: Context) -> Router:
    """The real router with every command and action, over `context`."""
    return build_router(context)


@pytest.fixture
def git_repo(tmp_path: Path) -> Repo:
    """An empty git repository (branch main) in tmp_path/work, to commit into."""
    path = tmp_path / "work"
    path.mkdir()
    created = Repo(path)
    created.git("init", "-q", "-b", "main")
    return created


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    """An OpenAI-compatible model server on 127.0.0.1 that answers from a script."""
    server = ModelServer()
    yield server
    server.close()


@pytest.fixture
async def slack_api() -> AsyncIterator[SlackApi]:
    """Slack's Web API, response URLs and Socket Mode on 127.0.0.1."""
    async with SlackApi() as api:
        yield api


@pytest.fixture
async def telegram_api() -> AsyncIterator[TelegramApi]:
    """Telegram's Bot API on 127.0.0.1; the test pushes updates, the bot polls them."""
    async with TelegramApi() as api:
        yield api
