"""What handlers and jobs work with, built once per process by bot/."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from jobs.config import Config
from jobs.run_control import RunControl
from storage.models import utcnow


@dataclass
class Services:
    config: Config
    engine: Engine
    data_dir: Path
    config_source: str  # the file read, or "embedded defaults"
    llm_api_key: str | None = field(default=None, repr=False)
    clock: Callable[[], datetime] = utcnow
    # host:pid of this process, recorded on runs so a crashed process's runs are found.
    runner_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    # The one stop signal shared by scheduled and chat-started runs.
    run_control: RunControl = field(default_factory=RunControl)
