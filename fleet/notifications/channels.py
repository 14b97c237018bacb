"""The customer and operator channels: email over SMTP, SMS through a gateway, signed webhooks and
on-page messages. Shop write-backs (WooCommerce, PrinterCo) are channels too, in
:mod:`fleet.integrations.writeback`.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from fleet.config import Settings
from fleet.db import Database
from fleet.events import queue_event
from fleet.notification_models import OnPageNotification
from fleet.notifications.base import Channel, DeliveryFailed, OutboundMessage
from fleet.notifications.email import send_email
from fleet.notifications.render import render_email, render_part, template_for_event
from fleet.notifications.sms import SmsGateway, TwilioGateway
from fleet.notifications.webhook import send_webhook

log = logging.getLogger(__name__)

#: Bus event carrying an on-page message to the customer's order page.
ONPAGE_EVENT = "notification.onpage"


def with_status_url(payload: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Add the customer's order status URL when a public base URL is configured."""
    public_id = payload.get("public_id")
    if settings.base_url and public_id and not payload.get("status_url"):
        return {**payload, "status_url": f"{settings.base_url}/o/{public_id}"}
    return payload


class EmailChannel(Channel):
    name = "email"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, message: OutboundMessage) -> None:
        settings = self.settings
        if not settings.smtp_host:
            raise DeliveryFailed("no SMTP server configured; set PRINTFLEET_SMTP_HOST")
        if message.event.startswith("printer."):
            # Printer health alerts have their own templates in the operator alert module.
            from fleet.operator_alerts import render_alert_email

            subject, text, html = render_alert_email(message.payload)
        else:
            payload = with_status_url(message.payload, settings)
            subject, text, html = render_email(template_for_event(message.event), payload)
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        send_email(settings.smtp_host, settings.smtp_port, settings.smtp_from, message.recipient, subject, text, html,
                   user=settings.smtp_user, password=password, starttls=settings.smtp_starttls,
                   message_id=f"<outbox-{message.id}@printfleet>")


class SmsChannel(Channel):
    name = "sms"

    def __init__(self, gateway: SmsGateway | None) -> None:
        self.gateway = gateway

    def send(self, message: OutboundMessage) -> None:
        if self.gateway is None:
            raise DeliveryFailed("no SMS gateway configured; set PRINTFLEET_SMS_PROVIDER and its credentials")
        body = render_part(template_for_event(message.event), "sms", message.payload)
        provider_id = self.gateway.send_sms(message.recipient, body)
        log.debug("sms accepted by gateway message=%s provider_id=%s", message.id, provider_id)


class WebhookChannel(Channel):
    name = "webhook"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, message: OutboundMessage) -> None:
        send_webhook(message.recipient, message.payload, message.webhook_secret, f"msg-{message.id}", message.event,
                     self.settings.webhook_timeout_seconds)


class OnPageChannel(Channel):
    """Stores the message for the order page and publishes ``notification.onpage`` on the bus after commit.

    The dashboard's Socket.IO layer forwards the bus event to the order's room; a page opened later
    reads the stored messages. A retried delivery finds its row and publishes nothing again.
    """

    name = "onpage"

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def send(self, message: OutboundMessage) -> None:
        if message.order_id is None:
            raise DeliveryFailed("on-page message has no order", permanent=True)
        text = render_part(template_for_event(message.event), "onpage", message.payload)
        with self.db.session() as session:
            existing = session.scalars(select(OnPageNotification).where(OnPageNotification.outbox_id == message.id)).first()
            if existing is not None:
                return
            row = OnPageNotification(order_id=message.order_id, outbox_id=message.id, event=message.event, text=text)
            session.add(row)
            session.flush()
            queue_event(session, ONPAGE_EVENT, message.account_id, order_id=message.order_id,
                        public_id=message.recipient, event=message.event, text=text, notification_id=row.id,
                        at=row.created_at.isoformat())


def sms_gateway(settings: Settings) -> SmsGateway | None:
    """Build the configured SMS gateway, or None when SMS is off."""
    if settings.sms_provider == "twilio" and settings.sms_account_sid and settings.sms_auth_token and settings.sms_from:
        return TwilioGateway(settings.sms_base_url, settings.sms_account_sid, settings.sms_auth_token.get_secret_value(),
                             settings.sms_from, settings.integration_timeout_seconds)
    return None


def build_channels(db: Database, settings: Settings) -> dict[str, Channel]:
    """Build every channel the outbox worker delivers through, keyed by ``outbox.channel`` name."""
    from fleet.integrations.writeback import PrinterCoCallbackChannel, WooCommerceChannel

    channels: list[Channel] = [
        EmailChannel(settings), SmsChannel(sms_gateway(settings)), WebhookChannel(settings),
        OnPageChannel(db, settings), WooCommerceChannel(db, settings), PrinterCoCallbackChannel(settings),
    ]
    return {channel.name: channel for channel in channels}
