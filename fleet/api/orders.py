"""Order endpoints: intake (idempotent), transaction list, detail, accept, reject, cancel, reprint."""

from __future__ import annotations

from typing import Any

from flask import request

from fleet import orders
from fleet.api import api, auth, current_account
from fleet.api.schemas import AcceptIn, EmptyIn, OrderIn, OrderOut, OrderQuery, RejectIn
from fleet.api.views import order_view
from fleet.errors import InvalidInput
from fleet.models import Account
from fleet.web import base_url, services

IDEMPOTENCY_HEADER = "Idempotency-Key"


def _to_input(body: OrderIn) -> orders.OrderInput:
    return orders.OrderInput(
        printer_id=body.printer_id,
        items=[orders.OrderItem(i.name, i.quantity, i.unit_price, i.notes) for i in body.items],
        customer=body.customer.model_dump(exclude_none=True), currency=body.currency, total=body.total,
        external_id=body.external_id, order_type=body.order_type, requested_time=body.requested_time,
        notes=body.notes, notify_url=body.notify_url, locale=body.locale, expires_in_minutes=body.expires_in_minutes,
    )


@api.post("/orders")
@api.auth_required(auth)
@api.input(OrderIn, arg_name="body")
@api.output(OrderOut, status_code=201, description="The stored order (200 with the first result on a retry)")
@api.doc(summary="Send an order to a printer",
         description="The order is stored before the answer. Repeat a request with the same `Idempotency-Key` "
                     "header or `external_id` to get the first result back; nothing new is created.",
         responses=[401, 404, 409, 413, 422])
def create_order(body: OrderIn) -> tuple[dict[str, Any], int]:
    account = current_account()
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not 1 <= len(key) <= 255:
        raise InvalidInput(IDEMPOTENCY_HEADER, "Idempotency-Key must be 1 to 255 characters")
    container = services()
    with container.db.session() as session:
        owner = session.get(Account, account.id)
        assert owner is not None
        intake = orders.create_order(session, owner, _to_input(body), key, container.settings.order_ttl_minutes)
        view = order_view(intake.order, base_url())
    return view, 201 if intake.created else 200


@api.get("/orders")
@api.auth_required(auth)
@api.input(OrderQuery, location="query", arg_name="query")
@api.output(list[OrderOut])
@api.doc(summary="Transaction list, newest first, optionally by status", responses=[401, 422])
def list_orders(query: OrderQuery) -> list[dict[str, Any]]:
    account = current_account()
    with services().read_db.session() as session:
        rows = orders.list_orders(session, account.id, query.status, query.limit, query.offset)
        return [order_view(row, base_url()) for row in rows]


@api.get("/orders/<int:order_id>")
@api.auth_required(auth)
@api.output(OrderOut)
@api.doc(summary="Show an order with its jobs and history", responses=[401, 404])
def get_order(order_id: int) -> dict[str, Any]:
    account = current_account()
    with services().read_db.session() as session:
        return order_view(orders.get_order(session, account.id, order_id), base_url(), full=True)


@api.post("/orders/<int:order_id>/accept")
@api.auth_required(auth)
@api.input(AcceptIn, arg_name="body")
@api.output(OrderOut)
@api.doc(summary="Accept an order with an estimated time (minutes or a clock time)", responses=[401, 404, 409, 422])
def accept_order(order_id: int, body: AcceptIn) -> dict[str, Any]:
    if (body.eta_minutes is None) == (body.eta_time is None):
        raise InvalidInput("eta_minutes", "send exactly one of eta_minutes or eta_time")
    account = current_account()
    with services().db.session() as session:
        order = orders.get_order(session, account.id, order_id)
        orders.accept_order(session, order, "api", eta_minutes=body.eta_minutes, eta_time=body.eta_time)
        return order_view(order, base_url(), full=True)


@api.post("/orders/<int:order_id>/reject")
@api.auth_required(auth)
@api.input(RejectIn, arg_name="body")
@api.output(OrderOut)
@api.doc(summary="Reject an order with a reason", responses=[401, 404, 409, 422])
def reject_order(order_id: int, body: RejectIn) -> dict[str, Any]:
    account = current_account()
    with services().db.session() as session:
        order = orders.get_order(session, account.id, order_id)
        orders.reject_order(session, order, "api", body.reason)
        return order_view(order, base_url(), full=True)


@api.post("/orders/<int:order_id>/cancel")
@api.auth_required(auth)
@api.output(OrderOut)
@api.doc(summary="Cancel an order; jobs not yet fetched are withdrawn", responses=[401, 404, 409])
def cancel_order(order_id: int) -> dict[str, Any]:
    account = current_account()
    with services().db.session() as session:
        order = orders.get_order(session, account.id, order_id)
        orders.cancel_order(session, order, "api")
        return order_view(order, base_url(), full=True)


@api.post("/orders/<int:order_id>/reprint")
@api.auth_required(auth)
@api.output(OrderOut, status_code=202)
@api.doc(summary="Queue the order again on its printer", responses=[401, 404, 409])
def reprint_order(order_id: int) -> tuple[dict[str, Any], int]:
    account = current_account()
    with services().db.session() as session:
        order = orders.get_order(session, account.id, order_id)
        orders.reprint_order(session, order, "api")
        session.flush()
        session.refresh(order)
        return order_view(order, base_url(), full=True), 202
