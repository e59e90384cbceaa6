"""job_runs.heartbeat_at and outbox.uncertain_at

A run whose process died on another host is reclaimed after a few missed beats
instead of after 12 hours; a post whose send may have reached the platform (the
sender died, the request timed out) is reconciled before it is sent again.

Revision ID: 0006
Revises: 0001_initial
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("heartbeat_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("uncertain_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("uncertain_at")
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
