"""Duration regressions end to end: history -> digest -> alert decisions, day by day."""

from datetime import timedelta

from jobs.digest.compute import compute_digest
from jobs.digest.figures import Digest
from jobs.digest.inputs import DigestInputs, RunRecord
from jobs.digest.insights import AlertRecord, decide_digest_alerts
from tests.jobs.digest.histories import daily_runs, digest_time, slice_history

NORMAL = [57.0, 60.0, 62.0, 59.0]
# More than twice as long and a minute more: a warning, which is posted as an alert.
SLOW = [135.0, 136.0, 134.0, 137.0]
COOLDOWN = timedelta(days=1)


def build_history(slow_days: range, last_day: int = 18) -> list[RunRecord]:
    history: list[RunRecord] = []
    for day in range(last_day + 1):
        history += daily_runs("build", day, SLOW if day in slow_days else NORMAL)
        history += daily_runs("steady", day, [30.0] * 4)
        # Wide but stable spread; rotated so days differ.
        noisy = [20.0, 80.0, 35.0, 65.0, 50.0]
        history += daily_runs("noisy", day, noisy[day % 5 :] + noisy[: day % 5])
    return history


def digest_for(history: list[RunRecord], day: int) -> Digest:
    inputs = slice_history(history, digest_time(day))
    return compute_digest(
        DigestInputs(inputs.period_runs, inputs.baseline_runs, inputs.previous_period_runs),
        now=inputs.now,
    )


def duration_insights(digest: Digest) -> list[str]:
    return [i.job for i in digest.insights if i.metric == "duration"]


def apply(states: dict[tuple[str, str], AlertRecord], updates: list[AlertRecord]) -> None:
    for record in updates:
        states[(record.job, record.metric)] = record


def test_a_jump_alerts_once_stays_quiet_while_high_and_posts_recovery() -> None:
    history = build_history(slow_days=range(14, 17))
    states: dict[tuple[str, str], AlertRecord] = {}
    posts_by_day: dict[int, list[tuple[str, str, str]]] = {}
    insights_by_day: dict[int, list[str]] = {}
    for day in range(14, 19):
        digest = digest_for(history, day)
        insights_by_day[day] = duration_insights(digest)
        decision = decide_digest_alerts(digest, list(states.values()), digest.end, COOLDOWN)
        apply(states, decision.updates)
        posts_by_day[day] = [(p.job, p.metric, p.kind) for p in decision.posts]

    assert insights_by_day == {14: ["build"], 15: ["build"], 16: ["build"], 17: [], 18: []}
    assert posts_by_day == {
        14: [("build", "duration", "alert")],
        15: [],
        16: [],
        17: [("build", "duration", "recovered")],
        18: [],
    }
    assert states[("build", "duration")].state == "ok"


def test_regression_insight_states_its_numbers() -> None:
    digest = digest_for(build_history(slow_days=range(14, 15)), 14)
    (insight,) = digest.insights
    assert insight.metric == "duration"
    # Baseline: 14 days of 57, 60, 62, 59 -> median 59.5 s, MAD 1.5 s; period median 135.5 s.
    assert insight.numbers["median_ms"] == 135_500
    assert insight.numbers["baseline_median_ms"] == 59_500
    assert insight.numbers["baseline_mad_ms"] == 1_500
    assert insight.numbers["baseline_runs"] == 56
    assert "2m 16s" in insight.text and "59.5s" in insight.text and "MAD" in insight.text
    # Chat reads the headline: the change in plain words, no statistics.
    assert insight.headline == "build got slower: 2m 16s typical, was 59.5s"
    assert insight.severity == "warning"


def test_a_batch_job_a_few_seconds_slower_is_news_not_an_alert() -> None:
    history: list[RunRecord] = []
    for day in range(14):
        history += daily_runs("triage", day, [1.2, 1.3, 1.4, 1.3])
    history += daily_runs("triage", 14, [6.2, 6.1, 6.3, 6.2])
    digest = digest_for(history, 14)
    (insight,) = digest.insights
    assert (insight.metric, insight.severity) == ("duration", "info")
    assert insight.headline == "triage got slower: 6.2s typical, was 1.3s"
    decision = decide_digest_alerts(digest, [], digest.end, COOLDOWN)
    assert decision.posts == []


def test_steady_and_noisy_but_stable_jobs_raise_nothing() -> None:
    history = build_history(slow_days=range(0))
    for day in range(14, 19):
        digest = digest_for(history, day)
        assert digest.insights == []
        assert ("steady", "duration") in digest.checked
        assert ("noisy", "duration") in digest.checked


def test_noisy_job_with_a_high_day_inside_its_spread_raises_nothing() -> None:
    history = build_history(slow_days=range(0), last_day=13)
    history += daily_runs("noisy", 14, [80.0, 65.0, 70.0, 20.0, 50.0])  # median +30%
    digest = digest_for(history, 14)
    assert duration_insights(digest) == []


def test_fewer_than_five_baseline_runs_raise_nothing_and_say_so() -> None:
    history = daily_runs("young", 12, [10.0, 10.0]) + daily_runs("young", 13, [10.0, 10.0])
    history += daily_runs("young", 14, [50.0, 50.0])
    digest = digest_for(history, 14)
    assert digest.insights == []
    assert ("young", "duration") not in digest.checked
    assert any("Too few baseline runs" in note and "young" in note for note in digest.notes)


def test_twenty_percent_floor_silences_a_small_rise_of_a_tight_job() -> None:
    tight = [100.0, 100.1, 99.9, 100.0]
    history: list[RunRecord] = []
    for day in range(14):
        history += daily_runs("tight", day, tight)
    plus_ten = digest_for(history + daily_runs("tight", 14, [110.0] * 4), 14)
    plus_twenty_five = digest_for(history + daily_runs("tight", 14, [125.0] * 4), 14)
    # +10 % is far beyond k·1.4826·MAD (0.05 s) but under the 20 % floor.
    assert duration_insights(plus_ten) == []
    assert duration_insights(plus_twenty_five) == ["tight"]


def test_k_is_configurable() -> None:
    history = build_history(slow_days=range(0), last_day=13)
    history += daily_runs("noisy", 14, [80.0, 65.0, 70.0, 20.0, 50.0])
    inputs = slice_history(history, digest_time(14))
    lenient = compute_digest(
        DigestInputs(inputs.period_runs, inputs.baseline_runs, inputs.previous_period_runs),
        now=inputs.now,
        k=0.5,
    )
    assert duration_insights(lenient) == ["noisy"]
