"""`opsdesk db`: the schema up, down, stamped, or its status."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.config.loading import Settings


def run_db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.db import describe, make_engine

    engine = make_engine(settings.database_url)
    before, after = migrate.upgrade(engine)
    if before.current == after.current:
        print(f"{describe(engine)}: already at {after.current}; nothing to do")
    else:
        print(f"{describe(engine)}: upgraded from {before.current or 'empty'} to {after.current}")
    return 0


def run_db_downgrade(settings: Settings, args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.db import describe, make_engine

    engine = make_engine(settings.database_url)
    before, after = migrate.downgrade(engine, args.rev)
    was, now = before.current or "empty", after.current or "empty"
    print(f"{describe(engine)}: downgraded from {was} to {now}")
    return 0


def run_db_stamp(settings: Settings, args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.db import describe, make_engine

    engine = make_engine(settings.database_url)
    print(f"{describe(engine)}: recorded as {migrate.stamp(engine, args.rev).current}")
    return 0


def run_db_status(settings: Settings, _args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.db import describe, make_engine

    engine = make_engine(settings.database_url)
    found = migrate.check(engine)
    state = "current" if found.is_current else "needs `opsdesk db upgrade`"
    print(f"{describe(engine)}: at {found.current or 'empty'}, newest {found.head} ({state})")
    return 0 if found.is_current else 1
