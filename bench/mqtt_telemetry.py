"""Health telemetry ingested per second by printfleet, against a bare paho subscriber on the same broker.

``--devices`` device-protocol clients publish ``--messages`` health messages in total (QoS 1) as fast
as the broker takes them. Each message flips ``paper_low`` on or off, so every one is a health
transition the server writes (the worst case; unchanged readings cost less). The server's rate is
messages divided by the time from the first publish until its MQTT worker has handled the last one.
The bare subscriber, a paho client subscribed to the same topics that only counts, runs during the
same publish, so both see identical traffic. Run:
``python -m bench.mqtt_telemetry --devices 100 --messages 5000 [--mqtt-url mqtt://127.0.0.1:1883]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

from bench._mqtt_fleet import ClientPool, Fleet, wait_for
from fleet.models import Account
from fleet.mqtt_devices import issue_credentials
from fleet.printers import register_printer


def run(args: argparse.Namespace) -> dict[str, Any]:
    fleet = Fleet(args.mqtt_url)
    pool = ClientPool()
    try:
        with fleet.services.db.session() as session:
            account = session.get(Account, fleet.account_id)
            logins = []
            for index in range(args.devices):
                printer = register_printer(session, account, f"telemetry {index}", "device_mqtt").printer
                logins.append(issue_credentials(session, printer))

        counted = {"n": 0, "last": 0.0}
        lock = threading.Lock()

        def count(_topic: str, _payload: bytes) -> None:
            with lock:
                counted["n"] += 1
                counted["last"] = time.perf_counter()

        ready = threading.Semaphore(0)
        # The bare subscriber logs in as the server does on the embedded broker (the ACL lets only it read all).
        address = fleet.mqtt.bridge.address
        pool.add("bench-bare-subscriber", address.username, address.password, fleet.broker_host, fleet.broker_port,
                 lambda c: (c.subscribe("printfleet/v1/devices/+/health", qos=1), ready.release()), count)
        if not ready.acquire(timeout=60):
            raise SystemExit("the bare subscriber did not connect within 60 s")
        publishers = []
        for login in logins:
            publishers.append(pool.add(login.username, login.username, login.password, fleet.broker_host,
                                       fleet.broker_port, lambda _c: ready.release()))
            if not ready.acquire(timeout=60):
                raise SystemExit(f"device {login.username} did not connect within 60 s")
        time.sleep(1.0)  # let the SUBACK of the bare subscriber arrive

        handled_before = _handled(fleet)
        started = time.perf_counter()
        for index in range(args.messages):
            login = logins[index % len(logins)]
            client = publishers[index % len(publishers)]
            body = {"v": 1, "online": True, "conditions": ["paper_low"] if (index // len(logins)) % 2 else []}
            client.publish(f"printfleet/v1/devices/{login.username}/health", json.dumps(body), qos=1)
        wait_for(lambda: counted["n"] >= args.messages, args.timeout, "the bare subscriber to receive every message")
        bare_seconds = counted["last"] - started
        if not fleet.mqtt.bridge.drain(args.timeout):
            raise SystemExit("the server did not handle every message in time")
        server_seconds = time.perf_counter() - started
        handled = _handled(fleet) - handled_before
    finally:
        pool.close()
        fleet.close()
    server_rate = args.messages / server_seconds
    bare_rate = args.messages / bare_seconds
    return {"broker": args.mqtt_url or "embedded amqtt", "devices": args.devices, "messages": args.messages,
            "health_transitions_written": handled, "server_msg_per_s": round(server_rate),
            "bare_subscriber_msg_per_s": round(bare_rate), "ratio": round(server_rate / bare_rate, 2)}


def _handled(fleet: Fleet) -> int:
    from sqlalchemy import func, select

    from fleet.models import HealthEvent

    with fleet.services.read_db.session() as session:
        return int(session.scalar(select(func.count()).select_from(HealthEvent)) or 0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100, help="publishing devices")
    parser.add_argument("--messages", type=int, default=5000, help="health messages in total")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before the run gives up")
    parser.add_argument("--mqtt-url", default=None, help="external broker, e.g. mqtt://127.0.0.1:1883")
    result = run(parser.parse_args(argv))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
