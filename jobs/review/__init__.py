"""The review product: a repository (or a branch, or a pull request) reviewed at a
commit, cached by (repository, commit, reviewer fingerprint), stored with its
findings' life, and shown.

    result = recorded_review(context, "api")   # run_record.py: a run of its own
    result = run_review(context, "api")        # engine.py: cache → lock → delta → reviewer → store

From the top: the job kind (job.py) and branch reviews (branch_review.py); the run
row of a review asked for in chat or on the command line (run_record.py); the engine
(engine.py); the post and replies; what is stored and read back (store.py, placing.py,
history.py, stored.py); the reviewers (lint/, llm/); git, diffs and commits read as
untrusted data (git.py, diff.py, objects.py, bounded_diff.py, checkout.py). The
layers are import-linter contracts in pyproject.toml; docs/architecture.md draws them.
"""
