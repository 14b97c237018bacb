"""Operator alerts: one webhook and one email per printer health transition, for every protocol.

:func:`fleet.health.apply_reading` queues a ``printer.health`` event only when something changed
(went offline, came online, a condition raised or cleared). A ``before_commit`` listener turns the
alertable transitions of those events into outbox messages in the same transaction, so an alert
is sent exactly when its transition is stored, and never once per poll.

Each account sets its operator email and webhook URL in ``account_alert_settings``
(``GET/PUT /api/v1/alert-settings``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from fleet.events import PENDING_KEY, Event
from fleet.models import Printer, utcnow
from fleet.notifications.email import TEMPLATES
from fleet.notifications.outbox import enqueue
from fleet.snmp_models import AccountAlertSettings

log = logging.getLogger(__name__)

#: Conditions whose raising and clearing operators hear about. ``unreachable`` is left out because
#: ``went_offline`` and ``came_online`` already report it.
ALERT_CONDITIONS = frozenset({"paper_out", "cover_open", "jam", "toner_out", "supply_low", "waste_full"})
#: Outbox event name per health transition kind.
EVENT_NAMES = {
    "went_offline": "printer.went_offline",
    "came_online": "printer.came_online",
    "raised": "printer.condition_raised",
    "cleared": "printer.condition_cleared",
}
_HANDLED_KEY = "printfleet.operator_alerts_handled"


def attach(sessions: Any) -> None:
    """Enqueue operator alerts for the health events of every session from ``sessions`` before it commits."""
    sa_event.listen(sessions, "before_commit", enqueue_pending_alerts)


def is_alertable(kind: str, condition: str | None) -> bool:
    if kind in ("went_offline", "came_online"):
        return True
    return kind in ("raised", "cleared") and condition in ALERT_CONDITIONS


def enqueue_pending_alerts(session: Session) -> int:
    """Enqueue alerts for the ``printer.health`` events queued on ``session``; return how many messages."""
    handled: set[int] = session.info.setdefault(_HANDLED_KEY, set())
    pending = [item for item in session.info.get(PENDING_KEY, [])
               if item.name == "printer.health" and id(item) not in handled]
    count = 0
    for item in pending:
        handled.add(id(item))
        count += _enqueue_for_event(session, item)
    return count


def _enqueue_for_event(session: Session, item: Event) -> int:
    transitions = [t for t in item.data.get("transitions", []) if is_alertable(t["kind"], t.get("condition"))]
    if not transitions or item.account_id is None:
        return 0
    settings = session.get(AccountAlertSettings, item.account_id)
    if settings is None or not (settings.operator_email or settings.operator_webhook_url):
        return 0
    printer = session.get(Printer, item.data["printer_id"])
    if printer is None:
        return 0

    count = 0
    now = utcnow()
    for transition in transitions:
        event_name = EVENT_NAMES[transition["kind"]]
        payload = alert_payload(printer, item, transition, now)
        if settings.operator_webhook_url:
            enqueue(session, channel="webhook", event=event_name, recipient=settings.operator_webhook_url,
                    payload=payload, account_id=item.account_id)
            count += 1
        if settings.operator_email:
            enqueue(session, channel="email", event=event_name, recipient=settings.operator_email,
                    payload=payload, account_id=item.account_id)
            count += 1
        log.info("operator alert queued account=%s printer=%s event=%s condition=%s", item.account_id, printer.id,
                 event_name, transition.get("condition") or "-")
    return count


def alert_payload(printer: Printer, item: Event, transition: dict[str, Any], at: datetime) -> dict[str, Any]:
    """Return the JSON document of one alert: the webhook body and the email template context."""
    event_name = EVENT_NAMES[transition["kind"]]
    return {
        "event": event_name,
        "at": at.isoformat(),
        "account_id": item.account_id,
        "printer": {"id": printer.id, "name": printer.name, "protocol": printer.protocol},
        "transition": {"kind": transition["kind"], "condition": transition.get("condition")},
        "online": item.data.get("online"),
        "state": item.data.get("worst"),
        "conditions": list(item.data.get("conditions", [])),
        "summary": describe(printer.name, transition["kind"], transition.get("condition")),
    }


def describe(printer_name: str, kind: str, condition: str | None) -> str:
    """Return one sentence for the alert, e.g. ``Printer 'Kitchen': paper_out raised.``"""
    if kind == "went_offline":
        return f"Printer '{printer_name}' went offline."
    if kind == "came_online":
        return f"Printer '{printer_name}' is back online."
    return f"Printer '{printer_name}': {condition} {'raised' if kind == 'raised' else 'cleared'}."


def render_alert_email(payload: dict[str, Any]) -> tuple[str, str, str]:
    """Return (subject, text body, HTML body) of an operator alert email."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    subject = env.get_template("email/printer_alert_subject.txt").render(**payload).strip()
    text = env.get_template("email/printer_alert.txt").render(**payload)
    html = env.get_template("email/printer_alert.html").render(**payload)
    return subject, text, html


# -- settings --------------------------------------------------------------------------------------


def get_settings(session: Session, account_id: int) -> dict[str, Any]:
    row = session.get(AccountAlertSettings, account_id)
    return {
        "operator_email": row.operator_email if row else None,
        "operator_webhook_url": row.operator_webhook_url if row else None,
        "updated_at": row.updated_at.isoformat() if row else None,
    }


def put_settings(session: Session, account_id: int, operator_email: str | None,
                 operator_webhook_url: str | None) -> dict[str, Any]:
    """Replace the account's alert destinations; None turns a channel off."""
    row = session.get(AccountAlertSettings, account_id)
    if row is None:
        row = AccountAlertSettings(account_id=account_id)
        session.add(row)
    row.operator_email = operator_email
    row.operator_webhook_url = operator_webhook_url
    row.updated_at = utcnow()
    session.flush()
    log.info("alert settings changed account=%s email=%s webhook=%s", account_id,
             "on" if operator_email else "off", "on" if operator_webhook_url else "off")
    return get_settings(session, account_id)
