"""The ``snmp`` click group against snmpsim: probe output and serve-recording as a process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from protocols.snmp.cli import snmp
from protocols.snmp.simulator import SnmpSimulator, free_udp_port
from snmp_users import V3_AUTH_KEY, V3_PRIV_KEY, V3_USER

RECORDINGS = Path(__file__).resolve().parent / "recordings"


def test_cli_probe_text(simulator: SnmpSimulator) -> None:
    result = CliRunner().invoke(snmp, ["probe", "127.0.0.1", "--port", str(simulator.port), "--community", "edge_printer"])

    assert result.exit_code == 0, result.output
    assert "model:      Edge Laser 9000" in result.output
    assert "noPaper, doorOpen, jammed, inputTrayMissing" in result.output
    assert "Waste Toner Box [receptacle, free space] 2 %" in result.output


def test_cli_probe_json_v3(simulator: SnmpSimulator) -> None:
    result = CliRunner().invoke(
        snmp,
        ["probe", "127.0.0.1", "--port", str(simulator.port), "--v3-user", V3_USER, "--v3-context", "edge_printer", "--json"],
        env={"PRINTFLEET_SNMP_V3_AUTH_KEY": V3_AUTH_KEY, "PRINTFLEET_SNMP_V3_PRIV_KEY": V3_PRIV_KEY},
    )
    detail = json.loads(result.output)

    assert result.exit_code == 0
    assert detail["identity"]["serial_number"] == "EDGE123"
    assert "jam" in detail["conditions"]


def test_cli_probe_unreachable_exit_code() -> None:
    result = CliRunner().invoke(
        snmp, ["probe", "127.0.0.1", "--port", str(free_udp_port()), "--timeout", "0.2", "--retries", "0"]
    )

    assert result.exit_code == 1
    assert result.output.strip() == "unreachable (timeout)"


def test_cli_serve_recording_answers_probe() -> None:
    """serve-recording runs snmpsim until terminated; probe it, then stop it by PID."""
    port = free_udp_port()
    command = [sys.executable, "-c", "from protocols.snmp.cli import snmp; snmp()", "serve-recording",
               str(RECORDINGS / "one_byte_low_toner.snmprec"), "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[3])
    try:
        deadline = time.monotonic() + 60
        output = ""
        while time.monotonic() < deadline:
            result = CliRunner().invoke(snmp, ["probe", "127.0.0.1", "--port", str(port), "--community", "one_byte_low_toner",
                                               "--timeout", "0.5", "--retries", "0", "--json"])
            if result.exit_code == 0:
                output = result.output
                break
    finally:
        server.terminate()
        server.wait(timeout=20)

    assert json.loads(output)["conditions"] == ["toner_low"]
