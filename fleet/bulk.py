"""Bulk operations: one settings change, test print or command over a selection of printers.

:func:`create_operation` resolves the selection and stores one pending result per printer in the
request's transaction. :class:`BulkRunner`, a worker thread, then works through the pending results
at most ``rate_per_second`` printers per second, so a fleet is not hit at once. Each printer's
result commits with the progress counters and queues a ``bulk.progress`` event (operation id, done,
total). A dry run checks every printer and records what would change without changing anything.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fleet import audit, settings_twin
from fleet.audit import Actor
from fleet.errors import FleetError, InvalidInput, NotFound
from fleet.events import queue_event
from fleet.groups import Selection, select_printers
from fleet.models import Printer, utcnow
from fleet.remote import JOB_PROTOCOLS, NotSupported, get_registry
from fleet.remote_commands import COMMANDS, execute_command, plan_command, queue_test_print
from fleet.remote_models import AuditEntry, BulkOperation, BulkResult

if TYPE_CHECKING:
    from fleet.services import Services

log = logging.getLogger(__name__)

ACTIONS = ("settings", "test_print", *COMMANDS)
RUNNER_KEY = "bulk_runner"
DEFAULT_RATE = 10.0
MAX_RATE = 1000.0
#: Seconds the runner waits for a wake-up before it looks for queued operations again.
IDLE_WAIT_SECONDS = 2.0


def create_operation(
    session: Session, account_id: int, action: str, selection: Selection, params: dict[str, Any], actor: Actor, *,
    dry_run: bool = False, rate_per_second: float = DEFAULT_RATE,
) -> BulkOperation:
    """Store a queued bulk operation with a pending result for each selected printer.

    Raises InvalidInput for an unknown action, a bad rate, missing settings or an empty selection.
    """
    if action not in ACTIONS:
        raise InvalidInput("action", f"action {action!r} is unknown; use one of {', '.join(ACTIONS)}")
    if not 0 < rate_per_second <= MAX_RATE:
        raise InvalidInput("rate_per_second", f"rate_per_second={rate_per_second} is invalid; use more than 0 "
                           f"and at most {MAX_RATE:g} printers per second")
    if action == "settings" and (not isinstance(params.get("settings"), dict) or not params["settings"]):
        raise InvalidInput("params.settings", "a settings operation needs params.settings with at least one setting")
    printers = select_printers(session, account_id, selection)
    if not printers:
        raise InvalidInput("selection", f"selection {selection.as_dict()} matches no printers")

    operation = BulkOperation(account_id=account_id, action=action, selection=selection.as_dict(), params=params,
                              dry_run=dry_run, state="queued", total=len(printers), rate_per_second=rate_per_second,
                              actor=actor.as_dict())
    session.add(operation)
    session.flush()
    session.add_all([BulkResult(operation_id=operation.id, printer_id=printer.id, state="pending", detail={})
                     for printer in printers])
    audit.record(session, actor, "bulk.start", f"bulk operation {operation.id}", bulk_operation_id=operation.id,
                 after={"action": action, "selection": operation.selection, "params": params, "dry_run": dry_run,
                        "total": len(printers)}, result="pending")
    queue_event(session, "bulk.progress", account_id, operation_id=operation.id, done=0, total=len(printers),
                state="queued")
    log.info("bulk operation created bulk=%s account=%s action=%s printers=%s dry_run=%s", operation.id, account_id,
             action, len(printers), dry_run)
    return operation


def get_operation(session: Session, account_id: int, operation_id: int) -> BulkOperation:
    operation = session.get(BulkOperation, operation_id)
    if operation is None or operation.account_id != account_id:
        raise NotFound(f"bulk operation {operation_id} does not exist in this account")
    return operation


def operation_view(session: Session, operation: BulkOperation, limit: int = 1000, offset: int = 0) -> dict[str, Any]:
    """Describe ``operation`` with its progress and a page of per-printer results."""
    counts = dict(session.execute(select(BulkResult.state, func.count()).where(BulkResult.operation_id == operation.id)
                                  .group_by(BulkResult.state)).all())
    results = session.scalars(select(BulkResult).where(BulkResult.operation_id == operation.id)
                              .order_by(BulkResult.printer_id).limit(limit).offset(offset))
    percent = 100.0 if operation.total == 0 else round(100.0 * operation.done / operation.total, 1)
    return {
        "id": operation.id, "action": operation.action, "state": operation.state, "dry_run": operation.dry_run,
        "selection": operation.selection, "params": operation.params, "rate_per_second": operation.rate_per_second,
        "total": operation.total, "done": operation.done, "succeeded": operation.succeeded,
        "failed": operation.failed, "percent": percent, "counts": counts, "actor": operation.actor,
        "error": operation.error, "created_at": operation.created_at.isoformat(),
        "started_at": operation.started_at.isoformat() if operation.started_at else None,
        "finished_at": operation.finished_at.isoformat() if operation.finished_at else None,
        "results": [{"printer_id": row.printer_id, "state": row.state, "detail": row.detail,
                     "finished_at": row.finished_at.isoformat() if row.finished_at else None} for row in results],
    }


@dataclass(frozen=True)
class PrinterResult:
    #: ``ok``, ``refused`` (the printer cannot do it) or ``failed``.
    state: str
    detail: dict[str, Any]


class BulkRunner:
    """Worker thread that runs queued bulk operations one at a time, paced by their rate."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="printfleet-bulk", daemon=True)
        self._thread.start()
        log.info("bulk runner started")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        log.info("bulk runner stopped")

    def wake(self) -> None:
        """Look for queued operations now instead of after the idle wait."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                operation_id = self._claim()
                if operation_id is not None:
                    self.run_operation(operation_id)
                    continue
            except Exception:  # the runner must survive a bad operation and keep serving the others
                log.exception("bulk runner iteration failed")
            self._wake.wait(IDLE_WAIT_SECONDS)
            self._wake.clear()

    def _claim(self) -> int | None:
        """Move the oldest queued operation to ``running``; one process wins when several race for it."""
        with self.services.db.session() as session:
            candidate = session.scalars(select(BulkOperation.id).where(BulkOperation.state == "queued")
                                        .order_by(BulkOperation.id).limit(1)).first()
            if candidate is None:
                return None
            claimed = session.execute(update(BulkOperation).where(BulkOperation.id == candidate,
                                                                  BulkOperation.state == "queued")
                                      .values(state="running", started_at=utcnow())).rowcount
            return candidate if claimed else None

    def run_operation(self, operation_id: int) -> None:
        """Handle every pending printer of a running operation, then mark it finished."""
        with self.services.db.session() as session:
            operation = session.get(BulkOperation, operation_id)
            assert operation is not None
            rate, account_id = operation.rate_per_second, operation.account_id
            pending = list(session.scalars(select(BulkResult.printer_id).where(
                BulkResult.operation_id == operation_id, BulkResult.state == "pending").order_by(BulkResult.printer_id)))
        log.info("bulk operation running bulk=%s printers=%s rate=%s/s", operation_id, len(pending), rate)

        interval = 1.0 / rate
        next_start = time.monotonic()
        for printer_id in pending:
            delay = next_start - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                self._requeue(operation_id)
                return
            next_start = max(next_start + interval, time.monotonic())
            result = self._handle_printer(operation_id, printer_id)
            self._store_result(operation_id, account_id, printer_id, result)
        self._finish(operation_id)

    def _requeue(self, operation_id: int) -> None:
        """Put an interrupted operation back in the queue; its printers still pending run after a restart."""
        with self.services.db.session() as session:
            session.execute(update(BulkOperation).where(BulkOperation.id == operation_id,
                                                        BulkOperation.state == "running").values(state="queued"))
        log.info("bulk operation interrupted bulk=%s; queued again for the pending printers", operation_id)

    def _handle_printer(self, operation_id: int, printer_id: int) -> PrinterResult:
        try:
            return run_for_printer(self.services, operation_id, printer_id)
        except NotSupported as err:
            return PrinterResult("refused", {"message": err.message, "supported": err.supported})
        except FleetError as err:
            return PrinterResult("failed", {"message": err.message, "code": err.code})
        except Exception as err:  # one printer's failure must not stop the operation
            log.exception("bulk printer failed bulk=%s printer=%s", operation_id, printer_id)
            return PrinterResult("failed", {"message": f"unexpected error: {err}"})

    def _store_result(self, operation_id: int, account_id: int, printer_id: int, result: PrinterResult) -> None:
        with self.services.db.session() as session:
            row = session.scalars(select(BulkResult).where(BulkResult.operation_id == operation_id,
                                                           BulkResult.printer_id == printer_id)).one()
            row.state, row.detail, row.finished_at = result.state, result.detail, utcnow()
            operation = session.get(BulkOperation, operation_id, with_for_update=True)
            assert operation is not None
            operation.done += 1
            if result.state == "ok":
                operation.succeeded += 1
            else:
                operation.failed += 1
            queue_event(session, "bulk.progress", account_id, operation_id=operation_id, done=operation.done,
                        total=operation.total, state="running", printer_id=printer_id, result=result.state)
        log.debug("bulk printer done bulk=%s printer=%s state=%s", operation_id, printer_id, result.state)

    def _finish(self, operation_id: int) -> None:
        with self.services.db.session() as session:
            operation = session.get(BulkOperation, operation_id, with_for_update=True)
            assert operation is not None
            operation.state = "finished"
            operation.finished_at = utcnow()
            entry = session.scalars(select(AuditEntry).where(
                AuditEntry.bulk_operation_id == operation_id, AuditEntry.action == "bulk.start")).first()
            audit.finish(session, entry.id if entry else None, "ok" if operation.failed == 0 else "failed",
                         {"succeeded": operation.succeeded, "failed": operation.failed})
            queue_event(session, "bulk.progress", operation.account_id, operation_id=operation_id,
                        done=operation.done, total=operation.total, state="finished")
            log.info("bulk operation finished bulk=%s done=%s succeeded=%s failed=%s", operation_id, operation.done,
                     operation.succeeded, operation.failed)


def run_for_printer(services: Services, operation_id: int, printer_id: int) -> PrinterResult:
    """Apply one bulk operation to one printer; raises FleetError subclasses for refusals and failures."""
    registry = get_registry(services)
    with services.db.session() as session:
        operation = session.get(BulkOperation, operation_id)
        printer = session.get(Printer, printer_id)
        assert operation is not None
        if printer is None or printer.deleted_at is not None or printer.account_id != operation.account_id:
            return PrinterResult("refused", {"message": f"printer {printer_id} was deleted"})
        actor = Actor.from_dict(operation.actor)
        action, params, dry_run = operation.action, dict(operation.params), operation.dry_run

        if action == "settings":
            change = settings_twin.change_settings(session, registry, printer, params["settings"], actor,
                                                   dry_run=dry_run, bulk_operation_id=operation_id)
        elif action == "test_print":
            if dry_run:
                if printer.protocol not in JOB_PROTOCOLS:
                    raise NotSupported(f"printer {printer_id} speaks {printer.protocol}, which carries no print "
                                       "jobs", printer.protocol, [])
                return PrinterResult("ok", {"would": "queue a test print"})
            job = queue_test_print(session, printer, actor, bulk_operation_id=operation_id)
            return PrinterResult("ok", {"job_id": job.id})
        else:
            planned = plan_command(session, services, registry, printer, action, params.get("params", {}), actor,
                                   bulk_operation_id=operation_id)
            if dry_run:
                session.rollback()
                return PrinterResult("ok", {"would": f"send {action} over {planned.request.channel}"})

    if action == "settings":
        if not dry_run:
            settings_twin.push(services, registry, change)
        failed = [item for item in change.push_results if item["state"] == "failed"]
        state = "failed" if failed else "ok"
        return PrinterResult(state, change.as_dict())
    outcome = execute_command(services, registry, planned)
    return PrinterResult("failed" if outcome.state == "failed" else "ok",
                         {"state": outcome.state, "message": outcome.message, **outcome.detail})


def start_runner(services: Services) -> BulkRunner:
    runner = BulkRunner(services)
    services.extras[RUNNER_KEY] = runner
    runner.start()
    return runner


def wake_runner(services: Services) -> bool:
    """Wake this process's runner; return False when none runs here (the operation waits for one)."""
    runner = services.extras.get(RUNNER_KEY)
    if isinstance(runner, BulkRunner):
        runner.wake()
        return True
    return False
