"""Feedback on findings: one verdict per user per finding, the latest counts.

A false_positive suppresses the finding's fingerprint in its repository from then
on; suppression is derived from these rows, never copied elsewhere.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.db import session_scope
from storage.models import Feedback, Finding, utcnow

VERDICTS = ("helpful", "not_helpful", "false_positive", "resolved")
# Short codes keep button payloads (`fb:<finding id>:<code>`) inside Telegram's 64 bytes.
VERDICT_CODES = {"h": "helpful", "n": "not_helpful", "fp": "false_positive", "r": "resolved"}
CODE_OF = {verdict: code for code, verdict in VERDICT_CODES.items()}


class UnknownFinding(LookupError):
    pass


@dataclass(frozen=True)
class FeedbackResult:
    finding: Finding
    verdict: str
    previous: str | None  # the user's earlier verdict on this finding, if any
    tally: dict[str, int]  # verdict → users, for this finding


def record_feedback(engine: Engine, finding_id: int, user: str, verdict: str) -> FeedbackResult:
    """Set `user`'s verdict on a finding (insert or replace; a repeat changes nothing)."""
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}; one of {', '.join(VERDICTS)}")
    for _attempt in range(2):  # a concurrent first vote by the same user: retry as update
        try:
            with session_scope(engine) as session:
                finding = session.get(Finding, finding_id)
                if finding is None:
                    raise UnknownFinding(f"finding {finding_id} does not exist (any more)")
                row = session.exec(
                    select(Feedback).where(Feedback.finding_id == finding_id, Feedback.user == user)
                ).first()
                previous = row.verdict if row else None
                if row is None:
                    session.add(Feedback(finding_id=finding_id, user=user, verdict=verdict))
                elif row.verdict != verdict:
                    row.verdict, row.updated_at = verdict, utcnow()
                    session.add(row)
                session.flush()
                tally = _tally(session, finding_id)
            return FeedbackResult(finding, verdict, previous, tally)
        except IntegrityError:
            continue
    raise RuntimeError("could not record feedback after a concurrent update")


def _tally(session: Session, finding_id: int) -> dict[str, int]:
    verdicts = session.exec(select(Feedback.verdict).where(Feedback.finding_id == finding_id))
    return dict(Counter(verdicts.all()))


def suppressed_fingerprints(session: Session, repo: str) -> set[str]:
    """Fingerprints someone marked false positive in this repository (their latest
    verdict); findings with them are counted, not shown."""
    rows = session.exec(
        select(Finding.fingerprint)
        .join(Feedback, col(Feedback.finding_id) == col(Finding.id))
        .where(Finding.repo == repo, Feedback.verdict == "false_positive")
    )
    return set(rows.all())


def user_verdict(session: Session, finding_id: int, user: str) -> str | None:
    return session.exec(
        select(Feedback.verdict).where(Feedback.finding_id == finding_id, Feedback.user == user)
    ).first()
