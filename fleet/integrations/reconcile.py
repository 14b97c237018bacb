"""Reconciliation poll: take the WooCommerce orders that no webhook delivery brought.

WooCommerce does not re-send a failed webhook delivery. It disables the webhook after several
failures in a row, and it merges quick updates of one order into one delivery up to 10 minutes
later. So every ``woocommerce_reconcile_minutes`` each shop's orders in its ready statuses, modified
since the last complete poll, are listed over the REST API (``modified_after`` with
``dates_are_gmt=true``) and taken exactly as a delivery would take them. Orders already taken are
found by their external id and left alone. The window starts :data:`OVERLAP` before the previous
poll, so an order whose change was still being saved during that poll is listed again.
The first poll of a shop starts when the shop was connected, so older orders are never printed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from fleet.db import Database
from fleet.errors import FleetError
from fleet.integrations.woocommerce import take_order
from fleet.integrations.writeback import WooCommerceClient
from fleet.models import utcnow
from fleet.notification_models import WooCommerceShop
from fleet.notifications.base import DeliveryFailed

log = logging.getLogger(__name__)

#: The next poll lists orders modified from this long before the previous poll started.
OVERLAP = timedelta(minutes=15)
#: Pages of 100 orders read per status and poll; the rest waits for the next poll.
MAX_PAGES = 20


@dataclass(frozen=True)
class ReconcileResult:
    shop_id: int
    listed: int
    created: int
    #: False when a request failed; the shop's window then stays where it was.
    complete: bool


def reconcile_shop(db: Database, shop_id: int, ttl_minutes: int, timeout: float,
                   now: datetime | None = None) -> ReconcileResult:
    """List the shop's ready orders modified since its last complete poll and take the missing ones."""
    started = now or utcnow()
    with db.session() as session:
        shop = session.get(WooCommerceShop, shop_id)
        if shop is None:
            return ReconcileResult(shop_id, 0, 0, complete=False)
        # modified_after compares whole seconds and leaves out the second it names.
        since = shop.reconciled_at - OVERLAP if shop.reconciled_at else shop.created_at - timedelta(seconds=1)
        statuses = [str(status) for status in shop.ready_statuses or []]
        client = WooCommerceClient(shop.base_url, shop.consumer_key, shop.consumer_secret, shop.query_string_auth,
                                   timeout)
    listed = created = 0
    complete = True
    for status in statuses:
        try:
            documents = _list(client, status, since)
        except DeliveryFailed as err:
            log.warning("woocommerce reconciliation failed shop=%s status=%s: %s", shop_id, status, err)
            complete = False
            continue
        listed += len(documents)
        for document in documents:
            created += _take(db, shop_id, document, ttl_minutes)
    if complete:
        with db.session() as session:
            shop = session.get(WooCommerceShop, shop_id)
            if shop is not None:
                shop.reconciled_at = started
    log.debug("woocommerce reconciliation shop=%s since=%s listed=%s created=%s complete=%s", shop_id,
              since.isoformat(), listed, created, complete)
    return ReconcileResult(shop_id, listed, created, complete)


def _list(client: WooCommerceClient, status: str, since: datetime) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= min(pages, MAX_PAGES):
        batch, pages = client.list_orders(status, since, page)
        documents.extend(batch)
        page += 1
    return documents


def _take(db: Database, shop_id: int, document: dict[str, Any], ttl_minutes: int) -> int:
    """Take one listed order in its own transaction; return 1 when it created an order."""
    try:
        with db.session() as session:
            shop = session.get(WooCommerceShop, shop_id)
            if shop is None:
                return 0
            result = take_order(session, shop, document, ttl_minutes)
    except FleetError as err:
        log.warning("woocommerce reconciliation skipped order shop=%s remote_order=%s: %s", shop_id,
                    document.get("id"), err.message)
        return 0
    if result.outcome != "created":
        return 0
    log.info("order recovered by reconciliation order=%s shop=%s remote_order=%s", result.order_id, shop_id,
             document.get("id"))
    return 1


def run_reconciliation(services: Any) -> None:
    """Scheduler job: reconcile every WooCommerce shop once."""
    settings = services.settings
    with services.read_db.session() as session:
        shop_ids = list(session.scalars(select(WooCommerceShop.id).order_by(WooCommerceShop.id)))
    for shop_id in shop_ids:
        reconcile_shop(services.db, shop_id, settings.order_ttl_minutes, settings.integration_timeout_seconds)


def schedule_reconciliation(scheduler: Any, minutes: int) -> None:
    """Add the poll to the app's scheduler; ``minutes`` of 0 leaves it out. Only the leader process polls."""
    if minutes > 0:
        scheduler.add_job(run_reconciliation, minutes * 60, "woocommerce_reconciliation", leader_only=True)
