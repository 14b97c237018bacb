"""Tests for fleet.receipts.builder and fleet.receipts.encode_text."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from receipt_samples import make_order

from fleet.receipts.builder import (
    DECISION_PROMPT,
    PrintSettings,
    ReceiptItem,
    ReceiptOrder,
    ReceiptProfile,
    build_order_receipt,
    build_test_receipt,
    format_amount,
    format_money,
)
from fleet.receipts.document import (
    Barcode,
    Buzzer,
    Columns,
    Cut,
    CutMode,
    Document,
    DrawerKick,
    QRCode,
    Rule,
    Text,
)
from fleet.receipts.encode_text import (
    encode_text,
    encode_text_payload,
    star_cut_header,
    star_job_headers,
)
from fleet.receipts.layout import text_width


def _texts(doc: Document) -> list[str]:
    return [block.text for block in doc if isinstance(block, Text)]


def _columns(doc: Document) -> list[tuple[str, str]]:
    return [(block.left, block.right) for block in doc if isinstance(block, Columns)]


def test_build_order_receipt_item_lines(
    order: ReceiptOrder, settings: PrintSettings, profile_80mm_cp858: ReceiptProfile
) -> None:
    doc = build_order_receipt(order, settings, profile_80mm_cp858)

    assert _columns(doc) == [
        ("2 x Pizza Margherita", "12.00"),
        ("1 x Crème brûlée", "4.50"),
        ("3 x Ñandú wings", "10.00"),
        ("TOTAL", "EUR 26.50"),
    ]


def test_build_order_receipt_order_details(
    order: ReceiptOrder, settings: PrintSettings, profile_80mm_cp858: ReceiptProfile
) -> None:
    texts = _texts(build_order_receipt(order, settings, profile_80mm_cp858))

    assert texts[:2] == ["Trattoria Roma", "Main Street 1"]
    assert "DELIVERY" in texts
    assert "Order #A-1042" in texts
    assert "Placed: 2024-05-01 18:42" in texts
    assert "Requested for: 19:30" in texts
    assert "Customer: Jürgen Müller" in texts
    assert "Phone: +49 30 1234567" in texts
    assert "   > no basil" in texts
    assert texts.index("Notes:") < texts.index("Ring twice") < texts.index("Leave at the door")
    assert DECISION_PROMPT in texts
    assert texts[-1] == "Thank you!"


def test_build_order_receipt_codes_and_cut(
    order: ReceiptOrder, settings: PrintSettings, profile_80mm_cp858: ReceiptProfile
) -> None:
    doc = build_order_receipt(order, settings, profile_80mm_cp858)

    assert doc.blocks[0] == Buzzer(2)
    assert [block.data for block in doc if isinstance(block, QRCode)] == [
        "https://shop.example/orders/A-1042"
    ]
    assert doc.blocks[-1] == Cut(CutMode.PARTIAL)


def test_build_order_receipt_optional_fields_absent(profile_80mm_cp858: ReceiptProfile) -> None:
    order = make_order(order_type=None, requested_time=None, customer_phone=None, notes=None, status_url=None)
    doc = build_order_receipt(order, PrintSettings(), profile_80mm_cp858)
    texts = _texts(doc)

    assert not [text for text in texts if text.startswith(("Phone", "Requested", "Notes"))]
    assert DECISION_PROMPT not in texts
    assert not [block for block in doc if isinstance(block, (QRCode, Buzzer))]


def test_build_order_receipt_requested_other_day(profile_80mm_cp858: ReceiptProfile) -> None:
    order = make_order(requested_time=datetime(2024, 5, 2, 12, 0))
    texts = _texts(build_order_receipt(order, PrintSettings(), profile_80mm_cp858))

    assert "Requested for: 2024-05-02 12:00" in texts


def test_build_order_receipt_copies(order: ReceiptOrder, profile_80mm_cp858: ReceiptProfile) -> None:
    doc = build_order_receipt(order, PrintSettings(copies=2, cut="full"), profile_80mm_cp858)

    assert [block for block in doc if isinstance(block, Cut)] == [Cut(CutMode.FULL), Cut(CutMode.FULL)]
    assert "Copy 1 of 2" in _texts(doc)
    assert "Copy 2 of 2" in _texts(doc)
    assert _texts(doc).count("Customer: Jürgen Müller") == 2


def test_build_order_receipt_no_cut(order: ReceiptOrder, profile_80mm_cp858: ReceiptProfile) -> None:
    doc = build_order_receipt(order, PrintSettings(cut="none"), profile_80mm_cp858)

    assert not [block for block in doc if isinstance(block, Cut)]
    assert star_cut_header(doc) == "none"


def test_build_order_receipt_unknown_order_type(profile_80mm_cp858: ReceiptProfile) -> None:
    doc = build_order_receipt(make_order(order_type="drive_thru"), PrintSettings(), profile_80mm_cp858)

    assert "DRIVE THRU" in _texts(doc)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("2.005"), "2.01"),
        (Decimal("12.5"), "12.50"),
        (Decimal("-3"), "-3.00"),
        (Decimal("1E+3"), "1000.00"),
    ],
    ids=["half-up", "pad", "negative", "exponent"],
)
def test_format_amount_two_places(amount: Decimal, expected: str) -> None:
    assert format_amount(amount) == expected


def test_format_money_with_currency() -> None:
    assert format_money(Decimal("27.5"), "CHF") == "CHF 27.50"


def test_receipt_order_rejects_float_total() -> None:
    with pytest.raises(TypeError, match="must be a Decimal, got float"):
        make_order(total=26.5)


def test_receipt_item_rejects_float_price() -> None:
    with pytest.raises(TypeError, match="unit_price must be a Decimal"):
        ReceiptItem("Pizza", 1, 6.0)  # type: ignore[arg-type]


def test_receipt_item_rejects_zero_quantity() -> None:
    with pytest.raises(ValueError, match="positive integer, got 0"):
        ReceiptItem("Pizza", 0, Decimal("6"))


def test_receipt_order_rejects_bad_currency() -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        make_order(currency="euro")


def test_encode_text_line_widths(
    order: ReceiptOrder, settings: PrintSettings, profile_58mm: ReceiptProfile
) -> None:
    for columns in (32, 42, 48):
        lines = encode_text(build_order_receipt(order, settings, profile_58mm), columns).splitlines()
        assert lines
        assert max(text_width(line) for line in lines) <= columns


def test_encode_text_fills_columns(order: ReceiptOrder, profile_58mm: ReceiptProfile) -> None:
    lines = encode_text(build_order_receipt(order, PrintSettings(), profile_58mm), 32).splitlines()

    assert "2 x Pizza Margherita ..... 12.00" in lines
    assert "TOTAL                  EUR 26.50" in lines
    assert "-" * 32 in lines
    assert " " * 12 + "DELIVERY" in lines


def test_encode_text_wraps_long_item(profile_58mm: ReceiptProfile) -> None:
    item = ReceiptItem("Quattro formaggi with extra mozzarella", 1, Decimal("9.90"))
    lines = encode_text(
        build_order_receipt(make_order(items=(item,)), PrintSettings(), profile_58mm), 32
    ).splitlines()

    assert "1 x Quattro formaggi with" in lines
    assert "extra mozzarella .......... 9.90" in lines


@pytest.mark.parametrize(
    ("cut", "expected"),
    [("partial", "partial; feed=true"), ("full", "full; feed=true"), ("none", "none")],
)
def test_star_cut_header_values(
    order: ReceiptOrder, profile_80mm_cp858: ReceiptProfile, cut: str, expected: str
) -> None:
    doc = build_order_receipt(order, PrintSettings(cut=cut), profile_80mm_cp858)

    assert star_cut_header(doc) == expected


def test_star_job_headers_buzzer(
    order: ReceiptOrder, settings: PrintSettings, profile_80mm_cp858: ReceiptProfile
) -> None:
    headers = star_job_headers(build_order_receipt(order, settings, profile_80mm_cp858))

    assert headers == {"X-Star-Cut": "partial; feed=true", "X-Star-Buzzerstartpattern": "2"}


def test_encode_text_payload_codepage(order: ReceiptOrder, profile_80mm_cp858: ReceiptProfile) -> None:
    body, content_type = encode_text_payload(
        build_order_receipt(order, PrintSettings(), profile_80mm_cp858), profile_80mm_cp858
    )

    assert content_type == "text/plain"
    assert "Customer: Jürgen Müller".encode("cp858") in body


def test_encode_text_payload_utf8(order: ReceiptOrder) -> None:
    profile = ReceiptProfile("star", unicode=True)
    body, content_type = encode_text_payload(build_order_receipt(order, PrintSettings(), profile), profile)

    assert content_type == "text/plain; charset=utf-8"
    assert "Crème brûlée".encode() in body


def test_build_test_receipt_contents(profile_80mm_cp858: ReceiptProfile) -> None:
    doc = build_test_receipt(
        profile_80mm_cp858,
        printer_name="Kitchen\x1b@",
        printed_at=datetime(2024, 5, 1, 9, 0),
        printer_id="prn-7",
        model="TM-T20II",
        firmware="1.02",
    )
    texts = _texts(doc)

    assert ("Printer", "Kitchen@") in _columns(doc)
    assert ("Firmware", "1.02") in _columns(doc)
    assert ("Code page", "CP858") in _columns(doc)
    assert "123456789012345678901234567890123456789012345678" in texts
    assert "Cyrillic: Привет, мир" in texts
    assert [block.data for block in doc if isinstance(block, Barcode)] == ["prn-7"]
    assert [block.data for block in doc if isinstance(block, QRCode)] == ["prn-7"]
    assert isinstance(doc.blocks[-1], Cut)
    assert Rule() in doc.blocks


_names = st.text(min_size=0, max_size=120)
_items = st.builds(
    ReceiptItem,
    name=_names,
    quantity=st.integers(min_value=1, max_value=10**6),
    unit_price=st.decimals(
        min_value=-(10**6), max_value=10**6, places=2, allow_nan=False, allow_infinity=False
    ),
    notes=st.none() | _names,
)


@hypothesis_settings(deadline=None, max_examples=150)
@given(
    items=st.lists(_items, min_size=1, max_size=5), columns=st.sampled_from([16, 32, 42, 48]), customer=_names
)
def test_encode_text_never_exceeds_columns(items: list[ReceiptItem], columns: int, customer: str) -> None:
    profile = ReceiptProfile("prop", columns=columns)
    order = make_order(items=tuple(items), customer_name=customer)
    lines = encode_text(
        build_order_receipt(order, PrintSettings(header=customer), profile), columns
    ).splitlines()

    assert [line for line in lines if text_width(line) > columns] == []


def test_encode_text_mid_document_cut() -> None:
    cut = Cut()
    doc = Document((Text("one"), cut, Text("two"), cut))

    assert encode_text(doc, 32) == "one\n\n\n\n\ntwo\n"
    assert star_cut_header(doc) == "partial; feed=true"


def test_star_job_headers_drawer_at_end() -> None:
    doc = Document((Text("paid"), Cut(CutMode.FULL, feed=False), DrawerKick(2), Buzzer(5)))

    assert star_job_headers(doc) == {
        "X-Star-Cut": "full; feed=false",
        "X-Star-CashDrawer": "end",
        "X-Star-Buzzerendpattern": "3",
    }
