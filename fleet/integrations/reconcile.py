"""Reconciliation poll: take the WooCommerce orders that no webhook delivery brought.

WooCommerce does not re-send a failed webhook delivery. It disables the webhook after several
failures in a row, and it merges quick updates of one order into one delivery up to 10 minutes
later. So every ``woocommerce_reconcile_minutes`` each shop's orders in its ready statuses, modified
after the shop's ``reconciled_at``, are listed over the REST API (``modified_after`` with
``dates_are_gmt=true``, oldest change first) and taken exactly as a delivery would take them. Orders
already taken are found by their external id and left alone.

The listing moves on by modified time, not by page number, so an order edited while the poll reads
the pages moves to a later request instead of shifting another order off a page. After a complete
poll ``reconciled_at`` is the poll's start minus :data:`OVERLAP`, so an order whose change was still
being saved during that poll is listed again. A poll that stops at :data:`MAX_REQUESTS` stores the
modified time it reached, and the next poll goes on from there. The first poll of a shop starts when
the shop was connected, so older orders are never printed, and no poll looks back further than
:data:`MAX_LOOKBACK`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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

#: The next poll lists orders modified from this long before the previous complete poll started.
OVERLAP = timedelta(minutes=15)
#: Orders changed longer ago than this are not listed, even after a long outage or for a shop
#: connected before the poll existed: a day-old order should not print as if it were new.
MAX_LOOKBACK = timedelta(hours=24)
#: Orders per list request (the REST API's maximum).
PER_PAGE = 100
#: List requests per status and poll; a poll that needs more stores where it stopped.
MAX_REQUESTS = 50


@dataclass(frozen=True)
class ReconcileResult:
    shop_id: int
    listed: int
    created: int
    #: False when a request failed; the shop's window then stays where it was.
    complete: bool


def reconcile_shop(db: Database, shop_id: int, ttl_minutes: int, timeout: float,
                   now: datetime | None = None) -> ReconcileResult:
    """List the shop's ready orders modified after its ``reconciled_at`` and take the missing ones."""
    started = now or utcnow()
    with db.session() as session:
        shop = session.get(WooCommerceShop, shop_id)
        if shop is None:
            return ReconcileResult(shop_id, 0, 0, complete=False)
        # modified_after compares whole seconds and leaves out the second it names.
        since = max(shop.reconciled_at or shop.created_at - timedelta(seconds=1), started - MAX_LOOKBACK)
        statuses = [str(status) for status in shop.ready_statuses or []]
        client = WooCommerceClient(shop.base_url, shop.consumer_key, shop.consumer_secret, shop.query_string_auth,
                                   timeout)
    listed = created = 0
    failed = False
    reached = started - OVERLAP
    for status in statuses:
        try:
            documents, stopped_at = _list(client, status, since)
        except DeliveryFailed as err:
            log.warning("woocommerce reconciliation failed shop=%s status=%s: %s", shop_id, status, err)
            failed = True
            continue
        if stopped_at is not None:
            log.info("woocommerce reconciliation stopped shop=%s status=%s at=%s after %s requests; the next poll "
                     "goes on", shop_id, status, stopped_at.isoformat(), MAX_REQUESTS)
            reached = min(reached, stopped_at)
        listed += len(documents)
        for document in documents:
            created += _take(db, shop_id, document, ttl_minutes)
    if not failed:
        with db.session() as session:
            shop = session.get(WooCommerceShop, shop_id)
            if shop is not None:
                shop.reconciled_at = reached
    complete = not failed and reached == started - OVERLAP
    log.debug("woocommerce reconciliation shop=%s since=%s listed=%s created=%s complete=%s", shop_id,
              since.isoformat(), listed, created, complete)
    return ReconcileResult(shop_id, listed, created, complete)


def _list(client: WooCommerceClient, status: str,
          since: datetime) -> tuple[list[dict[str, Any]], datetime | None]:
    """Return the orders in ``status`` modified after ``since``, and where the listing stopped (None: at the end).

    Each request starts at the second of the previous page's last order, because every order modified
    before that second was on it. A full page of one second goes on by page number within it.
    """
    found: dict[Any, dict[str, Any]] = {}
    cursor, page = since, 1
    for _ in range(MAX_REQUESTS):
        batch, _pages = client.list_orders(status, cursor, page, PER_PAGE)
        for document in batch:
            found[document.get("id")] = document
        if len(batch) < PER_PAGE:
            return list(found.values()), None
        # The list is sorted by modified time, so its last order marks how far this page reached. An
        # order edited while the page was written may carry a later time; it is listed again later.
        reached = _modified(batch[-1])
        if reached is not None and reached - timedelta(seconds=1) > cursor:
            cursor, page = reached - timedelta(seconds=1), 1
        else:
            page += 1
    return list(found.values()), cursor


def _modified(document: dict[str, Any]) -> datetime | None:
    try:
        return datetime.strptime(str(document.get("date_modified_gmt")), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _take(db: Database, shop_id: int, document: dict[str, Any], ttl_minutes: int) -> int:
    """Take one listed order in its own transaction; return 1 when it created an order."""
    # NOTE: a cancellation webhook that arrives between the listing and this call finds no order and
    # is ignored, so the listed copy still creates the order. Nothing records the cancellation yet.
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
