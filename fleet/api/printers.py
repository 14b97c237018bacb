"""Printer endpoints: register, list, show (with health), update settings, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from fleet import health, printers, settings_twin, snmp_service
from fleet.audit import Actor
from fleet.remote import get_registry
from fleet.api import api, auth, current_account
from fleet.api.schemas import PageQuery, PrinterIn, PrinterOut, PrinterPatch
from fleet.api.views import printer_view
from fleet.models import Account, Job, utcnow
from fleet.states import WAITING_JOB_STATES, JobState
from fleet.web import base_url, services


@api.post("/printers")
@api.auth_required(auth)
@api.input(PrinterIn, arg_name="body")
@api.output(PrinterOut, status_code=201)
@api.doc(summary="Register a printer", description="Returns the printer and what to configure on the device. "
         "Goodcom passwords appear only in this response.", responses=[401, 409, 422])
def create_printer(body: PrinterIn) -> dict[str, Any]:
    account = current_account()
    settings = body.settings.model_dump(exclude_none=True) if body.settings else {}
    # The SNMP probe runs before the transaction so a silent printer holds no database lock.
    snmp = snmp_service.prepare_registration(services(), body.protocol, body.snmp.model_dump() if body.snmp else None)
    with services().db.session() as session:
        owner = session.get(Account, account.id)
        assert owner is not None
        registration = printers.register_printer(session, owner, body.name, body.protocol, body.mac, settings)
        if snmp is not None:
            snmp_service.complete_registration(session, registration.printer, snmp)
        return printer_view(registration.printer, owner, base_url(), password=registration.device_password)


@api.get("/printers")
@api.auth_required(auth)
@api.input(PageQuery, location="query", arg_name="query")
@api.output(list[PrinterOut])
@api.doc(summary="List printers with their health", responses=[401])
def list_printers(query: PageQuery) -> Any:
    account = current_account()
    container = services()
    with container.read_db.session() as session:
        owner = session.get(Account, account.id)
        assert owner is not None
        rows = printers.list_printers(session, account.id, query.limit, query.offset)
        return [printer_view(row, owner, base_url(), container.presence) for row in rows]


@api.get("/printers/<int:printer_id>")
@api.auth_required(auth)
@api.output(PrinterOut)
@api.doc(summary="Show one printer with its health", responses=[401, 404])
def get_printer(printer_id: int) -> dict[str, Any]:
    account = current_account()
    container = services()
    with container.read_db.session() as session:
        printer = printers.get_printer(session, account.id, printer_id)
        return printer_view(printer, printer.account, base_url(), container.presence)


@api.patch("/printers/<int:printer_id>")
@api.auth_required(auth)
@api.input(PrinterPatch, arg_name="body")
@api.output(PrinterOut)
@api.doc(summary="Rename a printer or change its print settings", responses=[401, 404, 422])
def patch_printer(printer_id: int, body: PrinterPatch) -> dict[str, Any]:
    account = current_account()
    settings = body.settings.model_dump(exclude_none=True) if body.settings else None
    container = services()
    registry = get_registry(container)
    result = None
    with container.db.session() as session:
        printer = printers.get_printer(session, account.id, printer_id)
        printers.update_printer(session, printer, body.name, None)
        if settings:
            # The same path as PATCH /printers/{id}/settings: validated against the profile, versioned, audited.
            result = settings_twin.change_settings(session, registry, printer, settings, Actor.api_key(account.id))
    if result is not None:
        settings_twin.push(container, registry, result)
    with container.read_db.session() as session:
        printer = printers.get_printer(session, account.id, printer_id)
        return printer_view(printer, printer.account, base_url(), container.presence)


@api.delete("/printers/<int:printer_id>")
@api.auth_required(auth)
@api.output({}, status_code=204)
@api.doc(summary="Retire a printer; its waiting jobs are cancelled, its orders stay", responses=[401, 404])
def delete_printer(printer_id: int) -> tuple[str, int]:
    account = current_account()
    with services().db.session() as session:
        printer = printers.get_printer(session, account.id, printer_id)
        session.execute(
            update(Job).where(Job.printer_id == printer.id, Job.state.in_(WAITING_JOB_STATES))
            .values(state=JobState.CANCELLED, finished_at=utcnow())
        )
        printers.delete_printer(session, printer)
    return "", 204


@api.get("/printers/<int:printer_id>/health/history")
@api.auth_required(auth)
@api.doc(summary="Health transitions of a printer, newest first", responses=[401, 404])
def printer_health_history(printer_id: int) -> dict[str, Any]:
    account = current_account()
    with services().read_db.session() as session:
        printers.get_printer(session, account.id, printer_id)
        events = health.history(session, printer_id)
        return {"events": [{"at": e.at.isoformat(), "kind": e.kind, "condition": e.condition, "detail": e.detail}
                           for e in events]}


@api.get("/quarantine")
@api.auth_required(auth)
@api.doc(summary="Unknown printers that probed this account's URLs, waiting for approval", responses=[401])
def list_quarantine() -> dict[str, Any]:
    account = current_account()
    with services().read_db.session() as session:
        rows = printers.list_quarantine(session, account.id)
        return {"printers": [
            {"id": row.id, "protocol": row.protocol, "identifier": row.identifier, "remote_addr": row.remote_addr,
             "probe_count": row.probe_count, "first_seen_at": row.first_seen_at.isoformat(),
             "last_seen_at": row.last_seen_at.isoformat(), "detail": row.detail}
            for row in rows
        ]}
