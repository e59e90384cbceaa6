"""The optimization digest: figures, insights, alert transitions and a chart, computed
purely from run records (no database, no I/O). Storage fills the input records;
handlers and the scheduler call `compute_digest`, `decide_alerts` and `render_chart`.

The chart module imports matplotlib lazily, so importing this package stays cheap.
"""

from jobs.digest.alerts import (
    AlertDecision,
    AlertPost,
    AlertRecord,
    decide_alerts,
    decide_digest_alerts,
)
from jobs.digest.chart import daily_hit_rates, daily_medians, render_chart
from jobs.digest.compute import compute_digest
from jobs.digest.model import (
    DayCount,
    Digest,
    DigestWindow,
    DurationSample,
    FeedbackTotals,
    Insight,
    ReviewTotals,
    RunRecord,
    digest_window,
)
from jobs.digest.text import digest_lines

__all__ = [
    "AlertDecision",
    "AlertPost",
    "AlertRecord",
    "DayCount",
    "Digest",
    "DigestWindow",
    "DurationSample",
    "FeedbackTotals",
    "Insight",
    "ReviewTotals",
    "RunRecord",
    "compute_digest",
    "daily_hit_rates",
    "daily_medians",
    "decide_alerts",
    "decide_digest_alerts",
    "digest_lines",
    "digest_window",
    "render_chart",
]
