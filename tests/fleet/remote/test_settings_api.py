"""Settings twin over the REST API against a real server and simulated CloudPRNT printers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from protocols.simulators.cloudprnt import CloudPrntSimulator
from tests.conftest import Running, register_printer, send_order
from tests.fleet.remote.conftest import api
from tests.support.servers import wait_until

DEADLINE = 60.0


def _cloudprnt(fleet: Running, client: requests.Session, mac: str) -> dict[str, Any]:
    return register_printer(client, fleet.url, name=f"Counter {mac[-2:]}", protocol="cloudprnt", mac=mac)


@pytest.fixture
def simulated(fleet: Running, account: tuple[int, requests.Session]) -> Iterator[tuple[dict[str, Any], CloudPrntSimulator]]:
    """A registered mC-Print3 printer with a simulator polling it; text/plain only, so its prints are readable."""
    _, client = account
    mac = f"00:11:62:{account[0] % 256:02x}:aa:01"
    printer = _cloudprnt(fleet, client, mac)
    simulator = CloudPrntSimulator(printer["device"]["cloudprnt_url"], mac, poll_interval=0.2,
                                   client_type="Star mC-Print3", encodings=("text/plain",))
    simulator.start()
    yield printer, simulator
    simulator.stop()


def test_settings_profile_matched_from_client_type(fleet: Running, account: Any, simulated: Any) -> None:
    _, client = account
    printer, _ = simulated

    view = wait_until(lambda: (lambda v: v if v["profile"]["source"] == "matched" else None)(
        api(fleet, client, "GET", f"/printers/{printer['id']}/settings")), timeout=DEADLINE)

    assert view["profile"]["name"] == "star-mc-print3"
    assert view["version"] == 0
    assert view["desired"]["copies"] == 1
    assert "cloudprnt" in view["channels"]
    names = {setting["name"]: setting for setting in view["settings"]}
    assert names["copies"]["allowed"] == "a whole number from 1 to 9"
    assert names["sys_location"]["supported"] is False


def test_settings_copies_prints_two_copies(fleet: Running, account: Any, simulated: Any) -> None:
    _, client = account
    printer, simulator = simulated

    change = api(fleet, client, "PATCH", f"/printers/{printer['id']}/settings",
                 json={"version": 0, "settings": {"copies": 2}})
    order = send_order(client, fleet.url, printer["id"])
    assert order.status_code == 201, order.text
    assert simulator.wait_for(lambda: len(simulator.printed) >= 1, DEADLINE)

    assert change["change"]["version"] == 1
    assert change["change"]["changes"] == {"copies": [1, 2]}
    assert change["settings"]["desired"]["copies"] == 2
    text = simulator.printed[0].text
    assert "Copy 1 of 2" in text
    assert "Copy 2 of 2" in text


def test_test_print_tracked_like_any_job(fleet: Running, account: Any, simulated: Any) -> None:
    _, client = account
    printer, simulator = simulated

    job = api(fleet, client, "POST", f"/printers/{printer['id']}/test-print", expect=201)
    assert simulator.wait_for(lambda: len(simulator.printed) >= 1, DEADLINE)
    state = wait_until(lambda: (lambda j: j if j["state"] == "printed" else None)(
        api(fleet, client, "GET", f"/printers/{printer['id']}/jobs/{job['id']}")), timeout=DEADLINE)

    assert job["kind"] == "test"
    assert job["state"] == "queued"
    assert state["kind"] == "test"
    assert state["fetch_count"] == 1
    assert "TEST PAGE" in simulator.printed[0].text
    missing = api(fleet, client, "GET", f"/printers/{printer['id']}/jobs/{job['id'] + 1000}", expect=404)
    assert "does not exist for printer" in missing["error"]["message"]


@pytest.mark.parametrize(("settings", "field", "reason"), [
    ({"copies": 12}, "settings.copies", "copies=12 is invalid; use a whole number from 1 to 9"),
    ({"cut": "sideways"}, "settings.cut", "cut='sideways' is invalid; use one of full, partial, none"),
    ({"buzzer": "yes"}, "settings.buzzer", "buzzer='yes' is invalid; use true or false"),
    ({"density": 3}, "settings.density", "setting 'density' does not exist for printer"),
    ({"sdp_devid": "x"}, "settings.sdp_devid", "setting 'sdp_devid' does not exist"),
], ids=["out-of-range", "bad-choice", "bad-type", "unknown-key", "other-protocol-key"])
def test_settings_patch_rejects_invalid_and_changes_nothing(fleet: Running, account: Any, settings: dict[str, Any],
                                                            field: str, reason: str) -> None:
    _, client = account
    printer = _cloudprnt(fleet, client, "00:11:62:00:10:01")

    error = api(fleet, client, "PATCH", f"/printers/{printer['id']}/settings", expect=422,
                json={"settings": {"copies": 3, **settings}})["error"]
    after = api(fleet, client, "GET", f"/printers/{printer['id']}/settings")

    assert error["fields"][0]["field"] == field
    assert reason in error["fields"][0]["reason"]
    assert after["version"] == 0
    assert after["desired"]["copies"] == 1


def test_settings_stale_version_conflicts(fleet: Running, account: Any) -> None:
    _, client = account
    printer = _cloudprnt(fleet, client, "00:11:62:00:10:02")
    path = f"/printers/{printer['id']}/settings"
    api(fleet, client, "PATCH", path, json={"version": 0, "settings": {"buzzer": True}})

    error = api(fleet, client, "PATCH", path, expect=409, json={"version": 0, "settings": {"cut": "full"}})["error"]
    after = api(fleet, client, "GET", path)

    assert error["code"] == "version_conflict"
    assert error["current_version"] == 1
    assert "the current version is 1" in error["message"]
    assert after["desired"]["cut"] == "partial"
    assert after["desired"]["buzzer"] is True


def test_settings_other_account_not_found(fleet: Running, account: Any) -> None:
    _, owner = account
    _, intruder = fleet.new_account("Other shop")
    printer = _cloudprnt(fleet, owner, "00:11:62:00:10:03")
    path = f"/printers/{printer['id']}"

    responses = [
        api(fleet, intruder, "GET", f"{path}/settings", expect=404),
        api(fleet, intruder, "PATCH", f"{path}/settings", expect=404, json={"settings": {"copies": 5}}),
        api(fleet, intruder, "POST", f"{path}/test-print", expect=404),
        api(fleet, intruder, "POST", f"{path}/commands", expect=404, json={"command": "status"}),
        api(fleet, intruder, "POST", f"{path}/settings/rollback", expect=404, json={}),
    ]
    unauthenticated = requests.get(f"{fleet.url}/api/v1{path}/settings", timeout=10)
    after = api(fleet, owner, "GET", f"{path}/settings")

    assert all(body["error"]["code"] == "not_found" for body in responses)
    assert unauthenticated.status_code == 401
    assert after["version"] == 0
    assert after["desired"]["copies"] == 1
    assert api(fleet, intruder, "GET", "/audit")["entries"] == []


def test_settings_device_setting_without_channel_conflicts(fleet: Running, account: Any) -> None:
    _, client = account
    printer = _cloudprnt(fleet, client, "00:11:62:00:10:04")

    error = api(fleet, client, "PATCH", f"/printers/{printer['id']}/settings", expect=409,
                json={"settings": {"sys_location": "Kitchen"}})["error"]

    assert error["code"] == "not_supported"
    assert "applied by snmp" in error["message"]
    assert "copies" in error["supported"]
    assert "sys_location" not in error["supported"]


def test_settings_rollback_returns_previous_version(fleet: Running, account: Any) -> None:
    _, client = account
    printer = _cloudprnt(fleet, client, "00:11:62:00:10:05")
    path = f"/printers/{printer['id']}/settings"
    api(fleet, client, "PATCH", path, json={"settings": {"copies": 2}})
    api(fleet, client, "PATCH", path, json={"settings": {"copies": 3, "footer": "Thanks!"}})

    rolled = api(fleet, client, "POST", f"{path}/rollback", json={"version": 2})
    history = api(fleet, client, "GET", f"{path}/versions")["versions"]

    assert rolled["change"]["version"] == 3
    assert rolled["change"]["changes"] == {"copies": [3, 2], "footer": ["Thanks!", None]}
    assert rolled["settings"]["desired"]["copies"] == 2
    assert [row["version"] for row in history] == [3, 2, 1, 0]
    assert all(row["state"] == "applied" for row in history)


def test_settings_profile_override_and_dry_run(fleet: Running, account: Any) -> None:
    _, client = account
    printer = _cloudprnt(fleet, client, "00:11:62:00:10:06")
    path = f"/printers/{printer['id']}/settings"

    bad = api(fleet, client, "PATCH", path, expect=422, json={"profile": "star-tsp999"})["error"]
    pinned = api(fleet, client, "PATCH", path, json={"profile": "star-tsp654ii-hi01x"})["settings"]
    preview = api(fleet, client, "PATCH", path, json={"settings": {"copies": 4}, "dry_run": True})
    after = api(fleet, client, "GET", path)

    assert "profile 'star-tsp999' does not exist" in bad["fields"][0]["reason"]
    assert pinned["profile"] == {"name": "star-tsp654ii-hi01x", "source": "operator", "vendor": "Star Micronics",
                                 "model": "TSP654II (IFBD-HI01X)"}
    assert "cloudprnt_mqtt" not in {setting["name"] for setting in pinned["settings"]}
    assert preview["change"]["dry_run"] is True
    assert preview["change"]["changes"] == {"copies": [1, 4]}
    assert after["desired"]["copies"] == 1
    assert after["version"] == 0


def test_command_without_handler_conflicts_naming_supported(fleet: Running, account: Any) -> None:
    _, client = account
    printer = _cloudprnt(fleet, client, "00:11:62:00:10:07")

    error = api(fleet, client, "POST", f"/printers/{printer['id']}/commands", expect=409,
                json={"command": "reboot"})["error"]
    unknown = api(fleet, client, "POST", f"/printers/{printer['id']}/commands", expect=422,
                  json={"command": "selfdestruct"})["error"]
    entries = api(fleet, client, "GET", "/audit", params={"action": "command."})["entries"]

    assert error["code"] == "not_supported"
    assert error["protocol"] == "cloudprnt"
    assert error["supported"] == ["test_print"]
    assert "does not support reboot" in error["message"]
    assert "command 'selfdestruct' is unknown" in unknown["message"]
    assert [(entry["action"], entry["result"]) for entry in entries] == [("command.reboot", "rejected")]


def test_audit_records_who_before_after(fleet: Running, account: Any) -> None:
    account_id, client = account
    printer = _cloudprnt(fleet, client, "00:11:62:00:10:08")
    api(fleet, client, "PATCH", f"/printers/{printer['id']}/settings", json={"settings": {"cut": "full"}})
    api(fleet, client, "POST", f"/printers/{printer['id']}/test-print", expect=201)

    entries = api(fleet, client, "GET", "/audit", params={"printer_id": printer["id"]})["entries"]

    assert [entry["action"] for entry in entries] == ["test_print", "settings.change"]
    change = entries[1]
    assert change["actor"] == {"kind": "api_key", "id": f"account:{account_id}"}
    assert change["before"] == {"cut": "partial"}
    assert change["after"] == {"cut": "full"}
    assert change["result"] == "ok"
    assert change["detail"]["version"] == 1
