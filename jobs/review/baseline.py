"""New, open and fixed: one commit's findings against the base review's (SARIF's
baselineState idea, as GitHub code scanning and Qodana use it).

Findings are matched by identity (path | category | normalized message), never by
line, as a multiset: two identical findings in one file are two, paired with the
base's in line order. A file git saw renamed carries its findings' identities to its
new path, so a rename alone changes nothing. Pure logic: no git, no database.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
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
    moved: Callable[[str, int], int | None] | None = None,
) -> Comparison[Handle]:
    """Pair head findings with base ones; `renamed` maps old paths to new ones.

    Within a group of identical findings, a base finding whose line `moved(path at
    head, base line)` lands exactly on a head finding's line is that finding (so
    fixing the first of two keeps the second's row, and its feedback); the rest
    pair up in line order."""
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
        findings.sort(key=lambda f: (f.cell or 0, f.line, f.end_line or f.line, f.source))
        earlier_ones = sorted(base_groups.pop(identity, []), key=lambda item: item[0].line)
        pairs = _pair(findings, earlier_ones, moved)
        for ordinal, finding in enumerate(findings):
            now = Now(finding, identity_fingerprint(identity, ordinal))
            if ordinal in pairs:
                result.still_open.append((now, pairs[ordinal][0]))
            else:
                result.new.append(now)
        taken = {id(item) for item in pairs.values()}
        result.gone += [item for item in earlier_ones if id(item) not in taken]
    for leftovers in base_groups.values():
        result.gone += leftovers
    return result


def _pair(
    findings: list[Finding],
    earlier_ones: list[tuple[Earlier[Handle], str]],
    moved: Callable[[str, int], int | None] | None,
) -> dict[int, tuple[Earlier[Handle], str]]:
    """head index → the base finding it is: first by moved line, then in line order.

    Each base finding's line at head is computed once and indexed, so a group of
    20,000 identical findings pairs in linear time (a scan of the free ones for every
    head finding was quadratic where lines moved: a line inserted above them)."""
    pairs: dict[int, tuple[Earlier[Handle], str]] = {}
    taken: set[int] = set()
    if moved is not None and len(findings) + len(earlier_ones) > 2:
        landing: dict[int | None, deque[int]] = defaultdict(deque)
        for position, (earlier, path) in enumerate(earlier_ones):  # in line order
            landing[moved(path, earlier.line)].append(position)
        for index, finding in enumerate(findings):
            waiting = landing.get(finding.line)
            if waiting:
                position = waiting.popleft()
                pairs[index] = earlier_ones[position]
                taken.add(position)
    free = [item for position, item in enumerate(earlier_ones) if position not in taken]
    unpaired = [index for index in range(len(findings)) if index not in pairs]
    for index, item in zip(unpaired, free, strict=False):
        pairs[index] = item
    return pairs
