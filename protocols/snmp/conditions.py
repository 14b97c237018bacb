"""Map a decoded :class:`PrinterHealth` to fleet condition names and a JSON snapshot.

Conditions come from three sources, because printers under-report in each of them:
hrPrinterDetectedErrorState bits, prtCoverStatus, active prtAlertTable rows (severity critical
or warning) and the supply levels themselves.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from protocols.snmp.health import EnumValue, PrinterHealth, Supply

#: hrPrinterDetectedErrorState bit number to fleet condition.
ERROR_BIT_CONDITIONS = {
    0: "paper_low",
    1: "paper_out",
    2: "toner_low",
    3: "toner_out",
    4: "cover_open",
    5: "jam",
    6: "offline_bit",
    7: "service_requested",
    8: "input_tray_missing",
    9: "output_tray_missing",
    10: "marker_supply_missing",
    11: "output_near_full",
    12: "output_full",
    13: "input_tray_empty",
    14: "overdue_maintenance",
}

#: prtAlertCode to fleet condition. Ink and ribbon codes map to the toner conditions, which
#: stand for "the marking supply" on every kind of printer.
ALERT_CODE_CONDITIONS = {
    3: "cover_open",  # coverOpen
    5: "cover_open",  # interlockOpen
    501: "cover_open",  # doorOpen (deprecated in favour of coverOpen)
    8: "jam",
    801: "input_tray_missing",  # inputMediaTrayMissing
    807: "paper_low",  # inputMediaSupplyLow
    808: "input_tray_empty",  # inputMediaSupplyEmpty
    901: "output_tray_missing",  # outputMediaTrayMissing
    902: "output_near_full",  # outputMediaTrayAlmostFull
    903: "output_full",  # outputMediaTrayFull
    1101: "toner_out",  # markerTonerEmpty
    1102: "toner_out",  # markerInkEmpty
    1103: "toner_out",  # markerPrintRibbonEmpty
    1104: "toner_low",  # markerTonerAlmostEmpty
    1105: "toner_low",  # markerInkAlmostEmpty
    1106: "toner_low",  # markerPrintRibbonAlmostEmpty
    1109: "waste_full",  # markerWasteTonerReceptacleFull
    1110: "waste_full",  # markerWasteInkReceptacleFull
    1115: "marker_supply_missing",  # markerTonerCartridgeMissing
}

#: prtAlertSeverityLevel values whose rows stand for a condition that still holds:
#: critical(3) and warning(4). Binary change events (5) and other(1) are history.
ACTIVE_ALERT_SEVERITIES = frozenset({3, 4})

UNREACHABLE = "unreachable"


def to_conditions(
    health: PrinterHealth, supply_low_percent: float = 10.0, waste_full_percent: float = 95.0
) -> set[str]:
    """Return the fleet conditions that hold for ``health``.

    An unreachable printer has only ``unreachable``. ``supply_low`` is set when a consumed supply
    with a measured level is below ``supply_low_percent``; ``waste_full`` when a receptacle is at
    least ``waste_full_percent`` full (or an alert reports it).
    """
    if not health.reachable:
        return {UNREACHABLE}

    conditions: set[str] = set()
    if health.error_state is not None:
        conditions.update(ERROR_BIT_CONDITIONS[bit] for bit in health.error_state.bits if bit in ERROR_BIT_CONDITIONS)

    if any(cover.is_open for cover in health.covers):
        conditions.add("cover_open")

    for alert in health.alerts:
        if alert.severity is None or alert.severity.value not in ACTIVE_ALERT_SEVERITIES or alert.code is None:
            continue
        condition = ALERT_CODE_CONDITIONS.get(alert.code.value)
        if condition is not None:
            conditions.add(condition)

    for supply in health.supplies:
        conditions.update(_supply_conditions(supply, supply_low_percent, waste_full_percent))
    return conditions


def _supply_conditions(supply: Supply, supply_low_percent: float, waste_full_percent: float) -> set[str]:
    if supply.percent is None:
        return set()
    if supply.is_receptacle:
        fill = supply.fill_percent
        return {"waste_full"} if fill is not None and fill >= waste_full_percent else set()
    return {"supply_low"} if supply.percent < supply_low_percent else set()


def to_detail(health: PrinterHealth) -> dict[str, Any]:
    """Return a JSON-serialisable snapshot: identity, status, supplies, trays, covers, alerts, counters."""
    if not health.reachable:
        return {"reachable": False, "error": health.error}

    error_state = health.error_state
    return {
        "reachable": True,
        "printer_index": health.printer_index,
        "identity": dataclasses.asdict(health.identity),
        "uptime_ticks": health.uptime_ticks,
        "rebooted": health.rebooted,
        "device_status": _enum(health.device_status),
        "printer_status": _enum(health.printer_status),
        "error_state": None if error_state is None else {
            "raw_hex": error_state.raw.hex(),
            "bits": sorted(error_state.bits),
            "names": list(error_state.names),
            "unknown_bits": list(error_state.unknown_bits),
        },
        "supplies": [_supply_detail(supply) for supply in health.supplies],
        "inputs": [_plain(tray) for tray in health.inputs],
        "covers": [dict(_plain(cover), is_open=cover.is_open) for cover in health.covers],
        "alerts": [_plain(alert) for alert in health.alerts],
        "console_lines": list(health.console_lines),
        "counters": [_plain(counter) for counter in health.counters],
        "config_changes": health.config_changes,
        "alert_critical_events": health.alert_critical_events,
        "alert_all_events": health.alert_all_events,
    }


def _supply_detail(supply: Supply) -> dict[str, Any]:
    detail = _plain(supply)
    detail["fill_percent"] = _round(supply.fill_percent)
    return detail


def _enum(value: EnumValue | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"value": value.value, "name": value.name, "known": value.known}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _plain(item: Any) -> dict[str, Any]:
    """Convert a health dataclass to a dict with enums as dicts and percentages rounded to 0.1."""
    result: dict[str, Any] = {}
    for item_field in dataclasses.fields(item):
        value = getattr(item, item_field.name)
        if isinstance(value, EnumValue):
            value = _enum(value)
        elif isinstance(value, float):
            value = _round(value)
        result[item_field.name] = value
    return result
