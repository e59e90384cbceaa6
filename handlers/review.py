"""/review <repo> [full] and /findings <repo>."""

from __future__ import annotations

from handlers.router import Command, Request, UsageError
from jobs.reply import Reply
from jobs.review.engine import ReviewFailed, UnknownRepo, resolve_target, run_review
from jobs.review.store import open_findings
from jobs.review.view import finding_block, repo_label, review_reply

MAX_FINDINGS_LISTED = 20


def _target(request: Request, usage: str) -> str:
    if not request.args:
        raise UsageError(f"Name a repository. Usage: {usage}")
    return request.args[0]


def review(request: Request) -> Reply:
    """Review a repository (cached when its HEAD was reviewed already)."""
    args = request.args
    if not args or len(args) > 2 or (len(args) == 2 and args[1] != "full"):
        raise UsageError("Give a repository name and optionally `full`.")
    services = request.services
    try:
        result = run_review(
            services.engine, services.config, services.data_dir, args[0],
            full=len(args) == 2, trigger="manual", llm_api_key=services.llm_api_key,
            clock=services.clock, runner_id=services.runner_id,
            allow_local=request.caller.platform == "console",
        )  # fmt: skip
    except ReviewFailed as exc:
        return Reply.error(f"Review of {repo_label(exc.repo)} failed: {exc.reason}")
    return review_reply(result, services.config)


def findings(request: Request) -> Reply:
    """List a repository's open findings with feedback buttons."""
    if len(request.args) != 1:
        raise UsageError("Give one repository name.")
    services = request.services
    try:
        target = resolve_target(
            services.config, services.data_dir, request.args[0],
            allow_local=request.caller.platform == "console",
        )  # fmt: skip
    except UnknownRepo as exc:
        return Reply.error(exc.reason)
    found = open_findings(services.engine, target.name)
    label = repo_label(target.name)
    if not found:
        return Reply.text("No open findings.", title=f"Findings {label}: none open")
    blocks = [finding_block(f.as_row()) for f in found[:MAX_FINDINGS_LISTED]]
    note = ""
    if len(found) > MAX_FINDINGS_LISTED:
        note = f"showing {MAX_FINDINGS_LISTED} of {len(found)}, most severe first"
    return Reply(title=f"Findings {label}: {len(found)} open", blocks=blocks, note=note)


COMMANDS = [
    Command(
        "review",
        "/review <repo> [full]",
        "review a repository (cached, delta or full)",
        review,
        slow=True,
    ),
    Command("findings", "/findings <repo>", "open findings of a repository", findings),
]
