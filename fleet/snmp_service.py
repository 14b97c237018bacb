"""SNMP printers in the fleet: registration with a probe, the poll schedule, health readings and SETs.

The core never talks SNMP itself. The composition root installs an :class:`SnmpBackend` (the
pysnmp adapter in ``protocols.snmp.fleet_poller``) with :func:`install_backend`. This module
calls the backend for probes, SETs and resets. The adapter calls :func:`claim_due_printers`
before each poll batch and :func:`apply_poll_results` after it.

Credentials (community, v3 keys) stay in ``printer_snmp.secret``; they are never logged and the
API shows them as ``***``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from firmware_profiles.loader import Identity, Profile, match_profile
from fleet.errors import FleetError, InvalidInput, NotFound
from fleet.events import PENDING_KEY, queue_event
from fleet.health import HealthReading, Transition, apply_reading
from fleet.models import HealthEvent, Printer, utcnow
from fleet.snmp_models import PrinterSnmp

if TYPE_CHECKING:
    from fleet.services import Services

log = logging.getLogger(__name__)

BACKEND_KEY = "snmp_backend"
UNREACHABLE = "unreachable"
MASK = "***"
#: A reachable printer whose health did not change still gets a HealthSnapshot this often.
SNAPSHOT_INTERVAL = timedelta(minutes=15)
#: Detail keys that change on every poll and do not count as a change of health.
_VOLATILE_DETAIL_KEYS = frozenset({"uptime_ticks", "rebooted"})

#: Objects ``POST /printers/{id}/snmp/set`` may write.
IDENTITY_OBJECTS = ("sysName", "sysLocation", "sysContact")
RESET_OBJECT = "prtGeneralReset"
#: prtGeneralReset values (PrtGeneralResetTC, RFC 3805).
RESET_MODES = {"powerCycleReset": 4, "resetToNVRAM": 5, "resetToFactoryDefaults": 6}
_MAX_IDENTITY_LENGTH = 255


class SnmpUnavailable(FleetError):
    status = 503
    code = "snmp_unavailable"


class SnmpPrinterUnreachable(FleetError):
    status = 504
    code = "printer_unreachable"


class SnmpCommandFailed(FleetError):
    status = 502
    code = "snmp_command_failed"


@dataclass(frozen=True)
class SnmpConfig:
    """Everything an adapter needs to reach one printer. ``secret`` is kept out of repr."""

    printer_id: int | None
    host: str
    port: int
    version: str
    secret: dict[str, Any] = field(repr=False)
    full_walk_interval_seconds: int = 900
    supply_low_percent: float = 10.0
    printer_index: int | None = None


@dataclass(frozen=True)
class SnmpObservation:
    """One poll of one printer as the adapter decoded it: plain data, no SNMP types.

    ``detail`` is the decoded health document; ``identity`` has vendor, model, serial_number, mac,
    sys_object_id and sys_descr; ``error`` names why an unreachable printer did not answer.
    """

    reachable: bool
    error: str | None = None
    conditions: frozenset[str] = frozenset()
    detail: dict[str, Any] = field(default_factory=dict)
    identity: dict[str, Any] = field(default_factory=dict)
    printer_index: int | None = None
    rebooted: bool = False


@dataclass(frozen=True)
class SetOutcome:
    """Before and after values of a confirmed SET; ``after`` is the read-back value."""

    object: str
    before: str | int | None
    after: str | int | None
    status: str = "confirmed"


class SnmpBackend(Protocol):
    """What the SNMP adapter offers the core. Methods block the calling thread.

    ``probe`` and ``poll`` never raise for an unreachable printer: they return an observation with
    ``reachable=False``. ``set_identity`` and ``reset`` raise :class:`SnmpCommandFailed` or
    :class:`SnmpPrinterUnreachable` with a message naming the object and the fix.
    """

    def probe(self, config: SnmpConfig) -> SnmpObservation: ...

    def poll(self, configs: list[SnmpConfig]) -> list[SnmpObservation]: ...

    def set_identity(self, config: SnmpConfig, name: str, value: str) -> SetOutcome: ...

    def reset(self, config: SnmpConfig, mode: str) -> SetOutcome: ...

    def forget(self, printer_id: int) -> None: ...

    def close(self) -> None: ...


def install_backend(services: Services, backend: SnmpBackend) -> None:
    """Register the SNMP adapter for this app instance."""
    services.extras[BACKEND_KEY] = backend


def get_backend(services: Services) -> SnmpBackend:
    backend = services.extras.get(BACKEND_KEY)
    if backend is None:
        raise SnmpUnavailable("SNMP support is not installed in this process; install pysnmp and snmpsim extras "
                              "and restart printfleet")
    return backend  # type: ignore[no-any-return]


# -- registration ----------------------------------------------------------------------------------


def config_from_input(data: dict[str, Any], printer_id: int | None = None) -> SnmpConfig:
    """Build a config from the validated API ``snmp`` object (see ``SnmpIn``)."""
    if data["version"] == "3":
        secret: dict[str, Any] = {"v3": dict(data["v3"])}
    else:
        secret = {"community": data["community"]}
    return SnmpConfig(
        printer_id=printer_id, host=data["host"], port=int(data["port"]), version=data["version"], secret=secret,
        full_walk_interval_seconds=int(data["full_walk_interval_seconds"]),
        supply_low_percent=float(data["supply_low_percent"]),
    )


def config_of(row: PrinterSnmp) -> SnmpConfig:
    return SnmpConfig(
        printer_id=row.printer_id, host=row.host, port=row.port, version=row.version, secret=dict(row.secret),
        full_walk_interval_seconds=row.full_walk_interval_seconds, supply_low_percent=row.supply_low_percent,
        printer_index=row.printer_index,
    )


@dataclass(frozen=True)
class PendingRegistration:
    """An SNMP printer probed before its registration transaction opens."""

    data: dict[str, Any] = field(repr=False)
    observation: SnmpObservation


def prepare_registration(services: Services, protocol: str, snmp: dict[str, Any] | None) -> PendingRegistration | None:
    """Check the ``snmp`` object against ``protocol`` and probe the printer once.

    Runs before the registration transaction, so a slow or silent printer does not hold a
    database write lock. Returns None for other protocols.
    """
    if protocol != "snmp":
        if snmp is not None:
            raise InvalidInput("snmp", f"the snmp object is only for protocol 'snmp', not {protocol!r}; drop it")
        return None
    if snmp is None:
        raise InvalidInput("snmp", "snmp printers need an snmp object with at least host and community "
                           "(or version 3 and a v3 user)")
    observation = get_backend(services).probe(config_from_input(snmp))
    return PendingRegistration(snmp, observation)


def complete_registration(session: Session, printer: Printer, pending: PendingRegistration, now: datetime | None = None) -> PrinterSnmp:
    """Store the SNMP access of a just-registered printer and apply its probe as the first reading."""
    now = now or utcnow()
    data = pending.data
    config = config_from_input(data, printer.id)
    row = PrinterSnmp(
        printer_id=printer.id, host=config.host, port=config.port, version=config.version, secret=config.secret,
        poll_interval_seconds=int(data["poll_interval_seconds"]),
        full_walk_interval_seconds=config.full_walk_interval_seconds,
        supply_low_percent=config.supply_low_percent,
        next_poll_at=now + timedelta(seconds=int(data["poll_interval_seconds"])),
    )
    session.add(row)
    session.flush()
    apply_observation(session, printer, row, pending.observation, now)
    log.info("snmp printer registered printer=%s host=%s port=%s version=%s reachable=%s model=%r",
             printer.id, row.host, row.port, row.version, pending.observation.reachable, row.model)
    return row


# -- polling ---------------------------------------------------------------------------------------


def claim_due_printers(session: Session, now: datetime | None = None, limit: int = 500) -> list[SnmpConfig]:
    """Return the SNMP printers whose poll interval elapsed and move their next poll forward.

    Moving ``next_poll_at`` in the same transaction means a slow batch is not handed out twice.
    """
    now = now or utcnow()
    rows = session.execute(
        select(PrinterSnmp, Printer)
        .join(Printer, Printer.id == PrinterSnmp.printer_id)
        .where(PrinterSnmp.next_poll_at <= now, Printer.deleted_at.is_(None), Printer.protocol == "snmp")
        .order_by(PrinterSnmp.next_poll_at)
        .limit(limit)
    ).all()
    configs = []
    for row, _printer in rows:
        row.next_poll_at = now + timedelta(seconds=row.poll_interval_seconds)
        configs.append(config_of(row))
    return configs


def apply_poll_results(session: Session, results: list[tuple[int, SnmpObservation]], now: datetime | None = None) -> int:
    """Apply a batch of observations; one printer's failure is logged and does not stop the rest."""
    now = now or utcnow()
    applied = 0
    for printer_id, observation in results:
        printer = session.get(Printer, printer_id)
        row = session.get(PrinterSnmp, printer_id)
        if printer is None or row is None or printer.deleted_at is not None:
            continue
        # Bus events queued inside a savepoint that rolls back must not be published or alerted.
        pending = session.info.setdefault(PENDING_KEY, [])
        mark = len(pending)
        try:
            with session.begin_nested():
                apply_observation(session, printer, row, observation, now)
            applied += 1
        except Exception:
            del pending[mark:]
            log.exception("snmp poll result not stored printer=%s", printer_id)
    return applied


def apply_observation(session: Session, printer: Printer, row: PrinterSnmp, observation: SnmpObservation,
                      now: datetime) -> list[Transition]:
    """Turn one observation into a health reading, identity updates and a ``rebooted`` event.

    Returns the health transitions of the reading.
    """
    row.last_polled_at = now
    if observation.reachable:
        reading = HealthReading(online=True, conditions=observation.conditions, status_code=None,
                                detail=observation.detail)
        changed = _detail_changed(printer.health_detail or {}, observation.detail)
        row.last_error = None
        _update_identity(session, printer, row, observation)
    else:
        # Conditions seen before the printer went silent are kept (their state is unknown), so the
        # outage itself does not clear and re-raise them.
        conditions = frozenset(printer.conditions or []) | {UNREACHABLE}
        reading = HealthReading(online=False, conditions=conditions, status_code=observation.error)
        changed = False
        row.last_error = observation.error

    due = row.last_snapshot_at is None or now - row.last_snapshot_at >= SNAPSHOT_INTERVAL
    events = apply_reading(session, printer, reading, now, snapshot=changed or due)
    if events or changed or due:
        row.last_snapshot_at = now

    if observation.rebooted:
        uptime = observation.detail.get("uptime_ticks")
        session.add(HealthEvent(printer_id=printer.id, at=now, kind="rebooted", detail={"uptime_ticks": uptime}))
        queue_event(session, "printer.rebooted", printer.account_id, printer_id=printer.id)
        log.info("printer health printer=%s event=rebooted uptime_ticks=%s", printer.id, uptime)
    log.debug("snmp reading stored printer=%s reachable=%s conditions=%s events=%d",
              printer.id, observation.reachable, ",".join(sorted(reading.conditions)) or "-", len(events))
    return events


def _detail_changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    def stable(detail: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in detail.items() if key not in _VOLATILE_DETAIL_KEYS}

    return stable(before) != stable(after)


def _update_identity(session: Session, printer: Printer, row: PrinterSnmp, observation: SnmpObservation) -> None:
    identity = observation.identity
    if observation.printer_index is not None:
        row.printer_index = observation.printer_index
    row.vendor = identity.get("vendor") or row.vendor
    row.model = identity.get("model") or row.model
    row.serial_number = identity.get("serial_number") or row.serial_number
    row.sys_object_id = identity.get("sys_object_id") or row.sys_object_id
    mac = identity.get("mac")
    if mac and mac != row.mac:
        row.mac = mac
        _claim_printer_mac(session, printer, mac)
    if printer.profile is None:
        profile = match_snmp_profile(row.sys_object_id or "", str(identity.get("sys_descr") or ""))
        if profile is not None:
            printer.profile = profile.name
            log.info("printer profile recognised printer=%s profile=%s", printer.id, profile.name)


def _claim_printer_mac(session: Session, printer: Printer, mac: str) -> None:
    """Show the MAC on the printer unless another printer of the account already has it."""
    taken = session.scalars(
        select(Printer.id).where(Printer.account_id == printer.account_id, Printer.mac == mac, Printer.id != printer.id)
    ).first()
    if taken is None:
        printer.mac = mac
    else:
        log.info("snmp printer MAC already registered printer=%s mac=%s other=%s", printer.id, mac, taken)


def match_snmp_profile(sys_object_id: str, sys_descr: str) -> Profile | None:
    """Return the firmware profile that best fits the printer's sysObjectID and descriptions, if any."""
    identity = Identity(sys_object_id=sys_object_id or None, descriptions=(sys_descr,) if sys_descr else ())
    return match_profile(identity)


# -- views -----------------------------------------------------------------------------------------


def get_snmp_row(session: Session, printer_id: int) -> PrinterSnmp | None:
    return session.get(PrinterSnmp, printer_id)


def config_view(row: PrinterSnmp) -> dict[str, Any]:
    """Return the SNMP access of a printer with every secret replaced by ``***``."""
    view: dict[str, Any] = {
        "host": row.host, "port": row.port, "version": row.version,
        "poll_interval_seconds": row.poll_interval_seconds,
        "full_walk_interval_seconds": row.full_walk_interval_seconds,
        "supply_low_percent": row.supply_low_percent,
    }
    v3 = (row.secret or {}).get("v3")
    if v3:
        view["v3"] = {"user": v3.get("user"), "auth_protocol": v3.get("auth_protocol"), "auth_key": MASK,
                      "priv_protocol": v3.get("priv_protocol"), "priv_key": MASK}
    else:
        view["community"] = MASK
    return view


def identity_view(row: PrinterSnmp) -> dict[str, Any]:
    return {"vendor": row.vendor, "model": row.model, "serial_number": row.serial_number, "mac": row.mac,
            "sys_object_id": row.sys_object_id, "printer_index": row.printer_index}


def supply_state(supply: dict[str, Any], low_percent: float) -> str:
    """Classify a decoded supply: ``ok``, ``low``, ``empty``, ``full`` (receptacle), ``some_remaining`` or ``unknown``."""
    level_state = supply.get("level_state")
    percent = supply.get("percent")
    if level_state == "some_remaining":
        return "some_remaining"
    if level_state != "measured" or percent is None:
        return "unknown"
    if supply.get("is_receptacle"):
        fill = supply.get("fill_percent")
        return "full" if fill is not None and fill >= 95.0 else "ok"
    if percent <= 0:
        return "empty"
    return "low" if percent < low_percent else "ok"


# -- SET and reset ---------------------------------------------------------------------------------


def _load_for_command(services: Services, printer_id: int, account_id: int | None) -> SnmpConfig:
    with services.read_db.session() as session:
        printer = session.get(Printer, printer_id)
        if printer is None or printer.deleted_at is not None or (account_id is not None and printer.account_id != account_id):
            raise NotFound(f"printer {printer_id} does not exist in this account")
        row = session.get(PrinterSnmp, printer_id)
        if printer.protocol != "snmp" or row is None:
            raise InvalidInput("printer_id", f"printer {printer_id} uses protocol {printer.protocol!r}; "
                               "SNMP SETs work only on printers registered with protocol 'snmp'")
        return config_of(row)


def set_object(services: Services, printer_id: int, name: str, value: str, account_id: int | None = None) -> SetOutcome:
    """Write ``name`` (sysName, sysLocation, sysContact or prtGeneralReset) and confirm it by reading back."""
    if name == RESET_OBJECT:
        return reboot(printer_id, account_id=account_id, mode=value, services=services)
    if name not in IDENTITY_OBJECTS:
        allowed = ", ".join((*IDENTITY_OBJECTS, RESET_OBJECT))
        raise InvalidInput("object", f"object {name!r} cannot be set; use one of {allowed}")
    if len(value) > _MAX_IDENTITY_LENGTH:
        raise InvalidInput("value", f"{name} is at most {_MAX_IDENTITY_LENGTH} characters (SnmpAdminString); "
                           f"got {len(value)}")
    config = _load_for_command(services, printer_id, account_id)
    outcome = get_backend(services).set_identity(config, name, value)
    log.info("snmp object set printer=%s object=%s", printer_id, name)
    return outcome


def reboot(printer_id: int, *, account_id: int | None = None, mode: str = "powerCycleReset",
           services: Services | None = None) -> SetOutcome:
    """Restart an SNMP printer by writing prtGeneralReset (``mode`` names a PrtGeneralResetTC value).

    ``services`` defaults to the current Flask app's. Returns ``status`` ``confirmed`` or
    ``no_answer`` (the printer stopped answering because it is already restarting).
    """
    if mode not in RESET_MODES:
        raise InvalidInput("value", f"prtGeneralReset value {mode!r} is invalid; use one of {', '.join(RESET_MODES)}")
    if services is None:
        from fleet.web import services as current_services

        services = current_services()
    config = _load_for_command(services, printer_id, account_id)
    if config.printer_index is None:
        raise SnmpPrinterUnreachable(f"printer {printer_id} has not answered a poll yet, so its hrDeviceIndex for "
                                     "prtGeneralReset is unknown; wait for it to come online and retry")
    outcome = get_backend(services).reset(config, mode)
    log.info("snmp printer reset printer=%s mode=%s status=%s", printer_id, mode, outcome.status)
    return outcome
