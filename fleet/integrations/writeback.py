"""Write-back of an order decision to the shop that sent the order, delivered through the outbox.

WooCommerce: the order status is set (``PUT /wp-json/wc/v3/orders/{id}``) and a customer-visible
order note with the estimated time or the reason is added (``POST …/orders/{id}/notes``). The PUT
comes first because it is idempotent: when the note fails, the retry repeats the PUT harmlessly.

PrinterCo: the order's ``notify_url`` gets a form POST with ``printer_id``, ``order_id``,
``status`` (1 accepted, 2 rejected), ``msg``, ``processing_time``, ``delivery_time`` and ``order_type``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.config import Settings
from fleet.db import Database
from fleet.models import Account, Order, OrderEvent, utcnow
from fleet.notification_models import IntegrationOrder, WooCommerceShop
from fleet.notifications.base import Channel, DeliveryFailed, OutboundMessage
from fleet.notifications.render import render_part, template_for_event

log = logging.getLogger(__name__)

#: Order statuses written back to WooCommerce.
WOOCOMMERCE_STATUSES = frozenset({"accepted", "rejected", "cancelled"})
#: PrinterCo ``status`` codes of a decision.
PRINTERCO_STATUS = {"accepted": "1", "rejected": "2"}


def enqueue_writebacks(session: Session, order: Order, account: Account, context: dict[str, Any]) -> None:
    """Queue the write-back of the order's new status to the shop it came from, if any."""
    from fleet.notifications.outbox import enqueue

    link = session.get(IntegrationOrder, order.id)
    if link is None:
        return
    event = f"order.{order.status}"
    if link.source == "woocommerce" and order.status in WOOCOMMERCE_STATUSES and link.shop_id is not None:
        shop = session.get(WooCommerceShop, link.shop_id)
        if shop is None or (order.status == "cancelled" and _last_source(session, order) == "woocommerce"):
            return
        target = {"accepted": shop.accept_status, "rejected": shop.reject_status}.get(order.status, "cancelled")
        payload = {**context, "shop_id": shop.id, "remote_order_id": link.remote_order_id, "set_status": target,
                   "locale": shop.locale or context.get("locale")}
        enqueue(session, channel="woocommerce", event=event, payload=payload, account_id=account.id, order_id=order.id,
                recipient=f"{shop.base_url}/wp-json/wc/v3/orders/{link.remote_order_id}")
    if link.source == "printerco" and order.status in PRINTERCO_STATUS and link.notify_url:
        enqueue(session, channel="printerco", event=event, recipient=link.notify_url, account_id=account.id,
                order_id=order.id, payload={"form": printerco_callback_form(order, link, context.get("timezone"))})


def _last_source(session: Session, order: Order) -> str | None:
    """Who caused the order's latest status change (the history row is written before notifications)."""
    session.flush()
    return session.scalars(select(OrderEvent.source).where(OrderEvent.order_id == order.id, OrderEvent.event == "status")
                           .order_by(OrderEvent.id.desc()).limit(1)).first()


def printerco_callback_form(order: Order, link: IntegrationOrder, timezone: str | None,
                            now: datetime | None = None) -> dict[str, str]:
    """Build the fields PrinterCo sends to a ``notify_url`` when staff decide on an order."""
    detail = link.detail or {}
    form = {
        "printer_id": str(detail.get("printer_id", order.printer_id)),
        "order_id": link.remote_order_id,
        "status": PRINTERCO_STATUS[order.status],
        "msg": (order.reject_reason or "") if order.status == "rejected" else "Accepted",
        "delivery_time": "",
        "processing_time": "",
        "order_type": str(detail.get("order_type", "")),
        "manual_update": "0",
    }
    if order.status == "accepted" and order.eta_at is not None:
        form["delivery_time"] = order.eta_at.astimezone(_zone(timezone)).strftime("%H:%M %d-%m-%y")
        minutes = max(0, round((order.eta_at - (now or utcnow())).total_seconds() / 60))
        form["processing_time"] = str(minutes)
    return form


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class WooCommerceClient:
    """The two WooCommerce REST v3 calls of the write-back, with consumer key and secret as basic auth.

    WooCommerce takes basic auth only over HTTPS; over plain HTTP it expects OAuth 1.0a, which this
    client does not speak. ``query_string_auth`` sends the pair as query parameters instead.
    """

    def __init__(self, base_url: str, consumer_key: str, consumer_secret: str, query_string_auth: bool = False,
                 timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = consumer_key
        self._secret = consumer_secret
        self.query_string_auth = query_string_auth
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"WooCommerceClient(base_url={self.base_url!r})"

    def update_status(self, order_id: str, status: str) -> None:
        self._call("PUT", f"/wp-json/wc/v3/orders/{order_id}", {"status": status})

    def add_note(self, order_id: str, note: str, customer_note: bool = True) -> None:
        self._call("POST", f"/wp-json/wc/v3/orders/{order_id}/notes", {"note": note, "customer_note": customer_note})

    def list_orders(self, status: str, modified_after: datetime, page: int,
                    per_page: int = 100) -> tuple[list[dict[str, Any]], int]:
        """Return one page of the orders in ``status`` modified after ``modified_after`` (UTC), and the page count."""
        query = {"status": status, "modified_after": modified_after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                 "dates_are_gmt": "true", "orderby": "modified", "order": "asc", "per_page": str(per_page),
                 "page": str(page)}
        response = self._call("GET", "/wp-json/wc/v3/orders", query=query)
        try:
            documents = response.json()
        except ValueError:
            raise DeliveryFailed(f"GET {self.base_url}/wp-json/wc/v3/orders did not return JSON") from None
        if not isinstance(documents, list) or not all(isinstance(item, dict) for item in documents):
            raise DeliveryFailed(f"GET {self.base_url}/wp-json/wc/v3/orders did not return a list of orders")
        try:
            pages = int(response.headers.get("X-WP-TotalPages") or 1)
        except ValueError:
            pages = 1
        return documents, pages

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              query: dict[str, str] | None = None) -> requests.Response:
        params = dict(query or {})
        if self.query_string_auth:
            params.update(consumer_key=self._key, consumer_secret=self._secret)
        auth = None if self.query_string_auth else (self._key, self._secret)
        try:
            response = requests.request(method, self.base_url + path, json=body, params=params or None, auth=auth,
                                        timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as err:
            raise DeliveryFailed(f"{method} {self.base_url}{path} failed: {type(err).__name__}") from None
        if 200 <= response.status_code < 300:
            return response
        code = _error_code(response)
        # 401/403 (bad key, no write permission) and 404 (unknown order) fail the same way again,
        # but an operator may fix the keys, so only an invalid order id is final.
        permanent = response.status_code in (400, 404)
        raise DeliveryFailed(f"{method} {self.base_url}{path} returned {response.status_code}{code}", permanent=permanent)


def _error_code(response: requests.Response) -> str:
    try:
        document = response.json()
    except ValueError:
        return ""
    return f" ({document.get('code')})" if isinstance(document, dict) and document.get("code") else ""


class WooCommerceChannel(Channel):
    name = "woocommerce"

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def send(self, message: OutboundMessage) -> None:
        payload = message.payload
        with self.db.session() as session:
            shop = session.get(WooCommerceShop, payload["shop_id"])
            if shop is None:
                raise DeliveryFailed(f"WooCommerce shop {payload['shop_id']} was deleted", permanent=True)
            client = WooCommerceClient(shop.base_url, shop.consumer_key, shop.consumer_secret, shop.query_string_auth,
                                       self.settings.integration_timeout_seconds)
        remote_id = str(payload["remote_order_id"])
        if payload.get("set_status"):
            client.update_status(remote_id, str(payload["set_status"]))
        client.add_note(remote_id, render_part(template_for_event(message.event), "note", payload))
        log.info("woocommerce order updated message=%s order=%s shop=%s remote_order=%s status=%s", message.id,
                 message.order_id, payload["shop_id"], remote_id, payload.get("set_status") or "-")


class PrinterCoCallbackChannel(Channel):
    name = "printerco"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, message: OutboundMessage) -> None:
        try:
            response = requests.post(message.recipient, data=message.payload["form"], allow_redirects=False,
                                     timeout=self.settings.integration_timeout_seconds)
        except requests.RequestException as err:
            raise DeliveryFailed(f"POST notify_url failed: {type(err).__name__}") from None
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"POST notify_url returned {response.status_code}")
