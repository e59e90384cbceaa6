from datetime import timedelta

from jobs.digest.compute import compute_digest
from jobs.digest.inputs import DigestInputs, FeedbackTotals, ReviewTotals, digest_window
from jobs.digest.replies import digest_lines
from tests.jobs.digest.histories import T0, run

NOW = T0 + timedelta(days=20)
START = digest_window("day", NOW).start


def test_empty_history_gives_an_honest_digest_not_an_error() -> None:
    digest = compute_digest(DigestInputs([], [], []), now=NOW)
    lines = digest_lines(digest)
    assert lines[0] == digest.summary
    assert "no runs in this day" in lines[0]
    assert "nothing to report yet" in lines[0]
    assert any("No baseline yet" in line for line in lines)
    assert (digest.runs, digest.insights, digest.jobs) == (0, [], [])


def test_week_digest_covers_seven_days() -> None:
    digest = compute_digest(DigestInputs([], [], []), period="week", now=NOW)
    assert digest.end - digest.start == timedelta(days=7)
    assert digest.summary.startswith("Week digest")


def test_lines_put_summary_first_then_insights_and_sum_up_clean_jobs() -> None:
    period = [run(f"clean{i}", START + timedelta(hours=h), 5.0) for i in range(3) for h in (1, 2)]
    period += [run("flaky", START + timedelta(hours=1), 9.0, status="failed")]
    period += [run("flaky", START + timedelta(hours=2), 9.0)]
    digest = compute_digest(
        DigestInputs(
            period,
            [],
            [],
            ReviewTotals(full=1, delta=2, findings_new=3, findings_open=4),
            FeedbackTotals(helpful=1, false_positive=1),
            job_health={"nightly": "late"},
        ),
        now=NOW,
    )
    lines = digest_lines(digest)
    assert lines[0] == digest.summary
    assert "8 runs, 1 failed" in lines[0] and "1 alert" in lines[0]
    assert lines[1] == "Insights:"
    assert lines[2].startswith("  ! nightly: late")
    assert "  3 jobs clean: 6 runs, all ok" in lines
    jobs_at = lines.index("Jobs (worst first):")
    assert lines[jobs_at + 1].startswith("  nightly: 0 runs")
    assert lines[jobs_at + 2].startswith("  flaky: 2 runs, 50% ok")
    assert any(line.startswith("Reviews: 1 full, 2 delta, 0 cached") for line in lines)
    assert any("feedback 1/2 helpful (50%), 1 false positive" in line for line in lines)
