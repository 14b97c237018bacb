"""Tables of the SNMP area: per-printer SNMP access and poll schedule, and per-account operator alerts.

They live apart from :mod:`fleet.models` so the SNMP area migrates on its own Alembic branch
(``snmp``, revision 0100).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from fleet.models import Base, IdType, utcnow


class PrinterSnmp(Base):
    """How to reach one SNMP printer, what its probe found, and when it is polled next (1:1 with printers)."""

    __tablename__ = "printer_snmp"
    __table_args__ = (Index("ix_printer_snmp_next_poll", "next_poll_at"),)

    printer_id: Mapped[int] = mapped_column(IdType, ForeignKey("printers.id", ondelete="CASCADE"), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=161)
    #: ``1``, ``2c`` or ``3``.
    version: Mapped[str] = mapped_column(String(4))
    #: ``{"community": ...}`` for v1/v2c, or ``{"v3": {user, auth_protocol, auth_key, priv_protocol, priv_key}}``.
    #: Secrets: never logged and never returned by the API.
    secret: Mapped[dict[str, Any]] = mapped_column()
    poll_interval_seconds: Mapped[int] = mapped_column(Integer, default=60)
    full_walk_interval_seconds: Mapped[int] = mapped_column(Integer, default=900)
    #: A consumed supply below this level (in %) raises ``supply_low``.
    supply_low_percent: Mapped[float] = mapped_column(Float, default=10.0)

    vendor: Mapped[str | None] = mapped_column(String(128), default=None)
    model: Mapped[str | None] = mapped_column(String(255), default=None)
    serial_number: Mapped[str | None] = mapped_column(String(128), default=None)
    mac: Mapped[str | None] = mapped_column(String(17), default=None)
    sys_object_id: Mapped[str | None] = mapped_column(String(255), default=None)
    #: hrDeviceIndex of the printer row, needed for Printer-MIB SETs such as prtGeneralReset.
    printer_index: Mapped[int | None] = mapped_column(Integer, default=None)

    next_poll_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_polled_at: Mapped[datetime | None] = mapped_column(default=None)
    last_snapshot_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Why the last poll got no answer (``timeout``, ``unreachable``, ``auth_failed``, ``protocol_error``).
    last_error: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccountAlertSettings(Base):
    """Where an account's operators hear about printer health transitions (1:1 with accounts)."""

    __tablename__ = "account_alert_settings"

    account_id: Mapped[int] = mapped_column(IdType, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    operator_email: Mapped[str | None] = mapped_column(String(254), default=None)
    operator_webhook_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
