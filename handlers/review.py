"""/review <repo> [full] and /findings <repo>."""

from __future__ import annotations

from handlers.findings_view import finding_block
from handlers.router import Command, Request, UsageError
from jobs.config import Config
from jobs.reply import Block, Reply, ReplyField
from jobs.review.engine import ReviewFailed, ReviewResult, UnknownRepo, resolve_target, run_review
from jobs.review.store import open_findings

MAX_SKIPPED_LISTED = 10
MAX_FINDINGS_LISTED = 20


def short(sha: str | None) -> str:
    return (sha or "")[:7]


def repo_label(name: str) -> str:
    return name.removeprefix("local:")


def review_reply(result: ReviewResult, config: Config) -> Reply:
    """The summary of a review, its skipped files and its top findings with buttons."""
    row = result.stored.row
    label = repo_label(row["repo"])
    commits = int(row["commits_covered"])
    plural = "commit" if commits == 1 else "commits"
    title = f"Review {label}: {result.display_kind} {short(row['commit_sha'])}"
    if not result.cache_hit:
        title += f" ({commits} {plural})"
    covered = (
        f"{short(row['base_sha'])}..{short(row['commit_sha'])}"
        if row["base_sha"]
        else f"up to {short(row['commit_sha'])}"
    )
    fields = [
        ReplyField(
            label="Kind", value=f"{row['kind']}" + (" (cached)" if result.cache_hit else "")
        ),
        ReplyField(label="Commits", value=f"{commits} ({covered})"),
        ReplyField(
            label="Findings",
            value=" · ".join(
                f"{k} {row[f'{k}_count']}" for k in ("new", "open", "fixed", "suppressed")
            ),
        ),
        ReplyField(
            label="Tokens", value=tokens_text(row["prompt_tokens"], row["full_prompt_tokens"])
        ),
        ReplyField(label="Duration", value=f"{result.duration_ms} ms"),
    ]
    blocks: list[Block] = []
    skipped = result.skipped_files
    if skipped:
        lines = [f"{s.path} ({s.reason})" for s in skipped[:MAX_SKIPPED_LISTED]]
        if len(skipped) > MAX_SKIPPED_LISTED:
            lines.append(f"and {len(skipped) - MAX_SKIPPED_LISTED} more")
        blocks.append(Block(text=f"Skipped {len(skipped)} files:\n" + "\n".join(lines)))
    shown = result.shown
    limit = config.reviewer.max_findings_shown
    blocks += [finding_block(f.as_row(), state=f.status) for f in shown[:limit]]
    if not shown:
        blocks.append(Block(text="No open findings."))
    note = ""
    if len(shown) > limit:
        note = f"{len(shown) - limit} more: /findings {label} for all"
    return Reply(title=title, blocks=blocks, fields=fields, note=note)


def tokens_text(used: int, full: int) -> str:
    if full <= 0:
        return f"{used:,} (full tree: 0)"
    saved = max(0.0, 100.0 * (1 - used / full))
    return f"{used:,} of {full:,} for the full tree ({saved:.0f}% saved)"


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
