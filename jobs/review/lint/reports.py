"""Linter reports onto the one `Finding`: SARIF 2.1.0 and Checkstyle XML.

Most linters write one of the two (Checkstyle is the one nearly every linter without
SARIF can write). Paths in a report are relative to the directory the linter ran in,
or absolute, or `file://` URIs; all become repository-relative. A result outside that
directory, or without a file and line, is left out. Pure: text in, findings out.

A linter that could not read the repository's configuration and linted with its
defaults instead says so in its report (SARIF: an unsuccessful invocation or a
configuration notification of level error; ShellCheck: SC1134 for an unreadable
.shellcheckrc): that report is refused (`RunFailed`), never taken as findings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse
from xml.etree import ElementTree

from jobs.review.finding import Finding, Severity


class ReportError(ValueError):
    """The linter's output is not a report in the expected format."""


class RunFailed(ReportError):
    """The report says the run failed, e.g. the linter could not read its configuration
    (the reason is the linter's, with the checkout's directory taken out)."""


# Rules a linter reports instead of findings when it cannot read its configuration.
CONFIG_FAILURE_RULES = frozenset({"ShellCheck.SC1134"})
MAX_REASON = 300


def _run_failed(message: str, root: Path) -> RunFailed:
    text = " ".join(message.split()).replace(f"{root}/", "").replace(str(root), ".")
    return RunFailed(text[:MAX_REASON] or "its configuration could not be read")


_SEVERITIES: dict[str, Severity] = {
    "error": "error",
    "fatal": "error",
    "warning": "warning",
    "warn": "warning",
}
MAX_CATEGORY = 100


def _severity(level: str | None) -> Severity:
    return _SEVERITIES.get((level or "warning").lower(), "info")


def _relative(raw: str, root: Path) -> str | None:
    if raw.startswith("file:"):
        raw = unquote(urlparse(raw).path)
    path = Path(raw)
    if path.is_absolute():
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return None
    parts = PurePosixPath(raw.replace("\\", "/")).parts
    clean = [part for part in parts if part != "."]
    if not clean or ".." in clean:
        return None
    return "/".join(clean)


def _category(rule: str) -> str:
    """`ShellCheck.SC2086` → SC2086, `eslint.rules.no-unused-vars` → no-unused-vars."""
    return rule.rsplit(".", 1)[-1][:MAX_CATEGORY] or "lint"


@dataclass(frozen=True)
class _Result:
    """One result as a report states it, before it is checked."""

    path: str | None  # relative to the checkout; None: outside it, or none given
    line: object
    end: object
    level: str | None
    rule: str
    message: str
    column: object = None
    rule_name: str | None = None
    rule_url: str | None = None


def _number(value: object) -> int | None:
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number >= 1 else None


MAX_RULE_NAME = 100
MAX_RULE_URL = 500


def _rule_url(value: object) -> str | None:
    """A documentation address a report gives: https only, bounded."""
    url = value if isinstance(value, str) else ""
    return url if url.startswith("https://") and len(url) <= MAX_RULE_URL else None


def _finding(linter: str, result: _Result) -> Finding | None:
    try:
        start = int(str(result.line))
    except ValueError:
        return None
    if result.path is None or not result.message.strip():
        return None
    try:
        end_line = int(str(result.end)) if result.end is not None else None
    except ValueError:
        end_line = None
    category = _category(result.rule)
    return Finding(
        path=result.path,
        line=max(start, 1),
        end_line=end_line if end_line and end_line > start else None,
        severity=_severity(result.level),
        column=_number(result.column) if result.column is not None else None,
        category=category,
        message=result.message.strip(),
        source=f"{linter}:{category}"[:MAX_CATEGORY],
        rule_name=(result.rule_name or "")[:MAX_RULE_NAME] or None,
        rule_url=result.rule_url,
    )


_CHARACTER_REFERENCE = re.compile(r"&#(?:([0-9]{1,7})|[xX]([0-9a-fA-F]{1,6}));")


def _no_surrogate(reference: re.Match[str]) -> str:
    code = int(reference[1]) if reference[1] else int(reference[2], 16)
    return "&#xFFFD;" if 0xD800 <= code <= 0xDFFF else reference[0]


def parse_checkstyle(text: str, root: Path, linter: str) -> list[Finding]:
    """<checkstyle><file name=…><error line= severity= message= source=/></file>…"""
    # ShellCheck writes a name's bytes that are not UTF-8 as references to surrogates,
    # which XML does not allow: they are read as U+FFFD, as other linters write them.
    text = _CHARACTER_REFERENCE.sub(_no_surrogate, text)
    try:
        document = ElementTree.fromstring(text)  # noqa: S314 (a local linter's own output)
    except ElementTree.ParseError as exc:
        raise ReportError(f"not Checkstyle XML ({exc})") from exc
    if document.tag != "checkstyle":
        raise ReportError(f"not Checkstyle XML (root element <{document.tag}>)")
    findings: list[Finding] = []
    for file in document.iter("file"):
        path = _relative(file.get("name", ""), root)
        for error in file.iter("error"):
            if error.get("source") in CONFIG_FAILURE_RULES:
                raise _run_failed(error.get("message") or "", root)
            result = _Result(
                path=path,
                line=error.get("line", ""),
                end=None,
                level=error.get("severity"),
                rule=error.get("source") or linter,
                message=error.get("message") or "",
                column=error.get("column"),
            )
            found = _finding(linter, result)
            if found is not None:
                findings.append(found)
    return findings


def parse_sarif(text: str, root: Path, linter: str) -> list[Finding]:
    """runs[].results[]: ruleId, level, message.text, the first physical location."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"not SARIF JSON ({exc.msg})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("runs"), list):
        raise ReportError("not SARIF 2.1.0 (no runs)")
    findings: list[Finding] = []
    for run in document["runs"]:
        _check_invocations(run, root)
        rules = _sarif_rules(run)
        for result in (run or {}).get("results") or []:
            found = _sarif_result(result, root, linter, rules)
            if found is not None:
                findings.append(found)
    return findings


def _check_invocations(run: Any, root: Path) -> None:
    """SARIF's own word that the run failed: an invocation not `executionSuccessful`,
    or a configuration notification of level error."""
    invocations = run.get("invocations") if isinstance(run, dict) else None
    for invocation in invocations if isinstance(invocations, list) else []:
        if not isinstance(invocation, dict):
            continue
        configuration = _notes(invocation.get("toolConfigurationNotifications"), "error")
        if configuration or invocation.get("executionSuccessful") is False:
            execution = _notes(invocation.get("toolExecutionNotifications"), "error")
            said = [*configuration, *execution]
            raise _run_failed("; ".join(said) or "the run was not successful", root)


def _notes(notifications: Any, level: str) -> list[str]:
    """The texts of the notifications of `level` (SARIF's default level is warning)."""
    texts = []
    for note in notifications if isinstance(notifications, list) else []:
        if isinstance(note, dict) and note.get("level", "warning") == level:
            message = note.get("message") or {}
            texts.append(str(message.get("text") or "") if isinstance(message, dict) else "")
    return [text for text in texts if text]


def _sarif_rules(run: Any) -> dict[str, tuple[str | None, str | None]]:
    """tool.driver.rules by id (and by index, as "#n"): each rule's name and helpUri."""
    driver = ((run or {}).get("tool") or {}).get("driver") or {} if isinstance(run, dict) else {}
    rules = driver.get("rules") if isinstance(driver, dict) else None
    known: dict[str, tuple[str | None, str | None]] = {}
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, dict):
            continue
        name = rule.get("name") if isinstance(rule.get("name"), str) else None
        entry = (name, _rule_url(rule.get("helpUri")))
        known[f"#{index}"] = entry
        if isinstance(rule.get("id"), str):
            known[rule["id"]] = entry
    return known


def _sarif_result(
    result: dict[str, Any],
    root: Path,
    linter: str,
    rules: dict[str, tuple[str | None, str | None]] | None = None,
) -> Finding | None:
    locations = result.get("locations") or []
    physical = (locations[0] or {}).get("physicalLocation") or {} if locations else {}
    uri = (physical.get("artifactLocation") or {}).get("uri")
    region = physical.get("region") or {}
    message = result.get("message") or {}
    rule_id = str(result.get("ruleId") or linter)
    known = rules or {}
    name, url = known.get(rule_id) or known.get(f"#{result.get('ruleIndex')}") or (None, None)
    stated = _Result(
        path=_relative(uri, root) if uri else None,
        line=region.get("startLine", ""),
        end=region.get("endLine"),
        level=result.get("level"),
        rule=rule_id,
        message=str(message.get("text") or message.get("markdown") or ""),
        column=region.get("startColumn"),
        rule_name=name,
        rule_url=url,
    )
    return _finding(linter, stated)


PARSERS = {"sarif": parse_sarif, "checkstyle": parse_checkstyle}
