"""Outbox delivery: a worker thread leases due messages, sends them and retries with backoff.

A lease (``state='sending'`` with ``lease_until``) is taken with one UPDATE … RETURNING so two
workers never send the same message at once; a worker that dies mid-send leaves a lease that expires
and the message is taken again. A message is marked ``sent`` only after the receiver took it, so
delivery is at least once; the ``X-Printfleet-Delivery`` id lets receivers drop the rare duplicate.

Each message goes through the :class:`~fleet.notifications.base.Channel` named in
``outbox.channel``. A failure is retried after ``base × 2^(attempt-1)`` seconds (capped) until
``outbox_max_attempts``; a permanent failure (an invalid phone number, an unknown shop order) is
marked ``dead`` at once.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fleet.config import Settings
from fleet.db import Database
from fleet.models import Account, OutboxMessage, utcnow
from fleet.notifications.base import Channel, DeliveryFailed, OutboundMessage
from fleet.notifications.channels import build_channels
from fleet.notifications.masking import mask_recipient

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)


def backoff(attempt: int, settings: Settings) -> timedelta:
    """Delay before retry number ``attempt`` (1-based): base × 2^(attempt-1), capped."""
    seconds = settings.outbox_base_backoff_seconds * (2 ** (attempt - 1))
    return timedelta(seconds=min(seconds, settings.outbox_max_backoff_seconds))


def _due(now: datetime) -> Any:
    return (((OutboxMessage.state == "pending") & (OutboxMessage.next_attempt_at <= now))
            | ((OutboxMessage.state == "sending") & (OutboxMessage.lease_until <= now)))


def any_due(session: Session, now: datetime) -> bool:
    """True when at least one message is due or its lease has run out."""
    return session.scalars(select(OutboxMessage.id).where(_due(now)).limit(1)).first() is not None


def lease_due(session: Session, now: datetime, limit: int = 20) -> list[int]:
    due = (
        select(OutboxMessage.id)
        .where(_due(now))
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

    def __init__(self, db: Database, settings: Settings, poll_seconds: float = 1.0,
                 channels: dict[str, Channel] | None = None, read_db: Database | None = None) -> None:
        self.db = db
        #: Checks whether anything is due without taking SQLite's write lock every poll.
        self.read_db = read_db or db
        self.settings = settings
        self.poll_seconds = poll_seconds
        self.channels = channels if channels is not None else build_channels(db, settings)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-worker", daemon=True)
        self._thread.start()
        log.info("outbox worker started channels=%s", ",".join(sorted(self.channels)))

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
        now = now or utcnow()
        with self.read_db.session() as session:
            if not any_due(session, now):
                return 0
        with self.db.session() as session:
            ids = lease_due(session, now)
        for message_id in ids:
            self._deliver(message_id)
        return len(ids)

    def _load(self, message_id: int) -> OutboundMessage | None:
        with self.db.session() as session:
            row = session.get(OutboxMessage, message_id)
            if row is None or row.state != "sending":
                return None
            account = session.get(Account, row.account_id) if row.account_id else None
            return OutboundMessage(
                id=row.id, account_id=row.account_id, order_id=row.order_id, channel=row.channel, event=row.event,
                recipient=row.recipient, payload=dict(row.payload), webhook_secret=account.webhook_secret if account else "",
            )

    def _deliver(self, message_id: int) -> None:
        message = self._load(message_id)
        if message is None:
            return
        error: DeliveryFailed | None = None
        try:
            self._send(message)
        except DeliveryFailed as err:
            error = err
        except Exception as err:
            # A template or programming error must not kill the worker; the message is retried.
            log.exception("notification crashed message=%s order=%s channel=%s", message.id, message.order_id,
                          message.channel)
            error = DeliveryFailed(f"internal error: {type(err).__name__}")
        self._record(message, error)

    def _send(self, message: OutboundMessage) -> None:
        channel = self.channels.get(message.channel)
        if channel is None:
            raise DeliveryFailed(f"unknown channel {message.channel!r}", permanent=True)
        channel.send(message)

    def _record(self, message: OutboundMessage, error: DeliveryFailed | None) -> None:
        masked = mask_recipient(message.channel, message.recipient)
        with self.db.session() as session:
            row = session.get(OutboxMessage, message.id)
            assert row is not None
            row.attempts += 1
            row.lease_until = None
            if error is None:
                row.state = "sent"
                row.sent_at = utcnow()
                row.last_error = None
                log.info("notification sent message=%s order=%s channel=%s event=%s to=%s", row.id, row.order_id,
                         message.channel, message.event, masked)
                return
            row.last_error = str(error)
            if error.permanent or row.attempts >= self.settings.outbox_max_attempts:
                row.state = "dead"
                log.error("notification dead message=%s order=%s channel=%s to=%s after %s attempts: %s", row.id,
                          row.order_id, message.channel, masked, row.attempts, error)
                return
            row.state = "pending"
            row.next_attempt_at = utcnow() + backoff(row.attempts, self.settings)
            log.warning("notification failed message=%s order=%s channel=%s to=%s attempt=%s retry_at=%s: %s", row.id,
                        row.order_id, message.channel, masked, row.attempts, row.next_attempt_at.isoformat(), error)
