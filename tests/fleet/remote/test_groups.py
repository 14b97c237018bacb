"""Groups, tags and sites over the API, and selections built from them."""

from __future__ import annotations

from typing import Any

from tests.conftest import Running, register_printer
from tests.fleet.remote.conftest import api


def _printers(fleet: Running, client: Any, count: int, prefix: str) -> list[int]:
    return [register_printer(client, fleet.url, name=f"P{i}", protocol="cloudprnt", mac=f"{prefix}:{i:02x}")["id"]
            for i in range(count)]


def test_labels_tags_and_site_round_trip(fleet: Running, account: Any) -> None:
    _, client = account
    printer_id = _printers(fleet, client, 1, "00:11:62:30:00")[0]

    labels = api(fleet, client, "PUT", f"/printers/{printer_id}/labels",
                 json={"tags": ["Kitchen", "region:north", "kitchen"], "site": "Berlin Mitte"})
    cleared = api(fleet, client, "PUT", f"/printers/{printer_id}/labels", json={"site": None})
    bad = api(fleet, client, "PUT", f"/printers/{printer_id}/labels", expect=422, json={"tags": ["no spaces"]})

    assert labels == {"tags": ["kitchen", "region:north"], "groups": [], "site": "Berlin Mitte"}
    assert cleared["site"] is None
    assert cleared["tags"] == ["kitchen", "region:north"]
    assert "tag 'no spaces' is invalid" in bad["error"]["message"]


def test_group_selection_drives_bulk(fleet: Running, account: Any) -> None:
    _, client = account
    ids = _printers(fleet, client, 4, "00:11:62:30:01")
    group = api(fleet, client, "POST", "/groups", expect=201, json={"name": "Bars", "printer_ids": ids[:2]})
    duplicate = api(fleet, client, "POST", "/groups", expect=409, json={"name": "Bars"})
    api(fleet, client, "PUT", f"/printers/{ids[1]}/labels", json={"site": "Hamburg"})

    by_group = api(fleet, client, "POST", "/bulk-operations", expect=202,
                   json={"action": "test_print", "selection": {"group": "Bars"}, "dry_run": True})
    by_both = api(fleet, client, "POST", "/bulk-operations", expect=202,
                  json={"action": "test_print", "selection": {"group": group["id"], "site": "Hamburg"},
                        "dry_run": True})
    labels = api(fleet, client, "GET", f"/printers/{ids[0]}/labels")

    assert group["printer_ids"] == ids[:2]
    assert duplicate["error"]["code"] == "duplicate_group"
    assert by_group["total"] == 2
    assert by_both["total"] == 1
    assert labels["groups"] == ["Bars"]
