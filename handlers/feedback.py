"""Feedback buttons: `fb:<finding id>:<verdict code>`."""

from __future__ import annotations

from handlers.ids import parse_id
from handlers.router import Action, Request
from jobs.feedback import VERDICT_CODES, UnknownFinding, record_feedback
from jobs.reply import Reply
from jobs.review.view import VERDICT_LABELS, finding_block


def press_feedback(request: Request) -> Reply:
    """Record the caller's verdict on a finding and show it on the finding."""
    if len(request.args) != 2:
        return Reply.error("That feedback button is malformed.")
    finding_id, code = parse_id(request.args[0], "finding id"), request.args[1]
    verdict = VERDICT_CODES.get(code)
    if verdict is None:
        return Reply.error(f"Unknown verdict {code!r} on that button.")
    try:
        result = record_feedback(
            request.services.engine, finding_id, request.caller.principal, verdict
        )
    except UnknownFinding as exc:
        return Reply.error(f"That finding is gone: {exc}.")
    label = VERDICT_LABELS[verdict]
    counts = ", ".join(f"{VERDICT_LABELS[v]} {n}" for v, n in sorted(result.tally.items()))
    note = f"{request.caller.name or request.caller.principal}: {label}"
    if verdict == "false_positive":
        note += " — this finding will not be reported again in this repository"
    block = finding_block(result.finding, chosen=verdict)
    block.text += f"\nFeedback: {counts}"
    return Reply(title="Feedback recorded", blocks=[block], note=note)


ACTIONS = [Action("fb", press_feedback)]
