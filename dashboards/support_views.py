"""Support tools: the quarantine of unknown printers (approve or dismiss) and print settings edits
with a preview of the change."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from dashboards.blueprint import bp
from dashboards.security import current_viewer, login_required
from fleet import printers
from fleet.api.views import device_config
from fleet.errors import FleetError, NotFound
from fleet.models import Account, QuarantinedPrinter
from fleet.printers import DEFAULT_PRINT_SETTINGS
from fleet.web import base_url, services

#: Print settings the edit form shows, by protocol; the rest are shown to every printer.
PROTOCOL_SETTINGS = {"cloudprnt_mqtt": "cloudprnt", "sdp_digest_auth": "epson_sdp", "sdp_devid": "epson_sdp"}
BOOLEAN_SETTINGS = ("buzzer", "require_decision", "sdp_digest_auth")


@bp.get("/quarantine")
@login_required("printers")
def quarantine() -> Any:
    viewer = current_viewer()
    with services().read_db.session() as session:
        rows = printers.list_quarantine(session, viewer.account_id)
        return render_template("dashboard/quarantine.html", rows=rows)


def _quarantine_row(session: Any, account_id: int, row_id: int) -> QuarantinedPrinter:
    row = session.scalars(select(QuarantinedPrinter).where(
        QuarantinedPrinter.id == row_id, QuarantinedPrinter.account_id == account_id)).first()
    if row is None:
        raise NotFound(f"quarantine entry {row_id} does not exist in this account; it may be approved already")
    return row


@bp.post("/quarantine/<int:row_id>/approve")
@login_required("printers")
def quarantine_approve(row_id: int) -> Any:
    """Register the quarantined printer; CloudPRNT keeps its MAC and Epson SDP its ID.

    Goodcom printers get new credentials, shown once on the result page, because the server
    stores only a hash of the password the printer sent.
    """
    viewer = current_viewer()
    name = request.form.get("name", "").strip()
    try:
        with services().db.session() as session:
            row = _quarantine_row(session, viewer.account_id, row_id)
            account = session.get(Account, viewer.account_id)
            assert account is not None
            mac = row.identifier if printers.PROTOCOLS.get(row.protocol) else None
            user = row.identifier if row.protocol == "epson_sdp" else None
            registration = printers.register_printer(session, account, name or f"{row.protocol} {row.identifier}",
                                                     row.protocol, mac=mac, device_user=user)
            if session.get(QuarantinedPrinter, row.id) is not None:
                session.delete(row)
            printer = registration.printer
            config = device_config(printer, account, base_url(), registration.device_password)
            context = {"printer_id": printer.id, "printer_name": printer.name, "device": config}
    except FleetError as err:
        flash(f"Approving failed: {err.message}", "error")
        return redirect(url_for("dashboard.quarantine"))
    return render_template("dashboard/approved.html", **context)


@bp.post("/quarantine/<int:row_id>/dismiss")
@login_required("printers")
def quarantine_dismiss(row_id: int) -> Any:
    """Forget the entry; the printer reappears if it probes again."""
    viewer = current_viewer()
    with services().db.session() as session:
        row = _quarantine_row(session, viewer.account_id, row_id)
        label = f"{row.protocol} {row.identifier}"
        session.delete(row)
    flash(f"Dismissed {label}. It comes back here if it probes again.", "info")
    return redirect(url_for("dashboard.quarantine"))


def _shown_settings(protocol: str) -> list[str]:
    return [key for key in DEFAULT_PRINT_SETTINGS if PROTOCOL_SETTINGS.get(key, protocol) == protocol]


def _parse_settings(form: Any, keys: list[str]) -> dict[str, Any]:
    """Read the edit form into typed values; validation happens in :func:`fleet.printers.validate_print_settings`."""
    changes: dict[str, Any] = {}
    for key in keys:
        if key in BOOLEAN_SETTINGS:
            # An unchecked checkbox sends nothing, so absence means false.
            changes[key] = form.get(key) in ("on", "true")
        elif key not in form:
            continue
        elif key == "copies":
            raw = form.get(key, "").strip()
            changes[key] = int(raw) if raw.isdigit() else raw
        elif key in ("header", "footer"):
            changes[key] = form.get(key, "").strip() or None
        else:
            changes[key] = form.get(key, "")
    return changes


@bp.route("/printers/<int:printer_id>/settings", methods=["GET", "POST"])
@login_required("printers")
def printer_settings(printer_id: int) -> Any:
    """Edit form; POST with ``action=preview`` shows the change, ``action=apply`` saves it."""
    viewer = current_viewer()
    container = services()
    with container.db.session() as session:
        printer = printers.get_printer(session, viewer.account_id, printer_id)
        keys = _shown_settings(printer.protocol)
        current = {**DEFAULT_PRINT_SETTINGS, **(printer.settings or {})}
        if request.method == "GET":
            return render_template("dashboard/settings.html", printer=printer, keys=keys, values=current, diff=None)

        proposed = _parse_settings(request.form, keys)
        try:
            merged = printers.validate_print_settings(proposed, printer.settings)
        except FleetError as err:
            flash(err.message, "error")
            return render_template("dashboard/settings.html", printer=printer, keys=keys,
                                   values={**current, **proposed}, diff=None), 422
        diff = [(key, current.get(key), merged.get(key)) for key in keys if current.get(key) != merged.get(key)]
        if request.form.get("action") != "apply" or not diff:
            if not diff:
                flash("Nothing changes; the values are the ones the printer has.", "info")
            return render_template("dashboard/settings.html", printer=printer, keys=keys, values=merged, diff=diff)
        printers.update_printer(session, printer, None, {key: merged[key] for key, _, _ in diff})
        summary = ", ".join(key for key, _, _ in diff)
    flash(f"Saved {summary}.", "info")
    return redirect(url_for("dashboard.printer_detail", printer_id=printer_id))
