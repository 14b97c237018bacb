"""The order and job lifecycle rules, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from fleet import dispatch, orders
from fleet.accounts import create_account
from fleet.db import Database, upgrade
from fleet.errors import StateConflict
from fleet.models import Account, Job, Order, OutboxMessage, Printer, utcnow
from fleet.printers import register_printer
from fleet.states import JobState, OrderState


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database.engine)
    yield database
    database.dispose()


def _setup(db: Database, **settings: object) -> tuple[int, int]:
    with db.session() as session:
        account = create_account(session, "Shop").account
        printer = register_printer(session, account, "Kitchen", "cloudprnt", "00:11:62:00:00:01", dict(settings)).printer
        return account.id, printer.id


def _order(db: Database, account_id: int, printer_id: int, ttl: int = 60, **fields: object) -> int:
    data = orders.OrderInput(
        printer_id=printer_id, items=[orders.OrderItem("Soup", 1, Decimal("4.00"))], customer={"name": "A"},
        currency="EUR", total=Decimal("4.00"), **fields,  # type: ignore[arg-type]
    )
    with db.session() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return orders.create_order(session, account, data, None, ttl).order.id


def _job(db: Database, order_id: int) -> Job:
    with db.session() as session:
        job = session.scalars(select(Job).where(Job.order_id == order_id).order_by(Job.id)).first()
        assert job is not None
        session.expunge(job)
        return job


def _status(db: Database, order_id: int) -> str:
    with db.session() as session:
        return session.get(Order, order_id).status  # type: ignore[union-attr]


def _claim(db: Database, printer_id: int, token: str) -> dispatch.Claim | None:
    with db.session() as session:
        printer = session.get(Printer, printer_id)
        return dispatch.claim_job(session, printer, token)  # type: ignore[arg-type]


def _confirm(db: Database, printer_id: int, token: str, success: bool = True, code: str = "200 OK",
             retry: bool = False) -> None:
    with db.session() as session:
        printer = session.get(Printer, printer_id)
        dispatch.confirm_job(session, printer, token, success, code, retry=retry)  # type: ignore[arg-type]


def test_order_stored_pending_with_queued_job(db: Database) -> None:
    account_id, printer_id = _setup(db)
    order_id = _order(db, account_id, printer_id)
    assert _status(db, order_id) == "pending"
    assert _job(db, order_id).state == "queued"


def test_claim_job_hands_job_out_once_under_contention(db: Database) -> None:
    account_id, printer_id = _setup(db)
    token = _job(db, _order(db, account_id, printer_id)).token
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        claim = _claim(db, printer_id, token)
        results.append(bool(claim and claim.first_fetch))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results.count(True) == 1
    assert len(results) == 8


def test_claim_next_never_gives_two_printers_one_job(db: Database) -> None:
    """Two concurrent claim_next calls for one printer with one job: exactly one gets it."""
    account_id, printer_id = _setup(db)
    _order(db, account_id, printer_id)
    got: list[int] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        with db.session() as session:
            claim = dispatch.claim_next(session, session.get(Printer, printer_id))  # type: ignore[arg-type]
            if claim is not None:
                got.append(claim.job.id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 1


def test_fetch_moves_order_to_printing(db: Database) -> None:
    account_id, printer_id = _setup(db)
    order_id = _order(db, account_id, printer_id)
    claim = _claim(db, printer_id, _job(db, order_id).token)
    assert claim is not None and claim.first_fetch
    assert _status(db, order_id) == "printing"


def test_repeated_fetch_is_repeatable_and_counted(db: Database) -> None:
    account_id, printer_id = _setup(db)
    token = _job(db, _order(db, account_id, printer_id)).token
    first = _claim(db, printer_id, token)
    second = _claim(db, printer_id, token)
    assert first is not None and first.first_fetch
    assert second is not None and not second.first_fetch
    assert second.job.fetch_count == 2


def test_late_confirmation_completes_unconfirmed_job_never_resent(db: Database) -> None:
    account_id, printer_id = _setup(db)
    order_id = _order(db, account_id, printer_id)
    token = _job(db, order_id).token
    _claim(db, printer_id, token)
    with db.session() as session:
        moved = dispatch.mark_unconfirmed(session, timedelta(seconds=0), utcnow() + timedelta(seconds=1))
    assert len(moved) == 1
    assert _job(db, order_id).state == "unconfirmed"
    with db.session() as session:
        assert dispatch.next_job(session, printer_id) is None

    _confirm(db, printer_id, token)
    assert _job(db, order_id).state == "printed"
    assert _status(db, order_id) == "printed"


def test_confirmation_is_idempotent(db: Database) -> None:
    account_id, printer_id = _setup(db)
    order_id = _order(db, account_id, printer_id, notify_url="http://127.0.0.1:9/hook")
    token = _job(db, order_id).token
    _claim(db, printer_id, token)
    _confirm(db, printer_id, token)
    with db.session() as session:
        hooks_before = len(session.scalars(select(OutboxMessage).where(OutboxMessage.order_id == order_id)).all())
    _confirm(db, printer_id, token)
    _confirm(db, printer_id, token, success=False, code="511 Media Decode Failure")
    assert _job(db, order_id).state == "printed"
    with db.session() as session:
        hooks_after = len(session.scalars(select(OutboxMessage).where(OutboxMessage.order_id == order_id)).all())
    assert hooks_after == hooks_before


def test_failed_confirmation_fails_order(db: Database) -> None:
    account_id, printer_id = _setup(db)
    order_id = _order(db, account_id, printer_id)
    token = _job(db, order_id).token
    _claim(db, printer_id, token)
    _confirm(db, printer_id, token, success=False, code="511 Media Decode Failure")
    assert _job(db, order_id).state == "failed"
    assert _job(db, order_id).result_code == "511 Media Decode Failure"
    assert _status(db, order_id) == "failed"


def test_download_timeout_requeues_job(db: Database) -> None:
    account_id, printer_id = _setup(db)
    order_id = _order(db, account_id, printer_id)
    token = _job(db, order_id).token
    _claim(db, printer_id, token)
    _confirm(db, printer_id, token, success=False, code="520 Timeout", retry=True)
    assert _job(db, order_id).state == "queued"
    assert _claim(db, printer_id, token) is not None


def test_expired_order_not_offered(db: Database) -> None:
    account_id, printer_id = _setup(db)
    order_id = _order(db, account_id, printer_id, ttl=1)
    later = utcnow() + timedelta(minutes=2)
    with db.session() as session:
        assert dispatch.next_job(session, printer_id, later) is None
        assert orders.expire_orders(session, later) == 1
    assert _status(db, order_id) == "expired"
    assert _job(db, order_id).state == "expired"
    assert _claim(db, printer_id, _job(db, order_id).token) is None


def test_auto_accept_when_no_decision_required(db: Database) -> None:
    account_id, printer_id = _setup(db, require_decision=False)
    order_id = _order(db, account_id, printer_id)
    token = _job(db, order_id).token
    _claim(db, printer_id, token)
    _confirm(db, printer_id, token)
    assert _status(db, order_id) == "accepted"


def test_decision_required_waits_in_printed(db: Database) -> None:
    account_id, printer_id = _setup(db, require_decision=True)
    order_id = _order(db, account_id, printer_id)
    token = _job(db, order_id).token
    _claim(db, printer_id, token)
    _confirm(db, printer_id, token)
    assert _status(db, order_id) == "printed"


def test_accept_then_reject_conflicts_with_state_and_actions(db: Database) -> None:
    account_id, printer_id = _setup(db)
    order_id = _order(db, account_id, printer_id)
    with db.session() as session:
        order = session.get(Order, order_id)
        orders.accept_order(session, order, "api", eta_minutes=10)  # type: ignore[arg-type]
    with db.session() as session:
        order = session.get(Order, order_id)
        with pytest.raises(StateConflict, match="order .* is accepted; reject is not possible") as caught:
            orders.reject_order(session, order, "api", "late")  # type: ignore[arg-type]
    assert caught.value.current_state == "accepted"
    assert caught.value.allowed_actions == ["cancel", "reprint"]


def test_reject_cancels_waiting_jobs(db: Database) -> None:
    account_id, printer_id = _setup(db)
    order_id = _order(db, account_id, printer_id)
    with db.session() as session:
        orders.reject_order(session, session.get(Order, order_id), "api", "Closed")  # type: ignore[arg-type]
    assert _job(db, order_id).state == "cancelled"
    with db.session() as session:
        assert dispatch.next_job(session, printer_id) is None


def test_reprint_queues_new_job_after_print(db: Database) -> None:
    account_id, printer_id = _setup(db)
    order_id = _order(db, account_id, printer_id)
    token = _job(db, order_id).token
    _claim(db, printer_id, token)
    _confirm(db, printer_id, token)
    with db.session() as session:
        job = orders.reprint_order(session, session.get(Order, order_id), "api")  # type: ignore[arg-type]
        new_token = job.token
    assert new_token != token
    assert _claim(db, printer_id, new_token) is not None


def test_copies_setting_stored_on_job(db: Database) -> None:
    account_id, printer_id = _setup(db, copies=3)
    assert _job(db, _order(db, account_id, printer_id)).copies == 3


def test_status_change_writes_outbox_in_same_transaction(db: Database) -> None:
    account_id, printer_id = _setup(db)
    order_id = _order(db, account_id, printer_id, notify_url="http://127.0.0.1:9/hook")
    with db.session() as session:
        order = session.get(Order, order_id)
        orders.accept_order(session, order, "api", eta_minutes=5)  # type: ignore[arg-type]
        session.rollback()
    assert _status(db, order_id) == "pending"
    with db.session() as session:
        events = [m.event for m in session.scalars(select(OutboxMessage).where(OutboxMessage.order_id == order_id))]
    assert events == ["order.pending"]


def test_unconfirmed_sweep_leaves_fresh_fetches(db: Database) -> None:
    account_id, printer_id = _setup(db)
    order_id = _order(db, account_id, printer_id)
    _claim(db, printer_id, _job(db, order_id).token)
    with db.session() as session:
        assert dispatch.mark_unconfirmed(session, timedelta(minutes=5)) == []
    assert _job(db, order_id).state == JobState.FETCHED
    assert _status(db, order_id) == OrderState.PRINTING


def test_duplicate_printer_keeps_callers_other_work(db: Database) -> None:
    """A taken MAC undoes only the new printer; what the caller did before in the transaction stays."""
    from fleet.printers import DuplicatePrinter

    account_id, _ = _setup(db)
    with db.session() as session:
        account = session.get(Account, account_id)
        assert account is not None
        account.name = "Renamed"
        with pytest.raises(DuplicatePrinter, match="00:11:62:00:00:01"):
            register_printer(session, account, "Twin", "cloudprnt", "00:11:62:00:00:01")
    with db.session() as session:
        assert session.get(Account, account_id).name == "Renamed"  # type: ignore[union-attr]
        names = session.scalars(select(Printer.name).where(Printer.account_id == account_id)).all()
    assert names == ["Kitchen"]


def test_late_download_failure_of_unconfirmed_job_not_requeued(db: Database) -> None:
    """A 520 after the job went unconfirmed fails it: a person may have reprinted it already."""
    account_id, printer_id = _setup(db)
    order_id = _order(db, account_id, printer_id)
    token = _job(db, order_id).token
    _claim(db, printer_id, token)
    with db.session() as session:
        dispatch.mark_unconfirmed(session, timedelta(seconds=0), utcnow() + timedelta(seconds=1))
    _confirm(db, printer_id, token, success=False, code="520 Timeout", retry=True)
    assert _job(db, order_id).state == "failed"
    with db.session() as session:
        assert dispatch.next_job(session, printer_id) is None


@pytest.mark.parametrize("decision", ["reject", "cancel"])
def test_download_failure_after_decision_withdraws_job(db: Database, decision: str) -> None:
    """A 520 for an order rejected or cancelled meanwhile does not put its job back in the queue."""
    account_id, printer_id = _setup(db)
    order_id = _order(db, account_id, printer_id)
    token = _job(db, order_id).token
    _claim(db, printer_id, token)
    with db.session() as session:
        order = session.get(Order, order_id)
        if decision == "reject":
            orders.reject_order(session, order, "api", "Closed")  # type: ignore[arg-type]
        else:
            orders.cancel_order(session, order, "api")  # type: ignore[arg-type]
    _confirm(db, printer_id, token, success=False, code="520 Timeout", retry=True)
    assert _job(db, order_id).state == "cancelled"
    with db.session() as session:
        assert dispatch.next_job(session, printer_id) is None


def test_reprint_of_old_accepted_order_is_offered(db: Database) -> None:
    """A reprint asked after the order's expiry still reaches the printer."""
    account_id, printer_id = _setup(db)
    order_id = _order(db, account_id, printer_id, ttl=1)
    token = _job(db, order_id).token
    _claim(db, printer_id, token)
    _confirm(db, printer_id, token)
    with db.session() as session:
        orders.accept_order(session, session.get(Order, order_id), "api", eta_minutes=5)  # type: ignore[arg-type]
    later = utcnow() + timedelta(minutes=30)
    with db.session() as session:
        job = orders.reprint_order(session, session.get(Order, order_id), "api", now=later)  # type: ignore[arg-type]
        new_token = job.token
    with db.session() as session:
        waiting = dispatch.next_job(session, printer_id, later + timedelta(seconds=5))
    assert waiting is not None
    assert waiting.token == new_token
