"""Run as a child process by the first-start tests: upgrade the database at
argv[1]; with argv[2] = N > 0, SIGKILL this process just before its N-th SQL
statement. Prints how many statements it ran, how many of them were CREATE TABLE,
and the revisions before and after."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from storage import migrate
from storage.db import make_engine

kill_at = int(sys.argv[2])
seen = 0
created = 0


def _before_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    global seen, created
    seen += 1
    created += statement.lstrip().upper().startswith("CREATE TABLE")
    if seen == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)


event.listen(Engine, "before_cursor_execute", _before_statement)
before, after = migrate.upgrade(make_engine(sys.argv[1]))
print(seen, created, before.current, after.current)
