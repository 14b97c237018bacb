"""Dashboard pages over real HTTP: login, CSRF, roles, account scoping, fleet filters, order actions,
receipt preview, quarantine and settings edits."""

from __future__ import annotations

import re

import pytest
import requests

from fleet import health
from fleet.models import Order, Printer
from fleet.printers import quarantine
from tests.conftest import Running, register_printer, send_order
from tests.dashboards.conftest import Shop, login, new_shop, page_token


@pytest.fixture(scope="module")
def shops(running: Running) -> tuple[Shop, Shop]:
    return (new_shop(running, "Shop A", "a@example.com"), new_shop(running, "Shop B", "b@example.com"))


def _set_health(running: Running, printer_id: int, online: bool, conditions: set[str]) -> None:
    with running.services.db.session() as session:
        printer = session.get(Printer, printer_id)
        assert printer is not None
        health.apply_reading(session, printer, health.HealthReading(online=online, conditions=frozenset(conditions)))


def _order_status(running: Running, order_id: int) -> str:
    with running.services.db.session() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return order.status


def test_login_wrong_password_is_rejected(running: Running, shops: tuple[Shop, Shop]) -> None:
    client = requests.Session()
    page = client.get(f"{running.url}/dashboard/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = client.post(f"{running.url}/dashboard/login", timeout=10, allow_redirects=False,
                           data={"email": shops[0].email, "password": "wrong password!!", "csrf_token": token})
    assert response.status_code == 401
    assert "Email or password is wrong" in response.text
    assert client.get(f"{running.url}/dashboard/", timeout=10, allow_redirects=False).status_code == 302


def test_login_session_cookie_expires_and_is_httponly(running: Running, shops: tuple[Shop, Shop]) -> None:
    client = login(running.url, shops[0].email)
    cookie = next(cookie for cookie in client.cookies if cookie.name == "printfleet_session")
    assert cookie.expires is not None
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert running.app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 480 * 60


def test_fleet_page_requires_login(running: Running) -> None:
    response = requests.get(f"{running.url}/dashboard/", timeout=10, allow_redirects=False)
    assert response.status_code == 302
    assert "/dashboard/login" in response.headers["Location"]


def test_csrf_post_without_token_is_rejected(running: Running, shops: tuple[Shop, Shop]) -> None:
    shop = shops[0]
    printer = register_printer(shop.api, running.url, name="CSRF printer", protocol="cloudprnt", mac="00:11:62:aa:00:01")
    order = send_order(shop.api, running.url, printer["id"]).json()
    client = login(running.url, shop.email)

    response = client.post(f"{running.url}/dashboard/orders/{order['id']}/accept", data={"eta_minutes": "10"},
                           timeout=10, allow_redirects=False)
    assert response.status_code == 400
    assert "did not come from this site" in response.text
    assert _order_status(running, order["id"]) == "pending"

    wrong = client.post(f"{running.url}/dashboard/orders/{order['id']}/accept", timeout=10, allow_redirects=False,
                        data={"eta_minutes": "10", "csrf_token": "forged"})
    assert wrong.status_code == 400
    assert _order_status(running, order["id"]) == "pending"


def test_order_accept_with_token_sets_eta(running: Running, shops: tuple[Shop, Shop]) -> None:
    shop = shops[0]
    printer = register_printer(shop.api, running.url, name="Accept printer", protocol="cloudprnt", mac="00:11:62:aa:00:02")
    order = send_order(shop.api, running.url, printer["id"]).json()
    client = login(running.url, shop.email)

    response = client.post(f"{running.url}/dashboard/orders/{order['id']}/accept", timeout=10,
                           data={"eta_minutes": "25", "csrf_token": page_token(client, running.url)})
    assert response.status_code == 200
    assert "accept done" in response.text
    detail = shop.api.get(f"{running.url}/api/v1/orders/{order['id']}", timeout=10).json()
    assert detail["status"] == "accepted"
    assert detail["eta"] is not None
    assert detail["decided_by"] == "dashboard"


def test_order_reject_requires_reason(running: Running, shops: tuple[Shop, Shop]) -> None:
    shop = shops[0]
    printer = register_printer(shop.api, running.url, name="Reject printer", protocol="cloudprnt", mac="00:11:62:aa:00:03")
    order = send_order(shop.api, running.url, printer["id"]).json()
    client = login(running.url, shop.email)
    token = page_token(client, running.url)

    empty = client.post(f"{running.url}/dashboard/orders/{order['id']}/reject", data={"reason": " ", "csrf_token": token},
                        timeout=10)
    assert "reject reason of 1 to 500 characters is required" in empty.text
    assert _order_status(running, order["id"]) == "pending"

    client.post(f"{running.url}/dashboard/orders/{order['id']}/reject", data={"reason": "Kitchen closed", "csrf_token": token},
                timeout=10)
    detail = shop.api.get(f"{running.url}/api/v1/orders/{order['id']}", timeout=10).json()
    assert detail["status"] == "rejected"
    assert detail["reject_reason"] == "Kitchen closed"


def test_order_cancel_and_reprint(running: Running, shops: tuple[Shop, Shop]) -> None:
    shop = shops[0]
    printer = register_printer(shop.api, running.url, name="Reprint printer", protocol="cloudprnt", mac="00:11:62:aa:00:04")
    order = send_order(shop.api, running.url, printer["id"]).json()
    client = login(running.url, shop.email)
    token = page_token(client, running.url)

    client.post(f"{running.url}/dashboard/orders/{order['id']}/reject", data={"reason": "No", "csrf_token": token}, timeout=10)
    client.post(f"{running.url}/dashboard/orders/{order['id']}/reprint", data={"csrf_token": token}, timeout=10)
    jobs = shop.api.get(f"{running.url}/api/v1/orders/{order['id']}", timeout=10).json()["jobs"]
    assert [job["kind"] for job in jobs] == ["order", "reprint"]

    other = send_order(shop.api, running.url, printer["id"]).json()
    client.post(f"{running.url}/dashboard/orders/{other['id']}/cancel", data={"csrf_token": token}, timeout=10)
    assert _order_status(running, other["id"]) == "cancelled"


def test_order_action_in_wrong_state_shows_conflict(running: Running, shops: tuple[Shop, Shop]) -> None:
    shop = shops[0]
    printer = register_printer(shop.api, running.url, name="Conflict printer", protocol="cloudprnt", mac="00:11:62:aa:00:05")
    order = send_order(shop.api, running.url, printer["id"]).json()
    client = login(running.url, shop.email)
    token = page_token(client, running.url)
    client.post(f"{running.url}/dashboard/orders/{order['id']}/cancel", data={"csrf_token": token}, timeout=10)

    response = client.post(f"{running.url}/dashboard/orders/{order['id']}/accept",
                           data={"eta_minutes": "5", "csrf_token": token}, timeout=10)
    assert "is cancelled; accept is not possible" in response.text
    assert _order_status(running, order["id"]) == "cancelled"


def test_support_role_cannot_accept_orders(running: Running, shops: tuple[Shop, Shop]) -> None:
    shop = shops[0]
    support = new_shop(running, "Support shop", "support@example.com", role="support")
    printer = register_printer(support.api, running.url, name="Support printer", protocol="cloudprnt", mac="00:11:62:aa:00:06")
    order = send_order(support.api, running.url, printer["id"]).json()
    client = login(running.url, support.email)

    response = client.post(f"{running.url}/dashboard/orders/{order['id']}/accept", timeout=10,
                           data={"eta_minutes": "5", "csrf_token": page_token(client, running.url)})
    assert response.status_code == 403
    assert "role (support) does not allow this" in response.text
    assert _order_status(running, order["id"]) == "pending"
    assert client.get(f"{running.url}/dashboard/quarantine", timeout=10).status_code == 200
    assert shop.email != support.email


def test_operator_role_cannot_open_quarantine(running: Running, shops: tuple[Shop, Shop]) -> None:
    operator = new_shop(running, "Operator shop", "operator@example.com", role="operator")
    client = login(running.url, operator.email)
    assert client.get(f"{running.url}/dashboard/quarantine", timeout=10).status_code == 403
    assert client.get(f"{running.url}/dashboard/orders", timeout=10).status_code == 200


def test_account_scoping_hides_other_accounts(running: Running, shops: tuple[Shop, Shop]) -> None:
    shop_a, shop_b = shops
    printer_b = register_printer(shop_b.api, running.url, name="Secret B printer", protocol="cloudprnt",
                                 mac="00:11:62:bb:00:01")
    order_b = send_order(shop_b.api, running.url, printer_b["id"], external_id="B-SECRET-1").json()
    client = login(running.url, shop_a.email)
    token = page_token(client, running.url)

    assert client.get(f"{running.url}/dashboard/printers/{printer_b['id']}", timeout=10).status_code == 404
    assert client.get(f"{running.url}/dashboard/orders/{order_b['id']}", timeout=10).status_code == 404
    assert client.get(f"{running.url}/dashboard/orders/{order_b['id']}/receipt.png", timeout=10).status_code == 404
    assert client.get(f"{running.url}/dashboard/printers/{printer_b['id']}/settings", timeout=10).status_code == 404
    accept = client.post(f"{running.url}/dashboard/orders/{order_b['id']}/accept",
                         data={"eta_minutes": "5", "csrf_token": token}, timeout=10)
    assert "does not exist in this account" in accept.text
    assert _order_status(running, order_b["id"]) == "pending"
    assert "Secret B printer" not in client.get(f"{running.url}/dashboard/?q=secret", timeout=10).text
    assert "B-SECRET-1" not in client.get(f"{running.url}/dashboard/orders", timeout=10).text


def test_fleet_filters_and_counts_by_state(running: Running) -> None:
    shop = new_shop(running, "Fleet shop", "fleet@example.com")
    states = {"ok": (True, set()), "warning": (True, {"paper_low"}), "error": (True, {"paper_out", "paper_low"}),
              "offline": (False, set())}
    ids = {}
    for number, (state, (online, conditions)) in enumerate(states.items()):
        printer = register_printer(shop.api, running.url, name=f"Fleet {state}", protocol="cloudprnt",
                                   mac=f"00:11:62:cc:00:0{number}")
        _set_health(running, printer["id"], online, conditions)
        ids[state] = printer["id"]
    client = login(running.url, shop.email)

    page = client.get(f"{running.url}/dashboard/", timeout=10).text
    for state in states:
        assert f'data-count="{state}">1<' in page
    assert 'data-count="total">4<' in page
    for state, printer_id in ids.items():
        filtered = client.get(f"{running.url}/dashboard/", params={"state": state}, timeout=10).text
        assert f'data-printer-id="{printer_id}" data-state="{state}"' in filtered
        assert filtered.count("data-printer-id=") == 1
    searched = client.get(f"{running.url}/dashboard/", params={"q": "WARN"}, timeout=10).text
    assert searched.count("data-printer-id=") == 1
    assert "Fleet warning" in searched
    assert client.get(f"{running.url}/dashboard/", params={"protocol": "goodcom"}, timeout=10).text.count(
        "data-printer-id=") == 0


def test_fleet_pages_through_many_printers(running: Running) -> None:
    shop = new_shop(running, "Big shop", "big@example.com")
    with running.services.db.session() as session:
        session.add_all([Printer(account_id=shop.account_id, name=f"Bulk {index:03d}", protocol="goodcom",
                                 settings={}, client_info={}, health_detail={}, conditions=[])
                         for index in range(120)])
    client = login(running.url, shop.email)

    first = client.get(f"{running.url}/dashboard/", timeout=10).text
    third = client.get(f"{running.url}/dashboard/", params={"page": 3}, timeout=10).text
    assert first.count("data-printer-id=") == 50
    assert "page 1 of 3 · 120 printers" in first
    assert third.count("data-printer-id=") == 20
    assert "Bulk 119" in third
    assert "Bulk 000" not in third


def test_printer_detail_shows_supplies_history_and_plot(running: Running) -> None:
    shop = new_shop(running, "Detail shop", "detail@example.com")
    printer = register_printer(shop.api, running.url, name="Laser <b>1</b>", protocol="cloudprnt", mac="00:11:62:dd:00:01")
    with running.services.db.session() as session:
        row = session.get(Printer, printer["id"])
        assert row is not None
        detail = {"supplies": [{"description": "Black toner", "percent": 8.0}, {"description": "Drum", "percent": 64}],
                  "alerts": [{"severity": "warning", "description": "Toner low"}]}
        health.apply_reading(session, row, health.HealthReading(online=True, conditions=frozenset({"toner_low"}),
                                                                detail=detail))
    _set_health(running, printer["id"], False, {"toner_low"})
    client = login(running.url, shop.email)

    page = client.get(f"{running.url}/dashboard/printers/{printer['id']}", timeout=10).text
    assert "Laser &lt;b&gt;1&lt;/b&gt;" in page
    assert "Black toner: 8 %" in page
    assert 'class="gauge low"' in page
    assert "warning: Toner low" in page
    assert "went_offline" in page
    assert "<polyline" in page
    assert 'class="band-offline"' in page


def test_receipt_preview_is_png(running: Running, shops: tuple[Shop, Shop]) -> None:
    shop = shops[0]
    printer = register_printer(shop.api, running.url, name="Preview printer", protocol="cloudprnt", mac="00:11:62:aa:00:07")
    order = send_order(shop.api, running.url, printer["id"]).json()
    client = login(running.url, shop.email)

    response = client.get(f"{running.url}/dashboard/orders/{order['id']}/receipt.png", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(response.content[16:20], "big") == 576


def test_quarantine_approve_registers_cloudprnt_mac(running: Running) -> None:
    shop = new_shop(running, "Quarantine shop", "quarantine@example.com", role="support")
    with running.services.db.session() as session:
        row = quarantine(session, shop.account_id, "cloudprnt", "00:11:62:ee:00:01", "127.0.0.1")
        other = quarantine(session, shop.account_id, "cloudprnt", "00:11:62:ee:00:02", "127.0.0.1")
        row_id, other_id = row.id, other.id
    client = login(running.url, shop.email)
    token = page_token(client, running.url)
    assert "00:11:62:ee:00:01" in client.get(f"{running.url}/dashboard/quarantine", timeout=10).text

    approved = client.post(f"{running.url}/dashboard/quarantine/{row_id}/approve", data={"name": "Bar", "csrf_token": token},
                           timeout=10)
    assert approved.status_code == 200
    assert "Bar is registered" in approved.text
    client.post(f"{running.url}/dashboard/quarantine/{other_id}/dismiss", data={"csrf_token": token}, timeout=10)

    printers = shop.api.get(f"{running.url}/api/v1/printers", timeout=10).json()
    assert [(p["name"], p["mac"]) for p in printers] == [("Bar", "00:11:62:ee:00:01")]
    remaining = client.get(f"{running.url}/dashboard/quarantine", timeout=10).text
    assert "00:11:62:ee:00:0" not in remaining


def test_settings_preview_then_apply(running: Running) -> None:
    shop = new_shop(running, "Settings shop", "settings@example.com", role="support")
    printer = register_printer(shop.api, running.url, name="Settings printer", protocol="cloudprnt", mac="00:11:62:ff:00:01")
    client = login(running.url, shop.email)
    token = page_token(client, running.url)
    form = {"csrf_token": token, "action": "preview", "copies": "2", "cut": "full", "require_decision": "on",
            "header": "<b>Chez Zoë</b>", "footer": "", "cloudprnt_mqtt": "off"}

    preview = client.post(f"{running.url}/dashboard/printers/{printer['id']}/settings", data=form, timeout=10).text
    assert "Preview of the change" in preview
    assert 'data-setting="copies"' in preview
    assert "&lt;b&gt;Chez Zoë&lt;/b&gt;" in preview
    assert shop.api.get(f"{running.url}/api/v1/printers/{printer['id']}", timeout=10).json()["settings"]["copies"] == 1

    client.post(f"{running.url}/dashboard/printers/{printer['id']}/settings", data={**form, "action": "apply"}, timeout=10)
    settings = shop.api.get(f"{running.url}/api/v1/printers/{printer['id']}", timeout=10).json()["settings"]
    assert settings["copies"] == 2
    assert settings["cut"] == "full"
    assert settings["header"] == "<b>Chez Zoë</b>"

    invalid = client.post(f"{running.url}/dashboard/printers/{printer['id']}/settings",
                          data={**form, "copies": "12"}, timeout=10)
    assert invalid.status_code == 422
    assert "copies=12 is invalid" in invalid.text


def test_customer_page_escapes_order_text(running: Running, shops: tuple[Shop, Shop]) -> None:
    shop = shops[0]
    printer = register_printer(shop.api, running.url, name="Customer printer", protocol="cloudprnt", mac="00:11:62:aa:00:08")
    order = send_order(shop.api, running.url, printer["id"], notes="<script>alert(1)</script>",
                       items=[{"name": "<img src=x onerror=alert(2)>", "quantity": 1, "unit_price": "1.00"}],
                       total="1.00").json()

    page = requests.get(order["status_url"], timeout=10)
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)" not in page.text
    assert "&lt;img src=x onerror=alert(2)&gt;" in page.text
    assert "zoe@example.org" not in page.text
    assert requests.get(f"{running.url}/o/not-a-real-order", timeout=10).status_code == 404
    status = requests.get(f"{order['status_url']}/status.json", timeout=10).json()
    assert status["status"] == "pending"
    assert set(status) == {"status", "status_text", "eta", "eta_text", "reject_reason", "updated_at"}
