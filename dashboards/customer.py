"""The customer's order status page at ``/o/<public id>``: no login, this one order only.

The page shows status, items, total and the ETA or reject reason, and nothing about the customer
(no email, phone or address), because the link is printed on the receipt and may be seen by others.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, render_template
from sqlalchemy.orm import Session

from dashboards.blueprint import customer_bp
from fleet.models import Account, Order
from fleet.orders import get_order_by_public_id
from fleet.web import services

#: Customer-facing text of each order status.
STATUS_TEXT = {
    "pending": "Sent to the restaurant",
    "printing": "The restaurant is receiving your order",
    "printed": "Waiting for the restaurant to confirm",
    "accepted": "Accepted",
    "rejected": "Declined",
    "failed": "The restaurant did not receive your order yet",
    "expired": "The restaurant did not confirm in time",
    "cancelled": "Cancelled",
}


def customer_status(order: Order) -> dict[str, Any]:
    """Return the fields of ``order`` the customer may see, as sent to the page and over Socket.IO."""
    return {
        "status": order.status,
        "status_text": STATUS_TEXT.get(order.status, order.status),
        "eta": order.eta_at.isoformat() if order.eta_at else None,
        "eta_text": order.eta_at.strftime("%H:%M UTC") if order.eta_at else None,
        "reject_reason": order.reject_reason if order.status == "rejected" else None,
        "updated_at": order.updated_at.isoformat(),
    }


def load_customer_status(session: Session, public_id: str) -> dict[str, Any]:
    return customer_status(get_order_by_public_id(session, public_id))


@customer_bp.get("/o/<public_id>")
def order_status_page(public_id: str) -> Any:
    with services().read_db.session() as session:
        order = get_order_by_public_id(session, public_id)
        account = session.get(Account, order.account_id)
        response = render_template("customer/order.html", order=order, shop=account.name if account else "",
                                   status=customer_status(order))
    return response, 200, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@customer_bp.get("/o/<public_id>/status.json")
def order_status_json(public_id: str) -> Any:
    with services().read_db.session() as session:
        response = jsonify(load_customer_status(session, public_id))
    response.headers["Cache-Control"] = "no-store"
    return response
