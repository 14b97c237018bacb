"""SNMP printers and operator alert settings: printer_snmp, account_alert_settings

Revision ID: 0100
Revises: 0001
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fleet.models

revision = "0100"
down_revision = "0001"
branch_labels = ("snmp",)
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "printer_snmp",
        sa.Column("printer_id", _ID, nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=4), nullable=False),
        sa.Column("secret", sa.JSON(), nullable=False),
        sa.Column("poll_interval_seconds", sa.Integer(), nullable=False),
        sa.Column("full_walk_interval_seconds", sa.Integer(), nullable=False),
        sa.Column("supply_low_percent", sa.Float(), nullable=False),
        sa.Column("vendor", sa.String(length=128), nullable=True),
        sa.Column("model", sa.String(length=255), nullable=True),
        sa.Column("serial_number", sa.String(length=128), nullable=True),
        sa.Column("mac", sa.String(length=17), nullable=True),
        sa.Column("sys_object_id", sa.String(length=255), nullable=True),
        sa.Column("printer_index", sa.Integer(), nullable=True),
        sa.Column("next_poll_at", fleet.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_polled_at", fleet.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_snapshot_at", fleet.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=32), nullable=True),
        sa.Column("created_at", fleet.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["printer_id"], ["printers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("printer_id"),
    )
    with op.batch_alter_table("printer_snmp", schema=None) as batch_op:
        batch_op.create_index("ix_printer_snmp_next_poll", ["next_poll_at"], unique=False)

    op.create_table(
        "account_alert_settings",
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("operator_email", sa.String(length=254), nullable=True),
        sa.Column("operator_webhook_url", sa.String(length=2048), nullable=True),
        sa.Column("updated_at", fleet.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id"),
    )


def downgrade() -> None:
    op.drop_table("account_alert_settings")
    with op.batch_alter_table("printer_snmp", schema=None) as batch_op:
        batch_op.drop_index("ix_printer_snmp_next_poll")
    op.drop_table("printer_snmp")
