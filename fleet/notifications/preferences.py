"""Notification settings of accounts and orders, the per-order delivery log and template previews."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.config import Settings
from fleet.errors import InvalidInput
from fleet.models import Order, OutboxMessage, utcnow
from fleet.notification_models import NotificationSettings, OnPageNotification, OrderNotificationPrefs
from fleet.notifications.context import CUSTOMER_CHANNELS, account_settings
from fleet.notifications.masking import mask_recipient, mask_secret
from fleet.notifications.render import (
    CUSTOMER_EVENTS,
    PARTS,
    UnknownTemplate,
    known_templates,
    pick_locale,
    render_email,
    render_part,
)
from fleet.notifications.sms import normalize_phone

log = logging.getLogger(__name__)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def check_channels(channels: list[str], field: str = "channels") -> list[str]:
    unknown = [channel for channel in channels if channel not in CUSTOMER_CHANNELS]
    if unknown:
        raise InvalidInput(field, f"unknown channel {unknown[0]!r}; use any of {', '.join(CUSTOMER_CHANNELS)}")
    return [channel for channel in CUSTOMER_CHANNELS if channel in channels]


def settings_view(row: NotificationSettings, webhook_secret: str, config: Settings) -> dict[str, Any]:
    """Describe the account's settings and the service's channel configuration, with every secret masked."""
    return {
        "channels": list(row.channels or []),
        "phone_country_code": row.phone_country_code,
        "operator_phone": mask_recipient("sms", row.operator_phone) if row.operator_phone else None,
        "webhook_secret": mask_secret(webhook_secret),
        "email": {"configured": bool(config.smtp_host), "host": config.smtp_host, "port": config.smtp_port,
                  "from": config.smtp_from, "user": config.smtp_user,
                  "password": mask_secret(config.smtp_password.get_secret_value()) if config.smtp_password else None},
        "sms": {"configured": config.sms_provider is not None, "provider": config.sms_provider,
                "base_url": config.sms_base_url, "account_sid": config.sms_account_sid, "from": config.sms_from,
                "auth_token": mask_secret(config.sms_auth_token.get_secret_value()) if config.sms_auth_token else None},
    }


def update_settings(session: Session, account_id: int, changes: dict[str, Any]) -> NotificationSettings:
    """Apply ``changes`` (channels, phone_country_code, operator_phone) to the account's settings."""
    row = session.get(NotificationSettings, account_id)
    if row is None:
        row = account_settings(session, account_id)
        session.add(row)
    if "channels" in changes:
        row.channels = check_channels(changes["channels"])
    if "phone_country_code" in changes:
        row.phone_country_code = changes["phone_country_code"]
    if "operator_phone" in changes:
        raw = changes["operator_phone"]
        phone = normalize_phone(raw) if raw else None
        if raw and phone is None:
            raise InvalidInput("operator_phone", "operator_phone is not an international number; write it as "
                                                 "+<country code><number>, e.g. +4915112345678")
        row.operator_phone = phone
    row.updated_at = utcnow()
    session.flush()
    log.info("notification settings changed account=%s channels=%s", account_id, ",".join(row.channels or []))
    return row


def set_order_channels(session: Session, order: Order, channels: list[str]) -> list[str]:
    """Choose the customer channels of one order; later status changes use them."""
    chosen = check_channels(channels)
    prefs = session.get(OrderNotificationPrefs, order.id)
    if prefs is None:
        session.add(OrderNotificationPrefs(order_id=order.id, channels=chosen, updated_at=utcnow()))
    else:
        prefs.channels = chosen
        prefs.updated_at = utcnow()
    session.flush()
    log.info("order channels chosen order=%s channels=%s", order.id, ",".join(chosen))
    return chosen


def delivery_log(session: Session, order_id: int) -> list[dict[str, Any]]:
    """List every outbox message of an order, oldest first, with masked recipients."""
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.order_id == order_id).order_by(OutboxMessage.id))
    return [{
        "id": row.id, "channel": row.channel, "event": row.event,
        "recipient": mask_recipient(row.channel, row.recipient), "state": row.state, "attempts": row.attempts,
        "last_error": row.last_error, "created_at": _iso(row.created_at), "sent_at": _iso(row.sent_at),
        "next_attempt_at": _iso(row.next_attempt_at) if row.state == "pending" else None,
    } for row in rows]


def onpage_messages(session: Session, order_id: int) -> list[dict[str, Any]]:
    """List the on-page messages of an order, oldest first, as the order page shows them on load."""
    rows = session.scalars(select(OnPageNotification).where(OnPageNotification.order_id == order_id)
                           .order_by(OnPageNotification.id))
    return [{"id": row.id, "event": row.event, "text": row.text, "at": _iso(row.created_at)} for row in rows]


def sample_payload(event: str, locale: str, shop_name: str, timezone: str) -> dict[str, Any]:
    """Build a made-up order for template previews."""
    eta = (utcnow() + timedelta(minutes=25)).replace(second=0, microsecond=0)
    return {
        "status": event, "order_id": 1042, "order_reference": "A-1042", "customer_name": "Zoë Müller",
        "shop_name": shop_name, "eta": eta.isoformat(), "reject_reason": "Out of fresh basil",
        "locale": locale, "timezone": timezone, "public_id": "preview", "status_url": None,
        "printer_name": "Kitchen", "order_count": 3, "waiting_minutes": 7,
    }


def preview(event: str, locale: str | None, channel: str, shop_name: str, timezone: str) -> dict[str, Any]:
    """Render the template of ``event`` for ``channel`` with a sample order."""
    template = event if event in known_templates() else ""
    if not template:
        raise InvalidInput("event", f"unknown event {event!r}; use one of {', '.join(known_templates())}")
    chosen = pick_locale(locale)
    payload = sample_payload(event, chosen, shop_name, timezone)
    if channel == "email":
        subject, text, html = render_email(template, payload)
        return {"event": event, "locale": chosen, "channel": channel, "subject": subject, "text": text, "html": html}
    if channel not in PARTS:
        raise InvalidInput("channel", f"unknown channel {channel!r}; use email, sms, onpage or note")
    try:
        text = render_part(template, channel, payload)
    except UnknownTemplate as err:
        raise InvalidInput("event", str(err)) from None
    return {"event": event, "locale": chosen, "channel": channel, "subject": None, "text": text, "html": None}


__all__ = ["CUSTOMER_EVENTS", "delivery_log", "onpage_messages", "preview", "set_order_channels", "settings_view",
           "update_settings"]
