"""Rules a team mutes in a repository, and which findings a reply leaves out.

A false positive hides one finding; a muted rule hides every finding of that rule in
the repository ("we don't follow SIM105 here"). Both are derived when a reply is made,
on every path — a cached review, a fresh one, `/findings`, the digest, `/metrics` —
never copied into a review. A finding is in exactly one of three places: open
(listed), suppressed (someone marks it false positive) or muted (its rule is); a
muted rule wins, so the three add up to the open findings the linters report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from jobs.review.feedback import FEEDBACK
from storage.models import Finding, RuleMute

RULE_MUTES = RuleMute.__table__  # type: ignore[attr-defined]
FINDINGS = Finding.__table__  # type: ignore[attr-defined]

# What a rule code looks like across linters: F401, SIM105, SC2086, E0602,
# no-unused-vars, ruff:F401 — bounded, no spaces or markup.
RULE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}")
STANDINGS = ("open", "suppressed", "muted")


@dataclass(frozen=True)
class MutedRule:
    """A rule muted in a repository: who muted it and when."""

    repo: str
    rule: str
    by: str  # a display name, else the principal
    at: datetime


def _muted(row: Any) -> MutedRule:
    return MutedRule(str(row.repo), str(row.rule), str(row.muted_by_name or row.muted_by),
                     row.muted_at)  # fmt: skip


def muted_rules(engine: Engine, repo: str) -> list[MutedRule]:
    """The rules muted in `repo`, oldest first."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(RULE_MUTES).where(RULE_MUTES.c.repo == repo).order_by(RULE_MUTES.c.id)
        ).all()
    return [_muted(row) for row in rows]


def _mute_of(engine: Engine, repo: str, rule: str) -> MutedRule | None:
    """The mute standing on `rule` in `repo` (rule codes compared in any case)."""
    with engine.connect() as connection:
        row = connection.execute(
            select(RULE_MUTES).where(
                RULE_MUTES.c.repo == repo, func.lower(RULE_MUTES.c.rule) == rule.lower()
            )
        ).first()
    return None if row is None else _muted(row)


def _spelling(engine: Engine, repo: str, rule: str) -> str:
    """The rule as the repository's findings spell it (`f401` → `F401`), else as given."""
    with engine.connect() as connection:
        known = connection.execute(
            select(FINDINGS.c.category)
            .where(FINDINGS.c.repo == repo, func.lower(FINDINGS.c.category) == rule.lower())
            .limit(1)
        ).scalar()
    return rule if known is None else str(known)


def mute_rule(
    engine: Engine, repo: str, rule: str, *, principal: str, name: str, at: datetime
) -> tuple[MutedRule, bool]:
    """Mute `rule` in `repo`; the mute and whether this call made it (False: it stood
    already, with whoever muted it first)."""
    if RULE_CODE.fullmatch(rule) is None:
        raise ValueError(f"{rule[:40]!r} is not a rule code")
    standing = _mute_of(engine, repo, rule)
    if standing is not None:
        return standing, False
    spelled = _spelling(engine, repo, rule)
    row = {"repo": repo, "rule": spelled, "muted_by": principal,
           "muted_by_name": name[:100] or None, "muted_at": at}  # fmt: skip
    try:
        with engine.begin() as connection:
            connection.execute(RULE_MUTES.insert().values(**row))
    except IntegrityError:  # muted by someone else at the same moment
        standing = _mute_of(engine, repo, rule)
        assert standing is not None
        return standing, False
    return MutedRule(repo, spelled, name or principal, at), True


def unmute_rule(engine: Engine, repo: str, rule: str) -> MutedRule | None:
    """Take the mute of `rule` in `repo` back; the mute that stood, or None."""
    standing = _mute_of(engine, repo, rule)
    if standing is not None:
        with engine.begin() as connection:
            connection.execute(
                delete(RULE_MUTES).where(
                    RULE_MUTES.c.repo == repo, RULE_MUTES.c.rule == standing.rule
                )
            )
    return standing


def false_positive_ids() -> Any:
    """Findings someone marks false positive now (feedback as it stands)."""
    return select(FEEDBACK.c.finding_id).where(FEEDBACK.c.verdict == "false_positive")


def muted_finding_ids(among: Any = None) -> Any:
    """Findings whose rule is muted in their repository now; `among` (a select of
    finding ids) narrows it to those."""
    muted = FINDINGS.alias("muted_finding")
    query = select(muted.c.id).join(
        RULE_MUTES,
        and_(
            RULE_MUTES.c.repo == muted.c.repo,
            func.lower(RULE_MUTES.c.rule) == func.lower(muted.c.category),
        ),
    )
    return query if among is None else query.where(muted.c.id.in_(among))


def standing(kind: str) -> Any:
    """The condition on `findings` for one of STANDINGS: open (neither marked false
    positive nor muted), suppressed (marked, its rule not muted) or muted."""
    marked = FINDINGS.c.id.in_(false_positive_ids())
    muted = FINDINGS.c.id.in_(muted_finding_ids())
    if kind == "muted":
        return muted
    if kind == "suppressed":
        return and_(marked, ~muted)
    if kind == "open":
        return and_(~marked, ~muted)
    raise ValueError(f"unknown standing {kind!r}")
