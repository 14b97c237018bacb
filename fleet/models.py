"""SQLAlchemy models. Timestamps are timezone-aware UTC; money is Numeric, never float."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Store UTC; SQLite drops the zone, so it is put back on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; use an aware UTC datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


IdType = BigInteger().with_variant(Integer, "sqlite")


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: Secret path segment of the printer URLs (CloudPRNT, Epson SDP) of this account.
    device_key: Mapped[str] = mapped_column(String(64), unique=True)
    #: Goodcom ``a=`` value (restaurant id) of this account's order printers.
    goodcom_code: Mapped[str] = mapped_column(String(32), unique=True)
    #: HMAC-SHA256 key signing this account's webhooks.
    webhook_secret: Mapped[str] = mapped_column(String(128))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    #: IANA time zone of the shop, e.g. ``Europe/Berlin``: printers that speak local clock times use it.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    #: Public lookup part of the key (``pf_<prefix>_<secret>``).
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    #: SHA-256 of the whole key; keys are 256-bit random, so a fast hash is enough.
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    account: Mapped[Account] = relationship()


class Printer(Base):
    __tablename__ = "printers"
    __table_args__ = (
        UniqueConstraint("account_id", "mac", name="uq_printers_account_mac"),
        Index("ix_printers_account", "account_id", "deleted_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    protocol: Mapped[str] = mapped_column(String(32))
    mac: Mapped[str | None] = mapped_column(String(17), default=None)
    #: Device login for protocols with their own credentials (Goodcom ``u``; Epson SDP ``ID``).
    device_user: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    device_password_hash: Mapped[str | None] = mapped_column(String(128), default=None)
    #: Print settings: copies, cut, buzzer, header, footer, require_decision, ...
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: What the printer reported about itself (CloudPRNT client actions and the like).
    client_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    client_info_at: Mapped[datetime | None] = mapped_column(default=None)
    profile: Mapped[str | None] = mapped_column(String(64), default=None)

    online: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Active health conditions, e.g. ["paper_low", "cover_open"], sorted.
    conditions: Mapped[list[Any]] = mapped_column(default=list)
    #: Protocol-specific detail of the last health reading (supplies, alerts, ASB bytes, ...).
    health_detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    poll_interval_seconds: Mapped[int | None] = mapped_column(Integer, default=None)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    account: Mapped[Account] = relationship()


class QuarantinedPrinter(Base):
    """A printer that probed with an identity no registered printer has; it gets no jobs."""

    __tablename__ = "quarantined_printers"
    __table_args__ = (UniqueConstraint("account_id", "protocol", "identifier", name="uq_quarantine_identity"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    protocol: Mapped[str] = mapped_column(String(32))
    #: MAC for CloudPRNT, user for Goodcom, ID for Epson SDP.
    identifier: Mapped[str] = mapped_column(String(128))
    remote_addr: Mapped[str | None] = mapped_column(String(64), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    probe_count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("account_id", "external_id", name="uq_orders_external_id"),
        UniqueConstraint("account_id", "idempotency_key", name="uq_orders_idempotency_key"),
        Index("ix_orders_account_status", "account_id", "status", "created_at"),
        Index("ix_orders_status_expires", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    #: Unguessable id used in the customer's order status URL.
    public_id: Mapped[str] = mapped_column(String(43), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    printer_id: Mapped[int] = mapped_column(ForeignKey("printers.id"))
    external_id: Mapped[str | None] = mapped_column(String(128), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    #: SHA-256 of the canonical request body, to detect a reused idempotency key with another body.
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    items: Mapped[list[Any]] = mapped_column()
    customer: Mapped[dict[str, Any]] = mapped_column()
    order_type: Mapped[str | None] = mapped_column(String(32), default=None)
    requested_time: Mapped[datetime | None] = mapped_column(default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    notify_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    locale: Mapped[str | None] = mapped_column(String(16), default=None)
    eta_at: Mapped[datetime | None] = mapped_column(default=None)
    reject_reason: Mapped[str | None] = mapped_column(Text, default=None)
    decided_by: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    expires_at: Mapped[datetime] = mapped_column()

    printer: Mapped[Printer] = relationship()
    jobs: Mapped[list[Job]] = relationship(back_populates="order", order_by="Job.id")
    history: Mapped[list[OrderEvent]] = relationship(order_by="OrderEvent.id")


class OrderEvent(Base):
    """One entry of an order's history: a status change or a job event."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16), default=None)
    to_status: Mapped[str | None] = mapped_column(String(16), default=None)
    #: Who caused it: ``api``, ``printer``, ``dashboard``, ``scheduler``.
    source: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_printer_state", "printer_id", "state", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), default=None)
    printer_id: Mapped[int] = mapped_column(ForeignKey("printers.id"))
    #: Opaque token sent to the printer (CloudPRNT ``jobToken``, Epson ``printjobid``).
    token: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="order")
    state: Mapped[str] = mapped_column(String(16))
    copies: Mapped[int] = mapped_column(Integer, default=1)
    media_type: Mapped[str | None] = mapped_column(String(64), default=None)
    result_code: Mapped[str | None] = mapped_column(String(64), default=None)
    fetch_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    offered_at: Mapped[datetime | None] = mapped_column(default=None)
    fetched_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    order: Mapped[Order | None] = relationship(back_populates="jobs")
    printer: Mapped[Printer] = relationship()


class HealthEvent(Base):
    """One printer health transition (went offline, paper out raised, cover open cleared, ...)."""

    __tablename__ = "health_events"
    __table_args__ = (Index("ix_health_events_printer_at", "printer_id", "at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    printer_id: Mapped[int] = mapped_column(ForeignKey("printers.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: ``went_offline``, ``came_online``, ``raised``, ``cleared`` or ``rebooted`` (SNMP uptime went back).
    kind: Mapped[str] = mapped_column(String(16))
    condition: Mapped[str | None] = mapped_column(String(32), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class HealthSnapshot(Base):
    """A periodic copy of a printer's decoded health, for history plots."""

    __tablename__ = "health_snapshots"
    __table_args__ = (Index("ix_health_snapshots_printer_at", "printer_id", "at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    printer_id: Mapped[int] = mapped_column(ForeignKey("printers.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    online: Mapped[bool] = mapped_column(Boolean)
    conditions: Mapped[list[Any]] = mapped_column(default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutboxMessage(Base):
    """A notification written in the transaction that caused it and delivered after commit."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), default=None)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), default=None, index=True)
    #: ``webhook`` or ``email``.
    channel: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(64))
    #: Where it goes: a URL or an email address.
    recipient: Mapped[str] = mapped_column(String(2048))
    payload: Mapped[dict[str, Any]] = mapped_column()
    #: ``pending``, ``sending`` (leased by a worker), ``sent`` or ``dead``.
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
