"""The commands that keep running: the terminal chat and `opsdesk run`."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from bot.cli.output import fail

if TYPE_CHECKING:
    from jobs.config.loading import Settings


def run_console(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.console import run_console as run
    from bot.wiring import build_context
    from handlers.catalog import build_router

    context = build_context(settings)
    return run(build_router(context), settings.data_dir / "images", settings.data_dir / "history")


def run_runtime(settings: Settings, _args: argparse.Namespace) -> int:
    import asyncio

    from bot.extras_check import extras_needed
    from bot.malloc_arenas import limit_malloc_arenas
    from bot.operator.server import OperatorStartError
    from bot.runtime import run_forever

    limit_malloc_arenas()  # before asyncio.run starts any thread
    from jobs.config.readiness import readiness_problems

    # What `opsdesk config check` reports, all at once; exit 2, which systemd does not
    # restart (a restart cannot fix a configuration).
    problems = readiness_problems(settings.config.model_dump(), settings.secrets)
    needs = extras_needed(settings.config, settings.database_url)
    if problems or needs.missing:
        lines = [f"  {problem}" for problem in problems] + needs.missing
        return fail("\n".join([f"opsdesk: cannot start ({settings.source})", *lines]), code=2)
    for note in needs.notes:
        logging.getLogger("opsdesk").warning("%s", note)
    try:
        return asyncio.run(run_forever(settings))
    except OperatorStartError as exc:
        # Through logging, whose formatter redacts secrets an error text may quote.
        logging.getLogger("opsdesk").error("%s", exc)
        return 1
