"""The REST API over real HTTP: intake, idempotency, errors, transaction list and decisions."""

from __future__ import annotations

from typing import Any

import requests

from tests.conftest import Running, register_printer, send_order


def _printer(instance: Running, client: requests.Session) -> dict[str, Any]:
    return register_printer(client, instance.url, name="Kitchen", protocol="cloudprnt", mac="00:11:62:aa:bb:01")


def test_create_printer_returns_device_url_and_normalised_mac(instance: Running) -> None:
    _, client = instance.new_account()
    printer = register_printer(client, instance.url, name="Bar", protocol="cloudprnt", mac="00-11-62-AA-BB-02")
    assert printer["mac"] == "00:11:62:aa:bb:02"
    assert printer["device"]["cloudprnt_url"].startswith(f"{instance.url}/cloudprnt/")
    assert printer["device"]["cloudprnt_url"].endswith("/poll")
    assert printer["health"]["state"] == "offline"
    assert printer["settings"]["require_decision"] is True


def test_create_goodcom_printer_shows_password_once(instance: Running) -> None:
    _, client = instance.new_account()
    printer = register_printer(client, instance.url, name="Orders", protocol="goodcom")
    assert len(printer["device"]["password"]) >= 12
    again = client.get(f"{instance.url}/api/v1/printers/{printer['id']}").json()
    assert again["device"]["password"] == "(shown once at registration)"
    assert again["device"]["user"] == printer["device"]["user"]


def test_create_printer_rejects_bad_mac_naming_field(instance: Running) -> None:
    _, client = instance.new_account()
    response = client.post(f"{instance.url}/api/v1/printers", json={"name": "X", "protocol": "cloudprnt", "mac": "zz"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["fields"][0]["field"] == "mac"
    assert "MAC address 'zz' is invalid" in error["fields"][0]["reason"]


def test_duplicate_mac_conflicts(instance: Running) -> None:
    _, client = instance.new_account()
    _printer(instance, client)
    response = client.post(f"{instance.url}/api/v1/printers",
                           json={"name": "Again", "protocol": "cloudprnt", "mac": "00:11:62:aa:bb:01"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_printer"
    assert response.json()["error"]["message"].startswith("a printer with MAC 00:11:62:aa:bb:01 is already registered")


def test_order_created_pending_and_stored(instance: Running) -> None:
    _, client = instance.new_account()
    printer = _printer(instance, client)
    response = send_order(client, instance.url, printer["id"])
    assert response.status_code == 201
    order = response.json()
    assert order["status"] == "pending"
    assert order["total"] == "22.00"
    assert order["allowed_actions"] == ["accept", "cancel", "reject"]
    stored = client.get(f"{instance.url}/api/v1/orders/{order['id']}").json()
    assert stored["items"][1]["name"] == "Crème brûlée"
    assert [job["state"] for job in stored["jobs"]] == ["queued"]
    assert stored["history"][0]["event"] == "created"


def test_idempotency_key_returns_first_result(instance: Running) -> None:
    _, client = instance.new_account()
    printer = _printer(instance, client)
    first = send_order(client, instance.url, printer["id"], headers={"Idempotency-Key": "abc-1"})
    again = send_order(client, instance.url, printer["id"], headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    listed = client.get(f"{instance.url}/api/v1/orders").json()
    assert len(listed) == 1


def test_idempotency_key_with_other_body_is_rejected(instance: Running) -> None:
    _, client = instance.new_account()
    printer = _printer(instance, client)
    send_order(client, instance.url, printer["id"], headers={"Idempotency-Key": "abc-2"})
    other = send_order(client, instance.url, printer["id"], headers={"Idempotency-Key": "abc-2"}, total="99.00")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert "abc-2" in other.json()["error"]["message"]


def test_external_id_makes_retry_safe(instance: Running) -> None:
    _, client = instance.new_account()
    printer = _printer(instance, client)
    first = send_order(client, instance.url, printer["id"], external_id="WC-1001")
    again = send_order(client, instance.url, printer["id"], external_id="WC-1001")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


def test_invalid_order_names_each_field(instance: Running) -> None:
    _, client = instance.new_account()
    printer = _printer(instance, client)
    response = send_order(client, instance.url, printer["id"], currency="euro",
                          items=[{"name": "Soup", "quantity": "2", "unit_price": "4.00"}])
    assert response.status_code == 422
    fields = {item["field"] for item in response.json()["error"]["fields"]}
    assert fields == {"currency", "items.0.quantity"}
    assert client.get(f"{instance.url}/api/v1/orders").json() == []


def test_naive_requested_time_rejected(instance: Running) -> None:
    _, client = instance.new_account()
    printer = _printer(instance, client)
    response = send_order(client, instance.url, printer["id"], requested_time="2026-12-04T18:30:00")
    assert response.status_code == 422
    assert "has no UTC offset" in response.json()["error"]["fields"][0]["reason"]


def test_malformed_json_gets_clear_error(instance: Running) -> None:
    _, client = instance.new_account()
    response = client.post(f"{instance.url}/api/v1/orders", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["status"] == 400
    assert response.json()["error"]["message"].startswith("Request body is not valid JSON")


def test_oversized_body_gets_413(instance: Running) -> None:
    _, client = instance.new_account()
    body = b'{"notes": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = client.post(f"{instance.url}/api/v1/orders", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert "larger than 1048576 bytes" in response.json()["error"]["message"]


def test_missing_api_key_is_401(instance: Running) -> None:
    response = requests.get(f"{instance.url}/api/v1/orders", timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    wrong = requests.get(f"{instance.url}/api/v1/orders", headers={"Authorization": "Bearer pf_x_y"}, timeout=10)
    assert wrong.status_code == 401


def test_accounts_do_not_see_each_other(instance: Running) -> None:
    _, alice = instance.new_account("Alice")
    _, bob = instance.new_account("Bob")
    printer = _printer(instance, alice)
    order = send_order(alice, instance.url, printer["id"]).json()
    assert bob.get(f"{instance.url}/api/v1/printers/{printer['id']}").status_code == 404
    assert bob.get(f"{instance.url}/api/v1/orders/{order['id']}").status_code == 404
    assert send_order(bob, instance.url, printer["id"]).status_code == 404
    assert bob.get(f"{instance.url}/api/v1/orders").json() == []
    assert bob.post(f"{instance.url}/api/v1/orders/{order['id']}/accept", json={"eta_minutes": 5}).status_code == 404


def test_transaction_list_filters_by_status(instance: Running) -> None:
    _, client = instance.new_account()
    printer = _printer(instance, client)
    first = send_order(client, instance.url, printer["id"]).json()
    send_order(client, instance.url, printer["id"])
    client.post(f"{instance.url}/api/v1/orders/{first['id']}/reject", json={"reason": "Closed"})
    pending = client.get(f"{instance.url}/api/v1/orders", params={"status": "pending"}).json()
    rejected = client.get(f"{instance.url}/api/v1/orders", params={"status": "rejected"}).json()
    assert len(pending) == 1
    assert [order["id"] for order in rejected] == [first["id"]]
    assert rejected[0]["reject_reason"] == "Closed"
    bad = client.get(f"{instance.url}/api/v1/orders", params={"status": "lost"})
    assert bad.status_code == 422


def test_accept_requires_one_eta(instance: Running) -> None:
    _, client = instance.new_account()
    printer = _printer(instance, client)
    order = send_order(client, instance.url, printer["id"]).json()
    both = client.post(f"{instance.url}/api/v1/orders/{order['id']}/accept",
                       json={"eta_minutes": 5, "eta_time": "2026-12-04T20:00:00+00:00"})
    assert both.status_code == 422
    accepted = client.post(f"{instance.url}/api/v1/orders/{order['id']}/accept",
                           json={"eta_time": "2030-01-01T12:30:00+01:00"})
    assert accepted.status_code == 200
    assert accepted.json()["eta"] == "2030-01-01T11:30:00+00:00"


def test_conflict_names_state_and_allowed_actions(instance: Running) -> None:
    _, client = instance.new_account()
    printer = _printer(instance, client)
    order = send_order(client, instance.url, printer["id"]).json()
    client.post(f"{instance.url}/api/v1/orders/{order['id']}/cancel")
    response = client.post(f"{instance.url}/api/v1/orders/{order['id']}/accept", json={"eta_minutes": 10})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["current_state"] == "cancelled"
    assert error["allowed_actions"] == []
    assert "accept is not possible" in error["message"]


def test_reprint_of_pending_order_conflicts(instance: Running) -> None:
    _, client = instance.new_account()
    printer = _printer(instance, client)
    order = send_order(client, instance.url, printer["id"]).json()
    response = client.post(f"{instance.url}/api/v1/orders/{order['id']}/reprint")
    assert response.status_code == 409
    assert response.json()["error"]["current_state"] == "pending"


def test_patch_printer_settings_validated(instance: Running) -> None:
    _, client = instance.new_account()
    printer = _printer(instance, client)
    ok = client.patch(f"{instance.url}/api/v1/printers/{printer['id']}", json={"settings": {"copies": 2, "cut": "full"}})
    assert ok.status_code == 200
    assert ok.json()["settings"]["copies"] == 2
    assert ok.json()["settings"]["cut"] == "full"
    bad = client.patch(f"{instance.url}/api/v1/printers/{printer['id']}", json={"settings": {"copies": 0}})
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "settings.copies"


def test_delete_printer_cancels_waiting_jobs(instance: Running) -> None:
    _, client = instance.new_account()
    printer = _printer(instance, client)
    order = send_order(client, instance.url, printer["id"]).json()
    assert client.delete(f"{instance.url}/api/v1/printers/{printer['id']}").status_code == 204
    assert client.get(f"{instance.url}/api/v1/printers/{printer['id']}").status_code == 404
    assert client.get(f"{instance.url}/api/v1/orders/{order['id']}").json()["jobs"][0]["state"] == "cancelled"


def test_openapi_document_lists_the_contract(instance: Running) -> None:
    spec = requests.get(f"{instance.url}/api/v1/openapi.json", timeout=10).json()
    paths = spec["paths"]
    for path in ("/api/v1/printers", "/api/v1/printers/{printer_id}", "/api/v1/orders", "/api/v1/orders/{order_id}",
                 "/api/v1/orders/{order_id}/accept", "/api/v1/orders/{order_id}/reject",
                 "/api/v1/orders/{order_id}/cancel", "/api/v1/orders/{order_id}/reprint"):
        assert path in paths
    assert not any(path.startswith("/cloudprnt") for path in paths)
    assert "bearer" in str(spec["components"]["securitySchemes"]).lower()
    docs = requests.get(f"{instance.url}/api/v1/docs", timeout=10)
    assert docs.status_code == 200
    assert "cdn." not in docs.text, "the docs page must work without internet access"
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        assert f"/dashboard/static/vendor/swagger-ui/{asset}" in docs.text
        served = requests.get(f"{instance.url}/dashboard/static/vendor/swagger-ui/{asset}", timeout=10)
        assert served.status_code == 200
        assert len(served.content) > 10_000


def test_control_characters_stripped_at_intake(instance: Running) -> None:
    """NUL and other control characters never reach storage (PostgreSQL rejects NUL in text)."""
    _, client = instance.new_account()
    printer = _printer(instance, client)
    response = send_order(client, instance.url, printer["id"], notes="ring\u0000 the\u001b[1m bell\ttwice",
                          customer={"name": "Zo\u0007ë"})
    assert response.status_code == 201, response.text
    stored = client.get(f"{instance.url}/api/v1/orders/{response.json()['id']}").json()
    assert stored["notes"] == "ring the[1m bell\ttwice"
    assert stored["customer"]["name"] == "Zoë"


def test_account_time_zone_validated(instance: Running) -> None:
    _, client = instance.new_account()
    assert client.get(f"{instance.url}/api/v1/account").json()["timezone"] == "UTC"
    ok = client.patch(f"{instance.url}/api/v1/account", json={"timezone": "Europe/Berlin"})
    assert ok.status_code == 200
    assert ok.json()["timezone"] == "Europe/Berlin"
    bad = client.patch(f"{instance.url}/api/v1/account", json={"timezone": "Mars/Olympus"})
    assert bad.status_code == 422
    assert "time zone 'Mars/Olympus' is unknown" in bad.json()["error"]["message"]


def test_device_credentials_issued_once_and_rotated(instance: Running) -> None:
    _, client = instance.new_account()
    printer = register_printer(client, instance.url, name="Agent", protocol="device_mqtt")
    assert printer["device"]["device_credentials_url"] == (
        f"{instance.url}/api/v1/printers/{printer['id']}/device-credentials")
    first = client.post(printer["device"]["device_credentials_url"])
    assert first.status_code == 201
    body = first.json()
    assert body["topic_prefix"] == f"printfleet/v1/devices/{body['username']}/"
    assert len(body["password"]) >= 16
    again = client.post(f"{instance.url}/api/v1/printers/{printer['id']}/device-credentials").json()
    assert again["username"] == body["username"]
    assert again["password"] != body["password"]
    goodcom = register_printer(client, instance.url, name="Orders", protocol="goodcom")
    refused = client.post(f"{instance.url}/api/v1/printers/{goodcom['id']}/device-credentials")
    assert refused.status_code == 422
    assert "does not log in to MQTT" in refused.json()["error"]["message"]


def test_device_credentials_name_broker_without_server_login(database_url: str, instance_factory: Any) -> None:
    external = instance_factory(database_url, mqtt_url="mqtt://printfleet-server:s3cret-login@broker.example:1884")
    _, client = external.new_account()
    printer = register_printer(client, external.url, name="Agent", protocol="device_mqtt")
    response = client.post(f"{external.url}/api/v1/printers/{printer['id']}/device-credentials")
    assert response.status_code == 201
    assert response.json()["broker_url"] == "mqtt://broker.example:1884"
    assert "s3cret-login" not in response.text


def test_rate_limit_answers_429_with_retry_after(database_url: str, instance_factory: Any) -> None:
    limited = instance_factory(database_url, api_rate_per_second=1, api_rate_burst=3)
    _, client = limited.new_account()
    statuses = [client.get(f"{limited.url}/api/v1/orders").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]
    refused = client.get(f"{limited.url}/api/v1/orders")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "rate_limited"
    _, other = limited.new_account("Other shop")
    assert other.get(f"{limited.url}/api/v1/orders").status_code == 200

