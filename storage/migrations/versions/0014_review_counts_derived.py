"""reviews without new_count, open_count, fixed_count, suppressed_count

A review's counts are derived from its review_findings rows (and the feedback as it
is now) whenever it is read; the copies on the reviews row were written and never
read, and the suppressed one could no longer be right.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = ("new_count", "open_count", "fixed_count", "suppressed_count")


def upgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        for name in COUNTS:
            batch_op.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        for name in COUNTS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
