"""Sample receipt data shared by the receipt tests (a module name unique in the test tree)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fleet.receipts.builder import ReceiptItem, ReceiptOrder


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
