"""wave data version: a per-wave change counter kept by the database (analytics.cache)

Revision ID: 0005s
Revises: 0004d
Create Date: 2026-12-03 18:30:00

`waves.data_version` goes up whenever a response of a closed wave is inserted, changed or
deleted (a member deleting their data, directly or through a cascade) and whenever a wave's
status changes. Kept aggregates of closed waves are valid while it is unchanged, so checking
them reads one row instead of scanning the wave's responses. Triggers keep it, whoever writes:
on PostgreSQL statement-level (one UPDATE per statement, so a bulk import or COPY is not
slowed row by row), on SQLite per row (SQLite has no statement triggers). The counter holds
no time and no member: it is one number per wave.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005s"
down_revision: str | None = "0004d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_UP = [
    """
    CREATE FUNCTION stateof_bump_closed_wave_version() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE waves SET data_version = data_version + 1
            WHERE status = 'closed' AND id IN (SELECT DISTINCT wave_id FROM old_rows);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            UPDATE waves SET data_version = data_version + 1
            WHERE status = 'closed' AND id IN (SELECT DISTINCT wave_id FROM new_rows);
        END IF;
        RETURN NULL;
    END $$
    """,
    """CREATE TRIGGER responses_insert_bumps_wave_version AFTER INSERT ON responses
       REFERENCING NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION stateof_bump_closed_wave_version()""",
    """CREATE TRIGGER responses_update_bumps_wave_version AFTER UPDATE ON responses
       REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION stateof_bump_closed_wave_version()""",
    """CREATE TRIGGER responses_delete_bumps_wave_version AFTER DELETE ON responses
       REFERENCING OLD TABLE AS old_rows
       FOR EACH STATEMENT EXECUTE FUNCTION stateof_bump_closed_wave_version()""",
    """
    CREATE FUNCTION stateof_bump_wave_version_on_status() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        NEW.data_version := OLD.data_version + 1;
        RETURN NEW;
    END $$
    """,
    """CREATE TRIGGER waves_status_bumps_version BEFORE UPDATE OF status ON waves
       FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status)
       EXECUTE FUNCTION stateof_bump_wave_version_on_status()""",
]
PG_DOWN = [
    "DROP TRIGGER IF EXISTS waves_status_bumps_version ON waves",
    "DROP FUNCTION IF EXISTS stateof_bump_wave_version_on_status()",
    "DROP TRIGGER IF EXISTS responses_delete_bumps_wave_version ON responses",
    "DROP TRIGGER IF EXISTS responses_update_bumps_wave_version ON responses",
    "DROP TRIGGER IF EXISTS responses_insert_bumps_wave_version ON responses",
    "DROP FUNCTION IF EXISTS stateof_bump_closed_wave_version()",
]

_SQLITE_BUMP = "UPDATE waves SET data_version = data_version + 1 WHERE id = {row}.wave_id " \
               "AND status = 'closed';"
SQLITE_UP = [
    f"""CREATE TRIGGER responses_insert_bumps_wave_version AFTER INSERT ON responses
        BEGIN {_SQLITE_BUMP.format(row="NEW")} END""",
    f"""CREATE TRIGGER responses_update_bumps_wave_version AFTER UPDATE ON responses
        BEGIN {_SQLITE_BUMP.format(row="OLD")}
        UPDATE waves SET data_version = data_version + 1 WHERE id = NEW.wave_id
            AND NEW.wave_id IS NOT OLD.wave_id AND status = 'closed'; END""",
    f"""CREATE TRIGGER responses_delete_bumps_wave_version AFTER DELETE ON responses
        BEGIN {_SQLITE_BUMP.format(row="OLD")} END""",
    """CREATE TRIGGER waves_status_bumps_version AFTER UPDATE OF status ON waves
        WHEN NEW.status IS NOT OLD.status
        BEGIN UPDATE waves SET data_version = data_version + 1 WHERE id = NEW.id; END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS waves_status_bumps_version",
    "DROP TRIGGER IF EXISTS responses_delete_bumps_wave_version",
    "DROP TRIGGER IF EXISTS responses_update_bumps_wave_version",
    "DROP TRIGGER IF EXISTS responses_insert_bumps_wave_version",
]


def upgrade() -> None:
    op.add_column("waves", sa.Column("data_version", sa.BigInteger(), server_default="0",
                                     nullable=False))
    pg = op.get_bind().dialect.name == "postgresql"
    for statement in PG_UP if pg else SQLITE_UP:
        op.execute(statement)
    # aggregates kept under the old fingerprint are not comparable with a version
    op.execute("DELETE FROM wave_aggregates")


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for statement in PG_DOWN if pg else SQLITE_DOWN:
        op.execute(statement)
    op.execute("DELETE FROM wave_aggregates")
    with op.batch_alter_table("waves") as batch:
        batch.drop_column("data_version")
