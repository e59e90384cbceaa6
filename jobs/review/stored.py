"""A review and its findings as storage gives them back: the `StoredReview` every
caller reads (chat, `--json`, the runner, the post), each finding as that review
reported it (`ReviewedFinding`) and the order they are shown in."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from jobs.review.budget import SkippedFile
from jobs.review.feedback import Mark
from jobs.review.finding import Finding as ReportedFinding
from storage.models import Finding

# A branch review is stored under "branch:<repo>", apart from the repository's chain
# (branch_store.py); readers that count a repository's own reviews leave these out.
BRANCH_PREFIX = "branch:"

# Display order: what is new first, then what is still open, then what was fixed.
STATE_ORDER = {"new": 0, "open": 1, "fixed": 2, "suppressed": 3, "muted": 4}


SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


class At(NamedTuple):
    """Where a finding stood in one review: its line, and in a notebook its cell."""

    line: int
    cell: int | None = None


def at_of(found: ReportedFinding) -> At:
    return At(found.line, found.cell)


@dataclass(frozen=True)
class ReviewedFinding:
    """A finding as one review reported it. `status` is its state in that review:
    new | open | fixed, or suppressed when a false positive stands on it now, or muted
    when its rule is muted in its repository now."""

    id: int
    fingerprint: str
    path: str
    line: int
    cell: int | None  # the notebook cell `line` counts in (ruff's), None in other files
    end_line: int | None
    severity: str
    category: str
    message: str
    suggestion: str | None
    source: str
    column: int | None
    rule_name: str | None
    rule_url: str | None
    status: str

    def to_json(self) -> dict[str, Any]:
        """As `opsdesk review --json` and `opsdesk findings --json` print it."""
        return {
            "id": self.id,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "cell": self.cell,
            "severity": self.severity,
            "category": self.category,
            "rule_name": self.rule_name,
            "rule_url": self.rule_url,
            "message": self.message,
            "suggestion": self.suggestion,
            "source": self.source,
            "status": self.status,
        }

    def as_row(self) -> Finding:
        """A detached storage row, for the shared rendering (`finding_block`)."""
        status = "fixed" if self.status == "fixed" else "open"
        return Finding(repo="", **(asdict(self) | {"status": status}))


def sort_findings(findings: Iterable[ReviewedFinding]) -> list[ReviewedFinding]:
    return sorted(
        findings,
        key=lambda f: (
            STATE_ORDER[f.status],
            SEVERITY_ORDER.get(f.severity, 3),
            f.path,
            f.cell or 0,
            f.line,
        ),
    )


@dataclass(frozen=True)
class StoredReview:
    row: dict[str, Any]  # the reviews row's columns
    findings: tuple[ReviewedFinding, ...]  # sorted; suppressed left out
    suppressed: tuple[ReviewedFinding, ...] = ()  # false positives now, counted only
    marks: dict[int, tuple[Mark, ...]] = field(default_factory=dict)  # finding id → who marked what
    muted: tuple[ReviewedFinding, ...] = ()  # of a rule muted in the repository now, counted only

    @property
    def id(self) -> int:
        return int(self.row["id"])

    @property
    def counts(self) -> dict[str, int]:
        """new / open / fixed / suppressed / muted as derived now: they add up to what is
        listed."""
        tally = Counter(f.status for f in self.findings)
        return {
            "new": tally["new"],
            "open": tally["open"],
            "fixed": tally["fixed"],
            "suppressed": len(self.suppressed),
            "muted": len(self.muted),
        }

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(json.loads(self.row.get("notes") or "[]"))

    @property
    def skipped_files(self) -> tuple[SkippedFile, ...]:
        return skipped_from_json(self.row["skipped_files"])


def skipped_from_json(text: str) -> tuple[SkippedFile, ...]:
    return tuple(SkippedFile(s["path"], s["reason"]) for s in json.loads(text))
