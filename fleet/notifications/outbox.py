"""The notification outbox: messages written in the transaction that caused them.

Nothing is sent from inside a transaction. The delivery worker picks committed rows up, so a crash
between commit and delivery loses nothing, and a rollback sends nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.events import queue_event
from fleet.integrations.writeback import enqueue_writebacks
from fleet.models import Account, Order, OutboxMessage
from fleet.notifications.context import account_settings, order_channels, order_context
from fleet.notifications.sms import customer_phone

log = logging.getLogger(__name__)

#: Order statuses the customer hears about (by email, SMS and on the order page).
CUSTOMER_STATUSES = frozenset({"accepted", "rejected", "cancelled", "expired", "failed"})
#: Kept for callers that imported the old name.
CUSTOMER_EMAIL_STATUSES = CUSTOMER_STATUSES


def order_payload(order: Order, event: str) -> dict[str, Any]:
    """Return the JSON document describing ``order`` that webhooks carry."""
    return {
        "event": event,
        "order": {
            "id": order.id,
            "external_id": order.external_id,
            "status": order.status,
            "printer_id": order.printer_id,
            "eta": order.eta_at.isoformat() if order.eta_at else None,
            "reject_reason": order.reject_reason,
            "decided_by": order.decided_by,
            "total": str(order.total),
            "currency": order.currency,
            "updated_at": order.updated_at.isoformat() if order.updated_at else None,
        },
    }


def enqueue(session: Session, *, channel: str, event: str, recipient: str, payload: dict[str, Any],
            account_id: int | None, order_id: int | None = None) -> OutboxMessage:
    message = OutboxMessage(
        account_id=account_id, order_id=order_id, channel=channel, event=event, recipient=recipient, payload=payload,
    )
    session.add(message)
    queue_event(session, "outbox.enqueued", account_id, channel=channel)
    return message


def enqueue_order_status(session: Session, order: Order, account: Account) -> None:
    """Queue the webhook, the customer messages and the shop write-back for the order's new status."""
    event = f"order.{order.status}"
    settings = account_settings(session, account.id)
    channels = order_channels(session, order, settings)
    if order.notify_url and "webhook" in channels:
        enqueue(session, channel="webhook", event=event, recipient=order.notify_url,
                payload=order_payload(order, event), account_id=account.id, order_id=order.id)

    context = order_context(order, account, settings)
    if order.status in CUSTOMER_STATUSES:
        enqueue_customer_messages(session, order, account, event, context, channels)
    enqueue_writebacks(session, order, account, context)
    log.debug("notifications queued order=%s event=%s channels=%s", order.id, event, ",".join(channels))


def enqueue_customer_messages(session: Session, order: Order, account: Account, event: str, context: dict[str, Any],
                              channels: list[str]) -> int:
    """Queue ``event`` for the customer on each chosen channel the order has an address for; return how many."""
    customer = order.customer or {}
    settings = account_settings(session, account.id)
    count = 0
    if "email" in channels and customer.get("email"):
        enqueue(session, channel="email", event=event, recipient=customer["email"], payload=context,
                account_id=account.id, order_id=order.id)
        count += 1
    if "sms" in channels and customer.get("phone"):
        phone = customer_phone(customer, settings.phone_country_code)
        if phone is None:
            log.warning("sms skipped order=%s: customer phone is not a valid international number", order.id)
        else:
            enqueue(session, channel="sms", event=event, recipient=phone, payload=context,
                    account_id=account.id, order_id=order.id)
            count += 1
    if "onpage" in channels:
        enqueue(session, channel="onpage", event=event, recipient=order.public_id, payload=context,
                account_id=account.id, order_id=order.id)
        count += 1
    return count


def enqueue_delay(session: Session, order: Order, account: Account, eta: datetime | None = None) -> int:
    """Tell the customer that ``order`` is delayed, with a new estimated time when one is known."""
    settings = account_settings(session, account.id)
    context = order_context(order, account, settings, status="delayed")
    if eta is not None:
        context["eta"] = eta.isoformat()
    count = enqueue_customer_messages(session, order, account, "order.delayed", context,
                                      order_channels(session, order, settings))
    log.info("delay notice queued order=%s messages=%s", order.id, count)
    return count


def delay_notified(session: Session, order_id: int) -> bool:
    """True when the customer of ``order_id`` already has a delay notice queued or sent."""
    found = session.scalars(select(OutboxMessage.id).where(
        OutboxMessage.order_id == order_id, OutboxMessage.event == "order.delayed").limit(1)).first()
    return found is not None
