"""Device settings pushed over SNMP to snmpsim and confirmed by reading them back."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import Running
from tests.fleet.remote.conftest import api

RECORDINGS = Path(__file__).resolve().parents[2] / "protocols" / "snmp" / "recordings"

pytest.importorskip("fleet.snmp_service", reason="the SNMP integration is not installed")
simulator_module = pytest.importorskip("protocols.snmp.simulator", reason="snmpsim support is not installed")


@pytest.fixture(scope="module")
def snmpsim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("remote-snmp")
    shutil.copyfile(RECORDINGS / "writable.snmprec", folder / "writable.snmprec")
    with simulator_module.SnmpSimulator([folder / "writable.snmprec"]) as running:
        yield running


def _register(fleet: Running, client: requests.Session, port: int) -> dict[str, Any]:
    snmp = {"host": "127.0.0.1", "port": port, "version": "2c", "community": "writable"}
    return api(fleet, client, "POST", "/printers", expect=201,
               json={"name": "Office laser", "protocol": "snmp", "snmp": snmp})  # type: ignore[no-any-return]


def test_snmp_setting_pushed_and_confirmed(fleet: Running, account: Any, snmpsim: Any) -> None:
    _, client = account
    printer = _register(fleet, client, snmpsim.port)
    location = f"Building B / floor {printer['id']}"

    result = api(fleet, client, "PATCH", f"/printers/{printer['id']}/settings",
                 json={"version": 0, "settings": {"sys_location": location}})
    entries = api(fleet, client, "GET", "/audit", params={"printer_id": printer["id"], "action": "settings.change"})

    assert result["change"]["push"][0]["method"] == "snmp"
    assert result["change"]["push"][0]["state"] == "confirmed"
    view = result["settings"]
    assert view["profile"]["name"] == "generic-snmp-printer"
    assert view["desired"]["sys_location"] == location
    assert view["reported"]["sys_location"] == location
    assert view["drift"] == {}
    assert view["reported_version"] == 1
    assert entries["entries"][0]["result"] == "ok"
    assert entries["entries"][0]["after"] == {"sys_location": location}


def test_snmp_read_only_object_shows_drift(fleet: Running, account: Any, snmpsim: Any) -> None:
    _, client = account
    printer = _register(fleet, client, snmpsim.port)

    result = api(fleet, client, "PATCH", f"/printers/{printer['id']}/settings",
                 json={"settings": {"sys_contact": "support@example.org"}})

    push = result["change"]["push"][0]
    assert push["state"] == "failed"
    assert "sysContact" in push["message"]
    drift = result["settings"]["drift"]["sys_contact"]
    assert drift["desired"] == "support@example.org"
    assert drift["state"] == "failed"
    versions = api(fleet, client, "GET", f"/printers/{printer['id']}/settings/versions")["versions"]
    assert versions[0]["state"] == "failed"


def test_snmp_reboot_command_writes_reset(fleet: Running, account: Any, snmpsim: Any) -> None:
    _, client = account
    printer = _register(fleet, client, snmpsim.port)

    def poll_found_index() -> bool:
        view = api(fleet, client, "GET", f"/printers/{printer['id']}/snmp")
        return view["identity"]["printer_index"] is not None

    from tests.support.servers import wait_until

    wait_until(poll_found_index, timeout=60)
    result = api(fleet, client, "POST", f"/printers/{printer['id']}/commands", json={"command": "reboot"})
    unsupported = api(fleet, client, "POST", f"/printers/{printer['id']}/commands", expect=409,
                      json={"command": "identify"})["error"]

    assert result["state"] == "done"
    assert "prtGeneralReset=powerCycleReset" in result["message"]
    assert unsupported["supported"] == ["reboot"]
