"""procrastinate's tables (PostgreSQL only): the queue replicas take fires from

On PostgreSQL the scheduler's fires are procrastinate jobs (jobs/running/fire_queue.py);
its schema (tables procrastinate_*, their functions and triggers) is created here, as
the procrastinate version this opsdesk requires ships it. SQLite runs fires in-process
and gets nothing.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    # The driver's own cursor: the schema has `%` and `:` that no layer may read as
    # parameters.
    cursor = bind.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(SchemaManager.get_schema())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # Its tables, then its types with every function that takes them, then the rest
    # of its functions (the trigger functions).
    op.execute(
        """
        DO $$
        DECLARE name text;
        BEGIN
            FOR name IN SELECT tablename FROM pg_tables
                WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate%'
            LOOP EXECUTE format('DROP TABLE %I CASCADE', name); END LOOP;
            FOR name IN SELECT typname FROM pg_type JOIN pg_namespace n ON n.oid = typnamespace
                WHERE nspname = current_schema() AND typname LIKE 'procrastinate%'
                AND typtype IN ('e', 'c')
            LOOP EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', name); END LOOP;
            FOR name IN SELECT p.oid::regprocedure::text FROM pg_proc p
                JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE nspname = current_schema() AND proname LIKE 'procrastinate%'
            LOOP EXECUTE 'DROP FUNCTION ' || name || ' CASCADE'; END LOOP;
        END $$
        """
    )
