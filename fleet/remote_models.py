"""Tables of the remote-operation area: settings twin and its versions, groups, tags, sites, bulk
operations and the audit log.

They live apart from :mod:`fleet.models` so the area migrates on its own Alembic branch (``remote``,
revision 0200).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fleet.models import Base, IdType, utcnow


class SettingsTwin(Base):
    """Desired and reported device settings of one printer, with versions (1:1 with printers).

    Server-side settings are applied at once into ``printers.settings``, which stays their store;
    this row keeps the device-side values and the version counter for both.
    """

    __tablename__ = "printer_settings_twin"

    printer_id: Mapped[int] = mapped_column(IdType, ForeignKey("printers.id", ondelete="CASCADE"), primary_key=True)
    #: Device-side settings support staff asked for, by setting name.
    desired: Mapped[dict[str, Any]] = mapped_column(default=dict)
    desired_version: Mapped[int] = mapped_column(Integer, default=0)
    #: Device-side values the printer confirmed (read back, or reported by the device).
    reported: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Highest desired version whose device-side values were all confirmed.
    reported_version: Mapped[int] = mapped_column(Integer, default=0)
    reported_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Per setting: ``{"state": pending|confirmed|failed, "version": n, "message": str, "at": iso}``.
    push_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Profile an operator chose; None when the profile is recognised automatically.
    profile_override: Mapped[str | None] = mapped_column(String(64), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SettingsVersion(Base):
    """One version of a printer's desired settings, kept for history and rollback."""

    __tablename__ = "printer_settings_versions"
    __table_args__ = (UniqueConstraint("printer_id", "version", name="uq_settings_version"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    printer_id: Mapped[int] = mapped_column(ForeignKey("printers.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    #: Every desired value after this version (server-side and device-side).
    desired: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: ``{name: [before, after]}`` of the settings this version changed.
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: ``applied`` (every value in effect), ``pending`` (waiting for the printer) or ``failed``.
    state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[dict[str, Any]] = mapped_column(default=dict)
    audit_id: Mapped[int | None] = mapped_column(IdType, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PrinterGroup(Base):
    __tablename__ = "printer_groups"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_printer_groups_name"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PrinterGroupMember(Base):
    __tablename__ = "printer_group_members"

    group_id: Mapped[int] = mapped_column(IdType, ForeignKey("printer_groups.id", ondelete="CASCADE"), primary_key=True)
    printer_id: Mapped[int] = mapped_column(IdType, ForeignKey("printers.id", ondelete="CASCADE"), primary_key=True,
                                            index=True)


class PrinterTag(Base):
    __tablename__ = "printer_tags"
    __table_args__ = (Index("ix_printer_tags_tag", "tag"),)

    printer_id: Mapped[int] = mapped_column(IdType, ForeignKey("printers.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)


class PrinterSite(Base):
    """The site (shop, branch, venue) a printer is at (1:1 with printers)."""

    __tablename__ = "printer_sites"

    printer_id: Mapped[int] = mapped_column(IdType, ForeignKey("printers.id", ondelete="CASCADE"), primary_key=True)
    site: Mapped[str] = mapped_column(String(100), index=True)


class BulkOperation(Base):
    """One remote operation over a selection of printers, run in the background."""

    __tablename__ = "bulk_operations"
    __table_args__ = (Index("ix_bulk_operations_state", "state", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    #: ``settings``, ``test_print`` or a command name such as ``reboot``.
    action: Mapped[str] = mapped_column(String(32))
    selection: Mapped[dict[str, Any]] = mapped_column(default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``queued``, ``running``, ``finished`` or ``failed``.
    state: Mapped[str] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    succeeded: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    #: Printers handled per second at most.
    rate_per_second: Mapped[float] = mapped_column(Float)
    actor: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class BulkResult(Base):
    """The result of a bulk operation on one printer."""

    __tablename__ = "bulk_operation_results"
    __table_args__ = (UniqueConstraint("operation_id", "printer_id", name="uq_bulk_result_printer"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("bulk_operations.id", ondelete="CASCADE"))
    printer_id: Mapped[int] = mapped_column(ForeignKey("printers.id", ondelete="CASCADE"))
    #: ``pending``, ``ok``, ``refused`` (not possible for this printer) or ``failed``.
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEntry(Base):
    """One audited remote operation: actor, time, target, values before and after, and result."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_account_at", "account_id", "at"), Index("ix_audit_printer_at", "printer_id", "at"))

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: ``api_key``, ``user`` (dashboard) or ``system``.
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    #: Dotted action, e.g. ``settings.change``, ``command.reboot``, ``test_print``, ``bulk.start``.
    action: Mapped[str] = mapped_column(String(48))
    printer_id: Mapped[int | None] = mapped_column(ForeignKey("printers.id", ondelete="SET NULL"), default=None)
    bulk_operation_id: Mapped[int | None] = mapped_column(ForeignKey("bulk_operations.id", ondelete="SET NULL"),
                                                          default=None)
    target: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any]] = mapped_column(default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: ``ok``, ``pending`` (waiting for the printer), ``failed`` or ``rejected``.
    result: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
