"""Broker logins for printers and agents that speak the printfleet device protocol over MQTT."""

from __future__ import annotations

from typing import Any

from fleet import mqtt_devices, printers
from fleet.api import api, auth, current_account
from fleet.web import base_url, services


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
    broker = settings.mqtt_url or f"mqtt://{settings.mqtt_host}:{settings.mqtt_port}"
    return {
        "printer_id": printer_id, "username": credentials.username, "password": credentials.password,
        "broker_url": broker, "topic_prefix": f"printfleet/v1/devices/{credentials.username}/",
        "http_fallback_url": f"{base_url()}/device/v1",
    }, 201
