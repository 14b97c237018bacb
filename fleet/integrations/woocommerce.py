"""WooCommerce intake: verify webhook deliveries, map WooCommerce orders onto printfleet orders.

WooCommerce signs each delivery with ``X-WC-Webhook-Signature``: base64 of the HMAC-SHA256 of the
exact body bytes, keyed with the webhook's secret (WooCommerce ``WC_Webhook::generate_signature``).
PHP's JSON encoder escapes ``/`` and non-ASCII characters, so the body is verified as received and
never re-serialised. When a webhook is created, WooCommerce sends an unsigned ping whose form body is
``webhook_id=<id>``. It must get HTTP 200, or the webhook cannot be activated.

The decision is written back through the outbox (:mod:`fleet.integrations.writeback`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Protocol
from urllib.parse import parse_qs

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fleet import orders
from fleet.errors import FleetError, InvalidInput, NotFound
from fleet.models import Account, Order
from fleet.notification_models import IntegrationOrder, WooCommerceDelivery, WooCommerceShop
from fleet.notifications.masking import mask_secret
from fleet.printers import get_printer
from fleet.states import ORDER_ACTIONS, OrderState

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
DELIVERY_HEADER = "X-WC-Webhook-Delivery-ID"
TOPIC_HEADER = "X-WC-Webhook-Topic"
ORDER_TOPICS = frozenset({"order.created", "order.updated"})
#: WooCommerce statuses after which a shop no longer wants the order made.
CANCEL_STATUSES = frozenset({"cancelled", "refunded", "failed", "trash"})
#: Maximum length of an item note; longer meta is cut.
MAX_NOTE_CHARS = 500
_CENT = Decimal("0.01")


class Headers(Protocol):
    """Case-insensitive request headers, such as werkzeug's ``Headers``."""

    def get(self, key: str) -> str | None: ...


class SignatureInvalid(FleetError):
    status = 401
    code = "invalid_signature"


class PayloadInvalid(FleetError):
    status = 400
    code = "invalid_payload"


@dataclass(frozen=True)
class DeliveryResult:
    #: ``ping``, ``duplicate``, ``created``, ``existing``, ``ignored_status``, ``ignored_topic``, ``cancelled``.
    outcome: str
    order_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.outcome, "order_id": self.order_id}


def signature(raw_body: bytes, secret: str) -> str:
    """Compute the ``X-WC-Webhook-Signature`` value of ``raw_body``."""
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode("ascii")


def verify_signature(raw_body: bytes, header: str | None, secret: str) -> bool:
    return bool(header) and hmac.compare_digest(signature(raw_body, secret), (header or "").strip())


def is_ping(raw_body: bytes, headers: Headers) -> bool:
    """True for the unsigned ``webhook_id=<n>`` form post WooCommerce sends when a webhook is saved."""
    if headers.get(SIGNATURE_HEADER):
        return False
    fields = parse_qs(raw_body.decode("utf-8", "replace"))
    return list(fields) == ["webhook_id"] and fields["webhook_id"][0].isdigit()


def receive_delivery(session: Session, token: str, headers: Headers, raw_body: bytes,
                     ttl_minutes: int) -> DeliveryResult:
    """Take one webhook delivery for the shop with ``token``; create, find or cancel its order.

    Raises NotFound for an unknown shop, SignatureInvalid for a missing or wrong signature and
    PayloadInvalid for a body that is not a WooCommerce order. The caller then rolls back, so
    nothing is stored. A repeated delivery (same delivery id and body) changes nothing.
    """
    shop = session.scalars(select(WooCommerceShop).where(WooCommerceShop.token == token)).first()
    if shop is None:
        raise NotFound("unknown shop; check the delivery URL in the WooCommerce webhook settings")
    if is_ping(raw_body, headers):
        log.info("woocommerce webhook ping shop=%s", shop.id)
        return DeliveryResult("ping")
    if not verify_signature(raw_body, headers.get(SIGNATURE_HEADER), shop.webhook_secret):
        log.warning("woocommerce delivery rejected shop=%s: signature missing or invalid", shop.id)
        raise SignatureInvalid(f"{SIGNATURE_HEADER} is missing or does not match the body; check the webhook secret")
    delivery_id = (headers.get(DELIVERY_HEADER) or "").strip()
    if not delivery_id or len(delivery_id) > 128:
        raise PayloadInvalid(f"{DELIVERY_HEADER} is missing or longer than 128 characters")

    record = WooCommerceDelivery(shop_id=shop.id, delivery_id=delivery_id, topic=(headers.get(TOPIC_HEADER) or "")[:64],
                                 body_sha256=hashlib.sha256(raw_body).hexdigest(), outcome="pending")
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        log.info("woocommerce delivery replayed shop=%s delivery=%s; ignored", shop.id, delivery_id)
        return DeliveryResult("duplicate")

    result = _apply(session, shop, record.topic, raw_body, ttl_minutes)
    record.outcome = result.outcome
    record.order_id = result.order_id
    log.info("woocommerce delivery shop=%s delivery=%s topic=%s outcome=%s order=%s", shop.id, delivery_id,
             record.topic, result.outcome, result.order_id)
    return result


def _apply(session: Session, shop: WooCommerceShop, topic: str, raw_body: bytes, ttl_minutes: int) -> DeliveryResult:
    if topic not in ORDER_TOPICS:
        return DeliveryResult("ignored_topic")
    try:
        document = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PayloadInvalid(f"body is not JSON: {err}") from None
    if not isinstance(document, dict):
        raise PayloadInvalid("body is not a JSON object; expected a WooCommerce order")
    return take_order(session, shop, document, ttl_minutes)


def take_order(session: Session, shop: WooCommerceShop, document: dict[str, Any], ttl_minutes: int) -> DeliveryResult:
    """Create, find or cancel the order of one WooCommerce order object, from a webhook or the reconciliation poll.

    Raises PayloadInvalid when ``document`` is not a usable order.
    """
    status = str(document.get("status") or "")
    external_id = f"wc-{shop.id}-{document.get('id')}"
    existing = session.scalars(select(Order).where(Order.account_id == shop.account_id,
                                                   Order.external_id == external_id)).first()
    if status in CANCEL_STATUSES:
        return _cancel(session, existing, status)
    if status not in (shop.ready_statuses or []):
        return DeliveryResult("ignored_status", existing.id if existing else None)
    if existing is not None:
        return DeliveryResult("existing", existing.id)

    data = map_order(shop, document)
    account = session.get(Account, shop.account_id)
    assert account is not None
    intake = orders.create_order(session, account, data, None, ttl_minutes)
    if intake.created:
        session.add(IntegrationOrder(order_id=intake.order.id, source="woocommerce", shop_id=shop.id,
                                     remote_order_id=str(document["id"]),
                                     detail={"number": str(document.get("number") or document["id"])}))
    return DeliveryResult("created" if intake.created else "existing", intake.order.id)


def _cancel(session: Session, order: Order | None, status: str) -> DeliveryResult:
    if order is None:
        return DeliveryResult("ignored_status")
    allowed = ORDER_ACTIONS["cancel"]
    if OrderState(order.status) not in allowed:
        return DeliveryResult("ignored_status", order.id)
    orders.cancel_order(session, order, "woocommerce")
    log.info("order cancelled by shop order=%s woocommerce_status=%s", order.id, status)
    return DeliveryResult("cancelled", order.id)


# -- mapping ---------------------------------------------------------------------------------------


def _money(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise PayloadInvalid(f"{field}={value!r} is not a decimal amount") from None
    if not amount.is_finite():
        raise PayloadInvalid(f"{field}={value!r} is not a decimal amount")
    return amount.quantize(_CENT, ROUND_HALF_UP)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def item_notes(meta_data: Any) -> str | None:
    """Join the visible item meta (variation attributes, add-ons) as ``Key: value`` pairs."""
    parts: list[str] = []
    for meta in meta_data if isinstance(meta_data, list) else []:
        if not isinstance(meta, dict):
            continue
        key = _text(meta.get("display_key") or meta.get("key"))
        # Keys starting with "_" are WooCommerce's internal meta (_reduced_stock and the like).
        if not key or key.startswith("_") or str(meta.get("key", "")).startswith("_"):
            continue
        value = meta.get("display_value", meta.get("value"))
        if isinstance(value, (dict, list)):
            value = json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}: {_text(value)}")
    joined = "; ".join(parts)
    return joined[:MAX_NOTE_CHARS] or None


def _line_items(document: dict[str, Any]) -> list[orders.OrderItem]:
    lines = document.get("line_items")
    if not isinstance(lines, list) or not lines:
        raise PayloadInvalid("line_items is missing or empty; an order needs at least one item")
    items: list[orders.OrderItem] = []
    for index, line in enumerate(lines):
        if not isinstance(line, dict) or not _text(line.get("name")):
            raise PayloadInvalid(f"line_items[{index}] has no name")
        quantity = line.get("quantity")
        if type(quantity) is not int or quantity < 1:
            raise PayloadInvalid(f"line_items[{index}].quantity={quantity!r} is not a positive whole number")
        # subtotal is the line before coupons; price would be after them.
        subtotal = _money(line.get("subtotal", line.get("total")), f"line_items[{index}].subtotal")
        unit_price = (subtotal / quantity).quantize(_CENT, ROUND_HALF_UP)
        items.append(orders.OrderItem(_text(line["name"])[:200], quantity, unit_price, item_notes(line.get("meta_data"))))
    for kind in ("fee_lines", "shipping_lines"):
        for index, line in enumerate(document.get(kind) or []):
            if not isinstance(line, dict):
                continue
            amount = _money(line.get("total", "0"), f"{kind}[{index}].total")
            name = _text(line.get("name") or line.get("method_title")) or kind
            if amount > 0:
                items.append(orders.OrderItem(name[:200], 1, amount))
    return items


def _address(block: dict[str, Any]) -> str:
    street = ", ".join(part for part in (_text(block.get("address_1")), _text(block.get("address_2"))) if part)
    town = " ".join(part for part in (_text(block.get("postcode")), _text(block.get("city"))) if part)
    return ", ".join(part for part in (street, town, _text(block.get("country"))) if part)


def _block(document: dict[str, Any], name: str) -> dict[str, Any]:
    value = document.get(name)
    return value if isinstance(value, dict) else {}


def _customer(document: dict[str, Any]) -> dict[str, Any]:
    billing, shipping = _block(document, "billing"), _block(document, "shipping")
    name = " ".join(part for part in (_text(billing.get("first_name")), _text(billing.get("last_name"))) if part)
    if not name:
        name = " ".join(part for part in (_text(shipping.get("first_name")), _text(shipping.get("last_name"))) if part)
    customer: dict[str, Any] = {"name": name or "WooCommerce customer"}
    for key, value in (("email", billing.get("email")), ("phone", billing.get("phone") or shipping.get("phone")),
                       ("company", billing.get("company") or shipping.get("company")),
                       ("address", _address(shipping) if _text(shipping.get("address_1")) else _address(billing)),
                       ("country", billing.get("country") or shipping.get("country"))):
        if _text(value):
            customer[key] = _text(value)
    return customer


def _order_type(document: dict[str, Any]) -> str | None:
    methods = [str(line.get("method_id", "")) for line in document.get("shipping_lines") or [] if isinstance(line, dict)]
    if any(method in ("local_pickup", "pickup_location") for method in methods):
        return "collection"
    return "delivery" if methods else None


def _notes(document: dict[str, Any]) -> str | None:
    lines = [_text(document.get("customer_note"))]
    if _text(document.get("payment_method_title")):
        paid = "paid" if document.get("date_paid") or document.get("date_paid_gmt") else "not paid"
        lines.append(f"Payment: {_text(document['payment_method_title'])} ({paid})")
    for coupon in document.get("coupon_lines") or []:
        if isinstance(coupon, dict) and _text(coupon.get("code")):
            lines.append(f"Coupon {_text(coupon['code'])}: -{_text(coupon.get('discount'))}")
    joined = "\n".join(line for line in lines if line)
    return joined[:2000] or None


def map_order(shop: WooCommerceShop, document: dict[str, Any]) -> orders.OrderInput:
    """Map a WooCommerce REST v3 order onto an order for the shop's printer; raise PayloadInvalid when malformed."""
    order_id = document.get("id")
    if type(order_id) is not int or order_id <= 0:
        raise PayloadInvalid(f"id={order_id!r} is not a WooCommerce order id")
    currency = _text(document.get("currency")).upper()
    if len(currency) != 3 or not currency.isalpha():
        raise PayloadInvalid(f"currency={document.get('currency')!r} is not an ISO 4217 code")
    total = _money(document.get("total"), "total")
    if total < 0:
        raise PayloadInvalid(f"total={document.get('total')!r} is negative")
    return orders.OrderInput(
        printer_id=shop.printer_id, items=_line_items(document), customer=_customer(document), currency=currency,
        total=total, external_id=f"wc-{shop.id}-{order_id}", order_type=_order_type(document),
        notes=_notes(document), locale=shop.locale,
    )


# -- shop configuration ----------------------------------------------------------------------------


def create_shop(session: Session, account: Account, fields: dict[str, Any]) -> WooCommerceShop:
    """Register a WooCommerce store for ``account``; the printer must belong to the account."""
    get_printer(session, account.id, fields["printer_id"])
    base_url = str(fields["base_url"]).rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise InvalidInput("base_url", "base_url must be the store's http:// or https:// address")
    shop = WooCommerceShop(account_id=account.id, token=secrets.token_urlsafe(24), name=fields["name"],
                           base_url=base_url, consumer_key=fields["consumer_key"],
                           consumer_secret=fields["consumer_secret"], webhook_secret=fields["webhook_secret"],
                           printer_id=fields["printer_id"])
    for key in ("ready_statuses", "accept_status", "reject_status", "query_string_auth", "locale"):
        if fields.get(key) is not None:
            setattr(shop, key, fields[key])
    session.add(shop)
    session.flush()
    log.info("woocommerce shop registered shop=%s account=%s printer=%s", shop.id, account.id, shop.printer_id)
    return shop


def get_shop(session: Session, account_id: int, shop_id: int) -> WooCommerceShop:
    shop = session.get(WooCommerceShop, shop_id)
    if shop is None or shop.account_id != account_id:
        raise NotFound(f"WooCommerce shop {shop_id} does not exist in this account")
    return shop


def list_shops(session: Session, account_id: int) -> list[WooCommerceShop]:
    return list(session.scalars(select(WooCommerceShop).where(WooCommerceShop.account_id == account_id)
                                .order_by(WooCommerceShop.id)))


def shop_view(shop: WooCommerceShop, base: str) -> dict[str, Any]:
    """Describe a shop for the API with its secrets masked and the URL to enter in WooCommerce."""
    return {
        "id": shop.id, "name": shop.name, "base_url": shop.base_url, "printer_id": shop.printer_id,
        "delivery_url": f"{base}/integrations/woocommerce/{shop.token}",
        "consumer_key": mask_secret(shop.consumer_key), "consumer_secret": mask_secret(shop.consumer_secret),
        "webhook_secret": mask_secret(shop.webhook_secret), "ready_statuses": list(shop.ready_statuses or []),
        "accept_status": shop.accept_status, "reject_status": shop.reject_status,
        "query_string_auth": shop.query_string_auth, "locale": shop.locale,
        "created_at": shop.created_at.isoformat() if shop.created_at else None,
        "reconciled_at": shop.reconciled_at.isoformat() if shop.reconciled_at else None,
    }
