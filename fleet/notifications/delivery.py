"""Outbox delivery: a worker thread leases due messages, sends them and retries with backoff.

A lease (``state='sending'`` with ``lease_until``) is taken with one UPDATE … RETURNING so two
workers never send the same message at once; a worker that dies mid-send leaves a lease that expires
and the message is taken again. A message is marked ``sent`` only after the receiver took it, so
delivery is at least once; the ``X-Printfleet-Delivery`` id lets receivers drop the rare duplicate.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fleet.config import Settings
from fleet.db import Database
from fleet.models import Account, OutboxMessage, utcnow
from fleet.notifications.email import render_order_email, send_email
from fleet.notifications.webhook import DeliveryFailed, send_webhook
from fleet.operator_alerts import render_alert_email

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)


def backoff(attempt: int, settings: Settings) -> timedelta:
    """Delay before retry number ``attempt`` (1-based): base × 2^(attempt-1), capped."""
    seconds = settings.outbox_base_backoff_seconds * (2 ** (attempt - 1))
    return timedelta(seconds=min(seconds, settings.outbox_max_backoff_seconds))


def lease_due(session: Session, now: datetime, limit: int = 20) -> list[int]:
    due = (
        select(OutboxMessage.id)
        .where(((OutboxMessage.state == "pending") & (OutboxMessage.next_attempt_at <= now))
               | ((OutboxMessage.state == "sending") & (OutboxMessage.lease_until <= now)))
        .order_by(OutboxMessage.next_attempt_at).limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    rows = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due), OutboxMessage.state.in_(("pending", "sending")))
        .values(state="sending", lease_until=now + LEASE)
        .returning(OutboxMessage.id)
    ).scalars().all()
    return list(rows)


class OutboxWorker:
    """Delivers outbox messages in a background thread; ``wake()`` after a commit skips the wait."""

    def __init__(self, db: Database, settings: Settings, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.settings = settings
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-worker", daemon=True)
        self._thread.start()
        log.info("outbox worker started")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        log.info("outbox worker stopped")

    def wake(self, *_args: object) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.deliver_due()
            except Exception:
                log.exception("outbox delivery round failed; retrying in %ss", self.poll_seconds)
                sent = 0
            if sent == 0:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def deliver_due(self, now: datetime | None = None) -> int:
        """Send every due message once; return how many were attempted."""
        with self.db.session() as session:
            ids = lease_due(session, now or utcnow())
        for message_id in ids:
            self._deliver(message_id)
        return len(ids)

    def _deliver(self, message_id: int) -> None:
        with self.db.session() as session:
            message = session.get(OutboxMessage, message_id)
            if message is None or message.state != "sending":
                return
            account = session.get(Account, message.account_id) if message.account_id else None
            channel, recipient, payload, event = message.channel, message.recipient, dict(message.payload), message.event
            secret = account.webhook_secret if account else ""
        error: str | None = None
        try:
            self._send(channel, recipient, payload, event, secret, message_id)
        except DeliveryFailed as err:
            error = str(err)
        with self.db.session() as session:
            message = session.get(OutboxMessage, message_id)
            assert message is not None
            message.attempts += 1
            message.lease_until = None
            if error is None:
                message.state = "sent"
                message.sent_at = utcnow()
                message.last_error = None
                log.info("notification sent message=%s order=%s channel=%s event=%s", message.id, message.order_id,
                         channel, event)
                return
            message.last_error = error
            if message.attempts >= self.settings.outbox_max_attempts:
                message.state = "dead"
                log.error("notification dead message=%s order=%s channel=%s after %s attempts: %s", message.id,
                          message.order_id, channel, message.attempts, error)
                return
            message.state = "pending"
            message.next_attempt_at = utcnow() + backoff(message.attempts, self.settings)
            log.warning("notification failed message=%s order=%s channel=%s attempt=%s retry_at=%s: %s", message.id,
                        message.order_id, channel, message.attempts, message.next_attempt_at.isoformat(), error)

    def _send(self, channel: str, recipient: str, payload: dict[str, object], event: str, secret: str,
              message_id: int) -> None:
        settings = self.settings
        if channel == "webhook":
            send_webhook(recipient, payload, secret, f"msg-{message_id}", event, settings.webhook_timeout_seconds)
            return
        if channel == "email":
            if not settings.smtp_host:
                raise DeliveryFailed("no SMTP server configured; set PRINTFLEET_SMTP_HOST")
            # Operator alerts (event names starting with printer.) have their own template.
            render = render_alert_email if event.startswith("printer.") else render_order_email
            subject, text, html = render(payload)
            send_email(settings.smtp_host, settings.smtp_port, settings.smtp_from, recipient, subject, text, html,
                       user=settings.smtp_user, password=settings.smtp_password, starttls=settings.smtp_starttls,
                       message_id=f"<outbox-{message_id}@printfleet>")
            return
        raise DeliveryFailed(f"unknown channel {channel!r}")


def pending_count(session: Session) -> int:
    return len(session.scalars(select(OutboxMessage.id).where(OutboxMessage.state.in_(("pending", "sending")))).all())
