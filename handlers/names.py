"""Names typed in chat that the configuration does not hold — a repository, a job —
answered with the one most likely meant. Reads the configuration alone, no I/O: the
adapters give these answers inside the acknowledgement, before a slow lane's wait."""

from __future__ import annotations

from collections.abc import Callable

from handlers.router import Request, UsageError
from jobs.context import Context
from jobs.core.reply import Reply
from jobs.core.text import closest
from jobs.review.targets import UnknownRepo, not_configured
from jobs.runs.specs import find_batch, find_job, job_specs


def unknown_repo(request: Request, exc: UnknownRepo) -> Reply:
    """A name that is not a repository; a likely typo is answered with the command as
    it was meant (`/review clik` → `/review click`)."""
    if exc.close is None:
        return Reply.error(exc.reason)
    args = [exc.close if arg == exc.repo else arg for arg in request.args]
    meant = request.caller.typed(" ".join([f"/{request.command}", *args]))
    configured = ", ".join(r.name for r in request.context.config.repos)
    return Reply.error(
        f"No repository named {exc.repo!r}. Did you mean {meant}? (configured: {configured})"
    )


def repo_not_configured(request: Request) -> Reply | None:
    """Without I/O: a chat's name that is no configured repository is answered at once,
    not after the reviews waiting in the slow lane."""
    if not request.args or on_console(request) or request.context.config.repo(request.args[0]):
        return None
    return unknown_repo(request, not_configured(request.context.config, request.args[0]))


def on_console(request: Request) -> bool:
    """Only the local terminal may name a path instead of a configured repository."""
    return request.caller.platform == "console"


def _names(context: Context) -> list[str]:
    return [s.name for s in job_specs(context.config)] + [b.name for b in context.config.batches]


def _known(context: Context) -> str:
    names = _names(context)
    return f"Known: {', '.join(names)}." if names else "None is configured."


def unknown_job(context: Context, name: str, typed: Callable[[str], str] | None = None) -> str:
    """No such job: the one it most likely misspells, as the command to type when
    `typed` makes one of a name, then the known ones."""
    close = closest(name, _names(context))
    meant = f" Did you mean {typed(close) if typed else close}?" if close else ""
    return f"No job or batch named {name!r}.{meant} {_known(context)}"


def name_arg(request: Request) -> str:
    if len(request.args) != 1:
        raise UsageError("Give exactly one job name.")
    name = request.args[0]
    if find_job(request.context.config, name) is None and (
        find_batch(request.context.config, name) is None
    ):
        caller, command = request.caller, request.command
        raise UsageError(
            unknown_job(request.context, name, lambda close: caller.typed(f"/{command} {close}"))
        )
    return name


def job_not_configured(request: Request) -> Reply | None:
    """Without I/O: a name that is no job nor batch is answered at once, not after the
    runs waiting in the slow lane."""
    try:
        name_arg(request)
    except UsageError as exc:
        return Reply.error(str(exc), request.caller.typed("/run <job>"))
    return None
