"""Socket.IO live updates with python-socketio clients: who may connect, which rooms, what arrives."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import socketio

from tests.conftest import Running, register_printer, send_order
from tests.dashboards.conftest import Shop, login, new_shop

DEADLINE = 20.0


class Listener:
    """A python-socketio client that records every event it receives."""

    def __init__(self) -> None:
        self.client = socketio.Client(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.changed = threading.Condition()
        for name in ("fleet_event", "printer_event", "order_status"):
            self.client.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Callable[[Any], None]:
        def record(data: Any) -> None:
            with self.changed:
                self.events.append((name, data))
                self.changed.notify_all()
        return record

    def wait_for(self, predicate: Callable[[tuple[str, Any]], bool]) -> tuple[str, Any]:
        with self.changed:
            found = self.changed.wait_for(lambda: next((e for e in self.events if predicate(e)), None), DEADLINE)
        assert found, f"no matching event within {DEADLINE} s; got {self.events}"
        return found  # type: ignore[return-value]


@pytest.fixture(scope="module")
def shops(running: Running) -> tuple[Shop, Shop]:
    return (new_shop(running, "Live A", "live-a@example.com"), new_shop(running, "Live B", "live-b@example.com"))


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    created: list[Listener] = []
    yield created
    # A disconnect waits for the websocket close handshake, so close them side by side.
    closers = [threading.Thread(target=listener.client.disconnect) for listener in created]
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join(DEADLINE)


def _dashboard_listener(running: Running, shop: Shop, listeners: list[Listener]) -> Listener:
    cookie = login(running.url, shop.email).cookies.get("printfleet_session")
    listener = Listener()
    listener.client.connect(running.url, headers={"Cookie": f"printfleet_session={cookie}"}, transports=["websocket"],
                            wait_timeout=10)
    listeners.append(listener)
    return listener


def _refusal(running: Running, auth: dict[str, str] | None) -> Any:
    """Connect without a login; return the server's connect_error data (the reason it refused)."""
    client = socketio.Client(reconnection=False)
    reasons: list[Any] = []
    client.on("connect_error", reasons.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(running.url, auth=auth, transports=["websocket"], wait_timeout=10)
    assert len(reasons) == 1
    return reasons[0]


def test_socket_refuses_anonymous_and_unknown_orders(running: Running) -> None:
    assert _refusal(running, None) == {"message": "log in to the dashboard first"}
    assert _refusal(running, {"order": "not-a-real-order"}) == {"message": "order not found"}


def test_socket_uses_websocket_transport(running: Running, shops: tuple[Shop, Shop], listeners: list[Listener]) -> None:
    listener = _dashboard_listener(running, shops[0], listeners)
    assert listener.client.transport() == "websocket"


def test_socket_events_stay_in_their_account(running: Running, shops: tuple[Shop, Shop], listeners: list[Listener]) -> None:
    shop_a, shop_b = shops
    listener_a = _dashboard_listener(running, shop_a, listeners)
    listener_b = _dashboard_listener(running, shop_b, listeners)

    printer_b = register_printer(shop_b.api, running.url, name="B only", protocol="cloudprnt", mac="00:11:62:10:00:01")
    order_b = send_order(shop_b.api, running.url, printer_b["id"]).json()
    printer_a = register_printer(shop_a.api, running.url, name="A only", protocol="cloudprnt", mac="00:11:62:10:00:02")

    # Events are relayed in order on one thread, so once A's own event arrived, B's would have too.
    listener_a.wait_for(lambda e: e[0] == "fleet_event" and e[1].get("printer_id") == printer_a["id"])
    listener_b.wait_for(lambda e: e[0] == "fleet_event" and e[1].get("order_id") == order_b["id"])
    seen_by_a = {(data.get("printer_id"), data.get("order_id")) for _, data in listener_a.events}
    assert all(printer_id != printer_b["id"] for printer_id, _ in seen_by_a)
    assert all(order_id != order_b["id"] for _, order_id in seen_by_a)


def test_socket_printer_room_needs_own_printer(running: Running, shops: tuple[Shop, Shop], listeners: list[Listener]) -> None:
    shop_a, shop_b = shops
    printer_a = register_printer(shop_a.api, running.url, name="Watched", protocol="cloudprnt", mac="00:11:62:10:00:03")
    printer_b = register_printer(shop_b.api, running.url, name="Not yours", protocol="cloudprnt", mac="00:11:62:10:00:04")
    listener = _dashboard_listener(running, shop_a, listeners)

    refused = listener.client.call("watch_printer", {"printer_id": printer_b["id"]}, timeout=10)
    assert refused == {"ok": False, "error": f"printer {printer_b['id']} does not exist in this account"}
    assert listener.client.call("watch_printer", {"printer_id": printer_a["id"]}, timeout=10) == {"ok": True}

    shop_a.api.patch(f"{running.url}/api/v1/printers/{printer_a['id']}", json={"name": "Watched 2"}, timeout=10)
    shop_b.api.patch(f"{running.url}/api/v1/printers/{printer_b['id']}", json={"name": "Not yours 2"}, timeout=10)
    listener.wait_for(lambda e: e[0] == "printer_event" and e[1]["printer_id"] == printer_a["id"])
    assert all(data.get("printer_id") != printer_b["id"] for _, data in listener.events)


def test_socket_customer_gets_only_own_order(running: Running, shops: tuple[Shop, Shop], listeners: list[Listener]) -> None:
    shop = shops[0]
    printer = register_printer(shop.api, running.url, name="Customer live", protocol="cloudprnt", mac="00:11:62:10:00:05")
    mine = send_order(shop.api, running.url, printer["id"]).json()
    other = send_order(shop.api, running.url, printer["id"]).json()
    public_id = mine["status_url"].rsplit("/", 1)[1]
    listener = Listener()
    listener.client.connect(running.url, auth={"order": public_id}, transports=["websocket"], wait_timeout=10)
    listeners.append(listener)

    shop.api.post(f"{running.url}/api/v1/orders/{other['id']}/reject", json={"reason": "other"}, timeout=10)
    shop.api.post(f"{running.url}/api/v1/orders/{mine['id']}/accept", json={"eta_minutes": 15}, timeout=10)

    _, status = listener.wait_for(lambda e: e[0] == "order_status" and e[1]["status"] == "accepted")
    assert status["eta"] is not None
    assert status["status_text"] == "Accepted"
    # A busy relay may still deliver this order's earlier "pending" event after the connect, but the
    # other order's rejection must never arrive.
    assert {name for name, _ in listener.events} == {"order_status"}
    assert all(data["status"] in ("pending", "accepted") for _, data in listener.events)
    assert all(data["reject_reason"] is None for _, data in listener.events)
    assert requests.get(mine["status_url"] + "/status.json", timeout=10).json()["status"] == "accepted"
