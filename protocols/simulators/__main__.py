"""Run one printer simulator by hand until Ctrl-C, printing each job it receives.

Examples::

    python -m protocols.simulators --protocol cloudprnt --url http://127.0.0.1:5000/cloudprnt/KEY/poll \
        --mac 00:11:62:0e:15:58
    python -m protocols.simulators --protocol goodcom --url http://127.0.0.1:5000/goodcom/order \
        --account 12 --user printer12 --password secret
    python -m protocols.simulators --protocol epson_sdp --url http://127.0.0.1:5000/epson/KEY --printer-id tm1
    python -m protocols.simulators --protocol escpos --port 9100
"""

from __future__ import annotations

import argparse
import functools
import logging
import signal
import threading

from protocols.simulators.base import PrintedJob, SimulatedPrinter
from protocols.simulators.cloudprnt import CloudPrntSimulator
from protocols.simulators.epson_sdp import EpsonSdpSimulator
from protocols.simulators.escpos_network import EscposNetworkPrinter
from protocols.simulators.goodcom import GoodcomSimulator

PROTOCOLS = ("cloudprnt", "goodcom", "epson_sdp", "escpos")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m protocols.simulators", description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=PROTOCOLS, required=True, help="wire protocol to simulate")
    parser.add_argument("--url", help="server URL the printer polls (CloudPRNT, Goodcom order URL, Epson SDP)")
    parser.add_argument("--mac", default="00:11:62:00:00:01", help="CloudPRNT printer MAC address")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="seconds between polls")
    parser.add_argument("--callback-url", help="Goodcom callback URL (default: the order URL ending in /callback)")
    parser.add_argument("--account", default="1", help="Goodcom account (a=)")
    parser.add_argument("--user", default="printer", help="Goodcom user (u=)")
    parser.add_argument("--password", default="", help="Goodcom password (p=)")
    parser.add_argument("--printer-id", default="local_printer", help="Epson SDP printer ID")
    parser.add_argument("--name", help="Epson SDP printer name sent as Name=")
    parser.add_argument("--host", default="127.0.0.1", help="ESC/POS listening address")
    parser.add_argument("--port", type=int, default=0, help="ESC/POS listening port (0 takes a free port)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every poll (DEBUG)")
    return parser


def build_simulator(args: argparse.Namespace) -> SimulatedPrinter:
    """Create the simulator the arguments describe; raises SystemExit when --url is missing."""
    if args.protocol == "escpos":
        return EscposNetworkPrinter(args.host, args.port)

    if not args.url:
        raise SystemExit(f"--url is required for --protocol {args.protocol}.")
    if args.protocol == "cloudprnt":
        return CloudPrntSimulator(args.url, args.mac, poll_interval=args.poll_interval)
    if args.protocol == "goodcom":
        callback_url = args.callback_url or args.url.rsplit("/", 1)[0] + "/callback"
        return GoodcomSimulator(args.url, callback_url, args.account, args.user, args.password,
                                poll_interval=args.poll_interval)
    return EpsonSdpSimulator(args.url, args.printer_id, name=args.name, poll_interval=args.poll_interval)


def describe(job: PrintedJob) -> str:
    header = f"--- job={job.job_id} type={job.media_type} bytes={len(job.data)}"
    return f"{header}\n{job.text.rstrip()}" if job.text else header


def _has_news(simulator: SimulatedPrinter, printed_count: int, done: threading.Event) -> bool:
    return len(simulator.printed) > printed_count or done.is_set()


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    simulator = build_simulator(args)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    simulator.start()
    if isinstance(simulator, EscposNetworkPrinter):
        print(f"ESC/POS printer listening on {simulator.host}:{simulator.port}", flush=True)
    printed_count = 0
    while not done.is_set():
        simulator.wait_for(functools.partial(_has_news, simulator, printed_count, done), 1.0)
        for job in simulator.printed[printed_count:]:
            print(describe(job), flush=True)
            printed_count += 1
    simulator.stop()
    print(f"counters: {simulator.counters}", flush=True)


if __name__ == "__main__":
    main()
