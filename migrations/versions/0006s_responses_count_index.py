"""responses count index: respondents per wave read from an index alone

Revision ID: 0006s
Revises: 0005ref
Create Date: 2026-12-03 18:40:00

A summary counts a wave's respondents and completions (`answered`, `completed_at` of one row
per respondent); with these columns in an index on (wave_id, answered, completed_at) that is
an index-only count on both backends instead of a visit to every response row. The index
holds what the table holds (a flag and a day), in key order, so no order pairs a member with
answers.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006s"
down_revision: str | None = "0005ref"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_responses_count", "responses", ["wave_id", "answered", "completed_at"])


def downgrade() -> None:
    op.drop_index("ix_responses_count", table_name="responses")
