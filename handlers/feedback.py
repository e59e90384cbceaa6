"""Feedback buttons: `fb:<finding id>:<verdict code>` (h, n, fp, r; u takes a false
positive back).

A payload proves nothing by itself: ids are sequential and anyone can send any
callback data. A press counts only when this chat was shown the finding's buttons
(a `finding_posts` row written when the reply was made or posted) and the caller may
see the finding's repository on their platform. Everything else is refused with
nothing recorded and no finding text in the answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.access import Caller, Role
from handlers.ids import parse_id
from handlers.router import Request, UsageError
from jobs.config.schema import Config
from jobs.core.reply import Block, Reply
from jobs.review.code_view import code_view
from jobs.review.feedback import (
    OPEN_CODE,
    UNDO_CODE,
    VERDICT_CODES,
    Mark,
    UnknownFinding,
    finding_ids_in,
    mark_shown,
    marks,
    record_feedback,
    undo_false_positive,
    was_shown,
)
from jobs.review.history import finding_state, load_review, review_commit, served_review_id
from jobs.review.post import counts_block
from jobs.review.replies import VERDICT_LABELS, finding_block, marks_text, suppressed_block
from jobs.review.result import ReviewResult
from storage.db import session_scope
from storage.models import Finding

LOCAL_PREFIX = "local:"
NOT_SHOWN_HERE = (
    "That button is not for a finding opsdesk showed in this chat, or its finding is gone; "
    "nothing was recorded."
)


def shown_where(caller: Caller) -> str:
    """The chat a reply goes to: `slack:C0123`, `telegram:-100123`, `console:local`."""
    return caller.chat or caller.principal


def remember_shown(request: Request, reply: Reply) -> Reply:
    """Record that the caller's chat now shows this reply's findings with buttons."""
    mark_shown(request.context.engine, shown_where(request.caller), finding_ids_in(reply))
    return reply


def repo_visible(config: Config, repo: str, platform: str) -> bool:
    """Chat platforms see configured repositories only; the local console sees all,
    local paths included."""
    if platform == "console":
        return True
    return not repo.startswith(LOCAL_PREFIX) and config.repo(repo) is not None


def press_feedback(request: Request) -> Reply:
    """Record the caller's verdict on a finding and show who marked what."""
    args = request.args
    try:
        if len(args) != 2:
            raise UsageError("wrong number of parts")
        finding_id, code = parse_id(args[0], "finding id"), args[1]
    except UsageError:
        return Reply.error("That feedback button is malformed; nothing was recorded.")
    if code not in VERDICT_CODES and code not in (UNDO_CODE, OPEN_CODE):
        return Reply.error("That feedback button has an unknown verdict; nothing was recorded.")
    refusal = refusal_for(request, finding_id)
    if refusal is not None:
        return refusal
    if code == UNDO_CODE:
        return _undo(request, finding_id)
    if code == OPEN_CODE:
        return _opened(request, finding_id)
    return _mark(request, finding_id, VERDICT_CODES[code])


def refusal_for(request: Request, finding_id: int) -> Reply | None:
    """Why this caller may not press a button of this finding here, if they may not."""
    context, caller = request.context, request.caller
    with session_scope(context.engine) as session:
        finding = session.get(Finding, finding_id)
        repo = finding.repo if finding is not None else None
    if repo is None:
        return Reply.refused(NOT_SHOWN_HERE)  # the same answer as for a real id: no probing
    if not repo_visible(context.config, repo, caller.platform):
        return Reply.refused(
            f"That finding's repository is not available on {caller.platform}; "
            "nothing was recorded."
        )
    if not was_shown(context.engine, finding_id, shown_where(caller)):
        return Reply.refused(NOT_SHOWN_HERE)
    return None


def _mark(request: Request, finding_id: int, verdict: str) -> Reply:
    context, caller = request.context, request.caller
    who = caller.shown_name
    try:
        result = record_feedback(context.engine, finding_id, caller.principal, verdict, who)
    except UnknownFinding:
        return Reply.refused(NOT_SHOWN_HERE)
    note = f"You marked it {VERDICT_LABELS[verdict]}"
    if verdict == "false_positive":
        note += ": it will not be reported again in this repository (Undo takes it back)"
    state = finding_state(context.engine, result.finding)
    block = _redrawn(request, result.finding, state, result.marks)
    blocks = [block, *_counts(request, result.finding.repo)]
    return remember_shown(request, Reply(title="Feedback recorded", blocks=blocks, note=note))


def _opened(request: Request, finding_id: int) -> Reply:
    """The finding with its verdict buttons (a keyboard that showed one *Feedback*
    button for it draws them in its place); nothing is recorded."""
    with session_scope(request.context.engine) as session:
        finding = session.get(Finding, finding_id)
        standing = marks(session, finding_id)
    if finding is None:
        return Reply.refused(NOT_SHOWN_HERE)
    state = finding_state(request.context.engine, finding)
    block = _redrawn(request, finding, state, standing)
    return Reply(title="Feedback", blocks=[block], note="Choose a verdict for this finding")


def _undo(request: Request, finding_id: int) -> Reply:
    caller = request.caller
    who = caller.shown_name
    try:
        result = undo_false_positive(
            request.context.engine, finding_id, caller.principal, request.role >= Role.ADMIN
        )
    except UnknownFinding:
        return Reply.refused(NOT_SHOWN_HERE)
    except PermissionError:
        return Reply.refused(
            "Only an admin or the person who marked it can undo a false positive; "
            "nothing was changed."
        )
    state = finding_state(request.context.engine, result.finding)
    block = _redrawn(request, result.finding, state, result.marks)
    counts = _counts(request, result.finding.repo)
    if not result.removed:
        note = "No false positive stood on this finding; nothing was changed"
    elif result.still_suppressed:
        note = f"{who} took back their false positive; another still stands: " + marks_text(
            [m for m in result.marks if m.verdict == "false_positive"]
        )
    else:
        note = f"False positive undone by {who}: the finding is reported again"
    reply = Reply(title="Feedback undone", blocks=[block, *counts], note=note)
    return remember_shown(request, reply)


def _counts(request: Request, repo: str) -> list[Block]:
    """The counts line of the repository's last review, recomputed: a message showing
    that review redraws it with the press (others have no block of its key)."""
    engine = request.context.engine
    stored = load_review(engine, served_review_id(engine, repo) or 0)
    if stored is None:
        return []
    return [counts_block(ReviewResult(stored, cache_hit=False, duration_ms=0))]


def _redrawn(request: Request, finding: Finding, state: str, marks: Sequence[Mark]) -> Block:
    """The finding as it stands after the press: folded while a false positive stands
    on it, else with its buttons; its link and code at the commit last reviewed."""
    context = request.context
    commit = review_commit(context.engine, finding.last_review_id)
    view = code_view(context, finding.repo, commit, [finding])
    if state != "fixed" and any(mark.verdict == "false_positive" for mark in marks):
        return suppressed_block(finding, marks, view)
    return finding_block(finding, state=state, marks=marks, view=view)


# Exactly what finding blocks write: `fb:<finding id>:<verdict code>`, ASCII digits.
