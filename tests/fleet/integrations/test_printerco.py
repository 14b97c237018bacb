"""PrinterCo-compatible intake (submitorderext): form parsing, XML responses, the order it creates, and
the notify_url callback with PrinterCo's fields when staff decide."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from fleet.integrations.printerco import line_breaks, parse_nested_form
from tests.conftest import Running, register_printer
from tests.fleet.notifications.conftest import running_instance
from tests.fleet.notifications.standins import StandIn, notify_receiver
from tests.support.servers import wait_until

ORDER_IDS = (f"PC-{n}" for n in count(1000))
MACS = (f"00:11:62:00:40:{n:02x}" for n in count(1))


def http_build_query(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested dicts and lists into bracket keys, as PHP's http_build_query does."""
    pairs: list[tuple[str, str]] = []
    entries = enumerate(data) if isinstance(data, list) else data.items()
    for key, value in entries:
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, (dict, list)):
            pairs.extend(http_build_query(value, name))  # type: ignore[arg-type]
        else:
            pairs.append((name, str(value)))
    return pairs


@pytest.fixture(scope="module")
def receiver() -> Iterator[StandIn]:
    server = notify_receiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def running(module_database_url: str) -> Iterator[Running]:
    yield from running_instance(module_database_url)


@pytest.fixture
def account(running: Running) -> dict[str, Any]:
    _, client = running.new_account("Pizzeria Zoë")
    client.patch(f"{running.url}/api/v1/account", json={"timezone": "Europe/London"}, timeout=10)
    printer = register_printer(client, running.url, name="Kitchen", protocol="goodcom")
    response = client.post(f"{running.url}/api/v1/integrations/printerco/credentials", timeout=10)
    assert response.status_code == 201, response.text
    return {"client": client, "printer": printer, **response.json()}


def form(account: dict[str, Any], receiver: StandIn, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "api_key": account["api_key"], "api_password": account["api_password"],
        "printer_id": account["printer"]["id"], "order_id": next(ORDER_IDS), "currency": "GBP",
        "order_type": "1", "payment_status": "6", "payment_method": "Card", "order_time": "19:02 04-12-26",
        "delivery_time": "20:15 04-12-26", "deliverycost": "2.50", "card_fee": "0.50", "total_discount": "1.00",
        "total_amount": "27.00", "cust_name": "Zoë Brontë", "cust_address": "12 Rue Émile%%Flat 3@@London",
        "cust_phone": "+44 20 7946 0000", "cust_instruction": "Ring twice%%No coriander", "isVarified": "4",
        "num_prev_order": "3", "receipt_header": "Pizzeria Zoë%%Thanks!", "notify_url": f"{receiver.url}/notify.php",
        "line_items": [
            {"category": "Pizza", "item": "Margherita", "item_description": "Thin crust", "item_qty": "2",
             "item_price": "9.00", "item_addon": [{"title": "Extra", "name": "Buffalo mozzarella", "price": "1.50"},
                                                  {"title": "Dip", "name": "Garlic", "price": "0"}]},
            {"item": "Tiramisù", "item_qty": "1", "item_price": "5.00"},
        ],
    }
    base.update(changes)
    return base


def submit(running: Running, data: dict[str, Any], path: str = "/api/submitorderext") -> requests.Response:
    return requests.post(f"{running.url}{path}", data=urlencode(http_build_query(data)), timeout=10,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})


def parse(response: requests.Response) -> dict[str, Any]:
    root = ElementTree.fromstring(response.content)
    return {"status": root.findtext("status"), **{child.tag: child.text for child in root.find("details") or []}}


def test_printerco_submit_creates_order(running: Running, account: dict[str, Any], receiver: StandIn) -> None:
    data = form(account, receiver)
    response = submit(running, data)
    answer = parse(response)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    assert answer["status"] == "OK"
    assert answer["msg"] == "Order received"
    assert answer["order_id"] == data["order_id"]
    order = account["client"].get(f"{running.url}/api/v1/orders/{answer['printfleet_order_id']}", timeout=10).json()
    assert order["external_id"] == f"pc-{data['order_id']}"
    assert order["order_type"] == "delivery"
    assert order["currency"] == "GBP"
    assert order["total"] == "27.00"
    assert order["requested_time"] == "2026-12-04T20:15:00+00:00"
    assert order["items"] == [
        {"name": "Margherita (Pizza)", "quantity": 2, "unit_price": "9.00",
         "notes": "Thin crust; Extra: Buffalo mozzarella (+1.50); Dip: Garlic"},
        {"name": "Tiramisù", "quantity": 1, "unit_price": "5.00", "notes": None},
        {"name": "Delivery", "quantity": 1, "unit_price": "2.50", "notes": None},
        {"name": "Card fee", "quantity": 1, "unit_price": "0.50", "notes": None},
    ]
    assert order["customer"] == {"name": "Zoë Brontë", "address": "12 Rue Émile\nFlat 3\nLondon",
                                 "phone": "+44 20 7946 0000", "verified": True, "previous_orders": 3}
    assert order["notes"] == "Ring twice\nNo coriander\nPayment: Card, paid\nDiscount: 1.00"


def test_printerco_php_path_and_replay(running: Running, account: dict[str, Any], receiver: StandIn) -> None:
    data = form(account, receiver)
    first = parse(submit(running, data, "/submitorderext.php"))
    again = parse(submit(running, data, "/api/submitorderext"))

    assert first["status"] == "OK"
    assert again["status"] == "OK"
    assert again["msg"] == "Order already received"
    assert again["printfleet_order_id"] == first["printfleet_order_id"]
    assert len(account["client"].get(f"{running.url}/api/v1/orders", timeout=10).json()) == 1


@pytest.mark.parametrize(("changes", "status", "error"), [
    ({"api_password": "wrong"}, 401, "api_key or api_password is invalid"),
    ({"printer_id": "999999"}, 404, "printer 999999"),
    ({"line_items": []}, 422, "line_items is missing or empty"),
    ({"delivery_time": "tomorrow"}, 422, "delivery_time='tomorrow' is invalid; use HH:MM DD-MM-YY"),
    ({"total_amount": "twelve"}, 422, "total_amount='twelve' is not a decimal amount"),
    ({"currency": "pounds"}, 422, "currency='pounds' is invalid"),
    ({"order_id": ""}, 422, "order_id is missing"),
    ({"notify_url": "ftp://x"}, 422, "notify_url must be an absolute http"),
], ids=["password", "printer", "items", "delivery-time", "total", "currency", "order-id", "notify-url"])
def test_printerco_invalid_form_failed(running: Running, account: dict[str, Any], receiver: StandIn,
                                       changes: dict[str, Any], status: int, error: str) -> None:
    response = submit(running, form(account, receiver, **changes))
    answer = parse(response)

    assert response.status_code == status
    assert answer["status"] == "FAILED"
    assert error in (answer["error"] or "")
    assert account["client"].get(f"{running.url}/api/v1/orders", timeout=10).json() == []


def test_printerco_accept_calls_notify_url(running: Running, account: dict[str, Any], receiver: StandIn) -> None:
    data = form(account, receiver, order_type="2")
    order_id = parse(submit(running, data))["printfleet_order_id"]
    start = len(receiver.seen)
    receiver.failures = 1
    account["client"].post(f"{running.url}/api/v1/orders/{order_id}/accept",
                           json={"eta_time": "2026-12-04T20:40:00+00:00"}, timeout=10)

    callback = wait_until(lambda: [r for r in receiver.seen[start:] if r.status == 200])[0]
    fields = callback.form()
    assert callback.path == "/notify.php"
    assert fields["printer_id"] == str(account["printer"]["id"])
    assert fields["order_id"] == data["order_id"]
    assert fields["status"] == "1"
    assert fields["msg"] == "Accepted"
    assert fields["delivery_time"] == "20:40 04-12-26"
    assert fields["order_type"] == "2"
    assert [r.status for r in receiver.seen[start:]] == [503, 200]


def test_printerco_reject_calls_notify_url(running: Running, account: dict[str, Any], receiver: StandIn) -> None:
    data = form(account, receiver)
    order_id = parse(submit(running, data))["printfleet_order_id"]
    start = len(receiver.seen)
    account["client"].post(f"{running.url}/api/v1/orders/{order_id}/reject", json={"reason": "Too busy"}, timeout=10)

    callback = wait_until(lambda: [r for r in receiver.seen[start:] if r.status == 200])[0]
    fields = callback.form()
    assert fields["status"] == "2"
    assert fields["msg"] == "Too busy"
    assert fields["order_id"] == data["order_id"]
    assert fields["delivery_time"] == ""
    assert fields["order_type"] == "1"


def test_printerco_credential_password_shown_once(running: Running, account: dict[str, Any]) -> None:
    assert account["api_key"].startswith("pc_")
    assert len(account["api_password"]) >= 24


@given(st.dictionaries(
    st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
    st.one_of(st.text(max_size=10), st.lists(st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True),
                                                             st.text(max_size=8), max_size=3), max_size=3)),
    max_size=5))
def test_parse_nested_form_inverts_http_build_query(data: dict[str, Any]) -> None:
    parsed = parse_nested_form(dict(http_build_query(data)))
    expected = {key: ({str(i): entry for i, entry in enumerate(value) if entry} if isinstance(value, list) else value)
                for key, value in data.items()}
    expected = {key: value for key, value in expected.items() if value != {}}
    assert parsed == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("a%%b", "a\nb"), ("a@@b%%c", "a\nb\nc"), ("plain", "plain"), (None, ""),
], ids=["percent", "mixed", "plain", "none"])
def test_line_breaks_cases(text: str | None, expected: str) -> None:
    assert line_breaks(text) == expected
