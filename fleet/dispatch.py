"""Job dispatch: offer, atomic claim, confirmation, and the confirmation timeout.

The claim is one ``UPDATE … WHERE state IN (queued, offered) RETURNING`` statement: on SQLite the
single writer makes it atomic, on PostgreSQL the state condition is re-checked after a row lock, so
a job is handed out once however many requests race for it. A fetched job is never handed out again
on its own: without a confirmation it becomes ``unconfirmed`` and waits for a late confirmation or a
person's reprint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from fleet.events import queue_event
from fleet.models import Job, Order, OrderEvent, Printer, utcnow
from fleet.orders import transition
from fleet.states import HELD_JOB_STATES, WAITING_JOB_STATES, JobState, OrderState

log = logging.getLogger(__name__)


def next_job(session: Session, printer_id: int, now: datetime | None = None) -> Job | None:
    """Return the oldest job waiting for ``printer_id`` whose order has not expired or closed."""
    now = now or utcnow()
    query = (
        select(Job).outerjoin(Order, Job.order_id == Order.id)
        .where(Job.printer_id == printer_id, Job.state.in_(WAITING_JOB_STATES))
        .where((Job.order_id.is_(None)) | ((Order.expires_at > now) & Order.status.in_(_PRINTABLE_ORDER_STATES)))
        .order_by(Job.id).limit(1)
    )
    return session.scalars(query).first()


_PRINTABLE_ORDER_STATES = (OrderState.PENDING, OrderState.PRINTING, OrderState.PRINTED, OrderState.ACCEPTED,
                           OrderState.REJECTED)


def mark_offered(session: Session, job: Job, now: datetime | None = None) -> None:
    """Record that ``job`` was announced to its printer (queued → offered; no-op otherwise)."""
    now = now or utcnow()
    result = session.execute(
        update(Job).where(Job.id == job.id, Job.state == JobState.QUEUED).values(state=JobState.OFFERED, offered_at=now)
    )
    if result.rowcount:
        session.refresh(job)
        log.debug("job offered job=%s printer=%s", job.id, job.printer_id)


def offer_next(session: Session, printer_id: int, now: datetime | None = None) -> tuple[int, str] | None:
    """Find the printer's next job and mark it offered in one transaction; return (job id, token)."""
    now = now or utcnow()
    job = next_job(session, printer_id, now)
    if job is None:
        return None
    if job.state == JobState.QUEUED:
        session.execute(
            update(Job).where(Job.id == job.id, Job.state == JobState.QUEUED)
            .values(state=JobState.OFFERED, offered_at=now)
        )
        log.debug("job offered job=%s printer=%s", job.id, printer_id)
    return job.id, job.token


@dataclass(frozen=True)
class Claim:
    job: Job
    #: False when the printer fetched this job before and is fetching it again (a repeatable GET).
    first_fetch: bool


def claim_job(session: Session, printer: Printer, token: str, media_type: str | None = None,
              now: datetime | None = None) -> Claim | None:
    """Hand the job with ``token`` to ``printer`` once; return None when it has no such job to give.

    A printer may GET the same job again (another media type, a retry); that returns the job with
    ``first_fetch=False`` and changes nothing but the fetch count.
    """
    now = now or utcnow()
    claimed = session.execute(
        update(Job)
        .where(Job.token == token, Job.printer_id == printer.id, Job.state.in_(WAITING_JOB_STATES))
        .values(state=JobState.FETCHED, fetched_at=now, media_type=media_type, fetch_count=Job.fetch_count + 1)
        .returning(Job.id)
    ).scalar_one_or_none()
    if claimed is not None:
        job = session.scalars(
            select(Job).where(Job.id == claimed).execution_options(populate_existing=True)
            .options(joinedload(Job.printer).joinedload(Printer.account),
                     joinedload(Job.order).joinedload(Order.printer).joinedload(Printer.account))
        ).unique().one()
        _on_first_fetch(session, job, now)
        return Claim(job, True)

    job = session.scalars(select(Job).where(Job.token == token, Job.printer_id == printer.id)).first()
    if job is None or job.state not in HELD_JOB_STATES:
        return None
    job.fetch_count += 1
    log.info("job fetched again job=%s printer=%s count=%s", job.id, printer.id, job.fetch_count)
    return Claim(job, False)


def claim_next(session: Session, printer: Printer, now: datetime | None = None) -> Claim | None:
    """Claim the oldest waiting job for protocols whose fetch carries no token (Goodcom, Epson SDP)."""
    now = now or utcnow()
    for _attempt in range(3):
        job = next_job(session, printer.id, now)
        if job is None:
            return None
        claim = claim_job(session, printer, job.token, now=now)
        if claim is not None and claim.first_fetch:
            return claim
    return None


def _on_first_fetch(session: Session, job: Job, now: datetime) -> None:
    log.info("job fetched job=%s printer=%s", job.id, job.printer_id)
    queue_event(session, "job.fetched", job.printer.account_id, job_id=job.id, printer_id=job.printer_id,
                order_id=job.order_id)
    if job.order is None:
        return
    session.add(OrderEvent(order_id=job.order_id, job_id=job.id, at=now, event="job_fetched", source="printer"))
    if job.order.status == OrderState.PENDING:
        transition(session, job.order, OrderState.PRINTING, "printer", now, job_id=job.id)


def confirm_job(session: Session, printer: Printer, token: str, success: bool, code: str | None,
                retry: bool = False, now: datetime | None = None) -> Job | None:
    """Record the printer's result for the job with ``token``; idempotent.

    ``success`` completes a fetched or unconfirmed job (a late confirmation still counts). A failure
    marks it failed, unless ``retry`` indicates the printer never got the data (download timeout), in
    which case the job goes back to the queue. Returns None for an unknown token.
    """
    now = now or utcnow()
    job = session.scalars(
        select(Job).where(Job.token == token, Job.printer_id == printer.id).with_for_update()
    ).first()
    if job is None:
        log.warning("confirmation for unknown job printer=%s code=%s", printer.id, code)
        return None
    if job.state not in HELD_JOB_STATES:
        log.info("confirmation repeated job=%s printer=%s state=%s code=%s", job.id, printer.id, job.state, code)
        return job

    was = job.state
    job.result_code = code
    if success:
        job.state = JobState.PRINTED
    elif retry and _may_requeue(job, was):
        job.state = JobState.QUEUED
        job.fetched_at = None
    elif retry and was == JobState.FETCHED:
        # The order was rejected or withdrawn meanwhile, so the job it no longer needs is withdrawn too.
        job.state = JobState.CANCELLED
    else:
        # Also a late download failure of an unconfirmed job: a person may have reprinted it already,
        # so it is never queued again on its own.
        job.state = JobState.FAILED
    if job.state != JobState.QUEUED:
        job.finished_at = now
    log.info("job confirmed job=%s printer=%s from=%s to=%s code=%s", job.id, printer.id, was, job.state, code)
    queue_event(session, f"job.{job.state}", printer.account_id, job_id=job.id, printer_id=printer.id,
                order_id=job.order_id, code=code)
    if job.order is not None:
        session.add(OrderEvent(order_id=job.order_id, job_id=job.id, at=now, event=f"job_{job.state}",
                               source="printer", detail={"code": code, "late": was == JobState.UNCONFIRMED}))
        _advance_order(session, job, now)
    return job


def _may_requeue(job: Job, was: str) -> bool:
    """A download failure puts a job back only while it is freshly fetched and its order still wants it:
    not cancelled or expired, and not rejected unless a person asked for this print after the rejection."""
    if was != JobState.FETCHED:
        return False
    if job.order is None:
        return True
    status = OrderState(job.order.status)
    if status in (OrderState.CANCELLED, OrderState.EXPIRED):
        return False
    return status != OrderState.REJECTED or job.kind == "reprint"


def _advance_order(session: Session, job: Job, now: datetime) -> None:
    order = job.order
    assert order is not None
    status = OrderState(order.status)
    if job.state == JobState.PRINTED and status in (OrderState.PENDING, OrderState.PRINTING):
        transition(session, order, OrderState.PRINTED, "printer", now, job_id=job.id)
        if not (order.printer.settings or {}).get("require_decision", True):
            order.decided_by = "auto"
            transition(session, order, OrderState.ACCEPTED, "auto", now, job_id=job.id)
    elif job.state == JobState.FAILED and status in (OrderState.PENDING, OrderState.PRINTING):
        still_open = any(other.state not in (JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED)
                         for other in order.jobs if other.id != job.id)
        if not still_open:
            transition(session, order, OrderState.FAILED, "printer", now, job_id=job.id, code=job.result_code)


def mark_unconfirmed(session: Session, timeout: timedelta, now: datetime | None = None) -> list[int]:
    """Move fetched jobs older than ``timeout`` to ``unconfirmed``; return their ids. Nothing is re-sent."""
    now = now or utcnow()
    ids = list(session.execute(
        update(Job).where(Job.state == JobState.FETCHED, Job.fetched_at <= now - timeout)
        .values(state=JobState.UNCONFIRMED).returning(Job.id, Job.printer_id, Job.order_id)
    ).all())
    for job_id, printer_id, order_id in ids:
        log.warning("job unconfirmed job=%s printer=%s order=%s: no confirmation within %ss; it will not be "
                    "re-sent, reprint it if it did not print", job_id, printer_id, order_id, int(timeout.total_seconds()))
        if order_id is not None:
            session.add(OrderEvent(order_id=order_id, job_id=job_id, at=now, event="job_unconfirmed", source="scheduler"))
        queue_event(session, "job.unconfirmed", None, job_id=job_id, printer_id=printer_id, order_id=order_id)
    return [row[0] for row in ids]
