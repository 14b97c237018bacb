"""WooCommerce shops remember when the reconciliation poll last read all their orders

Revision ID: 0410
Revises: 0400
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fleet.models

revision = "0410"
down_revision = "0400"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("woocommerce_shops") as batch:
        batch.add_column(sa.Column("reconciled_at", fleet.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("woocommerce_shops") as batch:
        batch.drop_column("reconciled_at")
