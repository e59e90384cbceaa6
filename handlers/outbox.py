"""/outbox: posts that failed for good, and what to do about them: retry (once the
channel is fixed or the bot invited) or drop."""

from __future__ import annotations

from handlers.ids import parse_id
from handlers.router import Request, UsageError
from jobs.core.reply import Block, Reply
from jobs.health.posting import fix_for, reason_of
from jobs.outbox.failed import drop_failed, failed_posts, retry_failed

SHOWN = 20


def outbox(request: Request) -> Reply:
    """List the posts that failed for good, or retry or drop them."""
    engine = request.context.engine
    if not request.args:
        failed = failed_posts(engine, SHOWN)
        if not failed:
            return Reply.text("No post has failed for good.", title="Outbox")
        blocks = [
            Block(
                text=f"#{post.id} {post.kind} to {post.target}: {reason_of(post.error)}"
                f" — fix: {fix_for(post.error)}"
            )
            for post in failed
        ]
        return Reply(
            title=f"Outbox: {len(failed)}{'+' if len(failed) == SHOWN else ''} failed for good",
            blocks=blocks,
            note="/outbox retry <id|all> sends again; /outbox drop <id|all> lets go",
            status="error",
        )
    if len(request.args) != 2 or request.args[0] not in ("retry", "drop"):
        raise UsageError("say /outbox, /outbox retry <id|all> or /outbox drop <id|all>")
    action, which = request.args
    post_id = None if which == "all" else parse_id(which, "post")
    moved = (retry_failed if action == "retry" else drop_failed)(engine, post_id)
    if not moved:
        return Reply.text(f"No failed post {'' if post_id is None else f'#{post_id} '}to {action}.")
    posts = "1 post" if moved == 1 else f"{moved} posts"
    done = "back in the outbox, sent on the next pass" if action == "retry" else "dropped"
    return Reply(title="Outbox", blocks=[Block(text=f"{posts} {done}.")], status="ok")
