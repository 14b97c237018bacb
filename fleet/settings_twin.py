"""Settings twin: desired and reported settings of each printer, with versions, drift and rollback.

The printer's firmware profile defines which settings exist and how each is applied. Server-side
settings (copies, cut, templates, ...) take effect at once in ``printers.settings``, which stays
their store. Device-side settings are stored as desired in the twin and pushed after commit through
the protocol adapter registered in :mod:`fleet.remote`; the value counts as reported when the
printer confirms it, and until then the difference shows as drift.

Every change bumps the printer's desired version; a caller that sends the version it read gets a
409 when someone else changed the settings meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from firmware_profiles.loader import Identity, Profile, ProfileError, get_profile, load_profiles, match_profile
from firmware_profiles.schema import SERVER_SETTINGS, SettingSpec, SettingValueError, version_tuple
from fleet import audit
from fleet.audit import Actor
from fleet.errors import FleetError, InvalidInput
from fleet.events import queue_event
from fleet.models import Printer, utcnow
from fleet.remote import NotSupported, PrinterRef, PushOutcome, RemoteRegistry, SettingPush
from fleet.remote_models import SettingsTwin, SettingsVersion

if TYPE_CHECKING:
    from fleet.services import Services

log = logging.getLogger(__name__)

#: Profile of a printer that reported nothing recognisable, by its registered protocol.
DEFAULT_PROFILES = {"cloudprnt": "star-mc-print3", "goodcom": "goodcom-gt6000", "epson_sdp": "generic-escpos-80mm",
                    "device_mqtt": "generic-escpos-80mm", "snmp": "generic-snmp-printer"}


class VersionConflict(FleetError):
    status = 409
    code = "version_conflict"

    def __init__(self, printer_id: int, sent: int, current: int) -> None:
        super().__init__(f"settings of printer {printer_id} changed since version {sent}; the current version is "
                         f"{current}. Reload the settings and apply your change to version {current}",
                         current_version=current)


@dataclass(frozen=True)
class ResolvedProfile:
    profile: Profile
    #: ``operator`` (chosen by a person), ``recognised`` (stored by a protocol), ``matched`` (from what
    #: the printer reported) or ``default`` (the protocol's default profile).
    source: str


def printer_identity(printer: Printer) -> Identity:
    """Collect what ``printer`` reported about its model from ``client_info``."""
    info = printer.client_info or {}
    descriptions = tuple(str(info[key]) for key in ("sysDescr", "hrDeviceDescr", "prtGeneralPrinterName") if info.get(key))
    return Identity(client_type=info.get("ClientType"), sys_object_id=info.get("sysObjectID"),
                    descriptions=descriptions, device_model=info.get("model"))


def resolve_profile(session: Session, printer: Printer) -> ResolvedProfile:
    """Return the firmware profile of ``printer`` and where the choice came from."""
    twin = session.get(SettingsTwin, printer.id)
    profiles = load_profiles()
    if twin is not None and twin.profile_override in profiles:
        return ResolvedProfile(profiles[twin.profile_override], "operator")
    if printer.profile in profiles:
        return ResolvedProfile(profiles[printer.profile], "recognised")
    matched = match_profile(printer_identity(printer))
    if matched is not None:
        return ResolvedProfile(matched, "matched")
    return ResolvedProfile(get_profile(DEFAULT_PROFILES.get(printer.protocol, "generic-escpos-80mm")), "default")


def printer_settings(profile: Profile, printer: Printer) -> dict[str, SettingSpec]:
    """Return the settings of ``profile`` that apply to ``printer`` (server-side ones filtered by protocol)."""
    specs: dict[str, SettingSpec] = {}
    for name, spec in profile.settings.items():
        only_for = SERVER_SETTINGS.get(name, ()) if spec.apply == "server" else ()
        if only_for and printer.protocol not in only_for:
            continue
        specs[name] = spec
    return specs


def _twin(session: Session, printer: Printer, actor: Actor | None = None) -> SettingsTwin:
    """Return the locked twin row of ``printer``, creating it with version 0 (the settings as found)."""
    twin = session.get(SettingsTwin, printer.id, with_for_update=True)
    if twin is not None:
        return twin
    twin = SettingsTwin(printer_id=printer.id, desired={}, desired_version=0, reported={}, reported_version=0,
                        push_state={})
    try:
        with session.begin_nested():
            session.add(twin)
            session.flush()
    except IntegrityError:
        # Another request created it first; take theirs.
        found = session.get(SettingsTwin, printer.id, with_for_update=True, populate_existing=True)
        assert found is not None
        return found
    specs = printer_settings(resolve_profile(session, printer).profile, printer)
    session.add(SettingsVersion(printer_id=printer.id, version=0, desired=desired_values(printer, twin, specs),
                                changes={}, state="applied", actor=(actor.as_dict() if actor else {"kind": "system"})))
    return twin


def desired_values(printer: Printer, twin: SettingsTwin | None, specs: dict[str, SettingSpec]) -> dict[str, Any]:
    """Return every desired value: server-side from ``printers.settings``, device-side from the twin."""
    stored = printer.settings or {}
    desired: dict[str, Any] = {}
    for name, spec in specs.items():
        if spec.apply == "server":
            desired[name] = _server_value(printer, name, spec, stored)
        elif twin is not None and name in twin.desired:
            desired[name] = twin.desired[name]
    return desired


def _server_value(printer: Printer, name: str, spec: SettingSpec, stored: dict[str, Any]) -> Any:
    if name == "poll_interval_seconds" and name not in stored:
        return printer.poll_interval_seconds or spec.default
    return stored.get(name, spec.default)


@dataclass(frozen=True)
class DevicePush:
    method: str
    channel: str
    values: dict[str, Any]


@dataclass
class ChangeResult:
    """Outcome of one settings change, with the device pushes left to do after commit."""

    printer: PrinterRef
    version: int
    #: ``{name: [before, after]}``.
    changes: dict[str, list[Any]]
    pushes: list[DevicePush] = field(default_factory=list)
    specs: dict[str, SettingSpec] = field(default_factory=dict)
    audit_id: int | None = None
    dry_run: bool = False
    #: Filled by :func:`push`: one entry per apply method.
    push_results: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        if self.dry_run:
            pushes = [{"method": plan.method, "channel": plan.channel, "settings": sorted(plan.values),
                       "state": "planned", "message": ""} for plan in self.pushes]
        else:
            pushes = self.push_results
        return {"printer_id": self.printer.id, "version": self.version, "dry_run": self.dry_run,
                "changes": self.changes, "push": pushes}


def set_profile_override(session: Session, printer: Printer, name: str | None, actor: Actor) -> None:
    """Pin ``printer`` to profile ``name`` (None returns it to automatic recognition)."""
    if name is not None and name not in load_profiles():
        known = ", ".join(sorted(load_profiles()))
        raise InvalidInput("profile", f"profile {name!r} does not exist; known profiles: {known}")
    twin = _twin(session, printer, actor)
    before = resolve_profile(session, printer).profile.name
    twin.profile_override = name
    printer.profile = name
    after = resolve_profile(session, printer).profile.name
    audit.record(session, actor, "profile.override", f"printer {printer.id}", printer_id=printer.id,
                 before={"profile": before}, after={"profile": after, "override": name})
    log.info("printer profile override printer=%s profile=%s", printer.id, name)


def _validate(profile: Profile, specs: dict[str, SettingSpec], printer: Printer, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        spec = specs.get(name)
        if spec is None:
            raise InvalidInput(f"settings.{name}", f"setting {name!r} does not exist for printer {printer.id} "
                               f"(profile {profile.name}, protocol {printer.protocol}); "
                               f"known settings: {', '.join(sorted(specs))}")
        try:
            spec.validate(value)
        except SettingValueError as err:
            raise InvalidInput(f"settings.{name}", str(err)) from None


def _check_reachable(registry: RemoteRegistry, specs: dict[str, SettingSpec], printer: Printer,
                     channels: list[str], changes: dict[str, Any]) -> None:
    info = printer.client_info or {}
    firmware = str(info.get("ClientVersion") or info.get("firmware") or "")
    for name in changes:
        spec = specs[name]
        if spec.min_firmware and firmware and version_tuple(firmware) < version_tuple(spec.min_firmware):
            raise NotSupported(f"setting {name} needs firmware {spec.min_firmware} or newer; printer {printer.id} "
                               f"reports {firmware}", printer.protocol, supported_settings(registry, specs, channels))
        if not spec.device_side:
            continue
        if registry.method_channel(spec.apply, channels) is None or registry.setting_applier(spec.apply) is None:
            raise NotSupported(
                f"setting {name} is applied by {spec.apply}, which printer {printer.id} (reachable on "
                f"{', '.join(channels)}) does not support; settings it supports: "
                f"{', '.join(supported_settings(registry, specs, channels))}",
                printer.protocol, supported_settings(registry, specs, channels))


def supported_settings(registry: RemoteRegistry, specs: dict[str, SettingSpec], channels: list[str]) -> list[str]:
    """Return the names in ``specs`` that can be applied to a printer reachable on ``channels``."""
    return sorted(name for name, spec in specs.items() if not spec.device_side or (
        registry.method_channel(spec.apply, channels) is not None and registry.setting_applier(spec.apply) is not None))


def change_settings(
    session: Session, registry: RemoteRegistry, printer: Printer, changes: dict[str, Any], actor: Actor, *,
    expected_version: int | None = None, dry_run: bool = False, action: str = "settings.change",
    bulk_operation_id: int | None = None,
) -> ChangeResult:
    """Validate ``changes`` against the printer's profile, apply server-side ones and plan the device pushes.

    Raises InvalidInput (422) for an unknown key or a bad value, VersionConflict (409) when
    ``expected_version`` is stale, and NotSupported (409) when the printer cannot receive a
    device-side setting. Nothing changes when any of them is raised. With ``dry_run`` it only
    returns what would change.
    """
    resolved = resolve_profile(session, printer)
    specs = printer_settings(resolved.profile, printer)
    _validate(resolved.profile, specs, printer, changes)
    channels = registry.channels(session, printer)
    _check_reachable(registry, specs, printer, channels, changes)
    twin = session.get(SettingsTwin, printer.id) if dry_run else _twin(session, printer, actor)
    current_version = twin.desired_version if twin is not None else 0
    if expected_version is not None and expected_version != current_version:
        raise VersionConflict(printer.id, expected_version, current_version)

    before = desired_values(printer, twin, specs)
    diff = {name: [before.get(name), value] for name, value in changes.items()
            if name not in before or before[name] != value or _unconfirmed(twin, specs[name])}
    ref = PrinterRef.of(printer, resolved.profile.name)
    pushes = _plan_pushes(registry, specs, channels, {name: pair[1] for name, pair in diff.items()})
    if dry_run or not diff:
        return ChangeResult(ref, current_version, diff, pushes, specs, dry_run=dry_run)
    assert twin is not None

    _apply_server_side(printer, specs, diff)
    version = _store_device_side(twin, specs, diff)
    state = "pending" if pushes else "applied"
    entry = audit.record(session, actor, action, f"printer {printer.id}", printer_id=printer.id,
                         bulk_operation_id=bulk_operation_id, before={k: v[0] for k, v in diff.items()},
                         after={k: v[1] for k, v in diff.items()}, result="pending" if pushes else "ok",
                         detail={"version": version, "profile": resolved.profile.name})
    session.add(SettingsVersion(printer_id=printer.id, version=version, desired=desired_values(printer, twin, specs),
                                changes=diff, state=state, actor=actor.as_dict(), audit_id=entry.id))
    queue_event(session, "settings.changed", printer.account_id, printer_id=printer.id, version=version,
                keys=sorted(diff), state=state)
    log.info("settings changed printer=%s version=%s keys=%s pushes=%s", printer.id, version, ",".join(sorted(diff)),
             ",".join(p.method for p in pushes) or "-")
    return ChangeResult(ref, version, diff, pushes, specs, audit_id=entry.id)


def _unconfirmed(twin: SettingsTwin | None, spec: SettingSpec) -> bool:
    """Tell whether a device-side setting still waits for (or failed) its push, so sending it again retries."""
    if twin is None or not spec.device_side or spec.name not in twin.push_state:
        return False
    return bool(twin.push_state[spec.name].get("state") != "confirmed")


def rollback(
    session: Session, registry: RemoteRegistry, printer: Printer, actor: Actor, *,
    expected_version: int | None = None, to_version: int | None = None,
) -> ChangeResult:
    """Return the settings to an earlier version: ``to_version``, or else the newest earlier applied one.

    The rollback is itself a new version, so it can be rolled back too. Device-side settings that
    the earlier version did not manage keep their current desired value.
    """
    twin = _twin(session, printer, actor)
    if expected_version is not None and expected_version != twin.desired_version:
        raise VersionConflict(printer.id, expected_version, twin.desired_version)
    query = select(SettingsVersion).where(SettingsVersion.printer_id == printer.id,
                                          SettingsVersion.version < twin.desired_version)
    if to_version is None:
        query = query.where(SettingsVersion.state == "applied")
    else:
        query = query.where(SettingsVersion.version == to_version)
    target = session.scalars(query.order_by(SettingsVersion.version.desc())).first()
    if target is None:
        requested = f"version {to_version}" if to_version is not None else "an earlier applied version"
        raise InvalidInput("to_version", f"printer {printer.id} has no {requested} before its current version "
                           f"{twin.desired_version}; GET its settings versions to pick one")

    specs = printer_settings(resolve_profile(session, printer).profile, printer)
    current = desired_values(printer, twin, specs)
    changes = {name: value for name, value in target.desired.items() if name in specs and current.get(name) != value}
    log.info("settings rollback printer=%s from=%s to=%s keys=%s", printer.id, twin.desired_version, target.version,
             ",".join(sorted(changes)) or "-")
    return change_settings(session, registry, printer, changes, actor, action="settings.rollback")


def versions(session: Session, printer_id: int, limit: int = 50) -> list[SettingsVersion]:
    query = (select(SettingsVersion).where(SettingsVersion.printer_id == printer_id)
             .order_by(SettingsVersion.version.desc()).limit(limit))
    return list(session.scalars(query))


def _plan_pushes(registry: RemoteRegistry, specs: dict[str, SettingSpec], channels: list[str],
                 values: dict[str, Any]) -> list[DevicePush]:
    grouped: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        if specs[name].device_side:
            grouped.setdefault(specs[name].apply, {})[name] = value
    plans = []
    for method, method_values in grouped.items():
        channel = registry.method_channel(method, channels)
        assert channel is not None
        plans.append(DevicePush(method, channel, method_values))
    return plans


def _apply_server_side(printer: Printer, specs: dict[str, SettingSpec], diff: dict[str, list[Any]]) -> None:
    server = {name: pair[1] for name, pair in diff.items() if not specs[name].device_side}
    if not server:
        return
    printer.settings = {**(printer.settings or {}), **server}
    if "poll_interval_seconds" in server:
        printer.poll_interval_seconds = server["poll_interval_seconds"]


def _store_device_side(twin: SettingsTwin, specs: dict[str, SettingSpec], diff: dict[str, list[Any]]) -> int:
    twin.desired_version += 1
    device = {name: pair[1] for name, pair in diff.items() if specs[name].device_side}
    if device:
        twin.desired = {**twin.desired, **device}
        now = utcnow().isoformat()
        twin.push_state = {**twin.push_state, **{name: {"state": "pending", "version": twin.desired_version,
                                                         "message": "", "at": now} for name in device}}
    return twin.desired_version


def push(services: Services, registry: RemoteRegistry, result: ChangeResult) -> ChangeResult:
    """Hand the device-side values of ``result`` to the protocol adapters and record what they confirmed.

    Call it after the change committed: adapters block on the network, which must not happen
    inside a transaction.
    """
    for plan in result.pushes:
        outcome = _call_applier(services, registry, result, plan)
        with services.db.session() as session:
            if outcome.reported:
                record_reported(session, result.printer.id, outcome.reported, source=plan.method)
            if outcome.state == "failed":
                record_push_failure(session, result.printer.id, result.version, sorted(plan.values), outcome.message)
        result.push_results.append({"method": plan.method, "channel": plan.channel, "settings": sorted(plan.values),
                                    "state": outcome.state, "message": outcome.message})
    return result


def _call_applier(services: Services, registry: RemoteRegistry, result: ChangeResult, plan: DevicePush) -> PushOutcome:
    applier = registry.setting_applier(plan.method)
    if applier is None:
        return PushOutcome("failed", message=f"no {plan.method} handler is installed in this process")
    request = SettingPush(services, result.printer, result.version, plan.method, plan.values,
                          {name: result.specs[name] for name in plan.values})
    try:
        return applier(request)
    except FleetError as err:
        log.warning("settings push failed printer=%s version=%s method=%s error=%s", result.printer.id,
                    result.version, plan.method, err.message)
        return PushOutcome("failed", message=err.message)
    except Exception as err:  # an adapter bug must not lose the record of the failed push
        log.exception("settings push raised printer=%s version=%s method=%s", result.printer.id, result.version,
                      plan.method)
        return PushOutcome("failed", message=f"{plan.method} handler failed: {err}")


def record_reported(session: Session, printer_id: int, values: dict[str, Any], source: str,
                    now: datetime | None = None) -> list[str]:
    """Store values a printer confirmed; return the names whose desired value is now in effect.

    Protocol adapters call this when a device reports its settings (device shadow ``reported``, a
    CloudPRNT client action result, an SNMP read-back). A version whose device-side values are all
    confirmed becomes ``applied``.
    """
    printer = session.get(Printer, printer_id)
    if printer is None:
        return []
    now = now or utcnow()
    twin = _twin(session, printer)
    twin.reported = {**twin.reported, **values}
    twin.reported_at = now
    confirmed = [name for name, value in values.items() if name in twin.desired and twin.desired[name] == value]
    if confirmed:
        twin.push_state = {**twin.push_state, **{name: {**twin.push_state.get(name, {}), "state": "confirmed",
                                                        "message": "", "at": now.isoformat()} for name in confirmed}}
    _settle_versions(session, twin)
    queue_event(session, "settings.reported", printer.account_id, printer_id=printer_id, keys=sorted(values),
                confirmed=confirmed, source=source)
    log.info("settings reported printer=%s source=%s keys=%s confirmed=%s", printer_id, source,
             ",".join(sorted(values)), ",".join(confirmed) or "-")
    return confirmed


def record_push_failure(session: Session, printer_id: int, version: int, names: list[str], message: str) -> None:
    """Mark ``names`` of ``version`` as failed to apply; the desired value stays, so the drift shows."""
    twin = session.get(SettingsTwin, printer_id, with_for_update=True)
    if twin is None:
        return
    now = utcnow().isoformat()
    twin.push_state = {**twin.push_state, **{name: {"state": "failed", "version": version, "message": message,
                                                     "at": now} for name in names}}
    row = session.scalars(select(SettingsVersion).where(SettingsVersion.printer_id == printer_id,
                                                        SettingsVersion.version == version)).first()
    if row is not None and row.state == "pending":
        row.state = "failed"
        audit.finish(session, row.audit_id, "failed", {"message": message})
    printer = session.get(Printer, printer_id)
    queue_event(session, "settings.push_failed", printer.account_id if printer else None, printer_id=printer_id,
                version=version, keys=names)
    log.warning("settings push failed printer=%s version=%s keys=%s message=%s", printer_id, version,
                ",".join(names), message)


def settle(session: Session, printer_id: int) -> None:
    """Mark the pending versions of ``printer_id`` applied whose device-side values the printer reported."""
    twin = session.get(SettingsTwin, printer_id, with_for_update=True)
    if twin is not None:
        _settle_versions(session, twin)


def _settle_versions(session: Session, twin: SettingsTwin) -> None:
    pending = session.scalars(select(SettingsVersion).where(
        SettingsVersion.printer_id == twin.printer_id, SettingsVersion.state.in_(("pending", "failed")),
    ).order_by(SettingsVersion.version)).all()
    for row in pending:
        device_keys = [name for name in row.changes if name in twin.desired or name in twin.push_state]
        if all(twin.reported.get(name, _MISSING) == row.desired.get(name, _MISSING) for name in device_keys):
            row.state = "applied"
            twin.reported_version = max(twin.reported_version, row.version)
            audit.finish(session, row.audit_id, "ok", after={name: twin.reported.get(name) for name in device_keys})


_MISSING = object()
