"""Pure decoder tests, including hypothesis properties; no network."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.snmp import oids
from protocols.snmp.conditions import ALERT_CODE_CONDITIONS, ERROR_BIT_CONDITIONS, to_conditions, to_detail
from protocols.snmp.decode import (
    decode_error_state,
    decode_health,
    decode_level,
    decode_mac,
    decode_text,
    find_printer_index,
    is_reboot,
)
from protocols.snmp.health import PrinterHealth

OID_PARTS = st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=3).map(tuple)
SNMP_VALUES = st.one_of(
    st.integers(min_value=-(2**31), max_value=2**64),
    st.binary(max_size=40),
    st.lists(st.integers(min_value=0, max_value=2**32), min_size=2, max_size=12).map(tuple),
)
PRINTER_COLUMNS = [
    oids.OID_PRT_MARKER_SUPPLIES_LEVEL, oids.OID_PRT_MARKER_SUPPLIES_MAX_CAPACITY, oids.OID_PRT_MARKER_SUPPLIES_CLASS,
    oids.OID_PRT_MARKER_SUPPLIES_TYPE, oids.OID_PRT_MARKER_SUPPLIES_DESCRIPTION, oids.OID_PRT_MARKER_SUPPLIES_SUPPLY_UNIT,
    oids.OID_PRT_INPUT_CURRENT_LEVEL, oids.OID_PRT_INPUT_MAX_CAPACITY, oids.OID_PRT_INPUT_NAME,
    oids.OID_PRT_COVER_STATUS, oids.OID_PRT_ALERT_SEVERITY_LEVEL, oids.OID_PRT_ALERT_CODE, oids.OID_PRT_ALERT_DESCRIPTION,
    oids.OID_PRT_MARKER_LIFE_COUNT, oids.OID_PRT_CONSOLE_DISPLAY_BUFFER_TEXT, oids.OID_HR_PRINTER_DETECTED_ERROR_STATE,
    oids.OID_HR_DEVICE_STATUS, oids.OID_HR_DEVICE_TYPE, oids.OID_IF_PHYS_ADDRESS, oids.OID_SYS_OBJECT_ID,
    oids.OID_SYS_UP_TIME, oids.OID_PRT_MARKER_SUPPLIES_COLORANT_INDEX, oids.OID_PRT_MARKER_COLORANT_VALUE,
]
RAW_SNAPSHOTS = st.dictionaries(
    st.tuples(st.sampled_from(PRINTER_COLUMNS), OID_PARTS).map(lambda pair: pair[0] + pair[1]),
    SNMP_VALUES,
    max_size=60,
)


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        (b"", ()),
        (b"\x00", ()),
        (b"\x20", ("lowToner",)),
        (b"\x40", ("noPaper",)),
        (b"\x02", ("offline",)),
        (b"\x20\x00", ("lowToner",)),
        (b"\x00\x20", ("markerSupplyMissing",)),
        (b"\x9a\x00", ("lowPaper", "noToner", "doorOpen", "offline")),
        (b"\x00\x02", ("overduePreventMaint",)),
    ],
    ids=["empty", "zero", "low-toner-1-byte", "no-paper", "offline-bit", "low-toner-2-bytes",
         "marker-missing", "multiple", "overdue-maintenance"],
)
def test_decode_error_state_msb_first(raw: bytes, names: tuple[str, ...]) -> None:
    assert decode_error_state(raw).names == names


def test_decode_error_state_keeps_unknown_bits() -> None:
    state = decode_error_state(b"\x00\x01\x80")

    assert state.names == ()
    assert state.unknown_bits == (15, 16)
    assert state.as_int16() == 0x0001


def test_decode_error_state_one_byte_pads_right() -> None:
    """A single 0x20 octet is lowToner (0x2000), not markerSupplyMissing (0x0020)."""
    assert decode_error_state(b"\x20").as_int16() == 0x2000


@pytest.mark.parametrize(
    ("level", "max_capacity", "unit", "expected"),
    [
        (1060, 5300, None, ("measured", 20.0)),
        (-3, -2, None, ("some_remaining", None)),
        (-3, 100, None, ("some_remaining", None)),
        (-2, -2, None, ("unknown", None)),
        (-1, 100, None, ("other", None)),
        (-100, 100, None, ("unknown", None)),
        (100, -2, None, ("measured", 100.0)),
        (7, -2, 19, ("measured", 7.0)),
        (150, 100, None, ("measured", 100.0)),
        (500, -2, 7, ("some_remaining", None)),
        (0, 0, None, ("measured", 0.0)),
        (None, 100, None, ("unknown", None)),
    ],
    ids=["ratio", "some-remaining", "some-remaining-max", "unknown", "other", "vendor-negative",
         "max-unknown-percent-range", "percent-unit", "clamped", "count-without-max", "zero-max", "missing"],
)
def test_decode_level_special_values(level, max_capacity, unit, expected) -> None:
    assert decode_level(level, max_capacity, unit) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (bytes.fromhex("3C2AF4BFF51B"), "3c:2a:f4:bf:f5:1b"),
        (b"88:51:FB:E8:48:C7", "88:51:fb:e8:48:c7"),
        (b"0:15:99:7d:b1:6a", "00:15:99:7d:b1:6a"),
        (b"00-15-99-7D-B1-6A", "00:15:99:7d:b1:6a"),
        (b"0015.997d.b16a", "00:15:99:7d:b1:6a"),
        (b"", None),
        (b"\x00" * 6, None),
        (b"not a mac", None),
    ],
    ids=["raw-bytes", "text-colons", "text-unpadded", "text-dashes", "text-dotted", "empty", "zero", "garbage"],
)
def test_decode_mac_forms(raw: bytes, expected: str | None) -> None:
    assert decode_mac(raw) == expected


def test_decode_text_strips_nul_and_falls_back_to_latin1() -> None:
    assert decode_text(b"Black Toner\x00") == "Black Toner"
    assert decode_text(b"Bildutrustn.\xe5") == "Bildutrustn.\u00e5"
    assert decode_text(b"Sleep" + b" " * 17) == "Sleep"


@pytest.mark.parametrize(
    ("previous", "current", "elapsed", "expected"),
    [
        (1000, 2000, 10.0, False),
        (5000, 100, 60.0, True),
        (2**32 - 500, 300, 10.0, False),
        (2**32 - 500, 900000, 10.0, True),
        (None, 100, 0.0, False),
    ],
    ids=["increase", "decrease", "wrap", "decrease-after-wrap-window", "first-poll"],
)
def test_is_reboot_cases(previous, current, elapsed, expected) -> None:
    assert is_reboot(previous, current, elapsed) is expected


def test_find_printer_index_uses_hr_device_type() -> None:
    raw = {
        oids.OID_HR_DEVICE_TYPE + (1,): oids.oid("1.3.6.1.2.1.25.3.1.3"),
        oids.OID_HR_DEVICE_TYPE + (7,): oids.OID_HR_DEVICE_PRINTER,
    }

    assert find_printer_index(raw) == 7


def test_find_printer_index_falls_back_to_printer_mib_rows() -> None:
    assert find_printer_index({oids.OID_PRT_MARKER_SUPPLIES_LEVEL + (3, 1): 50}) == 3
    assert find_printer_index({}) == 1


def test_to_conditions_unreachable_only() -> None:
    assert to_conditions(PrinterHealth.unreachable("timeout")) == {"unreachable"}


@given(st.binary(max_size=64))
def test_decode_error_state_any_bytes_never_raises(raw: bytes) -> None:
    state = decode_error_state(raw)

    assert all(0 <= bit < len(raw) * 8 for bit in state.bits)
    assert len(state.names) + len(state.unknown_bits) == len(state.bits)


@given(
    st.one_of(st.none(), st.integers(min_value=-(2**64), max_value=2**64)),
    st.one_of(st.none(), st.integers(min_value=-(2**64), max_value=2**64)),
    st.one_of(st.none(), st.integers(min_value=-5, max_value=30)),
)
def test_decode_level_any_integers_in_range(level, max_capacity, unit) -> None:
    state, percent = decode_level(level, max_capacity, unit)

    assert state in {"measured", "some_remaining", "unknown", "other"}
    assert (percent is None) == (state != "measured")
    assert percent is None or 0.0 <= percent <= 100.0


@given(st.binary(max_size=80))
def test_decode_text_and_mac_any_octets(raw: bytes) -> None:
    assert isinstance(decode_text(raw), str)
    mac = decode_mac(raw)
    assert mac is None or (len(mac) == 17 and mac == mac.lower())


@settings(max_examples=300, deadline=None)
@given(RAW_SNAPSHOTS)
def test_decode_health_any_snapshot_in_range(raw) -> None:
    health = decode_health(raw)

    for supply in health.supplies:
        assert supply.percent is None or 0.0 <= supply.percent <= 100.0
        assert supply.fill_percent is None or 0.0 <= supply.fill_percent <= 100.0
    for tray in health.inputs:
        assert tray.percent is None or 0.0 <= tray.percent <= 100.0
    known = set(ERROR_BIT_CONDITIONS.values()) | set(ALERT_CODE_CONDITIONS.values()) | {"supply_low", "waste_full"}
    assert to_conditions(health) <= known
    json.dumps(to_detail(health))
