"""The optimization digest, computed from run records as healthchecks derives state:
at read time, nothing stored.

- compute.py:  the input records, the statistics and `compute_digest` (pure)
- queries.py:  the reads that fill its inputs from the database
- insights.py: the rules that flag a job, and the alert transitions (post on change)
- render.py:   numbers, lines and `Reply`s: everything that shapes the digest's text
- chart.py:    the 14-day PNG, drawn in a short-lived worker (`python -m jobs.digest.chart`)
- job.py:      the digest against the database, posting, and the digest/health job kinds

Importing this package stays cheap: the chart (and with it matplotlib, in the worker
only) and the database side are imported from their modules where needed.
"""

from jobs.digest.compute import (
    DayCount,
    Digest,
    DigestInputs,
    DigestWindow,
    DurationSample,
    FeedbackTotals,
    ReviewTotals,
    RunRecord,
    compute_digest,
    digest_window,
)
from jobs.digest.insights import (
    AlertDecision,
    AlertPost,
    AlertRecord,
    Insight,
    decide_alerts,
    decide_digest_alerts,
)
from jobs.digest.render import digest_lines

__all__ = [
    "AlertDecision",
    "AlertPost",
    "AlertRecord",
    "DayCount",
    "Digest",
    "DigestInputs",
    "DigestWindow",
    "DurationSample",
    "FeedbackTotals",
    "Insight",
    "ReviewTotals",
    "RunRecord",
    "compute_digest",
    "decide_alerts",
    "decide_digest_alerts",
    "digest_lines",
    "digest_window",
]
