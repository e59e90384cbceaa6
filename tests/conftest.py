"""Shared fixtures: real databases (SQLite always, PostgreSQL when
OPSDESK_TEST_POSTGRES_URL is set), services, a router, real git repositories."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from handlers.catalog import build_router
from handlers.router import Router
from jobs import scrub
from jobs.config.schema import Config
from jobs.context import Context
from storage import schema
from storage.db import make_engine, session_scope
from storage.models import Finding

POSTGRES_URL = os.environ.get("OPSDESK_TEST_POSTGRES_URL")
NO_POSTGRES = (
    "PostgreSQL tests need OPSDESK_TEST_POSTGRES_URL (CI sets it when 127.0.0.1:5432 answers)"
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
    scrub.forget_all()  # secrets one test registered are not another's


def sqlite_engine(tmp_path: Path) -> Engine:
    return make_engine(f"sqlite:///{tmp_path / 'opsdesk.db'}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {name}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{name}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
    admin.dispose()


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
    schema.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_only_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = sqlite_engine(tmp_path)
    schema.upgrade(engine)
    yield engine
    engine.dispose()


def add_finding(engine: Engine, **overrides: object) -> Finding:
    """A finding row to read and press buttons on; fields as a ruff F401 unless given."""
    values: dict[str, object] = {
        "repo": "demo",
        "path": "app/main.py",
        "line": 3,
        "severity": "warning",
        "category": "F401",
        "message": "`os` imported but unused",
        "source": "ruff:F401",
        **overrides,
    }
    values.setdefault("fingerprint", f"fp-{values['path']}-{values['message']}"[:64])
    row = Finding.model_validate(values)
    with session_scope(engine) as session:
        session.add(row)
        session.flush()
    assert row.id is not None
    return row


def make_services(
    engine: Engine, config: Config | None = None, data_dir: Path | None = None
) -> Context:
    return Context(
        config=config or Config(),
        engine=engine,
        data_dir=data_dir or Path(os.environ["OPSDESK_DATA_DIR"]),
        config_source="test",
    )


@pytest.fixture
def services(sqlite_only_engine: Engine) -> Context:
    return make_services(sqlite_only_engine)


@pytest.fixture
def router(services: Context) -> Router:
    return build_router(services)
