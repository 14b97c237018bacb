"""Benchmark: SNMP printer sweeps against several snmpsim processes on 127.0.0.1.

Phases, each bounded by the printer count and by --max-seconds:

1. ``full``:   SnmpPoller discovery poll of every printer (GET scalars + GETBULK walk of the
               hrDevice, ifTable and Printer-MIB columns + GET of the printer row).
2. ``cheap``:  the next poll of every printer (one or two GETs each).
3. ``walk``:   SnmpClient.walk of the Printer-MIB subtree 1.3.6.1.2.1.43 per printer.
4. ``netsnmp``: net-snmp ``snmpbulkwalk -Cr25`` of the same subtree per printer, the same
               number of walks in flight (one process per walk).

For each phase: printers per second, request PDUs per second, CPU seconds per printer of the
client (this process, or the snmpbulkwalk children) and of the simulators. The simulators'
answer rate is the PDU rate they sustained for net-snmp, whose client CPU is small; the
ratio of our walk PDU rate to it says how much of the simulators' capacity we use.

Usage: python bench/snmp_sweep.py [--simulators 4] [--printers 240] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from protocols.snmp.client import CommunityAuth, SnmpClient, SnmpTarget  # noqa: E402
from protocols.snmp.oids import oid  # noqa: E402
from protocols.snmp.poller import SnmpPoller  # noqa: E402
from protocols.snmp.simulator import SnmpSimulator  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_RECORDINGS = REPO / ".." / "shared" / "data" / "snmp" / "librenms"
SYNTHETIC_RECORDINGS = REPO / "tests" / "protocols" / "snmp" / "recordings"
PRINTER_MIB = "1.3.6.1.2.1.43"
BULK_REPETITIONS = 25


@dataclass
class PhaseResult:
    name: str
    printers: int
    seconds: float
    pdus: int
    client_cpu: float
    simulator_cpu: float
    errors: int

    @property
    def printers_per_second(self) -> float:
        return self.printers / self.seconds if self.seconds else 0.0

    @property
    def pdus_per_second(self) -> float:
        return self.pdus / self.seconds if self.seconds else 0.0


def process_cpu_seconds(pid: int) -> float:
    """Return utime + stime of ``pid`` from /proc (Linux), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def simulators_cpu(simulators: list[SnmpSimulator]) -> float:
    return sum(process_cpu_seconds(sim.process.pid) for sim in simulators if sim.process is not None)


def recordings_source() -> list[Path]:
    if SHARED_RECORDINGS.is_dir():
        return sorted(SHARED_RECORDINGS.glob("*.snmprec"))
    return [path for path in sorted(SYNTHETIC_RECORDINGS.glob("*.snmprec")) if path.stem != "writable"]


def build_fleet(work: Path, simulators: int, printers: int) -> list[Path]:
    """Copy the recordings round-robin into one folder per simulator, one file per printer."""
    sources = recordings_source()
    folders = [work / f"sim{index}" for index in range(simulators)]
    for folder in folders:
        folder.mkdir(parents=True)
    for number in range(printers):
        source = sources[number % len(sources)]
        shutil.copyfile(source, folders[number % simulators] / f"p{number:05d}_{source.stem}.snmprec")
    return folders


def targets_of(simulators: list[SnmpSimulator]) -> list[tuple[str, SnmpTarget]]:
    targets = []
    for sim in simulators:
        for community in sim.communities:
            auth = CommunityAuth(community)
            targets.append((community, SnmpTarget("127.0.0.1", sim.port, auth, timeout=5.0, retries=1)))
    return sorted(targets, key=lambda pair: pair[0])


def run_poll_phase(name: str, client: SnmpClient, poller: SnmpPoller, targets: list[tuple[str, SnmpTarget]],
                   simulators: list[SnmpSimulator], concurrency: int, max_seconds: float) -> PhaseResult:
    async def sweep() -> tuple[int, int]:
        deadline = time.monotonic() + max_seconds
        limiter = asyncio.Semaphore(concurrency)
        done = errors = 0

        async def one(printer_id: str, target: SnmpTarget) -> None:
            nonlocal done, errors
            async with limiter:
                if time.monotonic() > deadline:
                    return
                result = await poller.poll(printer_id, target)
                done += 1
                errors += 0 if result.health.reachable else 1

        await asyncio.gather(*(one(printer_id, target) for printer_id, target in targets))
        return done, errors

    return measure(name, client, simulators, lambda: client.run(sweep()))


def run_walk_phase(client: SnmpClient, targets: list[tuple[str, SnmpTarget]], simulators: list[SnmpSimulator],
                   concurrency: int, max_seconds: float) -> PhaseResult:
    root = oid(PRINTER_MIB)

    async def sweep() -> tuple[int, int]:
        deadline = time.monotonic() + max_seconds
        limiter = asyncio.Semaphore(concurrency)
        done = 0

        async def one(target: SnmpTarget) -> None:
            nonlocal done
            async with limiter:
                if time.monotonic() > deadline:
                    return
                await client.walk(target, [root], max_varbinds=BULK_REPETITIONS)
                done += 1

        await asyncio.gather(*(one(target) for _, target in targets))
        return done, 0

    return measure("walk", client, simulators, lambda: client.run(sweep()))


def measure(name: str, client: SnmpClient, simulators: list[SnmpSimulator], body) -> PhaseResult:
    pdus_before, cpu_before, sim_before = client.requests_sent, time.process_time(), simulators_cpu(simulators)
    started = time.monotonic()
    done, errors = body()
    seconds = time.monotonic() - started
    return PhaseResult(name, done, seconds, client.requests_sent - pdus_before, time.process_time() - cpu_before,
                       simulators_cpu(simulators) - sim_before, errors)


def run_netsnmp_phase(targets: list[tuple[str, SnmpTarget]], simulators: list[SnmpSimulator],
                      concurrency: int, max_seconds: float) -> PhaseResult | None:
    binary = shutil.which("snmpbulkwalk")
    if binary is None:
        print("snmpbulkwalk not found (Debian package 'snmp'); skipping the net-snmp phase.", file=sys.stderr)
        return None
    deadline = time.monotonic() + max_seconds

    def walk(target: SnmpTarget) -> tuple[int, bool]:
        if time.monotonic() > deadline:
            return -1, True
        auth = target.auth
        assert isinstance(auth, CommunityAuth)
        command = [binary, "-v2c", "-c", auth.community, f"-Cr{BULK_REPETITIONS}", "-On", "-t", "5", "-r", "1",
                   f"127.0.0.1:{target.port}", PRINTER_MIB]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        varbinds = len(completed.stdout.splitlines())
        return varbinds, completed.returncode == 0

    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sim_before = simulators_cpu(simulators)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = list(pool.map(walk, [target for _, target in targets]))
    seconds = time.monotonic() - started
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)

    finished = [(varbinds, ok) for varbinds, ok in outcomes if varbinds >= 0]
    # A GETBULK walk of n varbinds needs ceil((n + 1) / r) responses: the last one leaves the subtree.
    pdus = sum(math.ceil((varbinds + 1) / BULK_REPETITIONS) for varbinds, _ in finished)
    client_cpu = (children_after.ru_utime + children_after.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    return PhaseResult("netsnmp", len(finished), seconds, pdus, client_cpu,
                       simulators_cpu(simulators) - sim_before, sum(1 for _, ok in finished if not ok))


def report(results: list[PhaseResult], args: argparse.Namespace) -> None:
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"simulators={args.simulators} printers={args.printers} concurrency={args.concurrency} "
          f"recordings={'LibreNMS (shared)' if SHARED_RECORDINGS.is_dir() else 'synthetic'}")
    print()
    print("| phase | printers | seconds | printers/s | PDUs/s | client CPU s/printer | simulator CPU s/printer | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        per = max(result.printers, 1)
        print(f"| {result.name} | {result.printers} | {result.seconds:.2f} | {result.printers_per_second:.1f} | "
              f"{result.pdus_per_second:.0f} | {result.client_cpu / per:.4f} | {result.simulator_cpu / per:.4f} | {result.errors} |")

    by_name = {result.name: result for result in results}
    netsnmp, walk = by_name.get("netsnmp"), by_name.get("walk")
    if netsnmp and walk and netsnmp.pdus_per_second:
        print()
        print(f"simulators' answer rate (net-snmp load): {netsnmp.pdus_per_second:.0f} PDU/s; "
              f"our walk: {walk.pdus_per_second:.0f} PDU/s; ratio {walk.pdus_per_second / netsnmp.pdus_per_second:.2f}")
    print()
    print("Extrapolation to 10,000 printers at these rates (not measured; real printers answer slower "
          "than snmpsim on loopback and the network adds latency):")
    for name in ("full", "cheap"):
        result = by_name.get(name)
        if result and result.printers_per_second:
            print(f"- {name} sweep: {10_000 / result.printers_per_second:.0f} s wall, "
                  f"{10_000 * result.client_cpu / max(result.printers, 1):.0f} client CPU s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulators", type=int, default=4, help="snmpsim processes (default 4)")
    parser.add_argument("--printers", type=int, default=240, help="simulated printers in total (default 240)")
    parser.add_argument("--concurrency", type=int, default=32, help="printers polled at once (default 32)")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="time bound per phase in seconds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="printfleet-bench-") as work:
        folders = build_fleet(Path(work), args.simulators, args.printers)
        simulators = [SnmpSimulator([folder]).start(ready_timeout=120) for folder in folders]
        try:
            targets = targets_of(simulators)
            results = []
            with SnmpClient(max_concurrency=args.concurrency * 2) as client:
                poller = SnmpPoller(client, poll_timeout=60.0)
                results.append(run_poll_phase("full", client, poller, targets, simulators, args.concurrency, args.max_seconds))
                results.append(run_poll_phase("cheap", client, poller, targets, simulators, args.concurrency, args.max_seconds))
                results.append(run_walk_phase(client, targets, simulators, args.concurrency, args.max_seconds))
            netsnmp = run_netsnmp_phase(targets, simulators, args.concurrency, args.max_seconds)
            if netsnmp is not None:
                results.append(netsnmp)
        finally:
            for sim in simulators:
                sim.stop()
    report(results, args)


if __name__ == "__main__":
    main()
