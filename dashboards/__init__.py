"""Operator and support dashboards, the customer order status page, and their Socket.IO live updates.

``init_dashboards`` is called by the composition root (:func:`fleet.app.create_app`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask
from flask_socketio import SocketIO

from fleet.services import Services

log = logging.getLogger(__name__)

LIVE_KEY = "dashboard_live"


def init_dashboards(app: Flask, container: Services, start_workers: bool) -> SocketIO:
    """Register the pages, set up sessions and Socket.IO, and relay bus events to the sockets."""
    from dashboards import (auth_views, bulk_views, customer, fleet_views, order_views,  # noqa: F401  (routes)
                            remote_views, support_views)
    from dashboards.blueprint import bp, customer_bp
    from dashboards.live import LiveUpdates

    settings = container.settings
    app.config.update(
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.dashboard_session_idle_minutes),
        SESSION_REFRESH_EACH_REQUEST=True,
        SESSION_COOKIE_NAME="printfleet_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings.base_url and settings.base_url.startswith("https://")),
    )
    app.register_blueprint(bp)
    app.register_blueprint(customer_bp)

    # manage_session=False: socket handlers read the same signed-cookie session as the pages.
    socketio = SocketIO(app, async_mode="threading", message_queue=settings.socketio_message_queue,
                        manage_session=False, logger=False, engineio_logger=False)
    live = LiveUpdates(socketio, container.read_db)
    live.register_handlers()
    container.bus.subscribe("", live.handle)
    if start_workers:
        live.start()
    container.extras[LIVE_KEY] = live
    log.info("dashboards ready message_queue=%s", "redis" if settings.socketio_message_queue else "none")
    return socketio


def stop_dashboards(container: Services) -> None:
    """Stop the live relay thread of ``container``'s app."""
    live = container.extras.get(LIVE_KEY)
    if live is not None:
        live.stop()
