"""Test prints and remote commands (reboot, status, identify) on one printer, with their audit entries.

A test print is a job without an order (``kind="test"``): it is dispatched, fetched and confirmed
like any job by whichever protocol the printer speaks. A command goes to the handler a protocol
adapter registered in :mod:`fleet.remote` for one of the printer's channels. When there is none, the
command is rejected with 409 and the list of commands the printer does support.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from fleet import audit
from fleet.audit import Actor
from fleet.errors import FleetError, InvalidInput
from fleet.events import queue_event
from fleet.models import Job, Printer, utcnow
from fleet.orders import new_job_token
from fleet.printers import get_printer
from fleet.remote import JOB_PROTOCOLS, CommandOutcome, CommandRequest, NotSupported, PrinterRef, RemoteRegistry
from fleet.settings_twin import resolve_profile
from fleet.states import JobState

if TYPE_CHECKING:
    from fleet.services import Services

log = logging.getLogger(__name__)

#: Commands support staff can send; which printers carry them depends on the registered handlers.
COMMANDS = ("reboot", "status", "identify")


class CommandFailed(FleetError):
    status = 502
    code = "command_failed"


def queue_test_print(session: Session, printer: Printer, actor: Actor, *, bulk_operation_id: int | None = None,
                     now: datetime | None = None) -> Job:
    """Queue a test print for ``printer``; raise NotSupported for a printer that takes no print jobs."""
    if printer.protocol not in JOB_PROTOCOLS:
        raise NotSupported(f"printer {printer.id} speaks {printer.protocol}, which carries no print jobs; test prints "
                           f"work on {', '.join(sorted(JOB_PROTOCOLS))} printers", printer.protocol, [])
    now = now or utcnow()
    # The test page is a diagnostic page printed once, whatever the copies setting is.
    job = Job(order_id=None, printer_id=printer.id, token=new_job_token(), kind="test", state=JobState.QUEUED,
              copies=1, created_at=now)
    session.add(job)
    session.flush()
    queue_event(session, "job.queued", printer.account_id, job_id=job.id, printer_id=printer.id, order_id=None)
    audit.record(session, actor, "test_print", f"printer {printer.id}", printer_id=printer.id,
                 bulk_operation_id=bulk_operation_id, after={"job_id": job.id}, result="ok", now=now)
    log.info("test print queued job=%s printer=%s", job.id, printer.id)
    return job


def supported_commands(session: Session, registry: RemoteRegistry, printer: Printer) -> dict[str, str]:
    """Return ``{command: channel}`` of the commands ``printer`` supports (its model and a registered handler)."""
    profile = resolve_profile(session, printer).profile
    available = registry.commands_for(registry.channels(session, printer))
    return {command: channel for command, channel in available.items() if command in profile.commands}


@dataclass(frozen=True)
class PlannedCommand:
    request: CommandRequest
    audit_id: int


def plan_command(session: Session, services: Services, registry: RemoteRegistry, printer: Printer, command: str,
                 params: dict[str, Any], actor: Actor, *, bulk_operation_id: int | None = None) -> PlannedCommand:
    """Check that ``printer`` supports ``command`` and write its pending audit entry.

    Raises InvalidInput for an unknown command and NotSupported (409) naming the supported
    commands when no handler can carry it to this printer.
    """
    if command not in COMMANDS:
        raise InvalidInput("command", f"command {command!r} is unknown; use one of {', '.join(COMMANDS)}")
    supported = supported_commands(session, registry, printer)
    if command not in supported:
        names = sorted(supported) + ["test_print"] if printer.protocol in JOB_PROTOCOLS else sorted(supported)
        raise NotSupported(
            f"printer {printer.id} ({printer.protocol}) does not support {command}; it supports "
            f"{', '.join(names) or 'no remote commands'}", printer.protocol, names)
    channel = supported[command]
    ref = PrinterRef.of(printer, resolve_profile(session, printer).profile.name)
    entry = audit.record(session, actor, f"command.{command}", f"printer {printer.id}", printer_id=printer.id,
                         bulk_operation_id=bulk_operation_id, after={"command": command, "channel": channel,
                                                                     "params": params}, result="pending")
    return PlannedCommand(CommandRequest(services, ref, channel, command, params), entry.id)


def execute_command(services: Services, registry: RemoteRegistry, planned: PlannedCommand) -> CommandOutcome:
    """Run a planned command outside any transaction and record its result; FleetErrors are re-raised."""
    request = planned.request
    handler = registry.command_handler(request.channel, request.command)
    error: FleetError | None = None
    if handler is None:
        outcome = CommandOutcome("failed", f"the {request.channel} handler for {request.command} was removed")
    else:
        try:
            outcome = handler(request)
        except FleetError as err:
            error = err
            outcome = CommandOutcome("failed", err.message, {"code": err.code})
        except Exception as err:  # an adapter bug must not leave the audit entry pending
            log.exception("command handler raised printer=%s command=%s", request.printer.id, request.command)
            outcome = CommandOutcome("failed", f"{request.command} failed: {err}")
            error = CommandFailed(outcome.message)

    results = {"failed": "failed", "done": "ok"}
    result = results.get(outcome.state, "pending")
    with services.db.session() as session:
        audit.finish(session, planned.audit_id, result, {"state": outcome.state, "message": outcome.message,
                                                         **outcome.detail})
        queue_event(session, "printer.command", request.printer.account_id, printer_id=request.printer.id,
                    command=request.command, state=outcome.state)
    log.info("command finished printer=%s command=%s channel=%s state=%s", request.printer.id, request.command,
             request.channel, outcome.state)
    if error is not None:
        raise error
    return outcome


def run_command(services: Services, registry: RemoteRegistry, account_id: int, printer_id: int, command: str,
                params: dict[str, Any], actor: Actor) -> CommandOutcome:
    """Check, audit and run ``command`` on one printer of ``account_id``."""
    try:
        with services.db.session() as session:
            printer = get_printer(session, account_id, printer_id)
            planned = plan_command(session, services, registry, printer, command, params, actor)
    except NotSupported as err:
        # The failed attempt is audited too, in its own transaction because the first one rolled back.
        with services.db.session() as session:
            audit.record(session, actor, f"command.{command}", f"printer {printer_id}", printer_id=printer_id,
                         after={"command": command, "params": params}, result="rejected",
                         detail={"message": err.message})
        raise
    return execute_command(services, registry, planned)
