"""Printer group, tag and site endpoints; bulk operations and filters select printers by them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from fleet import groups
from fleet.api import api, auth, current_account
from fleet.audit import Actor
from fleet.printers import get_printer
from fleet.web import services


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GroupIn(_Strict):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)
    printer_ids: list[StrictInt] = Field(default_factory=list, max_length=10_000)


class MembersIn(_Strict):
    printer_ids: list[StrictInt] = Field(max_length=10_000)


class LabelsIn(_Strict):
    tags: list[str] | None = Field(default=None, max_length=50)
    site: str | None = Field(default=None, max_length=100, description="Empty string or null clears the site")


def _group_view(session: Any, group: Any) -> dict[str, Any]:
    return {"id": group.id, "name": group.name, "description": group.description,
            "printer_ids": groups.group_members(session, group.id), "created_at": group.created_at.isoformat()}


@api.post("/groups")
@api.auth_required(auth)
@api.input(GroupIn, arg_name="body")
@api.doc(summary="Create a printer group", responses=[401, 404, 409, 422])
def create_printer_group(body: GroupIn) -> tuple[dict[str, Any], int]:
    account = current_account()
    actor = Actor.api_key(account.id)
    with services().db.session() as session:
        group = groups.create_group(session, account.id, body.name, body.description, actor)
        if body.printer_ids:
            groups.set_group_members(session, group, body.printer_ids, actor)
        return _group_view(session, group), 201


@api.get("/groups")
@api.auth_required(auth)
@api.doc(summary="List printer groups with their members", responses=[401])
def list_printer_groups() -> dict[str, Any]:
    account = current_account()
    with services().read_db.session() as session:
        return {"groups": [_group_view(session, group) for group in groups.list_groups(session, account.id)]}


@api.put("/groups/<int:group_id>/printers")
@api.auth_required(auth)
@api.input(MembersIn, arg_name="body")
@api.doc(summary="Replace the printers of a group", responses=[401, 404, 422])
def set_group_printers(group_id: int, body: MembersIn) -> dict[str, Any]:
    account = current_account()
    with services().db.session() as session:
        group = groups.get_group(session, account.id, group_id)
        groups.set_group_members(session, group, body.printer_ids, Actor.api_key(account.id))
        return _group_view(session, group)


@api.delete("/groups/<int:group_id>")
@api.auth_required(auth)
@api.output({}, status_code=204)
@api.doc(summary="Delete a printer group (its printers stay)", responses=[401, 404])
def delete_printer_group(group_id: int) -> tuple[str, int]:
    account = current_account()
    with services().db.session() as session:
        groups.delete_group(session, groups.get_group(session, account.id, group_id), Actor.api_key(account.id))
    return "", 204


@api.get("/printers/<int:printer_id>/labels")
@api.auth_required(auth)
@api.doc(summary="Show a printer's tags, groups and site", responses=[401, 404])
def get_printer_labels(printer_id: int) -> dict[str, Any]:
    account = current_account()
    with services().read_db.session() as session:
        get_printer(session, account.id, printer_id)
        return groups.printer_labels(session, [printer_id])[printer_id]


@api.put("/printers/<int:printer_id>/labels")
@api.auth_required(auth)
@api.input(LabelsIn, arg_name="body")
@api.doc(summary="Replace a printer's tags and/or set its site", responses=[401, 404, 422])
def put_printer_labels(printer_id: int, body: LabelsIn) -> dict[str, Any]:
    account = current_account()
    with services().db.session() as session:
        printer = get_printer(session, account.id, printer_id)
        return groups.set_labels(session, printer, Actor.api_key(account.id), tags=body.tags, site=body.site,
                                 clear_site="site" in body.model_fields_set and not body.site)
