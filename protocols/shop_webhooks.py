"""Order intake straight from shops: WooCommerce webhooks and the PrinterCo-compatible form API.

``POST /integrations/woocommerce/<shop token>`` takes WooCommerce ``order.created`` and
``order.updated`` deliveries (and the unsigned ping). This module only translates HTTP to calls on :mod:`fleet.integrations`; a failed call rolls
its transaction back, so a rejected request stores nothing.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from fleet.integrations import woocommerce
from fleet.web import services

log = logging.getLogger(__name__)

bp = Blueprint("shop_webhooks", __name__)


@bp.post("/integrations/woocommerce/<token>")
def woocommerce_delivery(token: str) -> tuple[Response, int]:
    container = services()
    with container.db.session() as session:
        result = woocommerce.receive_delivery(session, token, request.headers, request.get_data(),
                                              container.settings.order_ttl_minutes)
    # WooCommerce counts any 2xx as delivered (and needs exactly 200 for the ping).
    return jsonify(result.to_dict()), 200
