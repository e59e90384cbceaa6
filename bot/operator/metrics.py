"""`/metrics`: a prometheus-client collector that reads the run and outbox rows and
the live process on every scrape. Nothing here counts anything itself.

Labels are bounded: job and kind (from the configuration), status (a fixed set),
model (configured models), platform (slack, telegram, console, log), repo and budget
scope (configured repositories, "all"), line (scheduled, chat). No commit
sha, channel or user id is ever a label.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from bot.ack_stats import ACK_BUCKETS, ack_snapshot
from bot.operator.usage_metrics import usage_families
from jobs.config.schema import Config
from jobs.context import Context
from jobs.outbox.totals import PlatformOutbox, read_outbox
from jobs.review.history import standing_counts
from jobs.runs.totals import Histogram, RunTotalsReader
from jobs.runs.waiting import waiting_runs

# True: this process runs the scheduler; False: it stands by; None: disabled.
Leadership = Callable[[], bool | None]


def cached_jobs(config: Config) -> set[str]:
    """Jobs whose successful runs are cache lookups: every review, and commands
    with declared cache inputs."""
    return {repo.name for repo in config.repos} | {
        job.name for job in config.jobs if job.cache is not None
    }


def _histogram_family(
    name: str, doc: str, labels: list[str], series: dict[tuple[str, ...], Histogram]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=labels)
    for values, histogram in sorted(series.items()):
        family.add_metric(list(values), histogram.cumulative(), histogram.sum_seconds)
    return family


class OpsdeskCollector(Collector):
    def __init__(self, context: Context, leadership: Leadership) -> None:
        self.context = context
        self.leadership = leadership
        self.totals = RunTotalsReader()
        self._lock = threading.Lock()  # one scrape reads and advances the watermark

    def collect(self) -> Iterator[Metric]:
        now = self.context.clock()
        with self._lock, self.context.engine.connect() as connection:
            totals = self.totals.read(connection, now)
            outbox = read_outbox(connection)
            findings_open = standing_counts(connection, "open")
            findings_suppressed = standing_counts(connection, "suppressed")
            findings_muted = standing_counts(connection, "muted")

        runs = CounterMetricFamily(
            "opsdesk_job_runs",
            "Finished job runs by job, kind and status (ok, cached, failed, timeout, "
            "missed, interrupted, abandoned).",
            labels=["job", "kind", "status"],
        )
        for (job, kind, status), count in sorted(totals.runs.items()):
            runs.add_metric([job, kind, status], count)
        yield runs

        running = GaugeMetricFamily(
            "opsdesk_job_runs_running", "Runs started and not finished.", labels=["job", "kind"]
        )
        for (job, kind), count in sorted(totals.running.items()):
            running.add_metric([job, kind], count)
        yield running

        yield _histogram_family(
            "opsdesk_job_run_duration_seconds",
            "Duration of successful runs that did the work (cache hits left out).",
            ["job", "kind"],
            {key: h for key, h in totals.durations.items()},
        )

        yield _histogram_family(
            "opsdesk_job_run_wait_seconds",
            "How long finished runs waited for a free worker ([scheduler] workers) before "
            "they started.",
            ["job", "kind"],
            {key: h for key, h in totals.waits.items()},
        )
        yield from self._worker_families(now)

        with_cache = cached_jobs(self.context.config)
        hits = CounterMetricFamily(
            "opsdesk_cache_hits", "Runs answered from the cache.", labels=["job", "kind"]
        )
        misses = CounterMetricFamily(
            "opsdesk_cache_misses",
            "Successful runs of cached jobs (reviews, commands with cache inputs) that did "
            "the work.",
            labels=["job", "kind"],
        )
        for job, kind in sorted(set(totals.cache_hits) | set(totals.did_work)):
            if kind != "review" and job not in with_cache and not totals.cache_hits[(job, kind)]:
                continue
            hits.add_metric([job, kind], totals.cache_hits[(job, kind)])
            misses.add_metric([job, kind], totals.did_work[(job, kind)])
        yield hits
        yield misses

        tokens = CounterMetricFamily(
            "opsdesk_review_tokens",
            "Tokens of review runs by model: type=prompt (sent) or completion (received).",
            labels=["model", "type"],
        )
        for model in sorted(set(totals.prompt_tokens) | set(totals.completion_tokens)):
            tokens.add_metric([model, "prompt"], totals.prompt_tokens[model])
            tokens.add_metric([model, "completion"], totals.completion_tokens[model])
        yield tokens
        full_tree = CounterMetricFamily(
            "opsdesk_review_full_tree_tokens",
            "Prompt tokens the same review runs would have sent as full-tree reviews.",
            labels=["model"],
        )
        for model, count in sorted(totals.full_tree_tokens.items()):
            full_tree.add_metric([model], count)
        yield full_tree

        yield _histogram_family(
            "opsdesk_model_latency_seconds",
            "Model time per run that called a model.",
            ["model"],
            {(model,): h for model, h in totals.model_latency.items()},
        )

        open_now = GaugeMetricFamily(
            "opsdesk_findings_open",
            "Open findings of each configured repository, as /findings lists them: those "
            "of the review of its current HEAD, false positives and muted rules left out.",
            labels=["repo"],
        )
        suppressed = GaugeMetricFamily(
            "opsdesk_findings_suppressed",
            "Open findings of each configured repository that someone marked false "
            "positive, each once, as /findings <repo> suppressed lists them.",
            labels=["repo"],
        )
        muted = GaugeMetricFamily(
            "opsdesk_findings_muted",
            "Open findings of each configured repository whose rule an admin muted there, "
            "as /findings <repo> muted lists them.",
            labels=["repo"],
        )
        for repo in sorted(repo.name for repo in self.context.config.repos):
            open_now.add_metric([repo], findings_open.get(repo, 0))
            suppressed.add_metric([repo], findings_suppressed.get(repo, 0))
            muted.add_metric([repo], findings_muted.get(repo, 0))
        yield open_now
        yield suppressed
        yield muted

        yield from self._outbox_families(outbox, now)
        yield self._acks()
        yield from usage_families(self.context)

        leading = self.leadership()
        leader = GaugeMetricFamily(
            "opsdesk_scheduler_leader",
            "1 when this process runs the scheduler, 0 when it stands by (another process "
            "holds the lock); absent when the scheduler is disabled.",
        )
        if leading is not None:
            leader.add_metric([], 1.0 if leading else 0.0)
        yield leader

    def _worker_families(self, now: datetime) -> Iterator[Metric]:
        """This process's worker slots: how many, how many busy, who waits and since
        when (line: scheduled or chat)."""
        slots = self.context.run_control.slots
        workers = GaugeMetricFamily(
            "opsdesk_workers", "Runs this process runs at once at most ([scheduler] workers)."
        )
        workers.add_metric([], slots.workers)
        yield workers
        busy = GaugeMetricFamily(
            "opsdesk_workers_busy", "Worker slots taken by a run, by line.", labels=["line"]
        )
        waiting = GaugeMetricFamily(
            "opsdesk_runs_waiting", "Runs waiting for a free worker, by line.", labels=["line"]
        )
        oldest = GaugeMetricFamily(
            "opsdesk_runs_waiting_oldest_seconds",
            "How long the longest-waiting run of each line has waited (0 when none waits).",
            labels=["line"],
        )
        queued = waiting_runs(self.context)
        for line, count in sorted(slots.running().items()):
            busy.add_metric([line], count)
            mine = [w for w in queued if w.line == line]
            waiting.add_metric([line], len(mine))
            age = (now - mine[0].queued_at).total_seconds() if mine else 0.0
            oldest.add_metric([line], max(age, 0.0))
        yield busy
        yield waiting
        yield oldest

    def _outbox_families(
        self, outbox: dict[str, PlatformOutbox], now: datetime
    ) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "opsdesk_outbox_depth", "Posts waiting to be sent.", labels=["platform"]
        )
        oldest = GaugeMetricFamily(
            "opsdesk_outbox_oldest_pending_age_seconds",
            "Age of the oldest post waiting to be sent (0 when none waits).",
            labels=["platform"],
        )
        failures = CounterMetricFamily(
            "opsdesk_delivery_failures",
            "Failed delivery attempts (a retried post counts each failed try).",
            labels=["platform"],
        )
        given_up = GaugeMetricFamily(
            "opsdesk_outbox_failed_posts",
            "Posts given up on after their last attempt.",
            labels=["platform"],
        )
        for platform, state in sorted(outbox.items()):
            depth.add_metric([platform], state.waiting)
            age = (now - state.oldest_waiting).total_seconds() if state.oldest_waiting else 0.0
            oldest.add_metric([platform], max(age, 0.0))
            failures.add_metric([platform], state.failed_attempts)
            given_up.add_metric([platform], state.given_up)
        yield depth
        yield oldest
        yield failures
        yield given_up

    @staticmethod
    def _acks() -> Metric:
        family = HistogramMetricFamily(
            "opsdesk_command_ack_seconds",
            "Time from a command or button press arriving to its acknowledgement, by "
            "platform (this process since it started).",
            labels=["platform"],
        )
        for platform, observed in sorted(ack_snapshot().items()):
            histogram = Histogram(ACK_BUCKETS, list(observed.counts), observed.total)
            family.add_metric([platform], histogram.cumulative(), observed.sum_seconds)
        return family


def metrics_registry(collector: OpsdeskCollector) -> CollectorRegistry:
    """A registry of our own: no global state, no process or GC collectors mixed in."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
