"""New, open and fixed: one commit's findings against the base review's (SARIF's
baselineState idea, as GitHub code scanning and Qodana use it).

Findings are matched by identity (path | category | normalized message), never by
line, as a multiset: two identical findings in one file are two, paired with the
base's in line order. A file git saw renamed carries its findings' identities to its
new path, so a rename alone changes nothing. Pure logic: no git, no database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from jobs.review.finding import Finding, finding_identity, identity_fingerprint

Handle = TypeVar("Handle")


@dataclass(frozen=True)
class Earlier(Generic[Handle]):
    """A finding open in the base review; `handle` is the caller's (a row id)."""

    handle: Handle
    path: str  # its path at the base commit
    category: str
    message: str
    line: int


@dataclass(frozen=True)
class Now:
    """A finding at the head commit with its fingerprint (identity and ordinal)."""

    finding: Finding
    fingerprint: str


@dataclass
class Comparison(Generic[Handle]):
    still_open: list[tuple[Now, Earlier[Handle]]] = field(default_factory=list)
    new: list[Now] = field(default_factory=list)
    # Open at the base, not found at head; each with its path at head (renames applied).
    gone: list[tuple[Earlier[Handle], str]] = field(default_factory=list)


def compare(
    head: Sequence[Finding],
    base: Sequence[Earlier[Handle]],
    renamed: Mapping[str, str] | None = None,
) -> Comparison[Handle]:
    """Pair head findings with base ones; `renamed` maps old paths to new ones."""
    renamed = renamed or {}
    head_groups: dict[str, list[Finding]] = defaultdict(list)
    for finding in head:
        head_groups[finding_identity(finding.path, finding.category, finding.message)].append(
            finding
        )
    base_groups: dict[str, list[tuple[Earlier[Handle], str]]] = defaultdict(list)
    for earlier in base:
        path = renamed.get(earlier.path, earlier.path)
        identity = finding_identity(path, earlier.category, earlier.message)
        base_groups[identity].append((earlier, path))
    result: Comparison[Handle] = Comparison()
    for identity, findings in head_groups.items():
        findings.sort(key=lambda f: (f.line, f.end_line or f.line, f.source))
        earlier_ones = sorted(base_groups.pop(identity, []), key=lambda item: item[0].line)
        for ordinal, finding in enumerate(findings):
            now = Now(finding, identity_fingerprint(identity, ordinal))
            if ordinal < len(earlier_ones):
                result.still_open.append((now, earlier_ones[ordinal][0]))
            else:
                result.new.append(now)
        result.gone += earlier_ones[len(findings) :]
    for leftovers in base_groups.values():
        result.gone += leftovers
    return result
