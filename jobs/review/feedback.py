"""Feedback on findings: one verdict per user per finding, the latest counts.

A false_positive suppresses the finding in its repository from then on (a finding is
one fingerprint in one repository); suppression is derived from these rows when a
reply is made, never copied elsewhere. `finding_posts` records where a finding was
shown with its buttons: a press counts only in a chat that was shown the finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, delete, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from sqlmodel import select as sm_select

from jobs.core.reply import Reply
from storage.db import session_scope
from storage.models import Feedback, Finding, FindingPost, utcnow

VERDICTS = ("helpful", "not_helpful", "false_positive", "resolved")
# Short codes keep button payloads (`fb:<finding id>:<code>`) inside Telegram's 64 bytes.
VERDICT_CODES = {"h": "helpful", "n": "not_helpful", "fp": "false_positive", "r": "resolved"}
CODE_OF = {verdict: code for code, verdict in VERDICT_CODES.items()}
UNDO_CODE = "u"  # `fb:<finding id>:u` takes a false positive back
OPEN_CODE = "v"  # `fb:<finding id>:v` shows the finding's verdict buttons (records nothing)

FEEDBACK = Feedback.__table__  # type: ignore[attr-defined]
POSTS = FindingPost.__table__  # type: ignore[attr-defined]


class UnknownFinding(LookupError):
    pass


@dataclass(frozen=True)
class Mark:
    """One user's standing verdict on a finding, with the name they had then."""

    verdict: str
    by: str  # a display name, else the principal


@dataclass(frozen=True)
class FeedbackResult:
    finding: Finding
    verdict: str
    marks: tuple[Mark, ...]  # every user's verdict on this finding, oldest first


def record_feedback(
    engine: Engine, finding_id: int, user: str, verdict: str, user_name: str = ""
) -> FeedbackResult:
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
                    sm_select(Feedback).where(
                        Feedback.finding_id == finding_id, Feedback.user == user
                    )
                ).first()
                if row is None:
                    row = Feedback(finding_id=finding_id, user=user, verdict=verdict)
                elif row.verdict != verdict:
                    row.verdict, row.updated_at = verdict, utcnow()
                row.user_name = user_name[:100] or row.user_name
                session.add(row)
                session.flush()
                found = marks(session, finding_id)
            return FeedbackResult(finding, verdict, found)
        except IntegrityError:
            continue
    raise RuntimeError("could not record feedback after a concurrent update")


@dataclass(frozen=True)
class UndoResult:
    finding: Finding
    removed: int  # false-positive verdicts taken back
    still_suppressed: bool  # someone else's false positive still stands
    marks: tuple[Mark, ...]


def undo_false_positive(engine: Engine, finding_id: int, user: str, admin: bool) -> UndoResult:
    """Take back false positives on a finding: an admin takes back everyone's, anyone
    else only their own. Raises PermissionError when there is nothing of theirs."""
    with session_scope(engine) as session:
        finding = session.get(Finding, finding_id)
        if finding is None:
            raise UnknownFinding(f"finding {finding_id} does not exist (any more)")
        condition = and_(
            FEEDBACK.c.finding_id == finding_id, FEEDBACK.c.verdict == "false_positive"
        )
        if not admin:
            condition = and_(condition, FEEDBACK.c.user == user)
        removed = session.execute(delete(FEEDBACK).where(condition)).rowcount or 0  # type: ignore[attr-defined]
        if not removed and not admin:
            raise PermissionError("only an admin or the person who marked it can undo this")
        session.flush()
        found = marks(session, finding_id)
    still = any(m.verdict == "false_positive" for m in found)
    return UndoResult(finding, removed, still, found)


def marks(session: Session, finding_id: int) -> tuple[Mark, ...]:
    rows = session.exec(
        sm_select(Feedback).where(Feedback.finding_id == finding_id).order_by(Feedback.id)  # type: ignore[arg-type]
    ).all()
    return tuple(Mark(row.verdict, row.user_name or row.user) for row in rows)


def marks_of(connection: Connection, finding_ids: Sequence[int]) -> dict[int, tuple[Mark, ...]]:
    """Every listed finding's marks, in one query."""
    if not finding_ids:
        return {}
    rows = connection.execute(
        select(FEEDBACK.c.finding_id, FEEDBACK.c.verdict, FEEDBACK.c.user_name, FEEDBACK.c.user)
        .where(FEEDBACK.c.finding_id.in_(list(finding_ids)))
        .order_by(FEEDBACK.c.id)
    ).all()
    found: dict[int, list[Mark]] = {}
    for finding_id, verdict, name, user in rows:
        found.setdefault(int(finding_id), []).append(Mark(str(verdict), str(name or user)))
    return {key: tuple(value) for key, value in found.items()}


# -- Where findings were shown ----------------------------------------------------------

FINDING_KEY_PREFIX = "finding:"


def finding_key(finding_id: int) -> str:
    return f"{FINDING_KEY_PREFIX}{finding_id}"


def finding_id_of(key: str | None) -> int | None:
    """The finding a block shows, from its key; None for other blocks."""
    if key is None or not key.startswith(FINDING_KEY_PREFIX):
        return None
    rest = key.removeprefix(FINDING_KEY_PREFIX)
    return int(rest) if rest.isdigit() else None


def finding_ids_in(reply: Reply) -> list[int]:
    """The findings a reply shows with buttons, in order: where a press can come from."""
    ids = [finding_id_of(block.key) for block in reply.blocks if block.buttons]
    return [i for i in ids if i is not None]


def record_shown(engine: Engine, chat: str, reply: Reply) -> None:
    """`reply` reached `chat`: the chat now shows its findings with their buttons, and
    a press of one of them there counts. Called once the post is delivered, never
    when it is made: a post that never reaches the chat gives it no buttons."""
    mark_shown(engine, chat, finding_ids_in(reply))


@dataclass(frozen=True)
class Placement:
    """A finding's place in one sent message: its paragraph and its row name (#n)."""

    finding_id: int
    paragraph: int
    number: int


def mark_shown(engine: Engine, chat: str, finding_ids: Iterable[int]) -> None:
    """Record that `chat` was shown these findings with their buttons."""
    ids = list(dict.fromkeys(finding_ids))
    if not ids:
        return
    with engine.begin() as connection:
        known = {
            int(row[0])
            for row in connection.execute(
                select(POSTS.c.finding_id).where(
                    POSTS.c.chat == chat,
                    POSTS.c.message_ref.is_(None),
                    POSTS.c.finding_id.in_(ids),
                )
            )
        }
        new = [{"finding_id": i, "chat": chat, "shown_at": utcnow()} for i in ids if i not in known]
        if new:
            connection.execute(POSTS.insert(), new)


def record_message(
    engine: Engine, chat: str, message_ref: str, placements: Sequence[Placement]
) -> None:
    """Record the message a platform returned for findings it now shows."""
    if not placements:
        return
    now = utcnow()
    where = {"chat": chat, "message_ref": message_ref, "shown_at": now}
    rows = [
        {"finding_id": p.finding_id, "paragraph": p.paragraph, "number": p.number, **where}
        for p in placements
    ]
    with engine.begin() as connection:
        connection.execute(POSTS.insert(), rows)


def was_shown(engine: Engine, finding_id: int, chat: str) -> bool:
    with engine.connect() as connection:
        row = connection.execute(
            select(POSTS.c.id)
            .where(POSTS.c.finding_id == finding_id, POSTS.c.chat == chat)
            .limit(1)
        ).first()
    return row is not None


def placement(engine: Engine, chat: str, message_ref: str, finding_id: int) -> Placement | None:
    """Where in that message the finding is, as recorded when it was sent."""
    with engine.connect() as connection:
        row = connection.execute(
            select(POSTS.c.paragraph, POSTS.c.number)
            .where(
                POSTS.c.chat == chat,
                POSTS.c.message_ref == message_ref,
                POSTS.c.finding_id == finding_id,
            )
            .order_by(POSTS.c.id.desc())
            .limit(1)
        ).first()
    if row is None or row[0] is None:
        return None
    return Placement(finding_id, int(row[0]), int(row[1] or 0))
