"""Turn a model's answer into validated findings, salvaging what can be salvaged.

Models wrap JSON in code fences, add prose around it, or stop mid-list when they
run out of tokens. Each finding is validated on its own, so one bad item does not
cost the good ones; findings placed outside the diff are dropped and counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError, field_validator

from jobs.core import bounded_json
from jobs.core.bounded_json import decode, scan
from jobs.review.diff import FileDiff
from jobs.review.finding import Finding, Severity
from jobs.review.reviewers import ReviewerError

_FENCE = re.compile(r"```[a-zA-Z]*\s*\n(.*?)```", re.DOTALL)
# The words models use for a severity, by the severity they mean.
_WORDS_FOR: dict[Severity, str] = {
    "error": "error critical high blocker major",
    "warning": "warning warn medium",
    "info": "info low minor note suggestion",
}
_SEVERITY_WORDS = {
    word: severity for severity, words in _WORDS_FOR.items() for word in words.split()
}


class ModelFinding(BaseModel):
    """One finding as a model writes it (lenient where leniency is harmless)."""

    path: str
    line: int
    end_line: int | None = None
    severity: Severity = "warning"
    category: str = "general"
    message: str
    suggestion: str | None = None

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Any:
        return _SEVERITY_WORDS.get(str(value).strip().lower(), value)

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, value: Any) -> Any:
        return str(value).strip().lower() or "general" if value is not None else "general"

    def to_finding(self, source: str) -> Finding:
        path = self.path.strip().removeprefix("./")
        end = self.end_line if self.end_line and self.end_line > self.line else None
        return Finding(
            path=path,
            line=self.line,
            end_line=end,
            severity=self.severity,
            category=self.category,
            message=self.message.strip(),
            suggestion=(self.suggestion or "").strip() or None,
            source=source,
        )


def _objects_in(text: str) -> Iterable[Any]:
    """Every JSON value that decodes at a "{" or "[" in the text, outermost first
    (what lies inside a value that decoded is part of it). One pass finds the spans;
    each is decoded at most once, so the cost is linear in the text (times the
    bounded nesting). Raises TooDeep."""
    decoded_until = -1
    for span in scan(text):
        if span.start < decoded_until:
            continue  # inside a value already yielded
        ok, value = decode(text, span)
        if ok:
            yield value
            decoded_until = span.end


def extract_json(text: str) -> Any | None:
    """The answer's JSON: the whole text, a fenced block, or the first JSON object
    inside prose. None when there is none. Raises TooDeep."""
    candidates = [text.strip(), *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for candidate in candidates:
        try:
            return bounded_json.loads(candidate)
        except bounded_json.TooDeep:
            raise
        except ValueError:
            continue
    for value in _objects_in(text):
        if isinstance(value, dict):
            return value
    return None


def ends_early(text: str) -> bool:
    """True when the answer's JSON starts but never closes (the model ran out of
    tokens mid-answer), as opposed to prose or braces that are not JSON at all."""
    body = text.strip()
    try:
        spans = scan(body)
    except bounded_json.TooDeep:
        return False
    for span in spans:
        if span.end < 0:
            return True
        if decode(body, span)[0]:
            return False
    return False


def _finding_items(text: str) -> list[Any]:
    answer = extract_json(text)
    if isinstance(answer, dict) and isinstance(answer.get("findings"), list):
        return list(answer["findings"])
    if isinstance(answer, list):
        return answer
    # A broken answer: collect every object that looks like a finding.
    salvaged = [v for v in _objects_in(text) if isinstance(v, dict) and "path" in v]
    if salvaged:
        return salvaged
    if isinstance(answer, dict) and not answer.get("findings"):
        return []  # e.g. {"findings": null} or {}: the model found nothing
    raise ReviewerError("model answered with no JSON")


def parse_findings(text: str, source: str) -> tuple[list[Finding], int]:
    """(valid findings, number of invalid items) from a model's answer.
    Raises ReviewerError when the answer holds no JSON at all, or JSON nested deeper
    than any answer needs."""
    findings: list[Finding] = []
    invalid = 0
    try:
        items = _finding_items(text)
    except bounded_json.TooDeep as exc:
        raise ReviewerError(f"model answered with {exc}") from exc
    finally:
        bounded_json.forget()
    for item in items:
        try:
            findings.append(ModelFinding.model_validate(item).to_finding(source))
        except (ValidationError, ValueError, TypeError):
            invalid += 1
    return findings, invalid


def parse_keep_ids(text: str) -> set[int] | None:
    """The ids a critique pass kept, or None when its answer is unusable."""
    try:
        answer = extract_json(text)
    except bounded_json.TooDeep:
        return None
    finally:
        bounded_json.forget()
    if isinstance(answer, dict) and isinstance(answer.get("keep"), list):
        return {int(i) for i in answer["keep"] if isinstance(i, int | str) and str(i).isdigit()}
    return None


def keep_in_diff(
    findings: Iterable[Finding], files: Mapping[str, FileDiff]
) -> tuple[list[Finding], int]:
    """(findings whose path is in the diff and line within a hunk, number dropped)."""
    kept: list[Finding] = []
    dropped = 0
    for finding in findings:
        path = finding.path
        if path not in files and path[:2] in ("a/", "b/") and path[2:] in files:
            finding = finding.model_copy(update={"path": path[2:]})
        file = files.get(finding.path)
        if file is not None and file.contains_line(finding.line):
            kept.append(finding)
        else:
            dropped += 1
    return kept, dropped
