"""Edge cases over real UDP: synthetic recordings served by the session snmpsim."""

from __future__ import annotations

import json

import pytest

from protocols.snmp.client import SnmpClient
from protocols.snmp.conditions import to_conditions, to_detail
from protocols.snmp.health import PrinterHealth
from protocols.snmp.poller import SnmpPoller


@pytest.fixture(scope="module")
def edge_health(snmp_client: SnmpClient, make_target) -> PrinterHealth:
    result = SnmpPoller(snmp_client).poll_many_sync([("edge", make_target("edge_printer"))])[0]
    return result.health


def test_edge_printer_index_is_two(edge_health: PrinterHealth) -> None:
    """hrDevice row 1 is a processor; the printer row is found by hrDeviceType, not assumed."""
    assert edge_health.printer_index == 2
    assert edge_health.device_status is not None
    assert edge_health.device_status.name == "down"


def test_edge_error_state_two_bytes_with_unknown_bit(edge_health: PrinterHealth) -> None:
    state = edge_health.error_state

    assert state is not None
    assert state.names == ("noPaper", "doorOpen", "jammed", "inputTrayMissing")
    assert state.unknown_bits == (15,)


def test_edge_identity_from_printer_mib(edge_health: PrinterHealth) -> None:
    """Model comes from prtGeneralPrinterName (trailing NUL removed), not the JetDirect sysDescr;
    the serial's trailing space and NUL are removed; the text MAC is normalised."""
    identity = edge_health.identity

    assert identity.model == "Edge Laser 9000"
    assert identity.serial_number == "EDGE123"
    assert identity.vendor == "HP"
    assert identity.mac == "00:15:99:7d:b1:6a"
    assert identity.sys_location == "Back office"


def test_edge_supplies_special_levels(edge_health: PrinterHealth) -> None:
    supplies = {supply.index: supply for supply in edge_health.supplies}

    assert supplies[1].percent == 5.0
    assert supplies[1].colorant == "black"
    assert supplies[2].level_state == "some_remaining"
    assert supplies[3].is_receptacle
    assert supplies[3].fill_percent == 98.0
    assert supplies[4].percent == 100.0
    assert supplies[5].percent == 7.0
    assert supplies[6].level_state == "other"
    assert supplies[7].percent == 0.0
    assert supplies[8].supply_type is not None
    assert supplies[8].supply_type.known is False
    assert supplies[8].supply_type.value == 99


def test_edge_trays_and_covers(edge_health: PrinterHealth) -> None:
    trays = {tray.index: tray for tray in edge_health.inputs}
    covers = {cover.index: cover for cover in edge_health.covers}

    assert trays[1].level_state == "some_remaining"
    assert trays[2].level_state == "unknown"
    assert trays[3].percent == 0.0
    assert trays[4].percent == 50.0
    assert covers[1].is_open
    assert not covers[2].is_open


def test_edge_alerts_keep_unknown_enums(edge_health: PrinterHealth) -> None:
    """Brother NC-7700w style row: severity, training and group 255, code -1, kept with raw numbers."""
    alerts = {alert.index: alert for alert in edge_health.alerts}
    sleep = alerts[11]

    assert sleep.description == "Sleep"
    assert (sleep.severity.known, sleep.severity.value) == (False, 255)
    assert (sleep.group.known, sleep.group.value) == (False, 255)
    assert (sleep.code.known, sleep.code.value) == (False, -1)
    assert alerts[10].code.name == "jam"
    assert alerts[10].time == 499000
    assert alerts[13].code.known is False


def test_edge_conditions_from_all_sources(edge_health: PrinterHealth) -> None:
    conditions = to_conditions(edge_health)

    # Ink at 0 % is a level, so it raises supply_low; toner_out comes only from bits or alerts.
    assert conditions == {
        "paper_out", "cover_open", "jam", "input_tray_missing",  # error bits, open cover, jam alert
        "toner_low",  # warning alert markerTonerAlmostEmpty
        "supply_low",  # black toner at 5 %, ink at 0 %
        "waste_full",  # waste toner box 98 % full
    }
    assert "toner_out" not in conditions


def test_edge_counters_and_console(edge_health: PrinterHealth) -> None:
    counter = edge_health.counters[0]

    assert (counter.life_count, counter.power_on_count, counter.unit.name) == (123456, 42, "impressions")
    assert edge_health.console_lines == ("Paper Jam",)
    assert edge_health.alert_all_events == 5


def test_edge_detail_is_json(edge_health: PrinterHealth) -> None:
    detail = json.loads(json.dumps(to_detail(edge_health)))

    assert detail["identity"]["serial_number"] == "EDGE123"
    assert detail["error_state"]["raw_hex"] == "4c81"
    assert detail["supplies"][2]["fill_percent"] == 98.0
    assert detail["covers"][0]["is_open"] is True


def test_half_missing_table_decodes_rest(snmp_client: SnmpClient, make_target) -> None:
    """Rows 3 and 4 answer noSuchObject for level and maximum: they stay, with state unknown;
    hrPrinterStatus answers noSuchInstance and is left out."""
    poller = SnmpPoller(snmp_client)
    first = poller.poll_many_sync([("half", make_target("half_missing"))])[0].health
    second = poller.poll_many_sync([("half", make_target("half_missing"))])[0].health

    for health in (first, second):
        supplies = {supply.index: supply for supply in health.supplies}
        assert health.reachable
        assert [supplies[i].percent for i in (1, 2)] == [41.0, 42.0]
        assert [supplies[i].level_state for i in (3, 4)] == ["unknown", "unknown"]
        assert supplies[4].description == "Supply 4"
        assert health.printer_status is None


@pytest.mark.parametrize("version", ["1", "2c"])
def test_one_byte_low_toner_over_udp(snmp_client: SnmpClient, make_target, version: str) -> None:
    """0x20 in one octet is lowToner; net-snmp shows it as the string " " and trimming loses it."""
    health = SnmpPoller(snmp_client).poll_many_sync([("tiny", make_target("one_byte_low_toner", version))])[0].health

    assert health.error_state is not None
    assert health.error_state.names == ("lowToner",)
    assert to_conditions(health) == {"toner_low"}
    assert health.identity.vendor == "Epson"
