"""respondent indexes and responses.answered

Deleting a respondent (my-data, `import --replace`) scanned `answers` and `responses` for
want of an index starting with `respondent_id`. `responses.answered` marks respondents
with at least one answer that is not a skip, so summaries count them from one row each.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_answers_respondent", "answers", ["respondent_id"])
    op.create_index("ix_responses_respondent", "responses", ["respondent_id"])
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("answered", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute(
        "UPDATE responses SET answered = TRUE WHERE EXISTS (SELECT 1 FROM answers a "
        "WHERE a.wave_id = responses.wave_id AND a.respondent_id = responses.respondent_id "
        "AND a.value IS NOT NULL AND CAST(a.value AS TEXT) != 'null')"
    )


def downgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("answered")
    op.drop_index("ix_responses_respondent", table_name="responses")
    op.drop_index("ix_answers_respondent", table_name="answers")
