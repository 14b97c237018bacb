"""Shared receipt fixtures: a realistic order, print settings and printer profiles."""

from __future__ import annotations

import pytest
from receipt_samples import make_order

from fleet.receipts.builder import PrintSettings, ReceiptOrder, ReceiptProfile


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
