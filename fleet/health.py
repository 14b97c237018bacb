"""Printer health: readings from any protocol, transitions, presence and the offline sweep.

A reading replaces the printer's conditions; what changed becomes one HealthEvent per transition
(``went_offline``, ``came_online``, ``raised``, ``cleared``), so operators hear about a paper-out once,
not once per poll. Presence (last seen) is kept in memory on the poll path and written to the
database in batches, because a write per idle poll would cap the whole fleet at the database's
write rate.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from fleet.events import queue_event
from fleet.models import HealthEvent, HealthSnapshot, Printer, utcnow

log = logging.getLogger(__name__)

#: Conditions that stop a printer from printing; the rest are warnings.
ERROR_CONDITIONS = frozenset({"paper_out", "cover_open", "jam", "toner_out", "offline_bit", "mechanical_error",
                              "cutter_error", "unrecoverable_error", "unreachable", "output_full"})


@dataclass(frozen=True)
class HealthReading:
    """A printer's state as one poll or status message reported it."""

    online: bool
    conditions: frozenset[str] = frozenset()
    status_code: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    poll_interval_seconds: int | None = None


def worst_condition(conditions: list[str] | frozenset[str], online: bool) -> str:
    """Return ``offline``, ``error``, ``warning`` or ``ok`` for display and filtering."""
    if not online:
        return "offline"
    if any(condition in ERROR_CONDITIONS for condition in conditions):
        return "error"
    return "warning" if conditions else "ok"


@dataclass
class HealthRows:
    """Event and snapshot rows of many readings, written with one executemany INSERT per table by :meth:`insert`.

    For protocols that store bursts of readings in one transaction. In ``bench/mqtt_telemetry.py``
    (every report a transition, SQLite) this raised the stored reports per second from about 4,100
    with ORM objects to about 6,000.
    """

    events: list[dict[str, Any]] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)

    def insert(self, session: Session) -> None:
        # Core inserts on the tables, because the ORM's bulk insert adds per-row work of its own.
        if self.events:
            session.execute(insert(HealthEvent.__table__), self.events)
        if self.snapshots:
            session.execute(insert(HealthSnapshot.__table__), self.snapshots)
        self.events, self.snapshots = [], []


def apply_reading(session: Session, printer: Printer, reading: HealthReading, now: datetime | None = None,
                  snapshot: bool = False, rows: HealthRows | None = None) -> list[HealthEvent]:
    """Store ``reading`` on ``printer`` and record one event per transition; return the events.

    With ``rows`` the events and the snapshot are collected there instead of added to ``session``, and
    the caller writes them with ``rows.insert(session)`` before it commits.
    """
    now = now or utcnow()
    events: list[HealthEvent] = []
    if reading.online != printer.online:
        kind = "came_online" if reading.online else "went_offline"
        events.append(HealthEvent(printer_id=printer.id, at=now, kind=kind, detail={"status_code": reading.status_code}))

    before = set(printer.conditions or [])
    after = set(reading.conditions)
    for condition in sorted(after - before):
        events.append(HealthEvent(printer_id=printer.id, at=now, kind="raised", condition=condition))
    for condition in sorted(before - after):
        events.append(HealthEvent(printer_id=printer.id, at=now, kind="cleared", condition=condition))

    printer.online = reading.online
    printer.conditions = sorted(after)
    printer.status_code = reading.status_code
    if reading.detail:
        printer.health_detail = reading.detail
    if reading.online:
        printer.last_seen_at = now
    if reading.poll_interval_seconds:
        printer.poll_interval_seconds = reading.poll_interval_seconds

    for item in events:
        if rows is None:
            session.add(item)
        else:
            rows.events.append({"printer_id": item.printer_id, "at": item.at, "kind": item.kind,
                                "condition": item.condition, "detail": item.detail or {}})
        log.info("printer health printer=%s event=%s condition=%s", printer.id, item.kind, item.condition or "-")
    if events or snapshot:
        values = {"printer_id": printer.id, "at": now, "online": reading.online, "conditions": sorted(after),
                  "detail": reading.detail}
        if rows is None:
            session.add(HealthSnapshot(**values))
        else:
            rows.snapshots.append(values)
    if events:
        queue_event(session, "printer.health", printer.account_id, printer_id=printer.id, online=reading.online,
                    conditions=sorted(after), worst=worst_condition(sorted(after), reading.online),
                    transitions=[{"kind": e.kind, "condition": e.condition} for e in events])
    return events


def offline_after(printer: Printer, default_interval: int) -> timedelta:
    """Silence after which a polling printer counts as offline: 2 × its poll interval + 5 s."""
    interval = printer.poll_interval_seconds or default_interval
    return timedelta(seconds=2 * interval + 5)


class Presence:
    """Last-seen times of printers polled by this process, flushed to the database in batches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[int, datetime] = {}

    def touch(self, printer_id: int, now: datetime | None = None) -> None:
        with self._lock:
            self._seen[printer_id] = now or utcnow()

    def last_seen(self, printer_id: int) -> datetime | None:
        with self._lock:
            return self._seen.get(printer_id)

    def flush(self, session: Session) -> int:
        """Write the collected last-seen times; return how many printers were updated."""
        with self._lock:
            pending, self._seen = self._seen, {}
        if not pending:
            return 0
        table = Printer.__table__
        statement = (
            update(table).where(table.c.id == bindparam("printer_id"))
            .where(table.c.last_seen_at.is_(None) | (table.c.last_seen_at < bindparam("seen")))
            .values(last_seen_at=bindparam("seen"))
        )
        session.connection().execute(statement, [{"printer_id": pid, "seen": seen} for pid, seen in pending.items()])
        return len(pending)


def sweep_offline(session: Session, presence: Presence, default_interval: int, now: datetime | None = None) -> list[int]:
    """Mark printers offline that polled before but went silent for 2 × interval + 5 s; return their ids.

    Only protocols where the printer polls us are swept here; SNMP printers go offline when a poll
    gets no answer.
    """
    now = now or utcnow()
    presence.flush(session)
    went_offline: list[int] = []
    candidates = session.scalars(
        select(Printer).where(Printer.online.is_(True), Printer.deleted_at.is_(None),
                              Printer.protocol.in_(("cloudprnt", "goodcom", "epson_sdp")))
    )
    for printer in candidates:
        last = printer.last_seen_at
        if last is not None and now - last <= offline_after(printer, default_interval):
            continue
        apply_reading(session, printer, HealthReading(online=False, conditions=frozenset(printer.conditions or []),
                                                      status_code=printer.status_code), now)
        went_offline.append(printer.id)
    return went_offline


def health_view(printer: Printer, presence: Presence | None = None) -> dict[str, Any]:
    """Return the health document the API and dashboards show for ``printer``."""
    last_seen = printer.last_seen_at
    recent = presence.last_seen(printer.id) if presence else None
    if recent is not None and (last_seen is None or recent > last_seen):
        last_seen = recent
    conditions = list(printer.conditions or [])
    return {
        "online": printer.online,
        "state": worst_condition(conditions, printer.online),
        "conditions": conditions,
        "status_code": printer.status_code,
        "last_seen_at": last_seen.isoformat() if last_seen else None,
        "poll_interval_seconds": printer.poll_interval_seconds,
        "detail": printer.health_detail or {},
    }


def history(session: Session, printer_id: int, limit: int = 200) -> list[HealthEvent]:
    query = select(HealthEvent).where(HealthEvent.printer_id == printer_id).order_by(HealthEvent.id.desc()).limit(limit)
    return list(session.scalars(query))
