"""Health telemetry ingested per second by printfleet, against a bare paho subscriber on the same broker.

``--devices`` device-protocol clients publish ``--messages`` health messages in total (QoS 1) as fast
as the broker takes them. Each message flips ``paper_low`` on or off, so every one is a health
transition the server writes (the worst case); with ``--steady`` every device repeats one reading, the
usual case, which after the first message costs no database write. The server's
rate is the health events it wrote divided by the time from the first publish until its MQTT worker
has handled everything queued. A broker that drops messages for a slow subscriber (Mosquitto keeps
at most ``max_queued_messages``, 1000 by default, per client) shows up as counts below ``--messages``.
The bare subscriber, a paho client on its own ``loop_start`` thread that only counts, runs during the
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

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench._mqtt_fleet import ClientPool, Fleet
from fleet.models import Account
from fleet.mqtt_devices import issue_credentials
from fleet.printers import register_printer


def run(args: argparse.Namespace) -> dict[str, Any]:
    fleet = Fleet(args.mqtt_url)
    pool = ClientPool()
    bare: mqtt.Client | None = None
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
        bare = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare-subscriber", protocol=mqtt.MQTTv311)
        if address.username:
            bare.username_pw_set(address.username, address.password)
        bare.on_connect = lambda c, _u, _f, _rc, _p: c.subscribe("printfleet/v1/devices/+/health", qos=1)
        bare.on_subscribe = lambda _c, _u, _m, _rc, _p: ready.release()
        bare.on_message = lambda _c, _u, message: count(message.topic, message.payload)
        bare.connect(fleet.broker_host, fleet.broker_port)
        bare.loop_start()
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
            flip = not args.steady and (index // len(logins)) % 2
            body = {"v": 1, "online": True, "conditions": ["paper_low"] if flip else []}
            topic = f"printfleet/v1/devices/{login.username}/health"
            pool.call(lambda client=client, topic=topic, body=body: client.publish(topic, json.dumps(body), qos=1))
        _settle(lambda: counted["n"], args.messages, args.timeout)
        bare_received, bare_seconds = counted["n"], counted["last"] - started
        if not fleet.mqtt.bridge.drain(args.timeout):
            raise SystemExit("the server did not handle its queued messages in time")
        server_seconds = time.perf_counter() - started
        # A steady stream writes one reading per device and only refreshes last-seen times after that,
        # so every message counts as handled once the worker has drained its queue.
        handled = args.messages if args.steady else _handled(fleet) - handled_before
    finally:
        pool.close()
        if bare is not None:
            bare.disconnect()
            bare.loop_stop()
        fleet.close()
    server_rate = handled / server_seconds
    bare_rate = bare_received / bare_seconds
    return {"broker": args.mqtt_url or "embedded amqtt", "mode": "steady" if args.steady else "flipping",
            "devices": args.devices, "messages": args.messages,
            "server_handled": handled, "server_msg_per_s": round(server_rate),
            "bare_received": bare_received, "bare_subscriber_msg_per_s": round(bare_rate),
            "ratio": round(server_rate / bare_rate, 2)}


def _settle(received: Any, expected: int, timeout: float) -> None:
    """Wait until ``received()`` reaches ``expected`` or stops growing for 3 s (a broker dropped messages)."""
    deadline = time.monotonic() + timeout
    last, last_change = -1, time.monotonic()
    while received() < expected and time.monotonic() < deadline:
        if received() != last:
            last, last_change = received(), time.monotonic()
        elif time.monotonic() - last_change > 3.0:
            return
        time.sleep(0.05)


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
    parser.add_argument("--steady", action="store_true",
                        help="every device repeats one reading (the usual case) instead of flipping paper_low")
    result = run(parser.parse_args(argv))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
