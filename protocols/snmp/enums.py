"""Names of the enumerated values in HOST-RESOURCES-MIB, Printer-MIB and IANA-PRINTER-MIB.

Values outside these tables are kept as unknown with their raw number (see
:class:`protocols.snmp.decode.EnumValue`), because real printers send out-of-range values
(Brother NC-7700w firmware reports 255 for the alert severity, training level and group).
"""

from __future__ import annotations

HR_DEVICE_STATUS = {1: "unknown", 2: "running", 3: "warning", 4: "testing", 5: "down"}

HR_PRINTER_STATUS = {1: "other", 2: "unknown", 3: "idle", 4: "printing", 5: "warmup"}

#: hrPrinterDetectedErrorState bit number (bit 0 = most significant bit of the first octet)
#: to the RFC 2790 condition name.
ERROR_STATE_BITS = {
    0: "lowPaper",
    1: "noPaper",
    2: "lowToner",
    3: "noToner",
    4: "doorOpen",
    5: "jammed",
    6: "offline",
    7: "serviceRequested",
    8: "inputTrayMissing",
    9: "outputTrayMissing",
    10: "markerSupplyMissing",
    11: "outputNearFull",
    12: "outputFull",
    13: "inputTrayEmpty",
    14: "overduePreventMaint",
}

PRT_COVER_STATUS = {
    1: "other",
    2: "unknown",
    3: "coverOpen",
    4: "coverClosed",
    5: "interlockOpen",
    6: "interlockClosed",
}
COVER_OPEN_STATUSES = frozenset({3, 5})

PRT_INPUT_TYPE = {
    1: "other",
    2: "unknown",
    3: "sheetFeedAutoRemovableTray",
    4: "sheetFeedAutoNonRemovableTray",
    5: "sheetFeedManual",
    6: "continuousRoll",
    7: "continuousFanFold",
}

#: PrtMarkerSuppliesClassTC.
PRT_MARKER_SUPPLIES_CLASS = {1: "other", 3: "supplyThatIsConsumed", 4: "receptacleThatIsFilled"}
SUPPLY_CLASS_RECEPTACLE = 4

#: PrtMarkerSuppliesTypeTC (IANA-PRINTER-MIB, including the later matteToner and matteInk).
PRT_MARKER_SUPPLIES_TYPE = {
    1: "other",
    2: "unknown",
    3: "toner",
    4: "wasteToner",
    5: "ink",
    6: "inkCartridge",
    7: "inkRibbon",
    8: "wasteInk",
    9: "opc",
    10: "developer",
    11: "fuserOil",
    12: "solidWax",
    13: "ribbonWax",
    14: "wasteWax",
    15: "fuser",
    16: "coronaWire",
    17: "fuserOilWick",
    18: "cleanerUnit",
    19: "fuserCleaningPad",
    20: "transferUnit",
    21: "tonerCartridge",
    22: "fuserOiler",
    23: "water",
    24: "wasteWater",
    25: "glueWaterAdditive",
    26: "wastePaper",
    27: "bindingSupply",
    28: "bandingSupply",
    29: "stitchingWire",
    30: "shrinkWrap",
    31: "paperWrap",
    32: "staples",
    33: "inserts",
    34: "covers",
    35: "matteToner",
    36: "matteInk",
}
#: Supply types that are receptacles by nature; used only when the class column is missing.
WASTE_SUPPLY_TYPES = frozenset({4, 8, 14, 24, 26})

#: PrtMarkerSuppliesSupplyUnitTC.
PRT_MARKER_SUPPLIES_SUPPLY_UNIT = {
    1: "other",
    2: "unknown",
    3: "tenThousandthsOfInches",
    4: "micrometers",
    7: "impressions",
    8: "sheets",
    11: "hours",
    12: "thousandthsOfOunces",
    13: "tenthsOfGrams",
    14: "hundrethsOfFluidOunces",
    15: "tenthsOfMilliliters",
    16: "feet",
    17: "meters",
    18: "items",
    19: "percent",
}
SUPPLY_UNIT_PERCENT = 19

#: PrtMarkerCounterUnitTC.
PRT_MARKER_COUNTER_UNIT = {
    3: "tenThousandthsOfInches",
    4: "micrometers",
    5: "characters",
    6: "lines",
    7: "impressions",
    8: "sheets",
    9: "dotRow",
    11: "hours",
    16: "feet",
    17: "meters",
}

#: PrtCapacityUnitTC, used by prtInputCapacityUnit.
PRT_CAPACITY_UNIT = {
    3: "tenThousandthsOfInches",
    4: "micrometers",
    8: "sheets",
    16: "feet",
    17: "meters",
}

PRT_ALERT_SEVERITY_LEVEL = {1: "other", 3: "critical", 4: "warning", 5: "warningBinaryChangeEvent"}

PRT_ALERT_TRAINING_LEVEL = {
    1: "other",
    2: "unknown",
    3: "untrained",
    4: "trained",
    5: "fieldService",
    6: "management",
    7: "noInterventionRequired",
}

PRT_ALERT_GROUP = {
    1: "other",
    2: "unknown",
    3: "hostResourcesMIBStorageTable",
    4: "hostResourcesMIBDeviceTable",
    5: "generalPrinter",
    6: "cover",
    7: "localization",
    8: "input",
    9: "output",
    10: "marker",
    11: "markerSupplies",
    12: "markerColorant",
    13: "mediaPath",
    14: "channel",
    15: "interpreter",
    16: "consoleDisplayBuffer",
    17: "consoleLights",
    18: "alert",
    30: "finDevice",
    31: "finSupply",
    32: "finSupplyMediaInput",
    33: "finAttribute",
}

#: PrtAlertCodeTC (IANA-PRINTER-MIB), generic and per-group codes.
PRT_ALERT_CODE = {
    1: "other",
    2: "unknown",
    3: "coverOpen",
    4: "coverClosed",
    5: "interlockOpen",
    6: "interlockClosed",
    7: "configurationChange",
    8: "jam",
    9: "subunitMissing",
    10: "subunitLifeAlmostOver",
    11: "subunitLifeOver",
    12: "subunitAlmostEmpty",
    13: "subunitEmpty",
    14: "subunitAlmostFull",
    15: "subunitFull",
    16: "subunitNearLimit",
    17: "subunitAtLimit",
    18: "subunitOpened",
    19: "subunitClosed",
    20: "subunitTurnedOn",
    21: "subunitTurnedOff",
    22: "subunitOffline",
    23: "subunitPowerSaver",
    24: "subunitWarmingUp",
    25: "subunitAdded",
    26: "subunitRemoved",
    27: "subunitResourceAdded",
    28: "subunitResourceRemoved",
    29: "subunitRecoverableFailure",
    30: "subunitUnrecoverableFailure",
    31: "subunitRecoverableStorageError",
    32: "subunitUnrecoverableStorageError",
    33: "subunitMotorFailure",
    34: "subunitMemoryExhausted",
    35: "subunitUnderTemperature",
    36: "subunitOverTemperature",
    37: "subunitTimingFailure",
    38: "subunitThermistorFailure",
    501: "doorOpen",
    502: "doorClosed",
    503: "powerUp",
    504: "powerDown",
    505: "printerNMSReset",
    506: "printerManualReset",
    507: "printerReadyToPrint",
    801: "inputMediaTrayMissing",
    802: "inputMediaSizeChange",
    803: "inputMediaWeightChange",
    804: "inputMediaTypeChange",
    805: "inputMediaColorChange",
    806: "inputMediaFormPartsChange",
    807: "inputMediaSupplyLow",
    808: "inputMediaSupplyEmpty",
    809: "inputMediaChangeRequest",
    810: "inputManualInputRequest",
    811: "inputTrayPositionFailure",
    812: "inputTrayElevationFailure",
    813: "inputCannotFeedSizeSelected",
    901: "outputMediaTrayMissing",
    902: "outputMediaTrayAlmostFull",
    903: "outputMediaTrayFull",
    904: "outputMailboxSelectFailure",
    1001: "markerFuserUnderTemperature",
    1002: "markerFuserOverTemperature",
    1003: "markerFuserTimingFailure",
    1004: "markerFuserThermistorFailure",
    1005: "markerAdjustingPrintQuality",
    1101: "markerTonerEmpty",
    1102: "markerInkEmpty",
    1103: "markerPrintRibbonEmpty",
    1104: "markerTonerAlmostEmpty",
    1105: "markerInkAlmostEmpty",
    1106: "markerPrintRibbonAlmostEmpty",
    1107: "markerWasteTonerReceptacleAlmostFull",
    1108: "markerWasteInkReceptacleAlmostFull",
    1109: "markerWasteTonerReceptacleFull",
    1110: "markerWasteInkReceptacleFull",
    1111: "markerOpcLifeAlmostOver",
    1112: "markerOpcLifeOver",
    1113: "markerDeveloperAlmostEmpty",
    1114: "markerDeveloperEmpty",
    1115: "markerTonerCartridgeMissing",
    1301: "mediaPathMediaTrayMissing",
    1302: "mediaPathMediaTrayAlmostFull",
    1303: "mediaPathMediaTrayFull",
    1304: "mediaPathCannotDuplexMediaSelected",
    1801: "alertRemovalOfBinaryChangeEntry",
}
