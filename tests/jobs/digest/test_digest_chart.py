"""The digest's chart: what it is drawn from (pure), and that it draws."""

import struct
from datetime import UTC, date, datetime, timedelta

from jobs.digest.chart import ChartRequest, DayBar, day_bars, job_bars, render_chart
from jobs.digest.compute import compute_digest
from jobs.digest.inputs import DayCount, DigestInputs, digest_window
from jobs.runs.baseline import DurationSample
from tests.jobs.digest.histories import run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
END = datetime(2026, 5, 2, 9, tzinfo=UTC)
START = digest_window("day", END).start


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a valid PNG has first."""
    assert data[:8] == PNG_SIGNATURE
    length, chunk_type = struct.unpack(">I4s", data[8:16])
    assert (length, chunk_type) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_empty_history_renders_a_valid_png_saying_no_runs_yet() -> None:
    days = day_bars([], END.date())
    data = render_chart(ChartRequest([], days))
    assert png_size(data) == (640, 480)
    assert data.endswith(b"IEND\xaeB`\x82")


def test_the_bars_put_flagged_and_failing_jobs_first_and_leave_opsdesks_own_out() -> None:
    baseline = [
        DurationSample("triage", START - timedelta(hours=h + 1), 1_300) for h in range(0, 240, 12)
    ]
    period = [run("triage", START + timedelta(hours=h), 6.2) for h in (1, 2, 3)]
    period += [run("backup", START + timedelta(hours=h), 30.0) for h in (1, 2)]
    period += [run("backup", START + timedelta(hours=3), 30.0, status="failed")]
    period += [run("report", START + timedelta(hours=h), 90.0) for h in (1, 2)]
    period += [run("digest", START + timedelta(hours=4), 120.0, kind="digest")]
    digest = compute_digest(DigestInputs(period, baseline, []), now=END)

    bars = job_bars(digest)

    assert [bar.job for bar in bars] == ["backup", "triage", "report"]
    backup, triage, report = bars
    assert (backup.flagged, backup.failures, backup.runs) == (True, 1, 3)
    assert triage.flagged and (triage.typical_ms, triage.previous_ms) == (6_200, 1_300)
    assert not report.flagged


def test_the_days_are_the_teams_with_every_day_present() -> None:
    counts = [DayCount(date(2026, 5, 1), 8, 2, 1), DayCount(date(2026, 4, 1), 5, 0, 0)]
    days = day_bars(counts, date(2026, 5, 2))
    assert len(days) == 14 and days[-1] == DayBar(date(2026, 5, 2))
    assert days[-2] == DayBar(date(2026, 5, 1), ok=5, cached=2, failed=1)


def test_a_chart_of_many_jobs_and_busy_days_is_a_small_valid_png() -> None:
    period = [
        run(
            f"job{j}", START + timedelta(minutes=10 * j), 10 + j, status="failed" if j % 7 else "ok"
        )
        for j in range(50)
    ]
    digest = compute_digest(DigestInputs(period, [], []), now=END)
    counts = [DayCount(END.date() - timedelta(days=d), 900, 300, d) for d in range(14)]
    data = render_chart(ChartRequest(job_bars(digest), day_bars(counts, END.date())))
    assert png_size(data) == (640, 480)
    assert len(data) < 100_000
