"""Digest figures against hand-computed answers."""

import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from jobs.digest.compute import compute_digest
from jobs.digest.inputs import DigestInputs, FeedbackTotals, ReviewTotals, RunRecord, digest_window
from jobs.runs.baseline import DurationSample
from tests.jobs.digest.histories import T0, run

NOW = T0 + timedelta(days=20)
WINDOW = digest_window("day", NOW)


def baseline(job: str, seconds: list[float]) -> list[DurationSample]:
    start = WINDOW.start - timedelta(days=3)
    return [
        DurationSample(job, start + timedelta(hours=i), round(s * 1000))
        for i, s in enumerate(seconds)
    ]


def in_period(job: str, seconds: float, hour: int, **kw: bool | int | str) -> RunRecord:
    return run(job, WINDOW.start + timedelta(hours=hour), seconds, **kw)


def in_previous(job: str, seconds: float, hour: int, **kw: bool | int | str) -> RunRecord:
    return run(job, WINDOW.previous_start + timedelta(hours=hour), seconds, **kw)


def test_time_saved_and_hit_rate_match_hand_computed_values() -> None:
    period = [
        in_period("a", 1.0, 1, status="cached", cache_hit=True),
        in_period("a", 2.0, 2, status="cached", cache_hit=True),
        in_period("a", 31.0, 3),
        in_period("a", 29.0, 4),
        in_period("b", 0.5, 1, status="cached", cache_hit=True),
        in_period("b", 5.0, 2),
        in_period("b", 5.0, 3),
        in_period("b", 5.0, 4),
        in_period("b", 5.0, 5, status="running"),  # unfinished: not counted
    ]
    # What a run costs without the cache: the median of the job's real runs in the 14
    # days to the digest's end, the period's included — a: 10, 20, 29, 30, 31, 40, 50
    # -> 30 s; b: its three 5 s runs of the day -> 5 s.
    digest = compute_digest(DigestInputs(period, baseline("a", [10, 20, 30, 40, 50]), []), now=NOW)
    caching = digest.caching
    assert (caching.runs, caching.cache_hits) == (8, 3)
    assert caching.hit_rate == pytest.approx(3 / 8)
    saved = (30_000 - 1_000) + (30_000 - 2_000) + (5_000 - 500)
    assert caching.time_saved_ms == pytest.approx(saved)
    assert caching.cached_runs_without_baseline == 0
    per_job = {row.job: (row.cache_hits, row.runs) for row in caching.per_job}
    assert per_job == {"a": (2, 4), "b": (1, 4)}
    assert "1m 02s saved by caching" in digest.summary


def test_a_week_prices_a_cache_hit_as_its_days_do() -> None:
    """The day and the week digest price a cached run alike (the job's real runs of the
    14 days to the end), so a week's saving is its days' savings, never 'unknown'
    because the history is younger than the week's baseline window."""
    history = [in_period("a", 30.0, h) for h in (1, 2, 3)]
    history += [in_period("a", 2.0, h, status="cached", cache_hit=True) for h in (4, 5)]
    day = compute_digest(DigestInputs(history, [], []), now=NOW)
    week = compute_digest(DigestInputs(history, [], []), period="week", now=NOW)
    assert day.caching.time_saved_ms == week.caching.time_saved_ms == 56_000
    assert week.caching.cached_runs_without_baseline == 0


def test_baseline_samples_inside_the_period_are_not_the_baseline() -> None:
    inside = [DurationSample("a", WINDOW.start + timedelta(hours=1), 999_000)]
    period = [in_period("a", 1.0, 2, status="cached", cache_hit=True)]
    digest = compute_digest(
        DigestInputs(period, baseline("a", [10, 10, 10, 10, 10]) + inside, []), now=NOW
    )
    assert digest.caching.time_saved_ms == pytest.approx(9_000)


def test_success_rate_drop_raises_an_insight_with_its_numbers() -> None:
    previous = [in_previous("deploy", 10.0, h) for h in range(10)]
    period = [in_period("deploy", 10.0, h) for h in range(6)]
    period += [in_period("deploy", 10.0, 6 + h, status="failed") for h in range(4)]
    digest = compute_digest(DigestInputs(period, [], previous), now=NOW)
    (insight,) = digest.insights
    assert (insight.job, insight.metric, insight.severity) == ("deploy", "success_rate", "warning")
    assert insight.numbers["rate"] == pytest.approx(0.6)
    assert insight.numbers["previous_rate"] == pytest.approx(1.0)
    assert insight.numbers["drop_points"] == pytest.approx(40)
    assert "60% (6/10) vs 100% (10/10)" in insight.text
    assert digest.failures == 4


def test_a_small_success_dip_or_too_few_runs_raise_nothing() -> None:
    previous = [in_previous("deploy", 10.0, h) for h in range(10)]
    dip = [in_period("deploy", 10.0, h) for h in range(9)]
    dip.append(in_period("deploy", 10.0, 9, status="failed"))
    assert compute_digest(DigestInputs(dip, [], previous), now=NOW).insights == []
    few = [in_period("deploy", 10.0, h, status="failed") for h in range(4)]
    digest = compute_digest(DigestInputs(few, [], previous), now=NOW)
    assert digest.insights == []
    assert ("deploy", "success_rate") not in digest.checked


def test_cache_hit_rate_drop_raises_an_insight() -> None:
    def runs(where: Callable[..., RunRecord], hits: int) -> list[RunRecord]:
        return [
            where("review-demo", 1.0, h, status="cached", cache_hit=True)
            if h < hits
            else where("review-demo", 20.0, h)
            for h in range(10)
        ]

    digest = compute_digest(DigestInputs(runs(in_period, 2), [], runs(in_previous, 9)), now=NOW)
    (insight,) = digest.insights
    assert insight.metric == "cache_hit_rate"
    assert insight.numbers["rate"] == pytest.approx(0.2)
    assert insight.numbers["previous_rate"] == pytest.approx(0.9)
    assert "20% (2/10) vs 90% (9/10)" in insight.text


def test_job_section_is_worst_first_with_changes_vs_previous_period() -> None:
    period = [in_period("good", s, h) for h, s in enumerate([10.0, 20.0, 30.0, 40.0])]
    period += [in_period("flaky", 5.0, 1), in_period("flaky", 5.0, 2, status="timeout")]
    previous = [in_previous("good", s, h) for h, s in enumerate([10.0, 10.0, 10.0, 10.0])]
    digest = compute_digest(
        DigestInputs(period, [], previous, job_health={"gone": "down"}), now=NOW
    )
    assert [row.job for row in digest.jobs] == ["gone", "flaky", "good"]
    good = digest.jobs[2]
    assert (good.p50_ms, good.p95_ms) == (25_000, pytest.approx(38_500))
    assert good.p50_change_pct == pytest.approx(150)
    assert good.clean
    assert [(i.job, i.metric, i.severity) for i in digest.insights] == [
        ("gone", "health", "critical")
    ]


def test_model_section_has_latency_spread_and_tokens_per_second() -> None:
    period = [
        in_period("rev", 5.0, h, kind="review", model="qwen", model_latency_ms=ms, tokens_out=10)
        for h, ms in enumerate([100, 200, 300, 400])
    ]
    period.append(
        in_period("rev", 0.1, 5, kind="review", model="qwen", status="cached", cache_hit=True)
    )
    previous = [
        in_previous("rev", 5.0, h, kind="review", model="qwen", model_latency_ms=125)
        for h in range(4)
    ]
    (model,) = compute_digest(DigestInputs(period, [], previous), now=NOW).models
    assert model.calls == 4  # the cache hit made no call
    assert (model.p50_ms, model.p95_ms) == (250, pytest.approx(385))
    assert model.stdev_ms == pytest.approx(129.0994, abs=1e-3)
    assert model.tokens_per_s == pytest.approx(40)
    assert model.p50_change_pct == pytest.approx(100)


def test_batching_saves_a_trigger_and_a_post_per_member_beyond_the_first() -> None:
    period = [in_period("j", 1.0, h, batch_id="b1") for h in range(3)]
    period += [in_period("k", 1.0, h, batch_id="b2") for h in range(2)]
    period.append(in_period("solo", 1.0, 1))
    batching = compute_digest(DigestInputs(period, [], []), now=NOW).batching
    assert (batching.batches, batching.member_runs) == (2, 5)
    assert (batching.triggers_saved, batching.posts_saved) == (3, 3)


def test_review_section_counts_kinds_findings_and_feedback() -> None:
    period = [
        in_period("demo", 0.1, 1, kind="review", status="cached", cache_hit=True, tokens_in=0),
        in_period("demo", 9.0, 2, kind="review", tokens_in=1_200),
    ]
    reviews = ReviewTotals(
        full=1,
        delta=3,
        findings_new=5,
        findings_fixed=2,
        findings_open=7,
        suppressed=1,
        full_review_tokens_in=8_000,
    )
    feedback = FeedbackTotals(helpful=3, not_helpful=0, false_positive=1)
    digest = compute_digest(DigestInputs(period, [], [], reviews, feedback), now=NOW)
    r = digest.reviews
    assert (r.full, r.delta, r.cached) == (1, 3, 1)
    assert (r.findings_new, r.findings_fixed, r.findings_open, r.suppressed) == (5, 2, 7, 1)
    assert r.helpful_share == pytest.approx(0.75)
    assert (digest.caching.review_tokens_in, digest.caching.full_review_tokens_in) == (1_200, 8_000)


def test_digest_round_trips_through_json() -> None:
    period = [in_period("a", 1.0, 1), in_period("a", 1.0, 2, status="failed")]
    digest = compute_digest(DigestInputs(period, [], [], job_health={"a": "late"}), now=NOW)
    data = json.loads(digest.model_dump_json())
    assert data["period"] == "day"
    assert data["insights"][0]["metric"] == "health"
    assert type(digest).model_validate_json(digest.model_dump_json()) == digest


def test_cache_hits_without_any_baseline_say_time_saved_is_unknown() -> None:
    period = [in_period("new", 0.2, h, status="cached", cache_hit=True) for h in range(3)]
    digest = compute_digest(DigestInputs(period, [], []), now=NOW)
    assert digest.caching.time_saved_ms == 0
    assert "3 cache hits (time saved unknown: no baseline)" in digest.summary
    assert any("3 cached runs have no baseline duration" in note for note in digest.notes)
