from datetime import UTC, datetime, timedelta

from jobs.digest.compute import compute_digest
from jobs.digest.inputs import (
    DigestInputs,
    FeedbackTotals,
    RepoFindings,
    ReviewTotals,
    digest_window,
)
from jobs.digest.replies import digest_lines, digest_reply, digest_title
from jobs.digest.story import story_lines
from tests.jobs.digest.histories import T0, run

NOW = T0 + timedelta(days=20)
START = digest_window("day", NOW).start


def test_empty_history_gives_an_honest_digest_not_an_error() -> None:
    digest = compute_digest(DigestInputs([], [], []), now=NOW)
    lines = digest_lines(digest)
    assert lines == ["No runs in this day."]
    assert "no runs in this day" in digest.summary and "nothing to report yet" in digest.summary
    assert any("No baseline yet" in note for note in digest.notes)  # on the page
    assert (digest.runs, digest.insights, digest.jobs) == (0, [], [])


def test_week_digest_covers_seven_days() -> None:
    digest = compute_digest(DigestInputs([], [], []), period="week", now=NOW)
    assert digest.end - digest.start == timedelta(days=7)
    assert digest.summary.startswith("Week digest")


def test_the_story_comes_first_then_the_figures_and_only_the_jobs_that_ran() -> None:
    period = [run(f"clean{i}", START + timedelta(hours=h), 5.0) for i in range(3) for h in (1, 2)]
    period += [run("flaky", START + timedelta(hours=1), 9.0, status="failed")]
    period += [run("flaky", START + timedelta(hours=2), 9.0)]
    period += [run("digest", START + timedelta(hours=3), 0.4, kind="digest")]
    digest = compute_digest(
        DigestInputs(
            period,
            [],
            [],
            ReviewTotals(
                full=1,
                delta=2,
                findings_new=3,
                findings_open=4,
                suppressed=1,
                marked_false_positive=1,
                per_repo=(
                    RepoFindings("click", new=3, open=4, suppressed=1, marked_false_positive=1),
                ),
            ),
            FeedbackTotals(helpful=1, false_positive=1),
            job_health={"nightly": "late", "quiet": "up", "digest": "up"},
            health_details={"nightly": "no run since it was due 2 h ago"},
        ),
        now=NOW,
    )
    lines = digest_lines(digest)
    assert lines[:4] == [
        "⚠️ nightly is late: no run since it was due 2 h ago",
        "❌ flaky: 1 of 2 runs failed",
        "🔎 click: 3 new findings — 4 open",
        "🙈 1 finding marked false positive (click 1)",
    ]
    assert "Runs: 9, 1 failed" in lines
    assert "Findings: 4 open (3 new, 0 fixed this day), 1 suppressed as false positive" in lines
    jobs = lines[lines.index("Jobs:") + 1 :]
    # Jobs that did not run and are fine, and opsdesk's own, are not listed.
    assert [line.split(":")[0].strip() for line in jobs] == [
        "nightly",
        "flaky",
        "clean0",
        "clean1",
        "clean2",
    ]
    assert not any("0 runs, all ok" in line or "statistic" in line for line in lines)
    assert not any("MAD" in line or "p95" in line for line in lines)


def test_a_day_with_nothing_to_report_is_one_quiet_line() -> None:
    period = [run("backup", START + timedelta(hours=h), 5.0) for h in (1, 2, 3)]
    digest = compute_digest(DigestInputs(period, [], [], job_health={"idle": "up"}), now=NOW)
    assert story_lines(digest) == ["✅ All quiet: 3 runs, all ok."]
    assert digest_title(digest).endswith(": all quiet")


def test_times_are_told_in_the_teams_zone() -> None:
    winter = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
    digest = compute_digest(DigestInputs([], [], []), now=winter, timezone="Europe/Berlin")
    assert digest.summary.startswith("Day digest to Mon 7 Dec 06:00 CET")
    reply = digest_reply(digest)
    # The period is the small print under the story.
    assert reply.note.startswith("Sun 6 Dec 06:00 CET to Mon 7 Dec 06:00 CET")
    assert "UTC" not in reply.model_dump_json()


def test_a_job_that_failed_and_works_again_says_so() -> None:
    period = [run("flaky", START + timedelta(hours=1), 9.0, status="failed")]
    period += [run("flaky", START + timedelta(hours=2), 9.0)]
    working = compute_digest(DigestInputs(period, [], [], job_health={"flaky": "up"}), now=NOW)
    assert story_lines(working)[0] == "⚠️ flaky: 1 of 2 runs failed, working again"
    down = compute_digest(DigestInputs(period[:1], [], [], job_health={"flaky": "down"}), now=NOW)
    assert story_lines(down)[0].startswith("❌ ")
