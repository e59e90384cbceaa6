"""Reviews through the real engine, on a real repository and database: the
configuration helpers the review tests share."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from jobs.config.schema import Config
from jobs.review.engine import ReviewResult
from jobs.review.history import open_findings
from jobs.review.run_record import recorded_review
from tests.standins.model_server import ModelServer
from tests.support.context import jobs_context
from tests.support.git_repo import Repo
from tests.support.oracles import Key


def config_for(work: Repo, **reviewer: Any) -> Config:
    """Config with repo "demo"; lint selects pyflakes (F) unless told otherwise."""
    reviewer.setdefault("lint", {"select": ["F"]})
    return Config.model_validate(
        {"repos": [{"name": "demo", "path": str(work.path)}], "reviewer": reviewer}
    )


def lint_config(work: Repo, repo_linters: list[dict[str, Any]] | None = None) -> Config:
    """Repository "demo" linted as its own ruff configuration says (no opsdesk
    select/ignore), with the repository's own further linters."""
    repo = {"name": "demo", "path": str(work.path), "linters": repo_linters or []}
    return Config.model_validate({"repos": [repo]})


def open_set(engine: Engine, result: ReviewResult) -> Counter[Key]:
    """The review's open findings (new + open); they must also be what /findings lists
    for the repository."""
    shown = Counter((f.path, f.line, f.category, f.message) for f in result.shown)
    stored = Counter((f.path, f.line, f.category, f.message) for f in open_findings(engine, "demo"))
    assert stored == shown
    return shown


def llm_config(work: Repo, server: ModelServer, **llm: Any) -> Config:
    settings = {"base_url": server.url, "model": "tiny", "timeout_s": 2, "max_retries": 0, **llm}
    return config_for(work, default="llm", llm=settings)


def review(
    engine: Engine, config: Config, data_dir: Path, target: str = "demo", **options: Any
) -> ReviewResult:
    context = jobs_context(engine, config, data_dir, runner_id="test:1")
    return recorded_review(context, target, **options)


@dataclass
class Reviews:
    """Reviews through the engine with one configuration: `reviews()` is one review of
    repository "demo", `reviews(full=True)` one of its options."""

    engine: Engine
    config: Config
    data_dir: Path

    def __call__(self, **options: Any) -> ReviewResult:
        return review(self.engine, self.config, self.data_dir, **options)


def first_added_lines(
    message: Callable[[str, str], str] = lambda path, _code: f"look at {path}",
) -> Callable[[dict[str, Any]], str]:
    """A stand-in model's responder: a finding on the first added line of each file of
    the prompt, its message `message(path, that line's code)`."""

    def answer(body: dict[str, Any]) -> str:
        findings: dict[str, dict[str, Any]] = {}
        path = None
        for line in body["messages"][-1]["content"].splitlines():
            header = re.match(r"### (\S+) \[", line)
            path = header.group(1) if header else path
            added = re.match(r"\+\s*(\d+) \| (.*)", line)
            if added and path is not None and path not in findings:
                found = {"path": path, "line": int(added[1]), "severity": "warning"}
                findings[path] = found | {"category": "bug", "message": message(path, added[2])}
        return json.dumps({"findings": list(findings.values())})

    return answer
