"""Runs gathered in one pass: per job (runs, successes, cache hits, durations) and
per model (calls, latencies, output tokens), what every section of a digest reads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from jobs.digest.inputs import INTERNAL_KINDS, RunRecord
from jobs.digest.stats import percentile, ratio


@dataclass(slots=True)
class JobTally:
    """One job's runs in one period, gathered in a single pass."""

    finished: int = 0
    succeeded: int = 0
    cache_hits: int = 0
    work_ms: list[float] = field(default_factory=list)  # successful, non-cached
    cached_ms: list[float] = field(default_factory=list)
    internal: bool = False  # opsdesk's own job (INTERNAL_KINDS)

    def figures(self) -> tuple[float | None, float | None, float | None]:
        """Success rate, and p50 and p95 of the successful non-cached runs; None for
        what there were no runs to say."""
        work = self.work_ms
        return ratio(self.succeeded, self.finished), percentile(work, 50), percentile(work, 95)

    def hits(self, metric: str) -> tuple[int, int]:
        """(successes or cache hits, finished runs): what a rate metric is judged on."""
        return (self.succeeded if metric == "success_rate" else self.cache_hits), self.finished


def tally_by_job(runs: Iterable[RunRecord]) -> dict[str, JobTally]:
    tallies: dict[str, JobTally] = defaultdict(JobTally)
    for run in runs:
        if not run.finished:
            continue
        tally = tallies[run.job]
        tally.internal = run.kind in INTERNAL_KINDS
        tally.finished += 1
        tally.succeeded += run.succeeded
        if run.cache_hit:
            tally.cache_hits += 1
            if run.duration_ms is not None:
                tally.cached_ms.append(run.duration_ms)
        elif run.did_work:
            tally.work_ms.append(run.duration_ms)  # type: ignore[arg-type]
    return dict(tallies)


@dataclass(slots=True)
class ModelTally:
    calls: int = 0
    succeeded: int = 0
    latency_ms: list[float] = field(default_factory=list)
    tokens_out: int = 0
    timed_ms: float = 0.0  # latency of the calls that reported output tokens


def tally_models(runs: Iterable[RunRecord]) -> dict[str, ModelTally]:
    tallies: dict[str, ModelTally] = defaultdict(ModelTally)
    for run in runs:
        # A cache hit names the model of the stored review but made no call.
        if run.model is None or run.cache_hit or not run.finished:
            continue
        tally = tallies[run.model]
        tally.calls += 1
        tally.succeeded += run.succeeded
        if run.model_latency_ms is not None:
            tally.latency_ms.append(run.model_latency_ms)
            if run.tokens_out:
                tally.tokens_out += run.tokens_out
                tally.timed_ms += run.model_latency_ms
    return dict(tallies)
