"""A report that says the linter's run failed (its configuration unreadable) is refused,
never read as findings: SARIF's own invocation fields, ShellCheck's SC1134."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobs.review.lint.reports import RunFailed, parse_checkstyle, parse_sarif

ROOT = Path("/scratch/checkouts/demo/tree")
RESULT = {
    "ruleId": "no-unused-vars",
    "level": "warning",
    "message": {"text": "x is unused"},
    "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.js"},
                                        "region": {"startLine": 3}}}],
}  # fmt: skip


def sarif(invocation: dict[str, object]) -> str:
    return json.dumps({"version": "2.1.0", "runs": [{"invocations": [invocation],
                                                      "results": [RESULT]}]})  # fmt: skip


def test_a_sarif_run_that_was_not_successful_is_refused_with_its_reason() -> None:
    failed = {
        "executionSuccessful": False,
        "toolExecutionNotifications": [
            {"level": "error", "message": {"text": f"Cannot read config {ROOT}/.eslintrc.json"}}
        ],
    }
    with pytest.raises(RunFailed, match=r"^Cannot read config \.eslintrc\.json$"):
        parse_sarif(sarif(failed), ROOT, "eslint")


def test_a_sarif_configuration_error_is_refused_even_when_the_run_says_success() -> None:
    notified = {
        "executionSuccessful": True,
        "toolConfigurationNotifications": [
            {"level": "error", "message": {"text": "unknown rule 'no-such-rule'"}}
        ],
    }
    with pytest.raises(RunFailed, match="unknown rule 'no-such-rule'"):
        parse_sarif(sarif(notified), ROOT, "eslint")


def test_sarif_warnings_about_configuration_leave_the_findings_standing() -> None:
    warned = {
        "executionSuccessful": True,
        "toolConfigurationNotifications": [{"message": {"text": "rule X is deprecated"}}],
    }
    [found] = parse_sarif(sarif(warned), ROOT, "eslint")
    assert (found.path, found.line, found.category) == ("a.js", 3, "no-unused-vars")


def test_shellchecks_unreadable_rc_file_is_refused_not_taken_as_a_finding() -> None:
    report = (
        "<?xml version='1.0' encoding='UTF-8'?><checkstyle version='4.3'>"
        "<file name='./run.sh'><error line='1' column='1' severity='error' message='Failed "
        f"to process {ROOT}/.shellcheckrc&#44; line 2&#58; Expected &#39;&#61;&#39; after "
        "directive key. Fix any mentioned problems and try again.' "
        "source='ShellCheck.SC1134' /><error line='2' column='6' severity='info' "
        "message='Double quote to prevent globbing and word splitting.' "
        "source='ShellCheck.SC2086' /></file></checkstyle>"
    )
    with pytest.raises(RunFailed) as failure:
        parse_checkstyle(report, ROOT, "shellcheck")
    assert str(failure.value).startswith("Failed to process .shellcheckrc, line 2: Expected '='")
    assert str(ROOT) not in str(failure.value)


def test_a_sarif_result_carries_its_rules_name_documentation_and_column() -> None:
    rules = [
        {"id": "other", "helpUri": "https://eslint.org/docs/latest/rules/other"},
        {"id": "no-unused-vars", "name": "NoUnusedVars",
         "helpUri": "https://eslint.org/docs/latest/rules/no-unused-vars"},
        {"id": "bad-link", "helpUri": "javascript:alert(1)"},
    ]  # fmt: skip
    located = {"physicalLocation": {"artifactLocation": {"uri": "a.js"},
                                    "region": {"startLine": 3, "startColumn": 7}}}  # fmt: skip
    results = [
        {**RESULT, "locations": [located]},
        {**RESULT, "ruleId": None, "ruleIndex": 0, "message": {"text": "by index"}},
        {**RESULT, "ruleId": "bad-link", "message": {"text": "no link"}},
    ]
    report = json.dumps({"version": "2.1.0",
                         "runs": [{"tool": {"driver": {"name": "eslint", "rules": rules}},
                                   "results": results}]})  # fmt: skip
    named, by_index, unlinked = parse_sarif(report, ROOT, "eslint")
    assert (named.rule_name, named.rule_url, named.column) == (
        "NoUnusedVars",
        "https://eslint.org/docs/latest/rules/no-unused-vars",
        7,
    )
    assert by_index.rule_url == "https://eslint.org/docs/latest/rules/other"
    assert unlinked.rule_url is None  # only an https address becomes a link
