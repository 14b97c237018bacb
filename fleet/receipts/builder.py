"""Build receipt documents from orders, print settings and printer profiles.

Every string that comes from a customer or a merchant passes through
:func:`~fleet.receipts.sanitize.clean_text` (or ``clean_lines`` for multi-line
fields) before it becomes part of a block. Money is ``Decimal`` throughout and is
printed with two decimal places, rounded half up.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from fleet.receipts.document import (
    PLAIN,
    Align,
    Barcode,
    Block,
    Buzzer,
    Columns,
    Cut,
    CutMode,
    Document,
    Feed,
    QRCode,
    Rule,
    Symbology,
    Text,
    TextStyle,
)
from fleet.receipts.sanitize import clean_lines, clean_text

DECISION_PROMPT = "Accept or reject this order on the printer/dashboard"

_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
_CENT = Decimal("0.01")
_TIME_FORMAT = "%Y-%m-%d %H:%M"

_BOLD = TextStyle(bold=True)
_BIG = TextStyle(bold=True, double_width=True, double_height=True)
_TALL = TextStyle(bold=True, double_height=True)

_ORDER_TYPE_LABELS = {
    "delivery": "DELIVERY",
    "collection": "COLLECTION",
    "pickup": "COLLECTION",
    "dine_in": "DINE IN",
    "takeaway": "TAKEAWAY",
}


class CutSetting(enum.StrEnum):
    """Cut performed after each copy of a receipt."""

    FULL = "full"
    PARTIAL = "partial"
    NONE = "none"


def _require_decimal(value: object, what: str) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{what} must be a Decimal, got {type(value).__name__} {value!r}.")


@dataclass(frozen=True)
class ReceiptItem:
    """One order line: ``quantity`` times ``name`` at ``unit_price``."""

    name: str
    quantity: int
    unit_price: Decimal
    notes: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity < 1:
            raise ValueError(f"Item quantity must be a positive integer, got {self.quantity!r}.")
        _require_decimal(self.unit_price, "Item unit_price")

    @property
    def line_total(self) -> Decimal:
        """Unit price times quantity."""
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class ReceiptOrder:
    """The order data a receipt prints. Times are printed as given, in their own time zone."""

    reference: str
    created_at: datetime
    customer_name: str
    currency: str
    total: Decimal
    items: Sequence[ReceiptItem] = ()
    order_type: str | None = None
    requested_time: datetime | None = None
    customer_phone: str | None = None
    notes: str | None = None
    status_url: str | None = None

    def __post_init__(self) -> None:
        if not _CURRENCY_CODE.fullmatch(self.currency):
            raise ValueError(
                f"Currency must be an ISO 4217 code of three capital letters, got {self.currency!r}."
            )
        _require_decimal(self.total, "Order total")


@dataclass(frozen=True)
class PrintSettings:
    """Per-printer print settings that shape a receipt."""

    copies: int = 1
    cut: CutSetting | str = CutSetting.PARTIAL
    buzzer: bool = False
    header: str | None = None
    footer: str | None = None
    require_decision: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.copies <= 9:
            raise ValueError(f"Copies must be between 1 and 9, got {self.copies}.")
        object.__setattr__(self, "cut", CutSetting(self.cut))


@dataclass(frozen=True)
class ReceiptProfile:
    """Printer model facts that the receipt encoders use.

    ``escpos_profile`` names a python-escpos bundled capability profile
    ("TM-T88V", "default"). ``codepage`` fixes the ESC/POS code page (for
    example "CP858") so output is deterministic; ``None`` lets python-escpos
    switch code pages per character. ``unicode`` is True when the printer
    decodes UTF-8 text in ``text/plain`` jobs.
    """

    name: str
    paper_width_mm: int = 80
    print_width_dots: int = 576
    columns: int = 48
    escpos_profile: str = "default"
    codepage: str | None = None
    unicode: bool = False

    def __post_init__(self) -> None:
        if not 16 <= self.columns <= 96:
            raise ValueError(f"Profile {self.name!r}: columns must be between 16 and 96, got {self.columns}.")
        if not 128 <= self.print_width_dots <= 2048:
            raise ValueError(
                f"Profile {self.name!r}: print_width_dots must be between 128 and 2048, "
                f"got {self.print_width_dots}."
            )


def format_amount(amount: Decimal) -> str:
    """Format ``amount`` with two decimal places, rounded half up ("12.5" -> "12.50")."""
    _require_decimal(amount, "Amount")
    return f"{amount.quantize(_CENT, rounding=ROUND_HALF_UP):f}"


def format_money(amount: Decimal, currency: str) -> str:
    """Format ``amount`` with its ISO 4217 currency code ("EUR 27.50")."""
    return f"{currency} {format_amount(amount)}"


def _order_type_label(order_type: str) -> str:
    cleaned = clean_text(order_type).strip()
    return _ORDER_TYPE_LABELS.get(cleaned.lower(), cleaned.upper().replace("_", " "))


def _text_lines(text: str | None, style: TextStyle = PLAIN, align: Align = Align.LEFT) -> list[Block]:
    if not text:
        return []
    return [Text(line, style, align) for line in clean_lines(text)]


def _header_blocks(settings: PrintSettings) -> list[Block]:
    lines = clean_lines(settings.header or "")
    if not lines:
        return []
    blocks: list[Block] = [Text(lines[0], _TALL, Align.CENTER)]
    blocks += [Text(line, PLAIN, Align.CENTER) for line in lines[1:]]
    return blocks + [Rule()]


def _order_blocks(order: ReceiptOrder) -> list[Block]:
    blocks: list[Block] = []
    if order.order_type:
        blocks.append(Text(_order_type_label(order.order_type), _BIG, Align.CENTER))
    blocks.append(Text(f"Order #{clean_text(order.reference).strip()}", _BIG, Align.CENTER))
    blocks.append(Text(f"Placed: {order.created_at.strftime(_TIME_FORMAT)}", PLAIN, Align.CENTER))

    if order.requested_time is not None:
        if order.requested_time.date() == order.created_at.date():
            requested = order.requested_time.strftime("%H:%M")
        else:
            requested = order.requested_time.strftime(_TIME_FORMAT)
        blocks.append(Text(f"Requested for: {requested}", _TALL, Align.CENTER))

    blocks.append(Rule())
    blocks.append(Text(f"Customer: {clean_text(order.customer_name).strip()}", _BOLD))
    if order.customer_phone:
        blocks.append(Text(f"Phone: {clean_text(order.customer_phone).strip()}"))
    return blocks


def _item_blocks(order: ReceiptOrder) -> list[Block]:
    blocks: list[Block] = [Rule()]
    for item in order.items:
        name = clean_text(item.name).strip()
        blocks.append(Columns(f"{item.quantity} x {name}", format_amount(item.line_total)))
        blocks += [Text(f"   > {line}") for line in clean_lines(item.notes or "")]

    blocks.append(Rule())
    blocks.append(Columns("TOTAL", format_money(order.total, order.currency), " ", _TALL))
    return blocks


def _closing_blocks(order: ReceiptOrder, settings: PrintSettings) -> list[Block]:
    blocks: list[Block] = []
    note_lines = clean_lines(order.notes or "")
    if note_lines:
        blocks += [Rule(), Text("Notes:", _BOLD)]
        blocks += [Text(line) for line in note_lines]

    if settings.require_decision:
        blocks += [Rule(), Text(DECISION_PROMPT, _BOLD, Align.CENTER)]

    status_url = clean_text(order.status_url or "").strip()
    if status_url:
        blocks += [Feed(1), QRCode(status_url), Text("Scan for order status", PLAIN, Align.CENTER)]

    footer = _text_lines(settings.footer, PLAIN, Align.CENTER)
    if footer:
        blocks += [Rule(), *footer]
    return blocks


def _cut_blocks(settings: PrintSettings) -> list[Block]:
    cut = CutSetting(settings.cut)
    if cut is CutSetting.NONE:
        return [Feed(4)]
    return [Cut(CutMode(cut.value))]


def build_order_receipt(order: ReceiptOrder, settings: PrintSettings, profile: ReceiptProfile) -> Document:
    """Build the receipt for ``order`` as ``settings`` ask, for a printer described by ``profile``.

    The document contains ``settings.copies`` copies, each followed by the cut
    the settings choose (or a paper feed when the cut is "none"). It starts with
    a buzzer when ``settings.buzzer`` is set. The blocks do not depend on
    ``profile`` yet, because the encoders apply its widths and code page.
    """
    body = (
        _header_blocks(settings)
        + _order_blocks(order)
        + _item_blocks(order)
        + _closing_blocks(order, settings)
    )

    blocks: list[Block] = [Buzzer(2)] if settings.buzzer else []
    for copy in range(1, settings.copies + 1):
        if settings.copies > 1:
            blocks.append(Text(f"Copy {copy} of {settings.copies}", PLAIN, Align.RIGHT))
        blocks += body
        blocks += _cut_blocks(settings)
    return Document(tuple(blocks))


_CODEPAGE_SAMPLES = (
    ("Latin", "Crème brûlée, Müller, Ñandú, Øre, ß, €"),
    ("Greek", "Καλημέρα κόσμε"),
    ("Cyrillic", "Привет, мир"),
    ("CJK", "你好 こんにちは 안녕하세요"),
)


def _ruler(columns: int) -> str:
    return "".join(str(index % 10) for index in range(1, columns + 1))


def build_test_receipt(
    profile: ReceiptProfile,
    *,
    printer_name: str,
    printed_at: datetime,
    printer_id: str | None = None,
    model: str | None = None,
    firmware: str | None = None,
    settings: PrintSettings | None = None,
) -> Document:
    """Build a diagnostic page: printer identity, profile, code page samples, codes and a ruler.

    The barcode encodes the printer id (or name) and the QR code the same text,
    so a scanner check proves both print. The ruler shows whether the profile's
    column count matches the paper.
    """
    identity = [("Printer", printer_name), ("Id", printer_id), ("Model", model), ("Firmware", firmware)]
    blocks: list[Block] = [
        Text("TEST PAGE", _BIG, Align.CENTER),
        Text(printed_at.strftime(_TIME_FORMAT), PLAIN, Align.CENTER),
        Rule(),
    ]
    blocks += [Columns(label, clean_text(value), " ") for label, value in identity if value]
    blocks += [
        Columns("Profile", clean_text(profile.name), " "),
        Columns("Paper", f"{profile.paper_width_mm} mm, {profile.print_width_dots} dots", " "),
        Columns("Columns", str(profile.columns), " "),
        Columns("ESC/POS profile", profile.escpos_profile, " "),
        Columns("Code page", profile.codepage or "automatic", " "),
        Rule(),
        Text("Code page samples", _BOLD),
    ]
    blocks += [Text(f"{label}: {sample}") for label, sample in _CODEPAGE_SAMPLES]
    blocks += [
        Rule(),
        Text("Styles", _BOLD),
        Text("Bold", _BOLD),
        Text("Underline", TextStyle(underline=True)),
        Text("Inverted", TextStyle(invert=True)),
        Text("Double", _BIG),
        Rule(),
        Text(_ruler(profile.columns)),
        Text("left", PLAIN, Align.LEFT),
        Text("centre", PLAIN, Align.CENTER),
        Text("right", PLAIN, Align.RIGHT),
        Columns("left", "right"),
        Rule(),
    ]

    code_data = _barcode_data(printer_id or printer_name)
    blocks += [Barcode(code_data, Symbology.CODE128), Feed(1), QRCode(code_data), Feed(1)]
    blocks += _cut_blocks(settings or PrintSettings())
    return Document(tuple(blocks))


def _barcode_data(value: str) -> str:
    """Reduce ``value`` to printable ASCII for a CODE128 barcode."""
    ascii_text = "".join(char for char in clean_text(value) if " " <= char <= "~").strip()
    return ascii_text[:40] or "PRINTFLEET"
