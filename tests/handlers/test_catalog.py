"""The catalog names each handler by where it is defined: every name resolves, and
building the router loads no command's module until the command is first used."""

from __future__ import annotations

import json
import subprocess
import sys

from handlers.catalog import ACTIONS, COMMANDS
from handlers.router import handler


def test_every_named_handler_is_a_function_of_its_module() -> None:
    for ref in [c.run for c in COMMANDS] + [a.run for a in ACTIONS]:
        found = handler(ref)
        assert callable(found)
        if isinstance(ref, str):
            module, name = ref.split(":")
            assert (found.__module__, found.__name__) == (module, name)


LOADED_BY_A_ROUTER = """
import json, sys
from pathlib import Path
from handlers.catalog import build_router
from handlers.router import handler
from sqlalchemy import create_engine
from tests.support.context import jobs_context
router = build_router(jobs_context(create_engine("sqlite://"), data_dir=Path(".")))
before = sorted(sys.modules)
handler(router.commands["digest"].run)  # what the router does on the first /digest
print(json.dumps([before, sorted(sys.modules)]))
"""


def test_a_router_loads_a_command_module_on_the_commands_first_use() -> None:
    out = subprocess.run(
        [sys.executable, "-c", LOADED_BY_A_ROUTER], capture_output=True, text=True, check=True
    ).stdout
    before, after = json.loads(out.splitlines()[-1])
    heavy = {"handlers.review", "handlers.digest", "jobs.digest.job", "jobs.review.engine"}
    assert not heavy & set(before)
    assert {"handlers.digest", "jobs.digest.job"} <= set(after)
    assert "handlers.review" not in after
