"""Numeric OIDs polled and set by the SNMP layer.

Each constant is named after its MIB object. The comment gives the MIB module and says whether the
OID is a scalar instance (ends in ``.0``) or a table column, whose instances append an index
(``<hrDeviceIndex>.<row>`` for the Printer-MIB tables). Numeric OIDs are used with
``lookupMib=False`` because pysnmp 7 ships no compiled Printer-MIB.
"""

from __future__ import annotations

Oid = tuple[int, ...]


def oid(dotted: str) -> Oid:
    """Convert a dotted OID string such as ``"1.3.6.1.2.1.1.3.0"`` to a tuple of ints."""
    return tuple(int(part) for part in dotted.strip(".").split("."))


def dotted(value: Oid) -> str:
    """Convert an OID tuple to its dotted string form."""
    return ".".join(str(part) for part in value)


# SNMPv2-MIB system group: scalars.
OID_SYS_DESCR = oid("1.3.6.1.2.1.1.1.0")  # SNMPv2-MIB sysDescr, scalar
OID_SYS_OBJECT_ID = oid("1.3.6.1.2.1.1.2.0")  # SNMPv2-MIB sysObjectID, scalar
OID_SYS_UP_TIME = oid("1.3.6.1.2.1.1.3.0")  # SNMPv2-MIB sysUpTime, scalar (TimeTicks)
OID_SYS_CONTACT = oid("1.3.6.1.2.1.1.4.0")  # SNMPv2-MIB sysContact, scalar, read-write
OID_SYS_NAME = oid("1.3.6.1.2.1.1.5.0")  # SNMPv2-MIB sysName, scalar, read-write
OID_SYS_LOCATION = oid("1.3.6.1.2.1.1.6.0")  # SNMPv2-MIB sysLocation, scalar, read-write

# IF-MIB ifTable: columns indexed by ifIndex.
OID_IF_TYPE = oid("1.3.6.1.2.1.2.2.1.3")  # IF-MIB ifType, table column
OID_IF_PHYS_ADDRESS = oid("1.3.6.1.2.1.2.2.1.6")  # IF-MIB ifPhysAddress, table column
OID_IF_OPER_STATUS = oid("1.3.6.1.2.1.2.2.1.8")  # IF-MIB ifOperStatus, table column

# HOST-RESOURCES-MIB.
OID_HR_SYSTEM_UPTIME = oid("1.3.6.1.2.1.25.1.1.0")  # HOST-RESOURCES-MIB hrSystemUptime, scalar
OID_HR_DEVICE_TYPE = oid("1.3.6.1.2.1.25.3.2.1.2")  # HOST-RESOURCES-MIB hrDeviceType, table column
OID_HR_DEVICE_DESCR = oid("1.3.6.1.2.1.25.3.2.1.3")  # HOST-RESOURCES-MIB hrDeviceDescr, table column
OID_HR_DEVICE_STATUS = oid("1.3.6.1.2.1.25.3.2.1.5")  # HOST-RESOURCES-MIB hrDeviceStatus, table column
OID_HR_PRINTER_STATUS = oid("1.3.6.1.2.1.25.3.5.1.1")  # HOST-RESOURCES-MIB hrPrinterStatus, table column
# HOST-RESOURCES-MIB hrPrinterDetectedErrorState, table column (OCTET STRING bit field).
OID_HR_PRINTER_DETECTED_ERROR_STATE = oid("1.3.6.1.2.1.25.3.5.1.2")
# HOST-RESOURCES-TYPES hrDevicePrinter: the hrDeviceType value that marks the printer row.
OID_HR_DEVICE_PRINTER = oid("1.3.6.1.2.1.25.3.1.5")

# Printer-MIB prtGeneralTable: columns indexed by hrDeviceIndex.
OID_PRT_GENERAL_CONFIG_CHANGES = oid("1.3.6.1.2.1.43.5.1.1.1")  # Printer-MIB, table column
OID_PRT_GENERAL_RESET = oid("1.3.6.1.2.1.43.5.1.1.3")  # Printer-MIB, table column, read-write
OID_PRT_GENERAL_PRINTER_NAME = oid("1.3.6.1.2.1.43.5.1.1.16")  # Printer-MIB, table column
OID_PRT_GENERAL_SERIAL_NUMBER = oid("1.3.6.1.2.1.43.5.1.1.17")  # Printer-MIB, table column
OID_PRT_ALERT_CRITICAL_EVENTS = oid("1.3.6.1.2.1.43.5.1.1.18")  # Printer-MIB, table column
OID_PRT_ALERT_ALL_EVENTS = oid("1.3.6.1.2.1.43.5.1.1.19")  # Printer-MIB, table column

# Printer-MIB prtCoverTable: columns indexed by hrDeviceIndex.prtCoverIndex.
OID_PRT_COVER_DESCRIPTION = oid("1.3.6.1.2.1.43.6.1.1.2")  # Printer-MIB, table column
OID_PRT_COVER_STATUS = oid("1.3.6.1.2.1.43.6.1.1.3")  # Printer-MIB, table column

# Printer-MIB prtInputTable: columns indexed by hrDeviceIndex.prtInputIndex.
OID_PRT_INPUT_TYPE = oid("1.3.6.1.2.1.43.8.2.1.2")  # Printer-MIB, table column
OID_PRT_INPUT_CAPACITY_UNIT = oid("1.3.6.1.2.1.43.8.2.1.8")  # Printer-MIB, table column
OID_PRT_INPUT_MAX_CAPACITY = oid("1.3.6.1.2.1.43.8.2.1.9")  # Printer-MIB, table column
OID_PRT_INPUT_CURRENT_LEVEL = oid("1.3.6.1.2.1.43.8.2.1.10")  # Printer-MIB, table column
OID_PRT_INPUT_STATUS = oid("1.3.6.1.2.1.43.8.2.1.11")  # Printer-MIB, table column
OID_PRT_INPUT_MEDIA_NAME = oid("1.3.6.1.2.1.43.8.2.1.12")  # Printer-MIB, table column
OID_PRT_INPUT_NAME = oid("1.3.6.1.2.1.43.8.2.1.13")  # Printer-MIB, table column
OID_PRT_INPUT_DESCRIPTION = oid("1.3.6.1.2.1.43.8.2.1.18")  # Printer-MIB, table column

# Printer-MIB prtMarkerTable: columns indexed by hrDeviceIndex.prtMarkerIndex.
OID_PRT_MARKER_COUNTER_UNIT = oid("1.3.6.1.2.1.43.10.2.1.3")  # Printer-MIB, table column
OID_PRT_MARKER_LIFE_COUNT = oid("1.3.6.1.2.1.43.10.2.1.4")  # Printer-MIB, table column
OID_PRT_MARKER_POWER_ON_COUNT = oid("1.3.6.1.2.1.43.10.2.1.5")  # Printer-MIB, table column

# Printer-MIB prtMarkerSuppliesTable: columns indexed by hrDeviceIndex.prtMarkerSuppliesIndex.
OID_PRT_MARKER_SUPPLIES_COLORANT_INDEX = oid("1.3.6.1.2.1.43.11.1.1.3")  # Printer-MIB, column
OID_PRT_MARKER_SUPPLIES_CLASS = oid("1.3.6.1.2.1.43.11.1.1.4")  # Printer-MIB, table column
OID_PRT_MARKER_SUPPLIES_TYPE = oid("1.3.6.1.2.1.43.11.1.1.5")  # Printer-MIB, table column
OID_PRT_MARKER_SUPPLIES_DESCRIPTION = oid("1.3.6.1.2.1.43.11.1.1.6")  # Printer-MIB, column
OID_PRT_MARKER_SUPPLIES_SUPPLY_UNIT = oid("1.3.6.1.2.1.43.11.1.1.7")  # Printer-MIB, column
OID_PRT_MARKER_SUPPLIES_MAX_CAPACITY = oid("1.3.6.1.2.1.43.11.1.1.8")  # Printer-MIB, column
OID_PRT_MARKER_SUPPLIES_LEVEL = oid("1.3.6.1.2.1.43.11.1.1.9")  # Printer-MIB, table column

# Printer-MIB prtMarkerColorantTable: indexed by hrDeviceIndex.prtMarkerColorantIndex.
OID_PRT_MARKER_COLORANT_VALUE = oid("1.3.6.1.2.1.43.12.1.1.4")  # Printer-MIB, table column

# Printer-MIB prtConsoleDisplayBufferTable: indexed by hrDeviceIndex.line.
OID_PRT_CONSOLE_DISPLAY_BUFFER_TEXT = oid("1.3.6.1.2.1.43.16.5.1.2")  # Printer-MIB, column

# Printer-MIB prtAlertTable: the whole table (entry) and its columns, indexed by
# hrDeviceIndex.prtAlertIndex.
OID_PRT_ALERT_ENTRY = oid("1.3.6.1.2.1.43.18.1.1")  # Printer-MIB prtAlertEntry, table
OID_PRT_ALERT_SEVERITY_LEVEL = oid("1.3.6.1.2.1.43.18.1.1.2")  # Printer-MIB, table column
OID_PRT_ALERT_TRAINING_LEVEL = oid("1.3.6.1.2.1.43.18.1.1.3")  # Printer-MIB, table column
OID_PRT_ALERT_GROUP = oid("1.3.6.1.2.1.43.18.1.1.4")  # Printer-MIB, table column
OID_PRT_ALERT_GROUP_INDEX = oid("1.3.6.1.2.1.43.18.1.1.5")  # Printer-MIB, table column
OID_PRT_ALERT_LOCATION = oid("1.3.6.1.2.1.43.18.1.1.6")  # Printer-MIB, table column
OID_PRT_ALERT_CODE = oid("1.3.6.1.2.1.43.18.1.1.7")  # Printer-MIB, table column
OID_PRT_ALERT_DESCRIPTION = oid("1.3.6.1.2.1.43.18.1.1.8")  # Printer-MIB, table column
OID_PRT_ALERT_TIME = oid("1.3.6.1.2.1.43.18.1.1.9")  # Printer-MIB, table column (TimeTicks)

# SNMP-FRAMEWORK-MIB snmpEngineTime, scalar (seconds since the engine last restarted).
OID_SNMP_ENGINE_TIME = oid("1.3.6.1.6.3.10.2.1.3.0")

# Prefix of every private enterprise OID: the next sub-identifier is the vendor's
# IANA enterprise number.
OID_ENTERPRISES = oid("1.3.6.1.4.1")

#: Vendor names for the enterprise numbers seen on printers.
ENTERPRISE_VENDORS: dict[int, str] = {
    11: "HP",
    236: "Samsung",
    253: "Xerox",
    367: "Ricoh",
    641: "Lexmark",
    683: "Zebra",
    1248: "Epson",
    1347: "Kyocera",
    1602: "Canon",
    1129: "Toshiba",
    2385: "Sharp",
    2435: "Brother",
    10642: "Zebra",
    18334: "Konica Minolta",
}

#: Private serial number scalars for vendors that leave prtGeneralSerialNumber empty,
#: keyed by enterprise number.
VENDOR_SERIAL_NUMBER_OIDS: dict[int, Oid] = {
    # Brother private MIB serial number, scalar (Brother MFC-L2710DW firmware Q).
    2435: oid("1.3.6.1.4.1.2435.2.3.9.4.2.1.5.5.1.0"),
    # Kyocera private MIB serial number of the first printer, table instance.
    1347: oid("1.3.6.1.4.1.1347.43.5.1.1.28.1"),
}
