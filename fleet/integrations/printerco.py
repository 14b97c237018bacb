"""PrinterCo-compatible order intake (``submitorderext``) and its XML responses.

Clients post ``application/x-www-form-urlencoded`` fields as PHP's ``http_build_query`` writes them,
with nested arrays in brackets: ``line_items[0][item]``, ``line_items[0][item_addon][1][name]``.
Codes follow the Goodcom order schema: ``order_type`` 1 delivery, 2 collection, 3 reservation
(``EatIn`` also seen); ``payment_status`` 6 paid, 7 not paid; ``isVarified`` 4 verified, 5 not.
``%%`` or ``@@`` inside text is a line break; ``delivery_time`` is ``HH:MM DD-MM-YY`` local time.
The response is XML: ``<status>OK</status>`` with ``<details><msg>``, or ``<status>FAILED</status>``
with ``<details><error>``. The decision goes back to ``notify_url`` through the outbox.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet import orders
from fleet.accounts import check_device_password, hash_device_password
from fleet.errors import FleetError, InvalidInput
from fleet.models import Account
from fleet.notification_models import IntegrationOrder, PrinterCoCredential

log = logging.getLogger(__name__)

ORDER_TYPES = {"1": "delivery", "2": "collection", "3": "reservation", "eatin": "dine_in"}
PAYMENT_STATUSES = {"6": "paid", "7": "not paid"}
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_CURRENCY_SYMBOLS = {"€": "EUR", "£": "GBP", "$": "USD"}
_CENT = Decimal("0.01")
#: Most line items and add-ons per item taken from one form, to bound the work one request causes.
MAX_ITEMS = 500


class CredentialsInvalid(FleetError):
    status = 401
    code = "invalid_credentials"


@dataclass(frozen=True)
class SubmitResult:
    order_id: int
    remote_order_id: str
    created: bool


def parse_nested_form(fields: dict[str, str]) -> dict[str, Any]:
    """Turn PHP-style bracket keys into nested dicts: ``a[0][b]=x`` becomes ``{"a": {"0": {"b": "x"}}}``.

    A key that is both a value and a parent (``a=1`` and ``a[b]=2``) keeps the nested form.
    """
    result: dict[str, Any] = {}
    for key, value in fields.items():
        match = _KEY.match(key)
        if match is None:
            continue
        path = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = result
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if not isinstance(node.get(path[-1]), dict):
            node[path[-1]] = value
    return result


def indexed(value: Any, field: str) -> list[Any]:
    """Return the entries of a PHP array sent as ``field[0]``, ``field[1]`` …, in index order."""
    if value is None or value == "":
        return []
    if not isinstance(value, dict):
        raise InvalidInput(field, f"{field} must be sent as {field}[0][...], {field}[1][...]")
    try:
        keys = sorted(value, key=int)
    except ValueError:
        raise InvalidInput(field, f"{field} has a non-numeric index; use {field}[0], {field}[1], ...") from None
    if len(keys) > MAX_ITEMS:
        raise InvalidInput(field, f"{field} has {len(keys)} entries; at most {MAX_ITEMS} are allowed")
    return [value[key] for key in keys]


def line_breaks(text: str | None) -> str:
    """Replace PrinterCo's ``%%`` and ``@@`` line breaks with newlines."""
    return (text or "").replace("%%", "\n").replace("@@", "\n").strip()


def _money(value: Any, field: str, required: bool = False) -> Decimal:
    if value in (None, ""):
        if required:
            raise InvalidInput(field, f"{field} is missing")
        return Decimal("0.00")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInput(field, f"{field}={value!r} is not a decimal amount such as 12.50") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidInput(field, f"{field}={value!r} is not a decimal amount such as 12.50")
    return amount.quantize(_CENT, ROUND_HALF_UP)


def parse_delivery_time(value: str, timezone: str) -> datetime:
    """Read ``HH:MM DD-MM-YY`` as local time in ``timezone``."""
    try:
        local = datetime.strptime(value.strip(), "%H:%M %d-%m-%y")
    except ValueError:
        raise InvalidInput("delivery_time", f"delivery_time={value!r} is invalid; use HH:MM DD-MM-YY, "
                                            "e.g. 20:15 16-09-26") from None
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return local.replace(tzinfo=zone)


def _addons(item: dict[str, Any], index: int) -> list[str]:
    notes = []
    for addon in indexed(item.get("item_addon"), f"line_items[{index}][item_addon]"):
        if not isinstance(addon, dict):
            continue
        label = ": ".join(part for part in (str(addon.get("title") or "").strip(), str(addon.get("name") or "").strip())
                          if part)
        price = _money(addon.get("price"), f"line_items[{index}][item_addon][price]")
        if label:
            notes.append(f"{label} (+{price})" if price else label)
    return notes


def _items(form: dict[str, Any]) -> list[orders.OrderItem]:
    items: list[orders.OrderItem] = []
    for index, item in enumerate(indexed(form.get("line_items"), "line_items")):
        if not isinstance(item, dict) or not str(item.get("item") or "").strip():
            raise InvalidInput(f"line_items[{index}][item]", f"line_items[{index}][item] (the item name) is missing")
        try:
            quantity = int(str(item.get("item_qty") or "1").strip())
        except ValueError:
            raise InvalidInput(f"line_items[{index}][item_qty]", f"line_items[{index}][item_qty]="
                                                                 f"{item.get('item_qty')!r} is not a whole number") from None
        if not 1 <= quantity <= 10_000:
            raise InvalidInput(f"line_items[{index}][item_qty]", f"line_items[{index}][item_qty] must be 1 to 10000")
        # NOTE: item_price is read as the price of one unit, which the published field list leaves open.
        price = _money(item.get("item_price"), f"line_items[{index}][item_price]")
        notes = [line_breaks(item.get("item_description"))] + _addons(item, index)
        name = str(item["item"]).strip()
        if str(item.get("category") or "").strip():
            name = f"{name} ({str(item['category']).strip()})"
        items.append(orders.OrderItem(name[:200], quantity, price, "; ".join(n for n in notes if n)[:500] or None))
    if not items:
        raise InvalidInput("line_items", "line_items is missing or empty; an order needs at least one item")
    return items + _fees(form)


def _fees(form: dict[str, Any]) -> list[orders.OrderItem]:
    fees = [("Delivery", form.get("deliverycost"), "deliverycost"), ("Card fee", form.get("card_fee"), "card_fee"),
            ("Extra fee", form.get("extra_fee"), "extra_fee")]
    for key in sorted(form):
        match = re.fullmatch(r"extra_fee_name_(\d+)", key)
        if match:
            amount_key = f"extra_fee_amount_{match.group(1)}"
            fees.append((str(form[key]).strip() or "Extra fee", form.get(amount_key), amount_key))
    return [orders.OrderItem(name, 1, amount) for name, value, field in fees
            if (amount := _money(value, field)) > 0]


def _currency(value: str | None) -> str:
    code = _CURRENCY_SYMBOLS.get((value or "").strip(), (value or "").strip().upper())
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise InvalidInput("currency", f"currency={value!r} is invalid; use an ISO 4217 code such as EUR or GBP")
    return code


def _notes(form: dict[str, Any]) -> str | None:
    lines = [line_breaks(form.get("cust_instruction"))]
    if form.get("table_number"):
        lines.append(f"Table {form['table_number']}")
    payment = PAYMENT_STATUSES.get(str(form.get("payment_status") or ""))
    method = str(form.get("payment_method") or "").strip()
    if payment or method:
        lines.append("Payment: " + ", ".join(part for part in (method, payment) if part))
    for label, key in (("Discount", "total_discount"), ("Tax", "tax_amount")):
        if _money(form.get(key), key) > 0:
            lines.append(f"{label}: {_money(form.get(key), key)}")
    joined = "\n".join(line for line in lines if line)
    return joined[:2000] or None


def _customer(form: dict[str, Any]) -> dict[str, Any]:
    customer: dict[str, Any] = {"name": str(form.get("cust_name") or "").strip() or "Customer"}
    for key, field in (("address", "cust_address"), ("phone", "cust_phone"), ("email", "cust_email")):
        value = line_breaks(form.get(field))
        if value:
            customer[key] = value
    if str(form.get("isVarified") or "") in ("4", "5"):
        customer["verified"] = form["isVarified"] == "4"
    if str(form.get("num_prev_order") or "").isdigit():
        customer["previous_orders"] = int(form["num_prev_order"])
    return customer


def authenticate(session: Session, api_key: str, api_password: str) -> Account:
    row = session.scalars(select(PrinterCoCredential).where(PrinterCoCredential.api_key == api_key,
                                                            PrinterCoCredential.revoked_at.is_(None))).first()
    if row is None or not check_device_password(row.password_hash, api_password):
        raise CredentialsInvalid("api_key or api_password is invalid")
    account = session.get(Account, row.account_id)
    assert account is not None
    return account


def submit_order(session: Session, fields: dict[str, str], ttl_minutes: int) -> SubmitResult:
    """Create the order a ``submitorderext`` form describes, or return the one a repeated post created."""
    account = authenticate(session, str(fields.get("api_key") or ""), str(fields.get("api_password") or ""))
    form = parse_nested_form(fields)
    remote_id = str(form.get("order_id") or "").strip()
    if not remote_id or len(remote_id) > 100:
        raise InvalidInput("order_id", "order_id is missing or longer than 100 characters")
    try:
        printer_id = int(str(form.get("printer_id") or "").strip())
    except ValueError:
        raise InvalidInput("printer_id", f"printer_id={form.get('printer_id')!r} is not a printer id") from None
    notify_url = str(form.get("notify_url") or "").strip() or None
    if notify_url and not notify_url.startswith(("http://", "https://")):
        raise InvalidInput("notify_url", "notify_url must be an absolute http:// or https:// URL")
    raw_type = str(form.get("order_type") or "").strip()
    delivery_time = str(form.get("delivery_time") or "").strip()

    data = orders.OrderInput(
        printer_id=printer_id, items=_items(form), customer=_customer(form), currency=_currency(form.get("currency")),
        total=_money(form.get("total_amount"), "total_amount", required=True), external_id=f"pc-{remote_id}",
        order_type=ORDER_TYPES.get(raw_type.lower()),
        requested_time=parse_delivery_time(delivery_time, account.timezone) if delivery_time else None,
        notes=_notes(form), locale=account.locale,
    )
    intake = orders.create_order(session, account, data, None, ttl_minutes)
    if intake.created:
        detail = {"printer_id": str(form.get("printer_id")), "order_type": raw_type,
                  "receipt_header": line_breaks(form.get("receipt_header")),
                  "receipt_footer": line_breaks(form.get("receipt_footer")), "order_time": form.get("order_time")}
        session.add(IntegrationOrder(order_id=intake.order.id, source="printerco", remote_order_id=remote_id,
                                     notify_url=notify_url, detail=detail))
    log.info("printerco order %s order=%s account=%s remote_order=%s", "created" if intake.created else "replayed",
             intake.order.id, account.id, remote_id)
    return SubmitResult(intake.order.id, remote_id, intake.created)


def _xml(status: str, details: dict[str, str]) -> str:
    root = ElementTree.Element("response")
    ElementTree.SubElement(root, "status").text = status
    node = ElementTree.SubElement(root, "details")
    for name, text in details.items():
        ElementTree.SubElement(node, name).text = text
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode")


def ok_xml(result: SubmitResult) -> str:
    message = "Order received" if result.created else "Order already received"
    return _xml("OK", {"msg": message, "order_id": result.remote_order_id, "printfleet_order_id": str(result.order_id)})


def failed_xml(error: str) -> str:
    return _xml("FAILED", {"error": error})


def create_credential(session: Session, account: Account) -> tuple[PrinterCoCredential, str]:
    """Issue an ``api_key``/``api_password`` pair; the password exists in clear only in the return value."""
    password = secrets.token_urlsafe(24)
    row = PrinterCoCredential(account_id=account.id, api_key="pc_" + secrets.token_hex(10),
                              password_hash=hash_device_password(password))
    session.add(row)
    session.flush()
    log.info("printerco credential issued account=%s credential=%s", account.id, row.id)
    return row, password


def credential_view(row: PrinterCoCredential, password: str | None = None) -> dict[str, Any]:
    return {"id": row.id, "api_key": row.api_key, "api_password": password or "****",
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None}
