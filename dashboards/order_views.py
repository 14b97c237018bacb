"""Transaction list and order actions: accept with an ETA, reject with a reason, cancel, reprint,
and the receipt preview as the printer will print it."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from dashboards.blueprint import bp
from dashboards.security import current_viewer, login_required
from fleet import orders as order_service
from fleet.errors import FleetError
from fleet.models import Order, Printer
from fleet.rendering import PNG, job_document, receipt_profile, render
from fleet.states import OrderState, allowed_actions
from fleet.web import base_url, services

PAGE_SIZE = 50
STATUSES = tuple(state.value for state in OrderState)
#: Largest ETA the accept form takes, in minutes (the API allows the same).
MAX_ETA_MINUTES = 24 * 60
MAX_REASON_LENGTH = 500


@bp.get("/orders")
@login_required()
def orders() -> Any:
    viewer = current_viewer()
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    with services().read_db.session() as session:
        counts = {name: 0 for name in STATUSES}
        counts.update({name: int(count) for name, count in session.execute(
            select(Order.status, func.count()).where(Order.account_id == viewer.account_id).group_by(Order.status))})
        total = counts[status] if status else sum(counts.values())
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(page, pages)
        query = select(Order, Printer.name).join(Printer, Order.printer_id == Printer.id).where(
            Order.account_id == viewer.account_id)
        if status:
            query = query.where(Order.status == status)
        rows = [{"order": order, "printer_name": printer_name,
                 "actions": allowed_actions(OrderState(order.status))}
                for order, printer_name in session.execute(
                    query.order_by(Order.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))]
        template = "dashboard/_orders_body.html" if request.args.get("fragment") else "dashboard/orders.html"
        return render_template(template, rows=rows, counts=counts, status=status, statuses=STATUSES,
                               page=page, pages=pages, total=total)


@bp.get("/orders/<int:order_id>")
@login_required()
def order_detail(order_id: int) -> Any:
    viewer = current_viewer()
    with services().read_db.session() as session:
        order = order_service.get_order(session, viewer.account_id, order_id)
        return render_template("dashboard/order.html", order=order, printer=order.printer,
                               actions=allowed_actions(OrderState(order.status)), jobs=list(order.jobs),
                               history=list(order.history), status_url=f"{base_url()}/o/{order.public_id}")


@bp.get("/orders/<int:order_id>/receipt.png")
@login_required()
def order_receipt(order_id: int) -> Response:
    """Render the order's newest job as the PNG raster a CloudPRNT printer would get."""
    viewer = current_viewer()
    with services().read_db.session() as session:
        order = order_service.get_order(session, viewer.account_id, order_id)
        if not order.jobs:
            abort(404, description=f"order {order_id} has no job to preview")
        rendered = render(job_document(order.jobs[-1], base_url()), PNG, receipt_profile(order.printer))
    return Response(rendered.body, mimetype=PNG, headers={"Cache-Control": "private, max-age=60"})


def _back(order_id: int) -> Any:
    target = request.form.get("next") or ""
    if target.startswith("/dashboard/") and not target.startswith("//"):
        return redirect(target)
    return redirect(url_for("dashboard.order_detail", order_id=order_id))


def _act(order_id: int, action: str, apply: Any) -> Any:
    viewer = current_viewer()
    try:
        with services().db.session() as session:
            order = order_service.get_order(session, viewer.account_id, order_id)
            apply(session, order)
            label = order.external_id or str(order.id)
        flash(f"Order {label}: {action} done.", "info")
    except FleetError as err:
        flash(f"Order {order_id}: {err.message}", "error")
    return _back(order_id)


@bp.post("/orders/<int:order_id>/accept")
@login_required("orders")
def order_accept(order_id: int) -> Any:
    raw = request.form.get("eta_minutes", "").strip()
    if not raw.isdigit() or not 0 <= int(raw) <= MAX_ETA_MINUTES:
        flash(f"ETA {raw!r} is invalid; enter whole minutes from 0 to {MAX_ETA_MINUTES}.", "error")
        return _back(order_id)
    return _act(order_id, "accept", lambda session, order: order_service.accept_order(
        session, order, "dashboard", eta_minutes=int(raw)))


@bp.post("/orders/<int:order_id>/reject")
@login_required("orders")
def order_reject(order_id: int) -> Any:
    reason = request.form.get("reason", "").strip()
    if not reason or len(reason) > MAX_REASON_LENGTH:
        flash(f"A reject reason of 1 to {MAX_REASON_LENGTH} characters is required; the customer sees it.", "error")
        return _back(order_id)
    return _act(order_id, "reject", lambda session, order: order_service.reject_order(session, order, "dashboard", reason))


@bp.post("/orders/<int:order_id>/cancel")
@login_required("orders")
def order_cancel(order_id: int) -> Any:
    return _act(order_id, "cancel", lambda session, order: order_service.cancel_order(session, order, "dashboard"))


@bp.post("/orders/<int:order_id>/reprint")
@login_required("orders")
def order_reprint(order_id: int) -> Any:
    return _act(order_id, "reprint", lambda session, order: order_service.reprint_order(session, order, "dashboard"))
