"""Tables of the notification and shop-integration area.

They live apart from :mod:`fleet.models` so the area migrates on its own Alembic branch
(``notify``, revision 0400). The delivery log itself is the core ``outbox`` table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fleet.models import Base, IdType, utcnow

#: Customer channels an account uses when it has chosen none.
DEFAULT_CHANNELS = ["email", "webhook", "onpage"]


class NotificationSettings(Base):
    """An account's notification defaults (1:1 with accounts)."""

    __tablename__ = "notification_settings"

    account_id: Mapped[int] = mapped_column(IdType, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    #: Customer channels by default: any of ``email``, ``sms``, ``webhook``, ``onpage``.
    channels: Mapped[list[Any]] = mapped_column(default=lambda: list(DEFAULT_CHANNELS))
    #: Country calling code (digits, e.g. ``49``) for customer phone numbers written without one.
    phone_country_code: Mapped[str | None] = mapped_column(String(4), default=None)
    #: Operator phone (E.164) that gets SMS operator alerts.
    operator_phone: Mapped[str | None] = mapped_column(String(20), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderNotificationPrefs(Base):
    """The customer channels chosen for one order, overriding the account's default (1:1 with orders)."""

    __tablename__ = "order_notification_prefs"

    order_id: Mapped[int] = mapped_column(IdType, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    channels: Mapped[list[Any]] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OnPageNotification(Base):
    """A message shown on the customer's order status page; kept so the page can show it on load."""

    __tablename__ = "onpage_notifications"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    #: The outbox message that produced it; unique, so a retried delivery stores it once.
    outbox_id: Mapped[int] = mapped_column(IdType, unique=True)
    event: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WaitingOrderAlert(Base):
    """Marks that operators heard about orders waiting on an offline printer during one offline spell."""

    __tablename__ = "waiting_order_alerts"

    printer_id: Mapped[int] = mapped_column(IdType, ForeignKey("printers.id", ondelete="CASCADE"), primary_key=True)
    order_count: Mapped[int] = mapped_column()
    alerted_at: Mapped[datetime] = mapped_column(default=utcnow)


class WooCommerceShop(Base):
    """A WooCommerce store that sends its orders to one printer of an account."""

    __tablename__ = "woocommerce_shops"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    #: Unguessable path segment of the webhook delivery URL.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Store root, e.g. ``https://shop.example.com``; the REST API lives under ``/wp-json/wc/v3``.
    base_url: Mapped[str] = mapped_column(String(2048))
    consumer_key: Mapped[str] = mapped_column(String(128))
    #: Secrets: never logged, masked in API responses.
    consumer_secret: Mapped[str] = mapped_column(String(128))
    webhook_secret: Mapped[str] = mapped_column(String(256))
    printer_id: Mapped[int] = mapped_column(ForeignKey("printers.id"))
    #: WooCommerce order statuses that make an order printable (``processing`` by default).
    ready_statuses: Mapped[list[Any]] = mapped_column(default=lambda: ["processing"])
    #: Status written back on accept and on reject; an empty string leaves the status alone.
    accept_status: Mapped[str] = mapped_column(String(32), default="processing")
    reject_status: Mapped[str] = mapped_column(String(32), default="cancelled")
    #: Send the REST credentials as query parameters, for hosts that drop the Authorization header.
    query_string_auth: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(16), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The reconciliation poll has read every ready order modified before this time; the next poll lists
    #: the orders modified after it.
    reconciled_at: Mapped[datetime | None] = mapped_column(default=None)


class WooCommerceDelivery(Base):
    """One webhook delivery taken from a shop; a second delivery with the same id and body is a replay."""

    __tablename__ = "woocommerce_deliveries"
    __table_args__ = (UniqueConstraint("shop_id", "delivery_id", "body_sha256", name="uq_woocommerce_delivery"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("woocommerce_shops.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(String(128))
    body_sha256: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(64))
    #: What was done: ``created``, ``existing``, ``ignored_status``, ``cancelled``, ``ignored_topic``.
    outcome: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class PrinterCoCredential(Base):
    """An ``api_key``/``api_password`` pair that PrinterCo-style clients use for an account."""

    __tablename__ = "printerco_credentials"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    api_key: Mapped[str] = mapped_column(String(64), unique=True)
    #: SHA-256 of the password; passwords are server-generated and random.
    password_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class IntegrationOrder(Base):
    """The shop order behind an order that a shop integration created, for the write-back (1:1 with orders)."""

    __tablename__ = "integration_orders"
    __table_args__ = (Index("ix_integration_orders_shop", "source", "shop_id"),)

    order_id: Mapped[int] = mapped_column(IdType, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    #: ``woocommerce`` or ``printerco``.
    source: Mapped[str] = mapped_column(String(16))
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("woocommerce_shops.id", ondelete="SET NULL"), default=None)
    #: The order id in the sending system (WooCommerce order id, PrinterCo ``order_id``).
    remote_order_id: Mapped[str] = mapped_column(String(128))
    #: PrinterCo ``notify_url``, called with the decision.
    notify_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    #: Fields echoed back to the sender (PrinterCo ``printer_id`` and ``order_type``) and kept for reference.
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
