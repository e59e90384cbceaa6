"""Alert state transitions per (job, metric): post on change, not every day. Pure.

Rules, given the insights of one digest and the stored states:
- ok -> alert: the state changes; posted unless something about this (job, metric)
  was posted within the cooldown (a flapping alert is not re-posted).
- alert -> alert: nothing, except that an alert held back by the cooldown is posted
  once the cooldown has passed and it is still on.
- alert -> ok: the state changes; a "recovered" post is made only when the alert
  itself was posted (nobody needs to hear about the end of an alert they never saw).
- a (job, metric) that was not checked this time (too little data) keeps its state.

An episode was announced when `last_posted_at >= changed_at`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from jobs.digest.model import Digest, Insight

AlertLevel = Literal["ok", "alert"]


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An AlertState row: storage reads these in and writes changed ones back."""

    job: str
    metric: str
    state: AlertLevel
    changed_at: datetime
    last_posted_at: datetime | None = None
    detail: str = ""

    @property
    def announced(self) -> bool:
        return self.last_posted_at is not None and self.last_posted_at >= self.changed_at


@dataclass(frozen=True, slots=True)
class AlertPost:
    """A post to make: an alert (with its insight) or a recovery."""

    job: str
    metric: str
    kind: Literal["alert", "recovered"]
    text: str
    insight: Insight | None = None


@dataclass(frozen=True, slots=True)
class AlertDecision:
    updates: list[AlertRecord]  # rows to upsert; unchanged rows are not listed
    posts: list[AlertPost]


def _cooled(record: AlertRecord | None, now: datetime, cooldown: timedelta) -> bool:
    if record is None or record.last_posted_at is None:
        return True
    return now - record.last_posted_at >= cooldown


def decide_alerts(
    insights: Iterable[Insight],
    checked: Collection[tuple[str, str]],
    states: Sequence[AlertRecord],
    now: datetime,
    cooldown: timedelta,
) -> AlertDecision:
    """Which alert states change and which posts to make (see the module's rules)."""
    stored = {(s.job, s.metric): s for s in states}
    active = {(i.job, i.metric): i for i in insights}
    checked_keys = set(checked) | set(active)
    updates: list[AlertRecord] = []
    posts: list[AlertPost] = []

    for key in sorted(checked_keys):
        record = stored.get(key)
        insight = active.get(key)
        job, metric = key
        if insight is not None:
            if record is None or record.state == "ok":
                post = _cooled(record, now, cooldown)
                posted_before = record.last_posted_at if record else None
                updates.append(
                    AlertRecord(
                        job=job,
                        metric=metric,
                        state="alert",
                        changed_at=now,
                        last_posted_at=now if post else posted_before,
                        detail=insight.text,
                    )
                )
            else:
                post = not record.announced and _cooled(record, now, cooldown)
                if post:
                    updates.append(replace(record, last_posted_at=now, detail=insight.text))
            if post:
                posts.append(AlertPost(job, metric, "alert", insight.text, insight))
        elif record is not None and record.state == "alert":
            post = record.announced
            updates.append(
                replace(
                    record,
                    state="ok",
                    changed_at=now,
                    last_posted_at=now if post else record.last_posted_at,
                    detail="",
                )
            )
            if post:
                posts.append(
                    AlertPost(job, metric, "recovered", f"{job}: {_metric_label(metric)} recovered")
                )
    return AlertDecision(updates=updates, posts=posts)


def decide_digest_alerts(
    digest: Digest, states: Sequence[AlertRecord], now: datetime, cooldown: timedelta
) -> AlertDecision:
    """decide_alerts for one digest's insights and checked pairs."""
    return decide_alerts(digest.insights, digest.checked, states, now, cooldown)


def _metric_label(metric: str) -> str:
    return {
        "duration": "duration",
        "success_rate": "success rate",
        "cache_hit_rate": "cache hit rate",
        "health": "health",
    }.get(metric, metric)
