"""MQTT device services: broker credentials, birth and last-will state, reported settings and commands.

Wire formats live in ``protocols.mqtt``; this module only stores and decides. Desired and reported
settings are kept in the settings twin of the remote-operation area; this module writes what a device
reports. Every change a device must hear about is queued as a bus event (``mqtt.desired``,
``mqtt.command``), which the MQTT bridge turns into a publish after commit.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.accounts import check_device_password, hash_device_password
from fleet.errors import InvalidInput
from fleet.events import queue_event
from fleet.health import PrinterHealth
from fleet.models import Job, Printer, utcnow
from fleet.mqtt_models import MqttCommand, MqttCredential, MqttDevice
from fleet.orders import new_job_token
from fleet.states import JobState

if TYPE_CHECKING:
    from fleet.remote_models import SettingsTwin

log = logging.getLogger(__name__)

#: Commands a device of the printfleet device protocol understands.
COMMANDS = ("test_print", "reboot", "status", "identify", "apply_settings")


@dataclass(frozen=True)
class Credentials:
    username: str
    #: Clear-text password; it exists only in this object and, for CloudPRNT, in the setting JSON.
    password: str


@dataclass(frozen=True)
class DeviceIdentity:
    """The printer behind a broker login, with the fields the broker's ACL checks."""

    username: str
    printer_id: int
    #: ``device_mqtt`` or ``cloudprnt``.
    protocol: str
    #: Topic part naming the device: the username for the device protocol, the MAC for CloudPRNT.
    topic_id: str


def _new_username(printer: Printer) -> str:
    """Pick the MQTT username of ``printer``; it doubles as the device id in device-protocol topics."""
    if printer.protocol == "cloudprnt":
        return f"cloudprnt-{printer.id}"
    return f"pf-{secrets.token_hex(6)}"


def cloudprnt_password(printer: Printer) -> str:
    """Derive the CloudPRNT printer's broker password from the account's device key.

    The printer learns it from ``cloudprnt-setting.json``, which anyone with the account's CloudPRNT URL
    can fetch. Deriving it from the secret in that URL therefore exposes nothing new. It also lets the
    setting JSON return the same password every time without storing it in clear text.
    """
    key = printer.account.device_key.encode()
    return hmac.new(key, f"mqtt:{printer.id}".encode(), hashlib.sha256).hexdigest()[:32]


def issue_credentials(session: Session, printer: Printer, password: str | None = None) -> Credentials:
    """Create or replace the broker login of ``printer``; return it with the clear-text password.

    Without ``password`` a new random one is generated (device protocol); CloudPRNT printers pass
    their derived password.
    """
    if printer.protocol not in ("device_mqtt", "cloudprnt"):
        raise InvalidInput("protocol", f"printer {printer.id} uses {printer.protocol}, which does not log in to MQTT")
    password = password or secrets.token_urlsafe(18)
    row = session.scalars(select(MqttCredential).where(MqttCredential.printer_id == printer.id)).first()
    if row is None:
        row = MqttCredential(printer_id=printer.id, username=_new_username(printer),
                             password_hash=hash_device_password(password))
        session.add(row)
        log.info("mqtt credentials issued printer=%s username=%s", printer.id, row.username)
    elif not check_device_password(row.password_hash, password):
        row.password_hash = hash_device_password(password)
        row.rotated_at = utcnow()
        log.info("mqtt credentials rotated printer=%s username=%s", printer.id, row.username)
    session.flush()
    return Credentials(row.username, password)


def cloudprnt_credentials(session: Session, printer: Printer) -> Credentials:
    """Return the CloudPRNT printer's broker login, creating its stored digest on first use."""
    return issue_credentials(session, printer, cloudprnt_password(printer))


def mac_shared_over_mqtt(session: Session, printer: Printer) -> bool:
    """True when a CloudPRNT printer of another account with MQTT on has the same MAC.

    CloudPRNT MQTT topics are named by MAC alone, so such a MAC cannot tell the two printers apart:
    neither gets a broker login or MQTT messages until an operator removes one of them. Over HTTP the
    account's device key tells them apart, so HTTP polling keeps working.
    """
    if printer.protocol != "cloudprnt" or not printer.mac:
        return False
    others = session.scalars(select(Printer).where(Printer.mac == printer.mac, Printer.protocol == "cloudprnt",
                                                   Printer.account_id != printer.account_id,
                                                   Printer.deleted_at.is_(None)))
    shared = any((other.settings or {}).get("cloudprnt_mqtt", "off") != "off" for other in others)
    if shared:
        log.warning("cloudprnt MAC used over MQTT by another account printer=%s mac=%s; MQTT refused for it",
                    printer.id, printer.mac)
    return shared


def verify_login(session: Session, username: str, password: str) -> DeviceIdentity | None:
    """Return the identity behind a broker login, or None for an unknown user, a wrong password or a retired printer."""
    row = session.scalars(select(MqttCredential).where(MqttCredential.username == username)).first()
    if row is None or not check_device_password(row.password_hash, password):
        return None
    printer = row.printer
    if printer.deleted_at is not None or mac_shared_over_mqtt(session, printer):
        return None
    topic_id = printer.mac if printer.protocol == "cloudprnt" and printer.mac else row.username
    return DeviceIdentity(row.username, printer.id, printer.protocol, topic_id)


def find_device(session: Session, device_id: str) -> Printer | None:
    """Return the live device-protocol printer whose MQTT username is ``device_id``."""
    query = (select(Printer).join(MqttCredential, Printer.id == MqttCredential.printer_id)
             .where(*_live_devices([device_id])))
    return session.scalars(query).first()


def _live_devices(device_ids: Iterable[str]) -> tuple[Any, ...]:
    """Return the WHERE clauses that select the live device-protocol printers of ``device_ids``."""
    return (MqttCredential.username.in_(list(device_ids)), Printer.deleted_at.is_(None),
            Printer.protocol == "device_mqtt")


def find_device_health(session: Session, device_ids: Iterable[str]) -> dict[str, PrinterHealth]:
    """Return the health columns of the live device-protocol printers of ``device_ids``, without ORM objects."""
    rows = session.execute(
        select(MqttCredential.username, Printer.id, Printer.account_id, Printer.online, Printer.conditions,
               Printer.status_code)
        .join(Printer, Printer.id == MqttCredential.printer_id).where(*_live_devices(device_ids))
    )
    return {username: PrinterHealth(printer_id, account_id, online, list(conditions or []), status_code)
            for username, printer_id, account_id, online, conditions, status_code in rows}


def device_state(session: Session, printer_id: int) -> MqttDevice:
    """Return the connection row of ``printer_id``, creating it (locked on PostgreSQL) when missing."""
    row = session.get(MqttDevice, printer_id, with_for_update=True)
    if row is None:
        row = MqttDevice(printer_id=printer_id, connected=False, device_info={})
        session.add(row)
        session.flush()
    return row


def record_connection(session: Session, printer: Printer, connected: bool, info: dict[str, Any] | None = None,
                      now: datetime | None = None) -> bool:
    """Store a birth (``connected``) or last-will message; return True when the state changed."""
    now = now or utcnow()
    row = device_state(session, printer.id)
    changed = row.connected != connected
    row.connected = connected
    if connected:
        row.birth_at = now
        if info:
            row.device_info = info
    else:
        row.will_at = now
    if changed:
        log.info("mqtt device %s printer=%s", "connected" if connected else "disconnected", printer.id)
        queue_event(session, "mqtt.connection", printer.account_id, printer_id=printer.id, connected=connected)
    return changed


def settings_twin(session: Session, printer_id: int) -> SettingsTwin:
    """Return the settings twin of ``printer_id`` (the device shadow), creating an empty one when missing."""
    from fleet.remote_models import SettingsTwin

    twin = session.get(SettingsTwin, printer_id, with_for_update=True)
    if twin is None:
        twin = SettingsTwin(printer_id=printer_id, desired={}, desired_version=0, reported={}, reported_version=0,
                            push_state={})
        session.add(twin)
        session.flush()
    return twin


def find_settings_twin(session: Session, printer_id: int) -> SettingsTwin | None:
    """Return the settings twin of ``printer_id``, or None when no settings were ever set for it."""
    from fleet.remote_models import SettingsTwin

    return session.get(SettingsTwin, printer_id)


def settings_delta(twin: SettingsTwin) -> dict[str, Any]:
    """Return the desired settings whose value differs from the reported one."""
    reported = twin.reported or {}
    return {key: value for key, value in (twin.desired or {}).items() if reported.get(key, _MISSING) != value}


_MISSING = object()


def request_settings_push(session: Session, printer: Printer) -> None:
    """Queue the publish of ``printer``'s desired settings after commit; call it after changing the twin."""
    queue_event(session, "mqtt.desired", printer.account_id, printer_id=printer.id)


def record_reported(session: Session, printer: Printer, settings: dict[str, Any], version: int,
                    now: datetime | None = None) -> SettingsTwin:
    """Store the settings a device reported with the desired version it reports as applied.

    ``reported_version`` only moves to that version when every desired value matches, and each
    desired key's push state becomes ``confirmed`` or stays ``pending``.
    """
    now = now or utcnow()
    twin = settings_twin(session, printer.id)
    twin.reported = dict(settings)
    twin.reported_at = now
    drift = settings_delta(twin)
    if not drift and version >= twin.reported_version:
        twin.reported_version = min(version, twin.desired_version)
    push_state = dict(twin.push_state or {})
    for key in twin.desired or {}:
        push_state[key] = {"state": "pending" if key in drift else "confirmed", "version": twin.desired_version,
                           "message": "reported by the device over MQTT", "at": now.isoformat()}
    twin.push_state = push_state
    log.info("mqtt reported settings printer=%s version=%s drift=%s", printer.id, version,
             ",".join(sorted(drift)) or "-")
    queue_event(session, "mqtt.settings_reported", printer.account_id, printer_id=printer.id,
                version=twin.reported_version, drift=sorted(drift))
    return twin


def send_command(session: Session, printer: Printer, name: str, params: dict[str, Any] | None = None) -> MqttCommand:
    """Store a command for ``printer`` and queue its publish to the device."""
    if name not in COMMANDS:
        raise InvalidInput("name", f"command {name!r} is unknown; use one of {', '.join(COMMANDS)}")
    command = MqttCommand(printer_id=printer.id, command_id=secrets.token_hex(8), name=name, params=params or {},
                          state="sent", result={})
    session.add(command)
    session.flush()
    log.info("mqtt command queued printer=%s command=%s name=%s", printer.id, command.command_id, name)
    queue_event(session, "mqtt.command", printer.account_id, printer_id=printer.id, command_id=command.command_id)
    return command


def acknowledge_command(session: Session, printer: Printer, command_id: str, ok: bool, detail: dict[str, Any],
                        now: datetime | None = None) -> MqttCommand | None:
    """Record a device's acknowledgement; repeated acknowledgements change nothing."""
    command = session.scalars(
        select(MqttCommand).where(MqttCommand.command_id == command_id, MqttCommand.printer_id == printer.id)
    ).first()
    if command is None:
        log.warning("acknowledgement for unknown command printer=%s command=%s", printer.id, command_id)
        return None
    if command.state != "sent":
        return command
    command.state = "done" if ok else "failed"
    command.result = detail
    command.acked_at = now or utcnow()
    log.info("mqtt command acknowledged printer=%s command=%s name=%s state=%s", printer.id, command_id,
             command.name, command.state)
    queue_event(session, "mqtt.command_acked", printer.account_id, printer_id=printer.id, command_id=command_id,
                state=command.state)
    return command


def queue_test_print(session: Session, printer: Printer, now: datetime | None = None) -> Job:
    """Queue a test-print job (no order) for ``printer``; it travels and confirms like any job."""
    now = now or utcnow()
    job = Job(order_id=None, printer_id=printer.id, token=new_job_token(), kind="test", state=JobState.QUEUED,
              copies=1, created_at=now)
    session.add(job)
    session.flush()
    queue_event(session, "job.queued", printer.account_id, job_id=job.id, printer_id=printer.id, order_id=None)
    log.info("test print queued job=%s printer=%s", job.id, printer.id)
    return job
