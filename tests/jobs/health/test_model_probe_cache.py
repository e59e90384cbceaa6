"""Health probes of the model endpoint are cached for a short interval: a viewer who
sends `/health` twenty times costs the model server one request, not twenty."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from bot.render_text import render_text
from handlers.access import Caller
from handlers.catalog import build_router
from jobs.config.schema import Config
from jobs.health.model_endpoint import MODEL_PROBE_CACHE_S, ModelProbes, check_model_endpoint
from tests.standins.model_server import ModelServer
from tests.support.context import jobs_context

VIEWER = Caller(platform="slack", user_id="U1", chat_id="C1")


def llm_config(base_url: str) -> Config:
    return Config.model_validate(
        {
            "repos": [{"name": "api", "path": "/srv/api", "reviewer": "llm"}],
            "reviewer": {"llm": {"base_url": base_url}},
            "access": {"viewers": ["slack:U1"]},
        }
    )


def probes_of(server: ModelServer) -> int:
    return sum(1 for r in server.received if r.path == "/v1/models")


def test_one_probe_answers_until_the_interval_has_passed(model_server: ModelServer) -> None:
    now = [1000.0]
    probes = ModelProbes(clock=lambda: now[0])
    config = llm_config(model_server.url)
    first = check_model_endpoint(config, probes=probes)
    now[0] += MODEL_PROBE_CACHE_S - 1
    again = check_model_endpoint(config, probes=probes)
    assert first is again and probes_of(model_server) == 1
    model_server.models = []  # the server changes; the next probe, after the interval, sees it
    now[0] += 2
    later = check_model_endpoint(config, probes=probes)
    assert later is not None and later is not first and probes_of(model_server) == 2


def test_a_flood_of_health_commands_is_one_model_request(
    sqlite_engine: Engine, tmp_path: Path, model_server: ModelServer
) -> None:
    router = build_router(jobs_context(sqlite_engine, llm_config(model_server.url), tmp_path))
    replies = [render_text(router.handle(VIEWER, "/health all"))[0] for _ in range(20)]
    assert all("model" in reply for reply in replies)
    assert probes_of(model_server) == 1
