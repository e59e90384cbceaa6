"""Any linter: commands writing SARIF or Checkstyle, mapped onto the one Finding."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from jobs.config.schema import Config, LinterConfig, LintReviewerConfig
from jobs.review.lint.reports import ReportError, parse_checkstyle, parse_sarif
from jobs.review.lint.reviewer import LintReviewer
from jobs.review.pipeline import prepare_review
from jobs.review.reviewers import ReviewerError, ReviewerOutput
from tests.support.git_repo import Repo


def lint_all(git_repo: Repo, head: str, linters: list[dict[str, object]]) -> ReviewerOutput:
    config = LintReviewerConfig(select=["F401"], linters=linters)  # type: ignore[arg-type]
    reviewer = LintReviewer(config)
    return reviewer.review(prepare_review(git_repo.path, None, head, reviewer.budget_tokens()))


def test_a_sarif_linter_is_mapped_onto_findings(git_repo: Repo) -> None:
    # ruff itself writes SARIF 2.1.0: a real SARIF producer.
    head = git_repo.commit("cmp", **{"cmp.py": "def f(a):\n    return a == None\n"})
    sarif = {
        "name": "ruff-sarif", "format": "sarif", "files": ["*.py"],
        "command": ["ruff", "check", "--output-format=sarif", "--exit-zero", "--no-cache",
                    "--select", "E711"],
    }  # fmt: skip
    output = lint_all(git_repo, head, [sarif])
    [found] = output.findings
    assert (found.path, found.line, found.category, found.source) == (
        "cmp.py", 2, "E711", "ruff-sarif:E711",
    )  # fmt: skip
    assert "None" in found.message and output.reviewed_files == 1


def test_linter_processes_get_a_minimal_environment(
    git_repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSDESK_SLACK_BOT_TOKEN", "xoxb-secret")
    monkeypatch.setenv("OPSDESK_LLM_API_KEY", "sk-secret")
    head = git_repo.commit("sh", **{"x.env": "a=1\n"})
    report = (
        'printf \'<checkstyle><file name="%s"><error line="1" severity="info" '
        'message="%s" source="env.names"/></file></checkstyle>\' "$1" '
        '"$(env | cut -d= -f1 | grep -v "^_$" | grep -v "^PWD$" | grep -v "^SHLVL$" | sort '
        '| tr "\\n" " ")"'
    )
    spy = {"name": "env", "format": "checkstyle", "files": ["*.env"],
           "command": ["sh", "-c", report, "sh"]}  # fmt: skip
    [found] = lint_all(git_repo, head, [spy]).findings
    assert found.path == "x.env" and found.category == "names"
    assert set(found.message.split()) <= {"HOME", "LANG", "PATH"}
    assert "PATH" in found.message and "secret" not in found.message


def test_a_missing_linter_or_a_broken_report_is_a_clear_error(git_repo: Repo) -> None:
    head = git_repo.commit("sh", **{"run.sh": "echo hi\n"})
    missing = {"name": "nope", "format": "sarif", "files": ["*.sh"], "command": ["no-such-lint"]}
    with pytest.raises(ReviewerError, match="linter 'no-such-lint' is not installed"):
        lint_all(git_repo, head, [missing])
    broken = {"name": "broken", "format": "sarif", "files": ["*.sh"], "command": ["echo", "hi"]}
    with pytest.raises(ReviewerError, match="broken failed: not SARIF JSON"):
        lint_all(git_repo, head, [broken])


def test_a_linters_complaint_names_files_relative_to_the_repository_only(
    git_repo: Repo,
) -> None:
    # A linter that fails naming a file of the checkout (by its absolute path, as
    # linters do), this host's files, and its own place: chat may show the first.
    head = git_repo.commit("sh", **{"lib/run.sh": "echo hi\n"})
    complaint = 'echo "cannot read $PWD/lib/run.sh: see /etc/tool/rc and $HOME/.tool.log" >&2'
    failing = {"name": "picky", "format": "checkstyle", "files": ["*.sh"],
               "command": ["sh", "-c", f"{complaint}; exit 2", "sh"]}  # fmt: skip
    with pytest.raises(ReviewerError) as failed:
        lint_all(git_repo, head, [failing])
    hidden = "<a path outside the repository>"
    assert str(failed.value) == f"picky failed: cannot read lib/run.sh: see {hidden} and {hidden}"


def test_checkstyle_and_sarif_paths_become_repository_relative(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    checkstyle = (
        f'<?xml version="1.0"?><checkstyle><file name="{root}/a/x.sh">'
        '<error line="3" column="1" severity="warning" message="Quote it" '
        'source="ShellCheck.SC2086"/></file><file name="/elsewhere/y.sh">'
        '<error line="1" severity="error" message="outside" source="s"/></file></checkstyle>'
    )
    [found] = parse_checkstyle(checkstyle, root, "shellcheck")
    assert (found.path, found.line, found.severity, found.category) == (
        "a/x.sh", 3, "warning", "SC2086",
    )  # fmt: skip
    sarif = (
        '{"version": "2.1.0", "runs": [{"results": [{"ruleId": "no-eval", "level": "note", '
        '"message": {"text": "eval is evil"}, "locations": [{"physicalLocation": '
        '{"artifactLocation": {"uri": "src/app.js"}, "region": {"startLine": 7, "endLine": 9}}}]},'
        '{"ruleId": "x", "message": {"text": "no place"}}]}]}'
    )
    [found] = parse_sarif(sarif, root, "eslint")
    assert (found.path, found.line, found.end_line, found.severity) == ("src/app.js", 7, 9, "info")
    with pytest.raises(ReportError):
        parse_checkstyle("<html/>", root, "x")


def test_presets_and_per_repository_linters_in_the_config() -> None:
    preset = LinterConfig(name="shellcheck", preset="shellcheck")
    assert preset.format == "checkstyle" and "*.sh" in preset.files
    assert LinterConfig(name="sc", preset="shellcheck", files=["*.zsh"]).files == ["*.zsh"]
    with pytest.raises(ValidationError, match="unknown linter preset 'eslnt'"):
        LinterConfig(name="js", preset="eslnt")
    with pytest.raises(ValidationError, match="linter 'js' needs command, format"):
        LinterConfig(name="js", files=["*.js"])
    config = Config.model_validate(
        {
            "reviewer": {"lint": {"linters": [{"name": "shellcheck", "preset": "shellcheck"}]}},
            "repos": [{"name": "web", "path": "/srv/web", "linters": [
                {"name": "eslint", "command": ["npx", "eslint", "-f", "checkstyle"],
                 "format": "checkstyle", "files": ["*.js", "*.ts"]}]}],
        }
    )  # fmt: skip
    configured = config.repos[0]
    merged = config.reviewer.lint.with_linters(configured.linters)
    assert [linter.name for linter in merged.linters] == ["shellcheck", "eslint"]
    assert LintReviewer(merged).fingerprint() != LintReviewer(config.reviewer.lint).fingerprint()


def test_ruff_findings_say_how_severe_they_are_and_name_their_rule(tmp_path: Path) -> None:
    from jobs.review.lint.linters import run_ruff

    (tmp_path / "broken.py").write_text("def f(:\n")
    (tmp_path / "app.py").write_text("import os\nprint(undefined_name)\nimport sys\n\nsys\n")
    found = {
        f.category: f
        for f in run_ruff(tmp_path, ["E", "F", "W", "I", "UP"], [])
        if f.category in ("invalid-syntax", "F821", "F401", "E402")
    }
    assert {code: f.severity for code, f in found.items()} == {
        "invalid-syntax": "error",  # the code cannot run
        "F821": "error",
        "F401": "warning",
        "E402": "info",  # how it looks
    }
    undefined = found["F821"]
    assert (undefined.line, undefined.column) == (2, 7)
    assert undefined.rule_name == "undefined-name"
    assert undefined.rule_url == "https://docs.astral.sh/ruff/rules/undefined-name"
