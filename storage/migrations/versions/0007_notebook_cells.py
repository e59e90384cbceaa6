"""findings.cell and review_findings.cell

Ruff counts a notebook finding's line within its cell and names the cell; the cell
is kept beside the line so a reply says "nb.ipynb:cell 3:12", as ruff does, rather
than a line 12 a reader cannot find. Null in every other file.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("findings", "review_findings"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("cell", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in ("review_findings", "findings"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("cell")
