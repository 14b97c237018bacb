"""The support-staff CLI against a running printfleet over real HTTP."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from fleet.cli import main
from fleet.remote_cli import parse_assignments
from tests.conftest import Running, register_printer
from tests.fleet.remote.conftest import api


def _invoke(fleet: Running, client: Any, *args: str) -> Any:
    key = client.headers["Authorization"].removeprefix("Bearer ")
    return CliRunner().invoke(main, [*args, "--api-url", fleet.url, "--api-key", key], catch_exceptions=False)


def test_parse_assignments_reads_json_or_text() -> None:
    assert parse_assignments(("copies=2", "buzzer=true", "header=null", "footer=Thank you")) == {
        "copies": 2, "buzzer": True, "header": None, "footer": "Thank you"}


def test_cli_settings_set_and_show(fleet: Running, account: Any) -> None:
    _, client = account
    printer = register_printer(client, fleet.url, name="Bar", protocol="cloudprnt", mac="00:11:62:40:00:01")

    changed = _invoke(fleet, client, "printers", "settings", str(printer["id"]), "--set", "copies=2",
                      "--set", "cut=full")
    shown = _invoke(fleet, client, "printers", "settings", str(printer["id"]))
    invalid = _invoke(fleet, client, "printers", "settings", str(printer["id"]), "--set", "copies=99")

    assert changed.exit_code == 0, changed.output
    assert "copies: 1 -> 2" in changed.output
    assert "version 1" in changed.output
    assert "profile star-mc-print3" in shown.output
    assert "copies" in shown.output
    assert invalid.exit_code == 1
    assert "copies=99 is invalid; use a whole number from 1 to 9" in invalid.output
    assert api(fleet, client, "GET", f"/printers/{printer['id']}/settings")["desired"]["copies"] == 2


def test_cli_test_print_and_bulk_progress(fleet: Running, account: Any) -> None:
    _, client = account
    ids = [register_printer(client, fleet.url, name=f"T{i}", protocol="cloudprnt",
                            mac=f"00:11:62:40:01:{i:02x}")["id"] for i in range(5)]

    queued = _invoke(fleet, client, "printers", "test-print", str(ids[0]))
    bulk = _invoke(fleet, client, "bulk", "reboot", "--ids", ",".join(map(str, ids)), "--rate", "100")

    assert queued.exit_code == 0, queued.output
    assert "test print queued: job" in queued.output
    assert bulk.exit_code == 0, bulk.output
    assert "on 5 printers" in bulk.output
    assert "done: 0 succeeded, 5 failed or refused" in bulk.output
    assert "does not support reboot" in bulk.output


def test_cli_device_credentials_printed_once(fleet: Running, account: Any) -> None:
    _, client = account
    printer = register_printer(client, fleet.url, name="Agent", protocol="device_mqtt")

    issued = _invoke(fleet, client, "printers", "device-credentials", str(printer["id"]))
    unknown = _invoke(fleet, client, "printers", "device-credentials", "999999")

    assert issued.exit_code == 0, issued.output
    lines = dict(line.split(": ", 1) for line in issued.output.splitlines() if ": " in line)
    device_id = lines["device id"]
    password = lines["password (shown once, store it now; issuing again replaces it)"]
    assert device_id.startswith("pf-")
    assert len(password) >= 16
    assert f"printfleet-agent --device-id {device_id} --mqtt mqtt://" in issued.output
    assert password not in issued.output.split("agent: ", 1)[1]
    assert unknown.exit_code == 1
    assert "999999" in unknown.output
