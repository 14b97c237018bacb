"""Order created → job fetched latency with printers polling every 2 s, and the server-side share of it.

A printfleet server runs in its own process (Werkzeug threaded, SQLite); ``--printers`` poller threads speak
CloudPRNT HTTP like real printers (poll, GET, DELETE) with a fixed interval and random phase; orders
are sent through the REST API at random moments. For each order the script records the time from the
201 answer to the end of the job download, and the time the server spent on the poll that announced
the job plus the download itself (the server-side share, from the ``Server-Timing`` headers).

    python bench/dispatch_latency.py [--printers 20] [--orders 60] [--interval 2]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def server_seconds(response: requests.Response) -> float:
    """Time the server spent on ``response``, from its ``Server-Timing: app;dur=<ms>`` header."""
    timing = response.headers.get("Server-Timing", "app;dur=nan")
    return float(timing.split("dur=")[1]) / 1000


class Poller(threading.Thread):
    def __init__(self, url: str, mac: str, interval: float, stop: threading.Event, results: dict[str, tuple[float, float]]):
        super().__init__(daemon=True)
        self.url, self.mac, self.interval, self.stop, self.results = url, mac, interval, stop, results
        self.http = requests.Session()

    def run(self) -> None:
        body = {"statusCode": "200 OK", "printerMAC": self.mac, "printingInProgress": False,
                "clientAction": [{"request": "ClientType", "result": "Star mC-Print3"},
                                 {"request": "Encodings", "result": "image/png; text/plain"}]}
        self.stop.wait(random.uniform(0, self.interval))
        while not self.stop.is_set():
            reply = self.http.post(self.url, json=body, timeout=10)
            answer = reply.json()
            body.pop("clientAction", None)
            if answer.get("jobReady"):
                token = answer["jobToken"]
                job = self.http.get(self.url, params={"type": "text/plain", "mac": self.mac, "token": token}, timeout=10)
                done = time.perf_counter()
                self.results[token] = (done, server_seconds(reply) + server_seconds(job))
                self.http.delete(self.url, params={"mac": self.mac, "token": token, "code": "200 OK"}, timeout=10)
                assert job.status_code == 200
            self.stop.wait(self.interval)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--printers", type=int, default=20)
    parser.add_argument("--orders", type=int, default=60)
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args()

    from bench.cloudprnt_polls import free_port, start
    from fleet.accounts import create_account
    from fleet.db import Database, upgrade

    folder = tempfile.mkdtemp(prefix="pf-latency-")
    database = f"sqlite:///{folder}/b.db"
    db = Database(database)
    upgrade(db.engine)
    with db.session() as session:
        api_key = create_account(session, "Bench").api_key
    db.dispose()
    port = free_port()
    process = start("printfleet", port, database, "werkzeug", 1)
    base = f"http://127.0.0.1:{port}"
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {api_key}"
    printers = []
    for n in range(args.printers):
        printers.append(api.post(f"{base}/api/v1/printers", json={
            "name": f"P{n}", "protocol": "cloudprnt", "mac": f"00:11:62:00:01:{n:02x}"}, timeout=10).json())

    stop = threading.Event()
    results: dict[str, tuple[float, float]] = {}
    pollers = [Poller(p["device"]["cloudprnt_url"], p["mac"], args.interval, stop, results) for p in printers]
    for poller in pollers:
        poller.start()
    time.sleep(args.interval * 2)  # every printer has answered its client actions

    created: list[tuple[int, float]] = []
    for number in range(args.orders):
        # Round robin, so a printer gets its next order only after its last one was fetched and the
        # latency measures the poll wait, not a queue of several orders on one printer.
        time.sleep(max(args.interval * 1.5 / len(printers), 0.05) + random.uniform(0, 0.1))
        printer = printers[number % len(printers)]
        response = api.post(f"{base}/api/v1/orders", json={
            "printer_id": printer["id"], "items": [{"name": "Soup", "quantity": 1, "unit_price": "4.00"}],
            "customer": {"name": "A"}, "currency": "EUR", "total": "4.00"}, timeout=10)
        created.append((response.json()["id"], time.perf_counter()))
    deadline = time.monotonic() + args.interval * 10
    while time.monotonic() < deadline and len(results) < len(created):
        time.sleep(0.2)
    stop.set()
    process.terminate()
    process.wait(15)
    from sqlalchemy import select

    from fleet.models import Job

    db = Database(database)
    with db.session() as session:
        order_of = dict(session.execute(select(Job.token, Job.order_id)).all())
    db.dispose()

    sent_at = dict(created)
    latencies = [done - sent_at[order_of[token]] for token, (done, _) in results.items()]
    shares = [share for _, share in results.values()]
    latencies.sort()
    print(f"printers={args.printers} interval={args.interval}s orders={len(created)} fetched={len(results)} "
          f"latency_median={statistics.median(latencies) * 1000:.0f}ms "
          f"latency_p95={latencies[max(0, int(len(latencies) * 0.95) - 1)] * 1000:.0f}ms "
          f"server_share_median={statistics.median(shares) * 1000:.1f}ms "
          f"expected_median={args.interval / 2 * 1000:.0f}ms")


if __name__ == "__main__":
    main()
