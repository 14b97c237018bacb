"""Star CloudPRNT over HTTP against a running server: the request shapes real printers send.

The wire-shape tests send raw ``requests`` calls built the way Star firmware builds them (poll JSON,
job GET query, DELETE or GET-with-``delete`` confirmation). The end-to-end tests drive the
CloudPRNT printer simulator.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from PIL import Image

from protocols.simulators.cloudprnt import CloudPrntSimulator
from tests.conftest import Running, register_printer, running_instance, send_order
from tests.support.servers import wait_until

MAC = "00:11:62:0e:15:58"
OTHER_MAC = "00:11:62:aa:bb:cc"
#: Deadline (s) for anything that waits on the server or a simulator.
WAIT = 30.0
#: A 58 mm printer: 48 mm printable at 8 dots/mm, so 384 printable dots.
PAGE_INFO = {"paperWidth": "58", "printWidth": "48", "horizontalResolution": "8", "verticalResolution": "8"}
ENCODINGS = "image/png; image/jpeg; application/vnd.star.starprntcore; text/plain; application/octet-stream"
CLIENT_ACTIONS = {"ClientType", "ClientVersion", "Encodings", "GetPollInterval", "PageInfo"}
ASB_IDLE = "23 6 0 0 0 0 0 0 0 "


@dataclass
class Shop:
    """One account with one registered CloudPRNT printer, seen from the printer and from the API."""

    base: str
    client: requests.Session
    printer: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.printer["device"]["cloudprnt_url"])

    @property
    def setting_url(self) -> str:
        return self.url.rsplit("/", 1)[0] + "/cloudprnt-setting.json"

    def poll(self, mac: str | None = MAC, **fields: Any) -> requests.Response:
        """POST a poll body shaped like mC-Print3 firmware's; ``fields`` replace or add keys."""
        body: dict[str, Any] = {"status": ASB_IDLE, "printerMAC": mac, "statusCode": "200%20OK",
                                "printingInProgress": False, "clientAction": None}
        body.update(fields)
        return requests.post(self.url, data=json.dumps(body), headers={"Content-Type": "application/json"},
                             timeout=10)

    def introduce(self, answers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Run the first-contact round: a poll that is asked client actions, then a poll answering them."""
        first = self.poll()
        assert first.status_code == 200, first.text
        asked = {action["request"] for action in first.json().get("clientAction") or []}
        assert asked == CLIENT_ACTIONS
        reply = self.poll(clientAction=answers if answers is not None else client_answers())
        assert reply.status_code == 200, reply.text
        return reply.json()  # type: ignore[no-any-return]

    def job_url(self, query: str) -> str:
        return f"{self.url}?{query}"

    def api(self, path: str) -> dict[str, Any]:
        response = self.client.get(f"{self.base}/api/v1{path}", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def printer_view(self) -> dict[str, Any]:
        return self.api(f"/printers/{self.printer['id']}")

    def order(self, order_id: int) -> dict[str, Any]:
        return self.api(f"/orders/{order_id}")

    def send_order(self, **fields: Any) -> int:
        response = send_order(self.client, self.base, self.printer["id"], **fields)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def offer(self) -> tuple[int, str]:
        """Send an order and poll until the server offers it; return the order id and the job token."""
        order_id = self.send_order()
        reply = self.poll().json()
        assert reply["jobReady"] is True, reply
        return order_id, str(reply["jobToken"])


def client_answers(poll_interval: str = "10") -> list[dict[str, Any]]:
    """Client-action answers as mC-Print3 sends them; PageInfo is an object, one uses ``response``."""
    return [
        {"request": "ClientType", "result": "Star mC-Print3"},
        {"request": "ClientVersion", "result": "5.1"},
        {"request": "Encodings", "result": ENCODINGS},
        {"request": "GetPollInterval", "response": poll_interval},
        {"request": "PageInfo", "result": dict(PAGE_INFO)},
    ]


def assert_no_cache(response: requests.Response) -> None:
    cache_control = response.headers.get("Cache-Control", "")
    assert "no-store" in cache_control
    assert "no-cache" in cache_control
    assert response.headers.get("Pragma") == "no-cache"
    assert response.headers.get("Expires") == "0"


def only_job(order: dict[str, Any]) -> dict[str, Any]:
    assert len(order["jobs"]) == 1, order["jobs"]
    return order["jobs"][0]  # type: ignore[no-any-return]


def new_shop(running: Running, mac: str = MAC) -> Shop:
    _account_id, client = running.new_account()
    printer = register_printer(client, running.url, name="Kitchen", protocol="cloudprnt", mac=mac)
    return Shop(running.url, client, printer)


@pytest.fixture(scope="module")
def shared_instance(module_database_url: str) -> Iterator[Running]:
    """One server per backend for the tests that need no special settings.

    Every test registers its printer in a new account, and accounts share nothing (device key, MACs,
    quarantine), so the tests stay independent while paying the server start and stop only once.
    """
    with running_instance(module_database_url) as running:
        yield running


@pytest.fixture
def shop(shared_instance: Running) -> Shop:
    return new_shop(shared_instance)


@pytest.fixture
def ready_shop(shop: Shop) -> Shop:
    """A shop whose printer has answered its first-contact client actions."""
    shop.introduce()
    return shop


@pytest.fixture
def simulators() -> Iterator[list[CloudPrntSimulator]]:
    started: list[CloudPrntSimulator] = []
    yield started
    for simulator in started:
        simulator.stop()


# -- poll request shapes -----------------------------------------------------------------------------------


def test_poll_only_status_code_gets_no_job(shop: Shop) -> None:
    response = requests.post(shop.url, json={"statusCode": "200 OK"}, timeout=10)

    assert response.status_code == 200
    assert response.json() == {"jobReady": False}
    assert_no_cache(response)


def test_poll_null_fields_accepted(shop: Shop) -> None:
    body = {"status": None, "printerMAC": MAC, "uniqueID": None, "statusCode": "200%20OK", "jobToken": None,
            "printingInProgress": None, "clientAction": None, "barcodeReader": None, "display": None}

    response = requests.post(shop.url, json=body, timeout=10)

    assert response.status_code == 200, response.text
    assert response.json()["jobReady"] is False
    health = shop.printer_view()["health"]
    assert health["online"] is True
    assert health["conditions"] == []


def test_poll_mac_in_other_spelling_matches_printer(shop: Shop) -> None:
    response = shop.poll(mac="00-11-62-0E-15-58")

    assert response.status_code == 200, response.text
    assert shop.printer_view()["health"]["online"] is True
    assert shop.api("/quarantine")["printers"] == []


@pytest.mark.parametrize("printing", ["true", "True", True], ids=["string", "capitalised", "boolean"])
def test_poll_printing_in_progress_withholds_job(ready_shop: Shop, printing: object) -> None:
    ready_shop.send_order()

    busy = ready_shop.poll(printingInProgress=printing).json()
    idle = ready_shop.poll(printingInProgress="false").json()

    assert busy == {"jobReady": False}
    assert idle["jobReady"] is True


@pytest.mark.parametrize(
    ("code", "status_code", "conditions"),
    [("200%20OK", "200 OK", []), ("211%20Paper%20Low", "211 Paper Low", ["paper_low"]),
     ("200+OK", "200 OK", [])],
    ids=["ok", "paper-low", "plus-encoded"],
)
def test_poll_url_encoded_code_decoded(shop: Shop, code: str, status_code: str, conditions: list[str]) -> None:
    response = shop.poll(statusCode=code)

    assert response.status_code == 200, response.text
    health = shop.printer_view()["health"]
    assert health["status_code"] == status_code
    assert health["conditions"] == conditions
    assert health["online"] is True


def test_poll_paper_low_still_offered_jobs(ready_shop: Shop) -> None:
    ready_shop.send_order()

    reply = ready_shop.poll(statusCode="211%20Paper%20Low").json()

    assert reply["jobReady"] is True
    assert ready_shop.printer_view()["health"]["state"] == "warning"


@pytest.mark.parametrize(
    ("asb", "conditions"),
    [(ASB_IDLE, []), ("23 86 00 00 00 00 00 00 00 00 00", []),
     ("23 6 20 0 0 0 0 0 0 ", ["cover_open"]), ("23 86 20 00 00 00 00 00 00 00 00", ["cover_open"])],
    ids=["unpadded", "padded", "unpadded-cover-open", "padded-cover-open"],
)
def test_poll_asb_hex_formats_read(shop: Shop, asb: str, conditions: list[str]) -> None:
    response = shop.poll(status=asb)

    assert response.status_code == 200, response.text
    health = shop.printer_view()["health"]
    assert health["conditions"] == conditions
    assert health["detail"]["asb"] == asb


def test_poll_unreadable_asb_ignored(shop: Shop) -> None:
    response = shop.poll(status="not hex at all")

    assert response.status_code == 200, response.text
    assert shop.printer_view()["health"]["conditions"] == []


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"],
                         ids=["missing", "text", "form"])
def test_poll_any_content_type_parsed(shop: Shop, content_type: str | None) -> None:
    body = json.dumps({"printerMAC": MAC, "statusCode": "211%20Paper%20Low"}).encode()
    headers = {"Content-Type": content_type} if content_type else {}

    response = requests.post(shop.url, data=body, headers=headers, timeout=10)

    assert response.status_code == 200, response.text
    assert response.json()["jobReady"] is False
    assert shop.printer_view()["health"]["conditions"] == ["paper_low"]


@pytest.mark.parametrize("body", [b"statusCode=200%20OK", b"{\"statusCode\": ", b"[]", b"\xff\xfe\x00"],
                         ids=["form", "truncated", "array", "binary"])
def test_poll_body_not_json_object_rejected(shop: Shop, body: bytes) -> None:
    response = requests.post(shop.url, data=body, headers={"Content-Type": "application/json"}, timeout=10)

    assert response.status_code == 400
    assert response.json()["error"]["status"] == 400
    assert_no_cache(response)


def test_poll_without_status_code_rejected(shop: Shop) -> None:
    response = requests.post(shop.url, json={"printerMAC": MAC}, timeout=10)

    assert response.status_code == 400
    assert "statusCode" in response.json()["error"]["message"]


def test_poll_unknown_device_key_forbidden(shop: Shop) -> None:
    url = shop.url.replace(shop.url.split("/")[-2], "not-a-device-key")

    response = requests.post(url, json={"printerMAC": MAC, "statusCode": "200 OK"}, timeout=10)

    assert response.status_code == 403
    assert_no_cache(response)


def test_poll_unknown_mac_quarantined(shop: Shop) -> None:
    shop.send_order()

    first = shop.poll(mac="00:11:62:AA:BB:CC")
    second = shop.poll(mac=OTHER_MAC)

    assert first.json() == {"jobReady": False}
    assert second.json() == {"jobReady": False}
    assert_no_cache(second)
    quarantined = shop.api("/quarantine")["printers"]
    assert [(row["protocol"], row["identifier"]) for row in quarantined] == [("cloudprnt", OTHER_MAC)]
    assert quarantined[0]["probe_count"] == 2
    assert shop.printer_view()["health"]["online"] is False


# -- poll answer --------------------------------------------------------------------------------------------


def test_poll_answer_describes_waiting_job(ready_shop: Shop) -> None:
    order_id = ready_shop.send_order()

    response = ready_shop.poll()

    reply = response.json()
    assert reply["jobReady"] is True
    assert reply["mediaTypes"] == ["image/png", "text/plain"]
    assert isinstance(reply["jobToken"], str) and reply["jobToken"]
    assert reply["deleteMethod"] == "DELETE"
    assert "clientAction" not in reply
    assert_no_cache(response)
    assert only_job(ready_shop.order(order_id))["state"] == "offered"


def test_poll_answer_media_types_follow_encodings(shop: Shop) -> None:
    answers = [{"request": "Encodings", "result": "text/plain; application/vnd.star.line"}]
    shop.introduce(answers)
    shop.send_order()

    reply = shop.poll().json()

    assert reply["mediaTypes"] == ["text/plain"]


def test_client_actions_asked_on_first_contact_only(shop: Shop) -> None:
    shop.send_order()

    first = shop.poll().json()
    second = shop.poll(clientAction=client_answers()).json()
    third = shop.poll().json()

    assert first["jobReady"] is False
    assert [action["request"] for action in first["clientAction"]] == sorted(
        CLIENT_ACTIONS, key=["ClientType", "ClientVersion", "Encodings", "GetPollInterval", "PageInfo"].index)
    assert all(action["options"] == "" for action in first["clientAction"])
    assert "clientAction" not in second
    assert second["jobReady"] is True
    assert "clientAction" not in third
    view = shop.printer_view()
    assert view["client_info"] == {"ClientType": "Star mC-Print3", "ClientVersion": "5.1", "Encodings": ENCODINGS,
                                   "GetPollInterval": "10", "PageInfo": PAGE_INFO}
    assert view["health"]["poll_interval_seconds"] == 10


def test_client_actions_not_asked_by_second_process(shop: Shop, shared_instance: Running,
                                                     instance_factory: Any) -> None:
    shop.introduce()
    second = instance_factory(shared_instance.services.settings.database_url)
    url = shop.url.replace(shared_instance.url, second.url)

    reply = requests.post(url, json={"printerMAC": MAC, "statusCode": "200 OK"}, timeout=10).json()

    assert "clientAction" not in reply


# -- job GET -----------------------------------------------------------------------------------------------


def test_job_get_png_width_from_page_info(ready_shop: Shop) -> None:
    order_id, token = ready_shop.offer()

    response = requests.get(ready_shop.job_url(f"type=image%2Fpng&mac={MAC}&token={token}"), timeout=30)

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/png"
    assert_no_cache(response)
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG"
    assert image.width == 48 * 8
    job = only_job(ready_shop.order(order_id))
    assert job["state"] == "fetched"
    assert job["media_type"] == "image/png"
    assert ready_shop.order(order_id)["status"] == "printing"


def test_job_get_text_with_cut_header(ready_shop: Shop) -> None:
    _order_id, token = ready_shop.offer()

    response = requests.get(ready_shop.job_url(f"type=text/plain&mac={MAC}&token={token}"),
                            headers={"X-Star-Mac": MAC}, timeout=30)

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] == "text/plain"
    assert response.headers["X-Star-Cut"].startswith(("full", "partial"))
    assert "Margherita" in response.content.decode("utf-8", errors="replace")
    assert_no_cache(response)


def test_job_get_mac_from_header_only(ready_shop: Shop) -> None:
    _order_id, token = ready_shop.offer()

    response = requests.get(ready_shop.job_url(f"type=text/plain&token={token}"), headers={"X-Star-Mac": MAC},
                            timeout=30)

    assert response.status_code == 200, response.text


def test_job_get_unknown_type_unsupported(ready_shop: Shop) -> None:
    order_id, token = ready_shop.offer()

    response = requests.get(ready_shop.job_url(f"type=application/vnd.star.line&mac={MAC}&token={token}"),
                            timeout=30)

    assert response.status_code == 415
    assert_no_cache(response)
    job = only_job(ready_shop.order(order_id))
    assert job["state"] == "offered"
    assert job["fetch_count"] == 0


def test_job_get_without_job_not_found(ready_shop: Shop) -> None:
    response = requests.get(ready_shop.job_url(f"type=image/png&mac={MAC}"), timeout=30)

    assert response.status_code == 404
    assert_no_cache(response)


def test_job_get_unknown_token_not_found(ready_shop: Shop) -> None:
    ready_shop.offer()

    response = requests.get(ready_shop.job_url(f"type=image/png&mac={MAC}&token=0123456789abcdef01234567"),
                            timeout=30)

    assert response.status_code == 404


def test_job_get_repeated_serves_same_job_once(ready_shop: Shop) -> None:
    order_id, token = ready_shop.offer()
    url = ready_shop.job_url(f"type=text/plain&mac={MAC}&token={token}")

    first = requests.get(url, timeout=30)
    second = requests.get(url, timeout=30)

    assert first.status_code == 200
    assert second.status_code == 200
    assert second.content == first.content
    order = ready_shop.order(order_id)
    job = only_job(order)
    assert job["state"] == "fetched"
    assert job["fetch_count"] == 2
    assert [event["event"] for event in order["history"]].count("job_fetched") == 1
    assert ready_shop.poll().json() == {"jobReady": False}


# -- confirmation -------------------------------------------------------------------------------------------


def _fetch(shop: Shop, token: str) -> None:
    response = requests.get(shop.job_url(f"type=text/plain&mac={MAC}&token={token}"), timeout=30)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("code", ["200", "200%20OK", "200+OK", "200%2520OK", "2000", "201%20Taken", "OK"],
                         ids=["bare", "encoded", "plus", "double-encoded", "four-digit", "taken", "dev-guide-ok"])
def test_confirmation_success_codes_complete_job(ready_shop: Shop, code: str) -> None:
    order_id, token = ready_shop.offer()
    _fetch(ready_shop, token)

    response = requests.delete(ready_shop.job_url(f"mac={MAC}&code={code}&token={token}"), timeout=10)

    assert response.status_code == 200, response.text
    assert_no_cache(response)
    order = ready_shop.order(order_id)
    job = only_job(order)
    assert job["state"] == "printed"
    assert job["finished_at"] is not None
    assert order["status"] == "printed"


def test_confirmation_by_get_delete_flag(ready_shop: Shop) -> None:
    order_id, token = ready_shop.offer()
    _fetch(ready_shop, token)

    response = requests.get(ready_shop.job_url(f"mac={MAC}&code=200%20OK&token={token}&delete"), timeout=10)

    assert response.status_code == 200, response.text
    assert_no_cache(response)
    assert only_job(ready_shop.order(order_id))["state"] == "printed"
    assert ready_shop.order(order_id)["status"] == "printed"


def test_confirmation_decode_failure_fails_order(ready_shop: Shop) -> None:
    order_id, token = ready_shop.offer()
    _fetch(ready_shop, token)

    response = requests.delete(ready_shop.job_url(f"mac={MAC}&code=511%20Media%20Decode%20Failure&token={token}"),
                               timeout=10)

    assert response.status_code == 200, response.text
    order = ready_shop.order(order_id)
    job = only_job(order)
    assert job["state"] == "failed"
    assert job["result_code"] == "511 Media Decode Failure"
    assert order["status"] == "failed"
    assert ready_shop.poll().json() == {"jobReady": False}


def test_confirmation_download_timeout_requeues_job(ready_shop: Shop) -> None:
    order_id, token = ready_shop.offer()
    _fetch(ready_shop, token)

    response = requests.delete(ready_shop.job_url(f"mac={MAC}&code=520%20Job%20Download%20Failed&token={token}"),
                               timeout=10)
    reply = ready_shop.poll().json()

    assert response.status_code == 200, response.text
    assert reply["jobReady"] is True
    assert reply["jobToken"] == token
    order = ready_shop.order(order_id)
    assert only_job(order)["state"] == "offered"
    assert order["status"] == "printing"
    _fetch(ready_shop, token)


def test_confirmation_repeated_changes_nothing(ready_shop: Shop) -> None:
    order_id, token = ready_shop.offer()
    _fetch(ready_shop, token)
    requests.delete(ready_shop.job_url(f"mac={MAC}&code=200%20OK&token={token}"), timeout=10)
    before = ready_shop.order(order_id)

    again = requests.delete(ready_shop.job_url(f"mac={MAC}&code=200%20OK&token={token}"), timeout=10)
    failure = requests.delete(ready_shop.job_url(f"mac={MAC}&code=511&token={token}"), timeout=10)

    assert again.status_code == 200
    assert failure.status_code == 200
    after = ready_shop.order(order_id)
    assert after["status"] == "printed"
    assert only_job(after) == only_job(before)
    assert after["history"] == before["history"]


def test_confirmation_unknown_token_not_found(ready_shop: Shop) -> None:
    response = requests.delete(ready_shop.job_url(f"mac={MAC}&code=200%20OK&token=0123456789abcdef01234567"),
                               timeout=10)

    assert response.status_code == 404
    assert_no_cache(response)


# -- firmware without job tokens (HI01X before 1.8, mC-Print before 3.2) ----------------------------------------


def test_tokenless_get_serves_announced_job(ready_shop: Shop) -> None:
    first_id, _token = ready_shop.offer()
    first = requests.get(ready_shop.job_url(f"type=text/plain&mac={MAC}"), timeout=30)
    second_id, _token = ready_shop.offer()

    second = requests.get(ready_shop.job_url(f"type=text/plain&mac={MAC}"), timeout=30)

    assert first.status_code == 200
    assert second.status_code == 200
    assert only_job(ready_shop.order(first_id))["fetch_count"] == 1
    assert only_job(ready_shop.order(second_id))["state"] == "fetched"


def test_tokenless_get_repeats_held_job(ready_shop: Shop) -> None:
    order_id, _token = ready_shop.offer()
    url = ready_shop.job_url(f"type=text/plain&mac={MAC}")

    first = requests.get(url, timeout=30)
    again = requests.get(url, timeout=30)

    assert again.status_code == 200
    assert again.content == first.content
    assert only_job(ready_shop.order(order_id))["fetch_count"] == 2


def test_tokenless_confirmation_completes_newest_fetch(ready_shop: Shop) -> None:
    first_id, _token = ready_shop.offer()
    requests.get(ready_shop.job_url(f"type=text/plain&mac={MAC}"), timeout=30)
    second_id, _token = ready_shop.offer()
    requests.get(ready_shop.job_url(f"type=text/plain&mac={MAC}"), timeout=30)

    response = requests.delete(ready_shop.job_url(f"mac={MAC}&code=200%20OK"), timeout=10)

    assert response.status_code == 200
    assert ready_shop.order(second_id)["status"] == "printed"
    assert ready_shop.order(first_id)["status"] == "printing"


# -- other requests ------------------------------------------------------------------------------------------


def test_server_setting_answers_not_found(shop: Shop) -> None:
    response = requests.get(f"{shop.setting_url}?mac={MAC}&replaced_path=poll", timeout=10)

    assert response.status_code == 404
    assert_no_cache(response)


def test_paper_out_printer_not_offered_jobs(ready_shop: Shop) -> None:
    order_id = ready_shop.send_order()

    out = ready_shop.poll(statusCode="410%20Paper%20Out").json()
    view = ready_shop.printer_view()
    back = ready_shop.poll().json()

    assert out == {"jobReady": False}
    assert view["health"]["conditions"] == ["paper_out"]
    assert view["health"]["state"] == "error"
    assert view["health"]["status_code"] == "410 Paper Out"
    assert back["jobReady"] is True
    assert ready_shop.printer_view()["health"]["conditions"] == []
    assert ready_shop.order(order_id)["status"] == "pending"


def test_offline_sweep_marks_silent_printer_offline(database_url: str, instance_factory: Any) -> None:
    running = instance_factory(database_url, default_poll_interval_seconds=1)
    shop = new_shop(running)
    assert shop.poll().status_code == 200

    wait_until(lambda: shop.printer_view()["health"]["online"] is False, timeout=WAIT, interval=0.25)
    back = shop.poll()

    assert back.status_code == 200
    assert shop.printer_view()["health"]["online"] is True
    events = shop.api(f"/printers/{shop.printer['id']}/health/history")["events"]
    kinds = [event["kind"] for event in reversed(events) if event["kind"] in ("went_offline", "came_online")]
    # The first came_online is the first poll ever; the sweep and the next poll add one event each.
    assert kinds == ["came_online", "went_offline", "came_online"]


# -- end to end with the simulator ---------------------------------------------------------------------------


def test_simulator_prints_and_order_accepted(ready_shop: Shop, simulators: list[CloudPrntSimulator]) -> None:
    simulator = CloudPrntSimulator(ready_shop.url, MAC, poll_interval=0.3)
    simulators.append(simulator)
    simulator.start()
    order_id = ready_shop.send_order()

    assert simulator.wait_for(lambda: len(simulator.printed) >= 1, WAIT)
    wait_until(lambda: ready_shop.order(order_id)["status"] == "printed", timeout=WAIT)
    accepted = ready_shop.client.post(f"{ready_shop.base}/api/v1/orders/{order_id}/accept",
                                      json={"eta_minutes": 15}, timeout=10)

    printed = simulator.printed[0]
    assert printed.media_type == "image/png"
    assert printed.details["image_size"][0] == 48 * 8
    assert accepted.status_code == 200, accepted.text
    order = ready_shop.order(order_id)
    assert order["status"] == "accepted"
    assert order["decided_by"] == "api"
    eta = datetime.fromisoformat(order["eta"])
    updated = datetime.fromisoformat(order["updated_at"])
    assert timedelta(minutes=14) <= eta - updated <= timedelta(minutes=16)
    job = only_job(order)
    assert job["state"] == "printed"
    assert job["result_code"] == "200 OK"
    assert printed.job_id is not None


def test_simulator_confirms_with_get(shop: Shop, simulators: list[CloudPrntSimulator]) -> None:
    simulator = CloudPrntSimulator(shop.url, MAC, poll_interval=0.3, delete_method_override="GET")
    simulators.append(simulator)
    simulator.start()
    order_id = shop.send_order()

    assert simulator.wait_for(lambda: simulator.counters.get("confirmations", 0) >= 1, WAIT)
    wait_until(lambda: shop.order(order_id)["status"] == "printed", timeout=WAIT)

    assert len(simulator.printed) == 1
    assert only_job(shop.order(order_id))["state"] == "printed"
    assert shop.printer_view()["client_info"]["ClientType"] == "Star mC-Print3"


def test_simulator_dropped_confirmation_left_unconfirmed(database_url: str, instance_factory: Any,
                                                         simulators: list[CloudPrntSimulator]) -> None:
    running = instance_factory(database_url, confirm_timeout_seconds=5)
    shop = new_shop(running)
    simulator = CloudPrntSimulator(shop.url, MAC, poll_interval=0.3)
    simulator.drop_confirmation = True
    simulators.append(simulator)
    simulator.start()
    order_id = shop.send_order()

    assert simulator.wait_for(lambda: len(simulator.printed) >= 1, WAIT)
    wait_until(lambda: only_job(shop.order(order_id))["state"] == "unconfirmed", timeout=WAIT, interval=0.25)
    polls = simulator.counters["polls"]
    assert simulator.wait_for(lambda: simulator.counters["polls"] >= polls + 3, WAIT)

    assert len(simulator.printed) == 1
    assert simulator.counters["fetches"] == 1
    assert shop.order(order_id)["status"] == "printing"
    tokenless = requests.get(shop.job_url(f"type=image/png&mac={MAC}"), timeout=30)
    assert tokenless.status_code == 404

    token = simulator.printed[0].job_id
    late = requests.delete(shop.job_url(f"mac={MAC}&code=200%20OK&token={token}"), timeout=10)

    assert late.status_code == 200, late.text
    order = shop.order(order_id)
    assert only_job(order)["state"] == "printed"
    assert order["status"] == "printed"
    printed_events = [event for event in order["history"] if event["event"] == "job_printed"]
    assert [event["detail"].get("late") for event in printed_events] == [True]


def test_escpos_emulation_gets_escpos_bytes(ready_shop: Shop) -> None:
    """A printer set to ESC/POS emulation is offered ESC/POS first; accented text arrives in CP858, no control bytes from customers."""
    patched = ready_shop.client.patch(f"{ready_shop.base}/api/v1/printers/{ready_shop.printer['id']}",
                                      json={"settings": {"emulation": "escpos"}}, timeout=10)
    assert patched.status_code == 200, patched.text
    order_id = ready_shop.send_order(notes="Sans gluten \u001b@ merci")

    reply = ready_shop.poll().json()
    assert reply["jobReady"] is True, reply
    assert reply["mediaTypes"][0] == "application/octet-stream"
    response = requests.get(ready_shop.job_url(f"type=application%2Foctet-stream&mac={MAC}&token={reply['jobToken']}"),
                            timeout=30)

    assert response.status_code == 200, response.text
    assert response.content.startswith(b"\x1b@")
    assert "Crème brûlée".encode("cp858") in response.content
    assert "Zoë Müller".encode("cp858") in response.content
    assert b"Sans gluten @ merci" in response.content
    assert response.content.count(b"\x1b@") == 1
    assert only_job(ready_shop.order(order_id))["media_type"] == "application/octet-stream"


def test_server_id_setting_sent_as_set_id(shop: Shop, simulators: list[CloudPrntSimulator]) -> None:
    """A device-side setting applied by a client action reaches the printer on its next poll and is confirmed."""
    simulator = CloudPrntSimulator(shop.url, MAC, poll_interval=0.2)
    simulators.append(simulator)
    simulator.start()
    wait_until(lambda: shop.printer_view()["client_info"].get("ClientType") == "Star mC-Print3", WAIT)

    path = f"{shop.base}/api/v1/printers/{shop.printer['id']}/settings"
    changed = shop.client.patch(path, json={"settings": {"server_id": "kitchen-1"}}, timeout=10)
    assert changed.status_code == 200, changed.text

    assert simulator.wait_for(lambda: simulator.unique_id == "kitchen-1", WAIT)

    def confirmed() -> dict[str, Any] | None:
        view: dict[str, Any] = shop.client.get(path, timeout=10).json()
        return view if view["reported"].get("server_id") == "kitchen-1" else None

    view = wait_until(confirmed, WAIT)
    assert "server_id" not in view["drift"]
    entry = next(item for item in view["settings"] if item["name"] == "server_id")
    assert entry["state"] == "confirmed"
    assert entry["desired"] == "kitchen-1"
