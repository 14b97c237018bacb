"""Order created → job on the device, with many connected simulated devices, over MQTT.

Modes:
* ``device``: printfleet device protocol; the job is on the device when ``jobs/new`` arrives.
* ``cloudprnt-full``: Star CloudPRNT full MQTT mode with inline text; on the device at ``print-job``.
* ``cloudprnt-trigger``: CloudPRNT trigger-POST; ``request-post`` makes the device poll over HTTP, and
  the job is on the device when its job GET returns.

Orders go through the REST API at ``--rate`` per second to random devices. Bounded by ``--orders``
and ``--timeout``. Run: ``python -m bench.mqtt_latency --mode device --devices 1000 --orders 300``.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import random
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import func, select

from bench._mqtt_fleet import ClientPool, Fleet, percentile, wait_for
from fleet.models import Account, Job, utcnow
from fleet.mqtt_devices import cloudprnt_credentials, issue_credentials
from fleet.mqtt_models import MqttDevice
from fleet.printers import register_printer

ORDER = {"items": [{"name": "Margherita", "quantity": 2, "unit_price": "8.50"}], "customer": {"name": "Bench"},
         "currency": "EUR", "total": "17.00"}


#: Devices connecting at the same time.
CONNECTING = 50


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: dict[int, float] = {}
        self.arrived_by_order: dict[int, float] = {}
        self.arrived_by_token: dict[str, float] = {}

    def arrived(self, order_id: int | None = None, token: str | None = None) -> None:
        now = time.perf_counter()
        with self.lock:
            if order_id is not None:
                self.arrived_by_order.setdefault(order_id, now)
            if token is not None:
                self.arrived_by_token.setdefault(token, now)


def _register(fleet: Fleet, mode: str, count: int) -> list[dict[str, Any]]:
    devices: list[dict[str, Any]] = []
    with fleet.services.db.session() as session:
        account = session.get(Account, fleet.account_id)
        for index in range(count):
            if mode == "device":
                printer = register_printer(session, account, f"device {index}", "device_mqtt").printer
                login = issue_credentials(session, printer)
                devices.append({"id": printer.id, "user": login.username, "password": login.password})
                continue
            mac = "02:00:%02x:%02x:%02x:%02x" % ((index >> 24) & 255, (index >> 16) & 255, (index >> 8) & 255, index & 255)
            setting = "trigger" if mode == "cloudprnt-trigger" else "full"
            printer = register_printer(session, account, f"cloudprnt {index}", "cloudprnt", mac,
                                       {"cloudprnt_mqtt": setting}).printer
            # Preset client information so the server does not start a client-action round first.
            printer.client_info = {"ClientType": "Star mC-Print3", "Encodings": "text/plain"}
            printer.client_info_at = utcnow() + timedelta(days=1)
            login = cloudprnt_credentials(session, printer)
            devices.append({"id": printer.id, "user": login.username, "password": login.password, "mac": mac,
                            "key": account.device_key})
    return devices


def _connect(fleet: Fleet, pool: ClientPool, mode: str, devices: list[dict[str, Any]], recorder: Recorder,
             http: ThreadPoolExecutor) -> None:
    connected = threading.Semaphore(0)
    for index, device in enumerate(devices):
        if mode == "device":
            prefix = f"printfleet/v1/devices/{device['user']}"

            def on_connect(client: Any, prefix: str = prefix) -> None:
                client.subscribe(f"{prefix}/jobs/new", qos=1)
                client.publish(f"{prefix}/state", json.dumps({"v": 1, "online": True}), qos=1, retain=True)
                connected.release()

            def on_message(topic: str, payload: bytes) -> None:
                recorder.arrived(order_id=json.loads(payload).get("order_id"))
        else:
            def on_connect(client: Any, mac: str = device["mac"]) -> None:
                client.subscribe(f"star/cloudprnt/to-device/{mac}/#", qos=1)
                connected.release()

            def on_message(topic: str, payload: bytes, device: dict[str, Any] = device) -> None:
                body = json.loads(payload)
                if body.get("title") == "print-job":
                    recorder.arrived(token=body["jobToken"])
                    http.submit(_report_printed, fleet, pool, device, body["jobToken"])
                elif body.get("title") == "request-post":
                    http.submit(_poll_and_fetch, fleet, device, recorder)

        # Up to CONNECTING devices connect at once, as after a broker restart.
        if index >= CONNECTING and not connected.acquire(timeout=60):
            raise SystemExit(f"device {devices[index - CONNECTING]['user']} did not connect within 60 s")
        pool.add(device["user"], device["user"], device["password"], fleet.broker_host, fleet.broker_port,
                 on_connect, on_message)
    for _ in range(min(CONNECTING, len(devices))):
        if not connected.acquire(timeout=60):
            raise SystemExit("the last devices did not connect within 60 s")


def _report_printed(fleet: Fleet, pool: ClientPool, device: dict[str, Any], token: str) -> None:
    client = next(c for c in pool.clients if c._client_id.decode() == device["user"])  # noqa: SLF001 (bench lookup)
    body = {"title": "print-result", "printerMAC": device["mac"], "jobToken": token, "statusCode": "200%20OK"}
    topic = f"star/cloudprnt/to-server/{device['mac']}/print-result"
    pool.call(lambda: client.publish(topic, json.dumps(body), qos=1))


def _poll_and_fetch(fleet: Fleet, device: dict[str, Any], recorder: Recorder) -> None:
    try:
        _poll_and_fetch_once(fleet, device, recorder)
    except Exception as err:  # a benchmark worker must say why it lost a job
        print(f"poll failed mac={device['mac']}: {err!r}", file=sys.stderr)


def _poll_and_fetch_once(fleet: Fleet, device: dict[str, Any], recorder: Recorder) -> None:
    """Poll, then fetch and confirm each offered job, polling again after each one as a printer does."""
    url = f"{fleet.url}/cloudprnt/{device['key']}/poll"
    for _ in range(5):
        reply = requests.post(url, json={"printerMAC": device["mac"], "statusCode": "200%20OK"}, timeout=30).json()
        if not reply.get("jobReady"):
            return
        token = reply["jobToken"]
        response = requests.get(url, params={"mac": device["mac"], "token": token, "type": "text/plain"}, timeout=30)
        if response.status_code != 200:
            return
        recorder.arrived(token=token)
        requests.delete(url, params={"mac": device["mac"], "token": token, "code": "200 OK"}, timeout=30)


def run(args: argparse.Namespace) -> dict[str, Any]:
    fleet = Fleet(args.mqtt_url)
    pool = ClientPool()
    http = ThreadPoolExecutor(max_workers=8)
    recorder = Recorder()
    try:
        started = time.perf_counter()
        devices = _register(fleet, args.mode, args.devices)
        print(f"{len(devices)} devices registered", file=sys.stderr)
        _connect(fleet, pool, args.mode, devices, recorder, http)
        if args.mode == "device":
            def births() -> bool:
                with fleet.services.read_db.session() as session:
                    return session.scalar(select(func.count()).select_from(MqttDevice)
                                          .where(MqttDevice.connected.is_(True))) == len(devices)
            wait_for(births, args.timeout, "every device's birth message to be stored")
        ready_seconds = time.perf_counter() - started
        print(f"{len(devices)} devices ready in {ready_seconds:.1f} s", file=sys.stderr)

        client = requests.Session()
        client.headers["Authorization"] = f"Bearer {fleet.api_key}"
        deadline = time.monotonic() + args.timeout
        for index in range(args.orders):
            if time.monotonic() > deadline:
                break
            target = random.choice(devices)
            sent = time.perf_counter()
            response = client.post(f"{fleet.url}/api/v1/orders", json={**ORDER, "printer_id": target["id"]}, timeout=30)
            response.raise_for_status()
            with recorder.lock:
                recorder.sent[response.json()["id"]] = sent
            time.sleep(max(0.0, sent + 1.0 / args.rate - time.perf_counter()))

        def all_arrived() -> bool:
            with recorder.lock:
                return len(recorder.arrived_by_order) + len(recorder.arrived_by_token) >= len(recorder.sent)

        wait_for(all_arrived, max(5.0, deadline - time.monotonic() + 30), "every job to reach its device")
        latencies = _latencies(fleet, recorder)
    finally:
        http.shutdown(wait=True)
        pool.close()
        fleet.close()
    return {"mode": args.mode, "broker": args.mqtt_url or "embedded amqtt", "devices": args.devices,
            "orders": len(latencies), "ready_seconds": round(ready_seconds, 1),
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 1), "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "max_ms": round(max(latencies) * 1000, 1)}


def _latencies(fleet: Fleet, recorder: Recorder) -> list[float]:
    arrived = dict(recorder.arrived_by_order)
    if recorder.arrived_by_token:
        with fleet.services.read_db.session() as session:
            rows = session.execute(select(Job.token, Job.order_id).where(Job.token.in_(list(recorder.arrived_by_token))))
            for token, order_id in rows:
                arrived[order_id] = recorder.arrived_by_token[token]
    return [arrived[order_id] - sent for order_id, sent in recorder.sent.items() if order_id in arrived]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("device", "cloudprnt-full", "cloudprnt-trigger"), default="device")
    parser.add_argument("--devices", type=int, default=1000, help="connected simulated devices")
    parser.add_argument("--orders", type=int, default=300, help="orders to send")
    parser.add_argument("--rate", type=float, default=20.0, help="orders per second")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before the run gives up")
    parser.add_argument("--mqtt-url", default=None, help="external broker, e.g. mqtt://127.0.0.1:1883")
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid> prints every thread's stack
    result = run(parser.parse_args(argv))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
