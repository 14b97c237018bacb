"""A bulk operation interrupted by a shutdown resumes after the restart."""

from __future__ import annotations

from typing import Any

from fleet.app import shutdown
from tests.conftest import register_printer, start_instance
from tests.support.servers import wait_until


def test_bulk_operation_resumes_after_restart(database_url: str) -> None:
    first = start_instance(database_url)
    try:
        _, client = first.new_account()
        ids = [register_printer(client, first.url, name=f"P{n}", protocol="cloudprnt",
                                mac=f"00:11:62:00:07:{n:02x}")["id"] for n in range(4)]
        started = client.post(f"{first.url}/api/v1/bulk-operations", json={
            "action": "test_print", "selection": {"printer_ids": ids}, "rate_per_second": 0.5}, timeout=10)
        assert started.status_code == 202, started.text
        operation_id = started.json()["id"]
        path = f"/api/v1/bulk-operations/{operation_id}"
        wait_until(lambda: client.get(f"{first.url}{path}", timeout=10).json()["done"] >= 1, timeout=60)
    finally:
        first.server.stop()
        shutdown(first.app)

    second = start_instance(database_url)
    try:
        def finished() -> dict[str, Any] | None:
            view: dict[str, Any] = client.get(f"{second.url}{path}", timeout=10).json()
            return view if view["state"] == "finished" else None

        view = wait_until(finished, timeout=60)
        assert view["done"] == 4
        assert view["total"] == 4
    finally:
        second.server.stop()
        shutdown(second.app)
