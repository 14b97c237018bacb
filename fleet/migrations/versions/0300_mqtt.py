"""MQTT: broker credentials, device connection state, device commands

Revision ID: 0300
Revises: 0001
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fleet.models

revision = "0300"
down_revision = "0001"
branch_labels = ("mqtt",)
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mqtt_credentials",
        sa.Column("id", _ID, nullable=False),
        sa.Column("printer_id", _ID, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", fleet.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", fleet.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["printer_id"], ["printers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("printer_id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "mqtt_devices",
        sa.Column("printer_id", _ID, nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=False),
        sa.Column("birth_at", fleet.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("will_at", fleet.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("device_info", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["printer_id"], ["printers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("printer_id"),
    )
    op.create_table(
        "mqtt_commands",
        sa.Column("id", _ID, nullable=False),
        sa.Column("printer_id", _ID, nullable=False),
        sa.Column("command_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", fleet.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acked_at", fleet.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["printer_id"], ["printers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("command_id"),
    )
    with op.batch_alter_table("mqtt_commands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mqtt_commands_printer_id"), ["printer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mqtt_commands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mqtt_commands_printer_id"))
    op.drop_table("mqtt_commands")
    op.drop_table("mqtt_devices")
    op.drop_table("mqtt_credentials")
