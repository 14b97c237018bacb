"""Operator alerts: one outbox message per health transition and channel, for any protocol."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from fleet import operator_alerts
from fleet.accounts import create_account
from fleet.db import Database, upgrade
from fleet.health import HealthReading, HealthRows, PrinterHealth, apply_reading
from fleet.models import HealthEvent, HealthSnapshot, OutboxMessage, Printer
from fleet.printers import register_printer
from tests.conftest import Running
from tests.support.servers import SmtpServer, wait_until

WEBHOOK_URL = "https://hooks.example.org/printfleet"
EMAIL = "ops@example.org"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    upgrade(database.engine)
    operator_alerts.attach(database.sessions)
    yield database
    database.dispose()


def _setup(db: Database, email: str | None = EMAIL, webhook: str | None = WEBHOOK_URL) -> int:
    """Create an account with alert settings and a CloudPRNT printer; return the printer id."""
    with db.session() as session:
        account = create_account(session, "Alert shop").account
        if email or webhook:
            operator_alerts.put_settings(session, account.id, email, webhook)
        printer = register_printer(session, account, "Kitchen", "cloudprnt", mac="00:11:62:aa:bb:99").printer
        return printer.id


def _read(db: Database, printer_id: int, online: bool, *conditions: str) -> None:
    with db.session() as session:
        printer = session.get(Printer, printer_id)
        assert printer is not None
        apply_reading(session, printer, HealthReading(online=online, conditions=frozenset(conditions)))


def _messages(db: Database) -> list[tuple[str, str, str | None]]:
    with db.session() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.event.like("printer.%"))
                               .order_by(OutboxMessage.id))
        return [(row.channel, row.event, row.payload["transition"]["condition"]) for row in rows]


def test_alerts_queued_once_per_transition(db: Database) -> None:
    printer_id = _setup(db)

    _read(db, printer_id, True, "paper_out")
    for _ in range(3):
        _read(db, printer_id, True, "paper_out")
    after_repeats = _messages(db)
    _read(db, printer_id, True)
    _read(db, printer_id, False, "unreachable")

    assert after_repeats == [
        ("webhook", "printer.came_online", None), ("email", "printer.came_online", None),
        ("webhook", "printer.condition_raised", "paper_out"), ("email", "printer.condition_raised", "paper_out"),
    ]
    assert _messages(db)[4:] == [
        ("webhook", "printer.condition_cleared", "paper_out"), ("email", "printer.condition_cleared", "paper_out"),
        ("webhook", "printer.went_offline", None), ("email", "printer.went_offline", None),
    ]


def test_alerts_skip_conditions_outside_list(db: Database) -> None:
    printer_id = _setup(db, email=None)

    _read(db, printer_id, True, "paper_low", "offline_bit")

    assert _messages(db) == [("webhook", "printer.came_online", None)]


def test_alerts_need_account_settings(db: Database) -> None:
    printer_id = _setup(db, email=None, webhook=None)

    _read(db, printer_id, True, "jam")

    assert _messages(db) == []


def test_alerts_rolled_back_with_transition(db: Database) -> None:
    printer_id = _setup(db)

    with pytest.raises(RuntimeError, match="abort"), db.session() as session:
        printer = session.get(Printer, printer_id)
        assert printer is not None
        apply_reading(session, printer, HealthReading(online=True, conditions=frozenset({"jam"})))
        session.flush()
        raise RuntimeError("abort")

    assert _messages(db) == []


def test_alert_payload_names_printer(db: Database) -> None:
    printer_id = _setup(db, email=None)

    _read(db, printer_id, True, "cover_open")

    with db.session() as session:
        payload = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.event == "printer.condition_raised")).one()
    assert payload["printer"] == {"id": printer_id, "name": "Kitchen", "protocol": "cloudprnt"}
    assert payload["summary"] == "Printer 'Kitchen': cover_open raised."
    assert payload["online"] is True
    assert payload["state"] == "error"
    assert payload["conditions"] == ["cover_open"]


def test_render_alert_email_uses_printer_template() -> None:
    payload: dict[str, Any] = {
        "event": "printer.went_offline", "at": "2026-12-05T10:00:00+00:00", "account_id": 1,
        "printer": {"id": 7, "name": "Bar <b>", "protocol": "snmp"},
        "transition": {"kind": "went_offline", "condition": None}, "online": False, "state": "offline",
        "conditions": ["unreachable"], "summary": "Printer 'Bar <b>' went offline.",
    }

    subject, text, html = operator_alerts.render_alert_email(payload)

    assert subject == "[printfleet] Printer 'Bar <b>' went offline."
    assert "Printer:    Bar <b> (id 7, snmp)" in text
    assert "Bar &lt;b&gt;" in html
    assert "Bar <b>" not in html


def test_alert_email_delivered_over_smtp(database_url: str, instance_factory: Any, smtp_server: SmtpServer) -> None:
    instance: Running = instance_factory(database_url, smtp_host="127.0.0.1", smtp_port=smtp_server.port)
    printer_id = _setup(instance.services.db, webhook=None)

    _read(instance.services.db, printer_id, True)

    message = wait_until(lambda: smtp_server.messages, timeout=60)[0]
    assert message["Subject"] == "[printfleet] Printer 'Kitchen' is back online."
    assert message["To"] == EMAIL
    assert "printer.came_online" in message.get_body(("plain",)).get_content()


def test_readings_collected_in_health_rows(db: Database) -> None:
    """Readings stored in bulk through HealthRows keep their events, snapshots, printer columns and alerts."""
    printer_id = _setup(db, webhook=None)
    with db.session() as session:
        printer = session.get(Printer, printer_id)
        assert printer is not None
        state = PrinterHealth(printer.id, printer.account_id, printer.online, list(printer.conditions),
                              printer.status_code)
        rows = HealthRows()
        apply_reading(session, state, HealthReading(online=True, conditions=frozenset({"paper_out"})), rows=rows)
        apply_reading(session, state, HealthReading(online=True, status_code="200 OK", detail={"asb": 1}),
                      rows=rows)
        assert session.scalars(select(HealthEvent)).all() == []
        rows.write(session, [state])

    with db.session() as session:
        events = session.execute(select(HealthEvent.kind, HealthEvent.condition, HealthEvent.detail)
                                 .where(HealthEvent.printer_id == printer_id).order_by(HealthEvent.id)).all()
        snapshots = session.scalars(select(HealthSnapshot.conditions)
                                    .where(HealthSnapshot.printer_id == printer_id).order_by(HealthSnapshot.id)).all()
        printer = session.get(Printer, printer_id)
        assert printer is not None
    assert [tuple(event) for event in events] == [
        ("came_online", None, {"status_code": None}), ("raised", "paper_out", {}), ("cleared", "paper_out", {}),
    ]
    assert snapshots == [["paper_out"], []]
    assert printer.online is True
    assert printer.conditions == []
    assert printer.status_code == "200 OK"
    assert printer.health_detail == {"asb": 1}
    assert printer.last_seen_at is not None
    assert _messages(db) == [
        ("email", "printer.came_online", None), ("email", "printer.condition_raised", "paper_out"),
        ("email", "printer.condition_cleared", "paper_out"),
    ]
