"""How one finding looks in a reply: its text and its four feedback buttons."""

from __future__ import annotations

from jobs.feedback import CODE_OF
from jobs.reply import Block, Button
from storage.models import Finding

SEVERITY_ICON = {"error": "🔴", "warning": "🟠", "info": "🔵"}
VERDICT_LABELS = {
    "helpful": "Helpful",
    "not_helpful": "Not helpful",
    "false_positive": "False positive",
    "resolved": "Resolved",
}


def finding_key(finding_id: int) -> str:
    return f"finding:{finding_id}"


def finding_block(finding: Finding, chosen: str | None = None, state: str = "") -> Block:
    """A finding with feedback buttons; the chosen verdict is ticked."""
    assert finding.id is not None
    where = f"{finding.path}:{finding.line}"
    tag = f" [{state}]" if state and state != "open" else ""
    text = (
        f"{SEVERITY_ICON.get(finding.severity, '•')} {where} {finding.category}{tag} — "
        f"{finding.message}"
    )
    if finding.suggestion:
        text += f"\nSuggestion: {finding.suggestion}"
    buttons = [
        Button(
            label=("✓ " if verdict == chosen else "") + label,
            payload=f"fb:{finding.id}:{CODE_OF[verdict]}",
            style="danger" if verdict == "false_positive" else "default",
        )
        for verdict, label in VERDICT_LABELS.items()
    ]
    return Block(text=text, buttons=buttons, key=finding_key(finding.id))
