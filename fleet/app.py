"""Composition root: ``create_app`` wires configuration, storage, workers, the API, protocols and pages."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from apiflask import APIFlask
from flask import redirect

from fleet import operator_alerts
from fleet.config import Settings, load_settings
from fleet.db import Database, upgrade
from fleet.events import EventBus
from fleet.health import Presence
from fleet.notifications.delivery import OutboxWorker
from fleet.poll_cache import PrinterCache, WorkIndex
from fleet.receipts.encode_escpos import prepare_escpos_cache
from fleet.services import Services
from fleet.web import EXTENSION_KEY, install_error_handlers

log = logging.getLogger(__name__)

#: Where the dashboards blueprint serves the vendored Swagger UI files.
SWAGGER_UI = "/dashboard/static/vendor/swagger-ui"


def configure_logging(level: str) -> None:
    """Log to stderr with timestamps; python-escpos configures the root logger at import, so do it first."""
    root = logging.getLogger()
    if not any(getattr(handler, "_printfleet", False) for handler in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._printfleet = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def create_app(config: Settings | Mapping[str, Any] | None = None, start_workers: bool | None = None) -> APIFlask:
    """Build the application.

    ``config`` is a Settings object or overrides on top of the environment. ``start_workers`` starts the
    scheduler and the outbox worker; by default they follow the settings.
    """
    settings = config if isinstance(config, Settings) else load_settings(overrides=config)
    prepare_escpos_cache()
    configure_logging(settings.log_level)

    app = APIFlask("printfleet", title="printfleet API", version="1.0", spec_path="/api/v1/openapi.json",
                   docs_path="/api/v1/docs", docs_ui="swagger-ui")
    app.config.update(
        SECRET_KEY=settings.secret_key or os.urandom(32).hex(),
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        # Swagger UI from the npm lockfile, served locally, so /api/v1/docs works without internet access.
        SWAGGER_UI_CSS=f"{SWAGGER_UI}/swagger-ui.css",
        SWAGGER_UI_BUNDLE_JS=f"{SWAGGER_UI}/swagger-ui-bundle.js",
        SWAGGER_UI_STANDALONE_PRESET_JS=f"{SWAGGER_UI}/swagger-ui-standalone-preset.js",
        JSON_SORT_KEYS=False,
        INFO={"description": "Send orders to printers, follow them through printing and the staff's decision, "
                             "and manage the printers. Authenticate with `Authorization: Bearer <api key>`."},
    )

    db = Database(settings.database_url)
    upgrade(db.engine)
    # Reads on SQLite need no write lock, so they get an engine without BEGIN IMMEDIATE.
    read_db = Database(settings.database_url, write_lock=False) if db.dialect == "sqlite" else db
    bus = EventBus()
    bus.attach(db.sessions)
    container = Services(settings=settings, db=db, bus=bus, presence=Presence(),
                         outbox=OutboxWorker(db, settings, read_db=read_db), read_db=read_db,
                         printer_cache=PrinterCache(), work_index=WorkIndex(read_db))
    app.extensions[EXTENSION_KEY] = container
    install_error_handlers(app)
    bus.subscribe("outbox.enqueued", container.outbox.wake)
    operator_alerts.attach(db.sessions)
    _install_snmp(container)
    from fleet.remote_handlers import install_remote_handlers

    install_remote_handlers(container)
    from protocols.cloudprnt_actions import install as install_cloudprnt_actions

    install_cloudprnt_actions(container)
    bus.subscribe("printer.", container.printer_cache.on_event)
    bus.subscribe("job.queued", container.work_index.on_event)

    _register_blueprints(app)

    run_workers = start_workers if start_workers is not None else True
    if run_workers and settings.mqtt_active:
        from protocols.mqtt.service import start_mqtt

        start_mqtt(container)
    if run_workers and settings.outbox_worker_enabled:
        container.outbox.start()
    if run_workers:
        from fleet.bulk import start_runner

        start_runner(container)
    from dashboards import init_dashboards

    init_dashboards(app, container, run_workers)
    from protocols.cloudprnt_fastpath import IdlePollFastPath

    # Outermost, so idle CloudPRNT polls skip Socket.IO's middleware and Flask entirely.
    app.wsgi_app = IdlePollFastPath(app.wsgi_app, container)  # type: ignore[method-assign]
    if run_workers and settings.scheduler_enabled:
        from fleet.scheduler import Scheduler

        scheduler = Scheduler(container)
        scheduler.start()
        container.extras["scheduler"] = scheduler
        _schedule_snmp(container, scheduler)
        from fleet.notifications.waiting import schedule_waiting_check

        schedule_waiting_check(scheduler)
        from fleet.integrations.reconcile import schedule_reconciliation

        schedule_reconciliation(scheduler, settings.woocommerce_reconcile_minutes)
    log.info("printfleet app ready env=%s database=%s", settings.env, db.dialect)
    return app


def _register_blueprints(app: APIFlask) -> None:
    from fleet.api import api
    from protocols.cloudprnt_http import bp as cloudprnt_bp
    from protocols.device_http import bp as device_http_bp
    from protocols.epson_sdp import bp as epson_bp
    from protocols.goodcom import bp as goodcom_bp
    from protocols.shop_webhooks import bp as shop_webhooks_bp

    app.register_blueprint(api)
    app.register_blueprint(cloudprnt_bp)
    app.register_blueprint(device_http_bp)
    app.register_blueprint(goodcom_bp)
    app.register_blueprint(epson_bp)
    app.register_blueprint(shop_webhooks_bp)
    _hide_protocols_from_spec(app)
    app.add_url_rule("/", "root", _root_redirect)


def _install_snmp(container: Services) -> None:
    try:
        from protocols.snmp.fleet_poller import install
    except ImportError as err:  # pysnmp is optional at run time
        log.warning("SNMP printers unavailable: %s", err)
        return
    install(container)


def _schedule_snmp(container: Services, scheduler: Any) -> None:
    if "snmp_backend" in container.extras:
        from protocols.snmp.fleet_poller import schedule

        schedule(scheduler)


def _root_redirect() -> Any:
    return redirect("/dashboard/")


def _hide_protocols_from_spec(app: APIFlask) -> None:
    @app.spec_processor
    def _only_api(spec: dict[str, Any]) -> dict[str, Any]:
        spec["paths"] = {path: item for path, item in spec.get("paths", {}).items() if path.startswith("/api/v1")}
        return spec


def shutdown(app: APIFlask) -> None:
    """Stop the workers and close the database pools of ``app``."""
    container: Services = app.extensions[EXTENSION_KEY]
    mqtt = container.extras.pop("mqtt", None)
    if mqtt is not None:
        mqtt.stop()
    scheduler = container.extras.get("scheduler")
    if scheduler is not None:
        scheduler.shutdown()
    snmp_backend = container.extras.get("snmp_backend")
    if snmp_backend is not None:
        snmp_backend.close()
    bulk_runner = container.extras.get("bulk_runner")
    if bulk_runner is not None:
        bulk_runner.stop()
    container.outbox.stop()
    from dashboards import stop_dashboards

    stop_dashboards(container)
    with container.db.session() as session:
        container.presence.flush(session)
    container.db.dispose()
    if container.read_db is not container.db:
        container.read_db.dispose()
