"""/review <repo> [full] and /findings <repo> [suppressed]."""

from __future__ import annotations

from handlers.feedback import remember_shown
from handlers.router import Command, Request, UsageError
from jobs.feedback import marks_of
from jobs.reply import Reply
from jobs.review.engine import ReviewFailed, UnknownRepo, resolve_target, run_review
from jobs.review.store import open_findings
from jobs.review.view import finding_block, repo_label, review_reply, suppressed_block

MAX_FINDINGS_LISTED = 20


def review(request: Request) -> Reply:
    """Review a repository (cached when its HEAD was reviewed already)."""
    args = request.args
    if not args or len(args) > 2 or (len(args) == 2 and args[1] != "full"):
        raise UsageError("Give a repository name and optionally `full`.")
    full = len(args) == 2
    try:
        result = run_review(request.context, args[0], full=full, allow_local=_on_console(request))
    except ReviewFailed as exc:
        return Reply.error(f"Review of {repo_label(exc.repo)} failed: {exc.reason}")
    return remember_shown(request, review_reply(result, request.context.config))


def findings(request: Request) -> Reply:
    """List a repository's open findings with feedback buttons, or the suppressed ones
    with a button to take the false positive back."""
    args = request.args
    if not 1 <= len(args) <= 2 or (len(args) == 2 and args[1] != "suppressed"):
        raise UsageError("Give one repository name and optionally `suppressed`.")
    context = request.context
    try:
        target = resolve_target(context, args[0], allow_local=_on_console(request))
    except UnknownRepo as exc:
        return Reply.error(exc.reason)
    suppressed = len(args) == 2
    found = open_findings(context.engine, target.name, suppressed=suppressed)
    label = repo_label(target.name)
    what = "suppressed" if suppressed else "open"
    if not found:
        none = "No finding is marked false positive." if suppressed else "No open findings."
        return Reply.text(none, title=f"Findings {label}: none {what}")
    listed = found[:MAX_FINDINGS_LISTED]
    with context.engine.connect() as connection:
        marks = marks_of(connection, [f.id for f in listed])  # who marked what, shown
    if suppressed:
        blocks = [suppressed_block(f.as_row(), marks.get(f.id, ())) for f in listed]
    else:
        blocks = [finding_block(f.as_row(), marks=marks.get(f.id, ())) for f in listed]
    note = ""
    if len(found) > MAX_FINDINGS_LISTED:
        note = f"showing {MAX_FINDINGS_LISTED} of {len(found)}, most severe first"
    reply = Reply(title=f"Findings {label}: {len(found)} {what}", blocks=blocks, note=note)
    return remember_shown(request, reply)


def _on_console(request: Request) -> bool:
    """Only the local terminal may name a path instead of a configured repository."""
    return request.caller.platform == "console"


COMMANDS = [
    Command(
        "review",
        "/review <repo> [full]",
        "review a repository (cached, delta or full)",
        review,
        slow=True,
    ),
    Command(
        "findings",
        "/findings <repo> [suppressed]",
        "open findings of a repository; `suppressed`: those marked false positive, to undo",
        findings,
    ),
]
