"""What SQLite's synchronous=FULL costs opsdesk: runs recorded as `opsdesk run` records
them (a row written at the start, finished at the end: two commits), on a file in a
temporary directory, with the pragmas opsdesk sets and then with synchronous=NORMAL.

    .venv/bin/python bench/sqlite_durability.py [--runs 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event

from jobs.runs import records as runs
from storage import migrate
from storage.db import make_engine


def measure(directory: Path, count: int, synchronous: str | None) -> float:
    name = (synchronous or "shipped").lower()
    engine = make_engine(f"sqlite:///{directory / name}.db")
    if synchronous is not None:

        @event.listens_for(engine, "connect")
        def _override(dbapi_connection: object, _record: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.close()

    migrate.upgrade(engine)
    began = time.perf_counter()
    for _ in range(count):
        row = runs.start_run(engine, job="tick", kind="command", trigger="schedule", runner="b:1")
        assert row.id is not None
        runs.finish_run(engine, row.id, status="ok", output="x" * 200)
    took = time.perf_counter() - began
    engine.dispose()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    count = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as scratch:
        for name, synchronous in (("shipped (FULL)", None), ("NORMAL", "NORMAL")):
            took = measure(Path(scratch), count, synchronous)
            each = took / count * 1000
            print(f"{name:15} {count} runs recorded in {took:.2f} s: {each:.1f} ms a run")


if __name__ == "__main__":
    main()
