"""Template context of an order message, and the channel choices that apply to an order."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from fleet.models import Account, Order
from fleet.notification_models import DEFAULT_CHANNELS, NotificationSettings, OrderNotificationPrefs

#: Channels a customer can be reached on.
CUSTOMER_CHANNELS = ("email", "sms", "webhook", "onpage")


def account_settings(session: Session, account_id: int) -> NotificationSettings:
    """Return the account's notification settings; an account that never saved any gets the defaults."""
    row = session.get(NotificationSettings, account_id)
    if row is None:
        return NotificationSettings(account_id=account_id, channels=list(DEFAULT_CHANNELS))
    return row


def order_channels(session: Session, order: Order, settings: NotificationSettings) -> list[str]:
    """Return the order's own channel choice when it has one, else the account's default."""
    prefs = session.get(OrderNotificationPrefs, order.id)
    chosen = prefs.channels if prefs is not None else settings.channels
    return [channel for channel in CUSTOMER_CHANNELS if channel in (chosen or [])]


def order_context(order: Order, account: Account, settings: NotificationSettings, status: str | None = None) -> dict[str, Any]:
    """Everything a customer template needs; stored as the outbox payload and rendered at send time."""
    customer = order.customer or {}
    return {
        "status": status or order.status,
        "order_id": order.id,
        "order_reference": order.external_id or str(order.id),
        "customer_name": customer.get("name", ""),
        "shop_name": account.name,
        "eta": order.eta_at.isoformat() if order.eta_at else None,
        "reject_reason": order.reject_reason,
        "locale": order.locale or account.locale,
        "timezone": account.timezone or "UTC",
        "public_id": order.public_id,
    }
