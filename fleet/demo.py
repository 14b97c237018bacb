"""``printfleet demo``: the service with simulated printers, sample orders and local notification sinks.

Part of the composition root: it starts the app and the protocol simulators (real HTTP against the
served app), a webhook receiver and an SMTP sink on loopback, sends sample orders through the REST
API and plays the staff who accept or reject them.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import random
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from fleet.accounts import create_account
from fleet.app import create_app, shutdown
from fleet.config import ConfigError, load_settings
from fleet.errors import StartupError
from fleet.server import PortInUse, ServerThread, check_port
from fleet.users import create_user
from fleet.web import EXTENSION_KEY

log = logging.getLogger(__name__)

MENU = [("Margherita", "8.50"), ("Quattro formaggi", "11.00"), ("Crème brûlée", "5.00"), ("Tiramisù", "5.50"),
        ("Falafel wrap", "7.20"), ("Pad thai", "10.90"), ("Limonade", "3.00"), ("Café au lait", "2.80")]
CUSTOMERS = [("Zoë Müller", "zoe@example.org"), ("François Lefèvre", "francois@example.org"),
             ("Ana Núñez", "ana@example.org"), ("Søren Kierkegård", "soren@example.org")]
REJECT_REASONS = ["Too busy right now", "Out of ingredients", "Outside the delivery area"]
FINAL = {"accepted", "rejected", "cancelled", "expired", "failed"}
#: Dashboard login of the demo; its random password is printed at start.
DEMO_OPERATOR = "operator@demo.example"


@dataclass
class Sinks:
    """Local receivers standing in for the shop's webhook endpoint and the customers' mailboxes."""

    webhooks: list[dict[str, Any]] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> tuple[str, int]:
        sinks = self

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server hook name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sinks.lock:
                    sinks.webhooks.append(json.loads(body or b"{}"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=self._http.serve_forever, daemon=True, name="demo-webhooks").start()

        from aiosmtpd.controller import Controller

        class Mailbox:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                with sinks.lock:
                    sinks.emails.append(envelope.rcpt_tos[0])
                return "250 OK"

        port = _free_port()
        self._smtp = Controller(Mailbox(), hostname="127.0.0.1", port=port)
        self._smtp.start()
        return f"http://127.0.0.1:{self._http.server_address[1]}/orders", port

    def stop(self) -> None:
        self._http.shutdown()
        self._smtp.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _sample_order(number: int, printer_id: int, notify_url: str) -> dict[str, Any]:
    picks = random.sample(MENU, k=random.randint(1, 4))
    items = [{"name": name, "quantity": random.randint(1, 3), "unit_price": price} for name, price in picks]
    total = sum(Decimal(item["unit_price"]) * item["quantity"] for item in items)
    name, email = random.choice(CUSTOMERS)
    return {
        "printer_id": printer_id, "external_id": f"DEMO-{number:04d}", "items": items,
        "customer": {"name": name, "email": email, "phone": "+33 1 23 45 67 89"},
        "order_type": random.choice(["delivery", "collection"]), "currency": "EUR", "total": str(total),
        "notes": random.choice([None, "Ring twice, please", "Extra napkins"]), "notify_url": notify_url,
    }


class Staff:
    """Accepts or rejects printed CloudPRNT orders through the API, as kitchen staff would on a dashboard."""

    def __init__(self, api: requests.Session, base: str) -> None:
        self.api = api
        self.base = base
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                printed = self.api.get(f"{self.base}/api/v1/orders", params={"status": "printed"}, timeout=10).json()
            except requests.RequestException as err:
                log.warning("demo staff could not list orders: %s", err)
                continue
            for order in printed:
                if random.random() < 0.2:
                    self.api.post(f"{self.base}/api/v1/orders/{order['id']}/reject",
                                  json={"reason": random.choice(REJECT_REASONS)}, timeout=10)
                else:
                    self.api.post(f"{self.base}/api/v1/orders/{order['id']}/accept",
                                  json={"eta_minutes": random.choice([15, 20, 30, 45])}, timeout=10)


def _goodcom_decision(order: Any) -> tuple[str, int | str]:
    if random.random() < 0.2:
        return ("reject", random.choice(["Busy", "No ingredients"]))
    return ("accept", random.choice([20, 30, 40]))


def run_demo(host: str, port: int, database_url: str | None, order_count: int, every: float, duration: float,
             config_file: str | None = None) -> int:
    """Run the demo; return 0, or 1 when ``order_count`` orders did not all finish within ``duration``."""
    from protocols.simulators.cloudprnt import CloudPrntSimulator
    from protocols.simulators.goodcom import GoodcomSimulator

    sinks = Sinks()
    webhook_url, smtp_port = sinks.start()
    folder = tempfile.mkdtemp(prefix="printfleet-demo-")
    overrides: dict[str, Any] = {
        "database_url": database_url or f"sqlite:///{folder}/demo.db", "host": host, "port": port or 8080,
        "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_from": "orders@demo-bistro.example",
        "outbox_base_backoff_seconds": 1.0,
    }
    if "PRINTFLEET_MQTT_PORT" not in os.environ and "PRINTFLEET_MQTT_URL" not in os.environ:
        # A free port, so a demo runs beside a running `printfleet serve` and its broker.
        overrides["mqtt_port"] = _free_port()
    if "PRINTFLEET_LOG_LEVEL" not in os.environ:
        overrides["log_level"] = "WARNING"
    try:
        settings = load_settings(config_file=config_file, overrides=overrides)
    except ConfigError as err:
        print(err)
        return 2
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    try:
        check_port(host, port)
        app = create_app(settings)
        server = ServerThread(app, host, port).start()
    except (PortInUse, StartupError, OSError) as err:
        print(f"{err}; with --port 0 the demo picks a free HTTP port")
        sinks.stop()
        return 2
    base = server.url
    container = app.extensions[EXTENSION_KEY]
    with container.db.session() as session:
        created = create_account(session, "Demo Bistro")
        operator = create_user(session, created.account.id, DEMO_OPERATOR, "admin")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {created.api_key}"

    kitchen = api.post(f"{base}/api/v1/printers", json={"name": "Kitchen (Star mC-Print3)", "protocol": "cloudprnt",
                                                           "mac": "00:11:62:0e:15:58"}, timeout=10).json()
    counter = api.post(f"{base}/api/v1/printers", json={
        "name": "Counter (auto-accept)", "protocol": "cloudprnt", "mac": "00:11:62:0e:15:59",
        "settings": {"require_decision": False, "copies": 1, "buzzer": True}}, timeout=10).json()
    orders_printer = api.post(f"{base}/api/v1/printers", json={"name": "Order printer (Goodcom)",
                                                                 "protocol": "goodcom"}, timeout=10).json()
    goodcom = orders_printer["device"]
    simulators = [
        CloudPrntSimulator(kitchen["device"]["cloudprnt_url"], kitchen["mac"], poll_interval=2.0),
        CloudPrntSimulator(counter["device"]["cloudprnt_url"], counter["mac"], poll_interval=2.0),
        GoodcomSimulator(goodcom["order_url"], goodcom["callback_url"], goodcom["account"], goodcom["user"],
                         goodcom["password"], poll_interval=3.0, decide=_goodcom_decision),
    ]
    for simulator in simulators:
        simulator.start()
    staff = Staff(api, base)
    threading.Thread(target=staff.run, daemon=True, name="demo-staff").start()

    print(f"printfleet demo running at {base}/")
    print(f"  Dashboard:       {base}/dashboard/ (log in as {DEMO_OPERATOR}, password {operator.password})")
    print(f"  API docs:        {base}/api/v1/docs")
    print(f"  Transactions:    curl -H 'Authorization: Bearer {created.api_key}' {base}/api/v1/orders")
    print(f"  Printers:        {base}/api/v1/printers (same header)")
    print(f"  Database:        {settings.database_url}")
    print("Press Ctrl-C to stop.", flush=True)

    targets = [kitchen["id"], counter["id"], orders_printer["id"]]
    started = time.monotonic()
    sent: list[int] = []
    numbers = itertools.count(1)
    next_order = 0.0
    code = 0
    try:
        while True:
            now = time.monotonic()
            if duration and now - started > duration:
                code = 1 if order_count else 0
                break
            if (not order_count or len(sent) < order_count) and now >= next_order:
                number = next(numbers)
                body = _sample_order(number, targets[number % len(targets)], webhook_url)
                response = api.post(f"{base}/api/v1/orders", json=body, timeout=10)
                if response.status_code == 201:
                    sent.append(response.json()["id"])
                    print(f"order {body['external_id']} sent to printer {body['printer_id']}: pending", flush=True)
                next_order = now + every
            if order_count and len(sent) >= order_count and _all_finished(api, base, sent, sinks):
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        _summary(api, base, sent, sinks)
        staff.stop.set()
        for simulator in simulators:
            simulator.stop()
        server.stop()
        shutdown(app)
        sinks.stop()
    return code


def _all_finished(api: requests.Session, base: str, sent: list[int], sinks: Sinks) -> bool:
    statuses = [api.get(f"{base}/api/v1/orders/{order_id}", timeout=10).json()["status"] for order_id in sent]
    if not all(status in FINAL for status in statuses):
        return False
    with sinks.lock:
        decided = {hook["order"]["id"] for hook in sinks.webhooks if hook["event"] in ("order.accepted", "order.rejected")}
    return decided >= set(sent)


def _summary(api: requests.Session, base: str, sent: list[int], sinks: Sinks) -> None:
    try:
        statuses = Counter(api.get(f"{base}/api/v1/orders/{order_id}", timeout=10).json()["status"] for order_id in sent)
    except requests.RequestException:
        statuses = Counter()
    with sinks.lock:
        hooks, mails = len(sinks.webhooks), len(sinks.emails)
    print(f"orders: {dict(statuses)}; webhooks delivered: {hooks}; emails delivered: {mails}", flush=True)
