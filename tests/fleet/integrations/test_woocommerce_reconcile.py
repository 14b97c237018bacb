"""The WooCommerce reconciliation poll against a running server and the WooCommerce REST stand-in."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import select

from fleet.app import shutdown
from fleet.integrations import reconcile as reconcile_module
from fleet.integrations.reconcile import OVERLAP, reconcile_shop, run_reconciliation
from fleet.models import Order
from fleet.notification_models import WooCommerceShop
from tests.conftest import Running, register_printer, start_instance
from tests.fleet.integrations.test_woocommerce import (
    CONSUMER_KEY,
    CONSUMER_SECRET,
    WEBHOOK_SECRET,
    deliver,
    orders_of,
    php_json,
    synthetic,
)
from tests.fleet.notifications.conftest import running_instance
from tests.fleet.notifications.standins import Seen, StandIn, list_orders, woocommerce_api

REMOTE_IDS = count(9001)
MACS = (f"00:11:62:00:31:{n:02x}" for n in count(1))


@pytest.fixture(scope="module")
def store() -> list[dict[str, Any]]:
    return []


@pytest.fixture(scope="module")
def wc_api(store: list[dict[str, Any]]) -> Iterator[StandIn]:
    server = woocommerce_api(CONSUMER_KEY, CONSUMER_SECRET, known_orders=set(), listed_orders=store).start()
    yield server
    server.stop()


@pytest.fixture
def listed(store: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Orders the stand-in lists, empty at the start of each test; tests append to it."""
    store.clear()
    return store


@pytest.fixture(scope="module")
def running(module_database_url: str) -> Iterator[Running]:
    # The tests poll themselves; a scheduled poll in between would take their orders first.
    yield from running_instance(module_database_url, woocommerce_reconcile_minutes=0)


@pytest.fixture
def shop(running: Running, wc_api: StandIn) -> dict[str, Any]:
    _, client = running.new_account("Reconciled shop")
    printer = register_printer(client, running.url, name="Counter", protocol="cloudprnt", mac=next(MACS))
    response = client.post(f"{running.url}/api/v1/integrations/woocommerce/shops", timeout=10, json={
        "name": "Reconciled shop online", "base_url": wc_api.url, "consumer_key": CONSUMER_KEY,
        "consumer_secret": CONSUMER_SECRET, "webhook_secret": WEBHOOK_SECRET, "printer_id": printer["id"],
        "ready_statuses": ["processing", "on-hold"],
    })
    assert response.status_code == 201, response.text
    return {"client": client, **response.json()}


def remote_order(status: str = "processing", modified: datetime | None = None, **changes: Any) -> dict[str, Any]:
    """A WooCommerce order object with a new id, modified at ``modified`` (default: now)."""
    at = (modified or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    remote_id = next(REMOTE_IDS)
    return synthetic(id=remote_id, number=str(remote_id), status=status, date_modified_gmt=at, **changes)


def reconcile(running: Running, shop: dict[str, Any], now: datetime | None = None) -> Any:
    settings = running.services.settings
    return reconcile_shop(running.services.db, shop["id"], settings.order_ttl_minutes,
                          settings.integration_timeout_seconds, now)


def shop_row(running: Running, shop: dict[str, Any]) -> WooCommerceShop:
    with running.services.db.session() as session:
        row = session.get(WooCommerceShop, shop["id"])
        assert row is not None
        session.expunge(row)
        return row


def external_ids(running: Running, shop: dict[str, Any]) -> list[str]:
    """Return the external ids of the shop's printfleet orders from the database, because the API returns pages."""
    with running.services.db.session() as session:
        return sorted(session.scalars(select(Order.external_id).where(Order.external_id.like(f"wc-{shop['id']}-%"))))


def test_reconcile_takes_orders_no_webhook_brought(running: Running, shop: dict[str, Any],
                                                   listed: list[dict[str, Any]]) -> None:
    missed = remote_order()
    on_hold = remote_order(status="on-hold")
    pending = remote_order(status="pending")
    listed.extend([missed, on_hold, pending])

    result = reconcile(running, shop)

    assert result.complete
    assert result.created == 2
    assert external_ids(running, shop) == sorted(f"wc-{shop['id']}-{order['id']}" for order in (missed, on_hold))
    created_order = {order["external_id"]: order for order in orders_of(shop)}[f"wc-{shop['id']}-{missed['id']}"]
    assert created_order["printer_id"] == shop["printer_id"]
    # Fees and shipping follow the line items as items of their own.
    assert [item["name"] for item in created_order["items"]][:2] == [item["name"] for item in missed["line_items"]]


def test_reconcile_leaves_delivered_orders_alone(running: Running, shop: dict[str, Any],
                                                 listed: list[dict[str, Any]]) -> None:
    delivered = remote_order()
    assert deliver(shop, php_json(delivered)).json()["status"] == "created"
    listed.append(delivered)

    first = reconcile(running, shop)
    second = reconcile(running, shop)

    assert first.created == 0
    assert second.created == 0
    assert external_ids(running, shop) == [f"wc-{shop['id']}-{delivered['id']}"]


def test_reconcile_skips_orders_from_before_the_shop(running: Running, shop: dict[str, Any],
                                                     listed: list[dict[str, Any]]) -> None:
    listed.append(remote_order(modified=datetime.now(UTC) - timedelta(days=2)))

    assert reconcile(running, shop).created == 0
    assert orders_of(shop) == []


def test_reconcile_looks_back_one_day_at_most(running: Running, shop: dict[str, Any],
                                              listed: list[dict[str, Any]]) -> None:
    """After two days without a complete poll, orders changed more than a day ago stay unprinted."""
    poll = datetime.now(UTC) + timedelta(days=2)
    stale = remote_order(modified=poll - timedelta(hours=30))
    recent = remote_order(modified=poll - timedelta(hours=2))
    listed.extend([stale, recent])

    assert reconcile(running, shop, poll).created == 1
    assert external_ids(running, shop) == [f"wc-{shop['id']}-{recent['id']}"]


def test_reconcile_window_follows_last_complete_poll(running: Running, shop: dict[str, Any],
                                                     listed: list[dict[str, Any]], wc_api: StandIn) -> None:
    first_poll = datetime.now(UTC) + timedelta(minutes=30)
    assert reconcile(running, shop, first_poll).complete
    start = len(wc_api.seen)

    late = remote_order(modified=first_poll - OVERLAP + timedelta(minutes=1))
    listed.append(late)
    result = reconcile(running, shop, first_poll + timedelta(minutes=5))

    requests = [seen for seen in wc_api.seen[start:] if seen.path == "/wp-json/wc/v3/orders"]
    assert {seen.query["status"][0] for seen in requests} == {"processing", "on-hold"}
    assert {seen.query["modified_after"][0] for seen in requests} == {
        (first_poll - OVERLAP).strftime("%Y-%m-%dT%H:%M:%S")}
    assert all(seen.query["dates_are_gmt"] == ["true"] for seen in requests)
    assert result.created == 1
    assert external_ids(running, shop) == [f"wc-{shop['id']}-{late['id']}"]


def test_reconcile_reads_every_page(running: Running, shop: dict[str, Any], listed: list[dict[str, Any]]) -> None:
    burst = [remote_order() for _ in range(230)]
    listed.extend(burst)

    result = reconcile(running, shop)

    assert result.listed == 230
    assert result.created == 230
    with running.services.db.session() as session:
        created = session.scalars(select(Order.external_id).where(Order.external_id.like(f"wc-{shop['id']}-%"))).all()
    assert sorted(created) == sorted(f"wc-{shop['id']}-{order['id']}" for order in burst)


def test_reconcile_goes_on_where_a_long_poll_stopped(running: Running, shop: dict[str, Any],
                                                    listed: list[dict[str, Any]],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconcile_module, "MAX_REQUESTS", 2)
    connected = shop_row(running, shop).created_at
    # 450 orders over 9 seconds, 50 per second: more than two requests of 100 can read.
    backlog = [remote_order(modified=connected + timedelta(seconds=5 + index // 50)) for index in range(450)]
    listed.extend(backlog)
    poll = connected + timedelta(hours=1)

    results = [reconcile(running, shop, poll + timedelta(minutes=5 * round_)) for round_ in range(5)]

    assert not results[0].complete
    assert results[-1].complete
    assert external_ids(running, shop) == sorted(f"wc-{shop['id']}-{order['id']}" for order in backlog)


@pytest.fixture
def editing_api(listed: list[dict[str, Any]]) -> Iterator[StandIn]:
    """The stand-in, except that staff edit the first listed order right after the first page is served."""
    edited: list[int] = []

    def respond(request: Seen) -> Any:
        if request.basic_auth() != (CONSUMER_KEY, CONSUMER_SECRET):
            return 401, {"code": "woocommerce_rest_authentication_error"}
        reply = list_orders(listed, request)
        if request.query["status"] == ["processing"] and not edited and reply[1]:
            first = reply[1][0]
            latest = max(order["date_modified_gmt"] for order in listed)
            moved = datetime.strptime(latest, "%Y-%m-%dT%H:%M:%S") + timedelta(minutes=1)
            first["date_modified_gmt"] = moved.strftime("%Y-%m-%dT%H:%M:%S")
            edited.append(first["id"])
        return reply

    server = StandIn(respond).start()
    yield server
    server.stop()


def test_order_edited_during_poll_hides_no_other(running: Running, shop: dict[str, Any],
                                                 listed: list[dict[str, Any]], editing_api: StandIn) -> None:
    with running.services.db.session() as session:
        row = session.get(WooCommerceShop, shop["id"])
        assert row is not None
        row.base_url = editing_api.url
        connected = row.created_at
    backlog = [remote_order(modified=connected + timedelta(seconds=5 + index)) for index in range(150)]
    listed.extend(backlog)

    result = reconcile(running, shop, datetime.now(UTC) + timedelta(hours=2))

    assert result.complete
    assert external_ids(running, shop) == sorted(f"wc-{shop['id']}-{order['id']}" for order in backlog)


def test_reconcile_failure_keeps_window(running: Running, shop: dict[str, Any], listed: list[dict[str, Any]],
                                        wc_api: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    missed = remote_order()
    listed.append(missed)
    wc_api.failures = 1
    with caplog.at_level(logging.WARNING, logger="fleet.integrations.reconcile"):
        failed = reconcile(running, shop)

    assert not failed.complete
    with running.services.db.session() as session:
        stored = session.get(WooCommerceShop, shop["id"])
        assert stored is not None
        assert stored.reconciled_at is None
    assert f"woocommerce reconciliation failed shop={shop['id']} status=processing" in caplog.text
    assert "returned 503" in caplog.text
    assert CONSUMER_SECRET not in caplog.text

    retried = reconcile(running, shop)
    assert retried.complete
    assert external_ids(running, shop) == [f"wc-{shop['id']}-{missed['id']}"]
    stored_shop = shop["client"].get(shop["delivery_url"].split("/integrations/")[0]
                               + f"/api/v1/integrations/woocommerce/shops/{shop['id']}", timeout=10).json()
    assert stored_shop["reconciled_at"] is not None


def test_scheduled_reconciliation_covers_every_shop(running: Running, shop: dict[str, Any],
                                                    listed: list[dict[str, Any]]) -> None:
    missed = remote_order()
    listed.append(missed)

    run_reconciliation(running.services)

    assert external_ids(running, shop) == [f"wc-{shop['id']}-{missed['id']}"]


def test_reconciliation_scheduled_unless_turned_off(database_url: str, instance_factory: Any) -> None:
    silent = start_instance(database_url, scheduler_enabled=True, woocommerce_reconcile_minutes=0)
    try:
        assert silent.services.extras["scheduler"].leader
        assert silent.services.extras["scheduler"].job("woocommerce_reconciliation") is None
    finally:
        silent.server.stop()
        shutdown(silent.app)

    polling = instance_factory(database_url, scheduler_enabled=True, woocommerce_reconcile_minutes=3)
    job = polling.services.extras["scheduler"].job("woocommerce_reconciliation")
    assert job is not None
    assert job.trigger.interval == timedelta(minutes=3)

    # On PostgreSQL only the process holding the scheduler lock polls the shops.
    follower = instance_factory(database_url, scheduler_enabled=True, woocommerce_reconcile_minutes=3)
    follower_job = follower.services.extras["scheduler"].job("woocommerce_reconciliation")
    if database_url.startswith("postgresql"):
        assert follower_job is None
    else:
        assert follower_job is not None
