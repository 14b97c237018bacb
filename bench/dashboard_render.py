"""Dashboard benchmark: fleet page render with 10,000 printers, and live update latency to 100 clients.

    python bench/dashboard_render.py [--printers 10000] [--clients 100] [--rounds 20] [--loads 10]

Phase 1 times ``GET /dashboard/`` (first page, a state filter, the last page) from a logged-in
client on loopback, which is server time plus a loopback round trip. Phase 2 times a full page load
in Chromium (navigation start to the load event) when ``/usr/bin/chromium`` exists. Phase 3 connects
``--clients`` python-socketio clients (WebSocket) as dashboard users of the account, commits a
printer status change ``--rounds`` times, and times each commit to each client's receipt of the
``printer.health`` event. Everything runs on 127.0.0.1 in one process, bounded in count and time.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
import socketio
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet import health  # noqa: E402
from fleet.accounts import create_account  # noqa: E402
from fleet.app import create_app, shutdown  # noqa: E402
from fleet.models import Printer, utcnow  # noqa: E402
from fleet.server import ServerThread  # noqa: E402
from fleet.users import create_user  # noqa: E402
from fleet.web import EXTENSION_KEY  # noqa: E402

PASSWORD = "benchmark password 123"
CHROMIUM = Path("/usr/bin/chromium")
#: Seconds one update round may take before it counts its missing receipts as lost.
ROUND_TIMEOUT = 10.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def seed(app: Any, printers: int) -> tuple[int, str]:
    """Create an account, a dashboard user and ``printers`` printers in mixed states; return ids."""
    container = app.extensions[EXTENSION_KEY]
    random.seed(7)
    with container.db.session() as session:
        account = create_account(session, "Bench shop").account
        create_user(session, account.id, "bench@example.com", "admin", PASSWORD)
        account_id = account.id
    now = utcnow()
    rows = []
    for index in range(printers):
        roll = random.random()
        online = roll > 0.05
        conditions: list[str] = []
        if roll > 0.97:
            conditions = ["paper_out"]
        elif roll > 0.9:
            conditions = ["paper_low"]
        rows.append({"account_id": account_id, "name": f"Printer {index:05d}", "protocol": "cloudprnt",
                     "mac": f"00:11:62:{index >> 16 & 255:02x}:{index >> 8 & 255:02x}:{index & 255:02x}",
                     "settings": {}, "client_info": {}, "online": online, "conditions": conditions,
                     "health_detail": {"supplies": [{"description": "Paper", "percent": random.randint(0, 100)}]},
                     "last_seen_at": now, "created_at": now, "updated_at": now})
    with container.db.session() as session:
        session.execute(insert(Printer), rows)
    return account_id, "bench@example.com"


def login(base: str, email: str) -> requests.Session:
    client = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"{base}/dashboard/login", timeout=10).text)
    assert token is not None
    response = client.post(f"{base}/dashboard/login", timeout=10, allow_redirects=False,
                           data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)})
    assert response.status_code == 302, response.text[:300]
    return client


def time_requests(client: requests.Session, url: str, count: int) -> list[float]:
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url, timeout=30)
        durations.append(time.perf_counter() - started)
        assert response.status_code == 200
    return durations


def chromium_loads(base: str, cookie: str, loads: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    durations = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), headless=True,
                                                                args=args)
        context.add_cookies([{"name": "printfleet_session", "value": cookie, "url": base}])
        page = context.new_page()
        for _ in range(loads):
            page.goto(f"{base}/dashboard/", wait_until="load")
            durations.append(page.evaluate(
                "(() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; })()"
            ) / 1000)
        context.close()
    return durations


def update_latency(app: Any, base: str, cookie: str, account_id: int, clients: int, rounds: int) -> tuple[list[float], int]:
    """Return the commit-to-receipt latencies of all clients over all rounds, and how many were lost."""
    container = app.extensions[EXTENSION_KEY]
    received: dict[int, list[float]] = {}
    lock = threading.Condition()
    sockets = []
    for _ in range(clients):
        client = socketio.Client(reconnection=False)

        def on_event(data: dict[str, Any]) -> None:
            if data.get("name") == "printer.health":
                with lock:
                    received.setdefault(int(data["printer_id"]), []).append(time.perf_counter())
                    lock.notify_all()

        client.on("fleet_event", on_event)
        client.connect(base, headers={"Cookie": f"printfleet_session={cookie}"}, transports=["websocket"], wait_timeout=10)
        sockets.append(client)

    with container.db.session() as session:
        printer_id = session.query(Printer.id).filter(Printer.account_id == account_id).order_by(Printer.id).first()[0]
    latencies: list[float] = []
    lost = 0
    for number in range(rounds):
        with lock:
            received.clear()
        with container.db.session() as session:
            printer = session.get(Printer, printer_id)
            reading = health.HealthReading(online=number % 2 == 1, conditions=frozenset())
            health.apply_reading(session, printer, reading)
            started = time.perf_counter()
        with lock:
            lock.wait_for(lambda: len(received.get(printer_id, [])) >= clients, ROUND_TIMEOUT)
            arrivals = list(received.get(printer_id, []))
        latencies.extend(arrival - started for arrival in arrivals)
        lost += clients - len(arrivals)
    closers = [threading.Thread(target=client.disconnect) for client in sockets]
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join(15)
    return latencies, lost


def report(label: str, values: list[float]) -> None:
    print(f"| {label} | {len(values)} | {statistics.median(values) * 1000:.0f} | {percentile(values, 0.95) * 1000:.0f} | "
          f"{max(values) * 1000:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--printers", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--loads", type=int, default=10)
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="printfleet-bench-")
    app = create_app({"database_url": f"sqlite:///{folder}/bench.db", "env": "test", "log_level": "WARNING",
                      "outbox_worker_enabled": False, "scheduler_enabled": False}, start_workers=True)
    server = ServerThread(app).start()
    try:
        account_id, email = seed(app, args.printers)
        client = login(server.url, email)
        cookie = client.cookies.get("printfleet_session")
        print(f"{args.printers} printers, {args.clients} Socket.IO clients, {args.rounds} update rounds\n")
        print("| measurement | samples | p50 ms | p95 ms | max ms |")
        print("|---|---:|---:|---:|---:|")
        report("GET /dashboard/ (first page of 50, counts)", time_requests(client, f"{server.url}/dashboard/", 20))
        report("GET /dashboard/?state=error", time_requests(client, f"{server.url}/dashboard/?state=error", 20))
        report("GET /dashboard/?page=200 (last page)", time_requests(client, f"{server.url}/dashboard/?page=200", 20))
        report("GET /dashboard/?q=printer 0999 (search)",
               time_requests(client, f"{server.url}/dashboard/?q=printer%200999", 20))
        if CHROMIUM.exists():
            report("Chromium full load of /dashboard/", chromium_loads(server.url, cookie, args.loads))
        latencies, lost = update_latency(app, server.url, cookie, account_id, args.clients, args.rounds)
        report(f"status change → event at each of {args.clients} clients", latencies)
        print(f"\nlost updates: {lost} of {args.clients * args.rounds}")
    finally:
        server.stop()
        shutdown(app)


if __name__ == "__main__":
    main()
