"""The README's first command: ``printfleet demo`` runs the main job end to end."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_orders_to_decisions_with_notifications() -> None:
    """Orders become pending, simulated printers print them, staff decide, webhooks and emails arrive."""
    result = subprocess.run(
        [sys.executable, "-m", "fleet.cli", "demo", "--port", "0", "--orders", "6", "--every", "0.3", "--duration", "150"],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "printfleet demo running at http://127.0.0.1:" in result.stdout
    assert "/api/v1/docs" in result.stdout
    summary = re.search(r"orders: \{(.*)\}; webhooks delivered: (\d+); emails delivered: (\d+)", result.stdout)
    assert summary is not None, result.stdout
    counts = dict(re.findall(r"'(\w+)': (\d+)", summary.group(1)))
    assert sum(int(count) for count in counts.values()) == 6
    assert set(counts) <= {"accepted", "rejected"}
    assert int(summary.group(2)) >= 6 * 3
    assert int(summary.group(3)) == 6
    assert "Traceback" not in result.stderr


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"^    (python3 -m venv .*)$", readme, flags=re.MULTILINE)
    assert len(commands) == 2, "the README keeps exactly two set-up commands"
    assert "printfleet demo" in commands[0]
    assert "pytest" in commands[1]
    assert commands[1] in ci
