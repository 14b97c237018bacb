"""The service container one app instance runs on: settings, database, bus, presence, workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fleet.config import Settings
from fleet.db import Database
from fleet.events import EventBus
from fleet.health import Presence
from fleet.notifications.delivery import OutboxWorker
from fleet.poll_cache import PrinterCache, WorkIndex


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: EventBus
    presence: Presence
    outbox: OutboxWorker
    #: Database opened without ``BEGIN IMMEDIATE`` for read-only hot paths (idle printer polls).
    read_db: Database
    #: Snapshots of polling printers, so idle polls need no database read.
    printer_cache: PrinterCache
    #: Printers with waiting jobs, so idle polls need no job query.
    work_index: WorkIndex
    #: Components added by the composition root (scheduler, MQTT bridge, SNMP poller, ...).
    extras: dict[str, Any] = field(default_factory=dict)
