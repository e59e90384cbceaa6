"""The digest read from real databases (SQLite and PostgreSQL) gives the known answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from jobs.config.schema import Config
from jobs.digest.inputs import DayCount
from jobs.digest.job import build_digest, build_digest_with_chart, post_daily_digest
from jobs.digest.queries import day_counts
from storage.db import session_scope
from storage.models import Feedback, Finding, OutboxPost, ReviewFinding
from tests.support.context import jobs_context
from tests.support.files import assert_png
from tests.support.rows import add_reviews, add_runs, run_row

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
PERIOD_START = NOW - timedelta(days=1)


def test_hit_rate_and_time_saved_match_hand_computed_values(engine: Engine) -> None:
    baseline = [
        run_row("build", PERIOD_START - timedelta(days=d), s)
        for d, s in zip(range(1, 6), [10, 20, 30, 40, 50], strict=True)
    ]
    period = [
        run_row("build", PERIOD_START + timedelta(hours=1), 1, status="cached", cache_hit=True),
        run_row("build", PERIOD_START + timedelta(hours=2), 2, status="cached", cache_hit=True),
        run_row("build", PERIOD_START + timedelta(hours=3), 31),
        run_row("build", PERIOD_START + timedelta(hours=4), 29),
        run_row("lint", PERIOD_START + timedelta(hours=5), 1, status="cached", cache_hit=True),
    ]
    # Outside every window: ignored.
    old = [run_row("build", PERIOD_START - timedelta(days=20), 999)]
    add_runs(engine, baseline + period + old)

    digest = build_digest(jobs_context(engine), "day", NOW)

    caching = digest.caching
    assert (caching.runs, caching.cache_hits) == (5, 3)
    assert caching.hit_rate == 3 / 5
    # build's baseline median is 30 s: (30 - 1) + (30 - 2) = 57 s; lint has no baseline.
    assert caching.time_saved_ms == 57_000
    assert caching.cached_runs_without_baseline == 1
    build = next(row for row in caching.per_job if row.job == "build")
    assert (build.cache_hits, build.runs, build.hit_rate) == (2, 4, 0.5)
    assert digest.insights == []


def test_review_figures_come_from_reviews_findings_and_feedback(engine: Engine) -> None:
    at = PERIOD_START + timedelta(hours=2)
    full_id, delta_id = add_reviews(
        engine,
        {"kind": "full", "full_prompt_tokens": 900, "created_at": at},
        {"kind": "delta", "full_prompt_tokens": 1000, "created_at": at + timedelta(hours=1)},
    )
    with session_scope(engine) as session:
        found = [
            Finding(
                repo="api",
                fingerprint=f"fp{i}",
                path="a.py",
                line=i,
                severity="warning",
                category="style",
                message="m",
                source="ruff:E1",
                created_at=at,
                first_review_id=full_id,
            )
            for i in range(3)
        ]
        session.add_all(found)
        session.flush()
        found[0].status = "fixed"
        found[0].fixed_review_id = delta_id
        session.add_all(
            [
                ReviewFinding(review_id=full_id, finding_id=found[0].id, state="new", line=1),
                ReviewFinding(review_id=full_id, finding_id=found[1].id, state="new", line=2),
                ReviewFinding(review_id=delta_id, finding_id=found[0].id, state="fixed", line=1),
                ReviewFinding(
                    review_id=delta_id, finding_id=found[2].id, state="suppressed", line=3
                ),
                Feedback(finding_id=found[1].id, user="slack:U1", verdict="helpful", updated_at=at),
                Feedback(
                    finding_id=found[2].id, user="slack:U1", verdict="false_positive", updated_at=at
                ),
            ]
        )
    add_runs(
        engine,
        [
            run_row("review:api", at, 5, kind="review", review_id=full_id, tokens_in=900),
            run_row(
                "review:api",
                at + timedelta(hours=1),
                3,
                kind="review",
                review_id=delta_id,
                tokens_in=200,
            ),
            run_row(
                "review:api",
                at + timedelta(hours=2),
                0.1,
                kind="review",
                review_id=delta_id,
                status="cached",
                cache_hit=True,
                tokens_in=0,
            ),
        ],
    )

    reviews = build_digest(jobs_context(engine), "day", NOW).reviews

    assert (reviews.full, reviews.delta, reviews.cached) == (1, 1, 1)
    # found[2] is marked false positive: suppressed, not open, as in every review reply.
    assert (reviews.findings_new, reviews.findings_fixed, reviews.findings_open) == (2, 1, 1)
    assert reviews.suppressed == 1
    assert (reviews.helpful, reviews.false_positive, reviews.helpful_share) == (1, 1, 0.5)
    caching = build_digest(jobs_context(engine), "day", NOW).caching
    assert (caching.review_tokens_in, caching.full_review_tokens_in) == (1100, 2900)


def test_an_empty_history_gives_an_honest_digest_and_a_valid_chart(engine: Engine) -> None:
    digest, chart = build_digest_with_chart(jobs_context(engine), "week", NOW)
    assert digest.runs == 0
    assert "no runs" in digest.summary
    assert any("No baseline yet" in note for note in digest.notes)
    assert assert_png(chart) == (640, 480)


def test_the_chart_of_a_real_history_is_a_png(engine: Engine) -> None:
    add_runs(
        engine,
        [
            run_row(
                f"job{j}",
                NOW - timedelta(days=d, hours=j + 1),
                10 + j,
                cache_hit=d % 3 == 0,
                status="cached" if d % 3 == 0 else "ok",
            )
            for d in range(16)
            for j in range(3)
        ],
    )
    digest, chart = build_digest_with_chart(jobs_context(engine), "day", NOW)
    assert digest.runs == 3
    assert assert_png(chart) == (640, 480)


def test_the_charts_days_are_the_teams_and_leave_opsdesks_own_runs_out(engine: Engine) -> None:
    # 23:30 UTC on the 18th is already the 19th in Berlin.
    late = datetime(2026, 3, 18, 23, 30, tzinfo=UTC)
    add_runs(
        engine,
        [
            run_row("backup", late, 5),
            run_row("backup", late + timedelta(minutes=5), 5, status="failed"),
            run_row("backup", late + timedelta(minutes=9), 1, status="cached", cache_hit=True),
            run_row("digest", late, 1, kind="digest"),
            run_row("health", late, 1, kind="health"),
        ],
    )
    with engine.connect() as connection:
        berlin = day_counts(connection, late - timedelta(days=1), NOW, "Europe/Berlin")
        utc = day_counts(connection, late - timedelta(days=1), NOW)
    assert berlin == [DayCount(date(2026, 3, 19), runs=3, cache_hits=1, failures=1)]
    assert [count.day for count in utc] == [date(2026, 3, 18)]


# ---- the scheduled path: alert on change, quiet while high, recovered ------------------

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def day_of_runs(day: int, seconds: float) -> list[dict[str, object]]:
    noise = [-0.4, 0.1, 0.3, -0.2]
    return [
        run_row("etl", T0 + timedelta(days=day, hours=2 + 5 * i), seconds + noise[i])
        for i in range(4)
    ]


def outbox_rows(engine: Engine, kind: str) -> list[OutboxPost]:
    with Session(engine) as session:
        return list(
            session.exec(select(OutboxPost).where(OutboxPost.kind == kind).order_by(OutboxPost.id))
        )


def test_a_duration_jump_alerts_once_stays_quiet_and_recovers(engine: Engine) -> None:
    speeds = {day: 100.0 for day in range(20)}
    speeds |= {day: 300.0 for day in range(20, 24)}
    speeds |= {day: 100.0 for day in range(24, 27)}
    config = Config()
    alerts_by_day: dict[int, list[str]] = {}
    for day in range(27):
        add_runs(engine, day_of_runs(day, speeds[day]))
        if day < 15:
            continue
        before = len(outbox_rows(engine, "alert"))
        post_daily_digest(jobs_context(engine, config), T0 + timedelta(days=day + 1, hours=1))
        alerts = outbox_rows(engine, "alert")[before:]
        alerts_by_day[day] = [post.dedupe_key.split(":")[3] for post in alerts]

    assert alerts_by_day[20] == ["alert"]
    assert all(alerts_by_day[day] == [] for day in (21, 22, 23))
    assert alerts_by_day[24] == ["recovered"]
    assert all(alerts_by_day[day] == [] for day in range(15, 20))
    assert all(alerts_by_day[day] == [] for day in (25, 26))
    alert = outbox_rows(engine, "alert")[0]
    assert alert.target == "log:digest"
    assert "etl got slower: 5m 00s typical, was 1m 40s" in alert.reply_json
    assert "MAD" not in alert.reply_json  # the statistics are the operator page's


def test_a_second_run_the_same_day_posts_nothing_new(engine: Engine) -> None:
    for day in range(3):
        add_runs(engine, day_of_runs(day, 10))
    config = Config.model_validate({"digest": {"post_to": ["slack:C1", "telegram:-100"]}})
    now = T0 + timedelta(days=3, hours=9)
    first = post_daily_digest(jobs_context(engine, config), now)
    again = post_daily_digest(jobs_context(engine, config), now + timedelta(hours=3))
    assert len(first) == 2
    assert again == first
    digests = outbox_rows(engine, "digest")
    assert [row.target for row in digests] == ["slack:C1", "telegram:-100"]
    assert all(row.dedupe_key.startswith("digest:2026-03-04|") for row in digests)
    assert '"png":' in digests[0].reply_json  # the chart travels with the post


def test_a_steady_or_noisy_but_stable_job_raises_nothing(engine: Engine) -> None:
    noisy = [6, 14, 9, 12, 8, 15, 7, 11]
    rows = [
        run_row("noisy", T0 + timedelta(days=day, hours=h * 3), noisy[(day + h) % len(noisy)])
        for day in range(20)
        for h in range(8)
    ]
    add_runs(engine, rows + [r for day in range(20) for r in day_of_runs(day, 10)])
    for day in range(15, 20):
        digest = build_digest(jobs_context(engine), "day", T0 + timedelta(days=day + 1))
        assert digest.insights == [], digest.insights


def test_fewer_than_five_baseline_runs_raise_nothing(engine: Engine) -> None:
    add_runs(engine, [run_row("new", T0 + timedelta(days=d), 10) for d in range(4)])
    add_runs(engine, [run_row("new", T0 + timedelta(days=5, hours=h), 100) for h in range(4)])
    digest = build_digest(jobs_context(engine), "day", T0 + timedelta(days=6))
    assert digest.insights == []
    assert any("Too few baseline runs" in note for note in digest.notes)
