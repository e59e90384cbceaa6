"""review_findings.path: where a finding stood in a review, when its file has moved since

A renamed file carries its findings (the same rows) to its new path. A review made
before the rename listed them at the old path, and must say so when it is replayed
after a history rewind. Null: the finding's own path (findings.path), as for nearly
every row.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("review_findings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("path", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("review_findings", schema=None) as batch_op:
        batch_op.drop_column("path")
