"""Audit log of remote operations: who changed what on which printer, when, before, after and the result.

Entries are written in the transaction of the change they describe, so a change that rolls back
leaves no entry and a committed change always has one. A result that arrives later (a printer
confirming a setting, a command finishing) updates the entry with :func:`finish`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.errors import InvalidInput
from fleet.events import queue_event
from fleet.models import utcnow
from fleet.remote_models import AuditEntry

log = logging.getLogger(__name__)

RESULTS = ("ok", "pending", "failed", "rejected")


@dataclass(frozen=True)
class Actor:
    """Who started a remote operation.

    The API passes ``kind="api_key"`` with the account id; the dashboard passes ``kind="user"`` with
    the dashboard user's id; background work started by the service itself uses ``kind="system"``.
    """

    kind: str
    account_id: int
    id: str

    @classmethod
    def api_key(cls, account_id: int) -> Actor:
        return cls("api_key", account_id, f"account:{account_id}")

    @classmethod
    def user(cls, account_id: int, user_id: int | str) -> Actor:
        return cls("user", account_id, f"user:{user_id}")

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "account_id": self.account_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Actor:
        return cls(str(data["kind"]), int(data["account_id"]), str(data["id"]))


def record(
    session: Session, actor: Actor, action: str, target: str, *, printer_id: int | None = None,
    bulk_operation_id: int | None = None, before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
    result: str = "ok", detail: dict[str, Any] | None = None, now: datetime | None = None,
) -> AuditEntry:
    """Add an audit entry to ``session``; it commits with the change it describes."""
    if result not in RESULTS:
        raise ValueError(f"audit result {result!r} is invalid; use one of {', '.join(RESULTS)}")
    entry = AuditEntry(
        account_id=actor.account_id, at=now or utcnow(), actor_kind=actor.kind, actor_id=actor.id, action=action,
        printer_id=printer_id, bulk_operation_id=bulk_operation_id, target=target[:200], before=before or {},
        after=after or {}, result=result, detail=detail or {},
    )
    session.add(entry)
    session.flush()
    queue_event(session, "audit.recorded", actor.account_id, audit_id=entry.id, action=action, printer_id=printer_id)
    log.info("audit action=%s printer=%s bulk=%s actor=%s result=%s", action, printer_id, bulk_operation_id, actor.id,
             result)
    return entry


def finish(session: Session, audit_id: int | None, result: str, detail: dict[str, Any] | None = None,
           after: dict[str, Any] | None = None) -> None:
    """Set the final result of entry ``audit_id``, merging ``detail`` and ``after`` into what it has."""
    if audit_id is None:
        return
    entry = session.get(AuditEntry, audit_id)
    if entry is None:
        log.warning("audit entry missing audit=%s result=%s", audit_id, result)
        return
    entry.result = result
    if detail:
        entry.detail = {**entry.detail, **detail}
    if after:
        entry.after = {**entry.after, **after}


@dataclass(frozen=True)
class AuditQuery:
    printer_id: int | None = None
    action: str | None = None
    actor_id: str | None = None
    bulk_operation_id: int | None = None
    since: datetime | None = None
    limit: int = 100
    offset: int = 0


def search(session: Session, account_id: int, query: AuditQuery) -> list[AuditEntry]:
    """Return the account's entries matching ``query``, newest first."""
    if not 1 <= query.limit <= 1000:
        raise InvalidInput("limit", f"limit={query.limit} is invalid; use 1 to 1000")
    statement = select(AuditEntry).where(AuditEntry.account_id == account_id)
    if query.printer_id is not None:
        statement = statement.where(AuditEntry.printer_id == query.printer_id)
    if query.action:
        # A trailing dot selects a family of actions, e.g. ``command.`` for every command.
        if query.action.endswith("."):
            statement = statement.where(AuditEntry.action.startswith(query.action, autoescape=True))
        else:
            statement = statement.where(AuditEntry.action == query.action)
    if query.actor_id:
        statement = statement.where(AuditEntry.actor_id == query.actor_id)
    if query.bulk_operation_id is not None:
        statement = statement.where(AuditEntry.bulk_operation_id == query.bulk_operation_id)
    if query.since is not None:
        statement = statement.where(AuditEntry.at >= query.since)
    statement = statement.order_by(AuditEntry.id.desc()).limit(query.limit).offset(query.offset)
    return list(session.scalars(statement))


def entry_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id, "at": entry.at.isoformat(), "actor": {"kind": entry.actor_kind, "id": entry.actor_id},
        "action": entry.action, "printer_id": entry.printer_id, "bulk_operation_id": entry.bulk_operation_id,
        "target": entry.target, "before": entry.before, "after": entry.after, "result": entry.result,
        "detail": entry.detail,
    }
