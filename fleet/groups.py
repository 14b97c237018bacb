"""Printer groups, tags and sites, and the selections bulk operations and filters use.

A selection names printers by ``printer_ids``, ``tag``, ``group``, ``site`` and ``profile``; every
criterion given narrows it further, and at least one must be given so an empty request never
selects a whole fleet.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fleet import audit
from fleet.audit import Actor
from fleet.errors import FleetError, InvalidInput, NotFound
from fleet.models import Printer
from fleet.remote_models import PrinterGroup, PrinterGroupMember, PrinterSite, PrinterTag
from fleet.settings_twin import resolve_profile

log = logging.getLogger(__name__)

_TAG = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
#: Upper bound of printers one selection may name, so one request cannot queue unbounded work.
MAX_SELECTION = 10_000


class DuplicateGroup(FleetError):
    status = 409
    code = "duplicate_group"


def normalize_tag(tag: str) -> str:
    """Return ``tag`` lowercased and trimmed; raise InvalidInput unless it is 1-64 of a-z 0-9 _ . : -."""
    value = tag.strip().lower()
    if not _TAG.match(value):
        raise InvalidInput("tags", f"tag {tag!r} is invalid; use 1 to 64 of a-z 0-9 _ . : - starting with a letter "
                           "or digit, e.g. kitchen or region:north")
    return value


def create_group(session: Session, account_id: int, name: str, description: str, actor: Actor) -> PrinterGroup:
    if not name.strip() or len(name.strip()) > 100:
        raise InvalidInput("name", "group name must be 1 to 100 characters")
    group = PrinterGroup(account_id=account_id, name=name.strip(), description=description[:500])
    session.add(group)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise DuplicateGroup(f"a group named {name.strip()!r} already exists in this account") from None
    audit.record(session, actor, "group.create", f"group {group.id}", after={"name": group.name})
    log.info("printer group created group=%s account=%s", group.id, account_id)
    return group


def get_group(session: Session, account_id: int, group_id: int) -> PrinterGroup:
    group = session.get(PrinterGroup, group_id)
    if group is None or group.account_id != account_id:
        raise NotFound(f"group {group_id} does not exist in this account")
    return group


def find_group(session: Session, account_id: int, reference: str | int) -> PrinterGroup:
    """Return the group with id or name ``reference``."""
    if isinstance(reference, int) or str(reference).isdigit():
        return get_group(session, account_id, int(reference))
    group = session.scalars(select(PrinterGroup).where(PrinterGroup.account_id == account_id,
                                                       PrinterGroup.name == str(reference))).first()
    if group is None:
        raise NotFound(f"group {reference!r} does not exist in this account")
    return group


def list_groups(session: Session, account_id: int) -> list[PrinterGroup]:
    return list(session.scalars(select(PrinterGroup).where(PrinterGroup.account_id == account_id)
                                .order_by(PrinterGroup.name)))


def delete_group(session: Session, group: PrinterGroup, actor: Actor) -> None:
    audit.record(session, actor, "group.delete", f"group {group.id}", before={"name": group.name})
    session.delete(group)


def group_members(session: Session, group_id: int) -> list[int]:
    return list(session.scalars(select(PrinterGroupMember.printer_id).where(PrinterGroupMember.group_id == group_id)
                                .order_by(PrinterGroupMember.printer_id)))


def set_group_members(session: Session, group: PrinterGroup, printer_ids: list[int], actor: Actor) -> list[int]:
    """Replace the members of ``group`` with ``printer_ids`` (all must be the account's printers)."""
    _check_owned(session, group.account_id, printer_ids)
    before = group_members(session, group.id)
    session.execute(delete(PrinterGroupMember).where(PrinterGroupMember.group_id == group.id))
    for printer_id in sorted(set(printer_ids)):
        session.add(PrinterGroupMember(group_id=group.id, printer_id=printer_id))
    session.flush()
    after = sorted(set(printer_ids))
    audit.record(session, actor, "group.members", f"group {group.id}", before={"printer_ids": before},
                 after={"printer_ids": after})
    return after


def _check_owned(session: Session, account_id: int, printer_ids: list[int]) -> None:
    if len(printer_ids) > MAX_SELECTION:
        raise InvalidInput("printer_ids", f"at most {MAX_SELECTION} printers per request; got {len(printer_ids)}")
    requested = set(printer_ids)
    found = set(session.scalars(select(Printer.id).where(Printer.id.in_(requested), Printer.account_id == account_id,
                                                         Printer.deleted_at.is_(None))))
    missing = sorted(requested - found)
    if missing:
        raise NotFound(f"printers {', '.join(map(str, missing[:20]))} do not exist in this account")


def set_labels(session: Session, printer: Printer, actor: Actor, tags: list[str] | None = None,
               site: str | None = None, clear_site: bool = False) -> dict[str, Any]:
    """Replace the tags of ``printer`` and/or set its site; return its labels afterwards."""
    before = printer_labels(session, [printer.id])[printer.id]
    if tags is not None:
        normalized = sorted({normalize_tag(tag) for tag in tags})
        session.execute(delete(PrinterTag).where(PrinterTag.printer_id == printer.id))
        for tag in normalized:
            session.add(PrinterTag(printer_id=printer.id, tag=tag))
    if site is not None or clear_site:
        row = session.get(PrinterSite, printer.id)
        if clear_site or not site or not site.strip():
            if row is not None:
                session.delete(row)
        elif len(site.strip()) > 100:
            raise InvalidInput("site", "site must be at most 100 characters")
        elif row is None:
            session.add(PrinterSite(printer_id=printer.id, site=site.strip()))
        else:
            row.site = site.strip()
    session.flush()
    after = printer_labels(session, [printer.id])[printer.id]
    audit.record(session, actor, "printer.labels", f"printer {printer.id}", printer_id=printer.id,
                 before=before, after=after)
    return after


def printer_labels(session: Session, printer_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Return ``{printer_id: {"tags": [...], "groups": [...], "site": str | None}}``."""
    labels: dict[int, dict[str, Any]] = {pid: {"tags": [], "groups": [], "site": None} for pid in printer_ids}
    if not printer_ids:
        return labels
    for printer_id, tag in session.execute(select(PrinterTag.printer_id, PrinterTag.tag)
                                           .where(PrinterTag.printer_id.in_(printer_ids)).order_by(PrinterTag.tag)):
        labels[printer_id]["tags"].append(tag)
    groups = session.execute(select(PrinterGroupMember.printer_id, PrinterGroup.name)
                             .join(PrinterGroup, PrinterGroup.id == PrinterGroupMember.group_id)
                             .where(PrinterGroupMember.printer_id.in_(printer_ids)).order_by(PrinterGroup.name))
    for printer_id, name in groups:
        labels[printer_id]["groups"].append(name)
    for printer_id, site in session.execute(select(PrinterSite.printer_id, PrinterSite.site)
                                            .where(PrinterSite.printer_id.in_(printer_ids))):
        labels[printer_id]["site"] = site
    return labels


@dataclass(frozen=True)
class Selection:
    printer_ids: tuple[int, ...] = ()
    tag: str | None = None
    group: str | int | None = None
    site: str | None = None
    profile: str | None = None

    def is_empty(self) -> bool:
        return not self.printer_ids and self.tag is None and self.group is None and self.site is None \
            and self.profile is None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"printer_ids": list(self.printer_ids), "tag": self.tag, "group": self.group,
                                "site": self.site, "profile": self.profile}
        return {key: value for key, value in data.items() if value not in (None, [])}


def select_printers(session: Session, account_id: int, selection: Selection) -> list[Printer]:
    """Return the account's printers matching every criterion of ``selection``, by id."""
    if selection.is_empty():
        raise InvalidInput("selection", "selection is empty; give printer_ids, tag, group, site or profile")
    query = select(Printer).where(Printer.account_id == account_id, Printer.deleted_at.is_(None))
    if selection.printer_ids:
        _check_owned(session, account_id, list(selection.printer_ids))
        query = query.where(Printer.id.in_(selection.printer_ids))
    if selection.tag is not None:
        query = query.where(Printer.id.in_(select(PrinterTag.printer_id).where(
            PrinterTag.tag == normalize_tag(selection.tag))))
    if selection.group is not None:
        group = find_group(session, account_id, selection.group)
        query = query.where(Printer.id.in_(select(PrinterGroupMember.printer_id).where(
            PrinterGroupMember.group_id == group.id)))
    if selection.site is not None:
        query = query.where(Printer.id.in_(select(PrinterSite.printer_id).where(PrinterSite.site == selection.site)))
    printers = list(session.scalars(query.order_by(Printer.id).limit(MAX_SELECTION + 1)))
    if len(printers) > MAX_SELECTION:
        raise InvalidInput("selection", f"selection matches more than {MAX_SELECTION} printers; narrow it")
    if selection.profile is not None:
        printers = [printer for printer in printers
                    if resolve_profile(session, printer).profile.name == selection.profile]
    return printers
