"""One printfleet instance per database backend for each remote-operation test module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from fleet.app import shutdown
from tests.conftest import PG_URL, Running, _postgres_database, start_instance


def _backends() -> list[Any]:
    params: list[Any] = [pytest.param("sqlite", id="sqlite")]
    if PG_URL:
        params.append(pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres))
    return params


@pytest.fixture(scope="module", params=_backends())
def fleet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A printfleet instance with its workers (bulk runner included), shared by the module's tests."""
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('remote-db') / 'printfleet.db'}"
    else:
        url, drop = _postgres_database()
    running = start_instance(url)
    try:
        yield running
    finally:
        running.server.stop()
        shutdown(running.app)
        if drop is not None:
            drop()


@pytest.fixture
def account(fleet: Running) -> tuple[int, requests.Session]:
    """A fresh account for each test, so tests share the server but not their printers."""
    return fleet.new_account("Remote shop")


def api(fleet: Running, client: requests.Session, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
    """Send one API request and check its status; return the JSON body."""
    response = client.request(method, f"{fleet.url}/api/v1{path}", timeout=30, **kwargs)
    assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.content else None
