"""Audit log endpoint: who did what to which printer, when, before, after and the result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fleet import audit
from fleet.api import api, auth, current_account
from fleet.web import services


class AuditQueryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    printer_id: int | None = None
    action: str | None = Field(default=None, max_length=48, description="Exact action, or a prefix ending in '.'")
    actor: str | None = Field(default=None, max_length=64, description="e.g. account:3 or user:12")
    bulk_operation_id: int | None = None
    since: datetime | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


@api.get("/audit")
@api.auth_required(auth)
@api.input(AuditQueryIn, location="query", arg_name="query")
@api.doc(summary="Audit log of remote operations and settings changes, newest first", responses=[401, 422])
def list_audit(query: AuditQueryIn) -> dict[str, Any]:
    account = current_account()
    search = audit.AuditQuery(printer_id=query.printer_id, action=query.action, actor_id=query.actor,
                              bulk_operation_id=query.bulk_operation_id, since=query.since, limit=query.limit,
                              offset=query.offset)
    with services().read_db.session() as session:
        return {"entries": [audit.entry_view(entry) for entry in audit.search(session, account.id, search)]}
