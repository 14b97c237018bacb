"""Remote operation endpoints for one printer: settings twin, rollback, test print, job state, commands."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from fleet import settings_twin
from fleet.api import api, auth, current_account
from fleet.api.views import job_view
from fleet.audit import Actor
from fleet.errors import NotFound
from fleet.models import Job, Printer
from fleet.printers import get_printer
from fleet.remote import RemoteRegistry, get_registry
from fleet.remote_commands import queue_test_print, run_command, supported_commands
from fleet.remote_models import SettingsTwin
from fleet.web import services


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SettingsPatchIn(_Strict):
    version: StrictInt | None = Field(default=None, ge=0, description="Version you read; 409 when it is stale")
    settings: dict[str, Any] = Field(default_factory=dict, description="Setting names and their new values")
    profile: str | None = Field(default=None, max_length=64,
                                description="Pin the printer to this firmware profile; null returns it to recognition")
    dry_run: bool = Field(default=False, description="Only show what would change")


class RollbackIn(_Strict):
    version: StrictInt | None = Field(default=None, ge=0, description="Version you read; 409 when it is stale")
    to_version: StrictInt | None = Field(default=None, ge=0, description="Default: the newest earlier applied version")


class CommandIn(_Strict):
    command: str = Field(min_length=1, max_length=32, description="reboot, status or identify")
    params: dict[str, Any] = Field(default_factory=dict)


_MISSING = object()


def settings_view(session: Any, registry: RemoteRegistry, printer: Printer) -> dict[str, Any]:
    """Describe the settings twin of ``printer``: profile, versions, desired, reported, drift and each setting."""
    resolved = settings_twin.resolve_profile(session, printer)
    specs = settings_twin.printer_settings(resolved.profile, printer)
    twin = session.get(SettingsTwin, printer.id)
    channels = registry.channels(session, printer)
    desired = settings_twin.desired_values(printer, twin, specs)
    reported = dict(twin.reported) if twin else {}
    push_state = dict(twin.push_state) if twin else {}
    supported = set(settings_twin.supported_settings(registry, specs, channels))

    drift: dict[str, Any] = {}
    for name, spec in specs.items():
        if spec.device_side and name in desired and reported.get(name, _MISSING) != desired[name]:
            drift[name] = {"desired": desired[name], "reported": reported.get(name),
                           "state": push_state.get(name, {}).get("state", "pending"),
                           "message": push_state.get(name, {}).get("message", "")}
    return {
        "printer_id": printer.id,
        "profile": {"name": resolved.profile.name, "source": resolved.source, "vendor": resolved.profile.vendor,
                    "model": resolved.profile.model},
        "version": twin.desired_version if twin else 0,
        "reported_version": twin.reported_version if twin else 0,
        "reported_at": twin.reported_at.isoformat() if twin and twin.reported_at else None,
        "channels": channels,
        "desired": desired,
        "reported": {**{name: desired[name] for name, spec in specs.items()
                        if not spec.device_side and name in desired}, **reported},
        "drift": drift,
        "commands": sorted(supported_commands(session, registry, printer)),
        "settings": [_setting_view(spec, desired, reported, push_state, name in supported)
                     for name, spec in sorted(specs.items())],
    }


def _setting_view(spec: Any, desired: dict[str, Any], reported: dict[str, Any], push_state: dict[str, Any],
                  supported: bool) -> dict[str, Any]:
    return {
        "name": spec.name, "type": spec.type, "apply": spec.apply, "default": spec.default, "allowed": spec.allowed(),
        "choices": list(spec.choices) or None, "min": spec.minimum, "max": spec.maximum,
        "description": spec.description, "desired": desired.get(spec.name),
        "reported": desired.get(spec.name) if not spec.device_side else reported.get(spec.name),
        "state": "applied" if not spec.device_side else push_state.get(spec.name, {}).get("state"),
        "supported": supported,
    }


@api.get("/printers/<int:printer_id>/settings")
@api.auth_required(auth)
@api.doc(summary="Show a printer's desired and reported settings, drift and its profile", responses=[401, 404])
def get_printer_settings(printer_id: int) -> dict[str, Any]:
    account = current_account()
    container = services()
    with container.read_db.session() as session:
        printer = get_printer(session, account.id, printer_id)
        return settings_view(session, get_registry(container), printer)


@api.patch("/printers/<int:printer_id>/settings")
@api.auth_required(auth)
@api.input(SettingsPatchIn, arg_name="body")
@api.doc(summary="Change a printer's settings or pin its firmware profile",
         description="Server-side settings take effect at once; device-side settings are pushed through the "
                     "printer's protocol and show as drift until the printer confirms them. Send `version` to get "
                     "409 instead of overwriting someone else's change.", responses=[401, 404, 409, 422])
def patch_printer_settings(printer_id: int, body: SettingsPatchIn) -> dict[str, Any]:
    account = current_account()
    container = services()
    registry = get_registry(container)
    actor = Actor.api_key(account.id)
    with container.db.session() as session:
        printer = get_printer(session, account.id, printer_id)
        if "profile" in body.model_fields_set and not body.dry_run:
            settings_twin.set_profile_override(session, printer, body.profile, actor)
        result = settings_twin.change_settings(session, registry, printer, body.settings, actor,
                                               expected_version=body.version, dry_run=body.dry_run)
    if not result.dry_run:
        settings_twin.push(container, registry, result)
    with container.read_db.session() as session:
        printer = get_printer(session, account.id, printer_id)
        return {"change": result.as_dict(), "settings": settings_view(session, registry, printer)}


@api.post("/printers/<int:printer_id>/settings/rollback")
@api.auth_required(auth)
@api.input(RollbackIn, arg_name="body")
@api.doc(summary="Return a printer's settings to an earlier version", responses=[401, 404, 409, 422])
def rollback_printer_settings(printer_id: int, body: RollbackIn) -> dict[str, Any]:
    account = current_account()
    container = services()
    registry = get_registry(container)
    with container.db.session() as session:
        printer = get_printer(session, account.id, printer_id)
        result = settings_twin.rollback(session, registry, printer, Actor.api_key(account.id),
                                        expected_version=body.version, to_version=body.to_version)
    settings_twin.push(container, registry, result)
    with container.read_db.session() as session:
        printer = get_printer(session, account.id, printer_id)
        return {"change": result.as_dict(), "settings": settings_view(session, registry, printer)}


@api.get("/printers/<int:printer_id>/settings/versions")
@api.auth_required(auth)
@api.doc(summary="Settings versions of a printer, newest first", responses=[401, 404])
def printer_settings_versions(printer_id: int) -> dict[str, Any]:
    account = current_account()
    with services().read_db.session() as session:
        get_printer(session, account.id, printer_id)
        rows = settings_twin.versions(session, printer_id)
        return {"versions": [{"version": row.version, "state": row.state, "changes": row.changes,
                              "desired": row.desired, "actor": row.actor, "created_at": row.created_at.isoformat()}
                             for row in rows]}


@api.post("/printers/<int:printer_id>/test-print")
@api.auth_required(auth)
@api.doc(summary="Queue a test print", description="The test print is a job without an order; follow it with "
         "GET /printers/{id}/jobs/{job_id}.", responses=[401, 404, 409])
def queue_printer_test_print(printer_id: int) -> tuple[dict[str, Any], int]:
    account = current_account()
    with services().db.session() as session:
        printer = get_printer(session, account.id, printer_id)
        job = queue_test_print(session, printer, Actor.api_key(account.id))
        return job_view(job), 201


@api.get("/printers/<int:printer_id>/jobs/<int:job_id>")
@api.auth_required(auth)
@api.doc(summary="Show one job of a printer (test prints and order jobs)", responses=[401, 404])
def get_printer_job(printer_id: int, job_id: int) -> dict[str, Any]:
    account = current_account()
    with services().read_db.session() as session:
        get_printer(session, account.id, printer_id)
        job = session.get(Job, job_id)
        if job is None or job.printer_id != printer_id:
            raise NotFound(f"job {job_id} does not exist for printer {printer_id}")
        return job_view(job)


@api.post("/printers/<int:printer_id>/commands")
@api.auth_required(auth)
@api.input(CommandIn, arg_name="body")
@api.doc(summary="Send a remote command (reboot, status, identify)",
         description="409 names the commands the printer's protocol supports when this one is not among them.",
         responses=[401, 404, 409, 422, 502, 504])
def send_printer_command(printer_id: int, body: CommandIn) -> dict[str, Any]:
    account = current_account()
    container = services()
    outcome = run_command(container, get_registry(container), account.id, printer_id, body.command, body.params,
                          Actor.api_key(account.id))
    return {"printer_id": printer_id, "command": body.command, "state": outcome.state, "message": outcome.message,
            "detail": outcome.detail}
