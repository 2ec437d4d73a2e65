"""wave_releases, released_members, released_choices, released_values: live results on a snapshot

Results of an open wave are counted on a copy of its answers taken at a release; a release
happens only when at least k (the minimum group size) respondents not yet in it have
completed (analytics.releases). Existing open waves get their first release when a summary
next asks for one, so there are no rows to rewrite.

Revision ID: 0004r
Revises: 0004p
Create Date: 2026-12-03 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004r"
down_revision: str | None = "0004p"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# respondents.id is a random 63-bit key since 0004p (an integer rowid on SQLite)
RESPONDENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _wave_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["wave_id"], ["waves.id"], name=op.f(f"fk_{table}_wave_id_waves"),
                                   ondelete="CASCADE")


def _respondent_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["respondent_id"], ["respondents.id"],
                                   name=op.f(f"fk_{table}_respondent_id_respondents"), ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "wave_releases",
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("release", sa.Integer(), nullable=False),
        sa.Column("covers", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("invited", sa.Integer(), nullable=False),
        _wave_fk("wave_releases"),
        sa.PrimaryKeyConstraint("wave_id", name=op.f("pk_wave_releases")),
    )
    op.create_table(
        "released_members",
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("respondent_id", RESPONDENT_ID, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        _wave_fk("released_members"),
        _respondent_fk("released_members"),
        sa.PrimaryKeyConstraint("wave_id", "respondent_id", name=op.f("pk_released_members")),
    )
    op.create_table(
        "released_choices",
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("row_id", sa.String(length=64), nullable=False),
        sa.Column("option_id", sa.String(length=64), nullable=False),
        sa.Column("respondent_id", RESPONDENT_ID, nullable=False),
        _wave_fk("released_choices"),
        _respondent_fk("released_choices"),
        sa.PrimaryKeyConstraint("wave_id", "question_id", "row_id", "option_id", "respondent_id",
                                name=op.f("pk_released_choices")),
    )
    op.create_index("ix_released_choices_respondent", "released_choices", ["respondent_id"])
    op.create_table(
        "released_values",
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("respondent_id", RESPONDENT_ID, nullable=False),
        sa.Column("number", sa.Float(), nullable=True),
        _wave_fk("released_values"),
        _respondent_fk("released_values"),
        sa.PrimaryKeyConstraint("wave_id", "question_id", "respondent_id", name=op.f("pk_released_values")),
    )
    op.create_index("ix_released_values_respondent", "released_values", ["respondent_id"])


def downgrade() -> None:
    op.drop_index("ix_released_values_respondent", table_name="released_values")
    op.drop_table("released_values")
    op.drop_index("ix_released_choices_respondent", table_name="released_choices")
    op.drop_table("released_choices")
    op.drop_table("released_members")
    op.drop_table("wave_releases")
