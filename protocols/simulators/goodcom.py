"""Simulated Goodcom-style GPRS/Wi-Fi order printer (GT5000/GT6000 "HttpC" protocol).

The printer polls ``GET <order url>?a=<account>&u=<user>&p=<password>&r=<random>``, prints the order text
it receives, lets staff accept it with a time or reject it with a reason, and reports the decision with
``GET <callback url>?a=..&o=<order id>&ak=Accepted|Rejected&m=..&dt=HH:MM&...``. The order layout is the
one Goodcom's GcAPI PHP helper builds (goodcom6/GcOrderPrinter); the older FCS10 layout is parsed
loosely. No official public specification exists, so field meanings are partly reconstructed.
"""

from __future__ import annotations

import datetime
import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import requests

from protocols.simulators.base import (
    DEFAULT_REQUEST_TIMEOUT,
    PrintedJob,
    SimulatedPrinter,
)

logger = logging.getLogger(__name__)

#: Prefix of a server message the printer prints instead of an order (e.g. an authentication error).
PRINT_MESSAGE_PREFIX = "#!*P*"
#: Prefix of a server message the printer shows on its display.
DISPLAY_MESSAGE_PREFIX = "#!*D*"
MESSAGE_MEDIA_TYPE = "text/x-goodcom-message"
ORDER_MEDIA_TYPE = "text/x-goodcom-order"

#: Delivery type codes of the order text; GcAPI also accepts the words.
DELIVERY_TYPES: dict[str, int] = {"delivery": 1, "consegna": 1, "collection": 2, "reservation": 3}

FEE_FIELDS: tuple[str, ...] = (
    "total_fees", "subtotal", "fee", "discount_amount", "discount_taxes",
    "delivery_charges", "delivery_taxes", "extra_fee_amount", "total_taxes",
)
TOTAL_FIELDS: tuple[str, ...] = (
    "total", "verify_type", "payment_status", "customer_name", "customer_address", "customer_phone",
    "request_time", "previous_orders", "paid_type", "payment_info",
)
# The FCS10 layout puts the card fee first and the phone last.
FCS10_TOTAL_FIELDS: tuple[str, ...] = (
    "card_fee", "total", "verify_type", "customer_name", "customer_address", "request_time",
    "previous_orders", "payment_status", "payment_info", "customer_phone",
)

#: A 206 response is completed with further Range requests, up to this many bytes in all.
_MAX_BODY_BYTES = 64 * 1024
_RANGE_CHUNK = 1024
_MAX_CALLBACK_ATTEMPTS = 5
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")

#: decide(order) returns ("accept", eta_minutes), ("reject", reason) or either with a message third.
Decision = tuple[str, int | str] | tuple[str, int | str, str]


@dataclass(frozen=True)
class GoodcomOrder:
    """One order parsed from the Goodcom order text. Amounts stay strings as the server formatted them."""

    res_id: str
    delivery_type: int | None
    order_id: str
    #: (quantity, name, amount) per item line.
    items: list[tuple[int, str, str]] = field(default_factory=list)
    #: (index of the item line above it or -1, text, amount) per option or comment line.
    options: list[tuple[int, str, str]] = field(default_factory=list)
    #: Fee block by FEE_FIELDS name (GcAPI) or delivery_charges/card_fee (FCS10).
    fees: dict[str, str] = field(default_factory=dict)
    total: str = ""
    verify_type: str = ""
    payment_status: str = ""
    customer_name: str = ""
    customer_address: str = ""
    customer_phone: str = ""
    request_time: str = ""
    previous_orders: str = ""
    paid_type: str = ""
    payment_info: str = ""
    payment_cash: str = ""
    comment: str = ""
    #: "gcapi", "fcs10" or "freeform" (identifiers only, lines kept in `comment`).
    layout: str = "gcapi"
    #: The delivery type field as sent, e.g. "1" or "Collection".
    delivery_type_text: str = ""


def parse_order(text: str) -> GoodcomOrder | None:
    """Parse one order body; return None when it has no recognisable ``#res*type*order*...#`` frame.

    Never raises on any input. Values come back with ``%%`` turned into newlines; the full-width
    look-alikes the server substitutes for ``# * ;`` are kept as they are.
    """
    try:
        return _parse_order(text)
    except (ValueError, IndexError) as err:
        logger.debug("Order text not parsed error=%s", err)
        return None


def _parse_order(text: str) -> GoodcomOrder | None:
    body = text.strip()
    if not body.startswith("#") or body.startswith("#!*"):
        return None

    end = body.rfind("#")
    inner = body[1:end] if end > 0 else body[1:]
    segments = inner.split("*")
    if len(segments) < 3 or not segments[2].strip():
        return None

    if len(segments) == 7 and len(_fields(segments[4])) == len(FEE_FIELDS):
        return _parse_gcapi(segments)
    if len(segments) == 7 and ";" not in segments[4]:
        return _parse_fcs10(segments[:4], [_value(segments[4]), *_fields(segments[5])], segments[6])
    if len(segments) == 6 and len(_fields(segments[4])) == len(FCS10_TOTAL_FIELDS) + 1:
        # The FCS10 manual's own example joins the delivery charge to the next block with ";".
        return _parse_fcs10(segments[:4], _fields(segments[4]), segments[5])
    return GoodcomOrder(
        res_id=_value(segments[0]),
        delivery_type=_delivery_code(segments[1]),
        order_id=_value(segments[2]),
        comment=_value("*".join(segments[3:]).rstrip("*")),
        layout="freeform",
        delivery_type_text=_value(segments[1]),
    )


def _parse_gcapi(segments: list[str]) -> GoodcomOrder:
    items, options = _parse_items(segments[3])
    totals = dict(zip(TOTAL_FIELDS, _padded(_fields(segments[5]), len(TOTAL_FIELDS)), strict=True))
    cash, comment = _padded(_fields(segments[6]), 2)[:2]
    return GoodcomOrder(
        res_id=_value(segments[0]),
        delivery_type=_delivery_code(segments[1]),
        order_id=_value(segments[2]),
        items=items,
        options=options,
        fees=dict(zip(FEE_FIELDS, _fields(segments[4]), strict=True)),
        payment_cash=cash,
        comment=comment,
        layout="gcapi",
        delivery_type_text=_value(segments[1]),
        **totals,
    )


def _parse_fcs10(head: list[str], values: list[str], comment: str) -> GoodcomOrder:
    """Build an order from the FCS10 layout: `values` starts with the delivery charge."""
    items, options = _parse_items(head[3])
    delivery_charges, *rest = _padded(values, len(FCS10_TOTAL_FIELDS) + 1)
    totals = dict(zip(FCS10_TOTAL_FIELDS, rest, strict=True))
    fees = {"delivery_charges": delivery_charges, "card_fee": totals.pop("card_fee")}
    return GoodcomOrder(
        res_id=_value(head[0]),
        delivery_type=_delivery_code(head[1]),
        order_id=_value(head[2]),
        items=items,
        options=options,
        fees=fees,
        comment=_value(comment),
        layout="fcs10",
        delivery_type_text=_value(head[1]),
        **totals,
    )


def _parse_items(segment: str) -> tuple[list[tuple[int, str, str]], list[tuple[int, str, str]]]:
    """Split ``qty;name;amount;`` triples; ``text;;amount;`` (or ``;text;amount;``) is an option line.

    The FCS10 manual writes ``qty,name,amount`` with ``;`` between items, so a field holding two commas
    is read as one whole item.
    """
    fields = _fields(segment)
    triples: list[list[str]] = []
    if fields and all(f.count(",") >= 2 for f in fields):
        triples = [f.split(",", 2) for f in fields]
    else:
        triples = [fields[i:i + 3] for i in range(0, len(fields) - len(fields) % 3, 3)]

    items: list[tuple[int, str, str]] = []
    options: list[tuple[int, str, str]] = []
    for quantity, name, amount in triples:
        quantity, name, amount = _value(quantity), _value(name), _value(amount)
        if quantity.strip().isdigit() and name:
            items.append((int(quantity), name, amount))
        else:
            text = " ".join(part for part in (quantity, name) if part)
            options.append((len(items) - 1, text, amount))
    return items, options


def _fields(segment: str) -> list[str]:
    """Split a ``v1;v2;...;vn;`` block; every value carries its own terminating ``;``."""
    parts = segment.split(";")
    if len(parts) > 1 and parts[-1].strip() == "":
        parts.pop()
    return [_value(part) for part in parts]


def _padded(values: list[str], size: int) -> list[str]:
    return (values + [""] * size)[:size]


def _value(raw: str) -> str:
    return raw.replace("%%", "\n")


def _delivery_code(raw: str) -> int | None:
    value = raw.strip()
    if value.isdigit():
        return int(value)
    return DELIVERY_TYPES.get(value.lower())


def render_order(order: GoodcomOrder) -> str:
    """Return the ticket text the simulated printer prints for `order`."""
    kind = {1: "DELIVERY", 2: "COLLECTION", 3: "RESERVATION"}.get(order.delivery_type or 0, order.delivery_type_text)
    lines = [f"ORDER {order.order_id}  {kind}".rstrip()]
    for index, (quantity, name, amount) in enumerate(order.items):
        lines.append(f"{quantity} x {name}  {amount}")
        lines += [f"   {text}  {amount}".rstrip() for item, text, amount in order.options if item == index]
    lines += [f"{text}  {amount}".rstrip() for item, text, amount in order.options if item == -1]
    for label, value in (("TOTAL", order.total), ("NAME", order.customer_name),
                         ("ADDRESS", order.customer_address), ("PHONE", order.customer_phone),
                         ("TIME", order.request_time), ("NOTE", order.comment)):
        if value:
            lines.append(f"{label}: {value}")
    return "\n".join(lines) + "\n"


def accept_in_20_minutes(order: GoodcomOrder) -> Decision:
    """Default staff decision: accept every order with a 20-minute estimate."""
    return ("accept", 20)


@dataclass
class _Callback:
    order_id: str
    accepted: bool
    message: str
    eta_minutes: int
    decided_at: datetime.datetime
    attempts: int = 0


class GoodcomSimulator(SimulatedPrinter):
    """A Goodcom-style order printer polling `order_url` and reporting decisions to `callback_url`.

    Behaviours settable from any thread (plain attribute writes): :attr:`callback_delay`,
    :attr:`drop_callback`, :attr:`lowercase_ak`; plus :meth:`go_offline` and :meth:`come_online`.
    """

    def __init__(
        self,
        order_url: str,
        callback_url: str,
        account: str,
        user: str,
        password: str,
        *,
        poll_interval: float = 2.0,
        decide: Callable[[GoodcomOrder], Decision] = accept_in_20_minutes,
        request_timeout: tuple[float, float] = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        super().__init__(f"goodcom-{account}-{user}", poll_interval=poll_interval)
        self.order_url = order_url
        self.callback_url = callback_url
        self.account = account
        self.user = user
        self._password = password
        self.decide = decide
        self.request_timeout = request_timeout
        #: Seconds staff take to decide; the printer does not poll meanwhile.
        self.callback_delay: float = 0.0
        #: When True the printer prints orders but never calls back.
        self.drop_callback: bool = False
        #: Send ak=accepted/rejected in lower case, as some firmware does.
        self.lowercase_ak: bool = False
        #: Order bodies that could not be parsed (printed as they are, never called back).
        self.unparseable: list[str] = []
        #: Messages the server asked to show on the display (``#!*D*``).
        self.displayed: list[str] = []
        self._callbacks: list[_Callback] = []
        self._session = requests.Session()

    # -- poll ------------------------------------------------------------------------------------------

    def poll_once(self) -> bool:
        self._retry_callbacks()
        query = [("a", self.account), ("u", self.user), ("p", self._password),
                 ("r", str(random.randint(0, 99_999_999)))]
        url = _with_query(self.order_url, query)
        try:
            body = self._download(url)
        except requests.RequestException as err:
            self._report_failure("order poll", self._redact(err))
            return False

        self._count("polls")
        if body is None:
            return False

        self._report_success()
        text = body.decode("utf-8", errors="replace")
        if text.strip():
            self._handle_body(text)
        return False

    def _download(self, url: str) -> bytes | None:
        """GET the order with ``Range: bytes=0-1023`` and fetch the rest of a 206 response chunk by chunk."""
        response = self._session.get(url, headers={"Range": f"bytes=0-{_RANGE_CHUNK - 1}"},
                                     timeout=self.request_timeout)
        if response.status_code not in (200, 206):
            self._report_failure("order poll", f"HTTP {response.status_code}")
            return None

        body = response.content
        while response.status_code == 206:
            match = _CONTENT_RANGE.search(response.headers.get("Content-Range", ""))
            if match is None or match.group(3) == "*" or len(body) >= min(int(match.group(3)), _MAX_BODY_BYTES):
                break
            start = len(body)
            response = self._session.get(url, headers={"Range": f"bytes={start}-{start + _RANGE_CHUNK - 1}"},
                                         timeout=self.request_timeout)
            if response.status_code not in (200, 206):
                self._report_failure("order poll", f"HTTP {response.status_code} on a range request")
                return None
            body = response.content if response.status_code == 200 else body + response.content
        return body

    def _handle_body(self, text: str) -> None:
        stripped = text.strip()
        if stripped.startswith(PRINT_MESSAGE_PREFIX):
            message = stripped[len(PRINT_MESSAGE_PREFIX):].removeprefix("\\3")
            self._record_printed(PrintedJob(None, MESSAGE_MEDIA_TYPE, text.encode(), message))
            logger.info("Printed server message printer=%s text=%r", self.printer_id, message[:80])
            return
        if stripped.startswith(DISPLAY_MESSAGE_PREFIX):
            message = stripped[len(DISPLAY_MESSAGE_PREFIX):].removeprefix("\\3")
            with self.condition:
                self.displayed.append(message)
                self.condition.notify_all()
            return

        order = parse_order(text)
        if order is None:
            logger.warning("Unparseable order text printer=%s start=%r", self.printer_id, stripped[:60])
            with self.condition:
                self.unparseable.append(text)
            self._count("unparseable")
            return

        self._count("fetches")
        details = {"order": order}
        self._record_printed(PrintedJob(order.order_id, ORDER_MEDIA_TYPE, text.encode(), render_order(order),
                                        details=details))
        logger.info("Printed order printer=%s order=%s items=%d", self.printer_id, order.order_id, len(order.items))
        self._decide(order)

    # -- decision and callback -------------------------------------------------------------------------

    def _decide(self, order: GoodcomOrder) -> None:
        try:
            decision = self.decide(order)
            verdict, value = decision[0], decision[1]
            accepted = verdict.lower() == "accept"
            if len(decision) > 2:
                message = decision[2]
            elif accepted:
                message = "OK"
            else:
                message = str(value)
            eta = int(value) if accepted else 0
        except Exception:
            logger.exception("Decision callable failed printer=%s order=%s", self.printer_id, order.order_id)
            self._count("errors")
            return

        if self.callback_delay > 0 and not self.sleep(self.callback_delay):
            return
        if self.drop_callback:
            self._count("dropped_callbacks")
            logger.info("Dropping callback printer=%s order=%s", self.printer_id, order.order_id)
            return

        callback = _Callback(order.order_id, accepted, str(message), eta, datetime.datetime.now())
        if not self._send_callback(callback):
            self._callbacks.append(callback)

    def _retry_callbacks(self) -> None:
        pending, self._callbacks = self._callbacks, []
        for callback in pending:
            if self._send_callback(callback):
                continue
            if callback.attempts >= _MAX_CALLBACK_ATTEMPTS:
                logger.warning("Giving up callback printer=%s order=%s after %d attempts",
                               self.printer_id, callback.order_id, callback.attempts)
            else:
                self._callbacks.append(callback)

    def _send_callback(self, callback: _Callback) -> bool:
        """Send one decision; return False when it should be retried on the next poll."""
        callback.attempts += 1
        ak = "Accepted" if callback.accepted else "Rejected"
        if self.lowercase_ak:
            ak = ak.lower()
        promised = callback.decided_at + datetime.timedelta(minutes=callback.eta_minutes)
        now = datetime.datetime.now()
        query = [
            ("a", self.account), ("o", callback.order_id), ("ak", ak), ("m", callback.message),
            ("dt", promised.strftime("%H:%M") if callback.accepted else "0"),
            ("u", self.user), ("p", self._password), ("dd", promised.strftime("%d%m%y")),
            ("bat", "100"), ("cur", now.strftime("%H%M%S%d%m%y")),
        ]
        try:
            response = self._session.get(_with_query(self.callback_url, query), timeout=self.request_timeout)
        except requests.RequestException as err:
            self._report_failure("callback", self._redact(err))
            return False

        if response.status_code >= 500:
            self._report_failure("callback", f"HTTP {response.status_code}")
            return False

        self._count("callbacks")
        if response.status_code >= 400:
            self._report_failure("callback", f"HTTP {response.status_code}")
        logger.info("Called back printer=%s order=%s ak=%s eta=%d", self.printer_id, callback.order_id, ak,
                    callback.eta_minutes)
        reply = response.content.decode("utf-8", errors="replace")
        if reply.strip().startswith(PRINT_MESSAGE_PREFIX):
            self._handle_body(reply)
        return True

    def _redact(self, error: object) -> str:
        """Return the error text without the password, which requests puts in its URL messages."""
        text = str(error)
        if self._password:
            text = text.replace(quote(self._password, safe=""), "***").replace(self._password, "***")
        return text

    def _cleanup(self) -> None:
        self._session.close()
        self._session = requests.Session()


def _with_query(url: str, query: list[tuple[str, str]]) -> str:
    encoded = "&".join(f"{name}={quote(value, safe=':')}" for name, value in query)
    return f"{url}{'&' if '?' in url else '?'}{encoded}"
