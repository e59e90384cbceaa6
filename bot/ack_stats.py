"""Command acknowledgements as this process saw them, by platform.

The chat adapters call `observe_ack(platform, seconds)` when they acknowledge a
command or a button press (Slack's 3 s rule; Telegram's answered callback);
the operator's `/metrics` reads `ack_snapshot()` and exports it as a histogram.
Live process state, not run rows: an ack leaves no row behind.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

# Upper bounds in seconds; the last bucket is +Inf. Slack's limit is 3 s.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0)


@dataclass
class AckHistogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(ACK_BUCKETS) + 1))
    total: int = 0
    sum_seconds: float = 0.0

    def copy(self) -> AckHistogram:
        return AckHistogram(list(self.counts), self.total, self.sum_seconds)


_lock = threading.Lock()
_by_platform: dict[str, AckHistogram] = {}


def observe_ack(platform: str, seconds: float) -> None:
    """Count one acknowledgement that took `seconds` from arrival to ack."""
    index = bisect.bisect_left(ACK_BUCKETS, seconds)
    with _lock:
        histogram = _by_platform.setdefault(platform, AckHistogram())
        histogram.counts[index] += 1
        histogram.total += 1
        histogram.sum_seconds += max(seconds, 0.0)


def ack_snapshot() -> dict[str, AckHistogram]:
    """A consistent copy: platform → per-bucket counts (not cumulative), count, sum."""
    with _lock:
        return {platform: h.copy() for platform, h in _by_platform.items()}


def reset_acks() -> None:
    """Forget every observation (tests, and a process that restarts its adapters)."""
    with _lock:
        _by_platform.clear()
