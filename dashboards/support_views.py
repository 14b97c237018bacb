"""Support tools: the quarantine of unknown printers (approve or dismiss) and print settings edits
through the settings twin, with a preview of the change."""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from dashboards.blueprint import bp
from dashboards.security import Viewer, current_viewer, login_required
from fleet import printers, settings_twin
from fleet.api.settings import settings_view
from fleet.api.views import device_config
from fleet.audit import Actor
from fleet.errors import FleetError, InvalidInput, NotFound
from fleet.models import Account, QuarantinedPrinter
from fleet.remote import NotSupported, get_registry
from fleet.web import base_url, services

log = logging.getLogger(__name__)

_WHOLE_NUMBER = re.compile(r"^[+-]?\d+$")


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



def _form_value(form: Any, setting: dict[str, Any]) -> tuple[bool, Any]:
    """Read one setting from the form as the type its profile declares; return (present, value).

    A value that does not convert (``"abc"`` for a number) stays a string, so the twin's validation
    rejects it with the message that names the allowed values.
    """
    name = setting["name"]
    if setting["type"] == "bool":
        # An unchecked checkbox sends nothing, so absence means false.
        return True, form.get(name) in ("on", "true")
    if name not in form:
        return False, None
    raw = form.get(name, "")
    if setting["type"] == "int":
        raw = raw.strip()
        return True, int(raw) if _WHOLE_NUMBER.match(raw) else raw
    if setting["type"] == "text":
        text = raw.strip()
        return True, text or (None if setting["nullable"] else "")
    return True, raw


def _proposed_changes(form: Any, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (the values the form shows, the settings whose value differs from the current one)."""
    shown: dict[str, Any] = {}
    changes: dict[str, Any] = {}
    for row in rows:
        if not row["editable"]:
            continue
        present, value = _form_value(form, row)
        if not present:
            continue
        shown[row["name"]] = value
        if value != row["value"]:
            changes[row["name"]] = value
    return shown, changes


def _setting_rows(twin: dict[str, Any], values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Describe each setting of the printer's profile for the form, with the value to show."""
    rows = []
    for setting in twin["settings"]:
        current = setting["desired"]
        if current is None and setting["apply"] != "server":
            current = setting["reported"] if setting["reported"] is not None else setting["default"]
        shown = (values or {}).get(setting["name"], current)
        rows.append({**setting, "value": current, "shown": shown, "editable": setting["supported"],
                     "nullable": "null" in setting["allowed"], "drift": setting["name"] in twin["drift"]})
    return rows


def _render_form(twin: dict[str, Any], printer: Any, *, values: dict[str, Any] | None = None,
                 errors: dict[str, str] | None = None, preview: dict[str, Any] | None = None,
                 version: int | None = None, conflict: str | None = None) -> str:
    return render_template("dashboard/settings.html", printer=printer, twin=twin, rows=_setting_rows(twin, values),
                           errors=errors or {}, preview=preview, version=twin["version"] if version is None else version,
                           conflict=conflict)


def _preview(result: settings_twin.ChangeResult) -> dict[str, Any]:
    """Describe a dry run: each change with its value now and after, and how it is applied."""
    pushed = {name: plan for plan in result.pushes for name in plan.values}
    rows = []
    for name, (before, after) in sorted(result.changes.items()):
        plan = pushed.get(name)
        rows.append({"name": name, "before": before, "after": after, "device_side": plan is not None,
                     "how": f"pushed by {plan.method} over {plan.channel}" if plan else "server-side, applied at once"})
    return {"rows": rows, "changes": {name: pair[1] for name, pair in result.changes.items()}}


def _expected_version(form: Any) -> int | None:
    raw = form.get("version", "").strip()
    return int(raw) if raw.isdigit() else None


def _outcome_message(result: settings_twin.ChangeResult) -> str:
    """Summarise an applied change: what applied at once and what waits for the printer."""
    pushed = {name for item in result.push_results for name in item["settings"]}
    parts = [f"Saved settings version {result.version}."]
    server = sorted(name for name in result.changes if name not in pushed)
    if server:
        parts.append(f"Applied now: {', '.join(server)}.")
    for item in result.push_results:
        names = ", ".join(item["settings"])
        if item["state"] == "confirmed":
            parts.append(f"Confirmed by the printer ({item['method']}): {names}.")
        elif item["state"] == "pending":
            parts.append(f"Pushed over {item['channel']}, shown as drift until the printer reports it: {names}.")
        else:
            parts.append(f"Push over {item['channel']} failed for {names}: {item['message']}")
    return " ".join(parts)


@bp.route("/printers/<int:printer_id>/settings", methods=["GET", "POST"])
@login_required("printers")
def printer_settings(printer_id: int) -> Any:
    """Edit form: POST with ``action=preview`` shows the change, ``action=apply`` saves it as a new twin version.

    The form carries the twin version it was rendered from; applying it after someone else changed
    the settings shows the current values and a conflict message instead of overwriting.
    """
    viewer = current_viewer()
    container = services()
    registry = get_registry(container)
    with container.read_db.session() as session:
        printer = printers.get_printer(session, viewer.account_id, printer_id)
        twin = settings_view(session, registry, printer)
        if request.method == "GET":
            return _render_form(twin, printer)
        values, changes = _proposed_changes(request.form, _setting_rows(twin))
        session.expunge(printer)

    version = _expected_version(request.form)
    if request.form.get("action") == "apply" and changes:
        return _apply(viewer, printer, twin, values, changes, version)
    try:
        with container.db.session() as session:
            result = settings_twin.change_settings(session, registry, printers.get_printer(
                session, viewer.account_id, printer_id), changes, _actor(viewer), expected_version=version, dry_run=True)
    except FleetError as err:
        return _rejected(printer, twin, values, version, err)
    if not result.changes:
        flash("Nothing changes: the values are the ones the printer has.", "info")
        return _render_form(twin, printer, values=values, version=version)
    return _render_form(twin, printer, values=values, preview=_preview(result), version=version)


def _actor(viewer: Viewer) -> Actor:
    return Actor.user(viewer.account_id, viewer.user_id)


def _apply(viewer: Viewer, printer: Any, twin: dict[str, Any], values: dict[str, Any], changes: dict[str, Any],
           version: int | None) -> Any:
    """Store ``changes`` as a new twin version, then push the device-side ones after the commit."""
    container = services()
    registry = get_registry(container)
    try:
        with container.db.session() as session:
            result = settings_twin.change_settings(session, registry, printers.get_printer(
                session, viewer.account_id, printer.id), changes, _actor(viewer), expected_version=version)
    except FleetError as err:
        return _rejected(printer, twin, values, version, err)
    settings_twin.push(container, registry, result)
    failed = any(item["state"] == "failed" for item in result.push_results)
    log.info("dashboard settings applied printer=%s user=%s version=%s", printer.id, viewer.user_id, result.version)
    flash(_outcome_message(result), "error" if failed else "info")
    return redirect(url_for("dashboard.printer_detail", printer_id=printer.id))


def _rejected(printer: Any, twin: dict[str, Any], values: dict[str, Any], version: int | None,
              err: FleetError) -> tuple[str, int]:
    """Render the form again after the twin rejected a change; nothing was changed."""
    log.info("dashboard settings change rejected printer=%s code=%s", printer.id, err.code)
    if isinstance(err, settings_twin.VersionConflict):
        current = err.extra["current_version"]
        message = (f"Someone else changed the settings of this printer since you opened this form (your version "
                   f"{version}, now version {current}). The form shows the current values: check them and make "
                   "your change again.")
        return _render_form(twin, printer, conflict=message), 409
    if isinstance(err, InvalidInput):
        name = err.field.removeprefix("settings.")
        return _render_form(twin, printer, values=values, errors={name: err.message}, version=version), 422
    if isinstance(err, NotSupported):
        flash(err.message, "error")
        return _render_form(twin, printer, values=values, version=version), 409
    flash(err.message, "error")
    return _render_form(twin, printer, values=values, version=version), err.status
