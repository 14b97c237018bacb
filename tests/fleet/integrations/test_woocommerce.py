"""WooCommerce intake and write-back against a running server and a WooCommerce REST stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import requests

from fleet.integrations.woocommerce import signature
from tests.conftest import Running, register_printer
from tests.fleet.notifications.conftest import running_instance
from tests.fleet.notifications.standins import StandIn, woocommerce_api
from tests.support.servers import wait_until

DATA = Path(__file__).resolve().parent / "data"
SAMPLE = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "woocommerce" / "sample_order.json"
CONSUMER_KEY = "ck_" + "a1" * 20
CONSUMER_SECRET = "cs_" + "b2" * 20
WEBHOOK_SECRET = "w&h-s3cret/with*special;chars=0123456789abcdefghijklmnop"
DELIVERY_IDS = (f"{n:032x}" for n in count(1))
MACS = (f"00:11:62:00:30:{n:02x}" for n in count(1))


def php_json(document: dict[str, Any]) -> bytes:
    """Encode like PHP's json_encode: slashes escaped and non-ASCII as \\u escapes, minified."""
    return json.dumps(document, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()


@pytest.fixture(scope="module")
def wc_api() -> Iterator[StandIn]:
    server = woocommerce_api(CONSUMER_KEY, CONSUMER_SECRET, known_orders={5123, 7301, 7302, 7303, 7304, 7305}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def running(module_database_url: str) -> Iterator[Running]:
    yield from running_instance(module_database_url)


@pytest.fixture
def shop(running: Running, wc_api: StandIn) -> dict[str, Any]:
    """A fresh account with a printer and a connected store pointing at the stand-in."""
    _, client = running.new_account("Bäckerei Zoë")
    client.patch(f"{running.url}/api/v1/account", json={"timezone": "Europe/Berlin", "locale": "de"}, timeout=10)
    printer = register_printer(client, running.url, name="Theke", protocol="cloudprnt", mac=next(MACS))
    response = client.post(f"{running.url}/api/v1/integrations/woocommerce/shops", timeout=10, json={
        "name": "Bäckerei Zoë online", "base_url": wc_api.url, "consumer_key": CONSUMER_KEY,
        "consumer_secret": CONSUMER_SECRET, "webhook_secret": WEBHOOK_SECRET, "printer_id": printer["id"],
    })
    assert response.status_code == 201, response.text
    return {"client": client, "printer": printer, **response.json()}


def synthetic(**changes: Any) -> dict[str, Any]:
    document = json.loads((DATA / "woocommerce_order.json").read_text(encoding="utf-8"))
    document.update(changes)
    return document


def deliver(shop: dict[str, Any], body: bytes, secret: str = WEBHOOK_SECRET, topic: str = "order.created",
            delivery_id: str | None = None) -> requests.Response:
    headers = {
        "Content-Type": "application/json", "User-Agent": "WooCommerce/9.8.5 Hookshot (WordPress/6.8.1)",
        "X-WC-Webhook-Source": "https://shop.example.com/", "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-Signature": signature(body, secret), "X-WC-Webhook-ID": "42",
        "X-WC-Webhook-Delivery-ID": delivery_id or next(DELIVERY_IDS),
    }
    return requests.post(shop["delivery_url"], data=body, headers=headers, timeout=10)


def orders_of(shop: dict[str, Any]) -> list[dict[str, Any]]:
    base = shop["delivery_url"].split("/integrations/")[0]
    return shop["client"].get(f"{base}/api/v1/orders", timeout=10).json()  # type: ignore[no-any-return]


def test_woocommerce_ping_answered_200(shop: dict[str, Any]) -> None:
    response = requests.post(shop["delivery_url"], data=b"webhook_id=42", timeout=10,
                             headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"})
    assert response.status_code == 200
    assert response.json()["status"] == "ping"
    assert orders_of(shop) == []


def test_woocommerce_order_mapped_with_addons(shop: dict[str, Any]) -> None:
    response = deliver(shop, php_json(synthetic()))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "created"

    [order] = orders_of(shop)
    assert order["id"] == response.json()["order_id"]
    assert order["external_id"] == f"wc-{shop['id']}-7301"
    assert order["printer_id"] == shop["printer"]["id"]
    assert order["currency"] == "EUR"
    assert order["total"] == "41.40"
    assert order["order_type"] == "delivery"
    assert order["items"] == [
        {"name": "Flammkuchen Élsass", "quantity": 2, "unit_price": "12.90",
         "notes": "Teig: Dinkel; Extras (+€1,50): Ziegenkäse, Walnüsse"},
        {"name": "Crêpe Suzette", "quantity": 1, "unit_price": "8.60", "notes": "Sauce: Grand Marnier"},
        {"name": "Pfand", "quantity": 1, "unit_price": "3.50", "notes": None},
        {"name": "Lieferung", "quantity": 1, "unit_price": "3.50", "notes": None},
    ]
    assert order["customer"] == {
        "name": "Zoë Łukasiewicz-Müller", "email": "zoe.l@example.org", "phone": "0221 555 0199",
        "company": "Café Ünter den Linden", "address": "Rue de l'Église 4, 50668 Köln, DE", "country": "DE",
    }
    assert order["notes"] == "Bitte klingeln – zweimal! Crème fraîche extra.\nPayment: Kreditkarte (paid)"


def test_woocommerce_sample_order_mapped(shop: dict[str, Any]) -> None:
    if not SAMPLE.exists():
        pytest.skip(f"the shared WooCommerce sample order is not present at {SAMPLE} (the shared reference data folder next to the checkout, which CI provides)")
    document = json.loads(SAMPLE.read_text(encoding="utf-8"))
    response = deliver(shop, php_json(document), topic="order.updated")
    assert response.status_code == 200, response.text

    [order] = orders_of(shop)
    assert order["external_id"] == f"wc-{shop['id']}-5123"
    assert order["total"] == "30.75"
    assert order["order_type"] == "collection"
    assert [(item["name"], item["quantity"], item["unit_price"]) for item in order["items"]] == [
        ("Margherita Pizza - Large", 2, "13.00"), ("Tiramisu", 1, "6.50"), ("Packaging fee", 1, "1.50")]
    assert order["items"][0]["notes"] == "Size: Large; Extra toppings: Olives (+€1.00)"
    assert order["customer"]["name"] == "Alex Example"
    assert order["customer"]["email"] == "alex@example.com"
    assert order["notes"].startswith("No onions please. Ring the bell twice.\nPayment: Cash on pickup (not paid)")
    assert "Coupon welcome10: -3.25" in order["notes"]
    assert sum(Decimal(i["unit_price"]) * i["quantity"] for i in order["items"]) - Decimal("3.25") == Decimal("30.75")


def test_woocommerce_replayed_delivery_ignored(shop: dict[str, Any]) -> None:
    body = php_json(synthetic(id=7302))
    first = deliver(shop, body, delivery_id="5f0c2a9e4b7d1c3e8a6f2b9d0e4c7a1b")
    replay = deliver(shop, body, delivery_id="5f0c2a9e4b7d1c3e8a6f2b9d0e4c7a1b")
    update = deliver(shop, body, topic="order.updated")

    assert first.json()["status"] == "created"
    assert replay.status_code == 200
    assert replay.json() == {"status": "duplicate", "order_id": None}
    assert update.json() == {"status": "existing", "order_id": first.json()["order_id"]}
    assert len(orders_of(shop)) == 1


def test_woocommerce_bad_signature_rejected(shop: dict[str, Any]) -> None:
    body = php_json(synthetic(id=7303))
    wrong = deliver(shop, body, secret="another-secret")
    reserialised = requests.post(shop["delivery_url"], json=json.loads(body), timeout=10, headers={
        "X-WC-Webhook-Signature": signature(body, WEBHOOK_SECRET), "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Delivery-ID": next(DELIVERY_IDS)})
    unsigned = requests.post(shop["delivery_url"], data=body, timeout=10,
                             headers={"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Delivery-ID": "x"})

    for response in (wrong, reserialised, unsigned):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_signature"
    assert orders_of(shop) == []


def test_woocommerce_unknown_shop_not_found(shop: dict[str, Any]) -> None:
    url = shop["delivery_url"].rsplit("/", 1)[0] + "/no-such-shop"
    body = php_json(synthetic())
    response = requests.post(url, data=body, timeout=10, headers={"X-WC-Webhook-Signature": signature(body, "x")})
    assert response.status_code == 404
    assert "unknown shop" in response.json()["error"]["message"]


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "body is not JSON"),
    (php_json(synthetic(line_items=[])), "line_items is missing or empty"),
    (php_json(synthetic(currency="EURO")), "currency='EURO' is not an ISO 4217 code"),
    (php_json(synthetic(total="lots")), "total='lots' is not a decimal amount"),
    (php_json(synthetic(line_items=[{"name": "Brot", "quantity": 0, "subtotal": "1.00"}])), "quantity=0"),
], ids=["not-json", "no-items", "bad-currency", "bad-total", "zero-quantity"])
def test_woocommerce_malformed_payload_creates_nothing(shop: dict[str, Any], body: bytes, message: str) -> None:
    delivery_id = next(DELIVERY_IDS)
    response = deliver(shop, body, delivery_id=delivery_id)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"
    assert message in response.json()["error"]["message"]
    assert orders_of(shop) == []
    # The failed delivery was not recorded, so WooCommerce may send a corrected body with the same id.
    assert deliver(shop, php_json(synthetic(id=7304)), delivery_id=delivery_id).json()["status"] == "created"


def test_woocommerce_unready_status_waits(shop: dict[str, Any]) -> None:
    pending = deliver(shop, php_json(synthetic(id=7305, status="pending")))
    processing = deliver(shop, php_json(synthetic(id=7305, status="processing")), topic="order.updated")

    assert pending.json() == {"status": "ignored_status", "order_id": None}
    assert processing.json()["status"] == "created"
    assert len(orders_of(shop)) == 1


def _writebacks(wc_api: StandIn, order_number: int, start: int) -> list[Any]:
    return [r for r in wc_api.seen[start:] if r.path.startswith(f"/wp-json/wc/v3/orders/{order_number}")]


def test_woocommerce_accept_written_back(shop: dict[str, Any], wc_api: StandIn, running: Running) -> None:
    start = len(wc_api.seen)
    order_id = deliver(shop, php_json(synthetic())).json()["order_id"]
    client = shop["client"]
    client.post(f"{running.url}/api/v1/orders/{order_id}/accept", json={"eta_minutes": 30}, timeout=10)

    seen = wait_until(lambda: (found := _writebacks(wc_api, 7301, start)) and len(found) >= 2 and found)
    put, note = seen
    assert (put.method, put.path, put.json()) == ("PUT", "/wp-json/wc/v3/orders/7301", {"status": "processing"})
    assert put.basic_auth() == (CONSUMER_KEY, CONSUMER_SECRET)
    assert (note.method, note.path) == ("POST", "/wp-json/wc/v3/orders/7301/notes")
    assert note.json()["customer_note"] is True
    assert note.json()["note"].startswith("Bäckerei Zoë hat Ihre Bestellung wc-")
    assert "Voraussichtlich fertig um" in note.json()["note"]
    rows = client.get(f"{running.url}/api/v1/orders/{order_id}/notifications", timeout=10).json()
    woo = [row for row in rows if row["channel"] == "woocommerce"]
    assert woo[0]["state"] == "sent"
    assert woo[0]["recipient"] == f"{wc_api.url}/***"


def test_woocommerce_reject_retried_until_shop_answers(shop: dict[str, Any], wc_api: StandIn, running: Running) -> None:
    start = len(wc_api.seen)
    order_id = deliver(shop, php_json(synthetic())).json()["order_id"]
    wc_api.failures = 3
    shop["client"].post(f"{running.url}/api/v1/orders/{order_id}/reject", json={"reason": "Ofen defekt"}, timeout=10)

    def sent() -> dict[str, Any] | None:
        rows = shop["client"].get(f"{running.url}/api/v1/orders/{order_id}/notifications", timeout=10).json()
        woo = [row for row in rows if row["channel"] == "woocommerce"]
        return woo[0] if woo and woo[0]["state"] == "sent" else None

    row = wait_until(sent, timeout=30)
    done = [r for r in _writebacks(wc_api, 7301, start) if r.status < 300]
    assert row["attempts"] == 4
    assert [(r.method, r.path) for r in done] == [("PUT", "/wp-json/wc/v3/orders/7301"),
                                                  ("POST", "/wp-json/wc/v3/orders/7301/notes")]
    assert done[0].json() == {"status": "cancelled"}
    assert "Grund: Ofen defekt" in done[1].json()["note"]
    assert running.services.outbox.deliver_due() == 0
    assert len([r for r in _writebacks(wc_api, 7301, start) if r.status < 300]) == 2


def test_woocommerce_cancel_in_shop_cancels_order(shop: dict[str, Any], wc_api: StandIn, running: Running) -> None:
    start = len(wc_api.seen)
    order_id = deliver(shop, php_json(synthetic())).json()["order_id"]
    response = deliver(shop, php_json(synthetic(status="cancelled")), topic="order.updated")

    assert response.json() == {"status": "cancelled", "order_id": order_id}
    order = shop["client"].get(f"{running.url}/api/v1/orders/{order_id}", timeout=10).json()
    assert order["status"] == "cancelled"
    assert order["history"][-1]["source"] == "woocommerce"
    rows = shop["client"].get(f"{running.url}/api/v1/orders/{order_id}/notifications", timeout=10).json()
    assert "woocommerce" not in [row["channel"] for row in rows]
    assert _writebacks(wc_api, 7301, start) == []


def test_woocommerce_shop_secrets_masked(shop: dict[str, Any], running: Running) -> None:
    response = shop["client"].get(f"{running.url}/api/v1/integrations/woocommerce/shops", timeout=10)
    [listed] = response.json()

    assert listed["consumer_secret"] == "****" + CONSUMER_SECRET[-4:]
    assert listed["webhook_secret"] == "****" + WEBHOOK_SECRET[-4:]
    assert listed["consumer_key"] == "****" + CONSUMER_KEY[-4:]
    assert CONSUMER_SECRET not in response.text
    assert WEBHOOK_SECRET not in response.text
    assert shop["consumer_secret"] == listed["consumer_secret"]


def test_woocommerce_shop_needs_own_printer(shop: dict[str, Any], running: Running) -> None:
    _, other = running.new_account("Other")
    response = other.post(f"{running.url}/api/v1/integrations/woocommerce/shops", timeout=10, json={
        "name": "x", "base_url": "https://shop.example.com", "consumer_key": "ck", "consumer_secret": "cs",
        "webhook_secret": "s", "printer_id": shop["printer"]["id"]})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
