"""Shared fixtures: databases (SQLite always, PostgreSQL when PRINTFLEET_TEST_DATABASE_URL is set),
a running printfleet server on a free port, and real SMTP and HTTP peers."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fleet.accounts import create_account
from fleet.app import create_app, shutdown
from fleet.server import ServerThread
from fleet.services import Services
from fleet.web import EXTENSION_KEY
from tests.support.servers import HttpReceiver, SmtpServer

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
PG_URL = os.environ.get("PRINTFLEET_TEST_DATABASE_URL")


def _backends() -> list[Any]:
    params: list[Any] = [pytest.param("sqlite", id="sqlite")]
    if PG_URL:
        params.append(pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres))
    return params


def _postgres_database() -> tuple[str, Any]:
    """Create a throwaway database on the test server; return its URL and a dropper."""
    base = make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1) if PG_URL.startswith("postgresql://") else PG_URL)
    name = f"printfleet_test_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: SQLite in a temporary folder, and PostgreSQL too when configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'printfleet.db'}"
        return
    url, drop = _postgres_database()
    try:
        yield url
    finally:
        drop()


@pytest.fixture(scope="module", params=_backends())
def module_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database per test module: SQLite, and PostgreSQL too when configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'printfleet.db'}"
        return
    url, drop = _postgres_database()
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'printfleet.db'}"


@dataclass
class Running:
    """A printfleet instance serving HTTP on a free port."""

    app: Any
    server: ServerThread
    services: Services

    @property
    def url(self) -> str:
        return self.server.url

    def new_account(self, name: str = "Test shop") -> tuple[int, requests.Session]:
        """Create an account; return its id and an HTTP session sending its API key."""
        with self.services.db.session() as session:
            created = create_account(session, name)
        client = requests.Session()
        client.headers["Authorization"] = f"Bearer {created.api_key}"
        return created.account.id, client


def start_instance(database_url: str, **overrides: Any) -> Running:
    # Tests poll the API in tight loops; the rate limit has its own test with its own low setting.
    config = {"database_url": database_url, "env": "test", "default_poll_interval_seconds": 2,
              "api_rate_per_second": 10_000, **overrides}
    app = create_app(config)
    server = ServerThread(app).start()
    return Running(app, server, app.extensions[EXTENSION_KEY])


@contextmanager
def running_instance(database_url: str, **overrides: Any) -> Iterator[Running]:
    """Run a printfleet instance for the ``with`` block (module-scoped fixtures share one this way)."""
    running = start_instance(database_url, **overrides)
    try:
        yield running
    finally:
        running.server.stop()
        shutdown(running.app)


@pytest.fixture
def instance_factory() -> Iterator[Any]:
    started: list[Running] = []

    def factory(database_url: str, **overrides: Any) -> Running:
        running = start_instance(database_url, **overrides)
        started.append(running)
        return running

    yield factory
    for running in reversed(started):
        running.server.stop()
        shutdown(running.app)


@pytest.fixture
def instance(database_url: str, instance_factory: Any) -> Running:
    """A running server on the parametrised database (SQLite, and PostgreSQL when configured)."""
    return instance_factory(database_url)  # type: ignore[no-any-return]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver().start()
    yield server
    server.stop()


def register_printer(client: requests.Session, base: str, **fields: Any) -> dict[str, Any]:
    response = client.post(f"{base}/api/v1/printers", json=fields, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def send_order(client: requests.Session, base: str, printer_id: int, headers: dict[str, str] | None = None,
               **fields: Any) -> requests.Response:
    body = {
        "printer_id": printer_id,
        "items": [{"name": "Margherita", "quantity": 2, "unit_price": "8.50"},
                  {"name": "Crème brûlée", "quantity": 1, "unit_price": "5.00", "notes": "no sugar"}],
        "customer": {"name": "Zoë Müller", "email": "zoe@example.org", "phone": "+49 30 1234567"},
        "currency": "EUR", "total": "22.00",
        **fields,
    }
    return client.post(f"{base}/api/v1/orders", json=body, headers=headers or {}, timeout=10)
