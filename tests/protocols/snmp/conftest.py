"""Fixtures for the SNMP tests: one snmpsim process for the whole session and one client.

snmpsim runs as a real subprocess on a free UDP port of 127.0.0.1 and serves the synthetic
recordings next to this file (communities ``edge_printer``, ``half_missing``, ...) and, when the
shared data folder beside the repository exists, the LibreNMS recordings (``librenms/<name>``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from protocols.snmp.client import CommunityAuth, SnmpClient, SnmpTarget, UsmAuth
from protocols.snmp.simulator import SnmpSimulator
from snmp_users import V3_AUTH_KEY, V3_PRIV_KEY, V3_USER

RECORDINGS = Path(__file__).resolve().parent / "recordings"
SHARED_SNMP = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "snmp"
LIBRENMS_RECORDINGS = SHARED_SNMP / "librenms"
EXPECTED_LIBRENMS = SHARED_SNMP / "expected_librenms.json"



@pytest.fixture(scope="session")
def simulator() -> Iterator[SnmpSimulator]:
    sources = sorted(RECORDINGS.glob("*.snmprec"))
    if LIBRENMS_RECORDINGS.is_dir():
        sources.append(LIBRENMS_RECORDINGS)
    with SnmpSimulator(
        sources, v3_user=V3_USER, v3_auth_key=V3_AUTH_KEY, v3_priv_key=V3_PRIV_KEY,
        v3_auth_proto="SHA", v3_priv_proto="AES",
    ) as running:
        yield running


@pytest.fixture(scope="session")
def snmp_client() -> Iterator[SnmpClient]:
    with SnmpClient(max_concurrency=20) as client:
        yield client


@pytest.fixture(scope="session")
def make_target(simulator: SnmpSimulator) -> Any:
    """Build a target on the session simulator; generous timeouts because the box is shared."""

    def build(community: str, version: str = "2c", timeout: float = 2.0, retries: int = 1) -> SnmpTarget:
        auth = CommunityAuth(community, "1" if version == "1" else "2c")
        return SnmpTarget("127.0.0.1", simulator.port, auth, timeout=timeout, retries=retries)

    return build


@pytest.fixture(scope="session")
def make_v3_target(simulator: SnmpSimulator) -> Any:
    def build(context: str, auth_key: str = V3_AUTH_KEY, timeout: float = 2.0) -> SnmpTarget:
        auth = UsmAuth(V3_USER, auth_key, V3_PRIV_KEY, "SHA", "AES", context_name=context)
        return SnmpTarget("127.0.0.1", simulator.port, auth, timeout=timeout, retries=1)

    return build


@pytest.fixture(scope="session")
def expected_librenms() -> dict[str, Any]:
    if not EXPECTED_LIBRENMS.exists():
        pytest.skip(f"Shared SNMP data not found at {SHARED_SNMP.resolve()}; the LibreNMS comparison reads the shared reference data folder next to the checkout, which CI provides.")
    data: dict[str, Any] = json.loads(EXPECTED_LIBRENMS.read_text())
    return data
