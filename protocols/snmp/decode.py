"""Decode SNMP values read from a printer into plain dataclasses.

The functions here are pure: they take a mapping from OID tuples to plain Python values
(``int`` for every integer type, ``bytes`` for OCTET STRING and IpAddress, a tuple of ints for an
OBJECT IDENTIFIER) and never talk to the network. Objects the agent did not return are simply
absent from the mapping. Nothing here raises on odd input: out-of-range enums are kept as unknown
with their raw number, bad text is decoded with a Latin-1 fallback, and every percentage is
clamped to 0–100.
"""

from __future__ import annotations

from collections.abc import Mapping

from protocols.snmp import enums
from protocols.snmp import oids
from protocols.snmp.health import (
    Alert,
    Cover,
    EnumValue,
    ErrorState,
    Identity,
    InputTray,
    MarkerCounter,
    PrinterHealth,
    Supply,
)
from protocols.snmp.oids import Oid

SnmpValue = int | bytes | tuple[int, ...]
RawValues = Mapping[Oid, SnmpValue]

#: Special values of prtMarkerSuppliesLevel / prtInputCurrentLevel (RFC 3805).
LEVEL_OTHER = -1
LEVEL_UNKNOWN = -2
LEVEL_SOME_REMAINING = -3

#: sysUpTime is a TimeTicks value (1/100 s) that wraps after 2**32 ticks, about 497 days.
UPTIME_WRAP_TICKS = 2**32

# Interface types that carry the printer's own MAC: ethernetCsmacd(6), iso88023Csmacd(7),
# ieee80211(71). Wired first, because wireless interfaces are often listed but down.
_WIRED_IF_TYPES = (6, 7)
_WIRELESS_IF_TYPES = (71,)
_IF_OPER_UP = 1


def enum_value(names: Mapping[int, str], value: SnmpValue | None) -> EnumValue | None:
    """Name an enumerated integer, keeping values outside ``names`` as unknown."""
    if not isinstance(value, int):
        return None
    name = names.get(value)
    if name is None:
        return EnumValue(value=value, name="unknown", known=False)
    return EnumValue(value=value, name=name, known=True)


def decode_text(value: SnmpValue | None) -> str:
    """Decode a DisplayString: strip trailing NULs and white space, UTF-8 with Latin-1 fallback."""
    if not isinstance(value, bytes):
        return ""
    trimmed = value.rstrip(b"\x00 \t\r\n")
    try:
        return trimmed.decode("utf-8")
    except UnicodeDecodeError:
        return trimmed.decode("latin-1")


def decode_error_state(value: SnmpValue | None) -> ErrorState:
    """Decode hrPrinterDetectedErrorState; bit 0 is the most significant bit of the first octet.

    Any length is accepted: an empty string means no error, one octet carries bits 0-7, and
    octets beyond the second are kept as unknown bits rather than dropped.
    """
    raw = value if isinstance(value, bytes) else b""
    bits = frozenset(
        octet_index * 8 + bit
        for octet_index, octet in enumerate(raw)
        for bit in range(8)
        if octet & (0x80 >> bit)
    )
    return ErrorState(raw=raw, bits=bits)


def _clamp_percent(value: float) -> float:
    return max(0.0, min(100.0, value))


def decode_level(
    level: int | None, max_capacity: int | None, unit: int | None = None
) -> tuple[str, float | None]:
    """Turn a Printer-MIB level and maximum into ``(level_state, percent)``.

    States: ``measured`` (percent set), ``some_remaining`` (level -3, or a level above 100 with
    no usable maximum), ``unknown`` (level -2, missing, or a vendor-specific negative value),
    ``other`` (level -1). A maximum of -1/-2 with a level of 0-100 (or a percent unit) is read
    as a percentage, as HP and Sharp report it. Never divides by a negative maximum.
    """
    if level is None or level == LEVEL_UNKNOWN or level < LEVEL_SOME_REMAINING:
        return "unknown", None
    if level == LEVEL_SOME_REMAINING:
        return "some_remaining", None
    if level == LEVEL_OTHER:
        return "other", None

    if max_capacity is not None and max_capacity > 0:
        if level >= max_capacity:
            return "measured", 100.0
        return "measured", _clamp_percent(level * 100 / max_capacity)

    if unit == enums.SUPPLY_UNIT_PERCENT or level <= 100:
        return "measured", _clamp_percent(float(level))
    return "some_remaining", None


def is_reboot(previous_ticks: int | None, current_ticks: int | None, elapsed_seconds: float) -> bool:
    """Tell whether sysUpTime going from ``previous_ticks`` to ``current_ticks`` means a reboot.

    A decrease is a reboot unless it matches the 2**32 wrap of TimeTicks (about every 497 days),
    i.e. the previous value plus the elapsed time crossed the wrap and the new value is small.
    """
    if previous_ticks is None or current_ticks is None or current_ticks >= previous_ticks:
        return False
    elapsed_ticks = max(0, int(elapsed_seconds * 100))
    expected = previous_ticks + elapsed_ticks
    if expected >= UPTIME_WRAP_TICKS:
        tolerance = max(elapsed_ticks, 6000)
        if current_ticks <= expected - UPTIME_WRAP_TICKS + tolerance:
            return False
    return True


def decode_mac(value: SnmpValue | None) -> str | None:
    """Normalise a MAC to lowercase colon-separated hex from 6 raw bytes or a text form.

    Accepted text forms: ``88:51:fb:e8:48:c7``, unpadded ``0:15:99:7d:b1:6a``, dashes, dotted
    Cisco style and 12 bare hex digits. Returns None for anything else and for all-zero MACs.
    """
    if not isinstance(value, bytes) or not value:
        return None
    if len(value) == 6:
        octets = list(value)
    else:
        octets = _parse_mac_text(value)
        if octets is None:
            return None
    if not any(octets):
        return None
    return ":".join(f"{octet:02x}" for octet in octets)


def _parse_mac_text(value: bytes) -> list[int] | None:
    try:
        text = value.decode("ascii").strip().rstrip("\x00").lower()
    except UnicodeDecodeError:
        return None
    for separator in (":", "-"):
        if separator in text:
            parts = text.split(separator)
            break
    else:
        digits = text.replace(".", "")
        parts = [digits[i : i + 2] for i in range(0, len(digits), 2)] if len(digits) == 12 else []
    if len(parts) != 6 or not all(1 <= len(part) <= 2 for part in parts):
        return None
    try:
        return [int(part, 16) for part in parts]
    except ValueError:
        return None


def column(raw: RawValues, column_oid: Oid, printer_index: int | None = None) -> dict[tuple[int, ...], SnmpValue]:
    """Return the instances of a table column keyed by their index suffix.

    With ``printer_index`` only rows of that hrDeviceIndex are kept and the key is the rest of
    the index (for Printer-MIB tables, the row number as a 1-tuple).
    """
    prefix = column_oid if printer_index is None else column_oid + (printer_index,)
    size = len(prefix)
    return {name[size:]: value for name, value in raw.items() if name[:size] == prefix and len(name) > size}


def _row_column(raw: RawValues, column_oid: Oid, printer_index: int) -> dict[int, SnmpValue]:
    """Return a Printer-MIB column of one printer keyed by row number (single-component rows)."""
    return {key[0]: value for key, value in column(raw, column_oid, printer_index).items() if len(key) == 1}


def _int_or_none(value: SnmpValue | None) -> int | None:
    return value if isinstance(value, int) else None


def find_printer_index(raw: RawValues) -> int:
    """Find the printer's hrDeviceIndex: the lowest hrDeviceType row equal to hrDevicePrinter.

    Without such a row (Xerox AltaLink lists no hrDevice rows), take the first index of the
    Printer-MIB tables, and fall back to 1.
    """
    printer_rows = [
        key[0]
        for key, value in column(raw, oids.OID_HR_DEVICE_TYPE).items()
        if len(key) == 1 and value == oids.OID_HR_DEVICE_PRINTER
    ]
    if printer_rows:
        return min(printer_rows)

    for table_column in (oids.OID_PRT_MARKER_SUPPLIES_LEVEL, oids.OID_PRT_INPUT_CURRENT_LEVEL,
                         oids.OID_PRT_MARKER_LIFE_COUNT, oids.OID_PRT_GENERAL_CONFIG_CHANGES):
        keys = sorted(column(raw, table_column))
        if keys:
            return keys[0][0]
    return 1


def decode_vendor(sys_object_id: SnmpValue | None) -> tuple[int | None, str | None]:
    """Return the enterprise number and vendor name from a sysObjectID under 1.3.6.1.4.1."""
    if not isinstance(sys_object_id, tuple):
        return None, None
    prefix = oids.OID_ENTERPRISES
    if len(sys_object_id) <= len(prefix) or sys_object_id[: len(prefix)] != prefix:
        return None, None
    enterprise = sys_object_id[len(prefix)]
    return enterprise, oids.ENTERPRISE_VENDORS.get(enterprise)


def decode_identity(raw: RawValues, printer_index: int) -> Identity:
    """Decode vendor, model, serial number and MAC.

    The model comes from prtGeneralPrinterName or hrDeviceDescr of the printer row because
    sysDescr often names only the network card ("EPSON Built-in"); sysDescr up to its first
    ";" is the last resort. The serial number falls back to the vendor's private OID.
    """
    sys_object_id = raw.get(oids.OID_SYS_OBJECT_ID)
    enterprise, vendor = decode_vendor(sys_object_id)
    sys_descr = decode_text(raw.get(oids.OID_SYS_DESCR))

    model = decode_text(raw.get(oids.OID_PRT_GENERAL_PRINTER_NAME + (printer_index,)))
    model = model or decode_text(raw.get(oids.OID_HR_DEVICE_DESCR + (printer_index,)))
    model = model or sys_descr.split(";")[0].strip()

    serial = decode_text(raw.get(oids.OID_PRT_GENERAL_SERIAL_NUMBER + (printer_index,)))
    if not serial and enterprise in oids.VENDOR_SERIAL_NUMBER_OIDS:
        serial = decode_text(raw.get(oids.VENDOR_SERIAL_NUMBER_OIDS[enterprise]))

    return Identity(
        sys_descr=sys_descr,
        sys_object_id=oids.dotted(sys_object_id) if isinstance(sys_object_id, tuple) else "",
        enterprise=enterprise,
        vendor=vendor,
        model=model,
        serial_number=serial.strip(),
        mac=decode_interface_mac(raw),
        sys_name=decode_text(raw.get(oids.OID_SYS_NAME)),
        sys_location=decode_text(raw.get(oids.OID_SYS_LOCATION)),
        sys_contact=decode_text(raw.get(oids.OID_SYS_CONTACT)),
    )


def decode_interface_mac(raw: RawValues) -> str | None:
    """Pick the printer's MAC from ifTable: an operational wired port first, then wireless."""
    macs = {key: decode_mac(value) for key, value in column(raw, oids.OID_IF_PHYS_ADDRESS).items()}
    if_types = column(raw, oids.OID_IF_TYPE)
    oper = column(raw, oids.OID_IF_OPER_STATUS)

    def candidates(types: tuple[int, ...] | None, need_up: bool) -> list[str]:
        return [
            mac
            for key, mac in sorted(macs.items())
            if mac is not None
            and (types is None or if_types.get(key) in types)
            and (not need_up or oper.get(key) == _IF_OPER_UP)
        ]

    for types, need_up in ((_WIRED_IF_TYPES, True), (_WIRELESS_IF_TYPES, True), (None, True), (None, False)):
        found = candidates(types, need_up)
        if found:
            return found[0]
    return None


def decode_supplies(raw: RawValues, printer_index: int) -> tuple[Supply, ...]:
    """Decode prtMarkerSuppliesTable rows; a row needs a description, level or maximum."""
    def col(column_oid: Oid) -> dict[int, SnmpValue]:
        return _row_column(raw, column_oid, printer_index)

    descriptions = col(oids.OID_PRT_MARKER_SUPPLIES_DESCRIPTION)
    levels = col(oids.OID_PRT_MARKER_SUPPLIES_LEVEL)
    maxima = col(oids.OID_PRT_MARKER_SUPPLIES_MAX_CAPACITY)
    classes = col(oids.OID_PRT_MARKER_SUPPLIES_CLASS)
    types = col(oids.OID_PRT_MARKER_SUPPLIES_TYPE)
    units = col(oids.OID_PRT_MARKER_SUPPLIES_SUPPLY_UNIT)
    colorant_indexes = col(oids.OID_PRT_MARKER_SUPPLIES_COLORANT_INDEX)
    colorants = col(oids.OID_PRT_MARKER_COLORANT_VALUE)

    supplies = []
    for index in sorted(set(descriptions) | set(levels) | set(maxima)):
        level = _int_or_none(levels.get(index))
        max_capacity = _int_or_none(maxima.get(index))
        unit = _int_or_none(units.get(index))
        supply_class = enum_value(enums.PRT_MARKER_SUPPLIES_CLASS, classes.get(index))
        supply_type = enum_value(enums.PRT_MARKER_SUPPLIES_TYPE, types.get(index))
        level_state, percent = decode_level(level, max_capacity, unit)
        colorant_index = _int_or_none(colorant_indexes.get(index))
        colorant = decode_text(colorants.get(colorant_index)) if colorant_index else ""
        supplies.append(Supply(
            index=index,
            description=decode_text(descriptions.get(index)),
            supply_type=supply_type,
            supply_class=supply_class,
            unit=enum_value(enums.PRT_MARKER_SUPPLIES_SUPPLY_UNIT, unit),
            colorant=colorant or None,
            max_capacity=max_capacity,
            level=level,
            level_state=level_state,
            percent=percent,
            is_receptacle=_is_receptacle(supply_class, supply_type),
        ))
    return tuple(supplies)


def _is_receptacle(supply_class: EnumValue | None, supply_type: EnumValue | None) -> bool:
    """Use prtMarkerSuppliesClass; infer from a waste type only when the class column is absent."""
    if supply_class is not None:
        return supply_class.value == enums.SUPPLY_CLASS_RECEPTACLE
    return supply_type is not None and supply_type.value in enums.WASTE_SUPPLY_TYPES


def decode_inputs(raw: RawValues, printer_index: int) -> tuple[InputTray, ...]:
    """Decode prtInputTable rows (paper trays, manual feeds, rolls)."""
    def col(column_oid: Oid) -> dict[int, SnmpValue]:
        return _row_column(raw, column_oid, printer_index)

    names = col(oids.OID_PRT_INPUT_NAME)
    levels = col(oids.OID_PRT_INPUT_CURRENT_LEVEL)
    maxima = col(oids.OID_PRT_INPUT_MAX_CAPACITY)
    descriptions = col(oids.OID_PRT_INPUT_DESCRIPTION)
    media = col(oids.OID_PRT_INPUT_MEDIA_NAME)
    types = col(oids.OID_PRT_INPUT_TYPE)
    units = col(oids.OID_PRT_INPUT_CAPACITY_UNIT)
    statuses = col(oids.OID_PRT_INPUT_STATUS)

    trays = []
    for index in sorted(set(names) | set(levels) | set(maxima)):
        level = _int_or_none(levels.get(index))
        max_capacity = _int_or_none(maxima.get(index))
        level_state, percent = _decode_tray_level(level, max_capacity)
        trays.append(InputTray(
            index=index,
            name=decode_text(names.get(index)),
            description=decode_text(descriptions.get(index)),
            media_name=decode_text(media.get(index)),
            input_type=enum_value(enums.PRT_INPUT_TYPE, types.get(index)),
            capacity_unit=enum_value(enums.PRT_CAPACITY_UNIT, units.get(index)),
            max_capacity=max_capacity,
            current_level=level,
            level_state=level_state,
            percent=percent,
            status=_int_or_none(statuses.get(index)),
        ))
    return tuple(trays)


def _decode_tray_level(level: int | None, max_capacity: int | None) -> tuple[str, float | None]:
    """Like :func:`decode_level`, but a tray level without a usable maximum is a sheet count."""
    if max_capacity is not None and max_capacity > 0:
        return decode_level(level, max_capacity)
    if level is None or level < 0:
        return decode_level(level, None)
    if level == 0:
        return "measured", 0.0
    return "some_remaining", None


def decode_covers(raw: RawValues, printer_index: int) -> tuple[Cover, ...]:
    descriptions = _row_column(raw, oids.OID_PRT_COVER_DESCRIPTION, printer_index)
    statuses = _row_column(raw, oids.OID_PRT_COVER_STATUS, printer_index)
    return tuple(
        Cover(index=index, description=decode_text(descriptions.get(index)),
              status=enum_value(enums.PRT_COVER_STATUS, statuses.get(index)))
        for index in sorted(set(descriptions) | set(statuses))
    )


def decode_alerts(raw: RawValues, printer_index: int) -> tuple[Alert, ...]:
    """Decode prtAlertTable rows; unknown severities, groups and codes keep their raw number."""
    def col(column_oid: Oid) -> dict[int, SnmpValue]:
        return _row_column(raw, column_oid, printer_index)

    severities = col(oids.OID_PRT_ALERT_SEVERITY_LEVEL)
    codes = col(oids.OID_PRT_ALERT_CODE)
    descriptions = col(oids.OID_PRT_ALERT_DESCRIPTION)
    trainings = col(oids.OID_PRT_ALERT_TRAINING_LEVEL)
    groups = col(oids.OID_PRT_ALERT_GROUP)
    group_indexes = col(oids.OID_PRT_ALERT_GROUP_INDEX)
    locations = col(oids.OID_PRT_ALERT_LOCATION)
    times = col(oids.OID_PRT_ALERT_TIME)
    return tuple(
        Alert(
            index=index,
            severity=enum_value(enums.PRT_ALERT_SEVERITY_LEVEL, severities.get(index)),
            training_level=enum_value(enums.PRT_ALERT_TRAINING_LEVEL, trainings.get(index)),
            group=enum_value(enums.PRT_ALERT_GROUP, groups.get(index)),
            group_index=_int_or_none(group_indexes.get(index)),
            location=_int_or_none(locations.get(index)),
            code=enum_value(enums.PRT_ALERT_CODE, codes.get(index)),
            description=decode_text(descriptions.get(index)),
            time=_int_or_none(times.get(index)),
        )
        for index in sorted(set(severities) | set(codes) | set(descriptions))
    )


def decode_counters(raw: RawValues, printer_index: int) -> tuple[MarkerCounter, ...]:
    """Decode prtMarkerTable page counters; any integer type is accepted for the counts."""
    units = _row_column(raw, oids.OID_PRT_MARKER_COUNTER_UNIT, printer_index)
    life = _row_column(raw, oids.OID_PRT_MARKER_LIFE_COUNT, printer_index)
    power_on = _row_column(raw, oids.OID_PRT_MARKER_POWER_ON_COUNT, printer_index)
    return tuple(
        MarkerCounter(index=index, unit=enum_value(enums.PRT_MARKER_COUNTER_UNIT, units.get(index)),
                      life_count=_int_or_none(life.get(index)),
                      power_on_count=_int_or_none(power_on.get(index)))
        for index in sorted(set(life) | set(power_on))
    )


def decode_console(raw: RawValues, printer_index: int) -> tuple[str, ...]:
    """Return the non-empty front-panel lines, padding removed, in line order."""
    lines = _row_column(raw, oids.OID_PRT_CONSOLE_DISPLAY_BUFFER_TEXT, printer_index)
    texts = (decode_text(lines[index]).strip() for index in sorted(lines))
    return tuple(text for text in texts if text)


def decode_uptime(raw: RawValues) -> int | None:
    """Return sysUpTime in ticks, falling back to hrSystemUptime; parsed by value, not type."""
    for name in (oids.OID_SYS_UP_TIME, oids.OID_HR_SYSTEM_UPTIME):
        value = raw.get(name)
        if isinstance(value, int) and value >= 0:
            return value
    return None


def decode_health(raw: RawValues, printer_index: int | None = None) -> PrinterHealth:
    """Decode a complete snapshot of a reachable printer."""
    index = printer_index if printer_index is not None else find_printer_index(raw)
    error_state_value = raw.get(oids.OID_HR_PRINTER_DETECTED_ERROR_STATE + (index,))
    return PrinterHealth(
        reachable=True,
        printer_index=index,
        identity=decode_identity(raw, index),
        uptime_ticks=decode_uptime(raw),
        device_status=enum_value(enums.HR_DEVICE_STATUS, raw.get(oids.OID_HR_DEVICE_STATUS + (index,))),
        printer_status=enum_value(enums.HR_PRINTER_STATUS, raw.get(oids.OID_HR_PRINTER_STATUS + (index,))),
        error_state=decode_error_state(error_state_value) if error_state_value is not None else None,
        covers=decode_covers(raw, index),
        inputs=decode_inputs(raw, index),
        supplies=decode_supplies(raw, index),
        alerts=decode_alerts(raw, index),
        console_lines=decode_console(raw, index),
        counters=decode_counters(raw, index),
        config_changes=_int_or_none(raw.get(oids.OID_PRT_GENERAL_CONFIG_CHANGES + (index,))),
        alert_critical_events=_int_or_none(raw.get(oids.OID_PRT_ALERT_CRITICAL_EVENTS + (index,))),
        alert_all_events=_int_or_none(raw.get(oids.OID_PRT_ALERT_ALL_EVENTS + (index,))),
    )


# Re-exported so callers find the whole decoding API in this module.
from protocols.snmp.conditions import to_conditions, to_detail  # noqa: E402

__all__ = [
    "Alert", "Cover", "EnumValue", "ErrorState", "Identity", "InputTray", "MarkerCounter",
    "PrinterHealth", "Supply", "decode_error_state", "decode_health", "decode_level", "decode_mac",
    "decode_text", "find_printer_index", "is_reboot", "to_conditions", "to_detail",
]
