"""Simulated LAN receipt printer taking raw ESC/POS on a TCP port (the "port 9100" interface).

It serves one connection at a time, as a real printer does, records what each connection printed, and
replies to the real-time status requests ``DLE EOT n`` with the status byte for its simulated paper and
cover state, which is what python-escpos reads in ``is_online()`` and ``paper_status()``. Command
lengths and status bits follow Epson's ESC/POS command reference for TM printers.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from protocols.simulators.base import PrintedJob, SimulatedPrinter

logger = logging.getLogger(__name__)

ESCPOS_MEDIA_TYPE = "application/vnd.escpos"
PAPER_STATES = ("ok", "near_end", "out")
_ACCEPT_TIMEOUT = 1.0

ESC, GS, FS, DLE = 0x1B, 0x1D, 0x1C, 0x10

#: Python codec per ``ESC t n`` code page number (Epson TM numbering, as python-escpos's default profile).
CODEPAGES: dict[int, str] = {
    0: "cp437", 1: "cp932", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 13: "cp857", 14: "cp737",
    15: "iso8859_7", 16: "cp1252", 17: "cp866", 18: "cp852", 19: "cp858", 21: "cp874", 32: "cp720",
    33: "cp775", 34: "cp855", 35: "cp861", 36: "cp862", 37: "cp864", 38: "cp869", 39: "iso8859_2",
    40: "iso8859_15", 44: "cp1125", 45: "cp1250", 46: "cp1251", 47: "cp1253", 48: "cp1254",
    49: "cp1255", 50: "cp1256", 51: "cp1257", 52: "cp1258", 53: "kz1048",
}

# Total length of fixed-length commands, by the byte after the prefix. Anything not listed below
# has its own rule in EscposParser.
_ESC_LENGTHS: dict[int, int] = {
    **dict.fromkeys(b"!-23 =?EGJKMRTUVadegjrt{%", 3),
    **dict.fromkeys(b"@<FLSim", 2),
    **dict.fromkeys(b"$\\cB", 4),
    ord("p"): 5,
    ord("W"): 10,
}
_GS_LENGTHS: dict[int, int] = {
    **dict.fromkeys(b"!/BEHITabfhjrwg", 3),
    **dict.fromkeys(b"$LPW\\", 4),
    ord(":"): 2,
    ord("^"): 5,
}
_FS_LENGTHS: dict[int, int] = {
    **dict.fromkeys(b".&", 2),
    **dict.fromkeys(b"!-CW", 3),
    **dict.fromkeys(b"Sp?", 4),
}


class _Incomplete(Exception):
    """The buffer ends inside a command; wait for more bytes."""


class EscposParser:
    """Incremental ESC/POS stream parser: text, cuts, codes and images out, status replies back.

    `status_byte(n)` returns the reply to ``DLE EOT n`` and `paper_sensor_byte()` the reply to ``GS r 1``.
    Both are called when the request is parsed, so the reply reflects the state at that moment.
    """

    def __init__(self, status_byte: Callable[[int], bytes], paper_sensor_byte: Callable[[], bytes]) -> None:
        self._status_byte = status_byte
        self._paper_sensor_byte = paper_sensor_byte
        self.raw = bytearray()
        self.lines: list[str] = []
        self.cuts = 0
        self.barcodes: list[bytes] = []
        self.qr_codes: list[bytes] = []
        self.images = 0
        self.drawer_kicks = 0
        self.buzzer = 0
        self.status_requests: list[int] = []
        self.codepage = 0
        self._line: list[str] = []
        self._buffer = bytearray()

    def feed(self, data: bytes) -> bytes:
        """Consume `data` and return the bytes the printer sends back (status replies)."""
        self.raw += data
        self._buffer += data
        replies = bytearray()
        position = 0
        while position < len(self._buffer):
            try:
                position = self._step(position, replies)
            except _Incomplete:
                break
        del self._buffer[:position]
        return bytes(replies)

    def close(self) -> None:
        """End of stream: a truncated command is dropped, a pending text line is kept."""
        if self._buffer:
            logger.debug("Stream ended inside a command bytes=%r", bytes(self._buffer[:16]))
            self._buffer.clear()
        self._end_line(keep_empty=False)

    def _need(self, position: int, length: int) -> None:
        if position + length > len(self._buffer):
            raise _Incomplete

    def _byte(self, position: int) -> int:
        self._need(position, 1)
        return self._buffer[position]

    def _end_line(self, keep_empty: bool = True) -> None:
        if self._line or keep_empty:
            self.lines.append("".join(self._line))
        self._line = []

    def _step(self, position: int, replies: bytearray) -> int:
        byte = self._buffer[position]
        if byte == ESC:
            return self._esc(position)
        if byte == GS:
            return self._gs(position, replies)
        if byte == FS:
            return self._fs(position)
        if byte == DLE:
            return self._dle(position, replies)
        if byte in (0x0A, 0x0C):
            self._end_line()
        elif byte == 0x09:
            self._line.append("\t")
        elif byte >= 0x20:
            codec = CODEPAGES.get(self.codepage, "cp437")
            self._line.append(bytes([byte]).decode(codec, errors="replace"))
        return position + 1

    def _esc(self, position: int) -> int:
        command = self._byte(position + 1)
        if command in (ord("t"), ord("@")):
            self._need(position, _ESC_LENGTHS[command])
            self.codepage = self._buffer[position + 2] if command == ord("t") else 0
            if self.codepage not in CODEPAGES:
                logger.debug("Unknown code page n=%d, decoding as CP437", self.codepage)
        if command in (ord("d"), ord("J")):
            self._need(position, 3)
            if self._line:
                self._end_line()
        if command in (ord("i"), ord("m")):
            self.cuts += 1
        if command == ord("p"):
            self._need(position, 5)
            self.drawer_kicks += 1
        if command == ord("B"):
            self._need(position, 4)
            self.buzzer += 1
        if command in _ESC_LENGTHS:
            length = _ESC_LENGTHS[command]
            self._need(position, length)
            return position + length

        if command == ord("("):
            # ESC ( A pL pH ... is the buzzer; every ESC ( fn command carries a 2-byte length.
            end = self._with_length(position, 3)
            if self._buffer[position + 2] == ord("A"):
                self.buzzer += 1
            return end
        if command == ord("*"):
            mode, low, high = self._byte(position + 2), self._byte(position + 3), self._byte(position + 4)
            end = self._skip(position, 5 + (low + 256 * high) * (1 if mode in (0, 1) else 3))
            self.images += 1
            return end
        if command == ord("D"):
            return self._until_nul(position + 2) + 1
        if command == ord("&"):
            return self._user_characters(position)

        logger.debug("Unknown ESC command byte=0x%02x", command)
        return position + 2

    def _gs(self, position: int, replies: bytearray) -> int:
        command = self._byte(position + 1)
        if command == ord("V"):
            mode = self._byte(position + 2)
            end = self._skip(position, 3 if mode in (0, 1, 48, 49) else 4)
            self.cuts += 1
            return end
        if command == ord("r"):
            self._need(position, 3)
            if self._buffer[position + 2] in (1, 49):
                replies += self._paper_sensor_byte()
            elif self._buffer[position + 2] in (2, 50):
                replies += b"\x00"
        if command == ord("I"):
            self._need(position, 3)
            replies += self._printer_id(self._buffer[position + 2])
        if command in _GS_LENGTHS:
            return self._skip(position, _GS_LENGTHS[command])

        if command == ord("("):
            return self._gs_extended(position)
        if command == ord("8"):
            # GS 8 L p1 p2 p3 p4: graphics data with a 4-byte length.
            self._need(position, 7)
            end = self._skip(position, 7 + int.from_bytes(self._buffer[position + 3:position + 7], "little"))
            self.images += 1
            return end
        if command == ord("k"):
            return self._barcode(position)
        if command == ord("v"):
            # GS v 0 m xL xH yL yH: raster image, x bytes per row, y rows.
            self._need(position, 8)
            width = self._buffer[position + 4] + 256 * self._buffer[position + 5]
            height = self._buffer[position + 6] + 256 * self._buffer[position + 7]
            end = self._skip(position, 8 + width * height)
            self.images += 1
            return end
        if command == ord("*"):
            width, height = self._byte(position + 2), self._byte(position + 3)
            return self._skip(position, 4 + width * height * 8)

        logger.debug("Unknown GS command byte=0x%02x", command)
        return self._skip(position, 3)

    def _gs_extended(self, position: int) -> int:
        """GS ( fn pL pH data; ``GS ( k`` with fn 80 (0x50) stores the data of a 2D code."""
        end = self._with_length(position, 3)
        function = self._buffer[position + 2]
        if function == ord("k") and end - position >= 8 and self._buffer[position + 6] == 80:
            # GS ( k pL pH cn 80 m d1...dk
            self.qr_codes.append(bytes(self._buffer[position + 8:end]))
        elif function == ord("L") and end - position >= 7 and self._buffer[position + 6] in (2, 50):
            self.images += 1
        return end

    def _barcode(self, position: int) -> int:
        """GS k m: m 0-6 is NUL-terminated data, m 65 and above has a length byte."""
        system = self._byte(position + 2)
        if system <= 6:
            end = self._until_nul(position + 3)
            self.barcodes.append(bytes(self._buffer[position + 3:end]))
            return end + 1

        length = self._byte(position + 3)
        self._need(position, 4 + length)
        self.barcodes.append(bytes(self._buffer[position + 4:position + 4 + length]))
        return position + 4 + length

    def _fs(self, position: int) -> int:
        command = self._byte(position + 1)
        if command == ord("p"):
            self._need(position, 4)
            self.images += 1
        if command in _FS_LENGTHS:
            return self._skip(position, _FS_LENGTHS[command])
        if command == ord("("):
            return self._with_length(position, 3)
        if command == ord("q"):
            # FS q n [xL xH yL yH d...] x n: define NV bit images.
            count = self._byte(position + 2)
            cursor = position + 3
            for _ in range(count):
                self._need(cursor, 4)
                width = self._buffer[cursor] + 256 * self._buffer[cursor + 1]
                height = self._buffer[cursor + 2] + 256 * self._buffer[cursor + 3]
                cursor = self._skip(cursor, 4 + width * height * 8)
            return cursor

        logger.debug("Unknown FS command byte=0x%02x", command)
        return position + 2

    def _dle(self, position: int, replies: bytearray) -> int:
        command = self._byte(position + 1)
        if command == 0x04:
            request = self._byte(position + 2)
            if request in (7, 8):
                return self._skip(position, 4)
            self.status_requests.append(request)
            replies += self._status_byte(request)
            return position + 3
        if command == 0x05:
            return self._skip(position, 3)
        if command == 0x14:
            function = self._byte(position + 2)
            end = self._skip(position, {7: 4, 8: 10}.get(function, 5))
            if function == 1:
                self.drawer_kicks += 1
            return end
        return position + 1

    def _with_length(self, position: int, offset: int) -> int:
        """Skip a command whose 2-byte little-endian length follows the first `offset` bytes."""
        self._need(position, offset + 2)
        length = self._buffer[position + offset] + 256 * self._buffer[position + offset + 1]
        return self._skip(position, offset + 2 + length)

    def _skip(self, position: int, length: int) -> int:
        self._need(position, length)
        return position + length

    def _until_nul(self, position: int) -> int:
        end = self._buffer.find(0, position)
        if end < 0:
            raise _Incomplete
        return end

    def _user_characters(self, position: int) -> int:
        """ESC & y c1 c2 [x d1...d(y*x)] for each character c1..c2."""
        self._need(position, 5)
        height, first, last = self._buffer[position + 2], self._buffer[position + 3], self._buffer[position + 4]
        cursor = position + 5
        for _ in range(max(0, last - first + 1)):
            width = self._byte(cursor)
            cursor = self._skip(cursor, 1 + height * width)
        return cursor

    @staticmethod
    def _printer_id(request: int) -> bytes:
        """GS I n: model ID, type ID, firmware version, or a ``_``-prefixed NUL-terminated string."""
        if request in (1, 49):
            return b"\x20"
        if request in (2, 50):
            return b"\x02"
        if request in (3, 51):
            return b"\x40"
        if 65 <= request <= 69:
            return b"_SIMULATOR\x00"
        return b""


@dataclass
class EscposJob:
    """Bytes one TCP connection sent, with the text, cuts, codes and status requests found in them."""

    raw: bytes
    #: Printed text lines, decoded with the code page active when each byte arrived.
    lines: list[str]
    cuts: int
    #: Data of each native barcode (``GS k``) and QR code (``GS ( k`` store command).
    barcodes: list[bytes] = field(default_factory=list)
    qr_codes: list[bytes] = field(default_factory=list)
    images: int = 0
    drawer_kicks: int = 0
    buzzer: int = 0
    #: n of every ``DLE EOT n`` status request, in order.
    status_requests: list[int] = field(default_factory=list)
    started_at: float = 0.0
    ended_at: float = 0.0

    @property
    def text(self) -> str:
        """The printed lines joined with newlines."""
        return "\n".join(self.lines)


class EscposNetworkPrinter(SimulatedPrinter):
    """A TCP ESC/POS printer listening on `host`:`port`; port 0 takes a free port, read :attr:`port`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, idle_timeout: float | None = None) -> None:
        super().__init__(f"escpos@{host}:{port}", poll_interval=0.0)
        self.host = host
        self.port = port
        #: Seconds without data after which the printer drops a connection; None waits forever.
        self.idle_timeout = idle_timeout
        self._state_lock = threading.Lock()
        self._paper = "ok"
        self._cover_open = False
        self._jobs: list[EscposJob] = []
        self._listener: socket.socket | None = None
        self._connection: socket.socket | None = None

    # -- state -----------------------------------------------------------------------------------------

    def set_paper(self, state: str) -> None:
        """Set the paper roll sensor to "ok", "near_end" or "out"; raises ValueError for any other value."""
        if state not in PAPER_STATES:
            raise ValueError(f"Unknown paper state {state!r}; use one of {list(PAPER_STATES)}.")

        with self._state_lock:
            self._paper = state
        logger.info("Simulator paper changed printer=%s paper=%s", self.printer_id, state)

    def set_cover_open(self, cover_open: bool) -> None:
        """Open or close the cover; an open cover takes the printer offline."""
        with self._state_lock:
            self._cover_open = cover_open
        logger.info("Simulator cover changed printer=%s cover_open=%s", self.printer_id, cover_open)

    def status_byte(self, request: int) -> bytes:
        """Return the reply to ``DLE EOT request`` (1 to 4), or b"" for requests the simulator does not support.

        Every status byte has the fixed bits 0x12. Printer status (1): 0x08 offline. Offline cause (2):
        0x04 cover open, 0x20 stopped by paper end. Error cause (3): no error bits. Paper roll sensor
        (4): 0x0C near end, 0x60 paper end.
        """
        with self._state_lock:
            paper, cover_open = self._paper, self._cover_open

        if request not in (1, 2, 3, 4):
            return b""

        status = 0x12
        if request == 1 and (cover_open or paper == "out"):
            status |= 0x08
        if request == 2 and cover_open:
            status |= 0x04
        if request == 2 and paper == "out":
            status |= 0x20
        if request == 4 and paper in ("near_end", "out"):
            status |= 0x0C
        if request == 4 and paper == "out":
            status |= 0x60
        return bytes([status])

    def paper_sensor_byte(self) -> bytes:
        """Return the reply to ``GS r 1``: 0x03 near end, 0x0F paper end (both sensor bit pairs)."""
        with self._state_lock:
            paper = self._paper
        return bytes([{"ok": 0x00, "near_end": 0x03, "out": 0x0F}[paper]])

    @property
    def jobs(self) -> list[EscposJob]:
        """Copy of the finished connections that sent any bytes, oldest first."""
        with self.condition:
            return list(self._jobs)

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Bind and listen, then serve connections on the background thread."""
        listener = socket.create_server((self.host, self.port), backlog=8)
        listener.settimeout(_ACCEPT_TIMEOUT)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self.printer_id = f"escpos@{self.host}:{self.port}"
        super().start()

    def _close(self) -> None:
        for sock in (self._connection, self._listener):
            if sock is None:
                continue
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _cleanup(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _run(self) -> None:
        assert self._listener is not None
        while not self.stop_event.is_set():
            try:
                connection, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if not self.stop_event.is_set():
                    logger.exception("Accept failed printer=%s", self.printer_id)
                    self._count("errors")
                break

            self._count("connections")
            try:
                self._serve(connection, peer)
            except Exception:
                logger.exception("Connection failed printer=%s peer=%s", self.printer_id, peer)
                self._count("errors")
            finally:
                connection.close()

    # -- one connection --------------------------------------------------------------------------------

    def _serve(self, connection: socket.socket, peer: tuple[str, int]) -> None:
        logger.debug("Connection opened printer=%s peer=%s", self.printer_id, peer)
        self._connection = connection
        connection.settimeout(_ACCEPT_TIMEOUT)
        parser = EscposParser(self.status_byte, self.paper_sensor_byte)
        started = time.time()
        last_data = time.monotonic()
        try:
            while not self.stop_event.is_set():
                try:
                    chunk = connection.recv(65536)
                except TimeoutError:
                    if self.idle_timeout is not None and time.monotonic() - last_data > self.idle_timeout:
                        logger.info("Dropping idle connection printer=%s peer=%s", self.printer_id, peer)
                        break
                    continue
                except OSError:
                    break
                if not chunk:
                    break

                last_data = time.monotonic()
                requests_before = len(parser.status_requests)
                replies = parser.feed(chunk)
                if len(parser.status_requests) > requests_before:
                    self._count("status_requests", len(parser.status_requests) - requests_before)
                if replies:
                    connection.sendall(replies)
        finally:
            self._connection = None
            self._finish(parser, started)

    def _finish(self, parser: EscposParser, started: float) -> None:
        parser.close()
        if not parser.raw:
            return

        job = EscposJob(
            raw=bytes(parser.raw),
            lines=parser.lines,
            cuts=parser.cuts,
            barcodes=parser.barcodes,
            qr_codes=parser.qr_codes,
            images=parser.images,
            drawer_kicks=parser.drawer_kicks,
            buzzer=parser.buzzer,
            status_requests=parser.status_requests,
            started_at=started,
            ended_at=time.time(),
        )
        with self.condition:
            self._jobs.append(job)
            self.condition.notify_all()
        if job.lines or job.cuts or job.images or job.barcodes or job.qr_codes:
            details = {"cuts": job.cuts, "images": job.images, "qr_codes": job.qr_codes, "barcodes": job.barcodes}
            self._record_printed(PrintedJob(None, ESCPOS_MEDIA_TYPE, job.raw, job.text, details=details))
        logger.info("Connection finished printer=%s bytes=%d lines=%d cuts=%d",
                    self.printer_id, len(job.raw), len(job.lines), job.cuts)
