"""Health endpoints: decoded printer health, health timeline with snapshots, SNMP SET, operator alert settings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictStr
from sqlalchemy import select

from fleet import operator_alerts, printers, snmp_service
from fleet.api import api, auth, current_account
from fleet.api.schemas import AwareDatetime, Strict
from fleet.errors import NotFound
from fleet.health import Presence, health_view
from fleet.models import HealthEvent, HealthSnapshot, Printer
from fleet.snmp_models import PrinterSnmp
from fleet.web import services


class TimelineQuery(Strict):
    since: AwareDatetime | None = Field(
        default=None, description="Only entries at or after this ISO 8601 time (with an offset)")
    include: Literal["snapshots"] | None = Field(default=None, description="'snapshots' adds health snapshots")
    limit: int = Field(default=200, ge=1, le=2000)


class SnmpSetIn(Strict):
    object: Literal["sysName", "sysLocation", "sysContact", "prtGeneralReset"]
    value: StrictStr = Field(max_length=255, description="Text for sys*, or powerCycleReset, resetToNVRAM, "
                             "resetToFactoryDefaults for prtGeneralReset")


def _webhook_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("operator_webhook_url must be an absolute http:// or https:// URL")
    return value


class AlertSettingsIn(Strict):
    operator_email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    operator_webhook_url: Annotated[str | None, AfterValidator(_webhook_url)] = Field(default=None, max_length=2048)


@api.get("/printers/<int:printer_id>/health")
@api.auth_required(auth)
@api.doc(summary="Decoded health of a printer: supplies, trays, covers, alerts, counters, identity",
         responses=[401, 404])
def printer_health(printer_id: int) -> dict[str, Any]:
    account = current_account()
    container = services()
    with container.read_db.session() as session:
        printer = printers.get_printer(session, account.id, printer_id)
        row = snmp_service.get_snmp_row(session, printer_id) if printer.protocol == "snmp" else None
        return health_document(printer, row, container.presence)


def offline_reason(printer: Printer, last_seen_at: str | None) -> str | None:
    """Say why ``printer`` is offline: its status code, else its conditions, else whether it was ever seen."""
    if printer.online:
        return None
    if printer.status_code:
        return printer.status_code
    if printer.conditions:
        return ", ".join(printer.conditions)
    return "never_seen" if last_seen_at is None else "stopped_reporting"


def health_document(printer: Printer, row: PrinterSnmp | None, presence: Presence | None) -> dict[str, Any]:
    """Return the health endpoint's document; SNMP printers get their decoded tables, others the stored detail."""
    base = health_view(printer, presence)
    document: dict[str, Any] = {"printer_id": printer.id, "protocol": printer.protocol, **base}
    document["offline_reason"] = offline_reason(printer, base["last_seen_at"])
    if row is None:
        return document

    detail = printer.health_detail or {}
    low = row.supply_low_percent
    document.pop("detail")
    document.update({
        "identity": {**snmp_service.identity_view(row), **_identity_text(detail)},
        "supplies": [_supply(supply, low) for supply in detail.get("supplies", [])],
        "trays": [_tray(tray) for tray in detail.get("inputs", [])],
        "covers": detail.get("covers", []),
        "alerts": detail.get("alerts", []),
        "counters": detail.get("counters", []),
        "console_lines": detail.get("console_lines", []),
        "device_status": detail.get("device_status"),
        "printer_status": detail.get("printer_status"),
        "error_state": detail.get("error_state"),
        "uptime_ticks": detail.get("uptime_ticks"),
        "poll_interval_seconds": row.poll_interval_seconds,
        "last_polled_at": row.last_polled_at.isoformat() if row.last_polled_at else None,
        "snmp": snmp_service.config_view(row),
    })
    return document


def _identity_text(detail: dict[str, Any]) -> dict[str, Any]:
    identity = detail.get("identity") or {}
    return {key: identity.get(key) for key in ("sys_descr", "sys_name", "sys_location", "sys_contact")}


def _enum_name(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    return str(value["name"]) if value.get("known") else f"unknown({value['value']})"


def _supply(supply: dict[str, Any], low_percent: float) -> dict[str, Any]:
    return {
        "index": supply.get("index"),
        "description": supply.get("description"),
        "type": _enum_name(supply.get("supply_type")),
        "class": _enum_name(supply.get("supply_class")),
        "unit": _enum_name(supply.get("unit")),
        "colorant": supply.get("colorant"),
        "level": supply.get("level"),
        "max": supply.get("max_capacity"),
        "percent": supply.get("percent"),
        "fill_percent": supply.get("fill_percent"),
        "is_receptacle": supply.get("is_receptacle", False),
        "state": snmp_service.supply_state(supply, low_percent),
    }


def _tray(tray: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": tray.get("index"),
        "name": tray.get("name") or tray.get("description"),
        "media_name": tray.get("media_name"),
        "type": _enum_name(tray.get("input_type")),
        "unit": _enum_name(tray.get("capacity_unit")),
        "level": tray.get("current_level"),
        "max": tray.get("max_capacity"),
        "percent": tray.get("percent"),
        "state": _tray_state(tray),
    }


def _tray_state(tray: dict[str, Any]) -> str:
    if tray.get("level_state") == "some_remaining":
        return "some_remaining"
    percent = tray.get("percent")
    if percent is None:
        return "unknown"
    return "empty" if percent <= 0 else "ok"


@api.get("/printers/<int:printer_id>/health/timeline")
@api.auth_required(auth)
@api.input(TimelineQuery, location="query", arg_name="query")
@api.doc(summary="Health transitions (and snapshots with include=snapshots) since a time, newest first",
         responses=[401, 404, 422])
def printer_health_timeline(printer_id: int, query: TimelineQuery) -> dict[str, Any]:
    account = current_account()
    with services().read_db.session() as session:
        printers.get_printer(session, account.id, printer_id)
        events = select(HealthEvent).where(HealthEvent.printer_id == printer_id)
        if query.since is not None:
            events = events.where(HealthEvent.at >= query.since)
        rows = session.scalars(events.order_by(HealthEvent.id.desc()).limit(query.limit))
        document: dict[str, Any] = {"events": [
            {"id": e.id, "at": e.at.isoformat(), "kind": e.kind, "condition": e.condition, "detail": e.detail}
            for e in rows
        ]}
        if query.include == "snapshots":
            snapshots = select(HealthSnapshot).where(HealthSnapshot.printer_id == printer_id)
            if query.since is not None:
                snapshots = snapshots.where(HealthSnapshot.at >= query.since)
            document["snapshots"] = [
                {"id": s.id, "at": s.at.isoformat(), "online": s.online, "conditions": s.conditions, "detail": s.detail}
                for s in session.scalars(snapshots.order_by(HealthSnapshot.id.desc()).limit(query.limit))
            ]
        return document


@api.get("/printers/<int:printer_id>/snmp")
@api.auth_required(auth)
@api.doc(summary="SNMP access and identity of a printer; secrets are shown as ***", responses=[401, 404, 422])
def printer_snmp_config(printer_id: int) -> dict[str, Any]:
    account = current_account()
    with services().read_db.session() as session:
        printer = printers.get_printer(session, account.id, printer_id)
        row = snmp_service.get_snmp_row(session, printer.id)
        if row is None:
            raise NotFound(f"printer {printer_id} is a {printer.protocol} printer and has no SNMP settings")
        return {**snmp_service.config_view(row), "identity": snmp_service.identity_view(row),
                "last_error": row.last_error}


@api.post("/printers/<int:printer_id>/snmp/set")
@api.auth_required(auth)
@api.input(SnmpSetIn, arg_name="body")
@api.doc(summary="Write sysName, sysLocation, sysContact or prtGeneralReset and confirm by reading back",
         responses=[401, 404, 422, 502, 504])
def printer_snmp_set(printer_id: int, body: SnmpSetIn) -> dict[str, Any]:
    account = current_account()
    outcome = snmp_service.set_object(services(), printer_id, body.object, body.value, account_id=account.id)
    return {"printer_id": printer_id, "object": outcome.object, "before": outcome.before, "after": outcome.after,
            "status": outcome.status}


@api.get("/alert-settings")
@api.auth_required(auth)
@api.doc(summary="Where operators hear about printer health transitions", responses=[401])
def get_alert_settings() -> dict[str, Any]:
    account = current_account()
    with services().read_db.session() as session:
        return operator_alerts.get_settings(session, account.id)


@api.put("/alert-settings")
@api.auth_required(auth)
@api.input(AlertSettingsIn, arg_name="body")
@api.doc(summary="Set the operator email and webhook URL; null turns a channel off", responses=[401, 422])
def put_alert_settings(body: AlertSettingsIn) -> dict[str, Any]:
    account = current_account()
    with services().db.session() as session:
        return operator_alerts.put_settings(session, account.id, body.operator_email, body.operator_webhook_url)
