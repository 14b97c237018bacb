"""Idle CloudPRNT polls per second, as a ratio to a bare Flask endpoint under the same server.

Both apps run in their own process under the same server configuration; wrk (Debian package ``wrk``)
sends poll POSTs from a third process, cycling through the MACs of registered printers that have no
waiting job. Prints one result line per server configuration.

    python bench/cloudprnt_polls.py [--printers 1000] [--seconds 10] [--server werkzeug|gunicorn] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LUA = """
local macs = {%s}
local i = 0
request = function()
  i = i + 1
  local mac = macs[(i %% #macs) + 1]
  local body = '{"statusCode":"200%%20OK","printerMAC":"' .. mac .. '","status":"23 6 0 0 0 0 0 0 0 ","printingInProgress":false}'
  return wrk.format("POST", "%s", {["Content-Type"] = "application/json"}, body)
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare_database(url: str, printers: int) -> tuple[str, list[str]]:
    """Create an account and ``printers`` CloudPRNT printers that already reported their client info."""
    from fleet.accounts import create_account
    from fleet.db import Database, upgrade
    from fleet.models import Printer, utcnow

    db = Database(url)
    upgrade(db.engine)
    macs = [f"00:11:62:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}" for n in range(printers)]
    with db.session() as session:
        account = create_account(session, "Bench").account
        now = utcnow()
        info = {"ClientType": "Star mC-Print3", "Encodings": "image/png; text/plain"}
        session.add_all(Printer(account_id=account.id, name=f"P{n}", protocol="cloudprnt", mac=mac, settings={},
                                client_info=info, client_info_at=now, online=True, status_code="200 OK", conditions=[],
                                last_seen_at=now)
                        for n, mac in enumerate(macs))
        key = account.device_key
    db.dispose()
    return key, macs


def start(app: str, port: int, database: str, server: str, workers: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench._serve", "--app", app, "--port", str(port), "--database", database,
         "--server", server, "--workers", str(workers)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.post(f"http://127.0.0.1:{port}/cloudprnt/x/poll", json={"statusCode": "200"}, timeout=2)
            return process
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{app} server did not start within 60 s")


def run_wrk(url: str, path: str, macs: list[str], seconds: int, connections: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % (",".join(json.dumps(mac) for mac in macs), path))
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script.name, url],
        capture_output=True, text=True, timeout=seconds + 60,
    ).stdout
    os.unlink(script.name)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} error responses:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise SystemExit(f"unexpected wrk output:\n{output}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--printers", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=5, help="seconds of load before measuring")
    parser.add_argument("--server", choices=["werkzeug", "gunicorn"], default="werkzeug")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing; install the Debian package: apt-get install wrk")

    folder = tempfile.mkdtemp(prefix="pf-bench-")
    database = f"sqlite:///{folder}/bench.db"
    key, macs = prepare_database(database, args.printers)
    path = f"/cloudprnt/{key}/poll"

    results: dict[str, float] = {}
    for app in ("bare", "printfleet"):
        port = free_port()
        process = start(app, port, database, args.server, args.workers)
        try:
            run_wrk(f"http://127.0.0.1:{port}", path, macs, args.warmup, args.connections)  # every printer polls once
            results[app] = run_wrk(f"http://127.0.0.1:{port}", path, macs, args.seconds, args.connections)
        finally:
            process.terminate()
            process.wait(15)
    ratio = results["printfleet"] / results["bare"]
    print(f"server={args.server} workers={args.workers if args.server == 'gunicorn' else 1} printers={args.printers} "
          f"connections={args.connections} bare={results['bare']:.0f}/s printfleet={results['printfleet']:.0f}/s "
          f"ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
