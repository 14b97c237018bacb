"""SNMP printers in a running printfleet: registration with a probe, scheduled polls, alerts and SETs.

Everything runs for real: printfleet serves HTTP on a free port with its scheduler and outbox
worker, snmpsim answers SNMP over UDP on 127.0.0.1, and operator webhooks go to an HTTP receiver.
The edge recording is served under a distinctive community so the tests can prove that the
community appears in no API response and no log line.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pysnmp.proto import rfc1902

from fleet import snmp_service
from protocols.snmp import oids
from protocols.snmp.client import CommunityAuth, SnmpClient, SnmpTarget
from protocols.snmp.simulator import SnmpSimulator, free_udp_port
from tests.conftest import Running, running_instance
from tests.support.servers import HttpReceiver, wait_until

RECORDINGS = Path(__file__).resolve().parent / "recordings"
SHARED_SNMP = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "snmp"
LIBRENMS_RECORDINGS = SHARED_SNMP / "librenms"
EXPECTED_LIBRENMS = SHARED_SNMP / "expected_librenms.json"
LIBRENMS_NAMES = ["xerox", "brother", "epson", "konica_2", "canonprinter_tm", "sharp"]

#: snmpsim serves a recording under its file name, so the edge recording is copied to this name.
COMMUNITY = "edge-s3cret-4d9b"
DEADLINE = 90.0



@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("snmp-recordings")
    edge = folder / f"{COMMUNITY}.snmprec"
    shutil.copyfile(RECORDINGS / "edge_printer.snmprec", edge)
    writable = folder / "writable.snmprec"
    shutil.copyfile(RECORDINGS / "writable.snmprec", writable)
    return {"edge": edge, "writable": writable}


@pytest.fixture(scope="module")
def snmpsim(recordings: dict[str, Path]) -> Iterator[SnmpSimulator]:
    sources = [recordings["edge"], recordings["writable"]]
    if LIBRENMS_RECORDINGS.is_dir():
        sources.append(LIBRENMS_RECORDINGS)
    with SnmpSimulator(sources) as running:
        yield running


@pytest.fixture(scope="module")
def fleet(module_database_url: str) -> Iterator[Running]:
    """One printfleet instance with workers per database backend for the whole module."""
    with running_instance(module_database_url) as running:
        yield running


@pytest.fixture(scope="module")
def account(fleet: Running) -> tuple[int, requests.Session]:
    return fleet.new_account("SNMP shop")


def _snmp(port: int, community: str = COMMUNITY, **extra: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "version": "2c", "community": community, **extra}


def _register(fleet: Running, client: requests.Session, name: str, snmp: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{fleet.url}/api/v1/printers", json={"name": name, "protocol": "snmp", "snmp": snmp},
                           timeout=30)
    assert response.status_code == 201, response.text
    assert COMMUNITY not in response.text
    return response.json()  # type: ignore[no-any-return]


def _get(fleet: Running, client: requests.Session, path: str) -> Any:
    response = client.get(f"{fleet.url}/api/v1{path}", timeout=10)
    assert response.status_code == 200, response.text
    assert COMMUNITY not in response.text
    return response.json()


def _events(fleet: Running, client: requests.Session, printer_id: int) -> list[dict[str, Any]]:
    """Health events oldest first."""
    return list(reversed(_get(fleet, client, f"/printers/{printer_id}/health/history")["events"]))


def test_register_snmp_printer_stores_identity(fleet: Running, account: Any, snmpsim: SnmpSimulator,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _, client = account

    printer = _register(fleet, client, "Back office laser", _snmp(snmpsim.port))
    snmp = _get(fleet, client, f"/printers/{printer['id']}/snmp")
    listed = _get(fleet, client, "/printers")
    shown = _get(fleet, client, f"/printers/{printer['id']}")

    assert printer["protocol"] == "snmp"
    assert printer["device"]["snmp"]["community"] == "***"
    assert printer["health"]["online"] is True
    assert printer["mac"] == "00:15:99:7d:b1:6a"
    assert snmp["identity"]["vendor"] == "HP"
    assert snmp["identity"]["model"] == "Edge Laser 9000"
    assert snmp["identity"]["serial_number"] == "EDGE123"
    assert snmp["identity"]["printer_index"] == 2
    assert snmp["community"] == "***"
    assert any(row["id"] == printer["id"] for row in listed)
    assert shown["device"]["snmp"]["port"] == snmpsim.port
    assert COMMUNITY not in caplog.text


def test_health_endpoint_shows_supplies(fleet: Running, account: Any, snmpsim: SnmpSimulator) -> None:
    _, client = account
    printer = _register(fleet, client, "Supplies", _snmp(snmpsim.port, supply_low_percent=10))

    health = _get(fleet, client, f"/printers/{printer['id']}/health")
    supplies = {supply["index"]: supply for supply in health["supplies"]}

    assert health["online"] is True
    assert health["last_seen_at"] is not None
    assert supplies[1]["description"] == "Black Toner"
    assert supplies[1]["percent"] == 5.0
    assert supplies[1]["state"] == "low"
    assert supplies[1]["type"] == "toner"
    assert supplies[2]["state"] == "some_remaining"
    assert supplies[2]["percent"] is None
    assert supplies[3]["is_receptacle"] is True
    assert supplies[3]["fill_percent"] == 98.0
    assert supplies[3]["state"] == "full"
    assert supplies[4]["percent"] == 100.0
    assert supplies[4]["state"] == "ok"
    assert supplies[6]["state"] == "unknown"
    assert supplies[7]["state"] == "empty"
    assert supplies[8]["type"] == "unknown(99)"
    assert {"paper_out", "cover_open", "jam", "supply_low", "waste_full"} <= set(health["conditions"])
    assert any(alert["code"] == {"value": 9999, "name": "unknown", "known": False} for alert in health["alerts"])
    assert [cover["is_open"] for cover in health["covers"]] == [True, False]
    assert {tray["name"]: tray["state"] for tray in health["trays"]}["Tray 2"] == "empty"
    assert health["counters"][0]["life_count"] == 123456
    assert health["identity"]["sys_location"] == "Back office"


def test_register_unreachable_printer_reports_offline(fleet: Running, account: Any) -> None:
    _, client = account
    silent_port = free_udp_port()

    printer = _register(fleet, client, "Silent", _snmp(silent_port))
    health = _get(fleet, client, f"/printers/{printer['id']}/health")

    assert printer["health"]["online"] is False
    assert health["online"] is False
    assert health["conditions"] == ["unreachable"]
    assert health["offline_reason"] in ("timeout", "unreachable")
    assert health["supplies"] == []


@pytest.mark.parametrize(("snmp", "reason"), [
    ({"host": "bad host!", "community": "public"}, "host 'bad host!' is invalid"),
    ({"host": "127.0.0.1", "version": "3"}, "version 3 needs a v3 object"),
    ({"host": "127.0.0.1", "version": "2c"}, "version 2c needs a community"),
    ({"host": "127.0.0.1", "version": "3", "v3": {"user": "u", "auth_key": "short", "priv_key": "long enough"}},
     "at least 8 characters"),
    ({"host": "127.0.0.1", "community": "public", "version": "4"}, "'1', '2c' or '3'"),
], ids=["bad-host", "v3-missing", "community-missing", "short-key", "bad-version"])
def test_register_snmp_rejects_invalid_input(fleet: Running, account: Any, snmp: dict[str, Any], reason: str) -> None:
    _, client = account
    response = client.post(f"{fleet.url}/api/v1/printers", json={"name": "X", "protocol": "snmp", "snmp": snmp},
                           timeout=10)
    assert response.status_code == 422
    assert reason in response.text


@pytest.mark.parametrize(("fields", "field"), [
    ({"name": "X", "protocol": "snmp"}, "snmp"),
    ({"name": "X", "protocol": "goodcom", "snmp": {"host": "127.0.0.1", "community": "public"}}, "snmp"),
], ids=["snmp-missing", "snmp-on-goodcom"])
def test_register_snmp_object_matches_protocol(fleet: Running, account: Any, fields: dict[str, Any], field: str) -> None:
    _, client = account
    response = client.post(f"{fleet.url}/api/v1/printers", json=fields, timeout=10)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == field


@pytest.mark.parametrize("name", LIBRENMS_NAMES)
def test_register_librenms_recording(fleet: Running, account: Any, snmpsim: SnmpSimulator, name: str) -> None:
    if not EXPECTED_LIBRENMS.exists():
        pytest.skip(f"Shared SNMP data not found at {SHARED_SNMP.resolve()}; the LibreNMS recordings come from the shared reference data folder next to the checkout, which CI provides.")
    expected = json.loads(EXPECTED_LIBRENMS.read_text())[name]
    _, client = account

    printer = _register(fleet, client, f"LibreNMS {name}", _snmp(snmpsim.port, community=f"librenms/{name}"))
    health = _get(fleet, client, f"/printers/{printer['id']}/health")
    supplies = {supply["index"]: supply for supply in health["supplies"]}

    assert health["online"] is True
    for want in expected["supplies"]:
        supply = supplies[want["index"]]
        if want.get("raw", {}).get("level") == -3:
            assert supply["state"] == "some_remaining", want
        else:
            assert supply["percent"] is not None, want
            assert round(supply["percent"]) == want["current"], want
    serial = expected["os"].get("serial")
    if serial:
        assert health["identity"]["serial_number"] == serial


def test_set_sys_location_round_trips(fleet: Running, account: Any, snmpsim: SnmpSimulator) -> None:
    _, client = account
    printer = _register(fleet, client, "Writable", _snmp(snmpsim.port, community="writable"))
    url = f"{fleet.url}/api/v1/printers/{printer['id']}/snmp/set"
    first_value = f"Building B / floor {printer['id']}"
    second_value = f"Building C / floor {printer['id']}"

    first = client.post(url, json={"object": "sysLocation", "value": first_value}, timeout=30)
    second = client.post(url, json={"object": "sysLocation", "value": second_value}, timeout=30)

    assert first.status_code == 200, first.text
    assert first.json()["after"] == first_value
    assert first.json()["before"] != first_value
    assert second.status_code == 200, second.text
    assert second.json()["before"] == first_value
    assert second.json()["after"] == second_value


def test_set_read_only_object_names_object_and_fix(fleet: Running, account: Any, snmpsim: SnmpSimulator) -> None:
    _, client = account
    printer = _register(fleet, client, "Read-only contact", _snmp(snmpsim.port, community="writable"))

    response = client.post(f"{fleet.url}/api/v1/printers/{printer['id']}/snmp/set",
                           json={"object": "sysContact", "value": "ops@example.org"}, timeout=30)

    assert response.status_code == 502
    message = response.json()["error"]["message"]
    assert "sysContact was not written" in message
    assert "write access" in message


def test_set_rejects_unknown_object(fleet: Running, account: Any, snmpsim: SnmpSimulator) -> None:
    _, client = account
    printer = _register(fleet, client, "Unknown object", _snmp(snmpsim.port, community="writable"))

    response = client.post(f"{fleet.url}/api/v1/printers/{printer['id']}/snmp/set",
                           json={"object": "ifAdminStatus", "value": "down"}, timeout=10)

    assert response.status_code == 422


def test_reboot_hook_writes_prt_general_reset(fleet: Running, account: Any, snmpsim: SnmpSimulator) -> None:
    _, client = account
    printer = _register(fleet, client, "Reboot me", _snmp(snmpsim.port, community="writable"))

    outcome = snmp_service.reboot(printer["id"], services=fleet.services)

    assert outcome.object == "prtGeneralReset"
    assert outcome.status == "confirmed"
    assert outcome.after == 4


def test_scheduled_poll_records_reboot(fleet: Running, account: Any, snmpsim: SnmpSimulator) -> None:
    _, client = account
    printer = _register(fleet, client, "Rebooting", _snmp(snmpsim.port, community="writable",
                                                          poll_interval_seconds=2))
    wait_until(lambda: _get(fleet, client, f"/printers/{printer['id']}/snmp")["identity"]["printer_index"] == 1)
    target = SnmpTarget("127.0.0.1", snmpsim.port, CommunityAuth("writable"), timeout=2.0, retries=1)
    with SnmpClient() as snmp:
        uptime = snmp.run(snmp.get(target, [oids.OID_SYS_UP_TIME]))[oids.OID_SYS_UP_TIME]
        # Wait for a scheduled poll to see the current uptime, then turn the clock back.
        seen = _get(fleet, client, f"/printers/{printer['id']}/health")["last_polled_at"]
        wait_until(lambda: _get(fleet, client, f"/printers/{printer['id']}/health")["last_polled_at"] != seen,
                   timeout=DEADLINE)
        snmp.run(snmp.set(target, [(oids.OID_SYS_UP_TIME, rfc1902.TimeTicks(max(1, int(uptime) // 2)))]))

    events = wait_until(lambda: [e for e in _events(fleet, client, printer["id"]) if e["kind"] == "rebooted"],
                        timeout=DEADLINE)

    assert len(events) == 1
    assert events[0]["detail"]["uptime_ticks"] == max(1, int(uptime) // 2)


def test_alert_settings_round_trip(fleet: Running) -> None:
    _, client = fleet.new_account("Alerts shop")

    empty = _get(fleet, client, "/alert-settings")
    put = client.put(f"{fleet.url}/api/v1/alert-settings",
                     json={"operator_email": "ops@example.org", "operator_webhook_url": "https://hooks.example.org/a"},
                     timeout=10)
    bad = client.put(f"{fleet.url}/api/v1/alert-settings", json={"operator_webhook_url": "ftp://x"}, timeout=10)
    stored = _get(fleet, client, "/alert-settings")

    assert empty["operator_email"] is None
    assert put.status_code == 200, put.text
    assert bad.status_code == 422
    assert "operator_webhook_url must be an absolute http" in bad.text
    assert stored["operator_email"] == "ops@example.org"
    assert stored["operator_webhook_url"] == "https://hooks.example.org/a"


def _alert_events(receiver: HttpReceiver, printer_id: int) -> list[tuple[str, str | None]]:
    messages = [json.loads(request.body) for request in list(receiver.requests)]
    return [(m["transition"]["kind"], m["transition"]["condition"]) for m in messages if m["printer"]["id"] == printer_id]


def _kinds_after(events: list[dict[str, Any]], kind: str) -> list[str]:
    kinds = [e["kind"] for e in events]
    return kinds[kinds.index(kind) + 1:] if kind in kinds else []


def _alertable(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    from fleet.operator_alerts import is_alertable

    return [(e["kind"], e["condition"]) for e in events if is_alertable(e["kind"], e["condition"])]


def test_outage_alerts_once_per_transition(fleet: Running, recordings: dict[str, Path],
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _, client = fleet.new_account("Outage shop")
    receiver = HttpReceiver().start()
    outage = SnmpSimulator([recordings["edge"]]).start()
    try:
        put = client.put(f"{fleet.url}/api/v1/alert-settings",
                         json={"operator_webhook_url": f"{receiver.url}/alerts"}, timeout=10)
        assert put.status_code == 200, put.text
        printer = _register(fleet, client, "Flaky", _snmp(outage.port, poll_interval_seconds=2))
        printer_id = printer["id"]

        def polls_after(mark: str | None, count: int) -> None:
            # Each scheduled poll moves last_polled_at; wait for ``count`` of them after ``mark``.
            seen = {mark}
            wait_until(lambda: seen.add(_get(fleet, client, f"/printers/{printer_id}/health")["last_polled_at"])
                       or len(seen) > count, timeout=DEADLINE, interval=0.3)

        polls_after(None, 2)
        outage.stop()
        wait_until(lambda: any(e["kind"] == "went_offline" for e in _events(fleet, client, printer_id)),
                   timeout=DEADLINE)
        polls_after(None, 3)
        outage = SnmpSimulator([recordings["edge"]], port=outage.port).start()
        wait_until(lambda: "came_online" in _kinds_after(_events(fleet, client, printer_id), "went_offline"),
                   timeout=DEADLINE)
        polls_after(None, 3)

        events = _events(fleet, client, printer_id)
        expected = _alertable(events)
        wait_until(lambda: len(_alert_events(receiver, printer_id)) >= len(expected), timeout=DEADLINE)
    finally:
        outage.stop()
        receiver.stop()

    kinds = [e["kind"] for e in events]
    offline_at = kinds.index("went_offline")
    assert kinds.count("went_offline") == 1
    assert kinds[offline_at + 1:].count("came_online") == 1
    assert kinds[:offline_at].count("came_online") == 1  # the registration probe
    assert _alert_events(receiver, printer_id) == expected
    assert ("went_offline", None) in expected
    assert ("raised", "unreachable") not in expected
    assert COMMUNITY not in caplog.text


def test_timeline_filters_since_and_includes_snapshots(fleet: Running, account: Any, snmpsim: SnmpSimulator) -> None:
    _, client = account
    printer = _register(fleet, client, "Timeline", _snmp(snmpsim.port))
    path = f"/printers/{printer['id']}/health/timeline"

    everything = _get(fleet, client, f"{path}?include=snapshots")
    later = _get(fleet, client, f"{path}?since=2999-01-01T00:00:00%2B00:00&include=snapshots")
    events_only = _get(fleet, client, path)
    naive = client.get(f"{fleet.url}/api/v1{path}?since=2020-01-01T00:00:00", timeout=10)

    assert {"kind": "came_online"}.items() <= everything["events"][-1].items()
    assert everything["snapshots"][0]["online"] is True
    assert "supplies" in everything["snapshots"][0]["detail"]
    assert later == {"events": [], "snapshots": []}
    assert "snapshots" not in events_only
    assert naive.status_code == 422
