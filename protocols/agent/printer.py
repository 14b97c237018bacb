"""A LAN ESC/POS printer on TCP 9100, driven with python-escpos ``Network``; the agent's only escpos import.

The connection is opened per job and closed after it, because many printers hold the output until the
socket closes. Status comes from the real-time requests ``DLE EOT 1`` (printer), ``DLE EOT 2``
(offline cause) and ``DLE EOT 4`` (paper roll sensor), bit meanings as in Epson's ESC/POS reference.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fleet.receipts.encode_escpos import prepare_escpos_cache

log = logging.getLogger(__name__)

#: ``DLE EOT 2`` bit: the cover is open.
_COVER_OPEN = 0x04
_DLE_EOT_OFFLINE_CAUSE = b"\x10\x04\x02"


class PrinterUnreachable(Exception):
    """No TCP connection to the printer; nothing was sent."""


class PrintInterrupted(Exception):
    """The connection broke while job bytes were being sent, so whether the job printed is unknown."""


@dataclass(frozen=True)
class PrinterStatus:
    online: bool
    conditions: frozenset[str]

    @property
    def can_print(self) -> bool:
        return self.online and not ({"paper_out", "cover_open"} & self.conditions)


def _network(host: str, port: int, timeout: float):  # type: ignore[no-untyped-def]
    prepare_escpos_cache()
    from escpos.exceptions import DeviceNotFoundError
    from escpos.printer import Network

    printer = Network(host, port=port, timeout=timeout)
    try:
        printer.open()
    except (DeviceNotFoundError, OSError) as err:
        raise PrinterUnreachable(f"{host}:{port}: {err}") from err
    return printer


class EscposPrinter:
    """Prints to and reads the status of one printer at ``host:port``."""

    def __init__(self, host: str, port: int = 9100, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    def print_bytes(self, data: bytes) -> None:
        """Send ``data`` and close; raise PrinterUnreachable (nothing sent) or PrintInterrupted (maybe printed)."""
        printer = _network(self.host, self.port, self.timeout)
        try:
            printer._raw(data)  # python-escpos's way to send pre-encoded bytes
        except OSError as err:
            raise PrintInterrupted(f"{self}: {err}") from err
        finally:
            printer.close()

    def status(self) -> PrinterStatus:
        """Read the status with DLE EOT requests; an unreachable printer is offline with ``unreachable``."""
        try:
            printer = _network(self.host, self.port, self.timeout)
        except PrinterUnreachable:
            return PrinterStatus(False, frozenset({"unreachable"}))
        try:
            online = printer.is_online()
            paper = printer.paper_status()
            cause = printer.query_status(_DLE_EOT_OFFLINE_CAUSE)
        except OSError as err:
            log.debug("printer status read failed printer=%s error=%s", self, err)
            return PrinterStatus(False, frozenset({"unreachable"}))
        finally:
            printer.close()
        conditions: set[str] = set()
        if paper == 0:
            conditions.add("paper_out")
        elif paper == 1:
            conditions.add("paper_low")
        if cause and cause[0] & _COVER_OPEN:
            conditions.add("cover_open")
        if not online and not conditions:
            conditions.add("offline_bit")
        # The printer replied, so it is reachable (online for the fleet) and its problems are conditions.
        return PrinterStatus(True, frozenset(conditions))
