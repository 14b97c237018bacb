"""Bulk operations for support staff: choose a selection and an action, then follow the operation live.

The operation runs in the background (:class:`fleet.bulk.BulkRunner`); its page shows per-printer
results and a progress bar that ``static/bulk.js`` moves on each ``bulk.progress`` event and
re-reads from ``/dashboard/bulk/<id>/state`` after a reconnect.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from flask import jsonify, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from dashboards.blueprint import bp
from dashboards.security import Viewer, current_viewer, login_required
from firmware_profiles.loader import load_profiles
from fleet import bulk
from fleet.audit import Actor
from fleet.errors import FleetError, InvalidInput
from fleet.groups import Selection, list_groups
from fleet.models import Printer
from fleet.remote_commands import COMMANDS
from fleet.remote_models import BulkOperation
from fleet.web import services

log = logging.getLogger(__name__)

#: Actions offered on the form, with their labels.
ACTION_LABELS = {"test_print": "Test print", "settings": "Settings change", **{name: name.capitalize()
                                                                              for name in COMMANDS}}
#: Printers handled per second when the form does not say; slower than the API default, so a
#: person can follow the progress of a small selection.
FORM_DEFAULT_RATE = 5.0
RECENT_OPERATIONS = 20


@dataclass
class BulkForm:
    """What the bulk form sent, kept to render the form again after an error."""

    printer_ids: list[int] = field(default_factory=list)
    tag: str = ""
    group: str = ""
    site: str = ""
    profile: str = ""
    action: str = "test_print"
    settings_text: str = ""
    dry_run: bool = False
    rate: str = f"{FORM_DEFAULT_RATE:g}"

    @classmethod
    def from_request(cls, data: MultiDict[str, str]) -> BulkForm:
        ids = [int(raw) for raw in data.getlist("printer_id") if raw.strip().isdigit()]
        return cls(ids, data.get("tag", "").strip(), data.get("group", "").strip(), data.get("site", "").strip(),
                   data.get("profile", "").strip(), data.get("action", "test_print"), data.get("settings", ""),
                   data.get("dry_run") in ("on", "true"), data.get("rate", f"{FORM_DEFAULT_RATE:g}").strip())

    def selection(self) -> Selection:
        group: str | int | None = int(self.group) if self.group.isdigit() else (self.group or None)
        return Selection(tuple(self.printer_ids), self.tag or None, group, self.site or None, self.profile or None)

    def rate_per_second(self) -> float:
        try:
            return float(self.rate)
        except ValueError:
            raise InvalidInput("rate_per_second", f"rate {self.rate!r} is not a number; give printers per second, "
                               f"e.g. {FORM_DEFAULT_RATE:g}") from None

    def params(self) -> dict[str, Any]:
        if self.action == "settings":
            return {"settings": parse_settings_text(self.settings_text)}
        return {"params": {}}


def parse_settings_text(text: str) -> dict[str, Any]:
    """Read ``key=value`` lines; a value is JSON when it parses (``2``, ``true``, ``null``), text otherwise."""
    settings: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        key, sep, raw = line.partition("=")
        if not sep or not key.strip():
            raise InvalidInput("params.settings", f"line {number} ({line!r}) is not key=value, e.g. copies=2")
        raw = raw.strip()
        try:
            settings[key.strip()] = json.loads(raw)
        except ValueError:
            settings[key.strip()] = raw
    return settings


def _form_page(viewer: Viewer, form: BulkForm, error: str | None = None) -> str:
    with services().read_db.session() as session:
        groups = [(group.id, group.name) for group in list_groups(session, viewer.account_id)]
        ticked = list(session.execute(select(Printer.id, Printer.name).where(
            Printer.account_id == viewer.account_id, Printer.id.in_(form.printer_ids)).order_by(Printer.id)))
        recent = list(session.scalars(select(BulkOperation).where(BulkOperation.account_id == viewer.account_id)
                                      .order_by(BulkOperation.id.desc()).limit(RECENT_OPERATIONS)))
        return render_template("dashboard/bulk.html", form=form, groups=groups, ticked=ticked, recent=recent,
                               profiles=sorted(load_profiles()), actions=ACTION_LABELS, error=error)


@bp.get("/bulk")
@login_required("printers")
def bulk_form() -> Any:
    """The form; ``?printer_id=`` (repeated) preselects the printers ticked on the fleet page."""
    return _form_page(current_viewer(), BulkForm.from_request(request.args))


@bp.post("/bulk")
@login_required("printers")
def bulk_start() -> Any:
    """Queue the operation, wake the runner and show the operation's page."""
    viewer = current_viewer()
    form = BulkForm.from_request(request.form)
    container = services()
    try:
        with container.db.session() as session:
            operation = bulk.create_operation(session, viewer.account_id, form.action, form.selection(), form.params(),
                                              Actor.user(viewer.account_id, viewer.user_id), dry_run=form.dry_run,
                                              rate_per_second=form.rate_per_second())
            operation_id = operation.id
    except FleetError as err:
        log.info("dashboard bulk operation rejected user=%s action=%s code=%s", viewer.user_id, form.action, err.code)
        return _form_page(viewer, form, err.message), err.status
    if not bulk.wake_runner(container):
        log.warning("bulk operation queued without a runner in this process bulk=%s", operation_id)
    log.info("dashboard bulk operation started bulk=%s user=%s action=%s", operation_id, viewer.user_id, form.action)
    return redirect(url_for("dashboard.bulk_detail", operation_id=operation_id))


def _operation_state(session: Any, account_id: int, operation_id: int) -> dict[str, Any]:
    """Return the operation's view with each result's printer name."""
    view = bulk.operation_view(session, bulk.get_operation(session, account_id, operation_id), limit=10_000)
    ids = [row["printer_id"] for row in view["results"]]
    names = dict(session.execute(select(Printer.id, Printer.name).where(Printer.id.in_(ids))).all()) if ids else {}
    for row in view["results"]:
        row["printer_name"] = names.get(row["printer_id"], f"printer {row['printer_id']}")
        row["summary"] = result_summary(row["state"], row["detail"])
    return view


def result_summary(state: str, detail: dict[str, Any]) -> str:
    """Describe one printer's result in a line of text."""
    if state == "pending":
        return "waiting"
    if "job_id" in detail:
        return f"test print queued as job {detail['job_id']}"
    if "would" in detail:
        return f"dry run: would {detail['would']}"
    if "version" in detail and "changes" in detail:
        changed = ", ".join(sorted(detail["changes"])) or "nothing"
        verb = "would change" if detail.get("dry_run") else f"version {detail['version']} changes"
        failed = [item["message"] for item in detail.get("push", []) if item.get("state") == "failed"]
        return f"{verb} {changed}" + (f"; push failed: {'; '.join(failed)}" if failed else "")
    return str(detail.get("message") or detail.get("state") or state)


@bp.get("/bulk/<int:operation_id>")
@login_required("printers")
def bulk_detail(operation_id: int) -> Any:
    viewer = current_viewer()
    with services().read_db.session() as session:
        state = _operation_state(session, viewer.account_id, operation_id)
    return render_template("dashboard/bulk_operation.html", op=state, actions=ACTION_LABELS)


@bp.get("/bulk/<int:operation_id>/state")
@login_required("printers")
def bulk_state(operation_id: int) -> Any:
    """The operation's progress and per-printer results as JSON, for the page to catch up after a reconnect."""
    viewer = current_viewer()
    with services().read_db.session() as session:
        return jsonify(_operation_state(session, viewer.account_id, operation_id))
