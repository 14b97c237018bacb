"""One printfleet instance per database backend for each remote-operation test module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import Running, running_instance



@pytest.fixture(scope="module")
def fleet(module_database_url: str) -> Iterator[Running]:
    """A printfleet instance with its workers (bulk runner included), shared by the module's tests."""
    with running_instance(module_database_url) as running:
        yield running


@pytest.fixture
def account(fleet: Running) -> tuple[int, requests.Session]:
    """A fresh account for each test, so tests share the server but not their printers."""
    return fleet.new_account("Remote shop")


def api(fleet: Running, client: requests.Session, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
    """Send one API request and check its status; return the JSON body."""
    response = client.request(method, f"{fleet.url}/api/v1{path}", timeout=30, **kwargs)
    assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.content else None
