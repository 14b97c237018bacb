"""Fleet overview queries: filtered, paged printer rows and counts per state, computed in SQL.

The state (``ok``, ``warning``, ``error``, ``offline``) is derived in SQL from ``online`` and the
JSON text of ``conditions``, with the same rule as :func:`fleet.health.worst_condition`. A page of
50 printers out of 10,000 therefore costs one LIMIT/OFFSET query and one GROUP BY.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from fleet.health import ERROR_CONDITIONS, Presence
from fleet.models import Printer
from fleet.printers import PROTOCOLS
from fleet.remote_models import PrinterGroupMember, PrinterSite, PrinterTag
from fleet.rendering import printer_profile

STATES = ("ok", "warning", "error", "offline")
PAGE_SIZE = 50
#: Supply level in percent at or below which a gauge is drawn as low.
LOW_SUPPLY_PERCENT = 15.0


@dataclass(frozen=True)
class FleetFilter:
    """Operator's filter of the fleet page, read from the query string and validated by ``from_args``."""

    state: str | None = None
    protocol: str | None = None
    search: str = ""
    tag: str = ""
    group_id: int | None = None
    site: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> FleetFilter:
        state = args.get("state") or None
        protocol = args.get("protocol") or None
        return cls(state=state if state in STATES else None, protocol=protocol if protocol in PROTOCOLS else None,
                   search=(args.get("q") or "").strip()[:100], tag=(args.get("tag") or "").strip().lower()[:64],
                   group_id=_positive(args.get("group")), site=(args.get("site") or "").strip()[:100],
                   page=_positive(args.get("page")) or 1)

    def query_args(self, **changes: Any) -> dict[str, Any]:
        """Return the query string of this filter with ``changes``, for links that keep it."""
        args = {"state": self.state, "protocol": self.protocol, "q": self.search, "tag": self.tag,
                "group": self.group_id, "site": self.site, "page": self.page, **changes}
        return {key: value for key, value in args.items()
                if value not in (None, "") and not (key == "page" and value == 1)}


def _positive(value: str | None) -> int | None:
    """Return ``value`` as a positive int, or None when it is missing or not a positive whole number."""
    if value is None or not value.isdigit() or int(value) < 1:
        return None
    return int(value)


@dataclass(frozen=True)
class Gauge:
    label: str
    percent: float | None
    low: bool


@dataclass(frozen=True)
class PrinterRow:
    id: int
    name: str
    protocol: str
    model: str
    online: bool
    state: str
    conditions: list[str]
    last_seen_at: datetime | None
    gauges: list[Gauge]


@dataclass(frozen=True)
class FleetPage:
    rows: list[PrinterRow]
    counts: dict[str, int]
    #: Printers matching the filter, over all pages.
    total: int
    page: int
    pages: int
    protocols: list[str] = field(default_factory=lambda: list(PROTOCOLS))


def state_expression() -> ColumnElement[str]:
    """SQL CASE giving each printer's state, matching :func:`fleet.health.worst_condition`."""
    text = cast(Printer.conditions, String)
    has_error = or_(*(text.like(f'%"{name}"%') for name in sorted(ERROR_CONDITIONS)))
    return case(
        (Printer.online.is_(False), "offline"),
        (has_error, "error"),
        (text.not_in(("[]", "null")), "warning"),
        else_="ok",
    )


def _conditions(account_id: int, filters: FleetFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Printer.account_id == account_id, Printer.deleted_at.is_(None)]
    if filters.tag:
        where.append(Printer.id.in_(select(PrinterTag.printer_id).where(PrinterTag.tag == filters.tag)))
    if filters.group_id is not None:
        where.append(Printer.id.in_(select(PrinterGroupMember.printer_id)
                                    .where(PrinterGroupMember.group_id == filters.group_id)))
    if filters.site:
        where.append(Printer.id.in_(select(PrinterSite.printer_id).where(PrinterSite.site == filters.site)))
    if filters.protocol:
        where.append(Printer.protocol == filters.protocol)
    if filters.search:
        pattern = "%" + filters.search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(or_(func.lower(Printer.name).like(pattern, escape="\\"),
                         func.lower(func.coalesce(Printer.mac, "")).like(pattern, escape="\\")))
    return where


def count_states(session: Session, account_id: int, filters: FleetFilter) -> dict[str, int]:
    """Return how many printers are in each state, for every filter but the state itself."""
    state = state_expression().label("state")
    query = select(state, func.count()).where(and_(*_conditions(account_id, filters))).group_by(state)
    counts = {name: 0 for name in STATES}
    for name, count in session.execute(query):
        counts[name] = int(count)
    return counts


def fleet_page(session: Session, account_id: int, filters: FleetFilter, presence: Presence | None = None,
               page_size: int = PAGE_SIZE) -> FleetPage:
    """Return one page of the account's printers matching ``filters``, ordered by name."""
    counts = count_states(session, account_id, filters)
    total = counts[filters.state] if filters.state else sum(counts.values())
    pages = max(1, -(-total // page_size))
    page = min(filters.page, pages)

    state = state_expression()
    where = _conditions(account_id, filters)
    if filters.state:
        where.append(state == filters.state)
    query = (select(Printer, state.label("state")).where(and_(*where)).order_by(Printer.name, Printer.id)
             .limit(page_size).offset((page - 1) * page_size))
    rows = [_row(printer, printer_state, presence) for printer, printer_state in session.execute(query)]
    return FleetPage(rows=rows, counts=counts, total=total, page=page, pages=pages)


def _row(printer: Printer, state: str, presence: Presence | None) -> PrinterRow:
    last_seen = printer.last_seen_at
    recent = presence.last_seen(printer.id) if presence else None
    if recent is not None and (last_seen is None or recent > last_seen):
        last_seen = recent
    return PrinterRow(
        id=printer.id, name=printer.name, protocol=printer.protocol, model=model_name(printer),
        online=printer.online, state=state, conditions=list(printer.conditions or []), last_seen_at=last_seen,
        gauges=supply_gauges(printer.health_detail or {}),
    )


def model_name(printer: Printer) -> str:
    """Vendor and model from the printer's firmware profile (set, matched from ClientType, or default)."""
    profile = printer_profile(printer)
    return f"{profile.vendor} {profile.model}"


def supply_gauges(detail: dict[str, Any]) -> list[Gauge]:
    """Gauges for the ``supplies`` list of a health reading; unknown levels get ``percent`` None."""
    supplies = detail.get("supplies")
    if not isinstance(supplies, list):
        return []
    gauges: list[Gauge] = []
    for supply in supplies:
        if not isinstance(supply, dict):
            continue
        label = str(supply.get("description") or supply.get("colorant") or "supply")[:40]
        percent = supply.get("percent")
        value = float(percent) if isinstance(percent, int | float) and not isinstance(percent, bool) else None
        if value is not None:
            value = min(100.0, max(0.0, value))
        # For a receptacle (waste toner box) percent is the space left, so low means nearly full: a warning too.
        gauges.append(Gauge(label, value, value is not None and value <= LOW_SUPPLY_PERCENT))
    return gauges
