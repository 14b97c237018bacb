"""Printer registry: registration, print settings, device credentials and the quarantine of unknown printers."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fleet.accounts import digest_ha1, hash_device_password
from fleet.errors import FleetError, InvalidInput, NotFound
from fleet.events import queue_event
from fleet.models import Account, Printer, QuarantinedPrinter, utcnow

log = logging.getLogger(__name__)

#: Protocols a printer can be registered with, and whether each identifies printers by MAC.
PROTOCOLS: dict[str, bool] = {"cloudprnt": True, "goodcom": False, "epson_sdp": False, "snmp": False, "device_mqtt": False}

_MAC_HEX = re.compile(r"^[0-9a-f]{12}$")

#: Print settings every printer has, with their defaults. Protocol-specific keys may be added.
DEFAULT_PRINT_SETTINGS: dict[str, Any] = {
    "copies": 1,
    "cut": "partial",
    "buzzer": False,
    "header": None,
    "footer": None,
    "require_decision": True,
    "cloudprnt_mqtt": "off",
    "emulation": "star",
    "sdp_digest_auth": False,
    "sdp_devid": "local_printer",
}
_CUT_MODES = ("full", "partial", "none")
_TEXT_LIMIT = 2000
#: ePOS-Print device IDs as the TM printer's device list accepts them.
_DEVID = re.compile(r"[A-Za-z0-9_.-]{1,30}")


class DuplicatePrinter(FleetError):
    status = 409
    code = "duplicate_printer"


def normalize_mac(value: str) -> str:
    """Return ``value`` as lowercase colon-separated hex (``00:11:62:0e:15:58``).

    Accepts colons, dashes, dots or no separators, in any case; raises ValueError otherwise.
    """
    digits = re.sub(r"[:\-.\s]", "", value.strip().lower())
    if not _MAC_HEX.match(digits):
        raise ValueError(f"MAC address {value!r} is invalid; use six hex bytes such as 00:11:62:0e:15:58")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def validate_print_settings(changes: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge ``changes`` into ``base`` (or the defaults) and validate; raise InvalidInput naming the key."""
    merged = dict(DEFAULT_PRINT_SETTINGS if base is None else {**DEFAULT_PRINT_SETTINGS, **base})
    for key, value in changes.items():
        field = f"settings.{key}"
        if key not in DEFAULT_PRINT_SETTINGS:
            allowed = ", ".join(sorted(DEFAULT_PRINT_SETTINGS))
            raise InvalidInput(field, f"unknown print setting {key!r}; known settings: {allowed}")
        if key == "copies" and (type(value) is not int or not 1 <= value <= 9):
            raise InvalidInput(field, f"copies={value!r} is invalid; use a whole number from 1 to 9")
        if key == "cut" and value not in _CUT_MODES:
            raise InvalidInput(field, f"cut={value!r} is invalid; use one of {', '.join(_CUT_MODES)}")
        if key in ("buzzer", "require_decision", "sdp_digest_auth") and type(value) is not bool:
            raise InvalidInput(field, f"{key}={value!r} is invalid; use true or false")
        if key in ("header", "footer") and value is not None and (not isinstance(value, str) or len(value) > _TEXT_LIMIT):
            raise InvalidInput(field, f"{key} must be text of at most {_TEXT_LIMIT} characters or null")
        if key == "emulation" and value not in ("star", "escpos"):
            raise InvalidInput(field, f"emulation={value!r} is invalid; use star or escpos")
        if key == "cloudprnt_mqtt" and value not in ("off", "trigger", "full"):
            raise InvalidInput(field, f"cloudprnt_mqtt={value!r} is invalid; use off, trigger or full")
        if key == "sdp_devid" and (not isinstance(value, str) or not _DEVID.fullmatch(value)):
            raise InvalidInput(field, f"sdp_devid={value!r} is invalid; use the printer's device ID, "
                               "1 to 30 of A-Z a-z 0-9 _ . -, usually local_printer")
        merged[key] = value
    return merged


@dataclass(frozen=True)
class Registration:
    printer: Printer
    #: Device password in clear text, returned once at registration (Goodcom); None otherwise.
    device_password: str | None


def register_printer(
    session: Session, account: Account, name: str, protocol: str, mac: str | None = None,
    settings: dict[str, Any] | None = None, device_user: str | None = None,
) -> Registration:
    """Register a printer; raises InvalidInput for a bad field and DuplicatePrinter for a taken MAC."""
    if protocol not in PROTOCOLS:
        raise InvalidInput("protocol", f"protocol {protocol!r} is not supported; use one of {', '.join(PROTOCOLS)}")
    if not name.strip():
        raise InvalidInput("name", "name is empty; give the printer a name staff recognise, e.g. 'Kitchen'")
    normalized_mac = None
    if PROTOCOLS[protocol]:
        if not mac:
            raise InvalidInput("mac", f"mac is required for {protocol} printers; it is on the printer's self-test print")
        try:
            normalized_mac = normalize_mac(mac)
        except ValueError as err:
            raise InvalidInput("mac", str(err)) from None

    password: str | None = None
    password_hash: str | None = None
    if protocol == "goodcom":
        device_user = secrets.token_hex(4)
        password = secrets.token_urlsafe(12)
        password_hash = hash_device_password(password)
    elif protocol == "epson_sdp":
        # The Server Direct Print ID (at most 30 of [A-Za-z0-9_.-]) and a Digest password; Digest
        # needs MD5(user:realm:password) on the server, so that is what is stored.
        device_user = device_user or f"pf{secrets.token_hex(6)}"
        password = secrets.token_urlsafe(12)
        password_hash = digest_ha1(device_user, password)
    printer = Printer(
        account_id=account.id, name=name.strip(), protocol=protocol, mac=normalized_mac,
        device_user=device_user, device_password_hash=password_hash,
        settings=validate_print_settings(settings or {}),
    )
    try:
        # The savepoint holds the insert alone, so a taken MAC undoes only this printer, not the caller's work.
        with session.begin_nested():
            session.add(printer)
            session.flush()
    except IntegrityError:
        taken = f"MAC {normalized_mac}" if normalized_mac else f"device id {device_user}"
        raise DuplicatePrinter(f"a printer with {taken} is already registered in this account; "
                               "update that printer or delete it first") from None

    _release_quarantine(session, account.id, protocol, normalized_mac or device_user)
    queue_event(session, "printer.registered", account.id, printer_id=printer.id)
    log.info("printer registered printer=%s account=%s protocol=%s", printer.id, account.id, protocol)
    return Registration(printer, password)


def _release_quarantine(session: Session, account_id: int, protocol: str, identifier: str | None) -> None:
    if identifier is None:
        return
    row = session.scalars(
        select(QuarantinedPrinter).where(
            QuarantinedPrinter.account_id == account_id, QuarantinedPrinter.protocol == protocol,
            QuarantinedPrinter.identifier == identifier,
        )
    ).first()
    if row is not None:
        session.delete(row)


def get_printer(session: Session, account_id: int, printer_id: int) -> Printer:
    printer = session.get(Printer, printer_id)
    if printer is None or printer.account_id != account_id or printer.deleted_at is not None:
        raise NotFound(f"printer {printer_id} does not exist in this account")
    return printer


def list_printers(session: Session, account_id: int, limit: int = 100, offset: int = 0) -> list[Printer]:
    query = (
        select(Printer).where(Printer.account_id == account_id, Printer.deleted_at.is_(None))
        .order_by(Printer.id).limit(limit).offset(offset)
    )
    return list(session.scalars(query))


def update_printer(session: Session, printer: Printer, name: str | None, settings: dict[str, Any] | None) -> Printer:
    if name is not None:
        if not name.strip():
            raise InvalidInput("name", "name is empty; give the printer a name staff recognise")
        printer.name = name.strip()
    if settings:
        printer.settings = validate_print_settings(settings, printer.settings)
    queue_event(session, "printer.updated", printer.account_id, printer_id=printer.id)
    log.info("printer updated printer=%s", printer.id)
    return printer


def delete_printer(session: Session, printer: Printer) -> None:
    """Retire a printer. Its orders and history stay; its waiting jobs are cancelled by the caller."""
    printer.deleted_at = utcnow()
    printer.mac = None
    printer.device_user = None
    queue_event(session, "printer.deleted", printer.account_id, printer_id=printer.id)
    log.info("printer deleted printer=%s", printer.id)


def find_by_mac(session: Session, account_id: int, mac: str) -> Printer | None:
    return session.scalars(
        select(Printer).where(Printer.account_id == account_id, Printer.mac == mac, Printer.deleted_at.is_(None))
    ).first()


def find_by_device_user(session: Session, protocol: str, user: str) -> Printer | None:
    return session.scalars(
        select(Printer).where(Printer.device_user == user, Printer.protocol == protocol, Printer.deleted_at.is_(None))
    ).first()


def quarantine(
    session: Session, account_id: int, protocol: str, identifier: str, remote_addr: str | None,
    detail: dict[str, Any] | None = None, now: datetime | None = None,
) -> QuarantinedPrinter:
    """Record (or refresh) an unknown printer that probed, for an operator to approve."""
    now = now or utcnow()
    row = session.scalars(
        select(QuarantinedPrinter).where(
            QuarantinedPrinter.account_id == account_id, QuarantinedPrinter.protocol == protocol,
            QuarantinedPrinter.identifier == identifier,
        )
    ).first()
    if row is None:
        row = QuarantinedPrinter(
            account_id=account_id, protocol=protocol, identifier=identifier, remote_addr=remote_addr,
            detail=detail or {}, first_seen_at=now, last_seen_at=now,
        )
        session.add(row)
        session.flush()
        queue_event(session, "printer.quarantined", account_id, quarantine_id=row.id, protocol=protocol)
        log.warning("unknown printer quarantined account=%s protocol=%s identifier=%s addr=%s",
                    account_id, protocol, identifier, remote_addr)
        return row
    row.probe_count += 1
    row.last_seen_at = now
    row.remote_addr = remote_addr
    if detail:
        row.detail = {**row.detail, **detail}
    return row


def list_quarantine(session: Session, account_id: int) -> list[QuarantinedPrinter]:
    query = select(QuarantinedPrinter).where(QuarantinedPrinter.account_id == account_id).order_by(QuarantinedPrinter.id)
    return list(session.scalars(query))
