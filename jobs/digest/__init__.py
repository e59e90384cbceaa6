"""The optimization digest, computed from run records as healthchecks derives state:
at read time, nothing stored.

- inputs.py:   the run records and review totals it is computed from
- queries.py:  the reads that fill those inputs from the database
- stats.py:    the statistics it uses (the standard library's)
- figures.py:  what it says, as models (figures, insights)
- insights.py: the rules that flag a job, and the alert transitions (post on change)
- compute.py:  inputs in, figures out (`compute_digest`; pure)
- replies.py:  its lines and `Reply`s: everything that shapes the digest's text
- chart.py:    the 14-day PNG, drawn in a short-lived worker (`chart_worker.py`)
- job.py:      the digest against the database, posting, and the digest/health job kinds
"""
