"""Fixtures of the MQTT tests: a printfleet server with MQTT on, per broker kind, and device helpers.

Every test runs against the embedded amqtt broker, and against an external broker too (Mosquitto)
when ``PRINTFLEET_TEST_MQTT_URL`` is set, e.g. ``mqtt://127.0.0.1:1883`` for a local Mosquitto
that allows anonymous clients. Tests that need the embedded broker's ACL or a broker restart skip
on the external one.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import requests
from sqlalchemy import select
from paho.mqtt.enums import CallbackAPIVersion

from fleet.app import create_app, shutdown
from fleet.models import Account, Printer
from fleet.mqtt_devices import Credentials, issue_credentials
from fleet.mqtt_models import MqttCredential
from fleet.server import ServerThread
from fleet.services import Services
from fleet.web import EXTENSION_KEY
from protocols.mqtt.service import MqttService
from tests.conftest import register_printer
from tests.support.servers import free_port, wait_until

EXTERNAL_URL = os.environ.get("PRINTFLEET_TEST_MQTT_URL")
#: Deadline (s) for anything that waits on the server, the broker or a simulator.
WAIT = 30.0


def _broker_kinds() -> list[Any]:
    kinds: list[Any] = [pytest.param("embedded", id="amqtt")]
    if EXTERNAL_URL:
        kinds.append(pytest.param("external", id="mosquitto"))
    return kinds


@dataclass
class MqttServer:
    """A running printfleet with MQTT, one account and its API client."""

    kind: str
    app: Any
    http: ServerThread
    services: Services
    client: requests.Session
    account_id: int
    broker_host: str
    broker_port: int
    clients: list[mqtt.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def mqtt(self) -> MqttService:
        service = self.services.extras["mqtt"]
        assert isinstance(service, MqttService)
        return service

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://{self.broker_host}:{self.broker_port}"

    def register(self, protocol: str, **fields: Any) -> dict[str, Any]:
        name = fields.pop("name", f"{protocol} printer")
        return register_printer(self.client, self.url, name=name, protocol=protocol, **fields)

    def credentials(self, printer_id: int) -> Credentials:
        with self.services.db.session() as session:
            printer = session.get(Printer, printer_id)
            assert printer is not None
            return issue_credentials(session, printer)

    def printer(self, printer_id: int) -> Printer:
        with self.services.db.session() as session:
            printer = session.get(Printer, printer_id)
            assert printer is not None
            session.expunge(printer)
            return printer

    def device_client(self, username: str | None, password: str | None, client_id: str | None = None) -> TestClient:
        """Connect a paho client; the caller checks ``connect_code`` (0 = accepted)."""
        test_client = TestClient(self.broker_host, self.broker_port, username, password, client_id)
        self.clients.append(test_client.client)
        return test_client


class TestClient:
    """A paho 2 client that records what it receives and the result of its connect and subscribes."""

    __test__ = False

    def __init__(self, host: str, port: int, username: str | None, password: str | None,
                 client_id: str | None) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or "", protocol=mqtt.MQTTv311)
        if username:
            self.client.username_pw_set(username, password)
        self.condition = threading.Condition()
        self.messages: list[tuple[str, bytes]] = []
        self.connect_code: int | None = None
        self.granted: list[int] = []
        self.on_message_hook: Any = None
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.connect_async(host, port, keepalive=30)
        self.client.loop_start()

    def _on_connect(self, _client: Any, _userdata: Any, _flags: Any, reason_code: Any, _properties: Any) -> None:
        with self.condition:
            self.connect_code = reason_code.value
            self.condition.notify_all()
        if reason_code.is_failure:
            self.client.disconnect()

    def _on_subscribe(self, _client: Any, _userdata: Any, _mid: int, reason_codes: Any, _properties: Any) -> None:
        with self.condition:
            self.granted.extend(code.value for code in reason_codes)
            self.condition.notify_all()

    def _on_message(self, _client: Any, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self.on_message_hook is not None:
            self.on_message_hook(message.topic, message.payload)
        with self.condition:
            self.messages.append((message.topic, message.payload))
            self.condition.notify_all()

    def wait_connected(self) -> int:
        with self.condition:
            assert self.condition.wait_for(lambda: self.connect_code is not None, WAIT), "no CONNACK"
            return int(self.connect_code)  # type: ignore[arg-type]

    def subscribe(self, topic_filter: str) -> int:
        """Subscribe at QoS 1 and return the granted QoS, or 128 when the broker refused."""
        with self.condition:
            before = len(self.granted)
        self.client.subscribe(topic_filter, qos=1)
        with self.condition:
            assert self.condition.wait_for(lambda: len(self.granted) > before, WAIT), "no SUBACK"
            return self.granted[before]

    def publish(self, topic: str, body: dict[str, Any] | bytes, retain: bool = False) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(WAIT)

    def wait_message(self, predicate: Any) -> tuple[str, dict[str, Any]]:
        """Wait for a received JSON message ``predicate(topic, body)`` accepts and return it."""
        def find() -> tuple[str, dict[str, Any]] | None:
            for topic, payload in self.messages:
                body = json.loads(payload)
                if predicate(topic, body):
                    return topic, body
            return None

        with self.condition:
            assert self.condition.wait_for(lambda: find() is not None, WAIT), "expected message not received"
            found = find()
            assert found is not None
            return found

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_server(kind: str, folder: Path, external_url: str | None = None, wait_connected: bool = True) -> MqttServer:
    """Start printfleet on the embedded broker, or on ``external_url`` (default ``PRINTFLEET_TEST_MQTT_URL``)."""
    http_port = free_port()
    overrides: dict[str, Any] = {
        "database_url": f"sqlite:///{folder / 'printfleet.db'}", "env": "test", "mqtt_enabled": True,
        "base_url": f"http://127.0.0.1:{http_port}", "default_poll_interval_seconds": 2,
    }
    if kind == "embedded":
        broker_port = free_port()
        overrides.update(mqtt_host="127.0.0.1", mqtt_port=broker_port)
        broker_host = "127.0.0.1"
    else:
        url = external_url or EXTERNAL_URL
        assert url is not None
        overrides["mqtt_url"] = url
        parts = requests.utils.urlparse(url)
        broker_host, broker_port = parts.hostname or "127.0.0.1", parts.port or 1883
    app = create_app(overrides)
    http = ServerThread(app, port=http_port).start()
    services = app.extensions[EXTENSION_KEY]
    from fleet.accounts import create_account

    with services.db.session() as session:
        created = create_account(session, f"MQTT shop {kind}")
        account_id = created.account.id
    client = requests.Session()
    client.headers["Authorization"] = f"Bearer {created.api_key}"
    server = MqttServer(kind, app, http, services, client, account_id, broker_host, broker_port)
    if wait_connected:
        assert server.mqtt.bridge.wait_connected(WAIT), "server bridge did not connect to the broker"
    return server


@pytest.fixture(scope="module", params=_broker_kinds())
def mqtt_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MqttServer]:
    server = start_server(request.param, tmp_path_factory.mktemp(f"mqtt-{request.param}"))
    yield server
    if server.kind == "external":
        _clear_retained(server)
    stop_server(server)


def _clear_retained(server: MqttServer) -> None:
    """Remove the retained birth and desired-settings messages this run left on the shared external broker."""
    with server.services.db.session() as session:
        usernames = list(session.scalars(select(MqttCredential.username)))
    cleaner = server.device_client(None, None)
    assert cleaner.wait_connected() == 0
    for username in usernames:
        for name in ("state", "settings/desired"):
            cleaner.publish(f"printfleet/v1/devices/{username}/{name}", b"", retain=True)


@pytest.fixture
def embedded_only(mqtt_server: MqttServer) -> None:
    if mqtt_server.kind != "embedded":
        pytest.skip("needs the embedded broker (its ACL or a restart); an external broker enforces its own ACL")


def account_of(server: MqttServer) -> Account:
    with server.services.db.session() as session:
        account = session.get(Account, server.account_id)
        assert account is not None
        session.expunge(account)
        return account


def stop_server(server: MqttServer) -> None:
    """Disconnect the test clients and stop the server."""
    for client in server.clients:
        client.disconnect()
        client.loop_stop()
    server.http.stop()
    shutdown(server.app)


__all__ = ["MqttServer", "TestClient", "WAIT", "account_of", "start_server", "stop_server", "wait_until"]
