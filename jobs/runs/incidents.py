"""A job's incident told in one chat thread: the post of the run that first failed is
its root; the failures after it, the alerts about the job and the run that ended it
answer in that thread. Derived from the run rows and the outbox, never stored.

A streak is the failed runs of a job with no successful run between them; runs that
say nothing either way (interrupted, still running) neither end nor extend one."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.engine import Engine

from jobs.core.reply import Reply
from jobs.outbox.delivery import EDIT_KIND, enqueue, post_key
from storage.models import JobRun, OutboxPost

FAILED = frozenset({"failed", "timeout"})
SUCCEEDED = frozenset({"ok", "cached"})
# How far back a streak is looked for: a job failing longer than this starts anew.
STREAK_LOOKBACK = 200
# Alert metrics that are about failing (a slower job has no failed run to answer).
FAILURE_METRICS = frozenset({"health", "success_rate"})

_runs = JobRun.__table__  # type: ignore[attr-defined]
_outbox = OutboxPost.__table__  # type: ignore[attr-defined]


def run_post_key(run_id: int) -> str:
    """The dedupe key a run's own post is enqueued under."""
    return f"run:{run_id}"


def _verdicts(engine: Engine, job: str, before_id: int | None) -> list[tuple[int, str]]:
    """(id, status) of the job's runs that failed or succeeded, newest first."""
    query = select(_runs.c.id, _runs.c.status).where(
        _runs.c.job == job, _runs.c.status.in_(FAILED | SUCCEEDED)
    )
    if before_id is not None:
        query = query.where(_runs.c.id < before_id)
    query = query.order_by(_runs.c.id.desc()).limit(STREAK_LOOKBACK)
    with engine.connect() as connection:
        return [(int(row[0]), str(row[1])) for row in connection.execute(query)]


def _first_of_streak(verdicts: Sequence[tuple[int, str]]) -> int | None:
    """The first failed run of the streak the newest-first `verdicts` begin with."""
    first = None
    for run_id, status in verdicts:
        if status not in FAILED:
            break
        first = run_id
    return first


def open_streak_root(engine: Engine, job: str, before_id: int) -> int | None:
    """The first failed run of the streak going on just before run `before_id` (None
    when the run before it succeeded): a failure then is a follow-up, a success the
    end of the incident, both in that run's thread."""
    return _first_of_streak(_verdicts(engine, job, before_id))


def last_streak_root(engine: Engine, job: str) -> int | None:
    """The first failed run of the job's latest streak, going on or ended."""
    verdicts = _verdicts(engine, job, None)
    while verdicts and verdicts[0][1] in SUCCEEDED:
        verdicts.pop(0)
    return _first_of_streak(verdicts)


def latest_alert_key(engine: Engine, job: str, metric: str, target: str) -> str | None:
    """The dedupe key of the last alert posted about (job, metric) to `target`."""
    prefix = f"alert:{job}:{metric}:alert:"
    query = (
        select(_outbox.c.dedupe_key)
        .where(
            _outbox.c.dedupe_key.startswith(prefix, autoescape=True),
            _outbox.c.target == target,
        )
        .order_by(_outbox.c.id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        key = connection.execute(query).scalar_one_or_none()
    return None if key is None else str(key).rsplit("|", 1)[0]


def posted_to(engine: Engine, dedupe_key: str, target: str) -> bool:
    query = select(_outbox.c.id).where(_outbox.c.dedupe_key == post_key(dedupe_key, target))
    with engine.connect() as connection:
        return connection.execute(query.limit(1)).first() is not None


def alert_thread(engine: Engine, job: str, metric: str, kind: str, target: str) -> str | None:
    """The post an alert about (job, metric) answers in `target`: the failure that began
    the incident, when that was posted there; else, for a recovery, the alert it ends.
    None: the alert is a message of its own (and the root of what follows)."""
    if metric in FAILURE_METRICS:
        root = last_streak_root(engine, job)
        if root is not None and posted_to(engine, run_post_key(root), target):
            return run_post_key(root)
    if kind == "recovered":
        return latest_alert_key(engine, job, metric, target)
    return None


def redraw_root(engine: Engine, job: str, root: int, ended_by: int, targets: list[str]) -> None:
    """The run `ended_by` ended the streak that run `root` began: the root's post, where
    it went, is redrawn in place to say so (its cause kept), so the channel's one
    message about the incident tells how it ended."""
    failed = sum(1 for run_id, status in _verdicts(engine, job, ended_by) if run_id >= root)
    for target in targets:
        query = select(_outbox.c.reply_json).where(
            _outbox.c.dedupe_key == post_key(run_post_key(root), target)
        )
        with engine.connect() as connection:
            shown = connection.execute(query).scalar_one_or_none()
        if shown is None:
            continue
        before = Reply.model_validate_json(shown)
        runs = "run" if failed == 1 else "runs"
        ended = Reply(
            title=f"✅ {job}: ok again after {failed} failed {runs}",
            blocks=before.blocks,
            note=f"{before.note} · ok again: run #{ended_by} (in the thread)",
        )
        enqueue(
            engine,
            kind=EDIT_KIND,
            targets=[target],
            reply=ended,
            dedupe_key=f"{run_post_key(root)}:ended",
            thread_of=run_post_key(root),
        )


def post_run(
    engine: Engine,
    job: str,
    run_id: int,
    targets: list[str],
    reply: Reply,
    posts_after: Sequence[tuple[str, Reply]] = (),
) -> None:
    """The run's post; a failure after a failure, or the success that ends them, in the
    thread of the post of the run that first failed (one incident, one thread). Then
    the posts the job asked for after it, each once by its own key."""
    root = open_streak_root(engine, job, run_id)
    enqueue(
        engine,
        kind="job",
        targets=targets,
        reply=reply,
        dedupe_key=run_post_key(run_id),
        thread_of=run_post_key(root) if root is not None else None,
    )
    if root is not None and reply.status == "ok":
        redraw_root(engine, job, root, run_id, targets)
    for key, after in posts_after:
        enqueue(engine, kind="job", targets=targets, reply=after, dedupe_key=key)
