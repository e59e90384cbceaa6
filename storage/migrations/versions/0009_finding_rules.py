"""findings.column, rule_name, rule_url: where on the line, and the rule's documentation

A finding in chat links to the rule that found it (ruff's JSON and SARIF name it and
give its documentation address) and says the column. Null for findings stored before,
until a review reports them again.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("column", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rule_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("rule_url", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_column("rule_url")
        batch_op.drop_column("rule_name")
        batch_op.drop_column("column")
