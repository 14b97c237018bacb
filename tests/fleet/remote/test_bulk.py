"""Bulk operations over 200 CloudPRNT printers: background run, per-printer results, progress, dry run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from fleet.accounts import create_account
from fleet.events import Event
from fleet.models import Account, Job
from fleet.printers import register_printer
from fleet.remote_models import PrinterTag
from protocols.simulators.cloudprnt import CloudPrntSimulator
from tests.conftest import Running
from tests.fleet.remote.conftest import api
from tests.support.servers import wait_until

PRINTERS = 200
POLLING = 3
DEADLINE = 120.0


@pytest.fixture(scope="module")
def fleet_200(fleet: Running) -> Iterator[dict[str, Any]]:
    """An account with 200 CloudPRNT printers registered through the service layer, tagged ``fleet``.

    Three of them poll through simulators; the others never poll and stay offline.
    """
    with fleet.services.db.session() as session:
        created = create_account(session, "Chain")
        account = session.get(Account, created.account.id)
        assert account is not None
        ids, macs = [], []
        for index in range(PRINTERS):
            mac = f"00:11:62:20:{index // 256:02x}:{index % 256:02x}"
            printer = register_printer(session, account, f"Till {index}", "cloudprnt", mac).printer
            session.add(PrinterTag(printer_id=printer.id, tag="fleet"))
            ids.append(printer.id)
            macs.append(mac)
        device_key = account.device_key
    client = requests.Session()
    client.headers["Authorization"] = f"Bearer {created.api_key}"
    simulators = [CloudPrntSimulator(f"{fleet.url}/cloudprnt/{device_key}/poll", mac, poll_interval=0.3,
                                     encodings=("text/plain",)) for mac in macs[:POLLING]]
    for simulator in simulators:
        simulator.start()
    yield {"client": client, "ids": ids, "account_id": created.account.id, "simulators": simulators}
    for simulator in simulators:
        simulator.stop()


class ProgressRecorder:
    """Collects ``bulk.progress`` events of one operation from the event bus."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: Event) -> None:
        with self.lock:
            self.events.append(dict(event.data))

    def of(self, operation_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [data for data in self.events if data["operation_id"] == operation_id]


@pytest.fixture(scope="module")
def progress(fleet: Running) -> ProgressRecorder:
    recorder = ProgressRecorder()
    fleet.services.bus.subscribe("bulk.progress", recorder)
    return recorder


def _run(fleet: Running, client: requests.Session, body: dict[str, Any]) -> dict[str, Any]:
    started = api(fleet, client, "POST", "/bulk-operations", expect=202, json={"rate_per_second": 400, **body})
    assert started["state"] in ("queued", "running", "finished")
    return wait_until(lambda: (lambda op: op if op["state"] == "finished" else None)(
        api(fleet, client, "GET", f"/bulk-operations/{started['id']}")), timeout=DEADLINE)


def test_bulk_test_print_queues_for_all(fleet: Running, fleet_200: dict[str, Any], progress: ProgressRecorder) -> None:
    client = fleet_200["client"]

    operation = _run(fleet, client, {"action": "test_print", "selection": {"tag": "fleet"}})
    events = progress.of(operation["id"])

    assert operation["total"] == PRINTERS
    assert operation["done"] == PRINTERS
    assert operation["succeeded"] == PRINTERS
    assert operation["percent"] == 100.0
    assert sorted(row["printer_id"] for row in operation["results"]) == fleet_200["ids"]
    assert all(row["state"] == "ok" and "job_id" in row["detail"] for row in operation["results"])
    with fleet.services.db.session() as session:
        jobs = session.scalar(select(func.count()).select_from(Job).where(
            Job.kind == "test", Job.printer_id.in_(fleet_200["ids"])))
    assert jobs == PRINTERS
    assert events[-1]["state"] == "finished"
    assert events[-1]["done"] == events[-1]["total"] == PRINTERS
    done_values = [data["done"] for data in events if data["state"] == "running"]
    assert done_values == list(range(1, PRINTERS + 1))
    polling = fleet_200["simulators"][0]
    assert polling.wait_for(lambda: any("TEST PAGE" in job.text for job in polling.printed), DEADLINE)


def test_bulk_reboot_refused_without_handler(fleet: Running, fleet_200: dict[str, Any],
                                             progress: ProgressRecorder) -> None:
    client = fleet_200["client"]

    operation = _run(fleet, client, {"action": "reboot", "selection": {"printer_ids": fleet_200["ids"]}})

    assert operation["done"] == PRINTERS
    assert operation["succeeded"] == 0
    assert operation["failed"] == PRINTERS
    assert operation["counts"] == {"refused": PRINTERS}
    detail = operation["results"][0]["detail"]
    assert "does not support reboot" in detail["message"]
    assert detail["supported"] == ["test_print"]
    assert progress.of(operation["id"])[-1]["done"] == PRINTERS


def test_bulk_settings_dry_run_changes_nothing(fleet: Running, fleet_200: dict[str, Any]) -> None:
    client = fleet_200["client"]
    first = fleet_200["ids"][0]

    operation = _run(fleet, client, {"action": "settings", "selection": {"tag": "fleet", "profile": "star-mc-print3"},
                                     "settings": {"copies": 3}, "dry_run": True})
    settings = api(fleet, client, "GET", f"/printers/{first}/settings")

    assert operation["dry_run"] is True
    assert operation["total"] == PRINTERS
    assert all(row["detail"]["changes"] == {"copies": [1, 3]} for row in operation["results"])
    assert settings["desired"]["copies"] == 1
    assert settings["version"] == 0


def test_bulk_settings_applies_and_audits(fleet: Running, fleet_200: dict[str, Any]) -> None:
    client = fleet_200["client"]
    chosen = fleet_200["ids"][10:20]

    operation = _run(fleet, client, {"action": "settings", "selection": {"printer_ids": chosen},
                                     "settings": {"buzzer": True}})
    entries = api(fleet, client, "GET", "/audit", params={"bulk_operation_id": operation["id"], "limit": 1000})

    assert operation["succeeded"] == len(chosen)
    assert all(api(fleet, client, "GET", f"/printers/{pid}/settings")["desired"]["buzzer"] is True for pid in chosen)
    actions = sorted(entry["action"] for entry in entries["entries"])
    assert actions == ["bulk.start"] + ["settings.change"] * len(chosen)


def test_bulk_invalid_value_fails_each_printer(fleet: Running, fleet_200: dict[str, Any]) -> None:
    client = fleet_200["client"]
    chosen = fleet_200["ids"][:5]

    operation = _run(fleet, client, {"action": "settings", "selection": {"printer_ids": chosen},
                                     "settings": {"copies": 0}})

    assert operation["failed"] == len(chosen)
    assert all("copies=0 is invalid" in row["detail"]["message"] for row in operation["results"])
    assert api(fleet, client, "GET", f"/printers/{chosen[0]}/settings")["desired"]["copies"] == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"action": "reboot", "selection": {}}, "selection"),
    ({"action": "launch", "selection": {"tag": "fleet"}}, "action"),
    ({"action": "settings", "selection": {"tag": "fleet"}}, "params.settings"),
    ({"action": "test_print", "selection": {"tag": "nobody"}}, "selection"),
], ids=["empty-selection", "unknown-action", "no-settings", "no-match"])
def test_bulk_rejects_bad_request(fleet: Running, fleet_200: dict[str, Any], body: dict[str, Any], field: str) -> None:
    error = api(fleet, fleet_200["client"], "POST", "/bulk-operations", expect=422, json=body)["error"]

    assert error["fields"][0]["field"] == field


def test_bulk_other_account_printers_not_found(fleet: Running, fleet_200: dict[str, Any]) -> None:
    _, intruder = fleet.new_account("Intruder")

    error = api(fleet, intruder, "POST", "/bulk-operations", expect=404,
                json={"action": "test_print", "selection": {"printer_ids": fleet_200["ids"][:3]}})["error"]
    listed = api(fleet, intruder, "GET", "/bulk-operations/1", expect=404)

    assert "do not exist in this account" in error["message"]
    assert listed["error"]["code"] == "not_found"
