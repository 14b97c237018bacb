"""Notifications and shop integrations: channel choices, on-page messages, WooCommerce, PrinterCo

Revision ID: 0400
Revises: 0001
Create Date: 2026-12-05 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import fleet.models

revision = "0400"
down_revision = "0001"
branch_labels = ("notify",)
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = fleet.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notification_settings",
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("phone_country_code", sa.String(length=4), nullable=True),
        sa.Column("operator_phone", sa.String(length=20), nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "order_notification_prefs",
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_table(
        "onpage_notifications",
        sa.Column("id", _ID, nullable=False),
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("outbox_id", _ID, nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("outbox_id"),
    )
    op.create_index("ix_onpage_notifications_order_id", "onpage_notifications", ["order_id"])
    op.create_table(
        "waiting_order_alerts",
        sa.Column("printer_id", _ID, nullable=False),
        sa.Column("order_count", sa.Integer(), nullable=False),
        sa.Column("alerted_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["printer_id"], ["printers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("printer_id"),
    )
    op.create_table(
        "woocommerce_shops",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base_url", sa.String(length=2048), nullable=False),
        sa.Column("consumer_key", sa.String(length=128), nullable=False),
        sa.Column("consumer_secret", sa.String(length=128), nullable=False),
        sa.Column("webhook_secret", sa.String(length=256), nullable=False),
        sa.Column("printer_id", _ID, nullable=False),
        sa.Column("ready_statuses", sa.JSON(), nullable=False),
        sa.Column("accept_status", sa.String(length=32), nullable=False),
        sa.Column("reject_status", sa.String(length=32), nullable=False),
        sa.Column("query_string_auth", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["printer_id"], ["printers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    op.create_index("ix_woocommerce_shops_account_id", "woocommerce_shops", ["account_id"])
    op.create_table(
        "woocommerce_deliveries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("delivery_id", sa.String(length=128), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("order_id", _ID, nullable=True),
        sa.Column("received_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["shop_id"], ["woocommerce_shops.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shop_id", "delivery_id", "body_sha256", name="uq_woocommerce_delivery"),
    )
    op.create_table(
        "printerco_credentials",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("api_key", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("api_key"),
    )
    op.create_index("ix_printerco_credentials_account_id", "printerco_credentials", ["account_id"])
    op.create_table(
        "integration_orders",
        sa.Column("order_id", _ID, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("shop_id", _ID, nullable=True),
        sa.Column("remote_order_id", sa.String(length=128), nullable=False),
        sa.Column("notify_url", sa.String(length=2048), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["shop_id"], ["woocommerce_shops.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index("ix_integration_orders_shop", "integration_orders", ["source", "shop_id"])


def downgrade() -> None:
    op.drop_index("ix_integration_orders_shop", table_name="integration_orders")
    op.drop_table("integration_orders")
    op.drop_index("ix_printerco_credentials_account_id", table_name="printerco_credentials")
    op.drop_table("printerco_credentials")
    op.drop_table("woocommerce_deliveries")
    op.drop_index("ix_woocommerce_shops_account_id", table_name="woocommerce_shops")
    op.drop_table("woocommerce_shops")
    op.drop_table("waiting_order_alerts")
    op.drop_index("ix_onpage_notifications_order_id", table_name="onpage_notifications")
    op.drop_table("onpage_notifications")
    op.drop_table("order_notification_prefs")
    op.drop_table("notification_settings")
