"""Serialise models into the API's response documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import object_session

from fleet.health import Presence, health_view
from fleet.models import Account, Job, Order, OrderEvent, Printer
from fleet.snmp_models import PrinterSnmp
from fleet.snmp_service import config_view
from fleet.states import OrderState, allowed_actions


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def device_config(printer: Printer, account: Account, base: str, password: str | None = None) -> dict[str, Any]:
    """What an installer enters on the printer for ``printer`` to reach this service."""
    if printer.protocol == "cloudprnt":
        return {"cloudprnt_url": f"{base}/cloudprnt/{account.device_key}/poll", "mac": printer.mac}
    if printer.protocol == "goodcom":
        config: dict[str, Any] = {
            "order_url": f"{base}/goodcom/order", "callback_url": f"{base}/goodcom/callback",
            "account": account.goodcom_code, "user": printer.device_user,
        }
        config["password"] = password if password else "(shown once at registration)"
        return config
    if printer.protocol == "epson_sdp":
        return {"server_direct_print_url": f"{base}/epson/{account.device_key}", "id": printer.device_user,
                "digest_user": printer.device_user,
                "digest_password": password if password else "(shown once at registration)"}
    if printer.protocol == "snmp":
        session = object_session(printer)
        row = session.get(PrinterSnmp, printer.id) if session is not None else None
        return {"snmp": config_view(row)} if row is not None else {}
    if printer.protocol == "device_mqtt":
        return {"device_credentials_url": f"{base}/api/v1/printers/{printer.id}/device-credentials",
                "next_step": "POST to device_credentials_url for the broker login of the agent or device"}
    return {}


def printer_view(printer: Printer, account: Account, base: str, presence: Presence | None = None,
                 password: str | None = None) -> dict[str, Any]:
    return {
        "id": printer.id, "name": printer.name, "protocol": printer.protocol, "mac": printer.mac,
        "settings": printer.settings or {}, "client_info": printer.client_info or {},
        "health": health_view(printer, presence),
        "device": device_config(printer, account, base, password),
        "created_at": _iso(printer.created_at),
    }


def job_view(job: Job) -> dict[str, Any]:
    return {
        "id": job.id, "printer_id": job.printer_id, "kind": job.kind, "state": job.state, "copies": job.copies,
        "media_type": job.media_type, "result_code": job.result_code, "fetch_count": job.fetch_count,
        "created_at": _iso(job.created_at), "fetched_at": _iso(job.fetched_at), "finished_at": _iso(job.finished_at),
    }


def history_view(event: OrderEvent) -> dict[str, Any]:
    return {"at": _iso(event.at), "event": event.event, "from_status": event.from_status, "to_status": event.to_status,
            "source": event.source, "job_id": event.job_id, "detail": event.detail or {}}


def order_view(order: Order, base: str, full: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": order.id, "external_id": order.external_id, "status": order.status, "printer_id": order.printer_id,
        "items": order.items, "customer": order.customer, "order_type": order.order_type,
        "requested_time": _iso(order.requested_time), "notes": order.notes, "currency": order.currency,
        "total": f"{order.total:.2f}", "notify_url": order.notify_url, "eta": _iso(order.eta_at),
        "reject_reason": order.reject_reason, "decided_by": order.decided_by,
        "created_at": _iso(order.created_at), "updated_at": _iso(order.updated_at), "expires_at": _iso(order.expires_at),
        "status_url": f"{base}/o/{order.public_id}",
        "allowed_actions": allowed_actions(OrderState(order.status)),
    }
    if full:
        view["jobs"] = [job_view(job) for job in order.jobs]
        view["history"] = [history_view(event) for event in order.history]
    return view
