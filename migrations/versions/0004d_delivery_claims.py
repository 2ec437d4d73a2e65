"""delivery_claims: once-only claims shared by every process (duplicate deliveries, DM posts)

Revision ID: 0004d
Revises: 0004r
Create Date: 2026-12-03 15:40:00

A row is a keyed HMAC of a delivery id (a Slack event or trigger id, a "post the next DM
question" step) with an expiry: nothing in it names a member or pairs them with answers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004d"
down_revision: str | None = "0004r"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_claims",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_delivery_claims")),
    )
    op.create_index(op.f("ix_delivery_claims_expires_at"), "delivery_claims", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_claims_expires_at"), table_name="delivery_claims")
    op.drop_table("delivery_claims")
