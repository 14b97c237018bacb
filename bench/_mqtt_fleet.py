"""Shared parts of the MQTT benchmarks: a printfleet server with MQTT, and many paho clients on one thread.

A thousand ``loop_start`` threads would measure the thread scheduler, so the simulated devices share
one selector loop through paho's external-loop callbacks (``on_socket_open``, ``on_socket_register_write``
and friends), as paho 2 documents for integrating with another event loop.
"""

from __future__ import annotations

import os
import queue
import selectors
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from fleet.accounts import create_account
from fleet.app import create_app, shutdown
from fleet.server import ServerThread
from fleet.web import EXTENSION_KEY


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Fleet:
    """A printfleet server on SQLite with MQTT (embedded broker, or ``mqtt_url``) and one account."""

    def __init__(self, mqtt_url: str | None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="printfleet-bench-"))
        self.external = mqtt_url is not None
        http_port = free_port()
        overrides: dict[str, Any] = {"database_url": f"sqlite:///{self.folder / 'bench.db'}", "env": "test",
                                     "mqtt_enabled": True, "base_url": f"http://127.0.0.1:{http_port}",
                                     "log_level": os.environ.get("BENCH_LOG_LEVEL", "WARNING")}
        if mqtt_url:
            overrides["mqtt_url"] = mqtt_url
        else:
            overrides.update(mqtt_host="127.0.0.1", mqtt_port=free_port())
        self.app = create_app(overrides)
        self.http = ServerThread(self.app, port=http_port).start()
        self.services = self.app.extensions[EXTENSION_KEY]
        self.mqtt = self.services.extras["mqtt"]
        if not self.mqtt.bridge.wait_connected(30):
            raise SystemExit("the server's MQTT client did not connect to the broker within 30 s")
        with self.services.db.session() as session:
            created = create_account(session, "Benchmark shop")
            self.account_id = created.account.id
            self.api_key = created.api_key
        address = self.mqtt.bridge.address
        self.broker_host, self.broker_port = address.host, address.port

    @property
    def url(self) -> str:
        return self.http.url

    def close(self) -> None:
        if self.external:
            self._clear_retained()
        self.http.stop()
        shutdown(self.app)

    def _clear_retained(self) -> None:
        """Remove the retained birth messages this run left on the shared external broker."""
        from sqlalchemy import select

        from fleet.mqtt_models import MqttCredential

        with self.services.read_db.session() as session:
            usernames = list(session.scalars(select(MqttCredential.username)))
        cleaner = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        cleaner.connect(self.broker_host, self.broker_port)
        cleaner.loop_start()
        infos = [cleaner.publish(f"printfleet/v1/devices/{name}/state", b"", qos=1, retain=True) for name in usernames]
        for info in infos:
            info.wait_for_publish(30)
        cleaner.disconnect()
        cleaner.loop_stop()


class ClientPool:
    """Many paho clients driven by one selector thread."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self.clients: list[mqtt.Client] = []
        self._stop = threading.Event()
        self._calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="bench-mqtt-pool", daemon=True)
        self._thread.start()

    def _watch(self, client: mqtt.Client, sock: Any, events: int) -> None:
        with self._lock:
            try:
                self._selector.modify(sock, events, client)
            except KeyError:
                self._selector.register(sock, events, client)

    def _unwatch(self, sock: Any) -> None:
        with self._lock:
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass

    def add(self, client_id: str, username: str | None, password: str | None, host: str, port: int,
            on_connect: Callable[[mqtt.Client], None], on_message: Callable[[str, bytes], None] | None = None) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        if username:
            client.username_pw_set(username, password)
        client.on_socket_open = lambda c, _u, sock: self._watch(c, sock, selectors.EVENT_READ)
        client.on_socket_close = lambda _c, _u, sock: self._unwatch(sock)
        client.on_socket_register_write = lambda c, _u, sock: self._watch(c, sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        client.on_socket_unregister_write = lambda c, _u, sock: self._watch(c, sock, selectors.EVENT_READ)

        def connected(c: mqtt.Client, _u: Any, _f: Any, reason_code: Any, _p: Any) -> None:
            if not reason_code.is_failure:
                on_connect(c)

        client.on_connect = connected
        if on_message is not None:
            client.on_message = lambda _c, _u, message: on_message(message.topic, message.payload)
        client.connect(host, port, keepalive=300)
        self.clients.append(client)
        return client

    def call(self, function: Callable[[], None]) -> None:
        """Run ``function`` on the pool thread; paho clients without a loop thread are not thread-safe."""
        self._calls.put(function)

    def _run(self) -> None:
        last_misc = time.monotonic()
        while not self._stop.is_set():
            for _ in range(200):
                try:
                    self._calls.get_nowait()()
                except queue.Empty:
                    break
            with self._lock:
                ready = self._selector.select(0) if self._selector.get_map() else []
            if not ready:
                time.sleep(0.002)
            for key, events in ready:
                client: mqtt.Client = key.data
                if events & selectors.EVENT_READ:
                    client.loop_read()
                if events & selectors.EVENT_WRITE:
                    client.loop_write()
            if time.monotonic() - last_misc > 1.0:
                last_misc = time.monotonic()
                for client in list(self.clients):
                    client.loop_misc()

    def close(self) -> None:
        for client in self.clients:
            client.disconnect()
        time.sleep(0.5)
        self._stop.set()
        self._thread.join(10)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
