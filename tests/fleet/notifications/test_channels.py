"""Customer channels against real peers: SMS through a Twilio-style stand-in, email over SMTP
(aiosmtpd) and signed webhooks. Also the delivery log and the masking of recipients and secrets."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import Running, register_printer, send_order
from tests.fleet.notifications.conftest import running_instance, unique
from tests.fleet.notifications.standins import TWILIO_SID, TWILIO_TOKEN, StandIn
from tests.support.servers import HttpReceiver, SmtpServer, wait_until

SMTP_PASSWORD = "smtp-password-never-shown-7731"
MACS = iter(f"00:11:62:00:10:{n:02x}" for n in range(1, 200))


@pytest.fixture(scope="module")
def running(module_database_url: str, module_smtp: SmtpServer, sms_stand_in: StandIn) -> Iterator[Running]:
    yield from running_instance(
        module_database_url, smtp_host="127.0.0.1", smtp_port=module_smtp.port, smtp_from="orders@shop.example",
        smtp_user=None, smtp_password=SMTP_PASSWORD, sms_provider="twilio", sms_base_url=sms_stand_in.url,
        sms_account_sid=TWILIO_SID, sms_auth_token=TWILIO_TOKEN, sms_from="+15005550006",
    )


def _shop(running: Running, channels: list[str], name: str = "Bistro Zoë") -> tuple[requests.Session, int]:
    _, client = running.new_account(name)
    response = client.put(f"{running.url}/api/v1/notification-settings", json={"channels": channels}, timeout=10)
    assert response.status_code == 200, response.text
    printer = register_printer(client, running.url, name="Kitchen", protocol="cloudprnt", mac=next(MACS))
    return client, printer["id"]


def _log(running: Running, client: requests.Session, order_id: int) -> list[dict[str, Any]]:
    response = client.get(f"{running.url}/api/v1/orders/{order_id}/notifications", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _settled(running: Running, client: requests.Session, order_id: int, channel: str, state: str = "sent") -> Any:
    def check() -> dict[str, Any] | None:
        rows = [row for row in _log(running, client, order_id) if row["channel"] == channel]
        return rows[-1] if rows and rows[-1]["state"] == state else None
    return wait_until(check, timeout=30)


def _accept(running: Running, client: requests.Session, order_id: int, minutes: int = 20) -> None:
    response = client.post(f"{running.url}/api/v1/orders/{order_id}/accept", json={"eta_minutes": minutes}, timeout=10)
    assert response.status_code == 200, response.text


def test_sms_sent_through_gateway(running: Running, sms_stand_in: StandIn) -> None:
    client, printer_id = _shop(running, ["sms"])
    order = send_order(client, running.url, printer_id, external_id="SMS-1").json()
    _accept(running, client, order["id"])

    row = _settled(running, client, order["id"], "sms")
    request = next(r for r in sms_stand_in.succeeded() if "SMS-1" in r.form()["Body"])
    form = request.form()
    assert request.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert request.basic_auth() == (TWILIO_SID, TWILIO_TOKEN)
    assert form["To"] == "+49301234567"
    assert form["From"] == "+15005550006"
    assert form["Body"].startswith("Bistro Zoë accepted your order SMS-1. Estimated time:")
    assert row["recipient"] == "+49******67"
    assert row["attempts"] == 1
    assert row["event"] == "order.accepted"


def test_sms_retried_while_gateway_down_and_sent_once(running: Running, sms_stand_in: StandIn) -> None:
    client, printer_id = _shop(running, ["sms"])
    order = send_order(client, running.url, printer_id, external_id="SMS-2").json()
    start = len(sms_stand_in.seen)
    sms_stand_in.failures = 3
    _accept(running, client, order["id"])

    row = _settled(running, client, order["id"], "sms")
    assert row["attempts"] == 4
    assert row["last_error"] is None
    assert [r.status for r in sms_stand_in.seen[start:]] == [503, 503, 503, 201]
    # Nothing is left to send, so another delivery round attempts nothing and the gateway gets no request.
    assert running.services.outbox.deliver_due() == 0
    assert len(sms_stand_in.seen) == start + 4


def test_sms_rejected_number_dead_at_once(running: Running, sms_stand_in: StandIn) -> None:
    client, printer_id = _shop(running, ["sms"])
    order = send_order(client, running.url, printer_id, external_id="SMS-3",
                       customer={"name": "Test", "phone": "+1 555 0100 999"}).json()
    _accept(running, client, order["id"])

    row = _settled(running, client, order["id"], "sms", state="dead")
    assert row["attempts"] == 1
    assert "returned 400 (error code 21211)" in row["last_error"]
    assert "5550100" not in row["last_error"]
    assert row["recipient"] == "+15******99"


def test_sms_skipped_for_number_without_country_code(running: Running, sms_stand_in: StandIn) -> None:
    client, printer_id = _shop(running, ["sms", "onpage"])
    order = send_order(client, running.url, printer_id, customer={"name": "Test", "phone": "030 1234567"}).json()
    _accept(running, client, order["id"])

    _settled(running, client, order["id"], "onpage")
    assert [row["channel"] for row in _log(running, client, order["id"])] == ["onpage"]


def test_email_has_text_and_html_parts(running: Running, module_smtp: SmtpServer) -> None:
    client, printer_id = _shop(running, ["email"], name="Café <Zoë>")
    reference = unique("MAIL")
    order = send_order(client, running.url, printer_id, external_id=reference).json()
    client.post(f"{running.url}/api/v1/orders/{order['id']}/reject", json={"reason": "Out of dough"}, timeout=10)

    row = _settled(running, client, order["id"], "email")
    message = next(m for m in module_smtp.messages if reference in m["Subject"])
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[attr-defined]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[attr-defined]
    assert message["Subject"] == f"Your order {reference} at Café <Zoë> could not be accepted"
    assert f"Café <Zoë> could not accept your order {reference}." in text
    assert "Reason: Out of dough" in text
    assert f"Café &lt;Zoë&gt; could not accept your order {reference}." in html
    assert row["recipient"] == "z***@example.org"


def test_delivery_log_lists_every_channel_masked(running: Running, receiver: HttpReceiver) -> None:
    client, printer_id = _shop(running, ["email", "sms", "webhook", "onpage"])
    order = send_order(client, running.url, printer_id, notify_url=f"{receiver.url}/hooks/secret-path").json()
    client.post(f"{running.url}/api/v1/orders/{order['id']}/cancel", timeout=10)

    wait_until(lambda: all(row["state"] == "sent" for row in _log(running, client, order["id"])), timeout=30)
    rows = _log(running, client, order["id"])
    seen = {(row["channel"], row["event"]): row["recipient"] for row in rows}
    assert seen == {
        ("webhook", "order.pending"): f"{receiver.url}/***",
        ("webhook", "order.cancelled"): f"{receiver.url}/***",
        ("email", "order.cancelled"): "z***@example.org",
        ("sms", "order.cancelled"): "+49******67",
        ("onpage", "order.cancelled"): order["status_url"].rsplit("/", 1)[1][:4] + "***",
    }
    assert "zoe@example.org" not in str(rows)


def test_delivery_log_scoped_to_account(running: Running) -> None:
    client, printer_id = _shop(running, ["email"])
    order = send_order(client, running.url, printer_id).json()
    _, other = running.new_account("Other shop")

    response = other.get(f"{running.url}/api/v1/orders/{order['id']}/notifications", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_settings_show_secrets_masked(running: Running, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client, printer_id = _shop(running, ["email", "sms"])
    response = client.get(f"{running.url}/api/v1/notification-settings", timeout=10)
    body = response.json()

    assert response.status_code == 200
    assert body["email"]["password"] == "****7731"
    assert body["sms"]["auth_token"] == "****6789"
    assert body["sms"]["account_sid"] == TWILIO_SID
    assert body["webhook_secret"].startswith("****")
    assert len(body["webhook_secret"]) == 8
    assert SMTP_PASSWORD not in response.text
    assert TWILIO_TOKEN not in response.text

    order = send_order(client, running.url, printer_id, external_id="LOG-1").json()
    _accept(running, client, order["id"])
    _settled(running, client, order["id"], "sms")
    assert SMTP_PASSWORD not in caplog.text
    assert TWILIO_TOKEN not in caplog.text
    assert "+49301234567" not in caplog.text


def test_settings_reject_unknown_channel(running: Running) -> None:
    _, client = running.new_account()
    response = client.put(f"{running.url}/api/v1/notification-settings", json={"channels": ["pigeon"]}, timeout=10)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "channels.0"

