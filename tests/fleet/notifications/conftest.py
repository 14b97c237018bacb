"""Module-scoped peers and databases for the notification and integration tests: one server per
module and backend, one account per test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from fleet.app import shutdown
from tests.conftest import Running, start_instance
from tests.fleet.notifications.standins import StandIn, twilio_gateway
from tests.support.servers import SmtpServer

#: Retries come quickly so tests that take a receiver down finish in seconds.
FAST_RETRIES = {"outbox_base_backoff_seconds": 0.2, "outbox_max_backoff_seconds": 0.5}


@pytest.fixture(scope="module")
def module_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sms_stand_in() -> Iterator[StandIn]:
    server = twilio_gateway().start()
    yield server
    server.stop()


def unique(prefix: str) -> str:
    """An order reference no other test run shares, because SMTP and stand-in servers outlive one backend."""
    return f"{prefix}-{secrets.token_hex(3)}"


def running_instance(database_url: str, **overrides: Any) -> Iterator[Running]:
    """Start a printfleet server for a module's tests and stop it afterwards."""
    running = start_instance(database_url, **{**FAST_RETRIES, **overrides})
    try:
        yield running
    finally:
        running.server.stop()
        shutdown(running.app)
