"""Goodcom-style order printers (GT5000/GT6000 "HttpC"): order poll and accept/reject callback.

Poll: ``GET /goodcom/order?a=<account code>&u=<user>&p=<password>`` returns one order in the order
text format, or an empty body when nothing waits. The answer is the fetch: the printer prints what it
got, so the job is claimed as it is sent. Callback: ``GET /goodcom/callback?a=&o=<order id>&ak=
Accepted|Rejected&m=<message or reason>&dt=<HH:MM>&u=&p=`` is staff's decision on the printer.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, Response, request
from sqlalchemy import select

from fleet import dispatch, health, orders, printers
from fleet.accounts import check_device_password
from fleet.errors import FleetError
from fleet.models import Account, Order, Printer, utcnow
from fleet.receipts.sanitize import clean_text
from fleet.web import services

log = logging.getLogger(__name__)

bp = Blueprint("goodcom", __name__, url_prefix="/goodcom")

#: Field separators of the order text and the look-alikes that replace them inside values.
_SEPARATORS = str.maketrans({"#": "\uFE5F", "*": "\uFE61", ";": "\uFE54", "\\": "\uFE68", "/": "\uFF0F"})
#: The reverse mapping, because the printer reports an order id as it printed it, look-alikes included.
_ORIGINALS = {ord(lookalike): chr(original) for original, lookalike in _SEPARATORS.items()}
_ORDER_TYPES = {"delivery": "1", "collection": "2", "reservation": "3", "dine_in": "2"}
PAID, NOT_PAID, VERIFIED = "6", "7", "4"


def escape_value(value: object) -> str:
    """Make ``value`` safe inside an order text field: separators become look-alikes, newlines ``%%``."""
    text = "" if value is None else str(value)
    lines = [clean_text(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "%%".join(lines).translate(_SEPARATORS)


def _money(value: object) -> str:
    return f"{Decimal(str(value)):.2f}"


def encode_order(order: Order, res_id: str, local_zone: ZoneInfo | None = None) -> str:
    """Render ``order`` in the Goodcom order text layout; every value is escaped."""
    zone = local_zone or ZoneInfo("UTC")
    items = "".join(
        f"{int(item['quantity'])};{escape_value(item['name'])};{_money(Decimal(str(item['unit_price'])) * int(item['quantity']))};"
        + (f"{escape_value(item['notes'])};;0.00;" if item.get("notes") else "")
        for item in order.items
    )
    subtotal = sum((Decimal(str(i["unit_price"])) * int(i["quantity"]) for i in order.items), Decimal(0))
    fees = f"0.00;{_money(subtotal)};0.00;0.00;0.00;0.00;0.00;0.00;0.00;"
    customer = order.customer or {}
    requested = order.requested_time.astimezone(zone).strftime("%H:%M %d-%m-%y") if order.requested_time else ""
    total = ";".join([
        _money(order.total), VERIFIED, NOT_PAID, escape_value(customer.get("name")), escape_value(customer.get("address")),
        escape_value(customer.get("phone")), requested, "0", "", escape_value(order.currency),
    ]) + ";"
    tail = f"0.00;{escape_value(order.notes)};"
    order_id = escape_value(order.external_id or order.id)
    kind = _ORDER_TYPES.get(order.order_type or "", "")
    return f"#{escape_value(res_id)}*{kind}*{order_id}*{items}*{fees}*{total}*{tail}#\r\n"


def message(text: str) -> str:
    """Return ``text`` as a ``#!*P*`` message, which the printer prints instead of an order."""
    return f"#!*P*{escape_value(text)}\r\n"


def _text(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain", headers={"Cache-Control": "no-store"})


def _authenticate(session: object) -> tuple[Account | None, Printer | None, str | None]:
    code, user, password = request.args.get("a", ""), request.args.get("u", ""), request.args.get("p", "")
    account = session.scalars(select(Account).where(Account.goodcom_code == code)).first()  # type: ignore[attr-defined]
    if account is None:
        return None, None, "Unknown account: check the order URL settings"
    printer = printers.find_by_device_user(session, "goodcom", user)  # type: ignore[arg-type]
    if printer is None or printer.account_id != account.id:
        printers.quarantine(session, account.id, "goodcom", user[:128] or "(empty)", request.remote_addr)  # type: ignore[arg-type]
        return account, None, "Printer not registered: ask the operator to approve it"
    if not check_device_password(printer.device_password_hash, password):
        log.warning("goodcom authentication failed printer=%s addr=%s", printer.id, request.remote_addr)
        return account, None, "Authentication error"
    return account, printer, None


@bp.get("/order")
def order_poll() -> Response:
    container = services()
    now = utcnow()
    with container.db.session() as session:
        account, printer, problem = _authenticate(session)
        if printer is None or account is None:
            return _text(message(problem or "Authentication error"))
        container.presence.touch(printer.id, now)
        if not printer.online:
            health.apply_reading(session, printer, health.HealthReading(online=True, conditions=frozenset()), now)
        claim = dispatch.claim_next(session, printer, now)
        if claim is None or claim.job.order is None:
            log.debug("goodcom poll printer=%s nothing pending", printer.id)
            return _text("")
        body = encode_order(claim.job.order, account.goodcom_code, _zone(account))
        log.info("goodcom order sent printer=%s job=%s order=%s", printer.id, claim.job.id, claim.job.order_id)
    return _text(body)


def _zone(account: Account) -> ZoneInfo:
    try:
        return ZoneInfo(account.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("account time zone unknown account=%s zone=%s; using UTC", account.id, account.timezone)
        return ZoneInfo("UTC")


#: ``dt`` as printers send it: ``HH:MM`` or ``HH:MM:SS``.
_CLOCK_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::\d{2})?$")


def _parse_eta(raw: str, now: datetime, zone: ZoneInfo | None = None) -> datetime | None:
    """Turn ``dt`` (``HH:MM`` or ``HH:MM:SS`` on the printer's clock, which runs in the shop's time zone)
    into the next such moment after ``now``, in UTC."""
    match = _CLOCK_TIME.match(raw.strip())
    if match is None:
        return None
    local_now = now.astimezone(zone or ZoneInfo("UTC"))
    try:
        candidate = local_now.replace(hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0)
    except ValueError:
        return None
    if candidate < local_now - timedelta(minutes=5):
        candidate = candidate + timedelta(days=1)
    return candidate.astimezone(UTC)


@bp.get("/callback")
def callback() -> Response:
    decision = request.args.get("ak", request.args.get("m", "")).strip().lower()
    order_ref = request.args.get("o", "")
    reason = request.args.get("m", "").strip()
    container = services()
    now = utcnow()
    with container.db.session() as session:
        account, printer, problem = _authenticate(session)
        if printer is None or account is None:
            return _text(message(problem or "Authentication error"))
        container.presence.touch(printer.id, now)
        order = _find_order(session, account.id, printer.id, order_ref)
        if order is None:
            log.warning("goodcom callback for unknown order printer=%s ref=%s", printer.id, order_ref[:40])
            return _text("")
        for job in order.jobs:
            if job.printer_id == printer.id and job.state in ("fetched", "unconfirmed"):
                dispatch.confirm_job(session, printer, job.token, True, "printed", now=now)
        try:
            if decision == "accepted":
                eta = _parse_eta(request.args.get("dt", ""), now, _zone(account))
                orders.accept_order(session, order, "printer", eta_time=eta, now=now)
            elif decision == "rejected":
                orders.reject_order(session, order, "printer", reason or "Rejected on the printer", now=now)
            else:
                log.warning("goodcom callback with unknown decision printer=%s order=%s ak=%s", printer.id, order.id,
                            decision[:20])
        except FleetError as err:
            log.warning("goodcom decision not applied printer=%s order=%s: %s", printer.id, order.id, err.message)
    return _text("")


def _find_order(session: object, account_id: int, printer_id: int, ref: str) -> Order | None:
    query = select(Order).where(Order.account_id == account_id, Order.printer_id == printer_id)
    for external_id in dict.fromkeys((ref, ref.translate(_ORIGINALS))):
        by_external = session.scalars(query.where(Order.external_id == external_id)).first()  # type: ignore[attr-defined]
        if by_external is not None:
            return by_external  # type: ignore[no-any-return]
    if ref.isdigit():
        return session.scalars(query.where(Order.id == int(ref), Order.external_id.is_(None))).first()  # type: ignore[attr-defined,no-any-return]
    return None

