"""Health: each component up, late, down or paused — derived at read time.

The overall status is the worst component's: database and schema, configuration,
scheduler (its heartbeat), each scheduled job, chat adapters (their heartbeats), the
model endpoint, free disk and process memory. Nothing here is stored: a job's state
is computed from its schedule and its last run rows at read time, as healthchecks'
`get_status()` does.

The package holds no names of its own: import from its modules, so that a reader
of `component` (the operator's pages) does not load the checks.
"""
