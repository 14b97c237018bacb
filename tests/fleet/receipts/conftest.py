"""Shared receipt fixtures: a realistic order, print settings and printer profiles."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from fleet.receipts.builder import PrintSettings, ReceiptItem, ReceiptOrder, ReceiptProfile


def make_order(**overrides: object) -> ReceiptOrder:
    """Return a delivery order of three items; keyword arguments replace fields."""
    fields: dict[str, object] = {
        "reference": "A-1042",
        "created_at": datetime(2024, 5, 1, 18, 42),
        "order_type": "delivery",
        "requested_time": datetime(2024, 5, 1, 19, 30),
        "customer_name": "Jürgen Müller",
        "customer_phone": "+49 30 1234567",
        "items": (
            ReceiptItem("Pizza Margherita", 2, Decimal("6.00"), "no basil"),
            ReceiptItem("Crème brûlée", 1, Decimal("4.50")),
            ReceiptItem("Ñandú wings", 3, Decimal("3.333")),
        ),
        "notes": "Ring twice\nLeave at the door",
        "currency": "EUR",
        "total": Decimal("26.50"),
        "status_url": "https://shop.example/orders/A-1042",
    }
    fields.update(overrides)
    return ReceiptOrder(**fields)  # type: ignore[arg-type]


@pytest.fixture
def order() -> ReceiptOrder:
    return make_order()


@pytest.fixture
def settings() -> PrintSettings:
    return PrintSettings(
        header="Trattoria Roma\nMain Street 1",
        footer="Thank you!",
        require_decision=True,
        buzzer=True,
    )


@pytest.fixture
def profile_80mm_cp858() -> ReceiptProfile:
    return ReceiptProfile(
        name="test-80mm",
        paper_width_mm=80,
        print_width_dots=576,
        columns=48,
        escpos_profile="TM-T20II",
        codepage="CP858",
    )


@pytest.fixture
def profile_80mm_magic() -> ReceiptProfile:
    return ReceiptProfile(
        name="test-80mm-magic",
        paper_width_mm=80,
        print_width_dots=576,
        columns=48,
        escpos_profile="TM-T20II",
        codepage=None,
    )


@pytest.fixture
def profile_58mm() -> ReceiptProfile:
    return ReceiptProfile(
        name="test-58mm",
        paper_width_mm=58,
        print_width_dots=384,
        columns=32,
        escpos_profile="default",
        codepage="CP858",
    )
