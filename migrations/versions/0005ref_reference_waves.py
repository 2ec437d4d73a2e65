"""reference_waves, reference_shares: published figures to compare a community's waves with

A reference wave is a published report's aggregate shares (and their base when published),
imported with `stateof import-reference`; it holds no respondent and no answer.

Revision ID: 0005ref
Revises: 0005s
Create Date: 2026-12-03 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005ref"
down_revision: str | None = "0005s"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reference_waves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("base", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"],
                                name=op.f("fk_reference_waves_community_id_communities"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_waves")),
        sa.UniqueConstraint("community_id", "survey_id", "label",
                            name=op.f("uq_reference_waves_community_id_survey_id_label")),
    )
    op.create_table(
        "reference_shares",
        sa.Column("reference_wave_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("row_id", sa.String(length=64), nullable=False),
        sa.Column("option_id", sa.String(length=64), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["reference_wave_id"], ["reference_waves.id"],
                                name=op.f("fk_reference_shares_reference_wave_id_reference_waves"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("reference_wave_id", "question_id", "row_id", "option_id",
                                name=op.f("pk_reference_shares")),
    )


def downgrade() -> None:
    op.drop_table("reference_shares")
    op.drop_table("reference_waves")
