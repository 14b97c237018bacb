"""On-page messages, per-order channel choices, delay notices and the alerts about orders that wait
on an offline printer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from itertools import count
from typing import Any

import pytest
import requests
from sqlalchemy import select, update

from fleet.events import Event
from fleet.models import OutboxMessage, Printer, utcnow
from fleet.notifications.base import OutboundMessage
from fleet.notifications.channels import OnPageChannel
from fleet.notifications.waiting import check_waiting_orders
from tests.conftest import Running, register_printer, send_order
from tests.fleet.notifications.conftest import running_instance, unique
from tests.fleet.notifications.standins import TWILIO_SID, TWILIO_TOKEN, StandIn
from tests.support.servers import SmtpServer, wait_until

MACS = (f"00:11:62:00:50:{n:02x}" for n in count(1))


class Collector:
    """Collects the bus events an instance publishes."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def matching(self, **data: Any) -> list[Event]:
        with self._lock:
            return [e for e in self.events if all(e.data.get(key) == value for key, value in data.items())]


@pytest.fixture(scope="module")
def running(module_database_url: str, module_smtp: SmtpServer, sms_stand_in: StandIn) -> Iterator[Running]:
    yield from running_instance(
        module_database_url, smtp_host="127.0.0.1", smtp_port=module_smtp.port, sms_provider="twilio",
        sms_base_url=sms_stand_in.url, sms_account_sid=TWILIO_SID, sms_auth_token=TWILIO_TOKEN, sms_from="+15005550006",
    )


@pytest.fixture(scope="module")
def onpage_events(running: Running) -> Collector:
    collector = Collector()
    running.services.bus.subscribe("notification.onpage", collector)
    return collector


def _account(running: Running, name: str = "Trattoria Zoë", channels: list[str] | None = None) -> dict[str, Any]:
    _, client = running.new_account(name)
    if channels is not None:
        client.put(f"{running.url}/api/v1/notification-settings", json={"channels": channels}, timeout=10)
    printer = register_printer(client, running.url, name="Pass", protocol="cloudprnt", mac=next(MACS))
    return {"client": client, "printer": printer}


def _log(running: Running, client: requests.Session, order_id: int) -> list[dict[str, Any]]:
    return client.get(f"{running.url}/api/v1/orders/{order_id}/notifications", timeout=10).json()  # type: ignore[no-any-return]


def test_onpage_pushed_and_stored(running: Running, onpage_events: Collector) -> None:
    shop = _account(running, channels=["onpage"])
    order = send_order(shop["client"], running.url, shop["printer"]["id"], external_id="PAGE-1", locale="de").json()
    public_id = order["status_url"].rsplit("/", 1)[1]
    shop["client"].post(f"{running.url}/api/v1/orders/{order['id']}/accept", json={"eta_minutes": 15}, timeout=10)

    [event] = wait_until(lambda: onpage_events.matching(public_id=public_id))
    assert event.name == "notification.onpage"
    assert event.data["order_id"] == order["id"]
    assert event.data["event"] == "order.accepted"
    assert event.data["text"].startswith("Trattoria Zoë hat Ihre Bestellung PAGE-1 angenommen.")
    stored = requests.get(f"{running.url}/api/v1/status/{public_id}/notifications", timeout=10).json()
    assert [(row["event"], row["text"]) for row in stored] == [("order.accepted", event.data["text"])]


def test_onpage_retry_stores_once(running: Running, onpage_events: Collector) -> None:
    shop = _account(running, channels=["onpage"])
    order = send_order(shop["client"], running.url, shop["printer"]["id"]).json()
    public_id = order["status_url"].rsplit("/", 1)[1]
    channel = OnPageChannel(running.services.db, running.services.settings)
    message = OutboundMessage(id=10_000_000 + order["id"], account_id=None, order_id=order["id"], channel="onpage",
                              event="order.cancelled", recipient=public_id,
                              payload={"order_reference": "X-1", "shop_name": "Trattoria Zoë"})
    channel.send(message)
    channel.send(message)

    stored = requests.get(f"{running.url}/api/v1/status/{public_id}/notifications", timeout=10).json()
    assert [row["text"] for row in stored] == ["Your order X-1 at Trattoria Zoë was cancelled."]
    assert len(onpage_events.matching(public_id=public_id)) == 1


def test_onpage_unknown_public_id_not_found(running: Running) -> None:
    response = requests.get(f"{running.url}/api/v1/status/does-not-exist/notifications", timeout=10)
    assert response.status_code == 404


def test_order_channels_override_account(running: Running, sms_stand_in: StandIn, module_smtp: SmtpServer) -> None:
    shop = _account(running, channels=["email"])
    client = shop["client"]
    reference = unique("CHOICE")
    order = send_order(client, running.url, shop["printer"]["id"], external_id=reference).json()
    response = client.put(f"{running.url}/api/v1/orders/{order['id']}/notification-channels",
                          json={"channels": ["sms", "onpage"]}, timeout=10)
    assert response.json() == {"order_id": order["id"], "channels": ["sms", "onpage"]}
    client.post(f"{running.url}/api/v1/orders/{order['id']}/accept", json={"eta_minutes": 10}, timeout=10)

    wait_until(lambda: (rows := _log(running, client, order["id"])) and all(r["state"] == "sent" for r in rows))
    assert sorted(row["channel"] for row in _log(running, client, order["id"])) == ["onpage", "sms"]
    assert not [m for m in module_smtp.messages if reference in m["Subject"]]


def test_order_channels_validated(running: Running) -> None:
    shop = _account(running)
    order = send_order(shop["client"], running.url, shop["printer"]["id"]).json()
    bad = shop["client"].put(f"{running.url}/api/v1/orders/{order['id']}/notification-channels",
                             json={"channels": ["fax"]}, timeout=10)
    _, other = running.new_account()
    foreign = other.put(f"{running.url}/api/v1/orders/{order['id']}/notification-channels",
                        json={"channels": ["sms"]}, timeout=10)
    assert bad.status_code == 422
    assert foreign.status_code == 404


def test_delay_notice_sent(running: Running, module_smtp: SmtpServer) -> None:
    shop = _account(running, channels=["email"])
    reference = unique("LATE")
    order = send_order(shop["client"], running.url, shop["printer"]["id"], external_id=reference, locale="fr").json()
    response = shop["client"].post(f"{running.url}/api/v1/orders/{order['id']}/delay", json={"eta_minutes": 40},
                                   timeout=10)
    assert response.status_code == 202
    assert response.json() == {"order_id": order["id"], "messages": 1}

    message = wait_until(lambda: [m for m in module_smtp.messages if reference in m["Subject"]])[0]
    assert message["Subject"] == f"Votre commande {reference} chez Trattoria Zoë est retardée"
    assert "Nouvelle heure estimée" in message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[attr-defined]


def _check(running: Running, minutes_later: int = 10) -> int:
    with running.services.db.session() as session:
        return check_waiting_orders(session, 5, now=utcnow() + timedelta(minutes=minutes_later))


def test_waiting_orders_alert_once_per_offline_spell(running: Running, module_smtp: SmtpServer,
                                                     sms_stand_in: StandIn) -> None:
    shop = _account(running, name="Osteria Zoë", channels=["email"])
    client = shop["client"]
    client.put(f"{running.url}/api/v1/alert-settings", json={"operator_email": "ops@example.org",
                                                             "operator_webhook_url": None}, timeout=10)
    client.put(f"{running.url}/api/v1/notification-settings", json={"operator_phone": "+49 151 1234 5678"}, timeout=10)
    orders = [send_order(client, running.url, shop["printer"]["id"], external_id=f"WAIT-{n}").json() for n in (1, 2)]
    printer_id = shop["printer"]["id"]
    sms_start = len(sms_stand_in.seen)

    _check(running)
    _check(running)

    alerts = wait_until(lambda: [m for m in module_smtp.messages if m["To"] == "ops@example.org"
                                 and "Pass" in m["Subject"]])
    assert alerts[0]["Subject"] == "2 orders are waiting on the offline printer Pass."
    sms = wait_until(lambda: [r for r in sms_stand_in.seen[sms_start:] if r.form()["To"] == "+4915112345678"])
    assert sms[0].form()["Body"].startswith("2 orders are waiting on the offline printer Pass.")
    for order in orders:
        delays = [row for row in _log(running, client, order["id"]) if row["event"] == "order.delayed"]
        assert [row["channel"] for row in delays] == ["email"]
    assert _operator_messages(running, printer_id) == 2

    with running.services.db.session() as session:
        session.execute(update(Printer).where(Printer.id == printer_id).values(online=True))
    _check(running)
    with running.services.db.session() as session:
        session.execute(update(Printer).where(Printer.id == printer_id).values(online=False))
    _check(running)
    # Back online and offline again is a new spell, so operators hear about it again (email and SMS).
    assert _operator_messages(running, printer_id) == 4


def _operator_messages(running: Running, printer_id: int) -> int:
    with running.services.db.session() as session:
        printer = session.get(Printer, printer_id)
        assert printer is not None
        rows = session.scalars(select(OutboxMessage.id).where(OutboxMessage.event == "operator.orders_waiting",
                                                              OutboxMessage.account_id == printer.account_id))
        return len(list(rows))


def test_waiting_orders_not_before_threshold(running: Running) -> None:
    shop = _account(running, channels=["email"])
    order = send_order(shop["client"], running.url, shop["printer"]["id"]).json()
    _check(running, minutes_later=0)
    assert [row["event"] for row in _log(running, shop["client"], order["id"])] == []
