"""Message templates in every shipped language, the catalogs behind them, and the preview endpoint."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from fleet.notifications.render import (
    CUSTOMER_EVENTS,
    LOCALES,
    SUPPORTED_LOCALES,
    TEMPLATES,
    known_templates,
    pick_locale,
    render_email,
    render_part,
)
from tests.conftest import Running, register_printer, send_order
from tests.fleet.notifications.conftest import running_instance, unique
from tests.support.servers import SmtpServer, wait_until

PAYLOAD: dict[str, Any] = {
    "status": "accepted", "order_reference": "A-77", "customer_name": "Zoë <Müller>", "shop_name": "Bistro Zoë",
    "eta": "2026-12-05T19:15:00+00:00", "reject_reason": "Keine Pilze mehr", "timezone": "Europe/Berlin",
    "public_id": "pub", "status_url": "https://print.example.com/o/pub", "printer_name": "Küche", "order_count": 2,
    "waiting_minutes": 7,
}

#: A phrase each language must show per event (the estimated time is 20:15 in Europe/Berlin).
EXPECTED = {
    ("accepted", "en"): ("Your order A-77 at Bistro Zoë is confirmed", "Estimated time: 8:15"),
    ("accepted", "de"): ("Ihre Bestellung A-77 bei Bistro Zoë ist bestätigt", "Voraussichtlich fertig um 20:15"),
    ("accepted", "fr"): ("Votre commande A-77 chez Bistro Zoë est confirmée", "Heure estimée : 20:15"),
    ("rejected", "en"): ("Your order A-77 at Bistro Zoë could not be accepted", "Reason: Keine Pilze mehr"),
    ("rejected", "de"): ("Ihre Bestellung A-77 bei Bistro Zoë konnte nicht angenommen werden",
                         "Grund: Keine Pilze mehr"),
    ("rejected", "fr"): ("Votre commande A-77 chez Bistro Zoë n’a pas pu être acceptée", "Motif : Keine Pilze mehr"),
    ("cancelled", "en"): ("Your order A-77 at Bistro Zoë was cancelled", "Your order A-77 at Bistro Zoë was cancelled."),
    ("cancelled", "de"): ("Ihre Bestellung A-77 bei Bistro Zoë wurde storniert",
                          "Ihre Bestellung A-77 bei Bistro Zoë wurde storniert."),
    ("cancelled", "fr"): ("Votre commande A-77 chez Bistro Zoë a été annulée",
                          "Votre commande A-77 chez Bistro Zoë a été annulée."),
    ("delayed", "en"): ("Your order A-77 at Bistro Zoë is delayed", "New estimated time: 8:15"),
    ("delayed", "de"): ("Ihre Bestellung A-77 bei Bistro Zoë verzögert sich", "Neue voraussichtliche Zeit: 20:15"),
    ("delayed", "fr"): ("Votre commande A-77 chez Bistro Zoë est retardée", "Nouvelle heure estimée : 20:15"),
}


def _template_messages() -> list[Any]:
    options = {"**.jinja": {"extensions": "jinja2.ext.i18n", "trim_blocks": "True", "lstrip_blocks": "True"}}
    found = extract_from_dir(str(TEMPLATES / "messages"), method_map=[("**.jinja", "jinja2")], options_map=options)
    return [message for _, _, message, _, _ in found]


@pytest.mark.parametrize("locale", [locale for locale in SUPPORTED_LOCALES if locale != "en"])
def test_catalog_translates_every_template_message(locale: str) -> None:
    with (LOCALES / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=locale)

    for message in _template_messages():
        msgid = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(msgid)
        assert entry is not None, f"{locale}: {msgid!r} is missing"
        translations = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for translation in translations:
            assert translation, f"{locale}: {msgid!r} is untranslated"
            assert sorted(re.findall(r"%\(\w+\)[sd]", translation)) == sorted(set(re.findall(r"%\(\w+\)[sd]", msgid))) \
                or "%(num)d" in translation, f"{locale}: placeholders differ in {msgid!r}"


@pytest.mark.parametrize(("event", "locale"), sorted(EXPECTED), ids=[f"{e}-{l}" for e, l in sorted(EXPECTED)])
def test_render_email_in_each_language(event: str, locale: str) -> None:
    subject, text, html = render_email(event, {**PAYLOAD, "status": event, "eta": PAYLOAD["eta"]}, locale)
    expected_subject, expected_line = EXPECTED[(event, locale)]

    assert subject == expected_subject
    assert expected_line in text
    assert "Zoë <Müller>" in text
    assert "Zoë &lt;Müller&gt;" in html
    assert f'<html lang="{locale}">' in html


@pytest.mark.parametrize("event", CUSTOMER_EVENTS)
@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_render_short_parts_single_line(event: str, locale: str) -> None:
    for part in ("sms", "onpage", "note"):
        rendered = render_part(event, part, {**PAYLOAD, "status": event}, locale)
        assert rendered
        assert "\n" not in rendered
        assert "A-77" in rendered


def test_render_operator_alert_plural_forms() -> None:
    one = render_part("operator_orders_waiting", "subject", {**PAYLOAD, "order_count": 1}, "de")
    many = render_part("operator_orders_waiting", "subject", {**PAYLOAD, "order_count": 3}, "fr")
    assert one == "1 Bestellung wartet auf den Drucker Küche, der offline ist."
    assert many == "3 commandes attendent l’imprimante hors ligne Küche."


@pytest.mark.parametrize(("candidates", "chosen"), [
    (("de-AT",), "de"), (("fr_CA",), "fr"), (("es", "fr"), "fr"), ((None, ""), "en"), (("pt",), "en"),
], ids=["region-dash", "region-underscore", "second-choice", "none", "unsupported"])
def test_pick_locale_cases(candidates: tuple[str | None, ...], chosen: str) -> None:
    assert pick_locale(*candidates) == chosen


def test_known_templates_lists_events() -> None:
    assert known_templates() == sorted([*CUSTOMER_EVENTS, "operator_orders_waiting"])


@pytest.fixture(scope="module")
def running(module_database_url: str, module_smtp: SmtpServer) -> Iterator[Running]:
    yield from running_instance(module_database_url, smtp_host="127.0.0.1", smtp_port=module_smtp.port,
                                base_url="https://print.example.com")


def test_email_uses_order_locale(running: Running, module_smtp: SmtpServer) -> None:
    _, client = running.new_account("Boulangerie Zoë")
    response = client.patch(f"{running.url}/api/v1/account", json={"timezone": "Europe/Paris"}, timeout=10)
    assert response.status_code == 200, response.text
    printer = register_printer(client, running.url, name="Four", protocol="cloudprnt", mac="00:11:62:00:20:01")
    reference = unique("FR")
    order = send_order(client, running.url, printer["id"], external_id=reference, locale="fr-FR").json()
    client.post(f"{running.url}/api/v1/orders/{order['id']}/accept", json={"eta_minutes": 30}, timeout=10)

    message = wait_until(lambda: [m for m in module_smtp.messages if reference in m["Subject"]])[0]
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[attr-defined]
    assert message["Subject"] == f"Votre commande {reference} chez Boulangerie Zoë est confirmée"
    assert "Bonjour Zoë Müller," in text
    assert "Heure estimée :" in text
    assert f"Suivre votre commande : {order['status_url'].replace(running.url, 'https://print.example.com')}" in text


def test_preview_renders_sample_in_german(running: Running) -> None:
    _, client = running.new_account("Imbiss Zoë")
    response = client.get(f"{running.url}/api/v1/notification-templates/rejected/preview",
                          params={"locale": "de", "channel": "email"}, timeout=10)
    body = response.json()

    assert response.status_code == 200
    assert body["locale"] == "de"
    assert body["subject"] == "Ihre Bestellung A-1042 bei Imbiss Zoë konnte nicht angenommen werden"
    assert "Grund: Out of fresh basil" in body["text"]
    assert "<p>Hallo Zoë Müller,</p>" in body["html"]


def test_preview_sms_in_french(running: Running) -> None:
    _, client = running.new_account("Chez Zoë")
    response = client.get(f"{running.url}/api/v1/notification-templates/delayed/preview",
                          params={"locale": "fr", "channel": "sms"}, timeout=10)
    body = response.json()

    assert response.status_code == 200
    assert body["text"].startswith("Votre commande A-1042 chez Chez Zoë est retardée. Nouvelle heure estimée :")
    assert body["subject"] is None
    assert body["html"] is None


def test_preview_unknown_event_rejected(running: Running) -> None:
    _, client = running.new_account()
    response = client.get(f"{running.url}/api/v1/notification-templates/exploded/preview", timeout=10)
    assert response.status_code == 422
    assert "unknown event 'exploded'" in response.json()["error"]["message"]


def test_preview_unsupported_locale_falls_back_to_english(running: Running) -> None:
    _, client = running.new_account("Bistro")
    response = client.get(f"{running.url}/api/v1/notification-templates/cancelled/preview",
                          params={"locale": "ja"}, timeout=10)
    assert response.status_code == 200
    assert response.json()["locale"] == "en"
    assert response.json()["subject"] == "Your order A-1042 at Bistro was cancelled"
