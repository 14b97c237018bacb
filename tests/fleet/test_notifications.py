"""Outbox delivery to real peers: a webhook receiver over HTTP and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from fleet.models import Account, OutboxMessage
from fleet.notifications.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, verify
from tests.conftest import register_printer, send_order
from tests.support.servers import HttpReceiver, SmtpServer, wait_until


def _fast(database_url: str, smtp: SmtpServer | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"outbox_base_backoff_seconds": 0.2, "outbox_max_backoff_seconds": 0.5}
    if smtp is not None:
        config.update(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_from="orders@shop.example")
    return config


def test_webhook_signed_with_account_secret(database_url: str, instance_factory: Any, receiver: HttpReceiver) -> None:
    instance = instance_factory(database_url, **_fast(database_url))
    account_id, client = instance.new_account()
    printer = register_printer(client, instance.url, name="K", protocol="cloudprnt", mac="00:11:62:00:00:10")
    order = send_order(client, instance.url, printer["id"], notify_url=f"{receiver.url}/hook").json()

    wait_until(lambda: receiver.requests)
    request = receiver.requests[0]
    with instance.services.db.session() as session:
        secret = session.get(Account, account_id).webhook_secret  # type: ignore[union-attr]
    assert request.path == "/hook"
    assert verify(secret, request.body, request.headers[SIGNATURE_HEADER])
    assert not verify("other-secret", request.body, request.headers[SIGNATURE_HEADER])
    payload = json.loads(request.body)
    assert payload["event"] == "order.pending"
    assert payload["order"]["id"] == order["id"]
    assert payload["order"]["status"] == "pending"


def test_webhook_retried_until_receiver_recovers(database_url: str, instance_factory: Any, receiver: HttpReceiver) -> None:
    instance = instance_factory(database_url, **_fast(database_url))
    _, client = instance.new_account()
    printer = register_printer(client, instance.url, name="K", protocol="cloudprnt", mac="00:11:62:00:00:11")
    receiver.status = 503
    order = send_order(client, instance.url, printer["id"], notify_url=f"{receiver.url}/hook").json()
    client.post(f"{instance.url}/api/v1/orders/{order['id']}/reject", json={"reason": "Closed early"})

    wait_until(lambda: len(receiver.requests) >= 4)
    receiver.status = 200

    def delivered() -> list[OutboxMessage]:
        with instance.services.db.session() as session:
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "webhook")).all()
            return list(rows) if rows and all(row.state == "sent" for row in rows) else []

    rows = wait_until(delivered, timeout=30)
    assert sorted(row.event for row in rows) == ["order.pending", "order.rejected"]
    assert max(row.attempts for row in rows) >= 2
    # Retries reuse the delivery id, so the receiver can drop duplicates: two messages, two ids.
    assert len({r.headers[DELIVERY_HEADER] for r in receiver.requests}) == 2
    accepted = [r for r in receiver.requests if r.headers[DELIVERY_HEADER]]
    assert json.loads(accepted[-1].body)["event"] in ("order.pending", "order.rejected")


def test_email_sent_to_customer_on_accept(database_url: str, instance_factory: Any, smtp_server: SmtpServer) -> None:
    instance = instance_factory(database_url, **_fast(database_url, smtp_server))
    _, client = instance.new_account("Bistro Zoë")
    printer = register_printer(client, instance.url, name="K", protocol="cloudprnt", mac="00:11:62:00:00:12")
    order = send_order(client, instance.url, printer["id"], external_id="A-77").json()
    client.post(f"{instance.url}/api/v1/orders/{order['id']}/accept", json={"eta_minutes": 25})

    message = wait_until(lambda: smtp_server.messages)[0]
    assert message["To"] == "zoe@example.org"
    assert message["From"] == "orders@shop.example"
    assert message["Subject"] == "Your order A-77 at Bistro Zoë is confirmed"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[attr-defined]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[attr-defined]
    assert "Hello Zoë Müller," in text
    assert "Bistro Zoë accepted your order A-77." in text
    assert "Estimated time:" in text
    assert "Bistro Zoë accepted your order A-77." in html


def test_email_kept_while_smtp_down(database_url: str, instance_factory: Any) -> None:
    """With the SMTP server unreachable the message stays pending with its error, nothing is lost."""
    instance = instance_factory(database_url, smtp_host="127.0.0.1", smtp_port=9, outbox_base_backoff_seconds=0.2)
    _, client = instance.new_account()
    printer = register_printer(client, instance.url, name="K", protocol="cloudprnt", mac="00:11:62:00:00:13")
    order = send_order(client, instance.url, printer["id"]).json()
    client.post(f"{instance.url}/api/v1/orders/{order['id']}/cancel")

    def failed_once() -> OutboxMessage | None:
        with instance.services.db.session() as session:
            row = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email")).first()
            return row if row is not None and row.attempts >= 1 else None

    row = wait_until(failed_once)
    assert row.state in ("pending", "sending")
    assert "SMTP 127.0.0.1:9 failed" in (row.last_error or "")
    assert row.recipient == "zoe@example.org"


def test_webhook_error_hides_url_token(database_url: str, instance_factory: Any, caplog: Any) -> None:
    """A token in the notify_url path or query appears neither in the delivery log nor in log lines."""
    instance = instance_factory(database_url, **_fast(database_url))
    _, client = instance.new_account()
    printer = register_printer(client, instance.url, name="K", protocol="cloudprnt", mac="00:11:62:00:00:14")
    hook = "http://127.0.0.1:9/hooks/orders?token=SECRET-TOKEN-123"
    order = send_order(client, instance.url, printer["id"], notify_url=hook).json()

    def failed_once() -> OutboxMessage | None:
        with instance.services.db.session() as session:
            row = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "webhook")).first()
            return row if row is not None and row.attempts >= 1 else None

    row = wait_until(failed_once)
    assert "SECRET-TOKEN-123" not in (row.last_error or "")
    assert row.last_error and "failed" in row.last_error
    delivery_log = client.get(f"{instance.url}/api/v1/orders/{order['id']}/notifications").text
    assert "SECRET-TOKEN-123" not in delivery_log
    assert "SECRET-TOKEN-123" not in caplog.text
