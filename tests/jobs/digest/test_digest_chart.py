import struct
from datetime import UTC, date, datetime, timedelta

from jobs.digest.chart import ChartRequest, daily_hit_rates, daily_medians, render_chart
from jobs.digest.inputs import DayCount, DurationSample
from tests.jobs.digest.histories import run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
END = datetime(2026, 5, 2, 9, tzinfo=UTC)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a valid PNG has first."""
    assert data[:8] == PNG_SIGNATURE
    length, chunk_type = struct.unpack(">I4s", data[8:16])
    assert (length, chunk_type) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_empty_history_renders_a_valid_png_saying_no_runs_yet() -> None:
    data = render_chart(ChartRequest({}, {}))
    assert png_size(data) == (640, 360)
    assert data.endswith(b"IEND\xaeB`\x82")


def test_chart_with_fifty_jobs_is_a_small_valid_png() -> None:
    samples = [
        DurationSample(f"job{j}", END - timedelta(hours=h), 1000 * (10 + j + h % 7))
        for j in range(50)
        for h in range(0, 15 * 24, 3)
    ]
    medians = daily_medians(samples, end=END)
    rates = {END.date() - timedelta(days=i): 0.5 for i in range(14)}
    data = render_chart(ChartRequest(medians, rates))
    assert png_size(data) == (640, 360)
    assert len(data) < 100_000


def test_short_history_renders_with_the_days_it_has() -> None:
    data = render_chart(
        ChartRequest({"build": {date(2026, 5, 2): 60_000.0}}, {date(2026, 5, 2): 0.0})
    )
    assert png_size(data) == (640, 360)


def test_daily_medians_cover_the_last_days_and_only_real_work() -> None:
    samples = [
        DurationSample("build", datetime(2026, 5, 1, 1, tzinfo=UTC), 10_000),
        DurationSample("build", datetime(2026, 5, 1, 2, tzinfo=UTC), 30_000),
        DurationSample("build", datetime(2026, 4, 1, 2, tzinfo=UTC), 99_000),  # too old
    ]
    period = [
        run("build", datetime(2026, 5, 2, 1, tzinfo=UTC), 40.0),
        run("build", datetime(2026, 5, 2, 2, tzinfo=UTC), 0.1, status="cached", cache_hit=True),
        run("build", datetime(2026, 5, 2, 3, tzinfo=UTC), 50.0, status="failed"),
    ]
    assert daily_medians(samples, period, end=END) == {
        "build": {date(2026, 5, 1): 20_000.0, date(2026, 5, 2): 40_000.0}
    }


def test_daily_hit_rates_skip_days_without_runs() -> None:
    counts = [
        DayCount(date(2026, 5, 1), 8, 2),
        DayCount(date(2026, 5, 1), 2, 3),
        DayCount(date(2026, 5, 2), 0, 0),
    ]
    assert daily_hit_rates(counts) == {date(2026, 5, 1): 0.5}
