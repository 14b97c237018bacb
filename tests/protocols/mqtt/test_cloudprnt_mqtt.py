"""Star CloudPRNT over MQTT: the server-setting JSON, trigger-POST mode and full MQTT mode.

The printer side is the CloudPRNT HTTP simulator plus a small paho client in the test that plays the
printer's MQTT connection with the credentials from ``cloudprnt-setting.json``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fleet.accounts import create_account
from fleet.models import Job, Order, OrderEvent
from protocols.simulators.cloudprnt import CloudPrntSimulator
from tests.conftest import register_printer, send_order
from tests.protocols.mqtt.conftest import WAIT, MqttServer, TestClient
from tests.support.servers import wait_until

TRIGGER_MAC = "00:11:62:0e:15:58"
FULL_MAC = "00:11:62:aa:bb:cc"
OFF_MAC = "00:11:62:00:00:01"


def _setting_url(printer: dict[str, Any]) -> str:
    return str(printer["device"]["cloudprnt_url"]).rsplit("/", 1)[0] + "/cloudprnt-setting.json"


def _setting(printer: dict[str, Any], mac: str) -> requests.Response:
    return requests.get(_setting_url(printer), params={"mac": mac, "replaced_path": "poll"}, timeout=10)


def _printer_client(server: MqttServer, setting: dict[str, Any]) -> TestClient:
    login = setting["settingForMQTT"]["mqttConnectionSetting"]["authenticationSetting"]
    client = server.device_client(login["username"], login["password"], login["clientId"])
    assert client.wait_connected() == 0
    return client


def _job(server: MqttServer, order_id: int) -> Job:
    with server.services.db.session() as session:
        job = session.query(Job).filter(Job.order_id == order_id).one()
        session.expunge(job)
        return job


def _order_status(server: MqttServer, order_id: int) -> str:
    with server.services.db.session() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return order.status


def test_setting_json_off_is_404(mqtt_server: MqttServer) -> None:
    printer = mqtt_server.register("cloudprnt", mac=OFF_MAC, name="HTTP only")
    response = _setting(printer, OFF_MAC)
    assert response.status_code == 404


def test_setting_json_gives_broker_login(mqtt_server: MqttServer) -> None:
    printer = mqtt_server.register("cloudprnt", mac="00:11:62:00:00:02", settings={"cloudprnt_mqtt": "trigger"})
    response = _setting(printer, "00:11:62:00:00:02")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["title"] == "star_cloudprnt_server_setting"
    assert body["version"] == "1.0.0"
    assert body["serverSupportProtocol"] == ["HTTP", "MQTT"]
    mqtt_setting = body["settingForMQTT"]
    assert mqtt_setting["useTriggerPOST"] is True
    connection = mqtt_setting["mqttConnectionSetting"]
    assert connection["hostName"] == mqtt_server.broker_host
    assert connection["portNumber"] == mqtt_server.broker_port
    assert connection["useTls"] is False
    login = connection["authenticationSetting"]
    assert login["username"] == f"cloudprnt-{printer['id']}"
    assert login["clientId"] == login["username"]
    assert len(login["password"]) >= 24
    # The same password every time, so a printer that fetches the setting again keeps working.
    assert _setting(printer, "00:11:62:00:00:02").json() == body


def test_cloudprnt_topics_limited_to_own_mac(mqtt_server: MqttServer, embedded_only: None) -> None:
    printer = mqtt_server.register("cloudprnt", mac="00:11:62:00:00:03", settings={"cloudprnt_mqtt": "full"})
    client = _printer_client(mqtt_server, _setting(printer, "00:11:62:00:00:03").json())
    assert client.subscribe("star/cloudprnt/to-device/00:11:62:00:00:03/#") == 1
    assert client.subscribe(f"star/cloudprnt/to-device/{FULL_MAC}/#") == 128
    assert client.subscribe("star/cloudprnt/to-server/#") == 128


@pytest.fixture
def trigger_printer(mqtt_server: MqttServer) -> Iterator[tuple[dict[str, Any], CloudPrntSimulator, TestClient]]:
    printer = mqtt_server.register("cloudprnt", mac=TRIGGER_MAC, settings={"cloudprnt_mqtt": "trigger"})
    # An hour between polls: only the MQTT doorbell can make this printer poll in time.
    simulator = CloudPrntSimulator(printer["device"]["cloudprnt_url"], TRIGGER_MAC, poll_interval=3600.0)
    client = _printer_client(mqtt_server, _setting(printer, TRIGGER_MAC).json())
    client.on_message_hook = lambda topic, _payload: simulator.poll_now() if topic.endswith("/request-post") else None
    assert client.subscribe(f"star/cloudprnt/to-device/{TRIGGER_MAC}/#") == 1
    simulator.start()
    # The reply to the first poll carries client actions, so the printer polls again at once and then idles.
    assert simulator.wait_for(lambda: simulator.counters.get("polls", 0) >= 2, WAIT)
    yield printer, simulator, client
    simulator.stop()
    client.close()


def test_trigger_post_polls_at_once(mqtt_server: MqttServer,
                                    trigger_printer: tuple[dict[str, Any], CloudPrntSimulator, TestClient]) -> None:
    printer, simulator, client = trigger_printer
    response = send_order(mqtt_server.client, mqtt_server.url, printer["id"], external_id="trigger-1")
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]

    topic, body = client.wait_message(lambda topic, _body: topic.endswith("/request-post"))
    assert topic == f"star/cloudprnt/to-device/{TRIGGER_MAC}/request-post"
    assert body == {"title": "request-post"}
    assert simulator.wait_for(lambda: len(simulator.printed) == 1, WAIT)
    wait_until(lambda: _order_status(mqtt_server, order_id) == "printed", WAIT)
    assert _job(mqtt_server, order_id).state == "printed"


def test_full_mode_print_job_and_result(mqtt_server: MqttServer) -> None:
    printer = mqtt_server.register("cloudprnt", mac=FULL_MAC, settings={"cloudprnt_mqtt": "full"})
    client = _printer_client(mqtt_server, _setting(printer, FULL_MAC).json())
    assert client.subscribe(f"star/cloudprnt/to-device/{FULL_MAC}/#") == 1

    response = send_order(mqtt_server.client, mqtt_server.url, printer["id"], external_id="full-1")
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]

    _topic, job_message = client.wait_message(lambda topic, _body: topic.endswith("/print-job"))
    assert job_message["title"] == "print-job"
    assert job_message["jobType"] == "url"
    assert job_message["mediaTypes"] == ["image/png"]
    token = job_message["jobToken"]
    assert token == _job(mqtt_server, order_id).token

    download = requests.get(job_message["printData"], timeout=10)
    assert download.status_code == 200
    assert download.headers["Content-Type"].startswith("image/png")
    assert download.content.startswith(b"\x89PNG")
    assert _job(mqtt_server, order_id).state == "fetched"

    result = {"title": "print-result", "printerMAC": FULL_MAC, "jobToken": token, "statusCode": "200%20OK",
              "printSucceeded": True}
    client.publish(f"star/cloudprnt/to-server/{FULL_MAC}/print-result", result)
    wait_until(lambda: _order_status(mqtt_server, order_id) == "printed", WAIT)
    assert _job(mqtt_server, order_id).state == "printed"

    # QoS 1 may deliver the result twice: the second one changes nothing.
    client.publish(f"star/cloudprnt/to-server/{FULL_MAC}/print-result", result)
    assert mqtt_server.mqtt.bridge.drain(WAIT)
    with mqtt_server.services.db.session() as session:
        printed_events = session.query(OrderEvent).filter(OrderEvent.order_id == order_id,
                                                           OrderEvent.event == "job_printed").count()
    assert printed_events == 1
    assert _job(mqtt_server, order_id).state == "printed"


def test_full_mode_status_and_will(mqtt_server: MqttServer) -> None:
    mac = "00:11:62:00:00:04"
    printer = mqtt_server.register("cloudprnt", mac=mac, settings={"cloudprnt_mqtt": "full"})
    client = _printer_client(mqtt_server, _setting(printer, mac).json())
    assert client.subscribe(f"star/cloudprnt/to-device/{mac}/#") == 1

    status = {"title": "client-status", "printerMAC": mac, "statusCode": "410%20Paper%20Out",
              "printingInProgress": False}
    client.publish(f"star/cloudprnt/to-server/{mac}/client-status", status)
    wait_until(lambda: "paper_out" in mqtt_server.printer(printer["id"]).conditions, WAIT)
    assert mqtt_server.printer(printer["id"]).online

    _topic, order = client.wait_message(lambda topic, _body: topic.endswith("/order-client-action"))
    assert {action["request"] for action in order["clientAction"]} >= {"ClientType", "Encodings"}

    client.publish(f"star/cloudprnt/to-server/{mac}/client-will",
                   {"title": "client-will", "printerMAC": mac, "unintentionalDisconnection": True})
    wait_until(lambda: not mqtt_server.printer(printer["id"]).online, WAIT)


def test_full_mode_raw_text_job(mqtt_server: MqttServer) -> None:
    mac = "00:11:62:00:00:05"
    printer = mqtt_server.register("cloudprnt", mac=mac, settings={"cloudprnt_mqtt": "full"})
    client = _printer_client(mqtt_server, _setting(printer, mac).json())
    assert client.subscribe(f"star/cloudprnt/to-device/{mac}/#") == 1
    # A printer that reports only text/plain gets its jobs inline.
    status = {"title": "client-status", "printerMAC": mac, "statusCode": "200%20OK", "printingInProgress": False,
              "clientAction": [{"request": "Encodings", "result": "text/plain"}]}
    client.publish(f"star/cloudprnt/to-server/{mac}/client-status", status)
    wait_until(lambda: mqtt_server.printer(printer["id"]).client_info.get("Encodings") == "text/plain", WAIT)

    response = send_order(mqtt_server.client, mqtt_server.url, printer["id"], external_id="full-raw-1")
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]

    _topic, job_message = client.wait_message(lambda topic, _body: topic.endswith("/print-job"))
    assert job_message["jobType"] == "raw"
    assert job_message["mediaTypes"] == ["text/plain"]
    assert "Margherita" in job_message["printData"]
    assert _job(mqtt_server, order_id).state == "fetched"

    result = {"title": "print-result", "printerMAC": mac, "jobToken": job_message["jobToken"],
              "statusCode": "200%20OK"}
    client.publish(f"star/cloudprnt/to-server/{mac}/print-result", result)
    wait_until(lambda: _order_status(mqtt_server, order_id) == "printed", WAIT)


def test_status_command_publishes_client_status_request(mqtt_server: MqttServer) -> None:
    """The remote command ``status`` reaches a full-mode printer as ``request-client-status``."""
    mac = "00:11:62:aa:bb:dd"
    printer = mqtt_server.register("cloudprnt", mac=mac, settings={"cloudprnt_mqtt": "full"})
    client = _printer_client(mqtt_server, _setting(printer, mac).json())
    assert client.subscribe(f"star/cloudprnt/to-device/{mac}/#") == 1

    response = mqtt_server.client.post(f"{mqtt_server.url}/api/v1/printers/{printer['id']}/commands",
                                       json={"command": "status"}, timeout=10)

    assert response.status_code in (200, 202), response.text
    topic, body = client.wait_message(lambda topic, _body: topic.endswith("/request-client-status"))
    assert topic == f"star/cloudprnt/to-device/{mac}/request-client-status"
    assert body == {"title": "request-client-status"}
    client.close()


def test_mac_of_two_accounts_gets_no_mqtt(mqtt_server: MqttServer) -> None:
    """MQTT topics name the MAC alone, so a MAC two accounts use over MQTT gets no broker login at all."""
    mac = "00:11:62:00:00:77"
    owner = mqtt_server.register("cloudprnt", mac=mac, settings={"cloudprnt_mqtt": "full"})
    assert _setting(owner, mac).status_code == 200
    with mqtt_server.services.db.session() as session:
        created = create_account(session, "Copycat")
    other = requests.Session()
    other.headers["Authorization"] = f"Bearer {created.api_key}"

    copy = register_printer(other, mqtt_server.url, name="Copy", protocol="cloudprnt", mac=mac,
                            settings={"cloudprnt_mqtt": "full"})

    assert _setting(copy, mac).status_code == 404
    assert _setting(owner, mac).status_code == 404
