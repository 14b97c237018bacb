"""Reproduce the LibreNMS expectations for six real printer recordings served by snmpsim.

Where our decoding rightly differs from LibreNMS, the test docstring says why and asserts
our value. Skipped when the shared data folder beside the repository is absent.
"""

from __future__ import annotations

from typing import Any

import pytest

from protocols.snmp.client import SnmpClient
from protocols.snmp.conditions import to_conditions
from protocols.snmp.health import PrinterHealth
from protocols.snmp.poller import SnmpPoller

RECORDINGS = ["xerox", "brother", "epson", "konica_2", "canonprinter_tm", "sharp"]


@pytest.fixture(scope="module")
def librenms_health(expected_librenms, snmp_client: SnmpClient, make_target) -> dict[str, PrinterHealth]:
    poller = SnmpPoller(snmp_client)
    results = poller.poll_many_sync([(name, make_target(f"librenms/{name}")) for name in RECORDINGS])
    return {result.printer_id: result.health for result in results}


@pytest.mark.parametrize("name", RECORDINGS)
def test_librenms_supplies_match(name: str, librenms_health, expected_librenms: dict[str, Any]) -> None:
    """Supply percentages match LibreNMS, except level -3 ("some remaining").

    LibreNMS shows -3 as 50 %; we report the state ``some_remaining`` with no percentage, since the
    printer only says that some supply is left. Descriptions are compared as prefixes because
    LibreNMS cuts Xerox part numbers at ", PN" and its old schema truncated Epson's to 32 chars.
    """
    health = librenms_health[name]
    supplies = {supply.index: supply for supply in health.supplies}

    for expected in expected_librenms[name]["supplies"]:
        supply = supplies[expected["index"]]
        assert supply.description.startswith(expected["descr"]), expected
        if expected.get("raw", {}).get("level") == -3:
            assert supply.level_state == "some_remaining"
            assert supply.percent is None
        else:
            assert supply.level_state == "measured"
            assert supply.percent is not None
            assert round(supply.percent) == expected["current"], expected
        if expected["type"] == "markerSupply":
            assert supply.supply_type is None
        else:
            assert supply.supply_type is not None
            assert supply.supply_type.name == expected["type"]

    for skipped in expected_librenms[name].get("skipped_supplies", []):
        assert supplies[skipped["index"]].level_state == "unknown"


@pytest.mark.parametrize("name", RECORDINGS)
def test_librenms_trays_match(name: str, librenms_health, expected_librenms: dict[str, Any]) -> None:
    """Tray percentages match LibreNMS, except -3 (shown as 50 % there, ``some_remaining`` here).

    Trays LibreNMS skips (level -2) are kept with state ``unknown``.
    """
    health = librenms_health[name]
    trays = {tray.index: tray for tray in health.inputs}

    for expected in expected_librenms[name]["inputs"]:
        tray = trays[expected["index"]]
        assert tray.name == expected["descr"]
        assert tray.max_capacity == expected["capacity"]
        if expected.get("raw_level") == -3:
            assert tray.level_state == "some_remaining"
        else:
            assert tray.percent is not None
            assert round(tray.percent) == expected["current"]

    listed = {expected["index"] for expected in expected_librenms[name]["inputs"]}
    for index, tray in trays.items():
        if index not in listed:
            assert tray.level_state == "unknown", tray


@pytest.mark.parametrize("name", RECORDINGS)
def test_librenms_device_status_and_errors(name: str, librenms_health, expected_librenms: dict[str, Any]) -> None:
    sensors = expected_librenms[name]["sensors"]
    health = librenms_health[name]

    if "hrDeviceStatus" in sensors:
        assert health.device_status is not None
        assert health.device_status.value == sensors["hrDeviceStatus"]
    if sensors.get("hrPrinterDetectedErrorState") == 0:
        assert health.error_state is not None
        assert health.error_state.bits == frozenset()


def test_librenms_sharp_low_toner_kept(librenms_health, expected_librenms) -> None:
    """Sharp MX-3570N sends 0x2000 = lowToner. LibreNMS keeps it at discovery (state 3) but its
    poller stores 0; we keep lowToner on every poll, consistent with hrDeviceStatus warning(3)."""
    health = librenms_health["sharp"]

    assert expected_librenms["sharp"]["sensors"]["hrPrinterDetectedErrorState_discovery"] == 3
    assert health.error_state is not None
    assert health.error_state.raw == b"\x20\x00"
    assert health.error_state.names == ("lowToner",)
    assert "toner_low" in to_conditions(health)


def test_librenms_epson_empty_error_state(librenms_health) -> None:
    """Epson WF-C5790 sends a zero-length error state; LibreNMS creates no sensor, we decode no bits."""
    health = librenms_health["epson"]

    assert health.error_state is not None
    assert health.error_state.raw == b""
    assert health.error_state.bits == frozenset()


@pytest.mark.parametrize("name", ["canonprinter_tm", "sharp"])
def test_librenms_counters_match(name: str, librenms_health, expected_librenms: dict[str, Any]) -> None:
    sensors = expected_librenms[name]["sensors"]
    counter = librenms_health[name].counters[0]

    assert counter.life_count == sensors["prtMarkerLifeCount"]
    assert counter.power_on_count == sensors["prtMarkerPowerOnCount"]


def test_librenms_counter_units(librenms_health) -> None:
    """LibreNMS names the counters "Life time sheets" (Canon) and "Life time impressions" (Sharp)."""
    assert librenms_health["canonprinter_tm"].counters[0].unit.name == "sheets"
    assert librenms_health["sharp"].counters[0].unit.name == "impressions"


@pytest.mark.parametrize("name", RECORDINGS)
def test_librenms_identity_match(name: str, librenms_health, expected_librenms: dict[str, Any]) -> None:
    """Serial numbers match. LibreNMS strips the vendor from the model ("MFC-L2710DW"); we keep
    hrDeviceDescr as the printer reports it ("Brother MFC-L2710DW series"), so we check containment."""
    expected_os = expected_librenms[name]["os"]
    identity = librenms_health[name].identity

    if "serial" in expected_os:
        assert identity.serial_number == expected_os["serial"]
    if "hardware" in expected_os:
        assert expected_os["hardware"] in identity.model


def test_librenms_waste_containers_are_receptacles(librenms_health) -> None:
    """LibreNMS shows the raw ratio for waste containers (Canon waste ink 90 %, Sharp waste toner
    100 %). RFC 3805 defines a receptacle's level as the space left, so we report the same ratio
    as free space and derive the fill: Canon 10 % full, Sharp empty. Neither recording sends the
    class column, so the receptacle is inferred from the waste supply type."""
    canon = {supply.index: supply for supply in librenms_health["canonprinter_tm"].supplies}[6]
    sharp = {supply.index: supply for supply in librenms_health["sharp"].supplies}[5]

    assert canon.is_receptacle
    assert round(canon.fill_percent) == 10
    assert sharp.is_receptacle
    assert sharp.fill_percent == 0.0
    assert "waste_full" not in to_conditions(librenms_health["canonprinter_tm"])


def test_librenms_printer_index_found_among_devices(librenms_health) -> None:
    """Sharp lists 13 hrDevice rows and Epson 4; the printer is the hrDevicePrinter row (1)."""
    assert librenms_health["sharp"].printer_index == 1
    assert librenms_health["epson"].printer_index == 1
    assert librenms_health["xerox"].printer_index == 1


def test_librenms_vendor_and_mac(librenms_health) -> None:
    assert librenms_health["brother"].identity.vendor == "Brother"
    assert librenms_health["brother"].identity.mac == "3c:2a:f4:bf:f5:1b"
    assert librenms_health["konica_2"].identity.vendor == "Konica Minolta"
    assert librenms_health["xerox"].identity.vendor == "Xerox"
    assert librenms_health["xerox"].identity.mac is None


def test_librenms_low_supplies_raise_supply_low(librenms_health) -> None:
    """Konica toner at 8 % sets no error bit; the level itself raises supply_low."""
    konica = librenms_health["konica_2"]

    assert konica.error_state is not None
    assert konica.error_state.bits == frozenset()
    assert "supply_low" in to_conditions(konica)
    assert "supply_low" not in to_conditions(librenms_health["brother"])
