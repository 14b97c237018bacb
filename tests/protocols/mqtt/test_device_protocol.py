"""The printfleet device protocol end to end: server, broker, ``printfleet-agent`` and the ESC/POS printer simulator."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from fleet.models import HealthEvent, Job, Order, Printer
from fleet.mqtt_devices import request_settings_push, send_command, settings_twin
from fleet.mqtt_models import MqttCommand, MqttDevice
from protocols.agent.main import Agent, AgentConfig
from protocols.simulators.escpos_network import EscposNetworkPrinter
from tests.conftest import send_order
from tests.protocols.mqtt.conftest import WAIT, MqttServer, TestClient
from tests.support.servers import wait_until


@dataclass
class Station:
    """One device-protocol printer: its registration, credentials, the ESC/POS simulator and the agent."""

    printer_id: int
    device_id: str
    password: str
    simulator: EscposNetworkPrinter
    agent: Agent
    state_file: Path

    def printed_text(self) -> str:
        return "\n".join(job.text for job in self.simulator.printed)


def _agent(server: MqttServer, device_id: str, password: str, port: int, state_file: Path) -> Agent:
    config = AgentConfig(device_id=device_id, password=password, mqtt_url=server.mqtt_url, server_url=server.url,
                         printer_host="127.0.0.1", printer_port=port, state_file=state_file, status_interval=0.3,
                         fallback_after=3600.0)
    return Agent(config)


def _connected(server: MqttServer, printer_id: int) -> bool:
    with server.services.db.session() as session:
        row = session.get(MqttDevice, printer_id)
        return row is not None and row.connected


@pytest.fixture
def station(mqtt_server: MqttServer, tmp_path: Path) -> Iterator[Station]:
    printer = mqtt_server.register("device_mqtt", name="Bar printer")
    credentials = mqtt_server.credentials(printer["id"])
    simulator = EscposNetworkPrinter()
    simulator.start()
    state_file = tmp_path / "agent-state.json"
    agent = _agent(mqtt_server, credentials.username, credentials.password, simulator.port, state_file)
    agent.start()
    item = Station(printer["id"], credentials.username, credentials.password, simulator, agent, state_file)
    wait_until(lambda: _connected(mqtt_server, item.printer_id), WAIT)
    yield item
    item.agent.stop()
    item.simulator.stop()


def _job_states(server: MqttServer, printer_id: int) -> list[str]:
    with server.services.db.session() as session:
        return [job.state for job in session.query(Job).filter(Job.printer_id == printer_id).order_by(Job.id)]


def _order_status(server: MqttServer, order_id: int) -> str:
    with server.services.db.session() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return order.status


def test_agent_prints_pushed_order(mqtt_server: MqttServer, station: Station) -> None:
    response = send_order(mqtt_server.client, mqtt_server.url, station.printer_id, external_id="mqtt-agent-1")
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]

    assert station.simulator.wait_for(lambda: "Margherita" in station.printed_text(), WAIT)
    wait_until(lambda: _job_states(mqtt_server, station.printer_id) == ["printed"], WAIT)
    assert _order_status(mqtt_server, order_id) == "printed"
    assert "22.00" in station.printed_text()
    assert len(station.simulator.printed) == 1
    wait_until(lambda: json.loads(station.state_file.read_text())["jobs"] == {}, WAIT)


def test_agent_reports_printer_health(mqtt_server: MqttServer, station: Station) -> None:
    wait_until(lambda: mqtt_server.printer(station.printer_id).online, WAIT)
    port = station.simulator.port

    station.simulator.stop()
    wait_until(lambda: not mqtt_server.printer(station.printer_id).online, WAIT)
    assert mqtt_server.printer(station.printer_id).conditions == ["unreachable"]
    health = mqtt_server.client.get(f"{mqtt_server.url}/api/v1/printers/{station.printer_id}/health", timeout=10).json()
    assert health["offline_reason"] == "unreachable"
    fresh = mqtt_server.register("device_mqtt", name="Never connected")
    never = mqtt_server.client.get(f"{mqtt_server.url}/api/v1/printers/{fresh['id']}/health", timeout=10).json()
    assert never["offline_reason"] == "never_seen"

    station.simulator = EscposNetworkPrinter(port=port)
    station.simulator.start()
    wait_until(lambda: mqtt_server.printer(station.printer_id).online, WAIT)
    station.simulator.set_paper("near_end")
    wait_until(lambda: mqtt_server.printer(station.printer_id).conditions == ["paper_low"], WAIT)


def test_agent_survives_broker_restart_mid_job(mqtt_server: MqttServer, station: Station,
                                                embedded_only: None) -> None:
    broker = mqtt_server.mqtt.broker
    assert broker is not None
    broker.stop()
    wait_until(lambda: not mqtt_server.mqtt.bridge.connected and not station.agent.connected, WAIT)

    response = send_order(mqtt_server.client, mqtt_server.url, station.printer_id, external_id="mqtt-restart-1")
    assert response.status_code == 201, response.text
    broker.start()

    assert station.simulator.wait_for(lambda: "Margherita" in station.printed_text(), WAIT)
    wait_until(lambda: _job_states(mqtt_server, station.printer_id) == ["printed"], WAIT)
    # A second push or pull of the same job must not print it again.
    mqtt_server.mqtt.bridge.submit(lambda: mqtt_server.mqtt.devices.push(station.printer_id, resend_held=True))
    assert mqtt_server.mqtt.bridge.drain(WAIT)
    assert station.agent.connected
    assert len(station.simulator.printed) == 1


def test_agent_never_prints_a_job_twice_after_restart(mqtt_server: MqttServer, station: Station) -> None:
    response = send_order(mqtt_server.client, mqtt_server.url, station.printer_id, external_id="mqtt-dup-1")
    assert response.status_code == 201, response.text
    wait_until(lambda: _job_states(mqtt_server, station.printer_id) == ["printed"], WAIT)
    with mqtt_server.services.db.session() as session:
        token = session.query(Job.token).filter(Job.printer_id == station.printer_id).scalar()
    station.agent.stop()

    # The agent restarts with a job it printed whose result it never got acknowledged.
    station.state_file.write_text(json.dumps({"jobs": {token: {"status": "printed", "code": "200 printed"}},
                                              "settings": {}, "settings_version": 0}))
    station.agent = _agent(mqtt_server, station.device_id, station.password, station.simulator.port,
                           station.state_file)
    station.agent.start()
    wait_until(lambda: json.loads(station.state_file.read_text())["jobs"] == {}, WAIT)
    assert len(station.simulator.printed) == 1
    assert _job_states(mqtt_server, station.printer_id) == ["printed"]


def test_agent_applies_desired_settings(mqtt_server: MqttServer, station: Station) -> None:
    with mqtt_server.services.db.session() as session:
        printer = session.get(Printer, station.printer_id)
        assert printer is not None
        twin = settings_twin(session, station.printer_id)
        twin.desired = {"buzzer": True, "density": 3}
        twin.desired_version = 4
        request_settings_push(session, printer)

    def reported() -> bool:
        with mqtt_server.services.db.session() as session:
            twin = settings_twin(session, station.printer_id)
            return twin.reported_version == 4 and twin.reported == {"buzzer": True, "density": 3}

    wait_until(reported, WAIT)
    assert station.agent.state.settings == {"buzzer": True, "density": 3}


def test_agent_acknowledges_command(mqtt_server: MqttServer, station: Station) -> None:
    with mqtt_server.services.db.session() as session:
        printer = session.get(Printer, station.printer_id)
        assert printer is not None
        command_id = send_command(session, printer, "test_print").command_id

    def state() -> str:
        with mqtt_server.services.db.session() as session:
            return session.query(MqttCommand.state).filter(MqttCommand.command_id == command_id).scalar()

    wait_until(lambda: state() == "done", WAIT)
    assert station.simulator.wait_for(lambda: "printfleet test print" in station.printed_text(), WAIT)


def test_device_cannot_use_other_device_topics(mqtt_server: MqttServer, embedded_only: None) -> None:
    first = mqtt_server.register("device_mqtt", name="First")
    second = mqtt_server.register("device_mqtt", name="Second")
    first_login = mqtt_server.credentials(first["id"])
    second_login = mqtt_server.credentials(second["id"])
    before = mqtt_server.printer(second["id"])

    intruder = mqtt_server.device_client(first_login.username, first_login.password, first_login.username)
    assert intruder.wait_connected() == 0
    other = f"printfleet/v1/devices/{second_login.username}"
    assert intruder.subscribe(f"{other}/jobs/new") == 128
    assert intruder.subscribe("printfleet/v1/devices/+/jobs/new") == 128
    assert intruder.subscribe(f"printfleet/v1/devices/{first_login.username}/jobs/new") == 1

    intruder.publish(f"{other}/health", {"v": 1, "online": True, "conditions": ["paper_out"]})
    # A message on its own topic, handled after the refused one would have been, marks the end.
    intruder.publish(f"printfleet/v1/devices/{first_login.username}/health", {"v": 1, "online": True})
    wait_until(lambda: mqtt_server.printer(first["id"]).online, WAIT)
    assert mqtt_server.mqtt.bridge.drain(WAIT)
    after = mqtt_server.printer(second["id"])
    assert after.online == before.online
    assert after.conditions == before.conditions


def test_device_receives_no_retained_message_of_another_device(mqtt_server: MqttServer) -> None:
    first = mqtt_server.register("device_mqtt", name="Retains")
    second = mqtt_server.register("device_mqtt", name="Connects later")
    first_login = mqtt_server.credentials(first["id"])
    second_login = mqtt_server.credentials(second["id"])
    first_prefix = f"printfleet/v1/devices/{first_login.username}"
    second_prefix = f"printfleet/v1/devices/{second_login.username}"

    owner = mqtt_server.device_client(first_login.username, first_login.password, first_login.username)
    assert owner.wait_connected() == 0
    assert owner.subscribe(f"{first_prefix}/settings/desired") == 1
    owner.publish(f"{first_prefix}/state", {"v": 1, "online": True}, retain=True)
    mqtt_server.mqtt.bridge.publish(f"{first_prefix}/settings/desired", {"v": 1, "version": 1, "settings": {}},
                                    retain=True)
    owner.wait_message(lambda topic, _body: topic == f"{first_prefix}/settings/desired")

    other = mqtt_server.device_client(second_login.username, second_login.password, second_login.username)
    assert other.wait_connected() == 0
    assert other.subscribe(f"{second_prefix}/jobs/new") == 1
    # Sent after the connect and the subscribe, so anything the broker replays at connect arrives first.
    mqtt_server.mqtt.bridge.publish(f"{second_prefix}/jobs/new", {"v": 1, "marker": True})
    other.wait_message(lambda topic, body: body.get("marker") is True)
    assert [topic for topic, _payload in other.messages] == [f"{second_prefix}/jobs/new"]


def test_many_devices_connect_and_reconnect_at_once(mqtt_server: MqttServer) -> None:
    """After a broker restart every device reconnects at the same moment, resumes its session and retains its birth."""
    logins = []
    for index in range(30):
        printer = mqtt_server.register("device_mqtt", name=f"Crowd {index}")
        logins.append(mqtt_server.credentials(printer["id"]))
    subscribed: set[str] = set()
    condition = threading.Condition()

    def make_client(username: str, password: str, clean: bool) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=username, clean_session=clean,
                             protocol=mqtt.MQTTv311)
        client.username_pw_set(username, password)
        prefix = f"printfleet/v1/devices/{username}"

        def on_connect(c: mqtt.Client, _u: Any, _f: Any, code: Any, _p: Any) -> None:
            if not code.is_failure:
                c.subscribe(f"{prefix}/jobs/new", qos=1)
                c.publish(f"{prefix}/state", json.dumps({"v": 1, "online": True}), qos=1, retain=True)

        client.on_connect = on_connect

        def on_subscribe(_c: Any, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
            if all(code.value == 1 for code in codes):
                with condition:
                    subscribed.add(username)
                    condition.notify_all()

        client.on_subscribe = on_subscribe
        return client

    # The last round starts clean sessions, which also removes the stored ones from an external broker.
    for round_, clean in (("connect", False), ("reconnect", False), ("clean reconnect", True)):
        subscribed.clear()
        clients = [make_client(login.username, login.password, clean) for login in logins]
        for client in clients:
            client.connect_async(mqtt_server.broker_host, mqtt_server.broker_port, keepalive=30)
            client.loop_start()
        try:
            with condition:
                assert condition.wait_for(lambda: len(subscribed) == len(logins), WAIT), (
                    f"{round_}: {len(logins) - len(subscribed)} of {len(logins)} devices never subscribed")
        finally:
            for client in clients:
                client.disconnect()
                client.loop_stop()


class WorkerGate:
    """Holds the server's MQTT worker so that messages pile up in its queue and reach it as batches."""

    def __init__(self, server: MqttServer) -> None:
        self.release = threading.Event()
        server.mqtt.bridge.submit(lambda: self.release.wait(WAIT))

    def open(self) -> None:
        self.release.set()


def health_events(server: MqttServer, printer_id: int) -> list[tuple[str, str | None]]:
    with server.services.db.session() as session:
        rows = session.execute(select(HealthEvent.kind, HealthEvent.condition)
                               .where(HealthEvent.printer_id == printer_id).order_by(HealthEvent.id))
        return [(kind, condition) for kind, condition in rows]


def test_health_burst_stored_completely(mqtt_server: MqttServer) -> None:
    """Reports queued behind each other are stored in batches; every transition of every device is kept."""
    devices = []
    for index in range(4):
        printer = mqtt_server.register("device_mqtt", name=f"Burst {index}")
        login = mqtt_server.credentials(printer["id"])
        client = mqtt_server.device_client(login.username, login.password, login.username)
        assert client.wait_connected() == 0
        devices.append((printer["id"], login.username, client))
    gate = WorkerGate(mqtt_server)
    reports = 25
    infos = []
    for index in range(reports):
        for _printer_id, username, client in devices:
            body = {"v": 1, "online": True, "conditions": ["paper_low"] if index % 2 == 0 else []}
            infos.append(client.client.publish(f"printfleet/v1/devices/{username}/health", json.dumps(body), qos=1))
    for info in infos:
        info.wait_for_publish(WAIT)
    gate.open()

    flips = [("raised", "paper_low"), ("cleared", "paper_low")] * (reports // 2) + [("raised", "paper_low")]
    for printer_id, _username, _client in devices:
        wait_until(lambda printer_id=printer_id: len(health_events(mqtt_server, printer_id)) >= len(flips) + 1, WAIT)
        events = health_events(mqtt_server, printer_id)
        assert events[0] == ("came_online", None)
        assert events[1:] == flips
        assert mqtt_server.printer(printer_id).conditions == ["paper_low"]


def online_device(mqtt_server: MqttServer, printer_id: int) -> tuple[TestClient, str]:
    """Connect a client as the printer's device, report it online and return the client and its topic prefix."""
    login = mqtt_server.credentials(printer_id)
    prefix = f"printfleet/v1/devices/{login.username}"
    device = mqtt_server.device_client(login.username, login.password, login.username)
    assert device.wait_connected() == 0
    device.publish(f"{prefix}/health", {"v": 1, "online": True})
    wait_until(lambda: mqtt_server.printer(printer_id).online, WAIT)
    return device, prefix


def test_health_batch_keeps_order_with_state_messages(mqtt_server: MqttServer) -> None:
    printer = mqtt_server.register("device_mqtt", name="Interleaved")
    device, prefix = online_device(mqtt_server, printer["id"])

    gate = WorkerGate(mqtt_server)
    device.publish(f"{prefix}/health", {"v": 1, "online": True, "conditions": ["paper_out"]})
    device.publish(f"{prefix}/health", {"v": 1, "online": True, "conditions": ["paper_out", "cover_open"]})
    device.publish(f"{prefix}/state", {"v": 1, "online": False})
    device.publish(f"{prefix}/health", {"v": 1, "online": True, "conditions": []})
    gate.open()

    wait_until(lambda: len(health_events(mqtt_server, printer["id"])) >= 7, WAIT)
    assert health_events(mqtt_server, printer["id"]) == [
        ("came_online", None), ("raised", "paper_out"), ("raised", "cover_open"), ("went_offline", None),
        ("came_online", None), ("cleared", "cover_open"), ("cleared", "paper_out"),
    ]
    after = mqtt_server.printer(printer["id"])
    assert after.online
    assert after.conditions == []


def watched_device(mqtt_server: MqttServer, login: Any) -> tuple[TestClient, str, list[Any]]:
    """Connect ``login`` as its device, subscribed to its jobs; return it, its topic prefix and its disconnects."""
    prefix = f"printfleet/v1/devices/{login.username}"
    device = mqtt_server.device_client(login.username, login.password, login.username)
    assert device.wait_connected() == 0
    assert device.subscribe(f"{prefix}/jobs/new") == 1
    disconnects: list[Any] = []
    device.client.on_disconnect = lambda *args: disconnects.append(args)
    return device, prefix, disconnects


@pytest.mark.parametrize("clean_session", [True, False], ids=["clean", "persistent"])
def test_wrong_password_leaves_connected_device_alone(mqtt_server: MqttServer, embedded_only: None,
                                                      clean_session: bool) -> None:
    printer = mqtt_server.register("device_mqtt", name="Kept online")
    login = mqtt_server.credentials(printer["id"])
    device, prefix, disconnects = watched_device(mqtt_server, login)

    for _ in range(3):
        intruder = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=login.username, clean_session=clean_session,
                               protocol=mqtt.MQTTv311)
        intruder.username_pw_set(login.username, "not-the-password")
        codes: list[int] = []
        intruder.on_connect = lambda _c, _u, _f, code, _p, codes=codes: codes.append(code.value)
        intruder.connect(mqtt_server.broker_host, mqtt_server.broker_port)
        intruder.loop_start()
        wait_until(lambda codes=codes: bool(codes), WAIT)
        intruder.disconnect()
        intruder.loop_stop()
        assert codes[0] != 0

    mqtt_server.mqtt.bridge.publish(f"{prefix}/jobs/new", {"v": 1, "marker": "still here"})
    device.wait_message(lambda _topic, body: body.get("marker") == "still here")
    assert disconnects == []
    assert device.client.is_connected()


def test_other_login_cannot_take_a_device_client_id(mqtt_server: MqttServer, embedded_only: None) -> None:
    """A device with a valid login of its own must not get another device's session by naming its client id."""
    owner_printer = mqtt_server.register("device_mqtt", name="Owner")
    owner = mqtt_server.credentials(owner_printer["id"])
    neighbour_printer = mqtt_server.register("device_mqtt", name="Neighbour")
    neighbour = mqtt_server.credentials(neighbour_printer["id"])
    device, prefix, disconnects = watched_device(mqtt_server, owner)

    intruder = mqtt_server.device_client(neighbour.username, neighbour.password, owner.username)
    assert intruder.wait_connected() == 133  # paho reports CONNACK 0x02 (identifier rejected) as 133

    mqtt_server.mqtt.bridge.publish(f"{prefix}/jobs/new", {"v": 1, "marker": "still mine"})
    device.wait_message(lambda _topic, body: body.get("marker") == "still mine")
    assert disconnects == []


def test_health_order_with_lagging_server(mqtt_server: MqttServer) -> None:
    """A broker keeps QoS 1 messages behind its in-flight window; state and health must still arrive in order."""
    printer = mqtt_server.register("device_mqtt", name="Lagging server")
    device, prefix = online_device(mqtt_server, printer["id"])

    # Hold the server's network thread on the next message, so its acknowledgements stop for a while.
    bridge = mqtt_server.mqtt.bridge
    paho_client = bridge._client  # noqa: SLF001 (stands in for a server too busy to read its socket)
    paused, release = threading.Event(), threading.Event()
    passing_on = paho_client.on_message

    def slow(client: Any, userdata: Any, message: Any) -> None:
        if not paused.is_set():
            paused.set()
            release.wait(WAIT)
        passing_on(client, userdata, message)

    paho_client.on_message = slow
    try:
        device.publish(f"{prefix}/jobs/pull", {"v": 1})
        assert paused.wait(WAIT)
        for _ in range(25):  # more than Mosquitto's 20 QoS 1 messages in flight
            device.publish(f"{prefix}/jobs/pull", {"v": 1})
        device.publish(f"{prefix}/state", {"v": 1, "online": False})
        device.publish(f"{prefix}/health", {"v": 1, "online": True, "conditions": ["paper_low"]})
    finally:
        release.set()
        paho_client.on_message = passing_on

    wait_until(lambda: mqtt_server.printer(printer["id"]).conditions == ["paper_low"], WAIT)
    assert bridge.drain(WAIT)
    after = mqtt_server.printer(printer["id"])
    assert after.online, "the device's last report said online, but an earlier state message was applied after it"
    assert after.conditions == ["paper_low"]


def test_broker_rejects_wrong_and_anonymous_logins(mqtt_server: MqttServer, embedded_only: None) -> None:
    printer = mqtt_server.register("device_mqtt", name="Login check")
    login = mqtt_server.credentials(printer["id"])
    wrong = mqtt_server.device_client(login.username, "not-the-password")
    anonymous = mqtt_server.device_client(None, None)
    assert wrong.wait_connected() != 0
    assert anonymous.wait_connected() != 0


BAD_PAYLOADS: list[Any] = [
    pytest.param(b"{not json", "not JSON", id="malformed"),
    pytest.param(json.dumps({"v": 1, "online": True, "detail": {"pad": "x" * 70_000}}).encode(), "limit",
                 id="oversized"),
    pytest.param(json.dumps({"v": 2, "online": False}).encode(), "unknown protocol version", id="unknown-version"),
    pytest.param(json.dumps({"v": 1, "online": "yes"}).encode(), "online", id="invalid-field"),
]


@pytest.mark.parametrize(("payload", "reason"), BAD_PAYLOADS)
def test_device_payload_rejected(mqtt_server: MqttServer, caplog: pytest.LogCaptureFixture, payload: bytes,
                                 reason: str) -> None:
    printer = mqtt_server.register("device_mqtt", name="Payload check")
    login = mqtt_server.credentials(printer["id"])
    device = mqtt_server.device_client(login.username, login.password, login.username)
    assert device.wait_connected() == 0
    topic = f"printfleet/v1/devices/{login.username}/health"
    before = mqtt_server.printer(printer["id"])
    caplog.set_level(logging.WARNING, logger="protocols.mqtt.payloads")

    device.publish(topic, payload)

    def rejection() -> bool:
        return any(record.levelno == logging.WARNING and login.username in record.getMessage()
                   and topic in record.getMessage() and reason in record.getMessage() for record in caplog.records)

    wait_until(rejection, WAIT)
    after = mqtt_server.printer(printer["id"])
    assert after.online == before.online
    assert after.conditions == before.conditions
    assert after.health_detail == before.health_detail


def test_agent_status_and_identify_commands(mqtt_server: MqttServer, station: Station) -> None:
    """``status`` makes the agent report health now; ``identify`` prints a ticket naming the device."""
    with mqtt_server.services.db.session() as session:
        printer = session.get(Printer, station.printer_id)
        assert printer is not None
        status_id = send_command(session, printer, "status").command_id
        identify_id = send_command(session, printer, "identify").command_id

    def state(command_id: str) -> str:
        with mqtt_server.services.db.session() as session:
            return session.query(MqttCommand.state).filter(MqttCommand.command_id == command_id).scalar()

    def barrier() -> None:
        """Send a later command and wait for it: the agent handles commands in order, so any repeat came first."""
        with mqtt_server.services.db.session() as session:
            printer = session.get(Printer, station.printer_id)
            assert printer is not None
            later_id = send_command(session, printer, "status").command_id
        wait_until(lambda: state(later_id) == "done", WAIT)

    wait_until(lambda: state(status_id) == "done" and state(identify_id) == "done", WAIT)
    device_id = mqtt_server.credentials(station.printer_id).username
    assert station.simulator.wait_for(lambda: device_id in station.printed_text(), WAIT)
    # Storing the acknowledgement publishes an event, which must not send the command again.
    assert mqtt_server.mqtt.bridge.drain(WAIT)
    barrier()
    assert station.printed_text().count(device_id) == 1

    # QoS 1 may deliver a command twice; the agent acknowledges the repeat and does not print again.
    mqtt_server.mqtt.bridge.submit(lambda: mqtt_server.mqtt.devices.publish_command(identify_id))
    barrier()
    assert station.printed_text().count(device_id) == 1
