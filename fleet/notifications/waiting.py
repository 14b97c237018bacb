"""Alerts about orders waiting on an offline printer.

A periodic check finds printers that are offline while orders have waited on them longer than
``waiting_alert_minutes``. Operators hear about it once per offline spell: a ``waiting_order_alerts``
row marks the spell and is removed when the printer is back online. Each waiting customer gets one
``order.delayed`` notice. Operators are reached on the account's operator email and webhook URL
(``account_alert_settings``, shared with printer health alerts) and its operator phone.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from fleet.models import Account, Order, Printer, utcnow
from fleet.notification_models import NotificationSettings, WaitingOrderAlert
from fleet.notifications.outbox import delay_notified, enqueue, enqueue_delay
from fleet.snmp_models import AccountAlertSettings
from fleet.states import OrderState

log = logging.getLogger(__name__)

EVENT = "operator.orders_waiting"
#: PostgreSQL advisory lock key ("pfwait" as an integer) so one process runs a round at a time.
ADVISORY_LOCK_KEY = 0x7066776169740000
#: Seconds between two checks.
CHECK_INTERVAL_SECONDS = 30


def check_waiting_orders(session: Session, waiting_minutes: int, now: datetime | None = None) -> int:
    """Alert about orders waiting on offline printers; return how many printers got a new operator alert."""
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    lock = text("SELECT pg_try_advisory_xact_lock(:key)")
    if on_postgresql and not session.execute(lock, {"key": ADVISORY_LOCK_KEY}).scalar():
        return 0
    now = now or utcnow()
    session.execute(delete(WaitingOrderAlert).where(WaitingOrderAlert.printer_id.in_(
        select(Printer.id).where(Printer.online.is_(True)))))

    cutoff = now - timedelta(minutes=waiting_minutes)
    waiting = session.execute(
        select(Order.printer_id, func.count(Order.id))
        .join(Printer, Printer.id == Order.printer_id)
        .where(Printer.online.is_(False), Printer.deleted_at.is_(None), Order.status == OrderState.PENDING,
               Order.created_at <= cutoff)
        .group_by(Order.printer_id)
    ).all()
    alerted = 0
    for printer_id, order_count in waiting:
        printer = session.get(Printer, printer_id)
        assert printer is not None
        _notify_customers(session, printer, cutoff)
        if session.get(WaitingOrderAlert, printer_id) is None:
            session.add(WaitingOrderAlert(printer_id=printer_id, order_count=order_count, alerted_at=now))
            alerted += 1 if _alert_operators(session, printer, order_count, now, waiting_minutes) else 0
    return alerted


def _notify_customers(session: Session, printer: Printer, cutoff: datetime) -> None:
    account = session.get(Account, printer.account_id)
    assert account is not None
    orders = session.scalars(select(Order).where(Order.printer_id == printer.id, Order.status == OrderState.PENDING,
                                                 Order.created_at <= cutoff))
    for order in orders:
        if not delay_notified(session, order.id):
            enqueue_delay(session, order, account)


def operator_recipients(session: Session, account_id: int) -> list[tuple[str, str]]:
    """Return the (channel, recipient) pairs that an account's operator alerts go to."""
    recipients: list[tuple[str, str]] = []
    alert_settings = session.get(AccountAlertSettings, account_id)
    if alert_settings is not None and alert_settings.operator_email:
        recipients.append(("email", alert_settings.operator_email))
    if alert_settings is not None and alert_settings.operator_webhook_url:
        recipients.append(("webhook", alert_settings.operator_webhook_url))
    notify_settings = session.get(NotificationSettings, account_id)
    if notify_settings is not None and notify_settings.operator_phone:
        recipients.append(("sms", notify_settings.operator_phone))
    return recipients


def _alert_operators(session: Session, printer: Printer, order_count: int, now: datetime, minutes: int) -> bool:
    account = session.get(Account, printer.account_id)
    assert account is not None
    last_seen = printer.last_seen_at
    waiting_minutes = max(minutes, int((now - last_seen).total_seconds() // 60)) if last_seen else minutes
    payload: dict[str, Any] = {
        "event": EVENT, "at": now.isoformat(), "account_id": account.id,
        "printer": {"id": printer.id, "name": printer.name, "protocol": printer.protocol},
        "printer_name": printer.name, "order_count": order_count, "waiting_minutes": waiting_minutes,
        "locale": account.locale,
    }
    recipients = operator_recipients(session, account.id)
    for channel, recipient in recipients:
        enqueue(session, channel=channel, event=EVENT, recipient=recipient, payload=payload, account_id=account.id)
    log.info("operator alert queued account=%s printer=%s event=%s orders=%s recipients=%s", account.id, printer.id,
             EVENT, order_count, len(recipients))
    return bool(recipients)


def schedule_waiting_check(scheduler: Any) -> None:
    """Add the periodic check to the app's scheduler."""
    scheduler.add_job(run_waiting_check, CHECK_INTERVAL_SECONDS, "waiting_orders")


def run_waiting_check(services: Any) -> None:
    with services.db.session() as session:
        alerted = check_waiting_orders(session, services.settings.waiting_alert_minutes)
    if alerted:
        log.info("waiting-order alerts sent printers=%s", alerted)
