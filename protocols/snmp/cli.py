"""``snmp`` click group: probe a printer once, or serve a recording with snmpsim to try it.

Secrets (community, v3 keys) can come from environment variables so they stay out of the
process list and shell history: PRINTFLEET_SNMP_COMMUNITY, PRINTFLEET_SNMP_V3_AUTH_KEY,
PRINTFLEET_SNMP_V3_PRIV_KEY.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import click

from protocols.snmp.client import AUTH_PROTOCOLS, PRIV_PROTOCOLS, CommunityAuth, SnmpClient, SnmpTarget, UsmAuth
from protocols.snmp.conditions import to_conditions, to_detail
from protocols.snmp.health import PrinterHealth
from protocols.snmp.poller import SnmpPoller
from protocols.snmp.simulator import SnmpSimulator


@click.group(name="snmp")
def snmp() -> None:
    """Read printer health over SNMP and serve recordings for trying it out."""


@snmp.command()
@click.argument("host")
@click.option("--port", default=161, show_default=True, type=click.IntRange(1, 65535), help="UDP port of the printer.")
@click.option("--community", envvar="PRINTFLEET_SNMP_COMMUNITY", default="public", show_default=True,
              help="v1/v2c community (env PRINTFLEET_SNMP_COMMUNITY).")
@click.option("--snmp-version", type=click.Choice(["1", "2c"]), default="2c", show_default=True,
              help="Protocol version when using a community.")
@click.option("--v3-user", help="SNMPv3 user; switches to v3 authPriv.")
@click.option("--v3-auth-key", envvar="PRINTFLEET_SNMP_V3_AUTH_KEY", help="v3 authentication passphrase.")
@click.option("--v3-priv-key", envvar="PRINTFLEET_SNMP_V3_PRIV_KEY", help="v3 privacy passphrase.")
@click.option("--v3-auth-proto", type=click.Choice(sorted(AUTH_PROTOCOLS)), default="SHA", show_default=True)
@click.option("--v3-priv-proto", type=click.Choice(sorted(PRIV_PROTOCOLS)), default="AES", show_default=True)
@click.option("--v3-context", default="", help="v3 context name (snmpsim: the recording's community).")
@click.option("--timeout", default=2.0, show_default=True, type=click.FloatRange(0.1, 60), help="Seconds per attempt.")
@click.option("--retries", default=1, show_default=True, type=click.IntRange(0, 10), help="Retries after a timeout.")
@click.option("--json", "as_json", is_flag=True, help="Print the decoded health as JSON.")
def probe(
    host: str, port: int, community: str, snmp_version: str, v3_user: str | None, v3_auth_key: str | None,
    v3_priv_key: str | None, v3_auth_proto: str, v3_priv_proto: str, v3_context: str, timeout: float,
    retries: int, as_json: bool,
) -> None:
    """Poll HOST once and print its decoded health. Exits with status 1 when HOST is unreachable."""
    auth: CommunityAuth | UsmAuth
    if v3_user:
        if not v3_auth_key or not v3_priv_key:
            raise click.UsageError("--v3-user needs --v3-auth-key and --v3-priv-key (authPriv).")
        try:
            auth = UsmAuth(v3_user, v3_auth_key, v3_priv_key, v3_auth_proto, v3_priv_proto, v3_context)
        except ValueError as err:
            raise click.UsageError(str(err)) from None
    else:
        auth = CommunityAuth(community, "1" if snmp_version == "1" else "2c")

    target = SnmpTarget(host, port, auth, timeout=timeout, retries=retries)
    with SnmpClient() as client:
        result = SnmpPoller(client).poll_many_sync([(host, target)])[0]

    health = result.health
    if as_json:
        detail = to_detail(health)
        detail["conditions"] = sorted(to_conditions(health))
        click.echo(json.dumps(detail, indent=2, sort_keys=True))
    else:
        click.echo(format_health(health))
    if not health.reachable:
        sys.exit(1)


def format_health(health: PrinterHealth) -> str:
    """Render health as short human-readable lines."""
    if not health.reachable:
        return f"unreachable ({health.error})"
    identity = health.identity
    lines = [
        f"model:      {identity.model}",
        f"vendor:     {identity.vendor or '?'} ({identity.sys_object_id})",
        f"serial:     {identity.serial_number or '-'}",
        f"mac:        {identity.mac or '-'}",
        f"uptime:     {'-' if health.uptime_ticks is None else f'{health.uptime_ticks / 100:.0f} s'}",
        f"device:     {health.device_status or '-'}   printer: {health.printer_status or '-'}",
        f"errors:     {', '.join(health.error_state.names) if health.error_state and health.error_state.bits else 'none'}",
        f"conditions: {', '.join(sorted(to_conditions(health))) or 'none'}",
    ]
    for supply in health.supplies:
        level = f"{supply.percent:.0f} %" if supply.percent is not None else supply.level_state
        kind = supply.supply_type.name if supply.supply_type else "supply"
        if supply.is_receptacle:
            kind = "receptacle, free space"
        lines.append(f"supply {supply.index}:  {supply.description} [{kind}] {level}")
    for tray in health.inputs:
        level = f"{tray.percent:.0f} %" if tray.percent is not None else tray.level_state
        lines.append(f"tray {tray.index}:    {tray.name or tray.description} {level}")
    for cover in health.covers:
        lines.append(f"cover {cover.index}:   {cover.description} {cover.status or '-'}")
    for alert in health.alerts:
        lines.append(f"alert {alert.index}:   {alert.severity or '-'} {alert.code or '-'} {alert.description}")
    for counter in health.counters:
        unit = counter.unit.name if counter.unit else "units"
        lines.append(f"counter {counter.index}: {counter.life_count} {unit} (since power on {counter.power_on_count})")
    lines += [f"console:    {line}" for line in health.console_lines]
    return "\n".join(lines)


@snmp.command("serve-recording")
@click.argument("recording", type=click.Path(exists=True, path_type=Path))
@click.option("--port", default=16161, show_default=True, type=click.IntRange(1024, 65535),
              help="UDP port on 127.0.0.1 to listen on.")
def serve_recording(recording: Path, port: int) -> None:
    """Serve RECORDING (a .snmprec file or a folder of them) with snmpsim on 127.0.0.1 until Ctrl-C."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with SnmpSimulator([recording], port=port) as simulator:
        click.echo(f"snmpsim pid {simulator.process.pid if simulator.process else '?'} on 127.0.0.1:{port}; communities:")
        for community in simulator.communities:
            click.echo(f"  {community}    try: printfleet snmp probe 127.0.0.1 --port {port} --community {community}")
        click.echo("Press Ctrl-C to stop.")
        try:
            while not stop.wait(1.0):
                if simulator.process is None or simulator.process.poll() is not None:
                    raise click.ClickException(f"snmpsim exited unexpectedly:\n{simulator.log_tail()}")
        except KeyboardInterrupt:
            pass
