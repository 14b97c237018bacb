"""Poll plan, failures and SET over real UDP against snmpsim."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pysnmp.proto import rfc1902

from protocols.snmp import oids
from protocols.snmp.client import (
    SnmpAuthFailed,
    SnmpClient,
    SnmpTarget,
    SnmpTimeout,
    SnmpWriteRejected,
    CommunityAuth,
)
from protocols.snmp.conditions import to_conditions
from protocols.snmp.poller import SnmpPoller
from protocols.snmp.simulator import SnmpSimulator, free_udp_port

SLOW_RECORDINGS = Path(__file__).resolve().parent / "recordings" / "slow"


def test_poller_cheap_poll_after_discovery(snmp_client: SnmpClient, make_target) -> None:
    poller = SnmpPoller(snmp_client)
    target = make_target("edge_printer")

    first = poller.poll_many_sync([("p1", target)])[0]
    second = poller.poll_many_sync([("p1", target)])[0]

    assert first.full_walk_reason == "discovery"
    assert second.full_walk_reason is None
    assert second.health.supplies == first.health.supplies
    assert second.health.alerts == first.health.alerts
    assert to_conditions(second.health) == to_conditions(first.health)


def test_poller_full_walk_after_interval(snmp_client: SnmpClient, make_target) -> None:
    now = [1000.0]
    poller = SnmpPoller(snmp_client, full_walk_interval=600.0, clock=lambda: now[0])
    target = make_target("edge_printer")

    poller.poll_many_sync([("p1", target)])
    now[0] += 599.0
    cheap = poller.poll_many_sync([("p1", target)])[0]
    now[0] += 1.0
    walked = poller.poll_many_sync([("p1", target)])[0]

    assert cheap.full_walk_reason is None
    assert walked.full_walk_reason == "interval"


def test_poller_walks_when_config_changes(snmp_client: SnmpClient, make_target) -> None:
    """prtGeneralConfigChanges is a writecache record; bumping it stands for a config change."""
    poller = SnmpPoller(snmp_client)
    target = make_target("writable")
    first = poller.poll_many_sync([("w", target)])[0]

    bumped = (first.health.config_changes or 0) + 1
    snmp_client.run(snmp_client.set(target, [(oids.OID_PRT_GENERAL_CONFIG_CHANGES + (1,), rfc1902.Counter32(bumped))]))
    second = poller.poll_many_sync([("w", target)])[0]
    third = poller.poll_many_sync([("w", target)])[0]

    assert second.full_walk_reason == "config_changes_changed"
    assert second.health.config_changes == bumped
    assert third.full_walk_reason is None


def test_poller_walks_when_alert_counter_changes(snmp_client: SnmpClient, make_target) -> None:
    poller = SnmpPoller(snmp_client)
    target = make_target("writable")
    first = poller.poll_many_sync([("w", target)])[0]

    bumped = (first.health.alert_all_events or 0) + 1
    snmp_client.run(snmp_client.set(target, [(oids.OID_PRT_ALERT_ALL_EVENTS + (1,), rfc1902.Counter32(bumped))]))
    second = poller.poll_many_sync([("w", target)])[0]

    assert second.full_walk_reason == "alert_all_events_changed"


def test_poller_detects_reboot(snmp_client: SnmpClient, make_target) -> None:
    poller = SnmpPoller(snmp_client)
    target = make_target("writable")
    snmp_client.run(snmp_client.set(target, [(oids.OID_SYS_UP_TIME, rfc1902.TimeTicks(900000))]))
    first = poller.poll_many_sync([("w", target)])[0]

    snmp_client.run(snmp_client.set(target, [(oids.OID_SYS_UP_TIME, rfc1902.TimeTicks(1200))]))
    second = poller.poll_many_sync([("w", target)])[0]

    assert first.health.rebooted is False
    assert second.full_walk_reason == "rebooted"
    assert second.health.rebooted is True
    assert second.health.uptime_ticks == 1200


def test_poller_keeps_going_past_failures(snmp_client: SnmpClient, simulator: SnmpSimulator, make_target) -> None:
    """A dead port, a wrong community and a half-missing table next to healthy printers."""
    dead = SnmpTarget("127.0.0.1", free_udp_port(), CommunityAuth("edge_printer"), timeout=0.3, retries=0)
    printers = [
        ("edge", make_target("edge_printer")),
        ("dead", dead),
        ("wrong-community", make_target("no-such-recording", timeout=0.3, retries=0)),
        ("half", make_target("half_missing")),
        ("tiny", make_target("one_byte_low_toner")),
    ]

    results = {result.printer_id: result for result in SnmpPoller(snmp_client).poll_many_sync(printers)}

    assert results["edge"].health.reachable
    assert results["edge"].health.identity.model == "Edge Laser 9000"
    assert results["half"].health.reachable
    assert results["tiny"].health.error_state.names == ("lowToner",)
    for failed in ("dead", "wrong-community"):
        assert results[failed].health.reachable is False
        assert results[failed].health.error == "timeout"
        assert to_conditions(results[failed].health) == {"unreachable"}


def test_poller_recovers_with_full_walk(snmp_client: SnmpClient, make_target) -> None:
    poller = SnmpPoller(snmp_client)
    good = make_target("edge_printer")
    bad = SnmpTarget("127.0.0.1", free_udp_port(), CommunityAuth("edge_printer"), timeout=0.3, retries=0)

    poller.poll_many_sync([("p", good)])
    failed = poller.poll_many_sync([("p", bad)])[0]
    recovered = poller.poll_many_sync([("p", good)])[0]

    assert failed.health.error == "timeout"
    assert poller.state("p").reachable is True
    assert recovered.full_walk_reason == "recovered"


def test_poller_printer_vanishes_mid_walk(snmp_client: SnmpClient, make_target) -> None:
    """Its own snmpsim answers the first GETBULKs, then stalls on a delayed row for 8 s (the
    delay variation blocks the whole responder), and is then killed: the walk times out and
    the other printer in the same cycle is still polled."""
    with SnmpSimulator([SLOW_RECORDINGS / "vanishing.snmprec"]) as slow:
        vanishing = SnmpTarget("127.0.0.1", slow.port, CommunityAuth("vanishing"), timeout=0.5, retries=1)
        client = snmp_client
        scalars = client.run(client.get(vanishing, [oids.OID_SYS_DESCR]))
        poller = SnmpPoller(client)
        results = poller.poll_many_sync([("vanishing", vanishing), ("edge", make_target("edge_printer"))])
        slow.stop()
        after = poller.poll_many_sync([("vanishing", vanishing)])[0]

    assert scalars == {oids.OID_SYS_DESCR: b"Vanishing Printer"}
    assert results[0].health.reachable is False
    assert results[0].health.error == "timeout"
    assert results[1].health.reachable is True
    assert after.health.error == "timeout"


def test_client_walk_stops_at_subtree(snmp_client: SnmpClient, make_target) -> None:
    """lexicographic walks run to the end of the MIB; ours stops at the column."""
    values = snmp_client.run(snmp_client.walk(make_target("edge_printer"), [oids.OID_PRT_MARKER_SUPPLIES_LEVEL]))

    assert sorted(values) == [oids.OID_PRT_MARKER_SUPPLIES_LEVEL + (2, i) for i in range(1, 9)]


def test_client_v1_walk_matches_v2c(snmp_client: SnmpClient, make_target) -> None:
    roots = [oids.OID_PRT_MARKER_SUPPLIES_LEVEL, oids.OID_PRT_ALERT_DESCRIPTION, oids.OID_IF_PHYS_ADDRESS]
    v1 = snmp_client.run(snmp_client.walk(make_target("edge_printer", version="1"), roots))
    v2c = snmp_client.run(snmp_client.walk(make_target("edge_printer"), roots))

    assert v1 == v2c
    assert len(v1) == 8 + 5 + 2


def test_client_v1_get_skips_missing(snmp_client: SnmpClient, make_target) -> None:
    """SNMPv1 fails the whole PDU with noSuchName; the client drops that OID and asks again."""
    names = [oids.OID_SYS_DESCR, oids.OID_HR_PRINTER_STATUS + (9,), oids.OID_SYS_UP_TIME]
    values = snmp_client.run(snmp_client.get(make_target("edge_printer", version="1"), names))

    assert values == {oids.OID_SYS_DESCR: b"HP ETHERNET MULTI-ENVIRONMENT", oids.OID_SYS_UP_TIME: 500000}


def test_client_v3_auth_priv_poll(snmp_client: SnmpClient, make_v3_target) -> None:
    """snmpsim 1.2 supports one USM user per engine (--v3-user, SHA + AES here); the context name
    selects the recording."""
    result = SnmpPoller(snmp_client).poll_many_sync([("v3", make_v3_target("edge_printer"))])[0]

    assert result.health.reachable
    assert result.health.identity.serial_number == "EDGE123"


def test_client_v3_wrong_key_auth_failed(snmp_client: SnmpClient, make_v3_target) -> None:
    target = make_v3_target("edge_printer", auth_key="wrong-passphrase")

    with pytest.raises(SnmpAuthFailed, match="rejected the SNMP credentials") as caught:
        snmp_client.run(snmp_client.get(target, [oids.OID_SYS_DESCR]))
    result = SnmpPoller(snmp_client).poll_many_sync([("v3", target)])[0]

    assert caught.value.__cause__ is not None
    assert result.health.error == "auth_failed"


def test_client_wrong_community_times_out(snmp_client: SnmpClient, make_target) -> None:
    with pytest.raises(SnmpTimeout, match="did not answer") as caught:
        snmp_client.run(snmp_client.get(make_target("wrong", timeout=0.3, retries=0), [oids.OID_SYS_DESCR]))

    assert caught.value.__cause__ is not None


def test_client_set_identity_confirmed(snmp_client: SnmpClient, make_target) -> None:
    target = make_target("writable")

    snmp_client.run(snmp_client.set_identity(target, sys_name="kitchen-1", sys_location="Building B / 2nd floor"))
    values = snmp_client.run(snmp_client.get(target, [oids.OID_SYS_NAME, oids.OID_SYS_LOCATION]))

    assert values == {oids.OID_SYS_NAME: b"kitchen-1", oids.OID_SYS_LOCATION: b"Building B / 2nd floor"}


def test_client_set_read_only_rejected(snmp_client: SnmpClient, make_target) -> None:
    """snmpsim answers a SET on a plain record with errorStatus 0 and noSuchInstance."""
    with pytest.raises(SnmpWriteRejected, match="not writable"):
        snmp_client.run(snmp_client.set_identity(make_target("writable"), sys_contact="someone else"))


def test_client_reset_printer_confirmed(snmp_client: SnmpClient, make_target) -> None:
    """The writecache record reads back the written powerCycleReset(4); a real printer reads 3."""
    status = snmp_client.run(snmp_client.reset_printer(make_target("writable"), printer_index=1))

    assert status == "confirmed"


def test_client_semaphore_bounds_concurrency(snmp_client: SnmpClient, make_target) -> None:
    target = make_target("edge_printer")

    async def many() -> list[dict]:
        return await asyncio.gather(*(snmp_client.get(target, [oids.OID_SYS_UP_TIME]) for _ in range(100)))

    results = snmp_client.run(many())

    assert all(result == {oids.OID_SYS_UP_TIME: 500000} for result in results)
