"""Broker logins for printers and agents that speak the printfleet device protocol over MQTT."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fleet import mqtt_devices, printers
from fleet.api import api, auth, current_account
from fleet.config import Settings
from fleet.web import base_url, services

_WILDCARD_HOSTS = ("0.0.0.0", "::", "")


@api.post("/printers/<int:printer_id>/device-credentials")
@api.auth_required(auth)
@api.doc(summary="Issue (or rotate) the MQTT login of a device-protocol printer or agent",
         description="The password is in this answer only; issuing again replaces it. Enter the values in "
                     "`printfleet-agent` or the device's MQTT settings.", responses=[401, 404, 422])
def issue_device_credentials(printer_id: int) -> tuple[dict[str, Any], int]:
    account = current_account()
    container = services()
    settings = container.settings
    with container.db.session() as session:
        printer = printers.get_printer(session, account.id, printer_id)
        credentials = mqtt_devices.issue_credentials(session, printer)
    return {
        "printer_id": printer_id, "username": credentials.username, "password": credentials.password,
        "broker_url": device_broker_url(settings), "topic_prefix": f"printfleet/v1/devices/{credentials.username}/",
        "http_fallback_url": f"{base_url()}/device/v1",
    }, 201


def device_broker_url(settings: Settings) -> str:
    """Return the broker URL for devices: the server's own MQTT login is left out, a wildcard address is replaced."""
    if settings.mqtt_url:
        parts = urlsplit(settings.mqtt_url)
        host, port = parts.hostname or "localhost", parts.port or 1883
    else:
        host, port = settings.mqtt_host, settings.mqtt_port
    if host in _WILDCARD_HOSTS:
        # The embedded broker listens on every address, so devices use the host that reached this API.
        host = urlsplit(base_url()).hostname or "localhost"
    return f"mqtt://[{host}]:{port}" if ":" in host else f"mqtt://{host}:{port}"
