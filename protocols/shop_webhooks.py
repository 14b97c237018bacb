"""Order intake straight from shops: WooCommerce webhooks and the PrinterCo-compatible form API.

``POST /integrations/woocommerce/<shop token>`` takes WooCommerce ``order.created`` and
``order.updated`` deliveries (and the unsigned ping). ``POST /api/submitorderext`` and
``POST /submitorderext.php`` take PrinterCo ``submitorderext`` form posts and respond in PrinterCo's
XML. This module only translates HTTP to calls on :mod:`fleet.integrations`; a failed call rolls
its transaction back, so a rejected request stores nothing.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from fleet.errors import FleetError
from fleet.integrations import printerco, woocommerce
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


@bp.post("/api/submitorderext")
@bp.post("/submitorderext.php")
def printerco_submit() -> Response:
    container = services()
    fields = request.form.to_dict(flat=True)
    try:
        with container.db.session() as session:
            result = printerco.submit_order(session, fields, container.settings.order_ttl_minutes)
    except FleetError as err:
        log.info("printerco order rejected status=%s code=%s: %s", err.status, err.code, err.message)
        return Response(printerco.failed_xml(err.message), status=err.status, mimetype="text/xml")
    return Response(printerco.ok_xml(result), status=200, mimetype="text/xml")
