"""The notification outbox: messages written in the transaction that caused them.

Nothing is sent from inside a transaction. The delivery worker picks committed rows up, so a crash
between commit and delivery loses nothing, and a rollback sends nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from fleet.events import queue_event
from fleet.models import Account, Order, OutboxMessage

log = logging.getLogger(__name__)

#: Order statuses the customer hears about by email.
CUSTOMER_EMAIL_STATUSES = frozenset({"accepted", "rejected", "cancelled", "expired", "failed"})


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
    """Queue the webhook and the customer email for the order's new status."""
    event = f"order.{order.status}"
    if order.notify_url:
        enqueue(session, channel="webhook", event=event, recipient=order.notify_url,
                payload=order_payload(order, event), account_id=account.id, order_id=order.id)

    email = (order.customer or {}).get("email")
    if email and order.status in CUSTOMER_EMAIL_STATUSES:
        context = {
            "status": order.status,
            "order_reference": order.external_id or str(order.id),
            "customer_name": (order.customer or {}).get("name", ""),
            "shop_name": account.name,
            "eta": order.eta_at.isoformat() if order.eta_at else None,
            "reject_reason": order.reject_reason,
            "locale": order.locale or account.locale,
            "public_id": order.public_id,
        }
        enqueue(session, channel="email", event=event, recipient=email, payload=context,
                account_id=account.id, order_id=order.id)
    log.debug("notifications queued order=%s event=%s", order.id, event)
