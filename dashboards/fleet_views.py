"""Fleet overview and printer detail pages."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from sqlalchemy import select

from dashboards.blueprint import bp
from dashboards.fleet_queries import STATES, FleetFilter, fleet_page, model_name, supply_gauges
from dashboards.plot import health_plot
from dashboards.security import current_viewer, login_required
from fleet import audit, health, printers
from fleet.api.settings import settings_view
from fleet.groups import list_groups
from fleet.models import Job, Order
from fleet.remote import JOB_PROTOCOLS, get_registry
from fleet.web import services


@bp.get("/")
@login_required()
def fleet() -> Any:
    viewer = current_viewer()
    filters = FleetFilter.from_args(request.args)
    container = services()
    with container.read_db.session() as session:
        page = fleet_page(session, viewer.account_id, filters, container.presence)
        groups = [(group.id, group.name) for group in list_groups(session, viewer.account_id)]
    template = "dashboard/_fleet_body.html" if request.args.get("fragment") else "dashboard/fleet.html"
    return render_template(template, page=page, filters=filters, states=STATES, groups=groups)


@bp.get("/printers/<int:printer_id>")
@login_required()
def printer_detail(printer_id: int) -> Any:
    viewer = current_viewer()
    container = services()
    with container.read_db.session() as session:
        printer = printers.get_printer(session, viewer.account_id, printer_id)
        view = health.health_view(printer, container.presence)
        detail = view["detail"]
        jobs = list(session.execute(
            select(Job, Order.external_id, Order.status).outerjoin(Order, Job.order_id == Order.id)
            .where(Job.printer_id == printer.id).order_by(Job.id.desc()).limit(20)
        ))
        context = {
            "printer": printer, "health": view, "model": model_name(printer),
            "gauges": supply_gauges(detail), "alerts": _alerts(detail),
            "events": health.history(session, printer.id, limit=50), "plot": health_plot(session, printer.id),
            "jobs": jobs, "twin": settings_view(session, get_registry(container), printer),
            "audit": [audit.entry_view(entry) for entry in audit.search(
                session, viewer.account_id, audit.AuditQuery(printer_id=printer.id, limit=20))],
            "client_info": printer.client_info or {}, "takes_jobs": printer.protocol in JOB_PROTOCOLS,
        }
        template = "dashboard/_printer_body.html" if request.args.get("fragment") else "dashboard/printer.html"
        return render_template(template, **context)


def _alerts(detail: dict[str, Any]) -> list[dict[str, str]]:
    """Alert rows of a health reading (SNMP prtAlertTable), as severity and description text."""
    alerts = detail.get("alerts")
    if not isinstance(alerts, list):
        return []
    rows: list[dict[str, str]] = []
    for alert in alerts:
        if not isinstance(alert, dict):
            continue
        severity = alert.get("severity")
        if isinstance(severity, dict):
            severity = severity.get("name") or severity.get("value")
        rows.append({"severity": str(severity or ""), "description": str(alert.get("description") or alert.get("code") or "")})
    return rows
