"""Remote operation from the printer page: test prints and remote commands, audited as the user."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for

from dashboards.blueprint import bp
from dashboards.security import current_viewer, login_required
from fleet.audit import Actor
from fleet.errors import FleetError
from fleet.printers import get_printer
from fleet.remote import get_registry
from fleet.remote_commands import queue_test_print, run_command
from fleet.web import services


@bp.post("/printers/<int:printer_id>/test-print")
@login_required("printers")
def printer_test_print(printer_id: int) -> Any:
    viewer = current_viewer()
    try:
        with services().db.session() as session:
            printer = get_printer(session, viewer.account_id, printer_id)
            job = queue_test_print(session, printer, Actor.user(viewer.account_id, viewer.user_id))
            flash(f"Test print queued as job {job.id}.", "info")
    except FleetError as err:
        flash(f"Test print failed: {err.message}", "error")
    return redirect(url_for("dashboard.printer_detail", printer_id=printer_id))


@bp.post("/printers/<int:printer_id>/commands")
@login_required("printers")
def printer_command(printer_id: int) -> Any:
    viewer = current_viewer()
    command = request.form.get("command", "")
    container = services()
    try:
        outcome = run_command(container, get_registry(container), viewer.account_id, printer_id, command, {},
                              Actor.user(viewer.account_id, viewer.user_id))
        flash(f"Command {command}: {outcome.state}. {outcome.message}".strip(), "error" if outcome.state == "failed" else "info")
    except FleetError as err:
        flash(f"Command {command} failed: {err.message}", "error")
    return redirect(url_for("dashboard.printer_detail", printer_id=printer_id))
