"""/metrics: parsed with prometheus_client's own parser, its figures checked against
the run and outbox rows after a known series of runs."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.ack_stats import observe_ack, reset_acks
from jobs.config.schema import Config
from jobs.core.reply import Reply
from jobs.outbox import delivery as outbox
from jobs.running.runner import run_job
from jobs.runs.specs import find_job
from jobs.runs.totals import DURATION_BUCKETS
from storage.models import JobRun, OutboxPost, utcnow
from tests.bot.operator.conftest import operator_server
from tests.support.context import jobs_context
from tests.support.rows import add_reviews, add_runs, run_row

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample: (name, sorted labels) → value."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def series_config(tmp_path: Path) -> Config:
    (tmp_path / "notes.md").write_text("same input, same answer\n")
    return Config.model_validate(
        {
            "jobs": [
                {"name": "build", "command": "echo built", "workdir": str(tmp_path)},
                {"name": "flaky", "command": "exit 3", "workdir": str(tmp_path)},
                {
                    "name": "brief",
                    "command": "cat notes.md",
                    "workdir": str(tmp_path),
                    "cache": {"inputs": [f"file:{tmp_path}/notes.md"], "ttl": "1d"},
                },
            ],
        }
    )


def known_series(engine: Engine, config: Config) -> None:
    """Real runs through the runner (ok, failed, a cache miss then hits), plus review
    rows with a model's tokens and latency and the reviews they used."""
    context = jobs_context(engine, config)
    for name, times in (("build", 3), ("flaky", 2), ("brief", 3)):
        spec = find_job(config, name)
        assert spec is not None
        for _ in range(times):
            run_job(context, spec, "manual", post=False)
    model = {"model": "qwen2.5-coder:7b"}
    review_ids = add_reviews(engine, *({**model, "full_prompt_tokens": 9000 + n} for n in range(3)))
    at = utcnow() - timedelta(hours=2)
    add_runs(
        engine,
        [
            run_row(
                "api",
                at + timedelta(minutes=n),
                seconds,
                kind="review",
                model="qwen2.5-coder:7b",
                tokens_in=tokens_in,
                tokens_out=tokens_out,
                model_latency_ms=latency,
                review_id=review_id,
            )
            for n, (seconds, tokens_in, tokens_out, latency, review_id) in enumerate(
                [
                    (4.2, 1200, 300, 3900, review_ids[0]),
                    (42.0, 2500, 640, 41000, review_ids[1]),
                    (0.05, 0, 0, None, review_ids[2]),
                ]
            )
        ],
    )
    add_runs(engine, [run_row("api", at, 0.02, kind="review", status="cached", cache_hit=True)])
    add_runs(engine, [run_row("nightly", at, 0, status="running")])


def rows(engine: Engine) -> list[JobRun]:
    with Session(engine) as session:
        return list(session.exec(select(JobRun)).all())


@pytest.mark.parametrize("settled", [False, True], ids=["fresh", "settled"])
async def test_counters_match_the_run_rows_after_a_known_series(
    engine: Engine, tmp_path: Path, settled: bool
) -> None:
    config = series_config(tmp_path)
    known_series(engine, config)
    # "settled": every row older than the settle time, so the remembered part serves.
    shift = timedelta(minutes=30) if settled else timedelta(0)
    async with operator_server(engine, config, clock=lambda: utcnow() + shift) as running:
        answer = await running.client.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=")
        samples = parse(answer.text)
        assert parse((await running.client.get("/metrics")).text) == samples  # stable

    all_rows = rows(engine)
    finished = [r for r in all_rows if r.status != "running"]
    by_status = Counter((r.job, r.kind, r.status) for r in finished)
    assert by_status[("build", "command", "ok")] == 3
    assert by_status[("flaky", "command", "failed")] == 2
    assert by_status[("brief", "command", "cached")] == 2
    exported = {
        (dict(labels)["job"], dict(labels)["kind"], dict(labels)["status"]): v
        for (name, labels), v in samples.items()
        if name == "opsdesk_job_runs_total"
    }
    assert exported == {key: float(n) for key, n in by_status.items()}
    assert value(samples, "opsdesk_job_runs_running", job="nightly", kind="command") == 1

    # Durations: successful runs that did the work, in the right buckets.
    for job, kind in (("build", "command"), ("api", "review")):
        worked = [
            r.duration_ms / 1000
            for r in finished
            if r.job == job and r.status == "ok" and not r.cache_hit and r.duration_ms is not None
        ]
        name = "opsdesk_job_run_duration_seconds"
        assert value(samples, f"{name}_count", job=job, kind=kind) == len(worked)
        assert value(samples, f"{name}_sum", job=job, kind=kind) == pytest.approx(sum(worked))
        for bound in DURATION_BUCKETS:
            expected = sum(1 for seconds in worked if seconds <= bound)
            assert value(samples, f"{name}_bucket", job=job, kind=kind, le=str(bound)) == expected

    # Cache: the cached command's first run was a miss, the next two hits.
    assert value(samples, "opsdesk_cache_hits_total", job="brief", kind="command") == 2
    assert value(samples, "opsdesk_cache_misses_total", job="brief", kind="command") == 1
    assert value(samples, "opsdesk_cache_hits_total", job="api", kind="review") == 1
    assert value(samples, "opsdesk_cache_misses_total", job="api", kind="review") == 3
    # A command without declared cache inputs is not a cache miss.
    assert value(samples, "opsdesk_cache_misses_total", job="build", kind="command") is None

    model = "qwen2.5-coder:7b"
    reviews = [r for r in finished if r.kind == "review" and r.model == model]
    prompt = sum(r.tokens_in or 0 for r in reviews)
    completion = sum(r.tokens_out or 0 for r in reviews)
    assert value(samples, "opsdesk_review_tokens_total", model=model, type="prompt") == prompt
    assert (
        value(samples, "opsdesk_review_tokens_total", model=model, type="completion") == completion
    )
    assert value(samples, "opsdesk_review_full_tree_tokens_total", model=model) == 27003
    latencies = [r.model_latency_ms / 1000 for r in reviews if r.model_latency_ms is not None]
    assert value(samples, "opsdesk_model_latency_seconds_count", model=model) == len(latencies)
    assert value(samples, "opsdesk_model_latency_seconds_sum", model=model) == pytest.approx(
        sum(latencies)
    )
    assert value(samples, "opsdesk_model_latency_seconds_bucket", model=model, le="5.0") == 1
    assert value(samples, "opsdesk_scheduler_leader") == 1


async def test_later_runs_add_exactly_their_own_rows(engine: Engine, tmp_path: Path) -> None:
    """Counters only go up, by the rows added; a running row is counted once it ends."""
    config = series_config(tmp_path)
    now = utcnow()
    add_runs(engine, [run_row("build", now - timedelta(hours=1), 1.0)] * 4)
    add_runs(engine, [run_row("build", now - timedelta(hours=1), 0, status="running")])
    later = {"shift": timedelta(0)}
    async with operator_server(engine, config, clock=lambda: utcnow() + later["shift"]) as running:
        first = parse((await running.client.get("/metrics")).text)
        assert value(first, "opsdesk_job_runs_total", job="build", kind="command", status="ok") == 4
        with engine.begin() as connection:
            connection.execute(
                update(JobRun.__table__)  # type: ignore[attr-defined]
                .where(JobRun.__table__.c.status == "running")  # type: ignore[attr-defined]
                .values(status="ok", finished_at=now, duration_ms=700)
            )
        add_runs(engine, [run_row("build", now - timedelta(minutes=50), 2.0)] * 2)
        later["shift"] = timedelta(hours=1)  # everything settles
        second = parse((await running.client.get("/metrics")).text)
        add_runs(engine, [run_row("build", now, 0.5, status="failed")])
        third = parse((await running.client.get("/metrics")).text)
    assert value(second, "opsdesk_job_runs_total", job="build", kind="command", status="ok") == 7
    assert value(second, "opsdesk_job_runs_running", job="build", kind="command") is None
    assert value(third, "opsdesk_job_runs_total", job="build", kind="command", status="ok") == 7
    assert value(third, "opsdesk_job_runs_total", job="build", kind="command", status="failed") == 1
    duration = "opsdesk_job_run_duration_seconds_count"
    assert value(third, duration, job="build", kind="command") == 7


async def test_outbox_depth_age_and_delivery_failures_come_from_its_rows(engine: Engine) -> None:
    now = utcnow()
    reply = Reply.text("hello")
    ids = outbox.enqueue(
        engine, kind="job", targets=["slack:C1", "slack:C2", "telegram:-100"], reply=reply,
        dedupe_key="one",
    )  # fmt: skip
    ids += outbox.enqueue(engine, kind="job", targets=["slack:C1"], reply=reply, dedupe_key="two")
    table = OutboxPost.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        # slack:C1 "one": sent on the third try; "two": waiting since 10 minutes, tried twice.
        connection.execute(
            update(table).where(table.c.id == ids[0]).values(status="sent", attempts=3)
        )
        connection.execute(
            update(table)
            .where(table.c.id == ids[3])
            .values(attempts=2, created_at=now - timedelta(minutes=10))
        )
        # slack:C2 given up after 5 tries; telegram waiting, never tried.
        connection.execute(
            update(table).where(table.c.id == ids[1]).values(status="failed", attempts=5)
        )
        connection.execute(
            update(table).where(table.c.id == ids[2]).values(created_at=now - timedelta(seconds=30))
        )
    reset_acks()
    observe_ack("slack", 0.02)
    observe_ack("slack", 0.4)
    observe_ack("telegram", 0.004)
    async with operator_server(engine, leadership=lambda: False, clock=lambda: now) as running:
        samples = parse((await running.client.get("/metrics")).text)
    reset_acks()
    assert value(samples, "opsdesk_outbox_depth", platform="slack") == 1
    assert value(samples, "opsdesk_outbox_depth", platform="telegram") == 1
    age = "opsdesk_outbox_oldest_pending_age_seconds"
    assert value(samples, age, platform="slack") == pytest.approx(600, abs=1)
    assert value(samples, age, platform="telegram") == pytest.approx(30, abs=1)
    assert value(samples, "opsdesk_delivery_failures_total", platform="slack") == 2 + 5 + 2
    assert value(samples, "opsdesk_delivery_failures_total", platform="telegram") == 0
    assert value(samples, "opsdesk_outbox_failed_posts", platform="slack") == 1
    acks = "opsdesk_command_ack_seconds"
    assert value(samples, f"{acks}_count", platform="slack") == 2
    assert value(samples, f"{acks}_bucket", platform="slack", le="0.025") == 1
    assert value(samples, f"{acks}_bucket", platform="slack", le="+Inf") == 2
    assert value(samples, f"{acks}_sum", platform="slack") == pytest.approx(0.42)
    assert value(samples, f"{acks}_count", platform="telegram") == 1
    assert value(samples, "opsdesk_scheduler_leader") == 0


async def test_labels_stay_bounded_and_carry_no_ids(engine: Engine, tmp_path: Path) -> None:
    config = series_config(tmp_path)
    known_series(engine, config)
    outbox.enqueue(
        engine, kind="job", targets=["slack:C0SECRETCHANNEL"], reply=Reply.text("x"),
        dedupe_key="k",
    )  # fmt: skip
    async with operator_server(engine, config) as running:
        text = (await running.client.get("/metrics")).text
    label_names = {name for (_, labels) in parse(text) for name, _ in labels}
    bounded = {"job", "kind", "status", "model", "type", "platform", "le", "repo", "scope", "line"}
    assert label_names <= bounded
    assert "C0SECRETCHANNEL" not in text
    assert f"{0:040x}" not in text  # no commit sha
    assert str(tmp_path) not in text


async def test_a_disabled_scheduler_has_no_leadership_sample(engine: Engine) -> None:
    async with operator_server(engine, leadership=lambda: None) as running:
        samples = parse((await running.client.get("/metrics")).text)
    assert value(samples, "opsdesk_scheduler_leader") is None
