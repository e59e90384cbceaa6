"""The jobs layer's context: what every job, and every handler above it, works with
(database, configuration, data directory, the one secret jobs use, clock, runner id,
the stop signal). Built once per process by bot/wiring.py and passed as one object
instead of loose arguments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from jobs.config.schema import Config
from jobs.core.processes import this_runner
from jobs.core.run_control import RunControl
from jobs.core.work_slots import default_workers
from storage.models import utcnow


@dataclass
class Context:
    config: Config
    engine: Engine
    data_dir: Path
    config_source: str  # the file read, or "embedded defaults"
    llm_api_key: str | None = field(default=None, repr=False)
    clock: Callable[[], datetime] = utcnow
    # host:pid of this process, recorded on runs so a crashed process's runs are found.
    runner_id: str = field(default_factory=this_runner)
    # The one stop signal shared by scheduled and chat-started runs.
    run_control: RunControl = field(default_factory=RunControl)

    def __post_init__(self) -> None:
        self.run_control.slots.set_workers(self.config.scheduler.workers or default_workers())
