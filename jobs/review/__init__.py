"""The pure review core: git → diff → budget → prompt → reviewer → findings.

No database and no chat here; `jobs/` builds caching and storage on top of this API.

    sha = git.resolve_ref(repo, "HEAD")                 # one git rev-parse
    key = (repo_name, sha, reviewer.fingerprint())      # the review cache key
    review_input = pipeline.prepare_review(repo, last_sha, sha, reviewer.budget_tokens())
    output = reviewer.review(review_input)              # LintReviewer or LlmReviewer
    ids = [finding.finding_fingerprint(f) for f in output.findings]

Modules: finding (Finding, fingerprint), git (read-only git), checkout (the scratch
checkout a linter runs in), scratch (clones and checkouts on disk; removing unused
ones), diff (parsing, skip rules), budget (skip-rule packing, not-reviewed reasons),
tokens (estimate and per-model calibration), split (pieces that fit one call),
sizing (call planning, full-tree tokens), prompt (messages, PROMPT_VERSION),
reviewers (ReviewInput, ReviewerOutput, Reviewer protocol), lint + linters + reports
(ruff and any SARIF or Checkstyle linter on the whole commit), baseline
(new/open/fixed against the base review), llm + llm_call + llm_answer
(OpenAI-compatible endpoint, answer salvage), calibration (calibrations kept in the
database).
"""
