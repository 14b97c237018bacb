"""Run snmpsim (``snmpsim-command-responder``) on 127.0.0.1 to serve printer recordings.

The simulator answers real SNMP over UDP; the CLI, the tests and the benchmark use it.
Facts about snmpsim 1.2 that shape this module:

- The community (and the SNMPv3 context name) is the recording's path relative to the data
  directory without its extension, so ``librenms/brother.snmprec`` answers to community
  ``librenms/brother``. An unknown community gets no reply at all.
- snmpsim resolves symlinks before naming communities, so recordings are copied into a
  private data directory instead of linked.
- As root it refuses to start unless ``SNMPSIM_ALLOW_ROOT`` is set, because it wants to drop
  privileges; the variable is set only when this process runs as root.
- It imports pysmi, which its package does not declare.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

RECORDING_SUFFIX = ".snmprec"
_SYS_UP_TIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)


def free_udp_port() -> int:
    """Return a UDP port on 127.0.0.1 that the OS reported free (bind to port 0, then close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def responder_command() -> str:
    """Locate ``snmpsim-command-responder`` next to this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "snmpsim-command-responder"
    if beside.exists():
        return str(beside)
    found = shutil.which("snmpsim-command-responder")
    if found is None:
        raise FileNotFoundError("snmpsim-command-responder not found; install the snmpsim and pysmi packages.")
    return found


class SnmpSimulator:
    """One snmpsim process serving copies of ``sources`` (recording files or folders of them).

    A file ``x.snmprec`` is served as community ``x``; a folder ``d`` as ``d/<relative path>``.
    SNMPv3 is enabled with one USM user when ``v3_user`` is given (snmpsim always has one, so
    without it the default user stays configured).
    """

    def __init__(
        self, sources: Sequence[Path], port: int | None = None, v3_user: str | None = None,
        v3_auth_key: str | None = None, v3_priv_key: str | None = None, v3_auth_proto: str = "SHA",
        v3_priv_proto: str = "AES",
    ) -> None:
        self.sources = [Path(source) for source in sources]
        self.port = port or free_udp_port()
        self.v3_user, self.v3_auth_key, self.v3_priv_key = v3_user, v3_auth_key, v3_priv_key
        self.v3_auth_proto, self.v3_priv_proto = v3_auth_proto, v3_priv_proto
        self.communities: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None
        self._work_dir: tempfile.TemporaryDirectory[str] | None = None
        self.log_path: Path | None = None

    def __enter__(self) -> SnmpSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, ready_timeout: float = 60.0) -> SnmpSimulator:
        """Start snmpsim and wait until it answers a GET (``ready_timeout`` in seconds)."""
        self._work_dir = tempfile.TemporaryDirectory(prefix="printfleet-snmpsim-")
        work = Path(self._work_dir.name)
        self.communities = self._prepare_data(work / "data")
        if not self.communities:
            raise ValueError(f"No {RECORDING_SUFFIX} recordings found in {', '.join(map(str, self.sources))}.")

        command = [
            responder_command(), f"--data-dir={work / 'data'}", f"--cache-dir={work / 'cache'}",
            f"--agent-udpv4-endpoint=127.0.0.1:{self.port}",
        ]
        if self.v3_user:
            command += [
                f"--v3-user={self.v3_user}", f"--v3-auth-key={self.v3_auth_key}", f"--v3-auth-proto={self.v3_auth_proto}",
                f"--v3-priv-key={self.v3_priv_key}", f"--v3-priv-proto={self.v3_priv_proto}",
            ]
        env = dict(os.environ)
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            env["SNMPSIM_ALLOW_ROOT"] = "true"
        self.log_path = work / "snmpsim.log"
        with self.log_path.open("wb") as log_file:
            self.process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env)
        logger.info("snmpsim started pid=%d port=%d recordings=%d", self.process.pid, self.port, len(self.communities))
        self._wait_ready(ready_timeout)
        return self

    def stop(self) -> None:
        """Terminate the snmpsim process by PID and remove the private data directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            logger.info("snmpsim stopped pid=%d port=%d", self.process.pid, self.port)
        self.process = None
        if self._work_dir is not None:
            self._work_dir.cleanup()
            self._work_dir = None

    def _prepare_data(self, data_dir: Path) -> list[str]:
        data_dir.mkdir(parents=True)
        for source in self.sources:
            if source.is_dir():
                for recording in sorted(source.rglob(f"*{RECORDING_SUFFIX}")):
                    destination = data_dir / source.name / recording.relative_to(source)
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(recording, destination)
            elif source.suffix == RECORDING_SUFFIX:
                shutil.copyfile(source, data_dir / source.name)
            else:
                raise ValueError(f"Invalid recording {source}: expected a {RECORDING_SUFFIX} file or a folder.")
        return sorted(
            str(path.relative_to(data_dir).with_suffix("")).replace(os.sep, "/")
            for path in data_dir.rglob(f"*{RECORDING_SUFFIX}")
        )

    def _wait_ready(self, ready_timeout: float) -> None:
        deadline = time.monotonic() + ready_timeout
        packet = encode_get_request(self.communities[0], _SYS_UP_TIME)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.settimeout(0.3)
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"snmpsim exited during start-up; see its log:\n{self.log_tail()}")
                probe.sendto(packet, ("127.0.0.1", self.port))
                try:
                    probe.recvfrom(65535)
                    return
                except (TimeoutError, ConnectionRefusedError):
                    continue
        self.stop()
        raise TimeoutError(f"snmpsim sent no response on 127.0.0.1:{self.port} within {ready_timeout:g} s.")

    def log_tail(self, lines: int = 20) -> str:
        """Return the last ``lines`` lines of the snmpsim log."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _ber(tag: int, payload: bytes) -> bytes:
    length = len(payload)
    if length < 0x80:
        return bytes([tag, length]) + payload
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + payload


def _ber_oid(value: tuple[int, ...]) -> bytes:
    body = bytearray([value[0] * 40 + value[1]])
    for arc in value[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return _ber(0x06, bytes(body))


def encode_get_request(community: str, name: tuple[int, ...]) -> bytes:
    """Encode a minimal SNMPv2c GetRequest for one OID (used only as a readiness probe)."""
    varbind = _ber(0x30, _ber_oid(name) + b"\x05\x00")
    pdu = _ber(0xA0, _ber(0x02, b"\x01") + b"\x02\x01\x00\x02\x01\x00" + _ber(0x30, varbind))
    return _ber(0x30, b"\x02\x01\x01" + _ber(0x04, community.encode()) + pdu)
