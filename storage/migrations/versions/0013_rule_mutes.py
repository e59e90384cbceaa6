"""rule_mutes: rules an admin muted in a repository

A team that does not follow a rule mutes it once instead of marking each of its
findings false positive; its findings are hidden on every path and counted apart.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rule_mutes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repo", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("muted_by", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("muted_by_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("muted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("repo", "rule", name="uq_rule_mute_repo_rule"),
    )


def downgrade() -> None:
    op.drop_table("rule_mutes")
