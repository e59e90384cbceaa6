"""A jobs Context over a test's database: what handlers and jobs are given to work with."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from jobs.config.schema import Config
from jobs.context import Context


def jobs_context(
    engine: Engine, config: Config | None = None, data_dir: Path | None = None, **fields: Any
) -> Context:
    """The Context a job or handler gets; the data directory is the test's own, and
    `fields` set the rest (runner_id, clock, …)."""
    return Context(
        config=config or Config(),
        engine=engine,
        data_dir=data_dir or Path(os.environ["OPSDESK_DATA_DIR"]),
        config_source="test",
        **fields,
    )
