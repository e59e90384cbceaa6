"""review_findings no longer stored as suppressed

Suppression is derived from the feedback rows whenever a reply is made. Earlier
versions stored a finding's state in a review as `suppressed` when a false positive
stood on it then; such a row becomes `open`, which reads the same today: a false
positive that still stands hides it, one taken back since shows it open.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE review_findings SET state = 'open' WHERE state = 'suppressed'")


def downgrade() -> None:
    # Nothing to undo: an `open` state reads as the `suppressed` one did.
    pass
