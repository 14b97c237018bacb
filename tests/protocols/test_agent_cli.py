"""The printfleet-agent command line: argument checks, logging and a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from protocols.agent.main import _parse_args, mqtt_url_problem
from tests.support.servers import free_port

BASE = ["--device-id", "pf-0123456789ab", "--password", "p%41ss", "--printer", "127.0.0.1:9100"]


@pytest.mark.parametrize(("url", "problem"), [
    ("mqtt://print.example.com:1884", None),
    ("mqtt://127.0.0.1", None),
    ("127.0.0.1:1884", "is not a broker URL; use mqtt://HOST:PORT"),
    ("http://127.0.0.1:1884", "is not a broker URL"),
    ("mqtts://print.example.com:8883", "TLS (mqtts://) is not supported yet"),
    ("mqtt://pf-1:secret@print.example.com:1884", "not in the MQTT URL"),
    ("mqtt://print.example.com:99999", "invalid port"),
])
def test_mqtt_url_checked(url: str, problem: str | None) -> None:
    found = mqtt_url_problem(url)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_password_taken_literally() -> None:
    config = _parse_args([*BASE, "--mqtt", "mqtt://127.0.0.1:1884"])
    assert config.password == "p%41ss"
    assert (config.printer_host, config.printer_port) == ("127.0.0.1", 9100)


@pytest.mark.parametrize("printer", ["127.0.0.1:abc", ":9100", "127.0.0.1:70000"])
def test_bad_printer_address_rejected(printer: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--device-id", "pf-0123456789ab", "--password", "x", "--printer", printer, "--mqtt", "mqtt://127.0.0.1"]
    with pytest.raises(SystemExit):
        _parse_args(args)
    assert f"--printer {printer!r} is not HOST[:PORT]" in capsys.readouterr().err


def test_agent_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """systemd stops services with SIGTERM, so the agent must close its session and log that it stopped."""
    broker = f"mqtt://127.0.0.1:{free_port()}"  # nothing listens there: the agent keeps retrying
    command = [sys.executable, "-m", "protocols.agent.main", *BASE, "--mqtt", broker,
               "--state-file", str(tmp_path / "state.json")]
    agent = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 60
        lines: list[str] = []
        assert agent.stderr is not None
        while not any("agent cannot reach the broker" in line for line in lines) and time.monotonic() < deadline:
            lines.append(agent.stderr.readline())
        os.kill(agent.pid, signal.SIGTERM)
        _out, rest = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
    output = "".join(lines) + rest
    assert agent.returncode == 0, output
    assert "agent cannot reach the broker device=pf-0123456789ab" in output
    assert "SIGTERM received; stopping" in output
    assert "agent stopped device=pf-0123456789ab" in output
