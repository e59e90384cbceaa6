"""Health: each component up, late, down or paused — derived at read time.

The overall status is the worst component's: database and schema, configuration,
scheduler (its heartbeat), each scheduled job, chat adapters (their heartbeats), the
model endpoint, free disk and process memory. Nothing here is stored: a job's state
is computed from its schedule and its last run rows at read time, as healthchecks'
`get_status()` does.
"""

from jobs.health.checks import (
    check_config,
    check_database,
    health_report,
)
from jobs.health.component import Component, HealthReport, Status
from jobs.health.model_endpoint import check_model_endpoint
from jobs.health.scheduled import job_health, scheduled_jobs

__all__ = [
    "Component",
    "HealthReport",
    "Status",
    "check_config",
    "check_database",
    "check_model_endpoint",
    "health_report",
    "job_health",
    "scheduled_jobs",
]
