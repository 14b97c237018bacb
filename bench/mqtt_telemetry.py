"""Health telemetry ingested per second by printfleet, against a bare paho subscriber on the same broker.

``--devices`` device-protocol clients publish ``--messages`` health messages in total (QoS 1) as fast
as the broker takes them. Each message flips ``paper_low`` on or off, so every one is a health
transition the server writes (the worst case); with ``--steady`` every device repeats one reading, the
usual case, which after the first message costs no database write.

Three processes share the run, as they would share a machine. This one runs the server (HTTP, SQLite,
the MQTT bridge and, without ``--mqtt-url``, the embedded broker). A child process runs the devices on
one paho selector thread, and another child runs the bare subscriber, a paho client that only counts.
Both subscribers see the same burst. A rate is the messages a subscriber got divided by the time from
the start signal to its last message (for the server: to the moment its MQTT worker finished the
last one). A broker that drops messages for a slow subscriber (Mosquitto keeps at most
``max_queued_messages``, 1000 by default, per client) shows up as counts below ``--messages``. Run:
``python -m bench.mqtt_telemetry --devices 100 --messages 5000 [--mqtt-url mqtt://127.0.0.1:1883] [--steady]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from typing import IO, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench._mqtt_fleet import ClientPool, Fleet
from fleet.models import Account
from fleet.mqtt_devices import issue_credentials
from fleet.printers import register_printer

HEALTH_FILTER = "printfleet/v1/devices/+/health"
#: Seconds without a new message after which a subscriber counts as finished (its broker dropped the rest).
QUIET_SECONDS = 3.0


# -- child processes ---------------------------------------------------------------------------------


def _publisher(job: dict[str, Any]) -> None:
    """Connect the devices, say ``ready``, publish the burst on ``go``, say ``done`` when the broker has it all."""
    pool = ClientPool()
    ready = threading.Semaphore(0)
    clients = []
    for username, password in job["logins"]:
        clients.append(pool.add(username, username, password, job["host"], job["port"], lambda _c: ready.release()))
    for _ in clients:
        if not ready.acquire(timeout=60):
            raise SystemExit("a device did not connect within 60 s")
    _say("ready")
    _expect(sys.stdin, "go")
    infos: list[mqtt.MQTTMessageInfo] = []
    lock = threading.Lock()
    for index in range(job["messages"]):
        username = job["logins"][index % len(clients)][0]
        client = clients[index % len(clients)]
        flip = not job["steady"] and (index // len(clients)) % 2
        body = json.dumps({"v": 1, "online": True, "conditions": ["paper_low"] if flip else []})
        topic = f"printfleet/v1/devices/{username}/health"

        def send(client: mqtt.Client = client, topic: str = topic, body: str = body) -> None:
            info = client.publish(topic, body, qos=1)
            with lock:
                infos.append(info)

        pool.call(send)
    deadline = time.monotonic() + job["timeout"]
    while time.monotonic() < deadline:
        with lock:
            if len(infos) == job["messages"] and all(info.is_published() for info in infos):
                break
        time.sleep(0.05)
    _say("done")
    _expect(sys.stdin, "stop")
    pool.close()


def _bare_subscriber(job: dict[str, Any]) -> None:
    """Count health messages from ``ready`` on; print the count and the first and last arrival times."""
    lock = threading.Lock()
    counted = {"n": 0, "first": 0.0, "last": 0.0}
    subscribed = threading.Event()

    def on_message(_c: Any, _u: Any, _message: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        with lock:
            counted["n"] += 1
            counted["first"] = counted["first"] or now
            counted["last"] = now

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare-subscriber", protocol=mqtt.MQTTv311)
    if job.get("username"):
        client.username_pw_set(job["username"], job["password"])
    # The same QoS as the server's subscription to health reports.
    client.on_connect = lambda c, _u, _f, _rc, _p: c.subscribe(HEALTH_FILTER, qos=0)
    client.on_subscribe = lambda _c, _u, _m, _rc, _p: subscribed.set()
    client.on_message = on_message
    client.connect(job["host"], job["port"])
    client.loop_start()
    if not subscribed.wait(60):
        raise SystemExit("the bare subscriber did not subscribe within 60 s")
    _say("ready")
    _wait_quiet(lambda: counted["n"], job["messages"], job["timeout"])
    with lock:
        _say(json.dumps(counted))
    client.disconnect()
    client.loop_stop()


def _wait_quiet(count: Any, expected: int, timeout: float) -> None:
    """Wait until ``count()`` reaches ``expected``, or stops growing for QUIET_SECONDS after the first message."""
    deadline = time.monotonic() + timeout
    last, last_change = count(), time.monotonic()
    while count() < expected and time.monotonic() < deadline:
        if count() != last:
            last, last_change = count(), time.monotonic()
        elif last > 0 and time.monotonic() - last_change > QUIET_SECONDS:
            return
        time.sleep(0.01)


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _expect(stream: IO[str], word: str) -> str:
    line = stream.readline().strip()
    if not line.startswith(word):
        raise SystemExit(f"expected {word!r} from the other process, got {line!r}")
    return line


def _child(role: str, job: dict[str, Any]) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", "bench.mqtt_telemetry", "--role", role], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(job) + "\n")
    process.stdin.flush()
    _expect(process.stdout, "ready")
    return process


# -- the run -----------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    fleet = Fleet(args.mqtt_url)
    children: list[subprocess.Popen[str]] = []
    try:
        with fleet.services.db.session() as session:
            account = session.get(Account, fleet.account_id)
            logins = []
            for index in range(args.devices):
                printer = register_printer(session, account, f"telemetry {index}", "device_mqtt").printer
                login = issue_credentials(session, printer)
                logins.append((login.username, login.password))

        bridge = fleet.mqtt.bridge
        broker = {"host": fleet.broker_host, "port": fleet.broker_port, "messages": args.messages,
                  "timeout": args.timeout}
        # The bare subscriber logs in as the server does on the embedded broker (the ACL lets only it read all).
        bare = _child("bare", {**broker, "username": bridge.address.username, "password": bridge.address.password})
        children.append(bare)
        publisher = _child("publisher", {**broker, "logins": logins, "steady": args.steady})
        children.append(publisher)
        assert bare.stdout is not None
        assert publisher.stdin is not None
        assert publisher.stdout is not None

        handled_before = bridge.handled
        events_before = _events(fleet)
        started = time.monotonic()
        publisher.stdin.write("go\n")
        publisher.stdin.flush()
        last = {"handled": handled_before, "at": started}

        def server_count() -> int:
            if bridge.handled != last["handled"]:
                last["handled"], last["at"] = bridge.handled, time.monotonic()
            return last["handled"] - handled_before

        _wait_quiet(server_count, args.messages, args.timeout)
        if not bridge.drain(args.timeout):
            raise SystemExit("the server did not handle its queued messages in time")
        server_count()
        bare_result = json.loads(bare.stdout.readline())
        _expect(publisher.stdout, "done")
        publisher.stdin.write("stop\n")
        publisher.stdin.flush()
        server_handled = last["handled"] - handled_before
        server_seconds = last["at"] - started
        events = _events(fleet) - events_before
    finally:
        for child in children:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
        fleet.close()
    server_rate = server_handled / server_seconds
    bare_rate = bare_result["n"] / (bare_result["last"] - started)
    return {"broker": args.mqtt_url or "embedded amqtt", "mode": "steady" if args.steady else "flipping",
            "devices": args.devices, "messages": args.messages, "server_handled": server_handled,
            "health_events_written": events, "server_msg_per_s": round(server_rate),
            "bare_received": bare_result["n"], "bare_subscriber_msg_per_s": round(bare_rate),
            "ratio": round(server_rate / bare_rate, 2)}


def _events(fleet: Fleet) -> int:
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
    parser.add_argument("--role", choices=("server", "publisher", "bare"), default="server", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "publisher":
        _publisher(json.loads(sys.stdin.readline()))
        return
    if args.role == "bare":
        _bare_subscriber(json.loads(sys.stdin.readline()))
        return
    result = run(args)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
