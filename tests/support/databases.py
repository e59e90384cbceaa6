"""The test PostgreSQL server (CI sets OPSDESK_TEST_POSTGRES_URL when 127.0.0.1:5432
answers) and fresh schemas in it, so tests never see each other's tables."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from storage.db import make_engine

POSTGRES_URL = os.environ.get("OPSDESK_TEST_POSTGRES_URL")


@contextmanager
def fresh_schema_url(server_url: str) -> Iterator[str]:
    """`server_url` with its search_path set to a new schema, dropped on leaving."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {name}"))
    separator = "&" if "?" in server_url else "?"
    yield f"{server_url}{separator}options=-csearch_path%3D{name}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
    admin.dispose()
