"""feedback that sticks: where findings were shown, and who marked them

Revision ID: 0004
Revises: 0001_initial
Create Date: 2026-11-21 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "finding_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("chat", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("message_ref", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("paragraph", sa.Integer(), nullable=True),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("shown_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["finding_id"], ["findings.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("finding_posts", schema=None) as batch_op:
        batch_op.create_index("ix_finding_posts_finding_chat", ["finding_id", "chat"])
        batch_op.create_index("ix_finding_posts_chat_message", ["chat", "message_ref"])
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("user_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_column("user_name")
    with op.batch_alter_table("finding_posts", schema=None) as batch_op:
        batch_op.drop_index("ix_finding_posts_chat_message")
        batch_op.drop_index("ix_finding_posts_finding_chat")
    op.drop_table("finding_posts")
