"""What the configuration asks that only the parts it configures can judge.

The schema (jobs/config/schema.py) checks each value on its own and imports nothing
of jobs/; a check that needs a part's knowledge (how large the review prompt is)
lives here, above the parts, and `opsdesk config check` and every command that
loads the configuration run it through `load_config(..., checks=CONFIG_CHECKS)`.
"""

from __future__ import annotations

from jobs.config.schema import Config
from jobs.review.llm.prompt import room_problem


def model_has_room(config: Config) -> list[str]:
    problem = room_problem(config.reviewer.llm)
    return [problem] if problem else []


CONFIG_CHECKS = (model_has_room,)
