"""Order intake and the order state machine: accept, reject, cancel, reprint, expire."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fleet.errors import IdempotencyMismatch, InvalidInput, NotFound, StateConflict
from fleet.events import queue_event
from fleet.models import Account, Job, Order, OrderEvent, Printer, utcnow
from fleet.notifications.outbox import enqueue_order_status
from fleet.printers import get_printer
from fleet.states import ORDER_ACTIONS, ORDER_TRANSITIONS, WAITING_JOB_STATES, JobState, OrderState, allowed_actions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderItem:
    name: str
    quantity: int
    unit_price: Decimal
    notes: str | None = None


@dataclass(frozen=True)
class OrderInput:
    printer_id: int
    items: list[OrderItem]
    customer: dict[str, Any]
    currency: str
    total: Decimal
    external_id: str | None = None
    order_type: str | None = None
    requested_time: datetime | None = None
    notes: str | None = None
    notify_url: str | None = None
    locale: str | None = None
    expires_in_minutes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON form, to recognise a retried request."""
        def convert(value: Any) -> Any:
            if isinstance(value, Decimal):
                return str(value.normalize())
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, OrderItem):
                return {"name": value.name, "quantity": value.quantity, "unit_price": convert(value.unit_price),
                        "notes": value.notes}
            if isinstance(value, list):
                return [convert(item) for item in value]
            if isinstance(value, dict):
                return {key: convert(item) for key, item in value.items()}
            return value
        body = {name: convert(getattr(self, name)) for name in self.__dataclass_fields__}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Intake:
    order: Order
    #: False when the request repeated an earlier one and the first result is returned.
    created: bool


def new_job_token() -> str:
    return secrets.token_hex(12)


def create_order(
    session: Session, account: Account, data: OrderInput, idempotency_key: str | None, ttl_minutes: int,
    now: datetime | None = None,
) -> Intake:
    """Store a new pending order with its job, or return the order a retried request created.

    A request repeats an earlier one when it carries the same ``Idempotency-Key`` or the same
    ``external_id``. Raises IdempotencyMismatch when the key comes back with a different body.
    """
    now = now or utcnow()
    data = _without_control_characters(data)
    fingerprint = data.fingerprint()
    existing = _find_existing(session, account.id, idempotency_key, data.external_id)
    if existing is not None:
        return _replay(existing, idempotency_key, fingerprint)

    printer = get_printer(session, account.id, data.printer_id)
    _check_total(data)
    ttl = data.expires_in_minutes or ttl_minutes
    order = Order(
        public_id=secrets.token_urlsafe(24), account_id=account.id, printer_id=printer.id,
        external_id=data.external_id, idempotency_key=idempotency_key, request_hash=fingerprint,
        status=OrderState.PENDING,
        items=[{"name": i.name, "quantity": i.quantity, "unit_price": str(i.unit_price), "notes": i.notes} for i in data.items],
        customer=data.customer, order_type=data.order_type, requested_time=data.requested_time, notes=data.notes,
        currency=data.currency, total=data.total, notify_url=data.notify_url, locale=data.locale,
        created_at=now, updated_at=now, expires_at=now + timedelta(minutes=ttl),
    )
    try:
        with session.begin_nested():
            session.add(order)
            session.flush()
    except IntegrityError:
        existing = _find_existing(session, account.id, idempotency_key, data.external_id)
        if existing is None:
            raise
        return _replay(existing, idempotency_key, fingerprint)

    session.add(OrderEvent(order_id=order.id, at=now, event="created", to_status=order.status, source="api"))
    add_job(session, order, printer, now)
    enqueue_order_status(session, order, account)
    queue_event(session, "order.pending", account.id, order_id=order.id, printer_id=printer.id)
    log.info("order created order=%s account=%s printer=%s", order.id, account.id, printer.id)
    return Intake(order, True)


#: C0 controls except tab, line feed and carriage return, plus DEL. PostgreSQL cannot store NUL in text,
#: and none of these belong in an order; printers get text only after the receipt sanitiser anyway.
_CONTROL = {code: None for code in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]}


def _strip(value: Any) -> Any:
    if isinstance(value, str):
        return value.translate(_CONTROL)
    if isinstance(value, dict):
        return {key: _strip(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_strip(item) for item in value]
    return value


def _without_control_characters(data: OrderInput) -> OrderInput:
    """Return ``data`` with control characters removed from every text field, so any intake stores them alike."""
    items = [OrderItem(_strip(i.name), i.quantity, i.unit_price, _strip(i.notes)) for i in data.items]
    return replace(data, items=items, customer=_strip(data.customer), external_id=_strip(data.external_id),
                   notes=_strip(data.notes), order_type=_strip(data.order_type), extra=_strip(data.extra))


def _check_total(data: OrderInput) -> None:
    if not data.items:
        raise InvalidInput("items", "items is empty; an order needs at least one item")
    if data.total < 0:
        raise InvalidInput("total", f"total {data.total} is negative")


def _find_existing(session: Session, account_id: int, key: str | None, external_id: str | None) -> Order | None:
    if key:
        found = session.scalars(select(Order).where(Order.account_id == account_id, Order.idempotency_key == key)).first()
        if found is not None:
            return found
    if external_id:
        return session.scalars(select(Order).where(Order.account_id == account_id, Order.external_id == external_id)).first()
    return None


def _replay(order: Order, key: str | None, fingerprint: str) -> Intake:
    if key and order.idempotency_key == key and order.request_hash != fingerprint:
        raise IdempotencyMismatch(
            f"Idempotency-Key {key!r} was already used for order {order.id} with a different body; "
            "send the identical body to retry, or a new key for a new order"
        )
    log.info("order intake replayed order=%s", order.id)
    return Intake(order, False)


def add_job(session: Session, order: Order, printer: Printer, now: datetime | None = None, kind: str = "order") -> Job:
    """Queue a printable job of ``order`` for ``printer``."""
    now = now or utcnow()
    copies = int((printer.settings or {}).get("copies", 1))
    job = Job(order_id=order.id, printer_id=printer.id, token=new_job_token(), kind=kind, state=JobState.QUEUED,
              copies=copies, created_at=now)
    session.add(job)
    session.flush()
    session.add(OrderEvent(order_id=order.id, job_id=job.id, at=now, event="job_queued", source="api"))
    queue_event(session, "job.queued", order.account_id, job_id=job.id, printer_id=printer.id, order_id=order.id)
    return job


def get_order(session: Session, account_id: int, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None or order.account_id != account_id:
        raise NotFound(f"order {order_id} does not exist in this account")
    return order


def get_order_by_public_id(session: Session, public_id: str) -> Order:
    order = session.scalars(select(Order).where(Order.public_id == public_id)).first()
    if order is None:
        raise NotFound("order not found; check the link")
    return order


def list_orders(session: Session, account_id: int, status: str | None, limit: int, offset: int) -> list[Order]:
    query = select(Order).where(Order.account_id == account_id)
    if status:
        query = query.where(Order.status == status)
    return list(session.scalars(query.order_by(Order.id.desc()).limit(limit).offset(offset)))


def transition(session: Session, order: Order, to: OrderState, source: str, now: datetime | None = None,
               job_id: int | None = None, **detail: Any) -> None:
    """Move ``order`` to ``to``, record it in the history and queue its notifications."""
    now = now or utcnow()
    current = OrderState(order.status)
    if to == current:
        return
    if to not in ORDER_TRANSITIONS[current]:
        raise StateConflict(f"order {order.id} is {current} and cannot become {to}", current, allowed_actions(current))
    order.status = to
    order.updated_at = now
    session.add(OrderEvent(order_id=order.id, job_id=job_id, at=now, event="status", from_status=current,
                           to_status=to, source=source, detail={k: v for k, v in detail.items() if v is not None}))
    enqueue_order_status(session, order, order.printer.account)
    queue_event(session, f"order.{to}", order.account_id, order_id=order.id, printer_id=order.printer_id,
                status=str(to), previous=str(current))
    log.info("order status order=%s from=%s to=%s source=%s", order.id, current, to, source)


def _require(order: Order, action: str) -> None:
    state = OrderState(order.status)
    if state not in ORDER_ACTIONS[action]:
        raise StateConflict(
            f"order {order.id} is {state}; {action} is not possible in that state", state, allowed_actions(state),
        )


def _lock(session: Session, order: Order) -> Order:
    """Re-read ``order`` with a row lock (PostgreSQL) so concurrent decisions serialise."""
    session.refresh(order, with_for_update=True)
    return order


def accept_order(session: Session, order: Order, source: str, eta_minutes: int | None = None,
                 eta_time: datetime | None = None, now: datetime | None = None) -> Order:
    """Accept with an estimated time; repeating the same accept is a no-op."""
    now = now or utcnow()
    _lock(session, order)
    if order.status == OrderState.ACCEPTED:
        return order
    _require(order, "accept")
    if eta_minutes is not None:
        order.eta_at = now + timedelta(minutes=eta_minutes)
    elif eta_time is not None:
        order.eta_at = eta_time.astimezone(UTC)
    order.decided_by = source
    transition(session, order, OrderState.ACCEPTED, source, now, eta=order.eta_at.isoformat() if order.eta_at else None)
    return order


def reject_order(session: Session, order: Order, source: str, reason: str, now: datetime | None = None) -> Order:
    """Reject with a reason; repeating the same reject is a no-op."""
    _lock(session, order)
    if order.status == OrderState.REJECTED:
        return order
    _require(order, "reject")
    order.reject_reason = reason
    order.decided_by = source
    _cancel_waiting_jobs(session, order, now)
    transition(session, order, OrderState.REJECTED, source, now, reason=reason)
    return order


def cancel_order(session: Session, order: Order, source: str, now: datetime | None = None) -> Order:
    _lock(session, order)
    if order.status == OrderState.CANCELLED:
        return order
    _require(order, "cancel")
    _cancel_waiting_jobs(session, order, now)
    transition(session, order, OrderState.CANCELLED, source, now)
    return order


def reprint_order(session: Session, order: Order, source: str, now: datetime | None = None) -> Job:
    """Queue a new job for the order on its printer; a person asked for it, so it is never automatic."""
    _lock(session, order)
    _require(order, "reprint")
    now = now or utcnow()
    if order.printer.deleted_at is not None:
        raise StateConflict(f"order {order.id} was for printer {order.printer_id}, which is retired; "
                            "send the order again to another printer", order.status, [])
    # A reprint gets a fresh waiting time, or an order older than its expiry would never be offered.
    order.expires_at = max(order.expires_at, now + (order.expires_at - order.created_at))
    if order.status in (OrderState.FAILED, OrderState.EXPIRED):
        transition(session, order, OrderState.PENDING, source, now, reason="reprint")
    job = add_job(session, order, order.printer, now, kind="reprint")
    session.add(OrderEvent(order_id=order.id, job_id=job.id, at=now, event="reprint_requested", source=source))
    return job


def _cancel_waiting_jobs(session: Session, order: Order, now: datetime | None) -> None:
    session.execute(
        update(Job).where(Job.order_id == order.id, Job.state.in_(WAITING_JOB_STATES))
        .values(state=JobState.CANCELLED, finished_at=now or utcnow())
    )


def expire_orders(session: Session, now: datetime | None = None, batch: int = 500) -> int:
    """Expire pending orders past their expiry so they are never offered; return how many."""
    now = now or utcnow()
    orders = list(session.scalars(
        select(Order).where(Order.status == OrderState.PENDING, Order.expires_at <= now).limit(batch)
    ))
    for order in orders:
        session.execute(
            update(Job).where(Job.order_id == order.id, Job.state.in_(WAITING_JOB_STATES))
            .values(state=JobState.EXPIRED, finished_at=now)
        )
        transition(session, order, OrderState.EXPIRED, "scheduler", now)
    return len(orders)
