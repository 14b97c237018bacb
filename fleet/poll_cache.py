"""In-memory state that keeps idle printer polls away from the database.

Most polls of a healthy fleet change nothing: the printer is known, its status is the same and it has
no waiting job. Answering those from memory is what lets one process serve thousands of printers.

- :class:`PrinterCache` holds a snapshot of each polling printer for ``ttl`` seconds; changes made in
  this process replace or drop the snapshot at once, changes made by other processes show after the TTL.
- :class:`WorkIndex` holds the ids of printers with waiting jobs. Jobs queued in this process mark
  their printer at once (bus event ``job.queued``); the whole set is reloaded from the database every
  ``refresh_seconds`` so jobs queued by other processes are seen within that time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from fleet.db import Database
from fleet.events import Event
from fleet.models import Account, Job, Printer
from fleet.states import WAITING_JOB_STATES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrinterSnapshot:
    id: int
    account_id: int
    online: bool
    conditions: frozenset[str]
    status_code: str | None
    client_info: dict[str, Any]
    client_info_at: datetime | None
    settings: dict[str, Any]
    poll_interval_seconds: int | None

    @classmethod
    def of(cls, printer: Printer) -> PrinterSnapshot:
        return cls(printer.id, printer.account_id, printer.online, frozenset(printer.conditions or []),
                   printer.status_code, dict(printer.client_info or {}), printer.client_info_at,
                   dict(printer.settings or {}), printer.poll_interval_seconds)


_MISSING = object()


class PrinterCache:
    """Snapshots of printers by (device key, identifier), and account ids by device key."""

    def __init__(self, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, PrinterSnapshot | None, int | None]] = {}
        self._by_printer: dict[int, tuple[str, str]] = {}

    def get(self, device_key: str, identifier: str) -> Any:
        """Return (snapshot or None, account id or None), or ``_MISSING`` when not cached or expired."""
        with self._lock:
            entry = self._entries.get((device_key, identifier))
        if entry is None or self._clock() - entry[0] > self.ttl:
            return _MISSING
        return entry[1], entry[2]

    def put(self, device_key: str, identifier: str, snapshot: PrinterSnapshot | None, account_id: int | None) -> None:
        with self._lock:
            self._entries[(device_key, identifier)] = (self._clock(), snapshot, account_id)
            if snapshot is not None:
                self._by_printer[snapshot.id] = (device_key, identifier)

    def update(self, snapshot: PrinterSnapshot) -> None:
        """Replace the snapshot of a printer this process just changed, keeping its age."""
        with self._lock:
            key = self._by_printer.get(snapshot.id)
            if key is not None and key in self._entries:
                stamp, _, account_id = self._entries[key]
                self._entries[key] = (stamp, snapshot, account_id)

    def drop_printer(self, printer_id: int) -> None:
        with self._lock:
            key = self._by_printer.pop(printer_id, None)
            if key is not None:
                self._entries.pop(key, None)

    def on_event(self, event: Event) -> None:
        """Bus handler: forget printers whose registration, settings or health changed elsewhere in this process."""
        printer_id = event.data.get("printer_id")
        if isinstance(printer_id, int):
            self.drop_printer(printer_id)
        elif event.name == "printer.quarantined" or event.name == "printer.registered":
            with self._lock:
                self._entries = {key: value for key, value in self._entries.items() if value[1] is not None}

    def load(self, db: Database, device_key: str, identifier: str,
             finder: Callable[[Any, int], Printer | None]) -> tuple[PrinterSnapshot | None, int | None]:
        """Return the cached entry or read it with ``finder(session, account_id)`` and cache it."""
        cached = self.get(device_key, identifier)
        if cached is not _MISSING:
            return cached  # type: ignore[no-any-return]
        with db.session() as session:
            account_id = session.scalars(select(Account.id).where(Account.device_key == device_key)).first()
            printer = finder(session, account_id) if account_id is not None else None
            snapshot = PrinterSnapshot.of(printer) if printer is not None else None
        self.put(device_key, identifier, snapshot, account_id)
        return snapshot, account_id


class WorkIndex:
    """Ids of printers that have at least one waiting job, refreshed from the database periodically."""

    def __init__(self, db: Database, refresh_seconds: float = 0.5, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._printers: set[int] = set()
        self._marked_at: dict[int, float] = {}
        self._loaded_at = float("-inf")

    def mark(self, printer_id: int) -> None:
        with self._lock:
            self._printers.add(printer_id)
            self._marked_at[printer_id] = self._clock()

    def on_event(self, event: Event) -> None:
        """Bus handler for ``job.queued``: the printer has work now."""
        printer_id = event.data.get("printer_id")
        if isinstance(printer_id, int):
            self.mark(printer_id)

    def clear(self, printer_id: int) -> None:
        """Forget a printer after the database showed it has no waiting job."""
        with self._lock:
            self._printers.discard(printer_id)

    def has_work(self, printer_id: int) -> bool:
        self._refresh_if_stale()
        with self._lock:
            return printer_id in self._printers

    def _refresh_if_stale(self) -> None:
        now = self._clock()
        with self._lock:
            if now - self._loaded_at < self.refresh_seconds:
                return
            self._loaded_at = now
        with self.db.session() as session:
            ids = set(session.scalars(select(Job.printer_id).where(Job.state.in_(WAITING_JOB_STATES)).distinct()))
        with self._lock:
            # A mark made while the query ran stays: the query's snapshot may predate that job's commit.
            recent = {pid for pid, marked in self._marked_at.items() if marked >= now}
            self._printers = ids | recent
            self._marked_at = {pid: self._marked_at[pid] for pid in recent}
        log.debug("work index refreshed printers=%s", len(ids))
