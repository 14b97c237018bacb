"""Bulk operation endpoints: start a settings change, test print or command over a selection; follow it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from fleet import bulk
from fleet.api import api, auth, current_account
from fleet.audit import Actor
from fleet.groups import Selection
from fleet.web import services


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SelectionIn(_Strict):
    printer_ids: list[StrictInt] = Field(default_factory=list, max_length=10_000)
    tag: str | None = Field(default=None, max_length=64)
    group: str | int | None = Field(default=None, description="Group id or name")
    site: str | None = Field(default=None, max_length=100)
    profile: str | None = Field(default=None, max_length=64, description="Firmware profile name")


class BulkIn(_Strict):
    action: str = Field(description="settings, test_print, reboot, status or identify")
    selection: SelectionIn
    settings: dict[str, Any] = Field(default_factory=dict, description="For action=settings: names and values")
    params: dict[str, Any] = Field(default_factory=dict, description="Command parameters")
    dry_run: bool = Field(default=False, description="Check every printer and show what would change")
    rate_per_second: float = Field(default=bulk.DEFAULT_RATE, gt=0, le=bulk.MAX_RATE,
                                   description="Printers handled per second at most")


class BulkQuery(_Strict):
    limit: int = Field(default=1000, ge=1, le=10_000, description="Per-printer results per page")
    offset: int = Field(default=0, ge=0)


@api.post("/bulk-operations")
@api.auth_required(auth)
@api.input(BulkIn, arg_name="body")
@api.doc(summary="Start a bulk operation on a selection of printers",
         description="Runs in the background at most `rate_per_second` printers per second; follow it with "
                     "GET /bulk-operations/{id} or the `bulk.progress` events.", responses=[401, 404, 422])
def create_bulk_operation(body: BulkIn) -> tuple[dict[str, Any], int]:
    account = current_account()
    container = services()
    selection = Selection(tuple(body.selection.printer_ids), body.selection.tag, body.selection.group,
                          body.selection.site, body.selection.profile)
    params: dict[str, Any] = {"settings": body.settings} if body.action == "settings" else {"params": body.params}
    with container.db.session() as session:
        operation = bulk.create_operation(session, account.id, body.action, selection, params,
                                          Actor.api_key(account.id), dry_run=body.dry_run,
                                          rate_per_second=body.rate_per_second)
        operation_id = operation.id
    bulk.wake_runner(container)
    with container.read_db.session() as session:
        return bulk.operation_view(session, bulk.get_operation(session, account.id, operation_id), limit=0), 202


@api.get("/bulk-operations/<int:operation_id>")
@api.auth_required(auth)
@api.input(BulkQuery, location="query", arg_name="query")
@api.doc(summary="Show a bulk operation's progress and per-printer results", responses=[401, 404])
def get_bulk_operation(operation_id: int, query: BulkQuery) -> dict[str, Any]:
    account = current_account()
    with services().read_db.session() as session:
        operation = bulk.get_operation(session, account.id, operation_id)
        return bulk.operation_view(session, operation, query.limit, query.offset)
