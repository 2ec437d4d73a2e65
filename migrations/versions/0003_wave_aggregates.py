"""wave_aggregates: kept aggregates of closed waves

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wave_aggregates",
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["wave_id"], ["waves.id"], name=op.f("fk_wave_aggregates_wave_id_waves"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("wave_id", "signature", name=op.f("pk_wave_aggregates")),
    )


def downgrade() -> None:
    op.drop_table("wave_aggregates")
